// The SQLite store's write path as of session 13: documents bound as their UTF-8 bytes (a
// prepared step's PackedTexts, whole or in chunks) are stored as the same TEXT values, in order,
// with the same integrity leaves, as the same documents given as strings; new day tables get the
// FTS5 settings of newDayFtsConfig, tables made before keep theirs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EcsEvent } from '@xiangan/collectors';
import type { PackedTexts } from '../src/buffer/json-bytes.js';
import { eventColumns } from '../src/pipeline/prepare.js';
import { SqliteEventStore } from '../src/storage/sqlite.js';
import { parseQuery } from '../src/query/parse.js';
import { assertFtsDays, ftsDefaultsDayDb } from './storage-earlier.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'xa-docs-'));

/** `docs` as one PackedTexts, laid out as the prepare worker lays them out (UTF-8, start/end pairs). */
function packed(docs: readonly string[]): PackedTexts {
  const parts = docs.map((d) => Buffer.from(d, 'utf8'));
  const at = new Uint32Array(2 * docs.length);
  let pos = 0;
  parts.forEach((p, i) => {
    at[2 * i] = pos;
    pos += p.length;
    at[2 * i + 1] = pos;
  });
  const bytes = Buffer.concat(parts);
  return { bytes, at, ascii: parts.every((p, i) => p.length === docs[i]!.length) };
}

/** Every row of every day table (with the stored types), every leaf row, in order. */
function dump(dir: string): unknown {
  const db = new Database(join(dir, 'events.db'), { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND (name LIKE 'ev\\_%' ESCAPE '\\' OR name LIKE 'il\\_%' ESCAPE '\\') ORDER BY name").pluck().all() as string[];
    return tables.map((t) => [t, db.prepare(`SELECT *${t.startsWith('ev_') ? ', typeof(doc), typeof(message)' : ''} FROM ${t} ORDER BY rowid`).raw().all()]);
  } finally {
    db.close();
  }
}

test('documents given as UTF-8 bytes, in chunks, are stored as the text given as strings, with the same leaves', async () => {
  const messages = ['plain ascii', '用户 张伟 登录失败', 'emoji \u{1f512} and é', 'lone \ud800 surrogate', 'nul \u0000 inside', '', 'quote " and \\ backslash'];
  const events: EcsEvent[] = [];
  for (let i = 0; i < 70; i++) {
    events.push({ id: `doc-${i}`, '@timestamp': `2026-11-${i % 3 === 0 ? 27 : 28}T0${i % 10}:00:00Z`, message: messages[i % messages.length]!, user: { name: i % 2 || i < 10 ? 'root' : '管理员' } } as EcsEvent);
  }
  events.push({ ...events[5]! }); // a duplicate within the write: stored once
  // JSON.stringify escapes a lone surrogate, so every document is well-formed text.
  const docs = events.map((e) => JSON.stringify(e));
  const dirs = [tmp(), tmp(), tmp()];
  try {
    const byText = eventColumns(events, docs);
    // Chunks as a step joined from several reads: the first all ASCII, the others not.
    const ascii = docs.findIndex((d) => /[^\x00-\x7f]/.test(d));
    assert.ok(ascii > 0);
    const chunks = [packed(docs.slice(0, ascii)), packed(docs.slice(ascii, 40)), packed(docs.slice(40))];
    assert.deepEqual(chunks.map((c) => c.ascii), [true, false, false]);
    const inputs = [byText, { ...byText, batches: [], docs: chunks }, { ...byText, batches: [], docs: packed(docs) }];
    for (const [k, cols] of inputs.entries()) {
      const store = new SqliteEventStore({ dir: dirs[k]!, chain: true });
      try {
        assert.deepEqual(store.writeColumns(cols), { written: events.length - 1, duplicates: 1 });
        // Written again: every id is a duplicate.
        assert.deepEqual(store.writeColumns(cols), { written: 0, duplicates: events.length });
        const found = store.searchSync({ query: parseQuery('"登录失败"'), size: 100 });
        assert.equal(found.total, 10);
        assert.deepEqual(store.getSync('doc-9'), JSON.parse(docs[9]!));
      } finally {
        await store.close();
      }
    }
    const want = dump(dirs[0]!) as Array<[string, unknown[][]]>;
    assert.deepEqual(want.map(([t, rows]) => [t, rows.length]), [['ev_20261127', 24], ['ev_20261128', 46], ['il_20261127', 1], ['il_20261128', 1]]);
    // The stored documents are TEXT (not BLOB), and are the documents given.
    const doc = want[0]![1][0]!;
    assert.deepEqual(doc.slice(-3), [docs[0], 'text', 'text']);
    assert.deepEqual(dump(dirs[1]!), want);
    assert.deepEqual(dump(dirs[2]!), want);
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});

test('a new day table gets the FTS5 merge settings; a table made before keeps its own and takes writes', async () => {
  const dir = tmp();
  try {
    // A day table made before this setting: the same DDL, no config row.
    ftsDefaultsDayDb(dir, '2026-11-27');
    const store = new SqliteEventStore({ dir });
    const ev = (i: number, day: string): EcsEvent => ({ id: `am-${day}-${i}`, '@timestamp': `${day}T10:00:00Z`, message: `token${i % 7} shared` }) as EcsEvent;
    // Many small writes: FTS5 merges the segments of each (the new day by its setting).
    for (let w = 0; w < 40; w++) store.writeSync(Array.from({ length: 5 }, (_, i) => [ev(w * 5 + i, '2026-11-27'), ev(w * 5 + i, '2026-11-28')]).flat());
    const found = (day: string, q: string): number => store.searchSync({ query: parseQuery(q), from: `${day}T00:00:00Z`, to: `${day}T23:59:59Z`, size: 0 }).total;
    for (const day of ['2026-11-27', '2026-11-28']) {
      assert.equal(found(day, 'shared'), 200);
      assert.equal(found(day, 'token3'), 29);
    }
    await store.close();
    assertFtsDays(dir, '20261128', '20261127');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
