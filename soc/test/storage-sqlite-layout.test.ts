// The SQLite store's on-disk layout: full-text rows written per write and day, new stores without
// auto_vacuum, and stores made by the earlier layout still opening and taking writes. Checked
// with SQLite's own FTS5 'integrity-check' (index against the content table), not our code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EcsEvent } from '@xiangan/collectors';
import { SqliteEventStore } from '../src/storage/sqlite.js';
import { parseQuery } from '../src/query/parse.js';
import { earlierLayoutDb } from './storage-earlier.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'xa-layout-'));

function ev(i: number, day: string): EcsEvent {
  return {
    id: `layout-${i}`,
    '@timestamp': `${day}T10:00:${String(i % 60).padStart(2, '0')}Z`,
    message: `login failed tok${i} from 10.0.0.${i % 250}`,
    event: { outcome: 'failure' },
    source: { ip: `10.0.0.${i % 250}` },
  } as EcsEvent;
}

/**
 * FTS5's own check of an external-content index against its content table (SQLite FTS5, the
 * 'integrity-check' command with rank 1): throws when a row is missing, extra or stale.
 */
function ftsIntact(db: Database.Database, suffix: string): void {
  db.prepare(`INSERT INTO fts_${suffix} (fts_${suffix}, rank) VALUES ('integrity-check', 1)`).run();
}

test('one write over two days with duplicates: each stored row is in its day’s full-text index once', async () => {
  const dir = tmp();
  try {
    const store = new SqliteEventStore({ dir, chain: true });
    const first = Array.from({ length: 10 }, (_, i) => ev(i, '2026-11-27'));
    assert.deepEqual(store.writeSync(first), { written: 10, duplicates: 0 });
    // Events 5..9 again (a replay), interleaved with new events of two days.
    const second = Array.from({ length: 10 }, (_, k) => (k % 2 === 0 ? ev(5 + k / 2, '2026-11-27') : ev(100 + k, k < 5 ? '2026-11-28' : '2026-11-27')));
    assert.deepEqual(store.writeSync(second), { written: 5, duplicates: 5 });
    for (const i of [0, 5, 9, 101, 103, 105, 107, 109]) {
      const r = store.searchSync({ query: parseQuery(`tok${i}`), size: 10 });
      assert.equal(r.total, 1, `tok${i}`);
      assert.equal(r.events[0]!.id, `layout-${i}`);
    }
    await store.close();
    const db = new Database(join(dir, 'events.db'), { readonly: false });
    ftsIntact(db, '20261127');
    ftsIntact(db, '20261128');
    assert.equal(db.pragma('auto_vacuum', { simple: true }), 0, 'new stores: auto_vacuum off');
    assert.equal(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'fts_20261127_docsize'").pluck().get(), 0, 'columnsize=0');
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a store in the earlier layout (auto_vacuum incremental, FTS5 with docsize) opens, takes writes and expires days', async () => {
  const dir = tmp();
  try {
    // The layout as the earlier program made it, written here by hand.
    const db = earlierLayoutDb(dir, '20261127', { autoVacuum: true, docsize: true });
    const old = ev(1, '2026-11-27');
    const ts = Date.parse(old['@timestamp'] as string);
    const rowid = db
      .prepare('INSERT INTO ev_20261127 (id, ts, message, doc) VALUES (?, ?, ?, ?)')
      .run(old.id, ts, old.message, JSON.stringify(old)).lastInsertRowid;
    db.prepare('INSERT INTO fts_20261127 (rowid, message) VALUES (?, ?)').run(rowid, old.message);
    db.exec("INSERT INTO days VALUES ('2026-11-27', 1)");
    db.pragma('user_version = 1');
    db.close();

    const store = new SqliteEventStore({ dir });
    assert.deepEqual(store.writeSync([ev(1, '2026-11-27'), ev(2, '2026-11-27'), ev(3, '2026-11-28')]), { written: 2, duplicates: 1 });
    for (const i of [1, 2, 3]) assert.equal(store.searchSync({ query: parseQuery(`tok${i}`) }).total, 1, `tok${i}`);
    assert.equal(store.statsSync().events, 3);
    const check = new Database(join(dir, 'events.db'));
    ftsIntact(check, '20261127');
    ftsIntact(check, '20261128');
    assert.equal(check.pragma('auto_vacuum', { simple: true }), 2, 'an existing store keeps its auto_vacuum mode');
    check.close();
    assert.deepEqual(store.deleteBeforeSync('2026-11-28'), { days: ['2026-11-27'], events: 2 });
    assert.equal(store.searchSync({ query: parseQuery('tok3') }).total, 1);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
