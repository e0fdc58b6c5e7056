// The bucketed-id layout of new SQLite day tables: the id's index is (rowid >> 14, id), no function
// call in it, so the store inserts ROWS_PER_INSERT rows per statement (OR FAIL: no statement
// journal). Checked against SQLite's own reports (index_xinfo, EXPLAIN QUERY PLAN) and against the
// bucketed layout (one row per INSERT) written with the same events: the same rows, rowids, full-text
// rows, leaves, searches, facets, gets and duplicate handling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EcsEvent } from '@xiangan/collectors';
import { SqliteEventStore } from '../src/storage/sqlite.js';
import { dayLayout, ID_BUCKET_SHIFT, ID_KEY_CHARS, idParams, idWhere, ROWS_PER_INSERT, type DayLayout } from '../src/storage/sqlite-schema.js';
import { compileQuery } from '../src/storage/sqlite-query.js';
import { parseQuery } from '../src/query/parse.js';
import { eventColumns } from '../src/pipeline/prepare.js';
import { leafTable } from '../src/integrity/leaves.js';
import { sqliteEventSource } from '../src/integrity/sources.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'xa-bucketed-id-'));
const hexId = (n: number): string => createHash('sha256').update(`bid-${n}`).digest('hex');

/** Event `n` of a mix: two days interleaved, some fields present, some not. */
function ev(n: number, id = hexId(n)): EcsEvent {
  const day = n % 3 === 0 ? '27' : '28';
  const e: EcsEvent = {
    id,
    '@timestamp': `2026-11-${day}T0${n % 10}:${String(n % 60).padStart(2, '0')}:00Z`,
    message: n % 11 === 0 ? `失败 登录 ${n}` : `Failed password for user${n % 7} from 10.0.${n % 5}.${n % 250} port ${1000 + n}`,
    event: { category: ['authentication'], outcome: n % 2 ? 'failure' : 'success', severity: n % 9 },
  } as EcsEvent;
  if (n % 4) e.source = { ip: `10.0.${n % 5}.${n % 250}`, port: 1000 + n };
  if (n % 5) e.user = { name: `user${n % 7}` };
  if (n % 6) e.host = { name: `web-${n % 4}` };
  return e;
}

function rows(db: Database.Database, s: string): unknown[] {
  return db.prepare(`SELECT rowid, * FROM ev_${s} ORDER BY rowid`).all();
}

test('bucketed-id day tables: (bucket, id) index without a function, detected, every id lookup through it', async () => {
  const dir = tmp();
  try {
    const store = new SqliteEventStore({ dir, chain: true });
    const batch = Array.from({ length: 70 }, (_, n) => ev(n));
    assert.deepEqual(store.writeSync(batch), { written: 70, duplicates: 0 });
    await store.close();
    const db = new Database(join(dir, 'events.db'), { readonly: true });
    try {
      assert.equal(dayLayout(db, '20261128'), 'bucketed-id');
      assert.deepEqual(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_20261128_id%'").pluck().all(), ['ix_20261128_idi']);
      // Key columns: the bucket expression (cid -2), then the id column itself (cid 1).
      assert.deepEqual(db.prepare("SELECT cid FROM pragma_index_xinfo('ix_20261128_idi') WHERE key = 1").pluck().all(), [-2, 1]);
      assert.deepEqual(db.prepare("SELECT name FROM pragma_index_list('ev_20261128') WHERE \"unique\" = 1").all(), []);
      const plan = (sql: string, ...p: unknown[]): string => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...p) as Array<{ detail: string }>).map((r) => r.detail).join('; ');
      // get and the integrity verifier's lookup (idWhere), an `id:` term alone and with OR.
      assert.match(plan(`SELECT doc FROM ev_20261128 WHERE ${idWhere('20261128', 'bucketed-id')}`, ...idParams(hexId(1), 'bucketed-id')), /SEARCH ev_20261128 USING INDEX ix_20261128_idi \(<expr>=\? AND id=\?\)/);
      for (const q of [`id:"${hexId(1)}"`, `id:"${hexId(1)}" OR id:"${hexId(2)}"`]) {
        const c = compileQuery(parseQuery(q), '20261128', 'bucketed-id');
        assert.match(plan(`SELECT doc FROM ev_20261128 WHERE ${c.sql}`, ...c.params), /USING INDEX ix_20261128_idi \(<expr>=\? AND id=\?\)/, q);
      }
      // The write check (as the store asks it) and the filter's read of the index.
      assert.match(plan(`SELECT j.key FROM json_each(?) AS j WHERE EXISTS (SELECT 1 FROM ev_20261128 WHERE (rowid >> ${ID_BUCKET_SHIFT}) IN (SELECT value FROM json_each(?)) AND id = j.value)`, '[]', '[0]'), /USING COVERING INDEX ix_20261128_idi \(<expr>=\? AND id=\?\)/);
      assert.match(plan(`SELECT id FROM ev_20261128 WHERE rowid >> ${ID_BUCKET_SHIFT} >= (? >> ${ID_BUCKET_SHIFT}) AND rowid > ?`, 0, 0), /SEARCH ev_20261128 USING COVERING INDEX ix_20261128_idi \(<expr>>\?\)/);
      const src = sqliteEventSource(db);
      assert.equal(JSON.parse((await src.document('2026-11-28', hexId(1)))!).id, hexId(1));
      assert.equal(await src.document('2026-11-28', hexId(999)), undefined);
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bucketed-id writes (many rows per INSERT) store what bucketed ones (one per INSERT) store: rows, full text, leaves, searches, duplicates', async () => {
  const dirs = { 'bucketed-id': tmp(), bucketed: tmp() } as Record<DayLayout, string>;
  try {
    const layouts = ['bucketed-id', 'bucketed'] as DayLayout[];
    const stores = new Map(layouts.map((l) => [l, new SqliteEventStore({ dir: dirs[l], chain: true, layout: l })]));
    // Writes of sizes that are not multiples of ROWS_PER_INSERT, two days interleaved, with
    // duplicates inside one statement's rows, across writes, and a replay of a whole write.
    const all = Array.from({ length: 1_000 }, (_, n) => ev(n));
    const writes: EcsEvent[][] = [all.slice(0, 5), all.slice(5, 5 + 3 * ROWS_PER_INSERT + 7), all.slice(5, 400), all.slice(400, 1_000)];
    writes[1]!.splice(10, 0, all[6]!, all[7]!, all[6]!);
    writes.push(writes[3]!);
    for (const w of writes) {
      const results = layouts.map((l) => stores.get(l)!.writeSync(w));
      assert.deepEqual(results[0], results[1]);
    }
    assert.equal(stores.get('bucketed-id')!.statsSync().events, 1_000);
    // Searches, facets and gets through each store.
    const queries = ['*', 'failed', 'fail*', '"failed password"', '失败', 'user.name:user3', 'source.ip:10.0.2.0/24', 'host.name:web-1 AND NOT event.outcome:failure', `id:"${hexId(5)}" OR id:"${hexId(600)}"`, `NOT id:"${hexId(7)}"`, 'event.severity:>=4'];
    for (const q of queries) {
      for (const sort of ['asc', 'desc'] as const) {
        const [a, b] = layouts.map((l) => stores.get(l)!.searchSync({ query: parseQuery(q), size: 40, sort, facets: ['user.name', 'source.ip', 'event.category'] }));
        assert.deepEqual(a, b, q);
      }
    }
    for (const n of [0, 1, 6, 31, 32, 500, 999]) assert.deepEqual(stores.get('bucketed-id')!.getSync(hexId(n)), stores.get('bucketed')!.getSync(hexId(n)));
    for (const s of stores.values()) await s.close();
    // Every row (rowid included), full-text row and leaf, read back with plain SQL.
    const dbs = layouts.map((l) => new Database(join(dirs[l], 'events.db'), { readonly: true }));
    try {
      for (const s of ['20261127', '20261128']) {
        const [a, b] = dbs.map((db) => rows(db, s));
        assert.equal(a!.length, b!.length);
        assert.deepEqual(a, b, s);
        const [fa, fb] = dbs.map((db) => db.prepare(`SELECT rowid FROM fts_${s} WHERE fts_${s} MATCH 'password OR 失败' ORDER BY rowid`).pluck().all());
        assert.deepEqual(fa, fb);
        const day = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6)}`;
        const [la, lb] = dbs.map((db) => db.prepare(`SELECT ids, hex(hashes) FROM ${leafTable(day)} ORDER BY seq`).all());
        assert.deepEqual(la, lb);
        // The leaves list the day's ids in rowid order.
        const leafIds = (la as Array<{ ids: string }>).flatMap((r) => JSON.parse(r.ids) as string[]);
        assert.deepEqual(leafIds, dbs[0]!.prepare(`SELECT id FROM ev_${s} ORDER BY rowid`).pluck().all());
      }
    } finally {
      for (const db of dbs) db.close();
    }
  } finally {
    for (const d of Object.values(dirs)) rmSync(d, { recursive: true, force: true });
  }
});

test('bucketed-id: after a restart the id filter is rebuilt from the whole ids in the index; odd ids stay idempotent', async () => {
  const dir = tmp();
  try {
    // NUL and lone surrogates among the first ID_KEY_CHARS characters, ids sharing their key.
    const odd = ['ab\u0000cdefghij-1', 'ab\u0000cdefghij-2', '\uD800abcdefgh-3', 'x\uDC00', '😀😀😀😀😀😀😀😀😀-4', 'abcdefgh'.slice(0, ID_KEY_CHARS) + '-5', 'abcdefgh'.slice(0, ID_KEY_CHARS) + '-6'];
    const batch = [...Array.from({ length: 40 }, (_, n) => ev(n)), ...odd.map((id, k) => ev(100 + k, id))];
    let store = new SqliteEventStore({ dir });
    assert.deepEqual(store.writeSync(batch), { written: batch.length, duplicates: 0 });
    await store.close();
    store = new SqliteEventStore({ dir });
    // Not a single row more: every id found through the rebuilt filter and the index.
    assert.deepEqual(store.writeSync([...batch].reverse()), { written: 0, duplicates: batch.length });
    assert.deepEqual(store.writeSync([ev(2_000), ev(2_000)]), { written: 1, duplicates: 1 });
    // Replays with more than 16 "maybe" ids on one day (compared through a map): a new id twice
    // (2,002 is on the 28th with 26 of the 40), an old one twice.
    const forty = batch.slice(0, 40);
    assert.deepEqual(store.writeSync([...forty, ev(2_002), ev(2_002)]), { written: 1, duplicates: 41 });
    assert.deepEqual(store.writeSync([...forty, forty[1]!]), { written: 0, duplicates: 41 });
    for (const id of odd) assert.ok(store.getSync(id) !== undefined, JSON.stringify(id));
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bucketed-id: a write whose many-row INSERT fails stores nothing (no rows, leaves or filter keys); the retry stores it all', async () => {
  const dir = tmp();
  try {
    const store = new SqliteEventStore({ dir, chain: true });
    assert.deepEqual(store.writeSync([ev(1), ev(2)]), { written: 2, duplicates: 0 });
    const events = Array.from({ length: 3 * ROWS_PER_INSERT }, (_, n) => ev(1_000 + 3 * n + 1)); // one day
    const cols = eventColumns(events, undefined);
    // A value SQLite cannot bind in the second statement's rows: after the first statement ran.
    const bad = { ...cols, values: cols.values.map((v, c) => (c === 0 ? v.map((x, i) => (i === ROWS_PER_INSERT + 3 ? ({} as unknown as string) : x)) : v)) };
    assert.throws(() => store.writeColumns(bad));
    const db = new Database(join(dir, 'events.db'), { readonly: true });
    try {
      assert.equal(db.prepare('SELECT count(*) FROM ev_20261128').pluck().get(), 2);
      assert.equal(db.prepare(`SELECT count(*) FROM ${leafTable('2026-11-28')}`).pluck().get(), 1);
    } finally {
      db.close();
    }
    assert.deepEqual(store.writeColumns(cols), { written: events.length, duplicates: 0 });
    assert.deepEqual(store.writeSync(events), { written: 0, duplicates: events.length });
    assert.equal(store.statsSync().events, 2 + events.length);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
