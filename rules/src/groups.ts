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

function grownI32(a: Int32Array<ArrayBuffer>, n: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(n);
  b.set(a);
  return b;
}

/**
 * Most distinct values a value_count group keeps in two plain lists, found by a scan: most groups
 * see a handful, and a per-group map costs an object, a hash table, a boxed number per update and
 * an iterator per trim. Past this the group switches to a map.
 */
export const SMALL_SET = 16;

/** Remove entry `i` of two parallel lists (in place: `splice` would allocate the removed part). */
function cut(vv: string[], vt: number[], i: number): void {
  const n = vv.length - 1;
  for (let k = i; k < n; k++) {
    vv[k] = vv[k + 1];
    vt[k] = vt[k + 1];
  }
  vv.length = n;
  vt.length = n;
}

/** Numbers per group in {@link GroupStore.num}. */
export const W = 8;
/** Correlation index, -1 when the id is free. */
export const CORR = 0;
/** Cell of the group in its correlation's {@link Space}. */
export const CELL = 1;
/** Event time (ms) of the newest event. */
export const LAST = 2;
/** Window start (tumbling windows) or creation time. */
export const START = 3;
/** Events in the tumbling window. */
export const COUNT = 4;
/** value_count: newest time put in the value set. */
export const VLAST = 5;
/** Position of the group's live entry in the engine's queue. */
export const QPOS = 6;
/** {@link TOUCHED}, {@link UNORDERED}. */
export const FLAGS = 7;

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
 * callers that queue ids tell live entries from stale ones by {@link QPOS}.
 */
export class GroupStore {
  /**
   * The numbers of group `g` at `g * W` ({@link CORR}, {@link CELL}, {@link LAST}, {@link START},
   * {@link COUNT}, {@link VLAST}, {@link QPOS}, {@link FLAGS}): one group's numbers share a cache
   * line, where an array per number cost a miss each (the CLOCK hand reads four of them for each
   * group it passes, in queue order, which is no order in memory).
   */
  num = new Float64Array(0);
  key: string[] = [];
  /** Group-by values when they cannot be read back from the key (several fields, or restored), else null. */
  group: (Record<string, string> | null)[] = [];
  ts: number[][] = [];
  ids: string[][] = [];
  /** value_count, small sets: the values in the order last seen, and when each was (see {@link SMALL_SET}). */
  vv: string[][] = [];
  vt: number[][] = [];
  /** value_count, large sets: value → time last seen, in the order last seen (null while the set is small). */
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
      if (g * W >= this.num.length) this.grow(Math.max(1024, (this.num.length / W) * 2));
      this.key.push('');
      this.group.push(null);
      this.ts.push(NONE);
      this.ids.push(NONE);
      this.vv.push(NONE);
      this.vt.push(NONE);
      this.vm.push(null);
      this.vals.push(NONE);
      this.chain.push(NONE);
    }
    const r = g * W;
    const num = this.num;
    num[r + CORR] = k.corr;
    num[r + CELL] = cell;
    num[r + LAST] = t;
    num[r + START] = t;
    num[r + COUNT] = 0;
    num[r + VLAST] = -Infinity;
    num[r + FLAGS] = 0;
    this.key[g] = key;
    this.group[g] = group;
    // Time, id and chain lists start as NONE: their first writer makes a list of the size it needs
    // (the first push onto an empty list reserves 17 slots, 136 bytes more than most groups use).
    this.ts[g] = NONE;
    this.ids[g] = NONE;
    this.vv[g] = k.values ? [] : NONE;
    this.vt[g] = k.values ? [] : NONE;
    this.vm[g] = null;
    this.vals[g] = k.pairs ? [] : NONE;
    this.chain[g] = NONE;
    return g;
  }

  /** Free a group id (its lists are let go at once). */
  remove(g: number): void {
    this.num[g * W + CORR] = -1;
    this.key[g] = '';
    this.group[g] = null;
    this.ts[g] = NONE;
    this.ids[g] = NONE;
    this.vv[g] = NONE;
    this.vt[g] = NONE;
    this.vm[g] = null;
    this.vals[g] = NONE;
    this.chain[g] = NONE;
    this.free.push(g);
  }

  /**
   * value_count: note `value` seen at `t`, moved to the newest end. Returns true when that made
   * the set exceed `max` and its oldest value was dropped.
   */
  addValue(g: number, value: string, t: number, max: number): boolean {
    const m = this.vm[g];
    let size: number;
    if (m) {
      m.delete(value);
      if (!(this.num[g * W + FLAGS] & UNORDERED) && m.size && t < this.num[g * W + VLAST]) this.num[g * W + FLAGS] |= UNORDERED;
      m.set(value, t);
      size = m.size;
    } else {
      const vv = this.vv[g];
      const vt = this.vt[g];
      const i = vv.indexOf(value);
      const last = vv.length - 1;
      if (i >= 0) {
        // Seen before: moved to the newest end in place (removing it could empty the lists, and
        // a list set to length 0 lets its storage go, to be allocated again by the next push).
        if (!(this.num[g * W + FLAGS] & UNORDERED) && last > 0 && t < this.num[g * W + VLAST]) this.num[g * W + FLAGS] |= UNORDERED;
        for (let k = i; k < last; k++) {
          vv[k] = vv[k + 1];
          vt[k] = vt[k + 1];
        }
        vv[last] = value;
        vt[last] = t;
        size = last + 1;
      } else {
        if (!(this.num[g * W + FLAGS] & UNORDERED) && vv.length && t < this.num[g * W + VLAST]) this.num[g * W + FLAGS] |= UNORDERED;
        if (vv.length === 0) {
          // Lists of one: the first push onto an empty list reserves 17 (most sets keep one value).
          this.vv[g] = [value];
          this.vt[g] = [t];
          size = 1;
        } else {
          vv.push(value);
          vt.push(t);
          size = vv.length;
          if (size > SMALL_SET) this.promote(g);
        }
      }
    }
    if (t > this.num[g * W + VLAST]) this.num[g * W + VLAST] = t;
    if (size <= max) return false;
    const big = this.vm[g];
    if (big) big.delete(big.keys().next().value as string);
    else cut(this.vv[g], this.vt[g], 0);
    return true;
  }

  /** value_count, restoring a snapshot: `value` last seen at `t` appended as is (no bound). */
  putValue(g: number, value: string, t: number): void {
    if (t < this.num[g * W + VLAST]) this.num[g * W + FLAGS] |= UNORDERED;
    if (t > this.num[g * W + VLAST]) this.num[g * W + VLAST] = t;
    const m = this.vm[g];
    if (m) {
      m.delete(value);
      m.set(value, t);
      return;
    }
    const vv = this.vv[g];
    const i = vv.indexOf(value);
    if (i >= 0) cut(vv, this.vt[g], i);
    vv.push(value);
    this.vt[g].push(t);
    if (vv.length > SMALL_SET) this.promote(g);
  }

  /** value_count: forget values last seen before `lo`. In time order they are a prefix. */
  trimValues(g: number, lo: number): void {
    const unordered = (this.num[g * W + FLAGS] & UNORDERED) !== 0;
    const m = this.vm[g];
    if (m) {
      if (unordered) {
        for (const [v, x] of m) if (x < lo) m.delete(v);
      } else
        for (const [v, x] of m) {
          if (x >= lo) break;
          m.delete(v);
        }
      return;
    }
    const vv = this.vv[g];
    const vt = this.vt[g];
    let k = 0;
    if (unordered) {
      for (let i = 0; i < vt.length; i++) {
        if (vt[i] < lo) continue;
        vv[k] = vv[i];
        vt[k++] = vt[i];
      }
    } else {
      let p = 0;
      while (p < vt.length && vt[p] < lo) p++;
      if (p === 0) return;
      for (let i = p; i < vt.length; i++) {
        vv[k] = vv[i];
        vt[k++] = vt[i];
      }
    }
    vv.length = k;
    vt.length = k;
  }

  /** value_count: how many distinct values the group holds. */
  valueCount(g: number): number {
    const m = this.vm[g];
    return m ? m.size : this.vv[g].length;
  }

  /** value_count: the earliest last-seen time of the group's values (Infinity when it has none). */
  valuesStart(g: number): number {
    const ordered = !(this.num[g * W + FLAGS] & UNORDERED);
    let start = Infinity;
    const m = this.vm[g];
    if (m) {
      for (const x of m.values()) {
        if (x < start) start = x;
        if (ordered) break;
      }
      return start;
    }
    const vt = this.vt[g];
    if (ordered) return vt.length ? vt[0] : Infinity;
    for (let i = 0; i < vt.length; i++) if (vt[i] < start) start = vt[i];
    return start;
  }

  /** value_count: forget every value (a tumbling window restarts). */
  clearValues(g: number): void {
    const m = this.vm[g];
    if (m) m.clear();
    else {
      this.vv[g].length = 0;
      this.vt[g].length = 0;
    }
  }

  /** value_count: [value, time last seen] in the order last seen (a new list). */
  valueEntries(g: number): [string, number][] {
    const m = this.vm[g];
    if (m) return [...m];
    const vv = this.vv[g];
    const vt = this.vt[g];
    const out: [string, number][] = [];
    for (let i = 0; i < vv.length; i++) out.push([vv[i], vt[i]]);
    return out;
  }

  /** A set grown past {@link SMALL_SET}: from here on a map (a scan per event would grow with it). */
  private promote(g: number): void {
    const vv = this.vv[g];
    const vt = this.vt[g];
    const m = new Map<string, number>();
    for (let i = 0; i < vv.length; i++) m.set(vv[i], vt[i]);
    this.vm[g] = m;
    this.vv[g] = NONE;
    this.vt[g] = NONE;
  }

  /** Forget every group. */
  clear(): void {
    for (let r = CORR; r < this.num.length; r += W) this.num[r] = -1;
    this.free = [];
    this.top = 0;
    this.key = [];
    this.group = [];
    this.ts = [];
    this.ids = [];
    this.vv = [];
    this.vt = [];
    this.vm = [];
    this.vals = [];
    this.chain = [];
  }

  /** Room for `n` groups (new ids free). */
  private grow(n: number): void {
    const num = new Float64Array(n * W);
    num.set(this.num);
    for (let r = this.num.length + CORR; r < num.length; r += W) num[r] = -1;
    this.num = num;
  }

}

/**
 * A fresh string equal to `s`. A group key read from an event is that event's string, allocated
 * wherever the event was parsed: kept as a map key, every later lookup that compares against it
 * reads memory far from the map (in the benchmark, one miss into ~600 MB of replayed events per
 * lookup). A copy made when the cell is created sits with the other keys made about then.
 * Concatenation and `slice` make a new string (a flat copy under V8's 13-character cons/slice
 * threshold, else a slice of a new flat string); the value is unchanged.
 */
export function ownCopy(s: string): string {
  return s.length ? (s + '\u0000').slice(0, -1) : s;
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

  /**
   * The cell of `eventKey` (which must not be in the map), empty. The map keeps its own copy of
   * the key (see {@link ownCopy}); {@link keys} holds the same copy.
   */
  alloc(eventKey: string): number {
    const key = ownCopy(eventKey);
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
