// The bucketed layout of new SQLite day tables: the id's index leads with the row's insert-order
// bucket (rowid >> 14), so a day's inserts land in its last pages; lookups by id seek every
// bucket, and the idempotent-write check asks SQLite only for ids the day's in-memory key filter
// cannot rule out. Checked with SQLite's own reports (index_xinfo, EXPLAIN QUERY PLAN) and by
// counting rows with plain SQL, not through the store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EcsEvent } from '@xiangan/collectors';
import { SqliteEventStore } from '../src/storage/sqlite.js';
import { dayLayout, ID_BUCKET_SHIFT, IdKeyFilter, idKey, idParams, idWhere } from '../src/storage/sqlite-schema.js';
import { sqliteEventSource } from '../src/integrity/sources.js';
import { compileQuery } from '../src/storage/sqlite-query.js';
import { parseQuery } from '../src/query/parse.js';
import { earlierLayoutDb } from './storage-earlier.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'xa-bucketed-'));
const BUCKET = 2 ** ID_BUCKET_SHIFT;

/** An SM3-shaped (64 hex digits) id, distinct per `n`. */
const hexId = (n: number): string => createHash('sha256').update(`bucketed-${n}`).digest('hex');

function ev(id: string, n: number, day = '2026-11-28'): EcsEvent {
  return { id, '@timestamp': `${day}T08:${String(Math.floor(n / 60) % 60).padStart(2, '0')}:${String(n % 60).padStart(2, '0')}Z`, message: `m${n}`, event: {} } as EcsEvent;
}

const count = (dir: string, sfx = '20261128'): number => {
  const db = new Database(join(dir, 'events.db'), { readonly: true });
  try {
    return db.prepare(`SELECT count(*) FROM ev_${sfx}`).pluck().get() as number;
  } finally {
    db.close();
  }
};

// Two ids sharing their first eight hex digits (the same id key), and one not.
const A = 'abcdef01' + '1'.repeat(56);
const B = 'abcdef01' + '2'.repeat(56);
const C = '01234567' + '3'.repeat(56);

test('bucketed day tables: (bucket, id key) index, no unique index, idempotent writes, lookups through the index', async () => {
  const dir = tmp();
  try {
    const store = new SqliteEventStore({ dir, chain: true, layout: 'bucketed' });
    assert.deepEqual(store.writeSync([ev(A, 1), ev(B, 2), ev('api-7', 3), ev(A, 4)]), { written: 3, duplicates: 1 });
    assert.deepEqual(store.writeSync([ev(B, 2), ev(A, 1), ev('api-7', 3), ev(C, 4), ev(C, 5)]), { written: 1, duplicates: 4 });
    for (const [id, m] of [[A, 'm1'], [B, 'm2'], ['api-7', 'm3'], [C, 'm4']] as const) {
      assert.equal(store.getSync(id)?.message, m);
      assert.deepEqual(store.searchSync({ query: parseQuery(`id:"${id}"`) }).events.map((e) => e.message), [m]);
    }
    assert.equal(store.getSync('abcdef01' + '9'.repeat(56)), undefined);
    assert.equal(store.searchSync({ query: parseQuery(`id:"${A}" OR id:"${C}"`) }).total, 2);
    assert.equal(store.searchSync({ query: parseQuery(`NOT id:"${A}"`) }).total, 3);
    await store.close();

    const db = new Database(join(dir, 'events.db'), { readonly: true });
    try {
      assert.equal(dayLayout(db, '20261128'), 'bucketed');
      assert.deepEqual(db.prepare("SELECT name FROM pragma_index_list('ev_20261128') WHERE \"unique\" = 1").all(), []);
      assert.equal(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'ix_20261128_idk'").pluck().get(), 0);
      // Two key columns, both expressions (cid -2: PRAGMA index_xinfo).
      assert.deepEqual(db.prepare("SELECT cid FROM pragma_index_xinfo('ix_20261128_idb') WHERE key = 1").pluck().all(), [-2, -2]);
      const q = compileQuery(parseQuery(`id:"${A}"`), '20261128', 'bucketed');
      const plan = (db.prepare(`EXPLAIN QUERY PLAN SELECT doc FROM ev_20261128 WHERE ${q.sql}`).all(...q.params) as Array<{ detail: string }>).map((r) => r.detail).join('; ');
      assert.match(plan, /SEARCH ev_20261128 USING INDEX ix_20261128_idb \(<expr>=\? AND <expr>=\?\)/);
      // The integrity verifier's document lookup, through the same index.
      const src = sqliteEventSource(db);
      assert.equal(JSON.parse((await src.document('2026-11-28', B))!).message, 'm2');
      assert.equal(await src.document('2026-11-28', 'abcdef01' + '9'.repeat(56)), undefined);
      const docPlan = (db.prepare(`EXPLAIN QUERY PLAN SELECT doc FROM ev_20261128 WHERE ${idWhere('20261128', 'bucketed')}`).all(...idParams(A, 'bucketed')) as Array<{ detail: string }>).map((r) => r.detail).join('; ');
      assert.match(docPlan, /USING INDEX ix_20261128_idb/);
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a day of many buckets: duplicates from every bucket, across restarts and another writer, and lookups in each bucket', async () => {
  const dir = tmp();
  try {
    const N = 3 * BUCKET + 1_000; // four buckets
    let store = new SqliteEventStore({ dir });
    for (let s = 0; s < N; s += 5_000) {
      const step: EcsEvent[] = [];
      for (let n = s; n < Math.min(N, s + 5_000); n++) step.push(ev(hexId(n), n));
      // The step's first event again at its end: counted once.
      step.push(step[0]!);
      assert.deepEqual(store.writeSync(step), { written: step.length - 1, duplicates: 1 });
    }
    assert.equal(count(dir), N);
    // One id of each bucket (rowid = n + 1), and the newest.
    const probes = [0, 100, BUCKET + 7, 2 * BUCKET + 9, 3 * BUCKET + 3, N - 1];
    const again = (): EcsEvent[] => [...probes.map((n) => ev(hexId(n), n)), ev(hexId(N + 1), N + 1)];
    // Same store (filter built while writing): the old ids are duplicates wherever they are.
    assert.deepEqual(store.writeSync(again()), { written: 1, duplicates: probes.length });
    for (const n of probes) assert.equal(store.getSync(hexId(n))?.message, `m${n}`);
    await store.close();

    // After a restart the filter is rebuilt from the index: still duplicates, new ids written.
    store = new SqliteEventStore({ dir });
    assert.deepEqual(store.writeSync([...again(), ev(hexId(N + 2), N + 2)]), { written: 1, duplicates: probes.length + 1 });
    // Another connection writes to the same day between this store's writes (`xiangan ingest --data`):
    // this store must see its rows as stored.
    const other = new SqliteEventStore({ dir });
    assert.deepEqual(other.writeSync([ev(hexId(N + 3), N + 3), ev(hexId(N + 4), N + 4)]), { written: 2, duplicates: 0 });
    await other.close();
    assert.deepEqual(store.writeSync([ev(hexId(N + 3), N + 3), ev(hexId(N + 4), N + 4), ev(hexId(5), 5)]), { written: 0, duplicates: 3 });
    for (const n of [...probes, N + 1, N + 2, N + 3]) {
      assert.equal(store.searchSync({ query: parseQuery(`id:"${hexId(n)}"`) }).events[0]?.message, `m${n}`, `id of row ${n + 1}`);
    }
    await store.close();
    assert.equal(count(dir), N + 4);

    const db = new Database(join(dir, 'events.db'), { readonly: true });
    try {
      assert.equal(db.prepare('SELECT max(rowid) >> ? FROM ev_20261128').pluck().get(ID_BUCKET_SHIFT), 3, 'four buckets');
      const src = sqliteEventSource(db);
      for (const n of probes) assert.equal(JSON.parse((await src.document('2026-11-28', hexId(n)))!).message, `m${n}`);
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mixed-layout days (id-unique, keyed, bucketed, bucketed-id) in one store: writes idempotent and lookups by id on each', async () => {
  const dir = tmp();
  try {
    // The earliest layout, as stores before 2026-11-29 made it.
    const db = earlierLayoutDb(dir, '20261126');
    db.pragma('user_version = 1');
    db.close();
    // A keyed day, made by a store of that layout.
    const keyed = new SqliteEventStore({ dir, layout: 'keyed' });
    assert.deepEqual(keyed.writeSync([ev(B, 2, '2026-11-27')]), { written: 1, duplicates: 0 });
    await keyed.close();
    const bucketed = new SqliteEventStore({ dir, layout: 'bucketed' });
    assert.deepEqual(bucketed.writeSync([ev(C, 3, '2026-11-28')]), { written: 1, duplicates: 0 });
    await bucketed.close();

    const store = new SqliteEventStore({ dir });
    const days = ['2026-11-26', '2026-11-27', '2026-11-28', '2026-11-29'];
    const D = 'fedcba98' + '4'.repeat(56);
    const ids = [A, B, C, D];
    const all = (): EcsEvent[] => ids.map((id, k) => ev(id, k + 1, days[k]));
    assert.deepEqual(store.writeSync(all()), { written: 2, duplicates: 2 });
    assert.deepEqual(store.writeSync(all()), { written: 0, duplicates: 4 });
    for (const [k, id] of ids.entries()) {
      assert.equal(store.getSync(id)?.['@timestamp'], ev(id, k + 1, days[k])['@timestamp']);
      assert.equal(store.searchSync({ query: parseQuery(`id:"${id}"`) }).total, 1, id);
    }
    // One search over the three days, an id term per layout.
    assert.equal(store.searchSync({ query: parseQuery(`id:"${A}" OR id:"${B}" OR id:"${C}" OR id:"${D}"`) }).total, 4);
    await store.close();
    const check = new Database(join(dir, 'events.db'), { readonly: true });
    try {
      assert.deepEqual(['20261126', '20261127', '20261128', '20261129'].map((s) => dayLayout(check, s)), ['id-unique', 'keyed', 'bucketed', 'bucketed-id']);
      const src = sqliteEventSource(check);
      for (const [k, id] of ids.entries()) assert.equal(JSON.parse((await src.document(days[k]!, id))!).id, id);
    } finally {
      check.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('IdKeyFilter: no false negatives across segments, few false positives, surrogate keys always maybe', () => {
  const f = new IdKeyFilter();
  const n = 600_000; // three segments of 2^18 keys
  const keys = Array.from({ length: n + 100_000 }, (_, i) => idKey(hexId(i)));
  for (let i = 0; i < n; i++) f.add(keys[i]!);
  const missed = keys.slice(0, n).filter((k) => !f.mayHave(k));
  assert.deepEqual(missed, []);
  let maybe = 0;
  for (let i = n; i < keys.length; i++) if (f.mayHave(keys[i]!)) maybe++;
  // Each key is 32 random bits, so ~0.014 % collide with a stored one; the filter adds ~0.1 % a segment.
  assert.ok(maybe < 1_000, `${maybe} false positives in 100k`);
  assert.equal(f.bytes, 3 * 512 * 1024);
  assert.equal(new IdKeyFilter().mayHave('abc'), false);
  // SQLite reads a lone surrogate back as U+FFFD, so such keys cannot be trusted to the filter.
  assert.equal(new IdKeyFilter().mayHave('a\uD800b'), true);
  assert.equal(new IdKeyFilter().mayHave('a\uFFFDb'), true);
});

test('ids with a lone surrogate or a NUL in their key stay idempotent on bucketed days after a restart', async () => {
  const dir = tmp();
  try {
    const odd = ['\uD800abcdefgh-1', 'ab\u0000cd-2', '\uFFFDxyz-3', '😀😀😀😀😀😀😀😀😀-4'];
    let store = new SqliteEventStore({ dir });
    assert.deepEqual(store.writeSync(odd.map((id, k) => ev(id, k))), { written: 4, duplicates: 0 });
    await store.close();
    store = new SqliteEventStore({ dir });
    assert.deepEqual(store.writeSync(odd.map((id, k) => ev(id, k))), { written: 0, duplicates: 4 });
    for (const id of odd) assert.ok(store.getSync(id) !== undefined, JSON.stringify(id));
    await store.close();
    assert.equal(count(dir), 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bucketed day dropped and made again by another connection: the filter is read again, duplicates still found', async () => {
  const dir = tmp();
  try {
    const store = new SqliteEventStore({ dir });
    assert.deepEqual(store.writeSync([1, 2, 3, 4].map((n) => ev(hexId(n), n))), { written: 4, duplicates: 0 });
    // Retention in another process drops the day, and that process writes it again: first fewer
    // rows than before, then more (rowids this store's filter had already counted as read).
    const other = new SqliteEventStore({ dir });
    assert.deepEqual(other.deleteBeforeSync('2026-11-29').days, ['2026-11-28']);
    assert.deepEqual(other.writeSync([ev(hexId(7), 7)]), { written: 1, duplicates: 0 });
    assert.deepEqual(store.writeSync([ev(hexId(7), 7), ev(hexId(1), 1)]), { written: 1, duplicates: 1 });
    assert.deepEqual(other.deleteBeforeSync('2026-11-29').days, ['2026-11-28']);
    const more = [10, 11, 12, 13, 14, 15].map((n) => ev(hexId(n), n));
    assert.deepEqual(other.writeSync(more), { written: 6, duplicates: 0 });
    await other.close();
    assert.deepEqual(store.writeSync([...more, ev(hexId(2), 2)]), { written: 1, duplicates: 6 });
    await store.close();
    assert.equal(count(dir), 7);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a store's own schema changes keep its filters: a new day's tables, with chaining its leaf table", async () => {
  const dir = tmp();
  try {
    const store = new SqliteEventStore({ dir, chain: true });
    // White box: the filters are private; a rebuilt one is a new object (read again from the index).
    const filters = (store as unknown as { filters: Map<string, IdKeyFilter> }).filters;
    assert.deepEqual(store.writeSync([1, 2, 3].map((n) => ev(hexId(n), n))), { written: 3, duplicates: 0 });
    const first = filters.get('2026-11-28');
    assert.ok(first);
    // The first write of the next day creates its table, FTS5 index and leaf table.
    assert.deepEqual(store.writeSync([ev(hexId(4), 4, '2026-11-29')]), { written: 1, duplicates: 0 });
    assert.deepEqual(store.writeSync([ev(hexId(5), 5), ev(hexId(1), 1)]), { written: 1, duplicates: 1 });
    assert.equal(filters.get('2026-11-28'), first, "the day's filter was read again after the store's own DDL");
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
