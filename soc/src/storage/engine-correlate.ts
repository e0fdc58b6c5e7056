/**
 * Sigma `event_count` / `value_count` correlation rules as Elasticsearch / OpenSearch
 * aggregations, for windows too large for the streaming engine's memory (months of history, many
 * groups): the engine counts, Xiangan reads only the buckets.
 *
 * One `composite` aggregation pages through (group-by fields × `date_histogram` blocks of the
 * rule's timespan T) over the events the referenced rules select (`./engine-sigma.ts`), with the
 * event count per block and the distinct values of the counted field (`terms`, sized
 * threshold + 1, so the count is exact up to where it matters — `cardinality` would be
 * approximate). The engine counts; Xiangan reads only the blocks, then replays the few places that
 * can fire, so the answers are the streaming engine's, sliding windows included:
 *
 * - A sliding window `[t − T, t]` touches at most two adjacent blocks, so a window that reaches
 *   the threshold (`gt`/`gte`/`eq`: counts only grow one event at a time) lies in an adjacent pair
 *   of blocks whose count (or union of distinct values) reaches it. Pairs that do not are skipped.
 *   Counts come from the rules' query, a superset of their matches, so this never skips a match.
 * - Around each run of qualifying pairs, the group's events are read in time order and run through
 *   the compiled rules, starting from an empty window at the run's first block. That start is
 *   exact: the pair before it does not qualify, so no match ends in that block, and a window ending
 *   in the next block reaches back no further than the run's first block; the streaming engine's
 *   reset after a match therefore sees the same events here as over the whole range.
 * - `lt`/`lte` windows are tumbling from a group's first event (known only in event order): each
 *   group's events are replayed whole, as a hunt would.
 *
 * The matches are the streaming engine's own (time, window start, count, event ids), the same as
 * `xiangan rules hunt` prints for the correlation over the same range.
 */
import { compileDocument, compileRules, resolveLogsource, type EventLike, type LoadedRule, type Logsource, type Pipeline, type RuleMatch } from '@xiangan/rules';
import { SocError } from '../errors.js';
import type { DslQuery } from './dsl.js';
import { engineFieldTypes } from './engine-hunt.js';
import { dslAnd, dslOr, sigmaToDsl } from './engine-sigma.js';
import type { SearchEngineEventStore } from './search-engine.js';
import { parseTime } from './sqlite.js';

/** Options of {@link correlateByAggregation}. */
export interface AggregationOptions {
  /** Inclusive start (ISO 8601). */
  from: string;
  /** Exclusive end (ISO 8601). */
  to: string;
  /** Buckets per composite page; default 1000. */
  pageSize?: number;
}

/** Outcome of {@link correlateByAggregation}. */
export interface AggregationResult {
  matches: RuleMatch[];
  /** Blocks (group × timespan) the engine returned. */
  buckets: number;
  /** Runs of blocks whose events were read and replayed through the compiled rules. */
  verified: number;
  /** Events read for those replays. */
  eventsRead: number;
  /** Every referenced rule translated exactly (the counts were exact, not only an upper bound). */
  exact: boolean;
}

function refOf(rules: readonly LoadedRule[], ref: string): LoadedRule | undefined {
  return rules.find((r) => r.doc['id'] === ref || r.doc['name'] === ref);
}

/**
 * Evaluate one `event_count` or `value_count` correlation over [`from`, `to`) with aggregations.
 * `rules` must hold the detection rules it references. Throws `SOC_ERR_QUERY` for temporal types
 * (they need the event order: use a hunt), references that are correlations or missing, and
 * group-by fields that map to different event paths in different referenced rules.
 *
 * @example
 * ```ts
 * const { matches } = await correlateByAggregation(store, bruteForce, packRules, builtinPipeline('ecs'), { from: '2026-01-01T00:00:00Z', to: '2026-07-01T00:00:00Z' });
 * ```
 */
export async function correlateByAggregation(store: SearchEngineEventStore, corrRule: LoadedRule, rules: readonly LoadedRule[], pipeline: Pipeline, opts: AggregationOptions): Promise<AggregationResult> {
  const c = compileDocument(corrRule, pipeline, {}, { truncatedValues: 0 });
  if (c.kind !== 'correlation') throw new RangeError(`${corrRule.source} is not a correlation rule`);
  if (c.type !== 'event_count' && c.type !== 'value_count') throw new SocError('SOC_ERR_QUERY', `${c.id}: ${c.type} correlations depend on the order of events; run them with xiangan rules hunt`);
  const typeOf = await engineFieldTypes(store);
  const refs = c.refs.map((name) => {
    const r = refOf(rules, name);
    if (!r) throw new SocError('SOC_ERR_QUERY', `${c.id}: referenced rule ${name} is not among the rules given`);
    if (r.doc['correlation'] !== undefined) throw new SocError('SOC_ERR_QUERY', `${c.id}: referenced rule ${name} is a correlation; aggregate its base rules instead`);
    return r;
  });
  // Event paths of the group-by fields and the counted field, the same in every referenced rule.
  const pathsOf = (field: string): string => {
    const paths = new Set(
      refs.map((r) => {
        const refName = (r.doc['name'] as string | undefined) ?? (r.doc['id'] as string);
        const alias = c.aliases[field]?.[refName] ?? c.aliases[field]?.[r.doc['id'] as string] ?? field;
        return resolveLogsource(pipeline, (r.doc['logsource'] ?? {}) as Logsource).mapField(alias);
      }),
    );
    if (paths.size !== 1) throw new SocError('SOC_ERR_QUERY', `${c.id}: ${field} maps to several event paths (${[...paths].join(', ')}); aggregations need one`);
    return [...paths][0]!;
  };
  const groupPaths = c.groupBy.map(pathsOf);
  const valuePath = c.type === 'value_count' ? pathsOf(c.field!) : undefined;
  const qs = refs.map((r) => sigmaToDsl(r, pipeline, typeOf));
  const exact = qs.every((q) => q.exact);
  const base = dslOr(qs.map((q) => q.sup));
  const from = parseTime(opts.from, 'from');
  const to = parseTime(opts.to, 'to');
  const T = c.timespanMs;
  const query = dslAnd([base, { range: { '@timestamp': { gte: from, lt: to, format: 'epoch_millis' } } }]);
  const sources: Array<Record<string, unknown>> = groupPaths.map((p, i) => ({ [`g${i}`]: { terms: { field: p, missing_bucket: true } } }));
  sources.push({ w: { date_histogram: { field: '@timestamp', fixed_interval: `${T / 1000}s` } } });
  const aggs: Record<string, unknown> = valuePath ? { v: { terms: { field: valuePath, size: Math.min(c.threshold + 1, 65_536) } } } : {};
  const sliding = c.op !== 'lt' && c.op !== 'lte';
  // Least count of an adjacent pair of blocks in which a sliding window can fire.
  const need = c.op === 'gt' ? c.threshold + 1 : c.threshold;

  const out: AggregationResult = { matches: [], buckets: 0, verified: 0, eventsRead: 0, exact };
  const replay = async (key: Record<string, unknown>, start: number, end: number): Promise<void> => {
    const terms: DslQuery[] = groupPaths.map((p, i) => (key[`g${i}`] === null ? { bool: { must_not: [{ exists: { field: p } }] } } : { term: { [p]: key[`g${i}`] } }));
    // The referenced rules and this correlation alone, as the streaming engine runs them.
    const engine = compileRules([...refs, corrRule], pipeline, { onError: 'skip' });
    out.verified++;
    for await (const { event } of store.scan(dslAnd([base, ...terms]), { from: new Date(Math.max(start, from)).toISOString(), to: new Date(Math.min(end, to)).toISOString() })) {
      out.eventsRead++;
      for (const m of engine.match(event as unknown as EventLike)) if (m.ruleId === c.id) out.matches.push(m);
    }
    for (const m of engine.flush(new Date(to).toISOString())) if (m.ruleId === c.id) out.matches.push(m);
  };
  /** One group's blocks (in time order): replay the runs of blocks that can hold a match. */
  const group = async (key: Record<string, unknown>, blocks: Bucket[]): Promise<void> => {
    if (!sliding) return replay(key, Number(blocks[0]!.key['w']), Number(blocks[blocks.length - 1]!.key['w']) + T);
    const size = (b: Bucket): number => (valuePath ? (b.v?.buckets.length ?? 0) : b.doc_count);
    const pairN = (a: Bucket, b: Bucket | undefined): number => {
      if (!b || Number(b.key['w']) !== Number(a.key['w']) + T) return size(a);
      if (!valuePath) return a.doc_count + b.doc_count;
      const vs = new Set([...a.v!.buckets, ...b.v!.buckets].map((x) => String((x as { key: unknown }).key)));
      return vs.size;
    };
    let run: [number, number] | undefined;
    for (let i = 0; i < blocks.length; i++) {
      if (pairN(blocks[i]!, blocks[i + 1]) < need) continue;
      const s0 = Number(blocks[i]!.key['w']);
      const e0 = s0 + 2 * T;
      if (run && s0 <= run[1]) run[1] = e0;
      else {
        if (run) await replay(key, run[0], run[1]);
        run = [s0, e0];
      }
    }
    if (run) await replay(key, run[0], run[1]);
  };

  let after: unknown;
  let cur: { id: string; key: Record<string, unknown>; blocks: Bucket[] } | undefined;
  for (;;) {
    const body = { size: 0, query, aggs: { c: { composite: { size: opts.pageSize ?? 1000, sources, ...(after ? { after } : {}) }, ...(valuePath ? { aggregations: aggs } : {}) } } };
    const r = await store.request('POST', `/${store.names.eventsPattern}/_search?ignore_unavailable=true&allow_no_indices=true`, body);
    if (r.status >= 300) throw new SocError('SOC_ERR_QUERY', `${store.backend} refused the correlation aggregation (${r.status}): ${JSON.stringify(r.body).slice(0, 300)}`);
    const agg = (r.body as { aggregations?: { c?: { buckets: Bucket[]; after_key?: unknown } } }).aggregations?.c;
    const buckets = agg?.buckets ?? [];
    // The composite sorts by its sources in order: one group's blocks arrive together, in time order.
    for (const b of buckets) {
      out.buckets++;
      const { w: _w, ...key } = b.key;
      const id = JSON.stringify(key);
      if (cur?.id !== id) {
        if (cur) await group(cur.key, cur.blocks);
        cur = { id, key, blocks: [] };
      }
      cur.blocks.push(b);
    }
    if (!agg?.after_key || buckets.length === 0) break;
    after = agg.after_key;
  }
  if (cur) await group(cur.key, cur.blocks);
  // Time order across groups, as a hunt prints them.
  out.matches.sort((x, y) => (x.time < y.time ? -1 : x.time > y.time ? 1 : 0));
  return out;
}

interface Bucket {
  key: Record<string, unknown>;
  doc_count: number;
  v?: { buckets: unknown[] };
}
