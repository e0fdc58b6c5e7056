// better-sqlite3 builds SQLite with SQLITE_DEFAULT_CACHE_SIZE=-16000 (16 MiB per connection, its
// deps/defines.gypi): a connection that does not set its own cache may hold that much. These
// tests read back, through SQLite's own PRAGMA, the smaller caches the server's connections set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BUFFER_CACHE_MB, DurableBuffer } from '../src/buffer/durable.js';

test('better-sqlite3 still defaults to a 16 MiB page cache (why the connections set their own)', () => {
  const db = new Database(':memory:');
  try {
    assert.equal(db.pragma('cache_size', { simple: true }), -16000);
  } finally {
    db.close();
  }
});

test('the durable buffer connection caches BUFFER_CACHE_MB (1 MiB)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiangan-cache-'));
  try {
    const b = new DurableBuffer({ dir });
    // The buffer keeps its connection private; SQLite's report of it is what is tested.
    const db = (b as unknown as { db: Database.Database }).db;
    assert.equal(BUFFER_CACHE_MB, 1);
    assert.equal(db.pragma('cache_size', { simple: true }), -1024);
    b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
