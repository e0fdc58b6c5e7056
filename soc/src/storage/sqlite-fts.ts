/**
 * When a day's FTS5 index merges its segments. Every commit adds one segment (the step's tokens);
 * FTS5's own `automerge` merges a level once it holds 16 segments (its maximum), so at 1M rows a
 * token is rewritten about log16(segments) times, each rewrite decoding and encoding its position
 * lists (soc/README.md "Full text, session 15": merges were about half the index's CPU). New day
 * indexes run with `automerge` 0, and the store asks for the merging itself after each write
 * ({@link ftsMergePages}): a level is merged once it holds {@link FTS_MERGE_FANIN} segments, in
 * the same incremental steps as automerge (a bounded number of pages per write, so no commit
 * merges a whole level), so a token is rewritten about log64 instead of log16 times. Matches are
 * the same: merging changes how the index is laid out, not what it holds.
 */

/** FTS5 `automerge` of new day indexes: off, the store merges them ({@link ftsMergePages}). */
export const FTS_AUTOMERGE = 0;

/** Segments of one level that start its merge into the next (FTS5's automerge stops at 16). */
export const FTS_MERGE_FANIN = 64;

/**
 * FTS5 `crisismerge` of new day indexes: a level with this many segments is merged whole inside
 * one commit. Only a fallback: {@link ftsMergePages} keeps levels far below it, unless something
 * else writes the index (a build without it), which then still bounds the segment count.
 */
export const FTS_CRISISMERGE = 256;

/**
 * FTS5 `usermerge` of new day indexes (its maximum): the fewest segments a level needs before a
 * `merge` command that finished the merge in progress starts another with its remaining pages.
 */
export const FTS_USERMERGE = 16;

/** Rowid of the structure record in an FTS5 index's `_data` table (fts5Int.h FTS5_STRUCTURE_ROWID). */
export const FTS_STRUCTURE_ROWID = 10;

/** Pages of merge work per write at least; and per page the write's own segment has. */
const MIN_MERGE_PAGES = 64;
const MERGE_PAGES_PER_PAGE = 4;

/** The statements that set the FTS5 options of a new day's index `fts_<s>` (rows of its config table). */
export function newDayFtsConfig(s: string): string[] {
  if (!/^\d{8}$/.test(s)) throw new RangeError(`not a day suffix: ${s}`);
  return [
    `INSERT INTO fts_${s} (fts_${s}, rank) VALUES ('automerge', ${FTS_AUTOMERGE})`,
    `INSERT INTO fts_${s} (fts_${s}, rank) VALUES ('crisismerge', ${FTS_CRISISMERGE})`,
    `INSERT INTO fts_${s} (fts_${s}, rank) VALUES ('usermerge', ${FTS_USERMERGE})`,
  ];
}

/** One level of an FTS5 index: segments, of them being merged (0: none), pages of its newest. */
export interface FtsLevel {
  segments: number;
  merging: number;
  newestPages: number;
}

/**
 * The levels of an FTS5 structure record (the `fts_<s>_data` row with id 10), as FTS5 writes it
 * (fts5_index.c, fts5StructureWrite): a 4-byte cookie, in the newer format the marker FF 00 00 01,
 * then varints: levels, segments, write counter; per level merging and segments; per segment its
 * id, first and last page (and five more in the newer format). Undefined if it does not read.
 */
export function ftsLevels(record: Uint8Array): FtsLevel[] | undefined {
  let i = 4;
  const v2 = record[4] === 0xff && record[5] === 0 && record[6] === 0 && record[7] === 1;
  if (v2) i = 8;
  // SQLite's varint (sqlite3GetVarint): big-endian 7-bit groups, the 9th byte whole. Values past
  // 2^53 (the newer format's origins) lose precision, but are only skipped.
  const varint = (): number => {
    let v = 0;
    for (let k = 0; k < 8; k++) {
      if (i >= record.length) throw new RangeError('structure record ends inside a varint');
      const c = record[i++]!;
      v = v * 128 + (c & 0x7f);
      if ((c & 0x80) === 0) return v;
    }
    if (i >= record.length) throw new RangeError('structure record ends inside a varint');
    return v * 256 + record[i++]!;
  };
  try {
    const nLevel = varint();
    const nSegment = varint();
    varint(); // write counter
    const levels: FtsLevel[] = [];
    let total = 0;
    for (let l = 0; l < nLevel; l++) {
      const merging = varint();
      const segments = varint();
      let newestPages = 0;
      for (let g = 0; g < segments; g++) {
        varint(); // segment id
        const first = varint();
        const last = varint();
        newestPages = last - first + 1;
        if (v2) for (let k = 0; k < 5; k++) varint();
      }
      total += segments;
      levels.push({ segments, merging, newestPages });
    }
    return total === nSegment && i === record.length ? levels : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Pages of merging to ask for (`INSERT INTO fts_<s>(fts_<s>, rank) VALUES ('merge', pages)`)
 * after a write to an index with `automerge` 0, given its structure record; 0 for none. A merge
 * in progress goes on; a level with {@link FTS_MERGE_FANIN} segments starts one. Each write
 * merges four times the pages of the newest segment (the write before's: this write's tokens
 * wait in FTS5's pending hash until the commit), about what a write adds, at each of the few
 * levels that can be merging, so merges keep up and no level grows without bound. A
 * record that does not read asks for a merge step anyway (FTS5 then merges a level of
 * {@link FTS_USERMERGE} segments or more).
 */
export function ftsMergePages(record: Uint8Array | undefined): number {
  if (record === undefined) return 0;
  const levels = ftsLevels(record);
  if (levels === undefined) return MIN_MERGE_PAGES * MERGE_PAGES_PER_PAGE;
  if (!levels.some((l) => l.merging > 0 || l.segments >= FTS_MERGE_FANIN)) return 0;
  const newest = levels[0]?.newestPages ?? 0;
  return Math.max(MIN_MERGE_PAGES, MERGE_PAGES_PER_PAGE * newest);
}
