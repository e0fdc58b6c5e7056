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
import { basenameLow, computeLow, field, lowBasename, lowerCase, lowText, memoEpoch, memoSlots, type Field, type TruncationCounter } from './fields.js';
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
  /** The indexed engine's walk and probes, generated for its trie and indexes ({@link generateCollect}). */
  private gen: Collect | null = null;
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
            fieldIdx.set(alt.field, (idx = { field: field(alt.field), exact: null, base: null, ac: null, acLists: [], exists: null }));
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
    if (useIndex) this.gen = generateCollect(this.root, [...fieldIdx.values()], { dStamp: this.dStamp, dGot: this.dGot, dNeed: this.dNeed, dBucket: this.dBucket, bStamp: this.bStamp }, this.maxScan, this.counters);
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
    if (this.gen) {
      const e = memoEpoch(event);
      if (e < 0) throw new RangeError('Prefilter.collect: the event is not the one beginEvent() opened');
      return this.gen(event, out, ++this.seq, e);
    }
    this.out = out;
    this.n = 0;
    for (const b of this.always) this.take(b, event);
    return this.n;
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

/** A generated walk-and-probe function: writes candidate positions to `out`, returns how many. */
type Collect = (ev: EventLike, out: number[], stamp: number, epoch: number) => number;

/**
 * Generate one function per engine that walks the logsource trie and probes the field indexes
 * of the buckets reached, with what a generic walk looks up per event fixed in the code: each
 * field's path read with constant keys and its memo slot inlined (as {@link lowText}), the trie's
 * small value sets as `switch`es, each bucket's indexes and rules as constants. It does what a
 * walk of the trie in order followed by probing the queued indexes in order would do, so the
 * candidates come out in the same order. Trie nodes with children and field probes are
 * functions of their own, so no function grows past what V8 optimises.
 */
function generateCollect(
  root: LsNode,
  indexes: FieldIndex[],
  d: { dStamp: Float64Array; dGot: Uint8Array; dNeed: Uint8Array; dBucket: Int32Array; bStamp: Float64Array },
  maxScan: number,
  counters: TruncationCounter,
): Collect {
  const lit = JSON.stringify;
  const consts: unknown[] = [];
  /** A factory-level constant holding `x`. */
  const K = (x: unknown): string => `K[${consts.push(x) - 1}]`;
  const idxNo = new Map(indexes.map((x, j) => [x, j]));
  let fns = '';
  let nFns = 0;

  // The text of field `f` (lower-cased, memoised) into variable `v`; `x` is a scratch variable.
  // The path read is the compiled getter's: nested keys, else the literal dotted key; a
  // non-object on the way other than undefined (null, a primitive, an array) takes the getter.
  const readLow = (f: Field, v: string, tops?: Map<string, string>): string => {
    const segs = f.path.split('.');
    let raw = `x = ${tops?.get(segs[0]) ?? `ev[${lit(segs[0])}]`};`;
    if (segs.length > 1) {
      let close = '';
      for (let i = 1; i < segs.length; i++) {
        raw += ` if (typeof x === 'object' && x !== null && !Array.isArray(x)) { x = x[${lit(segs[i])}];`;
        close = ` } else x = x === undefined ? ev[${lit(f.path)}] : ${K(f.get)}(ev);` + close;
      }
      raw += ` if (x === undefined) x = ev[${lit(f.path)}];` + close;
    }
    const k = f.slot;
    return `if (EP[${k}] === E) ${v} = LV[${k}]; else { ${raw} ${v} = typeof x === 'string' && x.length <= MAX ? lowerCase(x) : low(x, MAX, C); EP[${k}] = E; LV[${k}] = ${v}; }\n`;
  };

  const bucketCode = (b: Bucket): string => {
    let c = `if (BS[${b.id}] !== S) { BS[${b.id}] = S;`;
    for (const x of b.indexes) {
      const j = idxNo.get(x)!;
      c += ` if (IS[${j}] !== S) { IS[${j}] = S; Q[nq++] = ${j}; }`;
    }
    if (b.unindexed.length) c += ` take(${K(Int32Array.from(b.unindexed))});`;
    return c + ' }\n';
  };

  // A node's code: its buckets, then each child field's values dispatched in order.
  const nodeCode = (node: LsNode, isRoot = false): string => {
    let c = '';
    for (const b of node.buckets) c += bucketCode(b);
    // Every event reads the root's fields: objects two of them share are read once.
    const tops = new Map<string, string>();
    if (isRoot) {
      const seen = new Set<string>();
      for (const kid of node.kids) {
        const segs = kid.field.path.split('.');
        if (segs.length < 2) continue;
        if (seen.has(segs[0]) && !tops.has(segs[0])) {
          tops.set(segs[0], `T${tops.size}`);
          c += `const T${tops.size - 1} = ev[${lit(segs[0])}];\n`;
        }
        seen.add(segs[0]);
      }
    }
    for (const kid of node.kids) {
      const cases: [string, string][] = [];
      for (const [value, next] of kid.map) {
        let body: string;
        if (next.kids.length) {
          const name = `n${nFns++}`;
          const inner = nodeCode(next);
          fns += `function ${name}() {\n${inner}}\n`;
          body = `${name}();`;
        } else body = nodeCode(next);
        cases.push([value, body]);
      }
      // Few values: compared in a switch; many: a map to the case number.
      const dispatch = (w: string): string =>
        cases.length <= 8
          ? `switch (${w}) {\n${cases.map(([value, body]) => `case ${lit(value)}: ${body} break;\n`).join('')}}\n`
          : `switch (${K(new Map(cases.map(([value], i) => [value, i])))}.get(${w})) {\n${cases.map(([, body], i) => `case ${i}: ${body} break;\n`).join('')}}\n`;
      c += `{ let v, x; ${readLow(kid.field, 'v', tops)}if (typeof v === 'string') { ${dispatch('v')}} else if (v !== undefined) for (let i = 0; i < v.length; i++) { const w = v[i]; ${dispatch('w')}} }\n`;
    }
    return c;
  };

  // One probe function per field index: the rules filed under the event's values of the field.
  const probes = indexes.map((x, j) => {
    const look = (s: string, single: boolean): string => {
      let c = '';
      if (x.exact) c += `{ const l = ${K(x.exact)}.get(${s}); if (l !== undefined) hit(l); }\n`;
      if (x.base) c += `{ const l = ${K(x.base)}.get(${single ? `lowBasename(${K(x.field)}, ev, ${s})` : `basenameLow(${s})`}); if (l !== undefined) hit(l); }\n`;
      if (x.ac) c += `{ const lists = ${K(x.acLists)}; const m = ${K(x.ac)}.scanInto(${s}, IDS); for (let k = 0; k < m; k++) hit(lists[IDS[k]]); }\n`;
      return c;
    };
    return `function p${j}() {\nlet v, x; ${readLow(x.field, 'v')}if (v === undefined) return;\n${x.exists ? `hit(${K(x.exists)});\n` : ''}if (typeof v === 'string') { ${look('v', true)}} else for (let i = 0; i < v.length; i++) { const s = v[i]; ${look('s', false)}}\n}\n`;
  });

  const rootCode = nodeCode(root, true);
  const src = `"use strict";
const EP = A.ep, LV = A.lv, MAX = A.max, C = A.counters, low = A.low, lowerCase = A.lowerCase, lowBasename = A.lowBasename, basenameLow = A.basenameLow;
const DS = A.dStamp, DG = A.dGot, DN = A.dNeed, DB = A.dBucket, BS = A.bStamp;
const IS = new Float64Array(${indexes.length}), Q = new Int32Array(${indexes.length}), IDS = [];
let ev = null, E = 0, S = 0, out = [], n = 0, nq = 0;
function take(U) { for (let i = 0; i < U.length; i++) { const p = U[i]; DS[p] = S; DG[p] = 0; out[n++] = p; } }
// Mark the hints of these entries satisfied; a rule whose hints all are becomes a candidate.
function hit(l) {
  for (let j = 0; j < l.length; j++) {
    const e = l[j];
    const p = e >> ${HINT_BITS};
    // Rules of logsources the event did not reach share the field's index: not theirs.
    if (BS[DB[p]] !== S) continue;
    if (DS[p] !== S) { DS[p] = S; DG[p] = 0; }
    const bit = 1 << (e & ${HINT_MASK});
    const got = DG[p];
    if (got & bit) continue;
    DG[p] = got | bit;
    if ((got | bit) === DN[p]) out[n++] = p;
  }
}
${fns}${probes.join('')}
return function collect(event, o, stamp, epoch) {
ev = event; out = o; S = stamp; E = epoch; n = 0; nq = 0;
let v, x;
${rootCode}for (let q = 0; q < nq; q++) switch (Q[q]) {
${indexes.map((_, j) => `case ${j}: p${j}(); break;\n`).join('')}}
ev = null;
return n;
};`;
  const A = { ep: memoSlots.ep, lv: memoSlots.v, max: maxScan, counters, low: computeLow, lowerCase, lowBasename, basenameLow, ...d };
  return new Function('A', 'K', src)(A, consts) as Collect;
}
