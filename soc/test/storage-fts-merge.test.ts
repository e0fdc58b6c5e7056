// The full-text index's merge schedule on a day with many writes (./src/storage/sqlite-fts.ts,
// soc/README.md "Latency, session 16"): FTS5's `merge` command starts a merge of any level with 16
// segments once the merge in progress ends with pages to spare, so the store asks for no more
// than FTS5 will spend on the merge it means. Over 1,400 writes (level 1 passes 16 segments) no
// merge takes fewer than FTS_MERGE_FANIN segments, and searches find every row.
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

/** A structure record as FTS5 writes it (old format): levels of [merging, segment page counts]. */
function record(levels: Array<[number, number[]]>): Buffer {
  const out: number[] = [0, 0, 0, 1];
  const varint = (v: number): void => {
    const groups: number[] = [];
    do {
      groups.unshift(v & 0x7f);
      v = Math.floor(v / 128);
    } while (v > 0);
    for (let i = 0; i < groups.length; i++) out.push(groups[i]! | (i < groups.length - 1 ? 0x80 : 0));
  };
  varint(levels.length);
  varint(levels.reduce((n, [, pages]) => n + pages.length, 0));
  varint(0);
  let id = 1;
  let page = 1;
  for (const [merging, pages] of levels) {
    varint(merging);
    varint(pages.length);
    for (const p of pages) {
      varint(id++);
      // An input segment a merge has read to its end reads 0 to 0 (fts5TrimSegments).
      varint(p === 0 ? 0 : page);
      varint(p === 0 ? 0 : page + p - 1);
      page += p;
    }
  }
  return Buffer.from(out);
}

test('ftsMergePages: a merge starts at the fan-in with a page, goes on in steps within its input left, and a higher level goes slower', () => {
  const seg = (n: number, pages: number): number[] => Array.from({ length: n }, () => pages);
  // Level 0 short of the fan-in (with this write's segment, which the command flushes first): nothing.
  assert.equal(ftsMergePages(record([[0, seg(FTS_MERGE_FANIN - 2, 10)]])), 0);
  // A level 1 with 40 segments and no merge in progress: not a merge FTS5 is to start yet.
  assert.equal(ftsMergePages(record([[0, seg(10, 10)], [0, seg(40, 600)]])), 0);
  // At the fan-in a merge starts, with one page (it may write no more than that in all).
  assert.equal(ftsMergePages(record([[0, seg(FTS_MERGE_FANIN - 1, 10)]])), 1);
  // A level-0 merge in progress, far from its end: four times the newest segment's pages, at least
  // 64; near its end a quarter of the whole pages left.
  assert.equal(ftsMergePages(record([[64, [...seg(64, 70), ...seg(5, 70)]], [0, [500]]])), 280);
  assert.equal(ftsMergePages(record([[64, [...seg(64, 10), ...seg(5, 10)]], [0, [500]]])), 64);
  assert.equal(ftsMergePages(record([[64, [...seg(60, 0), 9, 9, 5, 1, ...seg(5, 70)]], [0, [3000]]])), Math.floor((8 + 8 + 4) / 4));
  // Only partly read first leaves left: one page (the call that ends the merge writes at least one).
  assert.equal(ftsMergePages(record([[64, [...seg(60, 0), 1, 1, 1, 1, ...seg(5, 70)]], [0, [3000]]])), 1);
  // A level-1 merge in progress, level 0 below its segment count: twice the newest segment's pages, at least 16.
  assert.equal(ftsMergePages(record([[0, seg(10, 70)], [64, seg(70, 3000)], [0, [20000]]])), 140);
  assert.equal(ftsMergePages(record([[0, seg(10, 5)], [64, seg(70, 3000)], [0, [20000]]])), 16);
  // Level 0 reaching the segment count of that merge: FTS5 starts level 0 first, then goes on at level 0's pace.
  assert.equal(ftsMergePages(record([[0, seg(FTS_MERGE_FANIN - 1, 10)], [64, seg(70, 3000)], [0, [20000]]])), 1);
  assert.equal(ftsMergePages(record([[64, seg(66, 10)], [64, [...seg(70, 3000), 50]], [0, [20000]]])), 64);
});

test('a day of 1,400 small writes: no FTS5 merge takes fewer than FTS_MERGE_FANIN segments; every row found', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xa-fts-merge-'));
  try {
    const store = new SqliteEventStore({ dir });
    const words = ['Failed', 'password', 'for', 'root', 'from', 'accepted', 'sshd', 'port', 'login', 'session', 'opened', 'closed'];
    const message = (i: number): string => `${words[i % words.length]} ${words[(i * 7) % words.length]} user${i % 97} 10.0.${i % 13}.${i % 251} tok${i}`;
    const ev = (i: number): EcsEvent => ({ id: `ftsm-${i}`, '@timestamp': `2026-11-28T10:${String(i % 60).padStart(2, '0')}:00Z`, message: message(i) }) as EcsEvent;
    const writes = 1400;
    const perWrite = 3;
    const early: string[] = [];
    let maxLevel1 = 0;
    const probe = new Database(join(dir, 'events.db'), { readonly: true });
    try {
      let structure: Database.Statement | undefined;
      for (let w = 0; w < writes; w++) {
        store.writeSync(Array.from({ length: perWrite }, (_, i) => ev(w * perWrite + i)));
        // The day's tables exist from its first write on.
        structure ??= probe.prepare('SELECT block FROM fts_20261128_data WHERE id = 10').pluck();
        const levels = ftsLevels(structure.get() as Buffer)!;
        assert.ok(levels, `structure record after write ${w}`);
        for (const [l, level] of levels.entries()) if (level.merging > 0 && level.merging < FTS_MERGE_FANIN) early.push(`write ${w}: level ${l} merges ${level.merging}`);
        maxLevel1 = Math.max(maxLevel1, levels[1]?.segments ?? 0);
      }
    } finally {
      probe.close();
    }
    // Level 1 passed 16 segments, where FTS5's merge command would have started it.
    assert.ok(maxLevel1 > 16, `level 1 reached ${maxLevel1} segments`);
    assert.deepEqual(early.slice(0, 3), []);
    const total = (q: string): number => store.searchSync({ query: parseQuery(q), from: '2026-11-28T00:00:00Z', to: '2026-11-28T23:59:59Z', size: 0 }).total;
    const n = writes * perWrite;
    const all = Array.from({ length: n }, (_, i) => message(i));
    for (const q of ['root', 'password', 'user42', 'tok1234', 'tok1*', '"failed password"']) {
      const want = q === 'tok1*' ? all.filter((m) => /\btok1\d*\b/.test(m)).length : q.startsWith('"') ? all.filter((m) => /\bfailed password\b/i.test(m)).length : all.filter((m) => new RegExp(`\\b${q}\\b`, 'i').test(m)).length;
      assert.equal(total(q), want, q);
    }
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
