/**
 * Sigma `event_count` / `value_count` correlation rules as Elasticsearch / OpenSearch
 * aggregations, for windows too large for the streaming engine's memory (months of history, many
 * groups): the engine counts, Xiangan reads only the buckets.
 *
 * One `composite` aggregation pages through (group-by fields × `date_histogram` windows of the
 * rule's timespan) over the events the referenced rules select (`./engine-sigma.ts`), with the
 * event count per bucket, the distinct values of the counted field (`terms`, sized threshold + 1,
 * so the count is exact up to where it matters — `cardinality` would be approximate), and the
 * first event ids (`top_hits`).
 *
 * Windows here are tumbling (aligned to multiples of the timespan since the epoch, UTC), where the
 * streaming engine's `gt`/`gte` windows slide: a burst that straddles a boundary is counted in two
 * windows. Use `xiangan rules hunt` for the sliding semantics over a range the engine can hold.
 *
 * Where a referenced rule's query is not exact (its `sup` selects more than it matches), every
 * bucket that could qualify is verified: its events are read and run through the compiled rules,
 * and the exact count decides.
 */
import { compileDocument, compileRules, makeGetter, resolveLogsource, type CompiledCorrelation, type EventLike, type LoadedRule, type Logsource, type Pipeline, type RuleMatch } from '@xiangan/rules';
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
  /** Event ids kept per match (oldest first); default 10. */
  maxEventIds?: number;
}

/** Outcome of {@link correlateByAggregation}. */
export interface AggregationResult {
  matches: RuleMatch[];
  /** Buckets (group × window) the engine returned. */
  buckets: number;
  /** Buckets whose events were read and counted exactly (inexact rule queries only). */
  verified: number;
  /** Every referenced rule translated exactly: the engine's counts were used as they are. */
  exact: boolean;
}

const SEP = '\u001f';

function compare(op: CompiledCorrelation['op'], n: number, threshold: number): boolean {
  return op === 'gt' ? n > threshold : op === 'gte' ? n >= threshold : op === 'lt' ? n < threshold : op === 'lte' ? n <= threshold : n === threshold;
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
  const maxIds = opts.maxEventIds ?? 10;
  const query = dslAnd([base, { range: { '@timestamp': { gte: from, lt: to, format: 'epoch_millis' } } }]);
  const sources: Array<Record<string, unknown>> = groupPaths.map((p, i) => ({ [`g${i}`]: { terms: { field: p, missing_bucket: true } } }));
  sources.push({ w: { date_histogram: { field: '@timestamp', fixed_interval: `${T / 1000}s` } } });
  const aggs: Record<string, unknown> = { ids: { top_hits: { size: maxIds, sort: [{ '@timestamp': { order: 'asc' } }, { id: { order: 'asc' } }], _source: false, docvalue_fields: ['id'] } } };
  if (valuePath) aggs['v'] = { terms: { field: valuePath, size: Math.min(c.threshold + 1, 65_536) } };

  // Verification of inexact buckets: the referenced rules compiled alone, as the engine runs them.
  const engine = exact ? undefined : compileRules(refs, pipeline, { onError: 'skip' });
  const refIds = new Set(refs.map((r) => String(r.doc['id'] ?? r.doc['name'])));
  const valueGet = valuePath ? makeGetter(valuePath) : undefined;
  const exactCount = async (key: Record<string, unknown>, start: number): Promise<{ n: number; ids: string[] }> => {
    const terms: DslQuery[] = groupPaths.map((p, i) => (key[`g${i}`] === null ? { bool: { must_not: [{ exists: { field: p } }] } } : { term: { [p]: key[`g${i}`] } }));
    const values = new Set<string>();
    const ids: string[] = [];
    let n = 0;
    for await (const { event } of store.scan(dslAnd([base, ...terms]), { from: new Date(Math.max(start, from)).toISOString(), to: new Date(Math.min(start + T, to)).toISOString() })) {
      if (!engine!.match(event as unknown as EventLike).some((m) => m.kind === 'detection' && refIds.has(m.ruleId))) continue;
      if (valueGet) {
        const v = valueGet(event as unknown as EventLike);
        const x = Array.isArray(v) ? v[0] : v;
        if (x === undefined || x === null || typeof x === 'object') continue;
        values.add(String(x));
      }
      n++;
      if (ids.length < maxIds) ids.push(event.id);
    }
    return { n: valueGet ? values.size : n, ids };
  };

  const out: AggregationResult = { matches: [], buckets: 0, verified: 0, exact };
  let after: unknown;
  for (;;) {
    const body = { size: 0, query, aggs: { c: { composite: { size: opts.pageSize ?? 1000, sources, ...(after ? { after } : {}) }, aggregations: aggs } } };
    const r = await store.request('POST', `/${store.names.eventsPattern}/_search?ignore_unavailable=true&allow_no_indices=true`, body);
    if (r.status >= 300) throw new SocError('SOC_ERR_QUERY', `${store.backend} refused the correlation aggregation (${r.status}): ${JSON.stringify(r.body).slice(0, 300)}`);
    const agg = (r.body as { aggregations?: { c?: { buckets: Bucket[]; after_key?: unknown } } }).aggregations?.c;
    const buckets = agg?.buckets ?? [];
    for (const b of buckets) {
      out.buckets++;
      const start = Number(b.key['w']);
      let n = valuePath ? (b.v?.buckets.length ?? 0) : b.doc_count;
      let ids = b.ids.hits.hits.map((h) => String(h.fields?.['id']?.[0] ?? h._id));
      if (!exact) {
        // A superset can only count more: for gt/gte a bucket below the threshold is out already.
        if ((c.op === 'gt' || c.op === 'gte') && !compare(c.op, n, c.threshold)) continue;
        out.verified++;
        ({ n, ids } = await exactCount(b.key, start));
        if (n === 0) continue;
      }
      if (!compare(c.op, n, c.threshold)) continue;
      const group: Record<string, string> = {};
      c.groupBy.forEach((g, i) => (group[g] = b.key[`g${i}`] === null ? '' : String(b.key[`g${i}`])));
      const parts = c.groupBy.map((g) => group[g]!);
      const end = start + T;
      out.matches.push({
        ruleId: c.id,
        title: c.title,
        level: c.level,
        tags: c.tags,
        kind: 'correlation',
        alert: true,
        eventIds: ids,
        time: new Date(end).toISOString(),
        ...(parts.length ? { groupKey: parts.join(SEP), group } : {}),
        correlation: { type: c.type, count: n, windowStart: new Date(start).toISOString(), windowEnd: new Date(end).toISOString() },
      });
    }
    if (!agg?.after_key || buckets.length === 0) break;
    after = agg.after_key;
  }
  return out;
}

interface Bucket {
  key: Record<string, unknown>;
  doc_count: number;
  v?: { buckets: unknown[] };
  ids: { hits: { hits: Array<{ _id: string; fields?: Record<string, unknown[]> }> } };
}
