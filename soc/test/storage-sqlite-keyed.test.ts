// The keyed layout of SQLite day tables (new tables from 2026-11-29 until the bucketed layout): no unique index on the 64-hex-digit id (it takes
// every insert at a random place); writes stay idempotent through the index on the id's first
// eight characters, which also serves event-by-id lookups, and the time index holds `ts` alone. Checked with SQLite's own
// reports (PRAGMA table_info / index_list / index_info, EXPLAIN QUERY PLAN), not our code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EcsEvent } from '@xiangan/collectors';
import { SqliteEventStore } from '../src/storage/sqlite.js';
import { idKey } from '../src/storage/sqlite-schema.js';
import { sqliteEventSource } from '../src/integrity/sources.js';
import { compileQuery } from '../src/storage/sqlite-query.js';
import { parseQuery } from '../src/query/parse.js';
import { earlierLayoutDb } from './storage-earlier.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'xa-keyed-'));

function ev(id: string, second: number, text: string): EcsEvent {
  return { id, '@timestamp': `2026-11-28T08:00:${String(second).padStart(2, '0')}Z`, message: text, event: {} } as EcsEvent;
}

// Two SM3-shaped ids sharing their first eight hex digits (so the same id key), and one not.
const A = 'abcdef01' + '1'.repeat(56);
const B = 'abcdef01' + '2'.repeat(56);
const C = '01234567' + '3'.repeat(56);

test('keyed day tables: id not unique, an id-key index, a ts-only time index; writes idempotent by id', async () => {
  const dir = tmp();
  try {
    const store = new SqliteEventStore({ dir, chain: true, layout: 'keyed' });
    assert.deepEqual(store.writeSync([ev(A, 1, 'alpha one'), ev(B, 2, 'bravo two'), ev('api-7', 3, 'charlie'), ev(A, 1, 'alpha again')]), { written: 3, duplicates: 1 });
    // A replay of everything, and a new event with an id key already taken.
    assert.deepEqual(store.writeSync([ev(B, 2, 'bravo two'), ev(A, 1, 'alpha one'), ev('api-7', 3, 'charlie'), ev(C, 4, 'delta')]), { written: 1, duplicates: 3 });
    assert.equal(store.getSync(A)?.message, 'alpha one');
    assert.equal(store.getSync(B)?.message, 'bravo two');
    assert.equal(store.getSync('api-7')?.message, 'charlie');
    assert.equal(store.getSync('abcdef01' + '9'.repeat(56)), undefined);
    for (const id of [A, B, C, 'api-7']) {
      const r = store.searchSync({ query: parseQuery(`id:"${id}"`) });
      assert.deepEqual(r.events.map((e) => e.id), [id]);
    }
    assert.equal(store.statsSync().events, 4);
    await store.close();

    const db = new Database(join(dir, 'events.db'), { readonly: true });
    try {
      const indexes = db.prepare("SELECT name, \"unique\" AS u FROM pragma_index_list('ev_20261128')").all() as Array<{ name: string; u: number }>;
      assert.deepEqual(indexes.filter((i) => i.u === 1), [], 'no unique index');
      const on = (name: string): string[] => db.prepare('SELECT name FROM pragma_index_info(?) ORDER BY seqno').pluck().all(name) as string[];
      assert.deepEqual(on('ix_20261128_ts'), ['ts']);
      // One key column, an expression (SQLite reports cid -2 for those: PRAGMA index_xinfo).
      assert.deepEqual(db.prepare("SELECT cid FROM pragma_index_xinfo('ix_20261128_idk') WHERE key = 1").pluck().all(), [-2]);
      const q = compileQuery(parseQuery(`id:"${A}"`), '20261128', 'keyed');
      const plan = (db.prepare(`EXPLAIN QUERY PLAN SELECT doc FROM ev_20261128 WHERE ${q.sql}`).all(...q.params) as Array<{ detail: string }>).map((r) => r.detail).join('; ');
      assert.match(plan, /ix_20261128_idk/);
      const order = (db.prepare('EXPLAIN QUERY PLAN SELECT ts, id FROM ev_20261128 ORDER BY ts DESC, id DESC LIMIT 10').all() as Array<{ detail: string }>).map((r) => r.detail).join('; ');
      assert.match(order, /ix_20261128_ts/);
      // The integrity verifier's document lookup (proofs, second looks) finds the stored text of
      // each id, sharing key or not, through the same index.
      // The statements it prepares are recorded and explained by SQLite.
      const prepared: string[] = [];
      const spy = new Proxy(db, {
        get: (t, k) => (k === 'prepare' ? (sql: string) => (prepared.push(sql), t.prepare(sql)) : Reflect.get(t, k, t)),
      });
      const src = sqliteEventSource(spy);
      assert.equal(JSON.parse((await src.document('2026-11-28', B))!).message, 'bravo two');
      assert.equal(JSON.parse((await src.document('2026-11-28', 'api-7'))!).message, 'charlie');
      assert.equal(await src.document('2026-11-28', 'abcdef01' + '9'.repeat(56)), undefined);
      // (the others read the table's layout from sqlite_master)
      const lookups = prepared.filter((q) => q.includes('FROM ev_'));
      assert.ok(lookups.length > 0);
      for (const sql of lookups) {
        const docPlan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(idKey(A), A) as Array<{ detail: string }>).map((r) => r.detail).join('; ');
        assert.match(docPlan, /ix_20261128_idk/, sql);
      }
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a store with a day table of the earlier layout answers id lookups on both layouts', async () => {
  const dir = tmp();
  try {
    const db = earlierLayoutDb(dir, '20261127');
    db.pragma('user_version = 1');
    db.close();

    const store = new SqliteEventStore({ dir, layout: 'keyed' });
    const old = { ...ev(A, 5, 'old layout'), '@timestamp': '2026-11-27T08:00:05Z' } as EcsEvent;
    assert.deepEqual(store.writeSync([old, ev(B, 6, 'new layout'), old]), { written: 2, duplicates: 1 });
    assert.deepEqual(store.writeSync([old]), { written: 0, duplicates: 1 });
    assert.equal(store.getSync(A)?.message, 'old layout');
    assert.equal(store.getSync(B)?.message, 'new layout');
    for (const id of [A, B]) assert.equal(store.searchSync({ query: parseQuery(`id:"${id}"`) }).total, 1);
    await store.close();
    const check = new Database(join(dir, 'events.db'), { readonly: true });
    const unique = (t: string): number => check.prepare(`SELECT count(*) FROM pragma_index_list('${t}') WHERE "unique" = 1`).pluck().get() as number;
    assert.equal(unique('ev_20261127'), 1, 'the earlier day keeps its layout');
    assert.equal(unique('ev_20261128'), 0);
    // The one form of an id term is indexed on both layouts.
    const plan = (sfx: string): string => {
      const q = compileQuery(parseQuery(`id:"${A}"`), sfx, sfx === '20261127' ? 'id-unique' : 'keyed');
      return (check.prepare(`EXPLAIN QUERY PLAN SELECT doc FROM ev_${sfx} WHERE ${q.sql}`).all(...q.params) as Array<{ detail: string }>).map((r) => r.detail).join('; ');
    };
    assert.match(plan('20261127'), /USING INDEX sqlite_autoindex_ev_20261127/);
    assert.match(plan('20261128'), /USING INDEX ix_20261128_idk/);
    check.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
