/**
 * Compact correlation state: groups are small integers into typed arrays (their clock, counters
 * and flags) plus a few JS arrays for what has variable length (event times, event ids, distinct
 * values). A group that was an object with six arrays, a map and a record is now one or two
 * arrays beside numbers: with tens of thousands of open groups the garbage collector walks far
 * fewer objects, and the CLOCK hand reads flags and times from dense arrays instead of visiting
 * one scattered object per step.
 */

/** The group was touched since it last reached the front of the queue (its second chance). */
export const TOUCHED = 1;
/** Some event arrived older than the newest one before it (times are scanned, not trimmed from the front). */
export const UNORDERED = 2;

/** Shared by groups that do not use a list (never written: every writer assigns its own list first). */
const NONE: never[] = Object.freeze([]) as unknown as never[];

function grownF64(a: Float64Array<ArrayBuffer>, n: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(n);
  b.set(a);
  return b;
}

function grownI32(a: Int32Array<ArrayBuffer>, n: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(n);
  b.set(a);
  return b;
}

/** What a new group needs besides its key (see {@link GroupStore.add}). */
export interface GroupKind {
  /** Index of the correlation. */
  corr: number;
  /** event_count with a sliding window: keeps event times. */
  times: boolean;
  /** value_count: keeps value → time last seen. */
  values: boolean;
  /** temporal: keeps [rule index, time] pairs. */
  pairs: boolean;
  /** temporal_ordered: keeps the chain per step. */
  chain: boolean;
}

/**
 * Every correlation group of an engine. A group id is reused after {@link GroupStore.remove};
 * callers that queue ids tell live entries from stale ones by {@link GroupStore.qpos}.
 */
export class GroupStore {
  /** Correlation index, -1 when the id is free. */
  corr = new Int32Array(0);
  /** Cell of the group in its correlation's {@link Space}. */
  cell = new Int32Array(0);
  /** Event time (ms) of the newest event. */
  last = new Float64Array(0);
  /** Window start (tumbling windows) or creation time. */
  start = new Float64Array(0);
  /** Events in the tumbling window. */
  count = new Float64Array(0);
  /** value_count: newest time put in `vm`. */
  vlast = new Float64Array(0);
  /** Position of the group's live entry in the engine's queue. */
  qpos = new Float64Array(0);
  flags = new Uint8Array(0);
  key: string[] = [];
  /** Group-by values when they cannot be read back from the key (several fields, or restored), else null. */
  group: (Record<string, string> | null)[] = [];
  ts: number[][] = [];
  ids: string[][] = [];
  vm: (Map<string, number> | null)[] = [];
  vals: [string, number][][] = [];
  chain: (number | null)[][] = [];
  private free: number[] = [];
  private top = 0;

  /** A new group (its lists empty, times `t`). */
  add(k: GroupKind, key: string, cell: number, group: Record<string, string> | null, t: number): number {
    let g = this.free.pop();
    if (g === undefined) {
      g = this.top++;
      if (g >= this.corr.length) this.grow(Math.max(1024, this.corr.length * 2));
      this.key.push('');
      this.group.push(null);
      this.ts.push(NONE);
      this.ids.push(NONE);
      this.vm.push(null);
      this.vals.push(NONE);
      this.chain.push(NONE);
    }
    this.corr[g] = k.corr;
    this.cell[g] = cell;
    this.last[g] = t;
    this.start[g] = t;
    this.count[g] = 0;
    this.vlast[g] = -Infinity;
    this.flags[g] = 0;
    this.key[g] = key;
    this.group[g] = group;
    this.ts[g] = k.times ? [] : NONE;
    this.ids[g] = [];
    this.vm[g] = k.values ? new Map() : null;
    this.vals[g] = k.pairs ? [] : NONE;
    this.chain[g] = k.chain ? [] : NONE;
    return g;
  }

  /** Free a group id (its lists are let go at once). */
  remove(g: number): void {
    this.corr[g] = -1;
    this.key[g] = '';
    this.group[g] = null;
    this.ts[g] = NONE;
    this.ids[g] = NONE;
    this.vm[g] = null;
    this.vals[g] = NONE;
    this.chain[g] = NONE;
    this.free.push(g);
  }

  /** Forget every group. */
  clear(): void {
    this.corr.fill(-1);
    this.free = [];
    this.top = 0;
    this.key = [];
    this.group = [];
    this.ts = [];
    this.ids = [];
    this.vm = [];
    this.vals = [];
    this.chain = [];
  }

  private grow(n: number): void {
    const c = new Int32Array(n).fill(-1);
    c.set(this.corr);
    this.corr = c;
    this.cell = grownI32(this.cell, n);
    this.last = grownF64(this.last, n);
    this.start = grownF64(this.start, n);
    this.count = grownF64(this.count, n);
    this.vlast = grownF64(this.vlast, n);
    this.qpos = grownF64(this.qpos, n);
    const f = new Uint8Array(n);
    f.set(this.flags);
    this.flags = f;
  }
}

/**
 * Correlations that group by the same fields share one space: a map from group key to a cell,
 * a row holding each correlation's group id. A detection feeding several of them (SSH failures:
 * brute force and password spraying, both by source.ip) looks its key up once.
 */
export class Space {
  readonly map = new Map<string, number>();
  /** Correlations in this space (the row length). */
  size = 0;
  /** Row-major: `cell * size + slot` → group id + 1 (0: none). */
  gs = new Int32Array(0);
  /** Live groups per cell; a cell with none is out of the map. */
  n = new Int32Array(0);
  /** Key of each cell ('' when free). */
  keys: string[] = [];
  private free: number[] = [];
  private cells = 0;

  /** The cell of `key` (which must not be in the map), empty. */
  alloc(key: string): number {
    let cell = this.free.pop();
    if (cell === undefined) {
      cell = this.cells++;
      if (cell >= this.n.length) {
        const cap = Math.max(256, this.n.length * 2);
        this.n = grownI32(this.n, cap);
        this.gs = grownI32(this.gs, cap * this.size);
      }
      this.keys.push('');
    }
    this.keys[cell] = key;
    this.map.set(key, cell);
    return cell;
  }

  /** Take an emptied cell out of the map. */
  release(cell: number): void {
    this.map.delete(this.keys[cell]);
    this.keys[cell] = '';
    this.free.push(cell);
  }

  /** Forget every cell. */
  clear(): void {
    this.map.clear();
    this.gs.fill(0);
    this.n.fill(0);
    this.keys = [];
    this.free = [];
    this.cells = 0;
  }
}
