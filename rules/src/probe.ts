/**
 * The engine's prefilter: from an event to the detections worth testing on it. A trie over the
 * logsource conditions picks the buckets (rules of one logsource) the event belongs to; each
 * rule of a bucket is filed under up to four necessary conditions ("hints": an exact value, a
 * basename, a literal found by an Aho-Corasick pass, or presence) in one index per field, and it
 * becomes a candidate once the event satisfies all of them.
 *
 * The per-event bookkeeping (which buckets the event reached, which hints of which rule held)
 * lives in typed arrays indexed by rule position and bucket number, and the index lists are
 * `Int32Array`s of packed (position, hint) pairs: marking a hit reads and writes a few bytes in
 * arrays that stay in cache, where a list of `{ rule, bit }` objects pointing at the (large,
 * scattered) rule objects cost a cache miss or three per entry.
 */
import { AhoCorasick } from './aho.js';
import { hintCost, hintSize, MAX_HINT_KEYS, presenceOnly } from './condition.js';
import { basenameLow, field, lowBasename, lowText, type Field, type TruncationCounter } from './fields.js';
import type { Hint } from './values.js';
import type { EventLike } from './types.js';

/** What the prefilter needs of a compiled detection. */
export interface PrefilterRule {
  logsource: { key: string; conditions: readonly { field: string; values: string[] }[] };
  hints: readonly Hint[];
}

/** Most hints of one rule the index files it under (all must hold for the rule to be evaluated). */
const MAX_INDEXED_HINTS = 4;

/** Index entries pack a rule position and a hint number (0..3) into one integer. */
const HINT_BITS = 2;
const HINT_MASK = (1 << HINT_BITS) - 1;

interface Bucket {
  /** Number of the bucket (its stamp in `bStamp`). */
  id: number;
  /** Logsource conditions still to check (the naive engine only; the index checks them in its trie). */
  rest: { field: Field; values: Set<string> }[];
  /** The field indexes its rules' hints are in. */
  indexes: FieldIndex[];
  /** Positions of its rules without an indexed hint: candidates for every event of the logsource. */
  unindexed: number[];
}

/**
 * The index of one field, shared by every logsource bucket whose rules have hints on it: an
 * event reads and probes it once, and only entries of the buckets it reached count.
 */
interface FieldIndex {
  field: Field;
  /** Event stamp when it was queued for probing. */
  stamp: number;
  /** Lower-cased value → entries. */
  exact: Map<string, Int32Array> | null;
  /** Lower-cased last path segment → entries. */
  base: Map<string, Int32Array> | null;
  /** Literals found by one automaton pass (`acLists` by pattern id). */
  ac: AhoCorasick | null;
  acLists: Int32Array[];
  /** Rules that only need the field to have a value. */
  exists: Int32Array | null;
}

/**
 * Logsource dispatch: a trie over the (field, lower-cased value) conditions of every logsource,
 * in field order. An event walks it once, reading each condition field once, and reaches the
 * buckets whose conditions all hold.
 */
interface LsNode {
  buckets: Bucket[];
  kids: { field: Field; map: Map<string, LsNode> }[];
}

/** Entries gathered while building, as `{position, hint}` pairs packed later. */
type Building = Map<string, number[]>;

function packed(l: number[]): Int32Array {
  return Int32Array.from(l);
}

/**
 * The candidate finder of one engine. {@link collect} must run inside the engine's
 * `beginEvent`/`endEvent` window (it reads fields through the per-event memo the tests share).
 *
 * @example
 * const pre = new Prefilter(detections, true, 65536, counters);
 * beginEvent(ev); const n = pre.collect(ev, out); endEvent(); // out[0..n): positions to test
 */
export class Prefilter {
  /** Root of the logsource trie (indexed engine). */
  private readonly root: LsNode = { buckets: [], kids: [] };
  /** Every bucket, each checking its whole logsource (naive engine). */
  private readonly always: Bucket[] = [];
  /** Per rule position: stamp of the event `got` belongs to, hints satisfied, hints needed, bucket number. */
  private readonly dStamp: Float64Array;
  private readonly dGot: Uint8Array;
  private readonly dNeed: Uint8Array;
  private readonly dBucket: Int32Array;
  /** Per bucket: stamp of the last event that reached it. */
  private bStamp: Float64Array = new Float64Array(0);
  private readonly probes: FieldIndex[] = [];
  private nProbes = 0;
  private readonly bufIds: number[] = [];
  /** Event stamps (doubles: exact far past any event count). */
  private seq = 0;
  private out: number[] = [];
  private n = 0;

  constructor(
    rules: readonly PrefilterRule[],
    useIndex: boolean,
    private readonly maxScan: number,
    private readonly counters: TruncationCounter,
  ) {
    const nr = rules.length;
    this.dStamp = new Float64Array(nr);
    this.dGot = new Uint8Array(nr);
    this.dNeed = new Uint8Array(nr);
    this.dBucket = new Int32Array(nr);
    this.build(rules, useIndex);
  }

  private build(rules: readonly PrefilterRule[], useIndex: boolean): void {
    const buckets = new Map<string, Bucket>();
    const fieldIdx = new Map<string, FieldIndex>();
    const lists = new Map<FieldIndex, { exact: Building; base: Building; substr: Building; exists: number[] }>();
    const cond = (c: { field: string; values: string[] }) => ({ field: field(c.field), values: new Set(c.values) });
    // Each rule's usable hints, narrowest first (exact lookups preferred), each a necessary
    // condition: the rule is evaluated only for events that satisfy all it is filed under.
    // Among hints of equal cost, the one on the field most rules of the logsource hint on: the
    // logsource probes fewer fields, and more further hints land on probed ones.
    const uses = new Map<string, number>();
    const useKey = (ls: string, f: string) => `${ls}\u0000${f}`;
    for (const d of rules)
      for (const f of new Set(d.hints.flatMap((h) => h.map((a) => a.field)))) {
        const k = useKey(d.logsource.key, f);
        uses.set(k, (uses.get(k) ?? 0) + 1);
      }
    const shared = (ls: string, h: Hint) => Math.min(...h.map((a) => uses.get(useKey(ls, a.field)) ?? 0));
    const usable = rules.map((d) => {
      let hs = [...d.hints].filter((h) => h.length && hintSize(h) <= MAX_HINT_KEYS).sort((x, y) => hintCost(x) - hintCost(y) || shared(d.logsource.key, y) - shared(d.logsource.key, x));
      // Presence hints only when nothing sharper is known (they would add lookups, not selectivity).
      if (hs.some((h) => !presenceOnly(h))) hs = hs.filter((h) => !presenceOnly(h));
      return hs;
    });
    // The fields each logsource must probe anyway: those of its rules' narrowest hints. A rule's
    // further hints are indexed only on these fields: every field a bucket indexes is read and
    // looked up for every event of the logsource, and a Windows Security rule hinting on its
    // own event-data field would add that read to every Security event to spare an evaluation
    // on a few.
    const needed = new Map<string, Set<string>>();
    rules.forEach((d, pos) => {
      const best = usable[pos][0];
      if (!best) return;
      let fs = needed.get(d.logsource.key);
      if (!fs) needed.set(d.logsource.key, (fs = new Set()));
      for (const alt of best) fs.add(alt.field);
    });
    for (let pos = 0; pos < rules.length; pos++) {
      const d = rules[pos];
      let b = buckets.get(d.logsource.key);
      if (!useIndex) {
        if (!b) {
          b = { id: buckets.size, rest: d.logsource.conditions.map(cond), indexes: [], unindexed: [] };
          buckets.set(d.logsource.key, b);
          this.always.push(b);
        }
        b.unindexed.push(pos);
        continue;
      }
      if (!b) {
        b = { id: buckets.size, rest: [], indexes: [], unindexed: [] };
        buckets.set(d.logsource.key, b);
        this.plant(this.root, d.logsource.conditions, 0, b);
      }
      this.dBucket[pos] = b.id;
      const probed = needed.get(d.logsource.key);
      const hs = usable[pos].filter((h, j) => j === 0 || h.every((alt) => probed!.has(alt.field))).slice(0, MAX_INDEXED_HINTS);
      // No hint: evaluated for every event of the logsource.
      if (!hs.length) {
        b.unindexed.push(pos);
        continue;
      }
      hs.forEach((h, j) => {
        this.dNeed[pos] |= 1 << j;
        const entry = (pos << HINT_BITS) | j;
        for (const alt of h) {
          let idx = fieldIdx.get(alt.field);
          if (!idx) {
            fieldIdx.set(alt.field, (idx = { field: field(alt.field), stamp: 0, exact: null, base: null, ac: null, acLists: [], exists: null }));
            lists.set(idx, { exact: new Map(), base: new Map(), substr: new Map(), exists: [] });
          }
          if (!b!.indexes.includes(idx)) b!.indexes.push(idx);
          const ls = lists.get(idx)!;
          if (alt.kind === 'exists') {
            ls.exists.push(entry);
            continue;
          }
          const map = alt.kind === 'exact' ? ls.exact : alt.kind === 'basename' ? ls.base : ls.substr;
          for (const k of alt.keys) {
            const l = map.get(k);
            if (l) l.push(entry);
            else map.set(k, [entry]);
          }
        }
      });
    }
    this.bStamp = new Float64Array(buckets.size);
    for (const [idx, ls] of lists) {
      if (ls.exists.length) idx.exists = packed(ls.exists);
      if (ls.exact.size) idx.exact = new Map([...ls.exact].map(([k, l]) => [k, packed(l)]));
      if (ls.base.size) idx.base = new Map([...ls.base].map(([k, l]) => [k, packed(l)]));
      // Substring hints: one Aho-Corasick automaton per field finds every literal present in one
      // pass over the value.
      if (ls.substr.size) {
        const ac = new AhoCorasick();
        for (const [lit, l] of ls.substr) ac.add(lit, idx.acLists.push(packed(l)) - 1);
        ac.build();
        idx.ac = ac;
      }
    }
  }

  /** File a bucket in the logsource trie under every combination of its condition values. */
  private plant(node: LsNode, conds: readonly { field: string; values: string[] }[], i: number, b: Bucket): void {
    if (i === conds.length) {
      node.buckets.push(b);
      return;
    }
    const c = conds[i];
    let kid = node.kids.find((k) => k.field.path === c.field);
    if (!kid) node.kids.push((kid = { field: field(c.field), map: new Map() }));
    for (const v of c.values) {
      let next = kid.map.get(v);
      if (!next) kid.map.set(v, (next = { buckets: [], kids: [] }));
      this.plant(next, conds, i + 1, b);
    }
  }

  /**
   * Write the positions of the rules to test on `event` to `out` from index 0 (in a fixed
   * order: the trie's, then the indexes' in the order the event queued them) and return how
   * many; `out` is not truncated, so one array serves every event.
   */
  collect(event: EventLike, out: number[]): number {
    this.out = out;
    this.n = 0;
    if (this.always.length) {
      for (const b of this.always) this.take(b, event);
    } else {
      const stamp = ++this.seq;
      this.walk(this.root, event, stamp);
      this.probe(event, stamp);
    }
    return this.n;
  }

  /**
   * Walk the logsource trie for the current event: mark the buckets it reaches, take their
   * unindexed rules and queue their field indexes for probing.
   */
  private walk(node: LsNode, event: EventLike, stamp: number): void {
    const bStamp = this.bStamp;
    for (const b of node.buckets)
      if (bStamp[b.id] !== stamp) {
        bStamp[b.id] = stamp;
        for (const idx of b.indexes)
          if (idx.stamp !== stamp) {
            idx.stamp = stamp;
            this.probes[this.nProbes++] = idx;
          }
        const un = b.unindexed;
        for (let i = 0; i < un.length; i++) {
          const p = un[i];
          this.dStamp[p] = stamp;
          this.dGot[p] = 0;
          this.out[this.n++] = p;
        }
      }
    for (const kid of node.kids) {
      const v = lowText(kid.field, event, this.maxScan, this.counters);
      if (v === undefined) continue;
      if (typeof v === 'string') {
        const next = kid.map.get(v);
        if (next) this.walk(next, event, stamp);
      } else
        for (let i = 0; i < v.length; i++) {
          const next = kid.map.get(v[i]);
          if (next) this.walk(next, event, stamp);
        }
    }
  }

  /** Probe the queued field indexes with the event's values. */
  private probe(event: EventLike, stamp: number): void {
    const probes = this.probes;
    for (let i = 0; i < this.nProbes; i++) {
      const idx = probes[i];
      const v = lowText(idx.field, event, this.maxScan, this.counters);
      if (v === undefined) continue;
      if (idx.exists) this.hit(idx.exists, stamp);
      if (typeof v === 'string') this.lookup(idx, event, v, true, stamp);
      else for (let j = 0; j < v.length; j++) this.lookup(idx, event, v[j], false, stamp);
    }
    this.nProbes = 0;
  }

  private lookup(idx: FieldIndex, event: EventLike, s: string, single: boolean, stamp: number): void {
    if (idx.exact) {
      const l = idx.exact.get(s);
      if (l) this.hit(l, stamp);
    }
    if (idx.base) {
      const l = idx.base.get(single ? lowBasename(idx.field, event, s) : basenameLow(s));
      if (l) this.hit(l, stamp);
    }
    if (idx.ac) {
      const ids = this.bufIds;
      const n = idx.ac.scanInto(s, ids);
      for (let i = 0; i < n; i++) this.hit(idx.acLists[ids[i]], stamp);
    }
  }

  /** Mark the hints of these entries satisfied; a rule whose hints all are becomes a candidate. */
  private hit(l: Int32Array, stamp: number): void {
    const dStamp = this.dStamp;
    const dGot = this.dGot;
    for (let j = 0; j < l.length; j++) {
      const e = l[j];
      const p = e >> HINT_BITS;
      // Rules of logsources the event did not reach share the field's index: not theirs.
      if (this.bStamp[this.dBucket[p]] !== stamp) continue;
      if (dStamp[p] !== stamp) {
        dStamp[p] = stamp;
        dGot[p] = 0;
      }
      const bit = 1 << (e & HINT_MASK);
      const got = dGot[p];
      if (got & bit) continue;
      dGot[p] = got | bit;
      if ((got | bit) === this.dNeed[p]) this.out[this.n++] = p;
    }
  }

  /** Naive engine: check a bucket's logsource and take all its rules. */
  private take(b: Bucket, event: EventLike): void {
    for (const r of b.rest) {
      const v = lowText(r.field, event, this.maxScan, this.counters);
      if (v === undefined) return;
      if (typeof v === 'string' ? !r.values.has(v) : !v.some((x) => r.values.has(x))) return;
    }
    for (const p of b.unindexed) this.out[this.n++] = p;
  }
}
