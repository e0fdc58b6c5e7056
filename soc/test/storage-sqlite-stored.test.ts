// Idempotent writes and id lookups on keyed SQLite day tables: duplicates within one write,
// across writes, across days in one write, ids sharing a key, and ids whose first characters lie
// beyond the BMP (SQLite's substr, which makes the index key, counts each as one character;
// JavaScript's slice counted two, so such ids were written again and not found by id). Rows are
// counted and the key read with SQLite's own statements, not the store's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EcsEvent } from '@xiangan/collectors';
import { SqliteEventStore } from '../src/storage/sqlite.js';
import { idKey } from '../src/storage/sqlite-schema.js';
import { parseQuery } from '../src/query/parse.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'xa-stored-'));

function ev(id: string, at: string, text: string): EcsEvent {
  return { id, '@timestamp': at, message: text, event: {} } as EcsEvent;
}

// Two ids sharing a key, one not; two ids beginning with characters outside the BMP that share
// their first four code points (eight UTF-16 units) but not their first eight code points.
const A = 'abcdef01' + '1'.repeat(56);
const B = 'abcdef01' + '2'.repeat(56);
const C = '01234567' + '3'.repeat(56);
const E1 = '😀😀😀😀abcd-one';
const E2 = '😀😀😀😀wxyz-two';
const D1 = '2026-11-28T08:00:00Z';
const D2 = '2026-11-29T08:00:00Z';

function rows(dir: string): Array<{ t: string; n: number }> {
  const db = new Database(join(dir, 'events.db'), { readonly: true });
  try {
    return ['ev_20261128', 'ev_20261129'].map((t) => ({ t, n: db.prepare(`SELECT count(*) FROM ${t}`).pluck().get() as number }));
  } finally {
    db.close();
  }
}

test('keyed tables: writes idempotent by id, also for ids beginning beyond the BMP', async () => {
  const dir = tmp();
  try {
    const store = new SqliteEventStore({ dir, chain: true });
    // Within one write: A twice on one day, E1 twice across the write's two days.
    assert.deepEqual(store.writeSync([ev(A, D1, 'a'), ev(E1, D1, 'e1'), ev(C, D2, 'c'), ev(A, D1, 'a again'), ev(E2, D1, 'e2'), ev(C, D2, 'c again')]), { written: 4, duplicates: 2 });
    // A replay of all of them, and one new id that shares A's key, interleaved across days.
    assert.deepEqual(store.writeSync([ev(C, D2, 'c'), ev(B, D1, 'b'), ev(E2, D1, 'e2'), ev(A, D1, 'a'), ev(E1, D1, 'e1')]), { written: 1, duplicates: 4 });
    assert.deepEqual(store.writeSync([ev(B, D1, 'b'), ev(E1, D1, 'e1')]), { written: 0, duplicates: 2 });
    for (const [id, text] of [[A, 'a'], [B, 'b'], [C, 'c'], [E1, 'e1'], [E2, 'e2']] as const) {
      assert.equal(store.getSync(id)?.message, text, id);
      assert.deepEqual(store.searchSync({ query: parseQuery(`id:"${id}"`) }).events.map((e) => e.id), [id]);
    }
    assert.equal(store.statsSync().events, 5);
    await store.close();
    assert.deepEqual(rows(dir), [{ t: 'ev_20261128', n: 4 }, { t: 'ev_20261129', n: 1 }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('idKey is the key SQLite computes for the index (substr in characters)', () => {
  const db = new Database(':memory:');
  try {
    for (const id of [A, C, E1, E2, 'api-7', '𠀀𠀁x', '中文事件标识符号码', 'ab\uD800cdefghij']) {
      // Compared in SQLite, as the key index compares (a lone surrogate reads back altered).
      assert.equal(db.prepare('SELECT substr(?, 1, 8) = ?').pluck().get(id, idKey(id)), 1, id);
    }
  } finally {
    db.close();
  }
});
