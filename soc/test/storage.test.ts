// The SQLite event store: the backend conformance suite, plus what only SQLite has (a second,
// read-only connection beside the writer, as `xiangan search --data` uses next to a server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../src/storage/sqlite.js';
import { EVENTS, eventStoreSuite } from './storage-suite.js';

eventStoreSuite('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xa-store-'));
  const store = await openSqliteStore({ dir, synchronous: 'normal' });
  return {
    store,
    dispose: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

test('a readonly second connection sees what the writer committed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xa-store-ro-'));
  const store = await openSqliteStore({ dir, synchronous: 'normal' });
  try {
    await store.write(EVENTS.slice(0, 100));
    const ro = await openSqliteStore({ dir, readonly: true });
    try {
      assert.equal((await ro.search({ size: 0 })).total, 100);
      await store.write(EVENTS.slice(100, 150));
      assert.equal((await ro.search({ size: 0 })).total, 150);
      await assert.rejects(ro.write(EVENTS.slice(150, 151)));
    } finally {
      await ro.close();
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
