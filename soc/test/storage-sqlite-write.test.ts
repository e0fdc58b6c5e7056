// The keyed and bucketed day tables' write path asks which ids are stored once per write and day (a JSON
// array of id keys), not once per event (bucketed: only the ids its key filter cannot rule out). Idempotence must not depend on how an id's key is
// spelled: non-ASCII ids, surrogate pairs and lone surrogates in the first eight characters, ids
// sharing a key, and one write spanning two days. The stored rows are read back with SQLite's own
// functions (hex of the stored id), and the lookup's plan is SQLite's EXPLAIN QUERY PLAN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EcsEvent } from '@xiangan/collectors';
import { SqliteEventStore } from '../src/storage/sqlite.js';
import type { DayLayout } from '../src/storage/sqlite-schema.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'xa-write-'));

function ev(id: string, day: number, text: string): EcsEvent {
  return { id, '@timestamp': `2026-11-${day}T08:00:00Z`, message: text, event: {} } as EcsEvent;
}

const IDS = [
  '湘安事件编号一二三四',
  '湘安事件编号一二三五', // same first eight characters as the one before
  '😀😀😀😀😀😀😀😀x', // surrogate pairs: eight code points, sixteen code units
  '😀😀😀😀😀😀😀😀y',
  'ab\ud800cdefghij', // a lone surrogate inside the key
  'ab\ud800cdefghik',
  'z\udc00',
  'plain-id-0001',
  'q"b\\\u0001\ntail', // characters JSON escapes: quote, backslash, control characters
  'ab\u0000cdefghij', // a NUL: SQLite's substr ends the key there
  'ab\u0000cdefghik',
];

for (const layout of ['keyed', 'bucketed', 'bucketed-id'] as DayLayout[]) test(`${layout} writes: idempotent for ids of any spelling, within a write, across writes, restarts and days`, async () => {
  const dir = tmp();
  try {
    let store = new SqliteEventStore({ dir, chain: true, layout });
    const first = IDS.map((id, i) => ev(id, 27 + (i % 2), `event ${i}`));
    // Every event twice in one write: each stored once.
    assert.deepEqual(store.writeSync([...first, ...first]), { written: IDS.length, duplicates: IDS.length });
    // A replay, plus one new event on each day.
    assert.deepEqual(store.writeSync([...first, ev('new-27', 27, 'n27'), ev('new-28', 28, 'n28')]), { written: 2, duplicates: IDS.length });
    assert.equal(store.statsSync().events, IDS.length + 2);
    for (let i = 0; i < IDS.length; i++) assert.equal(store.getSync(IDS[i]!)?.message, `event ${i}`);
    // The same id on another day is another day's event (each day table answers for itself).
    assert.deepEqual(store.writeSync([ev(IDS[0]!, 28, 'other day')]), { written: 1, duplicates: 0 });
    await store.close();
    // After a restart (bucketed: the key filter read back from the index), still duplicates.
    store = new SqliteEventStore({ dir, chain: true, layout });
    assert.deepEqual(store.writeSync(first), { written: 0, duplicates: IDS.length });
    await store.close();

    const db = new Database(join(dir, 'events.db'), { readonly: true });
    try {
      const count = (t: string): number => db.prepare(`SELECT count(*) FROM ${t}`).pluck().get() as number;
      assert.equal(count('ev_20261127') + count('ev_20261128'), IDS.length + 3);
      // No id twice in a day table, compared as SQLite stored them.
      for (const t of ['ev_20261127', 'ev_20261128']) {
        assert.equal(db.prepare(`SELECT count(*) FROM (SELECT hex(id) FROM ${t} GROUP BY hex(id) HAVING count(*) > 1)`).pluck().get(), 0);
      }
      const where = { keyed: 'substr(id, 1, 8) IN (SELECT value FROM json_each(?))', bucketed: '(rowid >> 14) IN (0, 1) AND substr(id, 1, 8) IN (SELECT value FROM json_each(?))', 'bucketed-id': '(rowid >> 14) IN (0, 1) AND id IN (SELECT value FROM json_each(?))' }[layout as string]!;
      const plan = (db.prepare(`EXPLAIN QUERY PLAN SELECT id FROM ev_20261127 WHERE ${where}`).all('[]') as Array<{ detail: string }>)
        .map((r) => r.detail)
        .join('; ');
      assert.match(plan, { keyed: /USING INDEX ix_20261127_idk/, bucketed: /USING INDEX ix_20261127_idb/, 'bucketed-id': /USING COVERING INDEX ix_20261127_idi/ }[layout as string]!);
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
