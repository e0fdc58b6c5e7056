// The full-text index's merging as of session 15 (./src/storage/sqlite-fts.ts): a new day's FTS5
// index has automerge off and the store merges a level once it holds FTS_MERGE_FANIN segments, in
// bounded steps; searches find the same rows as on an index that merges by FTS5's automerge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EcsEvent } from '@xiangan/collectors';
import { SqliteEventStore } from '../src/storage/sqlite.js';
import { FTS_MERGE_FANIN, ftsLevels, ftsMergePages } from '../src/storage/sqlite-fts.js';
import { parseQuery } from '../src/query/parse.js';
import { assertFtsDays, ftsDefaultsDayDb } from './storage-earlier.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'xa-fts-'));

function structure(db: Database.Database, table: string): Buffer {
  return db.prepare(`SELECT block FROM ${table}_data WHERE id = 10`).pluck().get() as Buffer;
}

test('ftsLevels reads FTS5 structure records; a record that does not read still asks for merging', () => {
  const db = new Database(':memory:');
  try {
    db.exec("CREATE VIRTUAL TABLE f USING fts5(m, columnsize=0); INSERT INTO f (f, rank) VALUES ('automerge', 0); INSERT INTO f (f, rank) VALUES ('crisismerge', 1000)");
    const ins = db.prepare('INSERT INTO f (m) VALUES (?)');
    // One segment per transaction, none merged (automerge off).
    for (let t = 0; t < 70; t++) db.transaction(() => { for (let i = 0; i < 20; i++) ins.run(`word${i} shared row ${t}`); })();
    let levels = ftsLevels(structure(db, 'f'))!;
    assert.equal(levels.length, 1);
    assert.equal(levels[0]!.segments, 70);
    assert.equal(levels[0]!.merging, 0);
    assert.ok(levels[0]!.pages.at(-1)! >= 1);
    assert.ok(ftsMergePages(structure(db, 'f')) > 0, '70 segments: a merge starts');
    // A merge step of a few pages leaves a merge in progress on level 0.
    db.prepare("INSERT INTO f (f, rank) VALUES ('merge', 2)").run();
    levels = ftsLevels(structure(db, 'f'))!;
    assert.equal(levels[0]!.merging, 70);
    assert.ok(ftsMergePages(structure(db, 'f')) > 0, 'a merge in progress goes on');
    db.exec("INSERT INTO f (f) VALUES ('optimize')");
    levels = ftsLevels(structure(db, 'f'))!;
    assert.equal(levels.reduce((n, l) => n + l.segments, 0), 1);
    assert.equal(ftsMergePages(structure(db, 'f')), 0);
    assert.equal(ftsMergePages(undefined), 0);
    // Truncated or garbage: undefined levels, and a merge step anyway (FTS5 picks the level).
    const rec = structure(db, 'f');
    assert.equal(ftsLevels(rec.subarray(0, rec.length - 1)), undefined);
    assert.equal(ftsLevels(Buffer.from([0, 0, 0, 1, 0xff, 0xff])), undefined);
    assert.ok(ftsMergePages(Buffer.from([0, 0, 0, 1, 0xff, 0xff])) > 0);
  } finally {
    db.close();
  }
});

test('a new day index merges at FTS_MERGE_FANIN segments in steps; searches match an automerge index', async () => {
  const dir = tmp();
  try {
    // 2026-11-27 made before, as by an earlier build: FTS5's default settings (automerge 4).
    ftsDefaultsDayDb(dir, '2026-11-27');
    const store = new SqliteEventStore({ dir });
    const words = ['Failed', 'password', 'for', 'root', 'from', 'failure', 'FAILED-PASSWORD', 'accepted', 'sshd[42]:', '10.0.0.1', 'port', '22'];
    const message = (i: number): string => Array.from({ length: 3 + (i % 5) }, (_, k) => words[(i * 7 + k * (i % 3 + 1)) % words.length]!).join(i % 4 === 0 ? ' ' : ', ');
    const ev = (i: number, day: string): EcsEvent => ({ id: `fts-${day}-${i}`, '@timestamp': `${day}T10:${String(i % 60).padStart(2, '0')}:00Z`, message: message(i), user: { name: i % 3 ? 'root' : 'admin' } }) as EcsEvent;
    // 200 writes: with neither automerge nor the store's merging the new index would hold 200 segments.
    const writes = 200;
    let maxSegments = 0;
    const probe = new Database(join(dir, 'events.db'), { readonly: true });
    try {
      for (let w = 0; w < writes; w++) {
        store.writeSync(Array.from({ length: 4 }, (_, i) => [ev(w * 4 + i, '2026-11-27'), ev(w * 4 + i, '2026-11-28')]).flat());
        const levels = ftsLevels(structure(probe, 'fts_20261128'))!;
        maxSegments = Math.max(maxSegments, levels.reduce((n, l) => n + l.segments, 0));
      }
      const levels = ftsLevels(structure(probe, 'fts_20261128'))!;
      assert.ok(levels.length >= 2, 'level 0 was merged into level 1');
      assert.ok(maxSegments >= FTS_MERGE_FANIN && maxSegments < FTS_MERGE_FANIN + 40, `segments at most ${maxSegments}`);
    } finally {
      probe.close();
    }
    // A page (ids without the day; the cursor holds the day), the total and a facet: the same on both days' indexes.
    const ids = (day: string, q: string, offset = 0): string =>
      JSON.stringify(store.searchSync({ query: parseQuery(q), from: `${day}T00:00:00Z`, to: `${day}T23:59:59Z`, size: 37, offset, facets: ['user.name'] }), (k, v: unknown) => (k === 'nextCursor' ? undefined : k === 'id' && typeof v === 'string' ? v.replace(day, 'DAY') : k === '@timestamp' && typeof v === 'string' ? v.slice(10) : v));
    const total = (day: string, q: string): number => store.searchSync({ query: parseQuery(q), from: `${day}T00:00:00Z`, to: `${day}T23:59:59Z`, size: 0 }).total;
    const queries = ['failed', 'FAIL*', 'fail*', '"failed password"', '"password for"', 'root AND NOT accepted', 'root OR 22', '10.0.0.1', '10.0.0*', 'sshd', 'sshd AND (port OR failure)', 'password -root'];
    for (const q of queries) {
      for (const offset of [0, 37]) assert.equal(ids('2026-11-28', q, offset), ids('2026-11-27', q, offset), `${q} at ${offset}`);
      assert.ok(total('2026-11-28', q) > 0, `${q} finds rows`);
    }
    // Totals (every match, not a page) against the messages themselves, for plain words.
    const expected = Array.from({ length: writes * 4 }, (_, i) => message(i)).filter((m) => /\broot\b/i.test(m)).length;
    assert.equal(total('2026-11-28', 'root'), expected);
    assert.equal(total('2026-11-27', 'root'), expected);
    await store.close();
    assertFtsDays(dir, '20261128', '20261127');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
