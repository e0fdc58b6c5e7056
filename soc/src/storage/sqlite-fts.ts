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
 *
 * FTS5's `merge` command picks the level itself (fts5_index.c, fts5IndexMerge): the lowest level
 * with a merge in progress, unless a level below it holds at least as many segments as that merge
 * takes and {@link FTS_USERMERGE} (16) or more, which then starts; and pages left over once a
 * merge ends start a merge of any level with 16 segments. So {@link ftsMergePages} asks only for
 * what FTS5 will spend on the merge it means (soc/README.md "Latency, session 16": before, a
 * level-1 merge of 16 segments, ~24k pages, started 1.35M rows into a day and ran for 10 s beside
 * level-0 merges of 16, and the store fell behind its paced rate).
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

/** Pages of merge work per write at least; and per page the write's own segment has, merging level 0. */
const MIN_MERGE_PAGES = 64;
const MERGE_PAGES_PER_PAGE = 4;
/**
 * Merging a higher level: pages per write at least, and per page of the write's own segment. Its
 * merge is due only once the level below has filled it again (64 of that level's merges), so it
 * may take that long: at level 0's pace it ran beside the writes for seconds at a fifth of the
 * store worker's time, more than the headroom at 80 % of capacity (soc/README.md "Latency,
 * session 16").
 */
const MIN_UPPER_MERGE_PAGES = 16;
const UPPER_MERGE_PAGES_PER_PAGE = 2;
/**
 * A call asks for at most this share of the whole pages its merge's input still spans, so that
 * it does not end the merge with pages to spare (FTS5 would spend them starting a merge of any
 * level with {@link FTS_USERMERGE} segments), and the merge ends in calls of a page or a few. A
 * merge writes fewer pages than it reads, most so near its end, where those pages overstate what
 * is left most: at 300-event steps 1 of 146 merges still ended with pages over (soc/README.md
 * "Latency, session 16"); that level then merges at fewer segments, as FTS5 would have.
 */
const MERGE_SHARE = 1 / 4;

/** The statements that set the FTS5 options of a new day's index `fts_<s>` (rows of its config table). */
export function newDayFtsConfig(s: string): string[] {
  if (!/^\d{8}$/.test(s)) throw new RangeError(`not a day suffix: ${s}`);
  return [
    `INSERT INTO fts_${s} (fts_${s}, rank) VALUES ('automerge', ${FTS_AUTOMERGE})`,
    `INSERT INTO fts_${s} (fts_${s}, rank) VALUES ('crisismerge', ${FTS_CRISISMERGE})`,
    `INSERT INTO fts_${s} (fts_${s}, rank) VALUES ('usermerge', ${FTS_USERMERGE})`,
  ];
}

/** One level of an FTS5 index: segments, of them being merged (0: none), pages of each (oldest first). */
export interface FtsLevel {
  segments: number;
  merging: number;
  pages: number[];
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
      const pages: number[] = [];
      for (let g = 0; g < segments; g++) {
        varint(); // segment id
        const first = varint();
        const last = varint();
        // A merge's input segment it has read to the end reads 0 to 0 until the merge ends (fts5TrimSegments).
        pages.push(first === 0 && last === 0 ? 0 : last - first + 1);
        if (v2) for (let k = 0; k < 5; k++) varint();
      }
      total += segments;
      levels.push({ segments, merging, pages });
    }
    return total === nSegment && i === record.length ? levels : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Pages of merging to ask for (`INSERT INTO fts_<s>(fts_<s>, rank) VALUES ('merge', pages)`)
 * after a write to an index with `automerge` 0, given its structure record; 0 for none. A merge
 * in progress goes on; a level with {@link FTS_MERGE_FANIN} segments starts one, with one page.
 * The level FTS5 will merge is worked out as fts5IndexMerge picks it, on the structure it will see
 * (the command first flushes this write's tokens as one more level-0 segment). Merging level 0, a
 * call asks for four times the pages of the newest segment (about what a write adds), a higher
 * level twice (see {@link MIN_UPPER_MERGE_PAGES}), so merges keep up and no level grows without
 * bound; and at most {@link MERGE_SHARE} of what the merge's input still spans. A record that
 * does not read asks for a merge step anyway (FTS5 then merges a level of {@link FTS_USERMERGE}
 * segments or more).
 */
export function ftsMergePages(record: Uint8Array | undefined): number {
  if (record === undefined) return 0;
  const levels = ftsLevels(record);
  if (levels === undefined) return MIN_MERGE_PAGES * MERGE_PAGES_PER_PAGE;
  const newest = levels[0]?.pages.at(-1) ?? 0;
  // fts5IndexMerge: the lowest level with a merge in progress, unless a level below it holds at
  // least as many segments as that merge takes (and FTS_USERMERGE), which then starts; with
  // none in progress, the level with the most segments.
  let best = -1;
  let most = 0;
  let inProgress = false;
  for (let l = 0; l < levels.length; l++) {
    const { segments, merging } = levels[l]!;
    if (merging > 0) {
      inProgress = true;
      if (merging > most) best = l;
      break;
    }
    const count = l === 0 ? segments + 1 : segments;
    if (count > most) {
      best = l;
      most = count;
    }
  }
  if (best < 0 || (!inProgress && most < FTS_MERGE_FANIN)) return 0;
  // A merge starts with one page: small segments are mostly a page's overhead, so a merge of
  // 64 may write only a page or two in all, and a call that ends it leaves nothing over.
  const level = levels[best]!;
  if (level.merging === 0) return 1;
  // The whole pages its input segments still span: each one's first leaf is read in part
  // (fts5TrimSegments keeps the leaf of the term the merge stopped at), so that one does not count.
  let whole = 0;
  for (let g = 0; g < level.merging; g++) whole += Math.max(0, level.pages[g]! - 1);
  const budget = best === 0 ? Math.max(MIN_MERGE_PAGES, MERGE_PAGES_PER_PAGE * newest) : Math.max(MIN_UPPER_MERGE_PAGES, UPPER_MERGE_PAGES_PER_PAGE * newest);
  return Math.max(1, Math.min(budget, Math.floor(MERGE_SHARE * whole)));
}
