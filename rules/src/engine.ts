/**
 * The streaming engine: compiled rules indexed by logsource and by a necessary field value,
 * plus bounded correlation state keyed by rule and group-by values.
 *
 * Pure and synchronous (DESIGN.md convention 5): time is the event's own timestamp, never the
 * wall clock, so a replay gives the same matches and tests drive windows with event times.
 */
import { createHash } from 'node:crypto';
import { compileDocument, type CompileOptions, type CompiledCorrelation, type CompiledDetection, type CompiledFilter } from './compile.js';
import { RuleError } from './errors.js';
import type { Pipeline } from './pipeline.js';
import type { EventLike, LoadedRule, RejectedRule, RuleMatch } from './types.js';
import { DEFAULT_LIMITS, type MatchCounters } from './values.js';
import { CELL, CORR, COUNT, FLAGS, GroupStore, LAST, QPOS, Space, START, TOUCHED, UNORDERED, W, type GroupKind } from './groups.js';
import { isoMs } from '@xiangan/collectors';
import { correlationOf } from './correlate.js';
import { beginEvent, endEvent, makeGetter, type Getter } from './fields.js';
import { Prefilter } from './probe.js';

/** Options of {@link compileRules}. */
export interface EngineOptions extends CompileOptions {
  /** Most rules one engine takes (default 20,000). */
  maxRules?: number;
  /** Most correlation groups held at once, over all correlations (default 100,000); the least recently used (CLOCK approximation) is evicted and counted. */
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
  /** Position in the engine's detection table (stable for the same rules and options). */
  pos: number;
  alert: boolean;
  /** Switched on (see {@link RuleEngine.setRuleEnabled}). */
  enabled: boolean;
  corrs: CorrIn[];
}

interface CorrIn {
  corr: Corr;
  /** Position of the feeding rule in `corr.refs`. */
  refIndex: number;
  /** Group-by value readers for events of this feeding rule (detections only). */
  groupGetters: Getter[];
  /** The event paths behind `groupGetters`: equal signatures in one space give equal keys. */
  sig: string;
  valueGetter?: Getter;
  /** The event paths behind `groupGetters` and `valueGetter` (see {@link RuleEngine.correlationPaths}). */
  paths: readonly string[];
}

interface Corr extends CompiledCorrelation {
  alert: boolean;
  enabled: boolean;
  corrs: CorrIn[];
  index: number;
  /** The groups of every correlation with the same group-by fields live in one space. */
  space: Space;
  /** This correlation's position in its space's rows. */
  slot: number;
  /** What its groups keep. */
  keeps: GroupKind;
}

const SEP = '\u001f';

/**
 * A list reused for every event, its length kept in `n`: setting an array's length to 0 makes
 * V8 drop its storage, so each event would grow the array again from nothing.
 */
interface Reused<T> {
  a: T[];
  n: number;
}

/** `a op threshold` of a count correlation. */
function compare(c: Corr, n: number): boolean {
  switch (c.op) {
    case 'gt':
      return n > c.threshold;
    case 'gte':
      return n >= c.threshold;
    case 'lt':
      return n < c.threshold;
    case 'lte':
      return n <= c.threshold;
    default:
      return n === c.threshold;
  }
}

function minOf(a: number[]): number {
  let m = Infinity;
  for (const x of a) if (x < m) m = x;
  return m;
}

function checkEvent(event: EventLike): void {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) throw new TypeError('event must be an object');
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
  /**
   * A digest (SHA-256, hex) of what fixes the detection table: the pipeline and, in table order,
   * the document of every detection and of every meta filter applied to them. Two engines with
   * the same `tableId` have the same detections at the same positions, so one's
   * {@link prematch} result may be applied by the other; compare them before handing results
   * between threads (e.g. after a rule reload). Threat-intel list contents are not part of it.
   */
  readonly tableId: string;

  private readonly dets: Det[];
  private readonly corrs: Corr[];
  private readonly corrById = new Map<string, Corr>();
  /** Logsource trie and hint indexes: the detections worth testing on an event. */
  private readonly pre: Prefilter;
  /**
   * Every live group (and some dead ones, skipped) in CLOCK order: new groups join the back; a
   * group touched since it reached the front gets a second chance at the back instead of being
   * expired or evicted. An approximate least-recently-used order that a touch does not reorder.
   */
  private queue: number[] = [];
  private qHead = 0;
  /** Correlation groups (ids in `queue`, cells of the spaces). */
  private readonly g = new GroupStore();
  private nGroups = 0;
  private readonly bufGroup: string[] = [];
  private readonly byId = new Map<string, Det | Corr>();
  private readonly tsGet: Getter;
  private readonly counters: MatchCounters;
  private readonly maxGroups: number;
  private readonly maxPerGroup: number;
  private readonly maxEventIds: number;
  private readonly grace: number;
  /** Positions of the candidate detections of the current event (see {@link Prefilter.collect}). */
  private readonly cands: number[] = [];
  /** Positions of the detections the current event matched (see {@link prematch}). */
  private readonly hits: Reused<number> = { a: [], n: 0 };
  private s = { events: 0, evaluations: 0, detectionMatches: 0, correlationMatches: 0, evictions: 0, expired: 0, groupOverflows: 0, noTimestamp: 0, restoreDropped: 0 };
  /** Newest event time fed to a correlation (ms): the engine's clock. */
  private maxTime = -Infinity;

  /**
   * The event paths correlation state reads of a matching event: each correlation's group-by
   * and value fields as each feeding detection maps them (aliases, then its logsource's field
   * mapping). A thread that hands matched events over may send just these fields.
   */
  correlationPaths(): string[] {
    const out = new Set<string>();
    for (const d of this.dets) for (const ci of d.corrs) for (const p of ci.paths) out.add(p);
    return [...out];
  }

  /** @internal use {@link compileRules}. */
  constructor(args: { pipeline: Pipeline; dets: Det[]; corrs: Corr[]; filters: CompiledFilter[]; rejected: RejectedRule[]; counters: MatchCounters; opts: EngineOptions; tableId: string }) {
    this.pipeline = args.pipeline;
    this.tableId = args.tableId;
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
    for (const c of this.corrs) this.corrById.set(c.id, c);
    for (const d of this.dets) this.byId.set(d.id, d);
    for (const c of this.corrs) this.byId.set(c.id, c);
    this.tsGet = makeGetter(args.pipeline.timestamp_field);
    // Scan as much of a value as the predicates will look at (they match on the same prefix).
    const maxScan = args.opts.limits?.maxEventValueLength ?? DEFAULT_LIMITS.maxEventValueLength;
    this.pre = new Prefilter(this.dets, args.opts.index !== false, maxScan, this.counters);
  }

  /**
   * Switch a rule (detection or correlation, by id) on or off; returns false for an unknown id.
   * A switched-off detection is not evaluated, so it neither matches nor feeds the correlations
   * that reference it; a switched-off correlation drops its open windows and fires nothing.
   *
   * @example
   * engine.setRuleEnabled('5c1e0f4a-…', false);
   */
  setRuleEnabled(ruleId: string, enabled: boolean): boolean {
    const r = this.byId.get(ruleId);
    if (!r) return false;
    r.enabled = enabled;
    if (r.kind === 'correlation' && !enabled) for (const g of this.live()) if (this.g.num[g * W + CORR] === r.index) this.kill(g);
    return true;
  }

  /** Whether a rule is switched on (undefined for an unknown id). */
  isRuleEnabled(ruleId: string): boolean | undefined {
    return this.byId.get(ruleId)?.enabled;
  }

  /** Counters (see {@link EngineStats}). */
  stats(): EngineStats {
    return { ...this.s, groups: this.nGroups, truncatedValues: this.counters.truncatedValues };
  }

  /**
   * Run one event through every rule that can match it. Returns detection matches and any
   * correlation windows the event closed, in that order. The same as
   * `applyPrematched(event, prematch(event) ?? [])`, without the intermediate list.
   *
   * @example
   * engine.match({ '@timestamp': '2026-01-01T00:00:00Z', event: { action: 'ssh_login', outcome: 'failure' } })
   */
  match(event: EventLike): RuleMatch[] {
    checkEvent(event);
    const hits = this.hits;
    this.prematchInto(event, hits);
    return this.apply(event, hits.a, hits.n);
  }

  /**
   * The stateless half of {@link match}: the logsource walk, the index probes and the test of
   * every enabled candidate detection. Returns the positions in {@link detections} of the
   * detections the event matches (in the order `match` reports them), or null when none does.
   *
   * It touches no correlation state and nothing a {@link snapshot} holds (only the work
   * counters `evaluations` and `truncatedValues` of this engine's {@link stats}), so it may run
   * in another thread on an engine compiled from the same rule list with the same pipeline and
   * options: positions in {@link detections} are stable for those. Feed the result to
   * {@link applyPrematched} of the engine that keeps the state.
   *
   * @example
   * const dets = worker.prematch(ev); // in a worker thread
   * const out = main.applyPrematched(ev, dets ?? []); // in the thread that owns the state
   */
  prematch(event: EventLike): number[] | null {
    checkEvent(event);
    const hits = this.hits;
    this.prematchInto(event, hits);
    return hits.n ? hits.a.slice(0, hits.n) : null;
  }

  /**
   * The stateful half of {@link match}: for detections found by {@link prematch} (of this
   * engine or of one compiled from the same rules and options), count the event, build the
   * detection matches and feed the correlations they reference. Detections switched off here
   * (see {@link setRuleEnabled}) are skipped, so this engine's switches decide.
   *
   * @throws RangeError when a position is not one of {@link detections}.
   * @example
   * const out = engine.applyPrematched(ev, dets ?? []);
   */
  applyPrematched(event: EventLike, dets: readonly number[]): RuleMatch[] {
    checkEvent(event);
    if (!Array.isArray(dets)) throw new TypeError('dets must be an array of detection positions');
    const n = this.dets.length;
    for (let i = 0; i < dets.length; i++) {
      const k = dets[i];
      if (!Number.isInteger(k) || k < 0 || k >= n) throw new RangeError(`detection position ${String(k)} is not in 0..${n - 1}`);
    }
    return this.apply(event, dets, dets.length);
  }

  /** Walk, probe and test: positions of the matching enabled detections into `hits`. */
  private prematchInto(event: EventLike, hits: Reused<number>): void {
    // One candidate list reused for every event (match is synchronous and not re-entered).
    const cands = this.cands;
    hits.n = 0;
    beginEvent(event);
    try {
      const n = this.pre.collect(event, cands);
      for (let i = 0; i < n; i++) {
        const d = this.dets[cands[i]];
        if (!d.enabled) continue;
        this.s.evaluations++;
        if (d.test(event)) hits.a[hits.n++] = d.pos;
      }
    } finally {
      endEvent();
    }
  }

  /** Count the event and turn the first `n` detection positions of `dets` into matches, feeding correlations. */
  private apply(event: EventLike, dets: readonly number[], n: number): RuleMatch[] {
    this.s.events++;
    if (!n) return [];
    // Made at the first match, holding it: most events match once or not at all, and an empty
    // array's first push reserves room for 16.
    let out: RuleMatch[] | null = null;
    const id = typeof event.id === 'string' ? event.id : '';
    let time: string | undefined;
    let t = NaN;
    for (let i = 0; i < n; i++) {
      const d = this.dets[dets[i]];
      if (!d.enabled) continue;
      this.s.detectionMatches++;
      time ??= firstText(this.tsGet(event));
      const m: RuleMatch = { ruleId: d.id, title: d.title, level: d.level, tags: d.tags, kind: 'detection', alert: d.alert, eventIds: id ? [id] : [], time };
      if (out === null) out = [m];
      else out.push(m);
      if (d.corrs.length) {
        if (t !== t) t = isoMs(time);
        this.feed(d.corrs, event, m, t, 0, out);
      }
    }
    return out ?? [];
  }

  private feed(ins: CorrIn[], event: EventLike, input: RuleMatch, t: number, depth: number, out: RuleMatch[]): void {
    if (!Number.isFinite(t)) {
      this.s.noTimestamp++;
      return;
    }
    if (t > this.maxTime) this.maxTime = t;
    this.expire(8);
    const G = this.g;
    const parts = this.bufGroup;
    const det = input.kind === 'detection';
    let cell = -1;
    let key = '';
    let prev: CorrIn | undefined;
    for (const ci of ins) {
      const c = ci.corr;
      if (!c.enabled) continue;
      const sp = c.space;
      const nG = c.groupBy.length;
      // The same space and group-by paths as the previous correlation: the same key, and its cell
      // unless that emptied meanwhile (a live cell with this key is the one in the map).
      if (!(det && prev && prev.corr.space === sp && prev.sig === ci.sig && cell >= 0 && sp.n[cell] > 0 && sp.keys[cell] === key)) {
        for (let i = 0; i < nG; i++) parts[i] = det ? firstText(ci.groupGetters[i](event)) : (input.group?.[c.groupBy[i]] ?? '');
        key = nG === 0 ? '' : nG === 1 ? parts[0] : parts.slice(0, nG).join(SEP);
        const found = sp.map.get(key);
        cell = found === undefined ? sp.alloc(key) : found;
      }
      prev = ci;
      const row = cell * sp.size + c.slot;
      let g = sp.gs[row] - 1;
      if (g >= 0) G.num[g * W + FLAGS] |= TOUCHED;
      else {
        // One group-by field: its value is the key (see groupOf); several: kept as read.
        let group: Record<string, string> | null = null;
        if (nG > 1) {
          group = {};
          for (let i = 0; i < nG; i++) group[c.groupBy[i]] = det ? firstText(ci.groupGetters[i](event)) : (input.group?.[c.groupBy[i]] ?? '');
        }
        g = G.add(c.keeps, sp.keys[cell], cell, group, t);
        sp.gs[row] = g + 1;
        sp.n[cell]++;
        this.enqueue(g);
        this.nGroups++;
      }
      if (t > G.num[g * W + LAST]) G.num[g * W + LAST] = t;
      const fired = this.step(c, ci, g, t, event, input);
      if (fired) {
        const group = this.groupOf(g);
        if (!fired.keep) this.kill(g);
        this.s.correlationMatches++;
        const m = corrMatch(c, fired.ids, input.time, key, group, fired.count, fired.start, fired.end);
        out.push(m);
        if (c.corrs.length && depth < 8) this.feed(c.corrs, event, m, isoMs(m.time), depth + 1, out);
      }
      if (this.nGroups > this.maxGroups) this.evict();
    }
  }

  /** A group's group-by values as a new record. */
  private groupOf(g: number): Record<string, string> {
    const G = this.g;
    const kept = G.group[g];
    if (kept) return { ...kept };
    const by = this.corrs[G.num[g * W + CORR]].groupBy;
    return by.length ? { [by[0]]: G.key[g] } : {};
  }

  /** Put a group at the back of the queue (its only live entry). */
  private enqueue(g: number): void {
    this.g.num[g * W + QPOS] = this.queue.length;
    this.queue.push(g);
  }

  /** Whether queue entry `i` is its group's live entry (ids are reused; older entries are stale). */
  private liveAt(i: number): boolean {
    const g = this.queue[i];
    return this.g.num[g * W + CORR] >= 0 && this.g.num[g * W + QPOS] === i;
  }

  /** Drop the queue before `qHead` (and, with `stale`, every stale entry), renumbering positions. */
  private compact(stale: boolean): void {
    const q = this.queue;
    const next: number[] = [];
    for (let i = this.qHead; i < q.length; i++) {
      const live = this.liveAt(i);
      if (!live && stale) continue;
      if (live) this.g.num[q[i] * W + QPOS] = next.length;
      next.push(q[i]);
    }
    this.queue = next;
    this.qHead = 0;
  }

  /** Remove a live group from its correlation (the queue drops it when it gets there). */
  private kill(g: number): void {
    const G = this.g;
    const c = this.corrs[G.num[g * W + CORR]];
    const sp = c.space;
    const cell = G.num[g * W + CELL];
    sp.gs[cell * sp.size + c.slot] = 0;
    if (--sp.n[cell] === 0) sp.release(cell);
    G.remove(g);
    this.nGroups--;
    // Mostly stale queue (a long-lived group at the front holds the rest back): compact it.
    if (this.queue.length - this.qHead > 2 * this.nGroups + 1024) this.compact(true);
  }

  /** The live group at the front of the queue (stale entries are dropped on the way), or -1. */
  private front(): number {
    while (this.qHead < this.queue.length && !this.liveAt(this.qHead)) this.qHead++;
    if (this.qHead > 4096 && this.qHead * 2 > this.queue.length) this.compact(false);
    return this.qHead < this.queue.length ? this.queue[this.qHead] : -1;
  }

  /** Move the front group to the back (its second chance). */
  private rotate(g: number): void {
    this.g.num[g * W + FLAGS] &= ~TOUCHED;
    this.qHead++;
    this.enqueue(g);
  }

  /** Evict groups, least recently used first (CLOCK), until at most `maxGroups` are held. */
  private evict(): void {
    while (this.nGroups > this.maxGroups) {
      const g = this.front();
      if (g < 0) return;
      if (this.g.num[g * W + FLAGS] & TOUCHED) {
        this.rotate(g);
        continue;
      }
      this.qHead++;
      this.kill(g);
      this.s.evictions++;
    }
  }

  /**
   * Look at up to `n` groups at the front of the queue: drop those whose window ended more than
   * the grace period ago by the engine's clock (the newest event time), send touched ones to the
   * back, stop at the first that is still open. Ended groups gather at the front, so a few checks
   * per event keep memory and snapshots to the open windows. Tumbling windows (lt/lte) stay until
   * the next event of their group or `flush()` evaluates them.
   */
  private expire(n: number): void {
    const G = this.g;
    while (n-- > 0) {
      const g = this.front();
      if (g < 0) return;
      const c = this.corrs[G.num[g * W + CORR]];
      if (G.num[g * W + FLAGS] & TOUCHED || c.op === 'lt' || c.op === 'lte') {
        this.rotate(g);
        continue;
      }
      if (G.num[g * W + LAST] >= this.maxTime - c.timespanMs - this.grace) return;
      this.qHead++;
      this.kill(g);
      this.s.expired++;
    }
  }

  private pushId(g: number, ids: string[]): void {
    let l = this.g.ids[g];
    let i = 0;
    if (l.length === 0 && ids.length > 0) {
      // A list of one (most groups keep one id; see GroupStore.add).
      this.g.ids[g] = l = [ids[0]];
      i = 1;
      if (l.length > this.maxEventIds) l.shift();
    }
    for (; i < ids.length; i++) {
      l.push(ids[i]);
      if (l.length > this.maxEventIds) l.shift();
    }
  }

  /** Advance one group; returns what fired (and whether the group lives on), or null. */
  private step(c: Corr, ci: CorrIn, g: number, t: number, event: EventLike, input: RuleMatch): { ids: string[]; start: number; end: number; keep: boolean; count: number | undefined } | null {
    const G = this.g;
    const T = c.timespanMs;
    if (c.type === 'event_count' || c.type === 'value_count') {
      const vc = c.type === 'value_count';
      const value = vc ? (input.kind === 'detection' && ci.valueGetter ? firstText(ci.valueGetter(event)) : (input.group?.[c.field!] ?? '')) : '';
      if (vc && value === '') return null;
      if (c.op === 'lt' || c.op === 'lte') {
        // "Fewer than N in the window": only knowable once the window is over (next event of the group or flush()).
        let fired: ReturnType<RuleEngine['step']> = null;
        if (G.num[g * W + COUNT] > 0 && t >= G.num[g * W + START] + T) {
          const n = vc ? G.valueCount(g) : G.num[g * W + COUNT];
          if (compare(c, n)) fired = { ids: G.ids[g].slice(), start: G.num[g * W + START], end: G.num[g * W + START] + T, keep: true, count: n };
          G.num[g * W + START] = t;
          G.num[g * W + COUNT] = 0;
          if (vc) G.clearValues(g);
          G.ids[g] = [];
        }
        if (G.num[g * W + COUNT] === 0) G.num[g * W + START] = t;
        G.num[g * W + COUNT]++;
        if (vc) this.addValue(g, value, t);
        this.pushId(g, input.eventIds);
        return fired;
      }
      const lo = t - T;
      let n: number;
      let start: number;
      if (!vc) {
        let ts = G.ts[g];
        if (ts.length && t < ts[ts.length - 1]) G.num[g * W + FLAGS] |= UNORDERED;
        // A first time makes a list of one: the first push onto an empty list reserves 17.
        if (ts.length === 0) G.ts[g] = ts = [t];
        else ts.push(t);
        if (ts.length > this.maxPerGroup) {
          ts.shift();
          this.s.groupOverflows++;
        }
        if (ts[0] < lo) {
          if (G.num[g * W + FLAGS] & UNORDERED) G.ts[g] = ts = ts.filter((x) => x >= lo && x <= t + T);
          else {
            // In time order: the expired times are a prefix.
            let k = 1;
            while (k < ts.length && ts[k] < lo) k++;
            // In place (splice would allocate the removed part, copyWithin boxes each number it
            // moves); t itself stays, so the length is never 0 (which would drop the storage).
            const m = ts.length - k;
            for (let j = 0; j < m; j++) ts[j] = ts[j + k];
            ts.length = m;
          }
        }
        n = ts.length;
        this.pushId(g, input.eventIds);
        if (!compare(c, n)) return null;
        start = G.num[g * W + FLAGS] & UNORDERED ? minOf(ts) : ts[0];
      } else {
        this.addValue(g, value, t);
        G.trimValues(g, lo);
        n = G.valueCount(g);
        this.pushId(g, input.eventIds);
        if (!compare(c, n)) return null;
        start = G.valuesStart(g);
      }
      return { ids: G.ids[g].slice(), start, end: t, keep: false, count: n };
    }
    if (c.type === 'temporal') {
      const k = String(ci.refIndex);
      const vals = (G.vals[g] = G.vals[g].filter((v) => v[0] !== k && v[1] >= t - T));
      vals.push([k, t]);
      this.pushId(g, input.eventIds);
      if (vals.length < c.refs.length) return null;
      let start = Infinity;
      for (const v of vals) if (v[1] < start) start = v[1];
      return { ids: G.ids[g].slice(), start, end: t, keep: false, count: undefined };
    }
    // temporal_ordered: chain[i] = start of the newest chain that completed steps 0..i in order.
    const i = ci.refIndex;
    const n = c.refs.length;
    let chain = G.chain[g];
    // Sized once (a push onto the empty list would reserve 17 slots).
    if (chain.length < n) G.chain[g] = chain = chain.concat(new Array<null>(n - chain.length).fill(null));
    for (let j = 0; j < n; j++) if (chain[j] !== null && (chain[j] as number) < t - T) chain[j] = null;
    if (i === 0) chain[0] = t;
    else if (chain[i - 1] !== null) chain[i] = chain[i - 1];
    else return null;
    this.pushId(g, input.eventIds);
    if (chain[n - 1] === null) return null;
    return { ids: G.ids[g].slice(), start: chain[n - 1] as number, end: t, keep: false, count: undefined };
  }

  /** value_count: note `value` seen at `t` (moved to the newest end), bounded by `maxPerGroup`. */
  private addValue(g: number, value: string, t: number): void {
    if (this.g.addValue(g, value, t, this.maxPerGroup)) this.s.groupOverflows++;
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
    const G = this.g;
    const out: RuleMatch[] = [];
    for (const g of this.live()) {
      const c = this.corrs[G.num[g * W + CORR]];
      const start = G.num[g * W + START];
      if (!((c.op === 'lt' || c.op === 'lte') && (c.type === 'event_count' || c.type === 'value_count') && G.num[g * W + COUNT] > 0 && until >= start + c.timespanMs)) continue;
      const n = c.type === 'event_count' ? G.num[g * W + COUNT] : G.valueCount(g);
      const ids = G.ids[g];
      const key = G.key[g];
      const group = this.groupOf(g);
      this.kill(g);
      if (c.enabled && (c.op === 'lt' ? n < c.threshold : n <= c.threshold)) {
        this.s.correlationMatches++;
        out.push(corrMatch(c, ids.slice(), new Date(start + c.timespanMs).toISOString(), key, group, n, start, start + c.timespanMs));
      }
    }
    return out;
  }

  /** The live groups in queue order (a copy: callers may kill groups while iterating). */
  private live(): number[] {
    const out: number[] = [];
    for (let i = this.qHead; i < this.queue.length; i++) if (this.liveAt(i)) out.push(this.queue[i]);
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
    return { version: 1, groups: this.live().map((g) => this.snapshotEntry(g)) };
  }

  /**
   * The {@link snapshot} as JSON text, handed to `write` in pieces (a group's entry at a time):
   * the pieces joined are `JSON.stringify(this.snapshot())`, byte for byte. Each group's objects
   * are garbage as soon as its piece is written, so a writer that copies the pieces out of the
   * heap (soc's detector: into one off-heap buffer) never holds the whole object graph, which
   * at ~50k groups survived into the old generation with every snapshot (soc/README "Memory,
   * session 10").
   *
   * @example
   * const parts: string[] = [];
   * engine.writeSnapshot((s) => parts.push(s));
   * engine.restore(JSON.parse(parts.join('')));
   */
  writeSnapshot(write: (json: string) => void): void {
    for (const s of this.snapshotPieces()) write(s);
  }

  /**
   * The pieces of {@link writeSnapshot}, one group's entry each, made as they are asked for: a
   * caller can stop between two (soc's detector yields to the event loop every few milliseconds)
   * and go on later. The groups are those live when the first piece is asked for; the engine
   * must not match, flush, restore or switch rules until the last piece was taken, or the text
   * mixes two states.
   *
   * @example
   * for (const s of engine.snapshotPieces()) out.write(s);
   */
  *snapshotPieces(): Generator<string, void, undefined> {
    yield '{"version":1,"groups":[';
    let first = true;
    for (const g of this.live()) {
      const entry = JSON.stringify(this.snapshotEntry(g));
      yield first ? entry : `,${entry}`;
      first = false;
    }
    yield ']}';
  }

  /** {@link writeSnapshot} joined into one string: `JSON.stringify(this.snapshot())`. */
  snapshotJson(): string {
    const parts: string[] = [];
    this.writeSnapshot((s) => parts.push(s));
    return parts.join('');
  }

  /** A live group as a {@link snapshot} entry (its own copies of the group's lists). */
  private snapshotEntry(g: number): [string, string, GroupState] {
    const G = this.g;
    const c = this.corrs[G.num[g * W + CORR]];
    const state: GroupState = { ts: G.ts[g].slice(), vals: c.keeps.values ? G.valueEntries(g) : G.vals[g].map((v) => [v[0], v[1]]), chain: G.chain[g].slice(), ids: G.ids[g].slice(), group: this.groupOf(g), start: G.num[g * W + START], count: G.num[g * W + COUNT], last: G.num[g * W + LAST] };
    return [c.id, G.key[g], state];
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
    const next: { c: Corr; key: string; st: GroupState }[] = [];
    for (const g of s.groups) {
      if (!Array.isArray(g) || g.length !== 3 || typeof g[0] !== 'string' || typeof g[1] !== 'string' || !validState(g[2])) throw new RuleError('RULE_ERR_SNAPSHOT', 'malformed snapshot group');
      const c = this.corrById.get(g[0]);
      if (!c) {
        this.s.restoreDropped++;
        continue;
      }
      next.push({ c, key: g[1], st: structuredClone(g[2]) });
    }
    this.reset(false);
    const G = this.g;
    for (const { c, key, st } of next) {
      const sp = c.space;
      let cell = sp.map.get(key);
      if (cell === undefined) cell = sp.alloc(key);
      const old = sp.gs[cell * sp.size + c.slot] - 1;
      if (old >= 0) this.kill(old);
      if (sp.map.get(key) !== cell) cell = sp.alloc(key);
      const g = G.add(c.keeps, key, cell, st.group, st.start);
      G.ts[g] = st.ts;
      G.chain[g] = st.chain;
      G.ids[g] = st.ids;
      G.num[g * W + COUNT] = st.count;
      G.num[g * W + LAST] = st.last ?? st.start;
      for (let i = 1; i < st.ts.length; i++) if (st.ts[i] < st.ts[i - 1]) G.num[g * W + FLAGS] |= UNORDERED;
      if (c.keeps.values) for (const [v, x] of st.vals) G.putValue(g, v, x);
      else G.vals[g] = st.vals;
      sp.gs[cell * sp.size + c.slot] = g + 1;
      sp.n[cell]++;
      this.nGroups++;
      this.enqueue(g);
      if (this.nGroups > this.maxGroups) this.evict();
    }
  }

  /** Forget all correlation state and (unless `clock` is false) the engine's clock; counters are kept. */
  reset(clock = true): void {
    for (const c of this.corrs) c.space.clear();
    this.g.clear();
    this.queue = [];
    this.qHead = 0;
    this.nGroups = 0;
    if (clock) this.maxTime = -Infinity;
  }
}

/** The match a correlation window produces. */
function corrMatch(c: Corr, eventIds: string[], time: string, groupKey: string, group: Record<string, string>, count: number | undefined, start: number, end: number): RuleMatch {
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
    correlation: correlationOf(c.type, c.type === 'temporal' || c.type === 'temporal_ordered' ? c.refs.slice() : null, count, start, end),
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
  const detDocs: unknown[] = [];
  const filterDocs = new Map<CompiledFilter, unknown>();
  const filters: CompiledFilter[] = [];
  const corrDefs: { r: LoadedRule; c: CompiledCorrelation }[] = [];
  const ids = new Set<string>();
  for (const r of rules) {
    try {
      const c = compileDocument(r, pipeline, opts, counters);
      if (ids.has(c.id)) throw new RuleError('RULE_ERR_DUPLICATE_ID', `${r.source}: duplicate rule id ${c.id}`);
      ids.add(c.id);
      if (c.kind === 'detection') {
        dets.push({ ...c, pos: dets.length, alert: true, enabled: true, corrs: [] });
        detDocs.push(r.doc);
      } else if (c.kind === 'filter') {
        filters.push(c);
        filterDocs.set(c, r.doc);
      } else corrDefs.push({ r, c });
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
          const type = p.c.type;
          const sliding = p.c.op !== 'lt' && p.c.op !== 'lte';
          const kind: GroupKind = { corr: corrs.length, times: type === 'event_count' && sliding, values: type === 'value_count', pairs: type === 'temporal', chain: type === 'temporal_ordered' };
          const corr: Corr = { ...p.c, alert: true, enabled: true, corrs: [], index: corrs.length, space: new Space(), slot: 0, keeps: kind };
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
  // Correlations that group by the same fields share a space; each rule feeds the correlations
  // of one space one after another, so their shared key is looked up once.
  const spaces = new Map<string, Space>();
  const spaceNo = new Map<Space, number>();
  for (const c of corrs) {
    const k = c.groupBy.join(SEP);
    let sp = spaces.get(k);
    if (!sp) {
      spaces.set(k, (sp = new Space()));
      spaceNo.set(sp, spaceNo.size);
    }
    c.space = sp;
    c.slot = sp.size++;
  }
  for (const r of [...dets, ...corrs]) {
    const order = (ci: CorrIn) => spaceNo.get(ci.corr.space)!;
    r.corrs.sort((a, b) => order(a) - order(b) || (a.sig < b.sig ? -1 : a.sig > b.sig ? 1 : 0));
  }
  // Sigma correlation §generate: detection rules referenced only by correlations without
  // `generate: true` are context, not alerts. A correlation that feeds another correlation
  // still alerts (our choice: a correlation is always a deliberate finding).
  for (const d of dets) {
    if (d.corrs.length) d.alert = d.corrs.some((ci) => ci.corr.generate);
  }
  const table = createHash('sha256').update(docText(pipeline));
  for (const doc of detDocs) table.update('\u0000').update(docText(doc));
  for (const f of filters) table.update('\u0001').update(docText(filterDocs.get(f)));
  return new RuleEngine({ pipeline, dets, corrs, filters, rejected, counters, opts, tableId: table.digest('hex') });
}

/** A rule document or pipeline as JSON for {@link RuleEngine.tableId} (one with a cycle, from YAML aliases, cannot be: its id then). */
function docText(doc: unknown): string {
  try {
    return JSON.stringify(doc) ?? '';
  } catch {
    const d = doc as { id?: unknown } | null;
    return `unserialisable ${String(d?.id)}`;
  }
}

function wire(corr: Corr, ref: Det | Corr, refIndex: number): CorrIn {
  const refName = ref.name ?? ref.id;
  const fieldFor = (g: string): string => corr.aliases[g]?.[refName] ?? corr.aliases[g]?.[ref.id] ?? g;
  if (ref.kind === 'correlation') return { corr, refIndex, groupGetters: [], sig: '', paths: [] };
  // Each field mapped once (aliases, then the logsource's field mapping); an unmapped one is
  // reported with the correlation it belongs to.
  const mapped = (g: string): string => {
    try {
      return ref.logsource.mapField(fieldFor(g));
    } catch (e) {
      throw new RuleError('RULE_ERR_UNSUPPORTED_FIELD', `correlation ${corr.id}: ${(e as Error).message}`, { path: '/correlation/group-by' });
    }
  };
  const groupPaths = corr.groupBy.map(mapped);
  const valuePath = corr.field ? mapped(corr.field) : undefined;
  return {
    corr,
    refIndex,
    groupGetters: groupPaths.map((p) => makeGetter(p)),
    sig: groupPaths.join(SEP),
    valueGetter: valuePath === undefined ? undefined : makeGetter(valuePath),
    paths: valuePath === undefined ? groupPaths : [...groupPaths, valuePath],
  };
}
