/**
 * Hunts over history on Elasticsearch / OpenSearch: the events that can match any of the rules,
 * found by the Sigma → Query DSL translation (`./engine-sigma.ts`), oldest first, to be run through
 * the streaming engine exactly as the SQLite replay runs every stored event through it. Events no
 * rule can match are never read, so a hunt costs what the rules select, not the whole range.
 *
 * The rules' queries are packed into a few searches (each under `maxClauses` leaf clauses, below
 * OpenSearch's default `indices.query.bool.max_clause_count` of 1024), each streamed with
 * `search_after` in (`@timestamp`, `id`) order, and the streams merged in that order with
 * duplicates (an event two searches found) dropped: memory holds one page per search.
 */
import type { EcsEvent } from '@xiangan/collectors';
import { RuleError, type LoadedRule, type Pipeline } from '@xiangan/rules';
import { SocError } from '../errors.js';
import type { DslQuery } from './dsl.js';
import { clauseCount, dslOr, MATCH_ALL, MATCH_NONE, sigmaToDsl, type FieldTypeOf } from './engine-sigma.js';
import type { SearchEngineEventStore } from './search-engine.js';

/**
 * Mapping types of the event indices (`_field_caps`), as {@link FieldTypeOf}: `'conflict'` where
 * indices disagree (other than `object`), `undefined` for a path no index maps.
 */
export async function engineFieldTypes(store: SearchEngineEventStore): Promise<FieldTypeOf> {
  const r = await store.request('GET', `/${store.names.eventsPattern}/_field_caps?fields=*&ignore_unavailable=true&allow_no_indices=true`);
  if (r.status >= 300) throw new SocError('SOC_ERR_QUERY', `${store.backend} refused _field_caps (${r.status})`);
  const fields = ((r.body as { fields?: Record<string, Record<string, unknown>> }).fields ?? {}) as Record<string, Record<string, unknown>>;
  const types = new Map<string, string>();
  for (const [path, byType] of Object.entries(fields)) {
    const ts = Object.keys(byType).filter((t) => t !== 'object' && t !== 'nested' && t !== 'unmapped');
    if (ts.length === 1) types.set(path, ts[0]!);
    else if (ts.length > 1) types.set(path, 'conflict');
  }
  return (path) => types.get(path);
}

/** How a set of rules is searched. */
export interface HuntPlan {
  /** One query per search; their union holds every event any rule can match. */
  searches: DslQuery[];
  /** Detection rules translated. */
  rules: number;
  /** Of them, translated exactly (the search returns only their matches). */
  exact: number;
  /** Rules not translated (correlations and filters are evaluated by the engine on the found events). */
  skipped: Array<{ source: string; reason: string }>;
}

/**
 * Translate the detection rules and pack their queries into searches.
 *
 * @example
 * ```ts
 * const plan = planHunt(loadRules('rules/packs').rules, builtinPipeline('ecs'), await engineFieldTypes(store));
 * ```
 */
export function planHunt(rules: readonly LoadedRule[], pipeline: Pipeline, typeOf: FieldTypeOf, maxClauses = 512): HuntPlan {
  const plan: HuntPlan = { searches: [], rules: 0, exact: 0, skipped: [] };
  const queries: DslQuery[] = [];
  for (const r of rules) {
    try {
      const q = sigmaToDsl(r, pipeline, typeOf);
      plan.rules++;
      if (q.exact) plan.exact++;
      if (q.sup !== MATCH_NONE) queries.push(q.sup);
    } catch (e) {
      if (!(e instanceof RuleError || e instanceof RangeError)) throw e;
      plan.skipped.push({ source: r.source, reason: e.message });
    }
  }
  if (queries.some((q) => q === MATCH_ALL)) {
    plan.searches = [MATCH_ALL];
    return plan;
  }
  let pack: DslQuery[] = [];
  let n = 0;
  for (const q of queries) {
    const c = clauseCount(q);
    if (pack.length && n + c > maxClauses) {
      plan.searches.push(dslOr(pack));
      pack = [];
      n = 0;
    }
    pack.push(q);
    n += c;
  }
  if (pack.length) plan.searches.push(dslOr(pack));
  return plan;
}

/** Options of {@link huntEvents}. */
export interface HuntOptions {
  /** Inclusive start (ISO 8601). */
  from: string;
  /** Exclusive end (ISO 8601). */
  to: string;
  /** Events per page of each search; default 2000. */
  pageSize?: number;
}

/**
 * The stored events of [`from`, `to`) that can match a search of the plan, oldest first (then by
 * id), each once.
 *
 * @example
 * ```ts
 * const plan = planHunt(rules, pipeline, await engineFieldTypes(store));
 * for await (const ev of huntEvents(store, plan, { from, to })) for (const m of engine.match(ev)) …;
 * ```
 */
export async function* huntEvents(store: SearchEngineEventStore, plan: HuntPlan, opts: HuntOptions): AsyncGenerator<EcsEvent> {
  type Head = { it: AsyncGenerator<{ event: EcsEvent; sort: [number, string] }>; cur: { event: EcsEvent; sort: [number, string] } | undefined };
  const heads: Head[] = [];
  try {
    for (const q of plan.searches) {
      const it = store.scan(q, { from: opts.from, to: opts.to, pageSize: opts.pageSize ?? 2000 });
      const first = await it.next();
      heads.push({ it, cur: first.done ? undefined : first.value });
    }
    const less = (a: [number, string], b: [number, string]) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
    for (;;) {
      let best: Head | undefined;
      for (const h of heads) if (h.cur && (!best || less(h.cur.sort, best.cur!.sort))) best = h;
      if (!best) return;
      const { event, sort } = best.cur!;
      yield event;
      // Advance every search standing on this event (the same event found by several searches).
      for (const h of heads) {
        if (h.cur && h.cur.sort[0] === sort[0] && h.cur.sort[1] === sort[1]) {
          const n = await h.it.next();
          h.cur = n.done ? undefined : n.value;
        }
      }
    }
  } finally {
    for (const h of heads) await h.it.return(undefined);
  }
}

/** What a hunt reads when the config names an engine backend. */
export interface EngineHuntSource {
  /** The events to run through the rule engine, oldest first. */
  events: AsyncIterable<EcsEvent>;
  plan: HuntPlan;
  close(): Promise<void>;
}

/**
 * For `xiangan rules hunt --config FILE`: when the config's `storage.backend` is Elasticsearch or
 * OpenSearch, open that store and plan the hunt; `undefined` for SQLite (the caller replays the
 * data directory, `dataDir`).
 *
 * @example
 * ```ts
 * const src = await engineHuntSource('xiangan.yaml', process.cwd(), rules, builtinPipeline('ecs'), { from, to });
 * ```
 */
export async function engineHuntSource(
  configFile: string,
  cwd: string,
  rules: readonly LoadedRule[],
  pipeline: Pipeline,
  range: HuntOptions,
): Promise<(EngineHuntSource & { dataDir?: undefined }) | { dataDir: string }> {
  const { loadConfig } = await import('../config/load.js');
  const cfg = loadConfig({ file: configFile, cwd });
  if (cfg.storage.backend === 'sqlite') return { dataDir: cfg.data };
  const { openConfiguredEngine } = await import('./search-engine-open.js');
  const store = await openConfiguredEngine(cfg.storage.backend, cfg.storage.engine, cfg.storage.retentionDays);
  try {
    const plan = planHunt(rules, pipeline, await engineFieldTypes(store));
    return { events: huntEvents(store, plan, range), plan, close: () => store.close() };
  } catch (e) {
    await store.close();
    throw e;
  }
}
