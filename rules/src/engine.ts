/**
 * The streaming engine: compiled rules indexed by logsource and by a necessary field value,
 * plus bounded correlation state keyed by rule and group-by values.
 *
 * Pure and synchronous (DESIGN.md convention 5): time is the event's own timestamp, never the
 * wall clock, so a replay gives the same matches and tests drive windows with event times.
 */
import { compileDocument, type CompileOptions, type CompiledCorrelation, type CompiledDetection, type CompiledFilter } from './compile.js';
import { RuleError } from './errors.js';
import type { Pipeline } from './pipeline.js';
import type { EventLike, LoadedRule, RejectedRule, RuleMatch } from './types.js';
import { AhoCorasick } from './aho.js';
import { hintCost, MAX_HINT_KEYS } from './condition.js';
import { basenameOf, DEFAULT_LIMITS, lower, makeGetter, type Getter, type MatchCounters } from './values.js';

/** Options of {@link compileRules}. */
export interface EngineOptions extends CompileOptions {
  /** Most rules one engine takes (default 20,000). */
  maxRules?: number;
  /** Most correlation groups held at once, over all correlations (default 100,000); the least recently used is evicted and counted. */
  maxGroups?: number;
  /** Most timestamps or distinct values one group keeps (default 10,000). */
  maxPerGroup?: number;
  /** Most event ids a correlation match carries (default 100, the newest). */
  maxEventIds?: number;
  /** `throw` (default): the first bad rule throws. `skip`: bad rules land in `engine.rejected`. */
  onError?: 'throw' | 'skip';
  /**
   * How long past its timespan a quiet group is kept before it is dropped (default 1 hour).
   * Time is the newest event time seen, across all sources, so this is the lateness (clock skew
   * between devices) a correlation tolerates.
   */
  expiryGraceMs?: number;
  /**
   * `false` evaluates every rule's logsource and condition for every event: the naive engine,
   * kept as the baseline the benchmark and the differential test compare the index against.
   */
  index?: boolean;
}

/** Counters of an engine (all monotonic except `groups`). */
export interface EngineStats {
  events: number;
  /** Rule evaluations after the index (the work the index did not save). */
  evaluations: number;
  detectionMatches: number;
  correlationMatches: number;
  /** Correlation groups held now. */
  groups: number;
  /** Groups evicted because `maxGroups` was reached. */
  evictions: number;
  /** Groups dropped because their window ended (no event of theirs within the timespan). */
  expired: number;
  /** Timestamps/values dropped from a group at `maxPerGroup`. */
  groupOverflows: number;
  /** Events that matched a correlated rule but had no parsable timestamp (not correlated). */
  noTimestamp: number;
  /** Event string values matched only on their first `maxEventValueLength` characters. */
  truncatedValues: number;
  /** Snapshot groups dropped on restore because their correlation no longer exists. */
  restoreDropped: number;
}

/** Serialisable correlation state (see {@link RuleEngine.snapshot}). */
export interface EngineSnapshot {
  version: 1;
  /** [correlation id, group key, state] */
  groups: [string, string, GroupState][];
}

/** State of one correlation group (JSON values so it can be persisted as is). */
export interface GroupState {
  /** Event times in ms (event_count), or first time of a tumbling window (lt/lte). */
  ts: number[];
  /** value_count: value → last time seen (ms). temporal: rule index → time. */
  vals: [string, number][];
  /** temporal_ordered: per step, start time of the newest chain through that step (or null). */
  chain: (number | null)[];
  /** Newest event ids (bounded). */
  ids: string[];
  /** Group-by values. */
  group: Record<string, string>;
  /** Tumbling window start (lt/lte), else 0. */
  start: number;
  count: number;
  /** Event time (ms) of the group's newest event; absent in snapshots of older versions. */
  last?: number;
}

interface Det extends CompiledDetection {
  alert: boolean;
  corrs: CorrIn[];
  stamp: number;
}

interface CorrIn {
  corr: Corr;
  /** Position of the feeding rule in `corr.refs`. */
  refIndex: number;
  /** Group-by value readers for events of this feeding rule (detections only). */
  groupGetters: Getter[];
  valueGetter?: Getter;
}

interface Corr extends CompiledCorrelation {
  alert: boolean;
  corrs: CorrIn[];
  index: number;
}

interface Bucket {
  key: string;
  stamp: number;
  rest: { field: string; values: Set<string>; get: Getter }[];
  indexes: { field: string; kind: 'exact' | 'basename' | 'substr'; get: Getter; map: Map<string, Det[]>; ac: AhoCorasick | null; acLists: Det[][] }[];
  unindexed: Det[];
}

const SEP = '\u001f';

/** Lower-cased scalar values of a field into `out` (reused, no allocation); returns how many. */
function lowerAll(v: unknown, out: string[]): number {
  if (v === undefined || v === null) return 0;
  if (Array.isArray(v)) {
    let n = 0;
    for (const x of v) if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') out[n++] = lower(String(x));
    return n;
  }
  if (typeof v === 'string') {
    out[0] = lower(v);
    return 1;
  }
  if (typeof v === 'number' || typeof v === 'boolean') {
    out[0] = String(v);
    return 1;
  }
  return 0;
}

function firstText(v: unknown): string {
  const x = Array.isArray(v) ? v[0] : v;
  return x === undefined || x === null || typeof x === 'object' ? '' : String(x);
}

/**
 * A compiled rule set. Build it with {@link compileRules}.
 *
 * @example
 * const engine = compileRules(loadRuleDir('rules/packs').rules, builtinPipeline('ecs'));
 * for (const ev of events) for (const m of engine.match(ev)) store(m);
 */
export class RuleEngine {
  /** Compiled detection rules (after meta filters were applied). */
  readonly detections: readonly CompiledDetection[];
  /** Compiled correlation rules. */
  readonly correlations: readonly CompiledCorrelation[];
  /** Compiled meta filters. */
  readonly filters: readonly CompiledFilter[];
  /** Documents that were not compiled (with `onError: 'skip'`), with the reason. */
  readonly rejected: readonly RejectedRule[];
  readonly pipeline: Pipeline;

  private readonly dets: Det[];
  private readonly corrs: Corr[];
  private readonly corrById = new Map<string, Corr>();
  private readonly dispatch = new Map<string, { get: Getter; map: Map<string, Bucket[]> }>();
  private readonly always: Bucket[] = [];
  private readonly state = new Map<string, GroupState>();
  private readonly tsGet: Getter;
  private readonly counters: MatchCounters;
  private readonly maxGroups: number;
  private readonly maxPerGroup: number;
  private readonly maxEventIds: number;
  private readonly maxScan: number;
  private readonly grace: number;
  private readonly dispatchList: { get: Getter; map: Map<string, Bucket[]> }[];
  private readonly bufDispatch: string[] = [];
  private readonly bufTake: string[] = [];
  private readonly bufIds: number[] = [];
  private cands: Det[] = [];
  private stamp = 0;
  private seq = 0;
  private s = { events: 0, evaluations: 0, detectionMatches: 0, correlationMatches: 0, evictions: 0, expired: 0, groupOverflows: 0, noTimestamp: 0, restoreDropped: 0 };
  /** Newest event time fed to a correlation (ms): the engine's clock. */
  private maxTime = -Infinity;

  /** @internal use {@link compileRules}. */
  constructor(args: { pipeline: Pipeline; dets: Det[]; corrs: Corr[]; filters: CompiledFilter[]; rejected: RejectedRule[]; counters: MatchCounters; opts: EngineOptions }) {
    this.pipeline = args.pipeline;
    this.dets = args.dets;
    this.corrs = args.corrs;
    this.detections = args.dets;
    this.correlations = args.corrs;
    this.filters = args.filters;
    this.rejected = args.rejected;
    this.counters = args.counters;
    this.maxGroups = args.opts.maxGroups ?? 100_000;
    this.maxPerGroup = args.opts.maxPerGroup ?? 10_000;
    this.maxEventIds = args.opts.maxEventIds ?? 100;
    this.grace = args.opts.expiryGraceMs ?? 3_600_000;
    // Scan as much of a value as the predicates will look at (they match on the same prefix).
    this.maxScan = args.opts.limits?.maxEventValueLength ?? DEFAULT_LIMITS.maxEventValueLength;
    for (const c of this.corrs) this.corrById.set(c.id, c);
    this.tsGet = makeGetter(args.pipeline.timestamp_field);
    this.buildIndex(args.opts.index !== false);
    this.dispatchList = [...this.dispatch.values()];
  }

  private buildIndex(useIndex: boolean): void {
    const buckets = new Map<string, Bucket>();
    for (const d of this.dets) {
      let b = buckets.get(d.logsource.key);
      if (!useIndex) {
        if (!b) {
          b = { key: d.logsource.key, stamp: 0, rest: d.logsource.conditions.map((c) => ({ field: c.field, values: new Set(c.values), get: makeGetter(c.field) })), indexes: [], unindexed: [] };
          buckets.set(d.logsource.key, b);
          this.always.push(b);
        }
        b.unindexed.push(d);
        continue;
      }
      if (!b) {
        const [first, ...rest] = d.logsource.conditions;
        b = { key: d.logsource.key, stamp: 0, rest: rest.map((c) => ({ field: c.field, values: new Set(c.values), get: makeGetter(c.field) })), indexes: [], unindexed: [] };
        buckets.set(d.logsource.key, b);
        if (!first) this.always.push(b);
        else {
          let disp = this.dispatch.get(first.field);
          if (!disp) this.dispatch.set(first.field, (disp = { get: makeGetter(first.field), map: new Map() }));
          for (const v of first.values) {
            const l = disp.map.get(v);
            if (l) l.push(b);
            else disp.map.set(v, [b]);
          }
        }
      }
      // Index on the narrowest hint (exact lookups preferred); else evaluate for every event of the logsource.
      const h = [...d.hints].sort((x, y) => hintCost(x) - hintCost(y))[0];
      if (!h || !h.length || hintCost(h) % 1000 > MAX_HINT_KEYS) {
        b.unindexed.push(d);
        continue;
      }
      for (const alt of h) {
        let idx = b.indexes.find((i) => i.field === alt.field && i.kind === alt.kind);
        if (!idx) b.indexes.push((idx = { field: alt.field, kind: alt.kind, get: makeGetter(alt.field), map: new Map(), ac: null, acLists: [] }));
        for (const k of alt.keys) {
          const l = idx.map.get(k);
          if (l) l.push(d);
          else idx.map.set(k, [d]);
        }
      }
    }
    // Substring hints: one Aho-Corasick automaton per logsource and field finds every literal
    // present in one pass over the value.
    for (const b of buckets.values())
      for (const idx of b.indexes) {
        if (idx.kind !== 'substr') continue;
        const ac = new AhoCorasick();
        for (const [lit, dets] of idx.map) ac.add(lit, idx.acLists.push(dets) - 1);
        ac.build();
        idx.ac = ac;
      }
  }

  /** Collect the candidate rules of one logsource bucket whose conditions hold. */
  private take(b: Bucket, event: EventLike): void {
    const buf = this.bufTake;
    for (const r of b.rest) {
      const n = lowerAll(r.get(event), buf);
      let ok = false;
      for (let i = 0; i < n && !ok; i++) ok = r.values.has(buf[i]);
      if (!ok) return;
    }
    const stamp = this.stamp;
    const cands = this.cands;
    for (const idx of b.indexes) {
      const n = lowerAll(idx.get(event), buf);
      for (let i = 0; i < n; i++) {
        let s = buf[i];
        if (idx.ac) {
          if (s.length > this.maxScan) {
            this.counters.truncatedValues++;
            s = s.slice(0, this.maxScan);
          }
          const ids = this.bufIds;
          ids.length = 0;
          idx.ac.scanInto(s, ids);
          for (const id of ids) for (const d of idx.acLists[id]) if (d.stamp !== stamp) {
            d.stamp = stamp;
            cands.push(d);
          }
        } else {
          const l = idx.map.get(idx.kind === 'exact' ? s : basenameOf(s));
          if (l) for (const d of l) if (d.stamp !== stamp) {
            d.stamp = stamp;
            cands.push(d);
          }
        }
      }
    }
    for (const d of b.unindexed) if (d.stamp !== stamp) {
      d.stamp = stamp;
      cands.push(d);
    }
  }

  /** Counters (see {@link EngineStats}). */
  stats(): EngineStats {
    return { ...this.s, groups: this.state.size, truncatedValues: this.counters.truncatedValues };
  }

  /**
   * Run one event through every rule that can match it. Returns detection matches and any
   * correlation windows the event closed, in that order.
   *
   * @example
   * engine.match({ '@timestamp': '2026-01-01T00:00:00Z', event: { action: 'ssh_login', outcome: 'failure' } })
   */
  match(event: EventLike): RuleMatch[] {
    if (event === null || typeof event !== 'object' || Array.isArray(event)) throw new TypeError('event must be an object');
    this.s.events++;
    const stamp = ++this.seq;
    const cands: Det[] = [];
    this.cands = cands;
    this.stamp = stamp;
    for (const b of this.always) this.take(b, event);
    const dv = this.bufDispatch;
    for (const disp of this.dispatchList) {
      const n = lowerAll(disp.get(event), dv);
      for (let i = 0; i < n; i++) {
        const bs = disp.map.get(dv[i]);
        if (bs) for (const b of bs) if (b.stamp !== stamp) {
          b.stamp = stamp;
          this.take(b, event);
        }
      }
    }
    if (!cands.length) return [];
    const out: RuleMatch[] = [];
    const id = typeof event.id === 'string' ? event.id : '';
    let time: string | undefined;
    for (const d of cands) {
      this.s.evaluations++;
      if (!d.test(event)) continue;
      this.s.detectionMatches++;
      time ??= firstText(this.tsGet(event));
      const m: RuleMatch = { ruleId: d.id, title: d.title, level: d.level, tags: d.tags, kind: 'detection', alert: d.alert, eventIds: id ? [id] : [], time };
      out.push(m);
      if (d.corrs.length) this.feed(d.corrs, event, m, 0, out);
    }
    return out;
  }

  private feed(ins: CorrIn[], event: EventLike, input: RuleMatch, depth: number, out: RuleMatch[]): void {
    const t = Date.parse(input.time);
    if (!Number.isFinite(t)) {
      this.s.noTimestamp++;
      return;
    }
    if (t > this.maxTime) this.maxTime = t;
    this.expire(8);
    for (const ci of ins) {
      const c = ci.corr;
      const group: Record<string, string> = {};
      for (let i = 0; i < c.groupBy.length; i++) {
        group[c.groupBy[i]] = input.kind === 'detection' ? firstText(ci.groupGetters[i](event)) : (input.group?.[c.groupBy[i]] ?? '');
      }
      const groupKey = c.groupBy.map((g) => group[g]).join(SEP);
      const key = `${c.index}${SEP}${groupKey}`;
      let st = this.state.get(key);
      if (st) this.state.delete(key);
      else st = { ts: [], vals: [], chain: [], ids: [], group, start: t, count: 0 };
      st.last = Math.max(st.last ?? t, t);
      const fired = this.step(c, ci, st, t, event, input);
      if (fired) {
        this.s.correlationMatches++;
        const m = corrMatch(c, fired.ids, input.time, groupKey, group, { ...fired.ctx }, fired.start, fired.end);
        out.push(m);
        if (c.corrs.length && depth < 8) this.feed(c.corrs, event, m, depth + 1, out);
      }
      if (!fired || fired.keep) {
        this.state.set(key, st);
        if (this.state.size > this.maxGroups) {
          const oldest = this.state.keys().next().value as string;
          this.state.delete(oldest);
          this.s.evictions++;
        }
      }
    }
  }

  /**
   * Drop up to `n` groups whose window ended more than the grace period ago by the engine's
   * clock (the newest event time).
   * The state map is in least-recently-touched order, so ended groups gather at its front: a
   * few checks per event keep memory and snapshots to the open windows. Tumbling windows
   * (lt/lte) stay until the next event of their group or `flush()` evaluates them.
   */
  private expire(n: number): void {
    for (const [key, st] of this.state) {
      if (n-- <= 0) return;
      const c = this.corrs[Number(key.slice(0, key.indexOf(SEP)))];
      if (!c || c.op === 'lt' || c.op === 'lte') return;
      if ((st.last ?? st.start) >= this.maxTime - c.timespanMs - this.grace) return;
      this.state.delete(key);
      this.s.expired++;
    }
  }

  private pushId(st: GroupState, ids: string[]): void {
    for (const id of ids) {
      st.ids.push(id);
      if (st.ids.length > this.maxEventIds) st.ids.shift();
    }
  }

  /** Advance one group; returns what fired (and whether the state lives on), or null. */
  private step(c: Corr, ci: CorrIn, st: GroupState, t: number, event: EventLike, input: RuleMatch): { ids: string[]; start: number; end: number; keep: boolean; ctx: { count?: number; rules?: string[] } } | null {
    const T = c.timespanMs;
    const cmp = (n: number) => (c.op === 'gt' ? n > c.threshold : c.op === 'gte' ? n >= c.threshold : c.op === 'lt' ? n < c.threshold : c.op === 'lte' ? n <= c.threshold : n === c.threshold);
    const tumbling = c.op === 'lt' || c.op === 'lte';
    if (c.type === 'event_count' || c.type === 'value_count') {
      const value = c.type === 'value_count' ? (input.kind === 'detection' && ci.valueGetter ? firstText(ci.valueGetter(event)) : (input.group?.[c.field!] ?? '')) : '';
      if (c.type === 'value_count' && value === '') return null;
      if (tumbling) {
        // "Fewer than N in the window": only knowable once the window is over (next event of the group or flush()).
        let fired: ReturnType<RuleEngine['step']> = null;
        if (st.count > 0 && t >= st.start + T) {
          const n = c.type === 'event_count' ? st.count : st.vals.length;
          if (cmp(n)) fired = { ids: st.ids.slice(), start: st.start, end: st.start + T, keep: true, ctx: { count: n } };
          st.start = t;
          st.count = 0;
          st.vals = [];
          st.ids = [];
        }
        if (st.count === 0) st.start = t;
        st.count++;
        if (c.type === 'value_count') this.addValue(st, value, t);
        this.pushId(st, input.eventIds);
        return fired;
      }
      if (c.type === 'event_count') {
        st.ts.push(t);
        if (st.ts.length > this.maxPerGroup) {
          st.ts.shift();
          this.s.groupOverflows++;
        }
        const lo = t - T;
        if (st.ts[0] < lo) st.ts = st.ts.filter((x) => x >= lo && x <= t + T);
      } else {
        this.addValue(st, value, t);
        const lo = t - T;
        if (st.vals.some(([, x]) => x < lo)) st.vals = st.vals.filter(([, x]) => x >= lo);
      }
      this.pushId(st, input.eventIds);
      const n = c.type === 'event_count' ? st.ts.length : st.vals.length;
      if (!cmp(n)) return null;
      const start = c.type === 'event_count' ? Math.min(...st.ts) : Math.min(...st.vals.map((v) => v[1]));
      return { ids: st.ids.slice(), start, end: t, keep: false, ctx: { count: n } };
    }
    if (c.type === 'temporal') {
      const k = String(ci.refIndex);
      st.vals = st.vals.filter(([r, x]) => r !== k && x >= t - T);
      st.vals.push([k, t]);
      this.pushId(st, input.eventIds);
      if (st.vals.length < c.refs.length) return null;
      return { ids: st.ids.slice(), start: Math.min(...st.vals.map((v) => v[1])), end: t, keep: false, ctx: { rules: c.refs.slice() } };
    }
    // temporal_ordered: chain[i] = start of the newest chain that completed steps 0..i in order.
    const i = ci.refIndex;
    const n = c.refs.length;
    while (st.chain.length < n) st.chain.push(null);
    for (let j = 0; j < n; j++) if (st.chain[j] !== null && (st.chain[j] as number) < t - T) st.chain[j] = null;
    if (i === 0) st.chain[0] = t;
    else if (st.chain[i - 1] !== null) st.chain[i] = st.chain[i - 1];
    else return null;
    this.pushId(st, input.eventIds);
    if (st.chain[n - 1] === null) return null;
    return { ids: st.ids.slice(), start: st.chain[n - 1] as number, end: t, keep: false, ctx: { rules: c.refs.slice() } };
  }

  private addValue(st: GroupState, value: string, t: number): void {
    const i = st.vals.findIndex((v) => v[0] === value);
    if (i >= 0) st.vals.splice(i, 1);
    st.vals.push([value, t]);
    if (st.vals.length > this.maxPerGroup) {
      st.vals.shift();
      this.s.groupOverflows++;
    }
  }

  /**
   * Close the tumbling windows of `lt`/`lte` correlations that ended before `untilIso` (the
   * caller's notion of "now", e.g. the newest event time) and return what fired.
   *
   * @example
   * engine.flush('2026-01-01T01:00:00Z')
   */
  flush(untilIso: string): RuleMatch[] {
    const until = Date.parse(untilIso);
    if (!Number.isFinite(until)) throw new RangeError('flush needs an ISO 8601 time');
    const out: RuleMatch[] = [];
    for (const [key, st] of [...this.state]) {
      const c = this.corrs[Number(key.slice(0, key.indexOf(SEP)))];
      if (!c || !(c.op === 'lt' || c.op === 'lte') || !(c.type === 'event_count' || c.type === 'value_count')) continue;
      if (st.count === 0 || until < st.start + c.timespanMs) continue;
      const n = c.type === 'event_count' ? st.count : st.vals.length;
      this.state.delete(key);
      if (!(c.op === 'lt' ? n < c.threshold : n <= c.threshold)) continue;
      this.s.correlationMatches++;
      out.push(corrMatch(c, st.ids.slice(), new Date(st.start + c.timespanMs).toISOString(), key.slice(key.indexOf(SEP) + 1), st.group, { count: n }, st.start, st.start + c.timespanMs));
    }
    return out;
  }

  /**
   * The open correlation windows as a JSON value, for the soc to persist so a restart keeps
   * them (issue 4: "survives a restart without losing windows that were open").
   *
   * @example
   * writeFileSync('corr.json', JSON.stringify(engine.snapshot()));
   */
  snapshot(): EngineSnapshot {
    const groups: EngineSnapshot['groups'] = [];
    for (const [key, st] of this.state) {
      const sep = key.indexOf(SEP);
      groups.push([this.corrs[Number(key.slice(0, sep))].id, key.slice(sep + 1), structuredClone(st)]);
    }
    return { version: 1, groups };
  }

  /**
   * Load state saved by {@link snapshot} (replacing the current state). Groups of
   * correlations that no longer exist are dropped and counted in `restoreDropped`.
   *
   * @example
   * engine.restore(JSON.parse(readFileSync('corr.json', 'utf8')));
   */
  restore(snap: unknown): void {
    const s = snap as EngineSnapshot;
    if (!s || typeof s !== 'object' || s.version !== 1 || !Array.isArray(s.groups)) throw new RuleError('RULE_ERR_SNAPSHOT', 'not a version 1 engine snapshot');
    const next = new Map<string, GroupState>();
    for (const g of s.groups) {
      if (!Array.isArray(g) || g.length !== 3 || typeof g[0] !== 'string' || typeof g[1] !== 'string' || !validState(g[2])) throw new RuleError('RULE_ERR_SNAPSHOT', 'malformed snapshot group');
      const c = this.corrById.get(g[0]);
      if (!c) {
        this.s.restoreDropped++;
        continue;
      }
      next.set(`${c.index}${SEP}${g[1]}`, structuredClone(g[2]));
    }
    this.state.clear();
    for (const [k, v] of next) {
      this.state.set(k, v);
      if (this.state.size > this.maxGroups) {
        this.state.delete(this.state.keys().next().value as string);
        this.s.evictions++;
      }
    }
  }

  /** Forget all correlation state and the engine's clock (counters are kept). */
  reset(): void {
    this.state.clear();
    this.maxTime = -Infinity;
  }
}

/** The match a correlation window produces. */
function corrMatch(c: Corr, eventIds: string[], time: string, groupKey: string, group: Record<string, string>, ctx: { count?: number; rules?: string[] }, start: number, end: number): RuleMatch {
  return {
    ruleId: c.id,
    title: c.title,
    level: c.level,
    tags: c.tags,
    kind: 'correlation',
    alert: c.alert,
    eventIds,
    time,
    groupKey,
    group,
    correlation: { type: c.type, ...ctx, windowStart: new Date(start).toISOString(), windowEnd: new Date(end).toISOString() },
  };
}

function validState(x: unknown): x is GroupState {
  const s = x as GroupState;
  const nums = (a: unknown) => Array.isArray(a) && a.every((n) => typeof n === 'number' && Number.isFinite(n));
  return (
    !!s &&
    typeof s === 'object' &&
    nums(s.ts) &&
    Array.isArray(s.vals) &&
    s.vals.every((v) => Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'number') &&
    Array.isArray(s.chain) &&
    s.chain.every((n) => n === null || typeof n === 'number') &&
    Array.isArray(s.ids) &&
    s.ids.every((i) => typeof i === 'string') &&
    !!s.group &&
    typeof s.group === 'object' &&
    typeof s.start === 'number' &&
    typeof s.count === 'number' &&
    (s.last === undefined || typeof s.last === 'number')
  );
}

/**
 * Compile Sigma documents through a pipeline into an engine. Detection rules first, then meta
 * filters (ANDed into the rules they name), then correlations (which may reference
 * correlations). With `onError: 'skip'` bad documents are listed in `engine.rejected`.
 *
 * @example
 * const engine = compileRules([{ doc: parseYaml(text), source: 'r.yml' }], builtinPipeline('ecs'));
 */
export function compileRules(rules: readonly LoadedRule[], pipeline: Pipeline, opts: EngineOptions = {}): RuleEngine {
  if (!Array.isArray(rules)) throw new TypeError('rules must be an array of { doc, source }');
  const maxRules = opts.maxRules ?? 20_000;
  if (rules.length > maxRules) throw new RuleError('RULE_ERR_LIMIT', `${rules.length} rules exceed the limit of ${maxRules}`);
  const counters: MatchCounters = { truncatedValues: 0 };
  const rejected: RejectedRule[] = [];
  const fail = (r: LoadedRule, e: unknown): void => {
    if (!(e instanceof RuleError)) throw e;
    if (opts.onError !== 'skip') throw e;
    const d = r.doc ?? {};
    rejected.push({ source: r.source, id: typeof d.id === 'string' ? d.id : undefined, title: typeof d.title === 'string' ? d.title : undefined, code: e.code, reason: e.message });
  };
  const dets: Det[] = [];
  const filters: CompiledFilter[] = [];
  const corrDefs: { r: LoadedRule; c: CompiledCorrelation }[] = [];
  const ids = new Set<string>();
  for (const r of rules) {
    try {
      const c = compileDocument(r, pipeline, opts, counters);
      if (ids.has(c.id)) throw new RuleError('RULE_ERR_DUPLICATE_ID', `${r.source}: duplicate rule id ${c.id}`);
      ids.add(c.id);
      if (c.kind === 'detection') dets.push({ ...c, alert: true, corrs: [], stamp: 0 });
      else if (c.kind === 'filter') filters.push(c);
      else corrDefs.push({ r, c });
    } catch (e) {
      fail(r, e);
    }
  }
  const byRef = new Map<string, Det | Corr>();
  for (const d of dets) {
    byRef.set(d.id, d);
    if (d.name) byRef.set(d.name, d);
  }
  for (const f of [...filters]) {
    const targets = f.refs.map((x) => byRef.get(x)).filter((x): x is Det => !!x && x.kind === 'detection');
    if (!targets.length) {
      // A filter that narrows nothing is reported, not kept as if it worked.
      filters.splice(filters.indexOf(f), 1);
      fail({ doc: { id: f.id, title: f.title }, source: f.source }, new RuleError('RULE_ERR_REFERENCE', `${f.source}: filter references no loaded rule (${f.refs.join(', ')})`, { path: '/filter/rules' }));
      continue;
    }
    for (const d of targets) {
      const orig = d.test;
      const ft = f.test;
      // A filter only narrows a rule, so the rule's index hints stay necessary conditions.
      d.test = (ev) => orig(ev) && ft(ev);
    }
  }
  // Correlations, in dependency order (a correlation may reference another one).
  const corrs: Corr[] = [];
  let pending = corrDefs;
  while (pending.length) {
    const later: typeof pending = [];
    for (const p of pending) {
      const refs = p.c.refs.map((x) => byRef.get(x));
      if (refs.every((x) => x)) {
        try {
          const corr: Corr = { ...p.c, alert: true, corrs: [], index: corrs.length };
          const ins = (refs as (Det | Corr)[]).map((ref, refIndex) => wire(corr, ref, refIndex));
          corrs.push(corr);
          byRef.set(corr.id, corr);
          if (corr.name) byRef.set(corr.name, corr);
          ins.forEach((ci, i) => {
            const ref = refs[i] as Det | Corr;
            ref.corrs.push(ci);
          });
        } catch (e) {
          fail(p.r, e);
        }
      } else later.push(p);
    }
    if (later.length === pending.length) {
      for (const p of later) {
        const missing = p.c.refs.filter((x) => !byRef.has(x));
        fail(p.r, new RuleError('RULE_ERR_REFERENCE', `${p.r.source}: correlation references unknown rule(s) ${missing.join(', ')}`, { path: '/correlation/rules' }));
      }
      break;
    }
    pending = later;
  }
  // Sigma correlation §generate: detection rules referenced only by correlations without
  // `generate: true` are context, not alerts. A correlation that feeds another correlation
  // still alerts (our choice: a correlation is always a deliberate finding).
  for (const d of dets) {
    if (d.corrs.length) d.alert = d.corrs.some((ci) => ci.corr.generate);
  }
  return new RuleEngine({ pipeline, dets, corrs, filters, rejected, counters, opts });
}

function wire(corr: Corr, ref: Det | Corr, refIndex: number): CorrIn {
  const refName = ref.name ?? ref.id;
  const fieldFor = (g: string): string => corr.aliases[g]?.[refName] ?? corr.aliases[g]?.[ref.id] ?? g;
  if (ref.kind === 'correlation') return { corr, refIndex, groupGetters: [] };
  const map = (g: string) => {
    try {
      return makeGetter(ref.logsource.mapField(fieldFor(g)));
    } catch (e) {
      throw new RuleError('RULE_ERR_UNSUPPORTED_FIELD', `correlation ${corr.id}: ${(e as Error).message}`, { path: '/correlation/group-by' });
    }
  };
  return { corr, refIndex, groupGetters: corr.groupBy.map(map), valueGetter: corr.field ? map(corr.field) : undefined };
}
