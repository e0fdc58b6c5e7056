/**
 * The {@link EventStore} over a search engine: one implementation for Elasticsearch and
 * OpenSearch, which agree on every API used here (index templates, `_bulk` with `create`,
 * `_search` with `search_after` and `terms` aggregations, index deletion). The per-engine files
 * (`./elastic.ts`, `./opensearch.ts`) only wrap their official client as an {@link EngineTransport}.
 *
 * Layout: daily indices `<prefix>-events-YYYY.MM.DD` (the day is the UTC day of `@timestamp`, the
 * unit of retention, as SQLite's day tables), `_id` = event id and the `create` op type, so a
 * replayed batch answers 409 per known event and nothing is stored twice. Alerts, audit records and
 * dead letters have their own indices ({@link engineIndexNames}).
 */
import { ECS_FIELDS, type EcsEvent } from '@xiangan/collectors';
import { SocError } from '../errors.js';
import { toDsl, type DslQuery } from './dsl.js';
import { decodeCursor, encodeCursor, parseTime } from './sqlite.js';
import type { DeleteResult, EventStore, FacetBucket, SearchRequest, SearchResult, StoreStats, WriteResult } from './types.js';

/** One HTTP exchange with the engine. */
export interface EngineResponse {
  status: number;
  body: unknown;
}

/**
 * The little an engine client must provide: a request that resolves with any HTTP status (the
 * store reads the status itself) and rejects only when there was no answer (connection refused,
 * timeout).
 */
export interface EngineTransport {
  request(method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD', path: string, body?: unknown, ndjson?: string): Promise<EngineResponse>;
  close(): Promise<void>;
}

/** One document as written to the engine: its id, daily index and JSON text (the stored `_source`). */
export interface EngineDoc {
  id: string;
  index: string;
  json: string;
}

/**
 * Observer of acknowledged writes, for tamper evidence (`../integrity/engine.ts`): the documents
 * the engine created and those it answered 409 for. The write resolves after it and rejects when
 * it rejects, so the buffer keeps the batch and retries.
 */
export type EngineWriteHook = (created: readonly EngineDoc[], duplicates: readonly EngineDoc[]) => Promise<void>;

/** Options common to both engines. */
export interface SearchEngineStoreOptions {
  /** Index name prefix (lowercase); default `xiangan`. */
  prefix?: string;
  /**
   * Refresh policy of writes: `'wait_for'` (default) resolves a write once its events are
   * searchable, as SQLite's commit is; `false` leaves it to the refresh interval (faster ingest).
   */
  refresh?: 'wait_for' | false;
  /** Replicas per index; default 0 for one node, set 1 on a cluster. */
  replicas?: number;
  /** Primary shards per daily index; default 1. */
  shards?: number;
  /** Attempts for items answered 429/5xx before the write rejects; default 5. */
  maxAttempts?: number;
  /** First backoff delay in ms (doubled each attempt, full jitter); default 100. */
  backoffMs?: number;
  /**
   * How long the engine may wait for an unavailable shard before it answers an item 503
   * (`_bulk?timeout=`); default 10,000 ms. Keep it below the client's request timeout: the
   * engine's own default (1 min) lets the client time out first, and the write then fails with a
   * bare "Request timed out" instead of the index and reason (e.g. a red daily index whose only
   * started copy was on a node that left).
   */
  bulkTimeoutMs?: number;
  /** Random source for jitter (tests pass a fixed one). */
  random?: () => number;
  /** Clock for events whose `@timestamp` does not parse. */
  now?: () => number;
  /**
   * `index.refresh_interval` of new event indices; default `'1s'`. A longer interval (`'30s'`)
   * makes bulk ingest cheaper (fewer, larger segments) at the cost of events becoming searchable
   * later; writes with `refresh: 'wait_for'` still resolve once searchable.
   */
  refreshInterval?: string;
  /**
   * Sort each event index by `@timestamp` then `id`, descending (index sorting): the newest-first
   * searches stop early instead of visiting every match. Costs some ingest speed; default `false`.
   */
  indexSort?: boolean;
  /**
   * How far searches count matches: `true` (default) counts them all, so `total` is exact as on
   * SQLite; a number stops counting there (`total` is then at least that number when reached),
   * which lets a sorted index end a search after the first page instead of visiting every match.
   */
  trackTotalHits?: true | number;
}

/** The index names a store with this prefix uses. */
export interface EngineIndexNames {
  /** Pattern over all daily event indices. */
  eventsPattern: string;
  /** The daily event index of a UTC day `YYYY-MM-DD`. */
  events(day: string): string;
  /** Alerts (owned by the alerts component). */
  alerts: string;
  /** Audit records (owned by the audit component). */
  audit: string;
  /** Events the engine refused with a 4xx mapping error, with the reason. */
  deadLetter: string;
}

/**
 * Index names for a prefix.
 *
 * @example
 * ```ts
 * engineIndexNames('xiangan').events('2026-11-28'); // 'xiangan-events-2026.11.28'
 * engineIndexNames('xiangan').alerts;              // 'xiangan-alerts'
 * ```
 */
export function engineIndexNames(prefix = 'xiangan'): EngineIndexNames {
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(prefix)) throw new RangeError('index prefix must be lowercase letters, digits, - or _');
  return {
    eventsPattern: `${prefix}-events-*`,
    events: (day: string) => {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new RangeError(`not a day: ${day}`);
      return `${prefix}-events-${day.replaceAll('-', '.')}`;
    },
    alerts: `${prefix}-alerts`,
    audit: `${prefix}-audit`,
    deadLetter: `${prefix}-deadletter`,
  };
}

/**
 * Mappings derived from collectors' `ECS_FIELDS`: `keyword` for exact fields, `text` for
 * `message`, `ip`, `date`, `long`; `object` namespaces map dynamically, strings in them as
 * keyword (dynamic template) so they filter and facet like SQLite's JSON values.
 *
 * @example
 * ```ts
 * ecsMappings().properties; // { '@timestamp': { type: 'date' }, message: { type: 'text' }, … }
 * ```
 */
export function ecsMappings(): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const [path, spec] of Object.entries(ECS_FIELDS)) {
    const parts = path.split('.');
    let node = properties;
    for (const p of parts.slice(0, -1)) {
      const next = (node[p] ??= { properties: {} }) as { properties?: Record<string, unknown> };
      next.properties ??= {};
      node = next.properties;
    }
    const leaf = parts.at(-1)!;
    if (spec.type === 'object') node[leaf] = { type: 'object', dynamic: true, ...(node[leaf] as object | undefined) };
    else {
      const m: Record<string, unknown> = { type: spec.type };
      if (spec.type === 'keyword') m['ignore_above'] = 8191;
      if (spec.index === false) m['index'] = false;
      node[leaf] = m;
    }
  }
  properties['id'] = { type: 'keyword' };
  return {
    dynamic: true,
    // An unknown string is a keyword (exact match, facets), as SQLite compares JSON text exactly.
    dynamic_templates: [{ strings_as_keyword: { match_mapping_type: 'string', mapping: { type: 'keyword', ignore_above: 8191 } } }],
    properties,
  };
}

const MAX_PAGE = 10_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface BulkItem {
  status: number;
  error?: { type?: string; reason?: string };
}

/** Outcome of a write to a search engine: {@link WriteResult} plus events moved to the dead-letter index. */
export interface EngineWriteResult extends WriteResult {
  /**
   * Events refused by the engine (4xx other than 409) and stored in the dead-letter index; counted
   * in `written`. Present only when non-zero, so a clean write has the plain {@link WriteResult} shape.
   */
  deadLettered?: number;
}

/**
 * {@link EventStore} over Elasticsearch or OpenSearch; construct through `openElasticStore` or
 * `openOpenSearchStore`.
 *
 * @example
 * ```ts
 * const store = await openElasticStore({ node: 'http://127.0.0.1:9200' });
 * await store.write(events);
 * const page = await store.search({ query: parseQuery('user.name:root'), facets: ['source.ip'] });
 * ```
 */
export class SearchEngineEventStore implements EventStore {
  readonly backend: string;
  readonly names: EngineIndexNames;
  private readonly t: EngineTransport;
  private readonly refresh: 'wait_for' | false;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly bulkTimeout: string;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly trackTotalHits: true | number;
  private writeHook: EngineWriteHook | undefined;
  private closed = false;

  constructor(backend: string, transport: EngineTransport, opts: SearchEngineStoreOptions = {}) {
    this.backend = backend;
    this.t = transport;
    this.names = engineIndexNames(opts.prefix ?? 'xiangan');
    this.refresh = opts.refresh ?? 'wait_for';
    this.maxAttempts = opts.maxAttempts ?? 5;
    this.backoffMs = opts.backoffMs ?? 100;
    const bulkTimeoutMs = opts.bulkTimeoutMs ?? 10_000;
    if (!Number.isInteger(bulkTimeoutMs) || bulkTimeoutMs < 1) throw new RangeError('bulkTimeoutMs must be a positive integer');
    this.bulkTimeout = `${bulkTimeoutMs}ms`;
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.trackTotalHits = opts.trackTotalHits ?? true;
    if (this.trackTotalHits !== true && !(Number.isInteger(this.trackTotalHits) && this.trackTotalHits >= 0)) throw new RangeError('trackTotalHits must be true or a non-negative integer');
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) throw new RangeError('maxAttempts must be a positive integer');
  }

  /**
   * Install the index template (and the lifecycle policy where the cluster has ILM/ISM). Called by
   * the `open*Store` functions; idempotent.
   */
  async init(opts: SearchEngineStoreOptions = {}, retentionDays = 180): Promise<{ lifecycle: boolean }> {
    const settings: Record<string, unknown> = { number_of_shards: opts.shards ?? 1, number_of_replicas: opts.replicas ?? 0, refresh_interval: opts.refreshInterval ?? '1s' };
    if (opts.indexSort) Object.assign(settings, { 'sort.field': ['@timestamp', 'id'], 'sort.order': ['desc', 'desc'] });
    const template = { index_patterns: [this.names.eventsPattern], priority: 100, template: { settings, mappings: ecsMappings() } };
    const r = await this.call('PUT', `/_index_template/${this.names.eventsPattern.replace('-*', '')}`, template);
    if (r.status >= 300) throw new SocError('SOC_ERR_STORE_OPEN', `index template refused (${r.status}): ${reason(r.body)}`);
    const dl = await this.call('PUT', `/${this.names.deadLetter}`, {
      settings: { number_of_shards: 1, number_of_replicas: opts.replicas ?? 0 },
      mappings: { dynamic: false, properties: { id: { type: 'keyword' }, index: { type: 'keyword' }, status: { type: 'long' }, reason: { type: 'text' }, at: { type: 'date' }, event: { type: 'keyword', index: false, doc_values: false } } },
    });
    if (dl.status >= 300 && !/already_exists/.test(JSON.stringify(dl.body))) throw new SocError('SOC_ERR_STORE_OPEN', `dead-letter index refused (${dl.status}): ${reason(dl.body)}`);
    return { lifecycle: await this.installLifecycle(retentionDays) };
  }

  /**
   * Retention by the engine when it can: an ILM policy (Elasticsearch) or ISM policy (OpenSearch)
   * deleting event indices `retentionDays` after creation. The integration-test distributions
   * (docs/adr/0002) have neither: then `false`, and Xiangan's retention job calls
   * {@link deleteBefore}, which drops whole daily indices.
   */
  private async installLifecycle(retentionDays: number): Promise<boolean> {
    const name = `${this.names.eventsPattern.replace('-*', '')}-retention`;
    if (this.backend === 'elasticsearch') {
      const r = await this.call('PUT', `/_ilm/policy/${name}`, { policy: { phases: { delete: { min_age: `${retentionDays}d`, actions: { delete: {} } } } } });
      return r.status < 300;
    }
    const r = await this.call('PUT', `/_plugins/_ism/policies/${name}`, {
      policy: {
        description: 'Xiangan event retention',
        default_state: 'hot',
        states: [
          { name: 'hot', actions: [], transitions: [{ state_name: 'delete', conditions: { min_index_age: `${retentionDays}d` } }] },
          { name: 'delete', actions: [{ delete: {} }], transitions: [] },
        ],
        ism_template: [{ index_patterns: [this.names.eventsPattern], priority: 100 }],
      },
    });
    return r.status < 300 || r.status === 409;
  }

  private check(): void {
    if (this.closed) throw new SocError('SOC_ERR_STORE_CLOSED', 'event store is closed');
  }

  /** The engine connection, for components that keep indices of their own (the integrity index). */
  get transport(): EngineTransport {
    return this.t;
  }

  /** Set (or with `undefined` remove) the {@link EngineWriteHook} called after every write. */
  onWrite(hook: EngineWriteHook | undefined): void {
    this.writeHook = hook;
  }

  private async call(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown, ndjson?: string): Promise<EngineResponse> {
    return this.t.request(method, path, body, ndjson);
  }

  private dayOf(ev: EcsEvent): string {
    let ts = Date.parse(ev['@timestamp']);
    if (!Number.isFinite(ts)) ts = Date.parse(String(ev.event?.ingested)) || this.now();
    return new Date(ts).toISOString().slice(0, 10);
  }

  /**
   * Store events through `_bulk` with the `create` op. Items answered 409 are duplicates; 429 and
   * 5xx items are retried alone with exponential backoff and full jitter; other 4xx items (mapping
   * errors) go to the dead-letter index with the engine's reason. Rejects with
   * `SOC_ERR_STORE_WRITE` when the engine is unreachable or still failing after the last attempt,
   * so the buffer keeps the batch and retries (back-pressure); a retry is safe (idempotent by id).
   */
  async write(events: readonly EcsEvent[]): Promise<EngineWriteResult> {
    this.check();
    if (!Array.isArray(events)) throw new TypeError('write: events must be an array');
    for (const ev of events) if (!ev || typeof ev.id !== 'string' || ev.id === '') throw new TypeError('write: every event needs a string id');
    return this.writeDocs(events.map((ev) => ({ id: ev.id, index: this.names.events(this.dayOf(ev)), json: JSON.stringify(ev) })));
  }

  /**
   * {@link write} for events already serialised as JSON (the durable buffer's documents): each
   * document goes into the `_bulk` body as it is, never parsed and serialised again. Its id and
   * day are read from the leading `{"id":…,"@timestamp":…` that the normaliser writes (one
   * anchored regular expression); a document in another shape is parsed once.
   */
  async writeSerialised(docs: readonly string[]): Promise<EngineWriteResult> {
    this.check();
    if (!Array.isArray(docs)) throw new TypeError('writeSerialised: docs must be an array of JSON strings');
    const out: BulkDoc[] = new Array(docs.length);
    for (let i = 0; i < docs.length; i++) {
      const json = docs[i]!;
      if (typeof json !== 'string') throw new TypeError('writeSerialised: every doc must be a JSON string');
      const k = docHead(json);
      let id: string | undefined;
      let ts: string | undefined;
      if (k && Number.isFinite(Date.parse(k[1]))) [id, ts] = k;
      else {
        const ev = JSON.parse(json) as Partial<EcsEvent> | null;
        id = ev?.id;
        ts = ev?.['@timestamp'];
        if (!Number.isFinite(Date.parse(String(ts)))) ts = String(ev?.event?.ingested);
      }
      if (typeof id !== 'string' || id === '') throw new TypeError('writeSerialised: every event needs a string id');
      out[i] = { id, index: this.names.events(this.dayOfTime(ts)), json };
    }
    return this.writeDocs(out);
  }

  private dayOfTime(ts: string | undefined): string {
    let t = Date.parse(String(ts));
    if (!Number.isFinite(t)) t = this.now();
    return new Date(t).toISOString().slice(0, 10);
  }

  private async writeDocs(docs: readonly BulkDoc[]): Promise<EngineWriteResult> {
    let pending = docs.map((_, i) => i);
    const out: EngineWriteResult = { written: 0, duplicates: 0 };
    const dead: Array<{ i: number; item: BulkItem }> = [];
    const created: BulkDoc[] = [];
    const duplicates: BulkDoc[] = [];
    for (let attempt = 1; pending.length > 0; attempt++) {
      let body = '';
      for (const i of pending) {
        const d = docs[i]!;
        body += `{"create":{"_index":"${d.index}","_id":${JSON.stringify(d.id)}}}\n${d.json}\n`;
      }
      let items: BulkItem[];
      try {
        items = await this.bulk(body, pending.length);
      } catch (e) {
        if (attempt >= this.maxAttempts || !(e instanceof RetryableError)) {
          throw new SocError('SOC_ERR_STORE_WRITE', `${this.backend} bulk write failed: ${(e as Error).message}`, { cause: e });
        }
        await this.backoff(attempt);
        continue;
      }
      const retry: number[] = [];
      let refusal = '';
      items.forEach((item, k) => {
        const i = pending[k]!;
        if (item.status === 200 || item.status === 201) {
          out.written++;
          created.push(docs[i]!);
        } else if (item.status === 409) {
          out.duplicates++;
          duplicates.push(docs[i]!);
        }
        else if (item.status === 429 || item.status >= 500) {
          retry.push(i);
          refusal ||= `${docs[i]!.index} ${item.status} ${item.error?.type ?? 'error'}: ${item.error?.reason ?? ''}`;
        }
        else dead.push({ i, item });
      });
      if (retry.length > 0 && attempt >= this.maxAttempts) {
        throw new SocError('SOC_ERR_STORE_WRITE', `${this.backend}: ${retry.length} events still refused (429/5xx) after ${attempt} attempts, e.g. ${refusal}`);
      }
      pending = retry;
      if (retry.length > 0) await this.backoff(attempt);
    }
    if (dead.length > 0) {
      await this.deadLetter(dead.map(({ i, item }) => ({ doc: docs[i]!, item })));
      out.written += dead.length;
      out.deadLettered = dead.length;
    }
    if (this.writeHook) await this.writeHook(created, duplicates);
    return out;
  }

  private async backoff(attempt: number): Promise<void> {
    // Full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"): spreads retries of
    // many writers hitting the same overloaded node.
    await sleep(this.random() * this.backoffMs * 2 ** (attempt - 1));
  }

  private async bulk(body: string, items: number): Promise<BulkItem[]> {
    const q = `?timeout=${this.bulkTimeout}${this.refresh ? '&refresh=wait_for' : ''}`;
    let r: EngineResponse;
    try {
      r = await this.call('POST', `/_bulk${q}`, undefined, body);
    } catch (e) {
      throw new RetryableError((e as Error).message, { cause: e });
    }
    if (r.status === 429 || r.status >= 500) throw new RetryableError(`_bulk answered ${r.status}: ${reason(r.body)}`);
    if (r.status >= 300) throw new Error(`_bulk answered ${r.status}: ${reason(r.body)}`);
    const res = r.body as { items?: Array<Record<string, BulkItem>> };
    if (!Array.isArray(res.items) || res.items.length !== items) throw new RetryableError('_bulk answer does not match the request');
    return res.items.map((it) => Object.values(it)[0]!);
  }

  /** Refused events are kept with the reason, never dropped (`index` op with the event id: a retry overwrites). */
  private async deadLetter(list: Array<{ doc: BulkDoc; item: BulkItem }>): Promise<void> {
    const lines: string[] = [];
    const at = new Date(this.now()).toISOString();
    for (const { doc, item } of list) {
      lines.push(JSON.stringify({ index: { _index: this.names.deadLetter, _id: doc.id } }));
      lines.push(JSON.stringify({ id: doc.id, index: doc.index, status: item.status, reason: `${item.error?.type ?? 'error'}: ${item.error?.reason ?? ''}`, at, event: doc.json }));
    }
    let items: BulkItem[];
    try {
      items = await this.bulk(lines.join('\n') + '\n', list.length);
    } catch (e) {
      throw new SocError('SOC_ERR_STORE_WRITE', `${this.backend}: dead-letter write failed: ${(e as Error).message}`, { cause: e });
    }
    const bad = items.filter((it) => it.status >= 300);
    if (bad.length > 0) throw new SocError('SOC_ERR_STORE_WRITE', `${this.backend}: dead-letter index refused ${bad.length} events: ${bad[0]!.error?.reason ?? bad[0]!.status}`);
  }

  async search(req: SearchRequest): Promise<SearchResult> {
    this.check();
    const size = req.size ?? 50;
    if (!Number.isInteger(size) || size < 0 || size > MAX_PAGE) throw new RangeError(`search: size must be an integer in 0..${MAX_PAGE}`);
    const offset = req.offset ?? 0;
    if (!Number.isInteger(offset) || offset < 0) throw new RangeError('search: offset must be a non-negative integer');
    const order = req.sort ?? 'desc';
    if (order !== 'asc' && order !== 'desc') throw new RangeError("search: sort must be 'asc' or 'desc'");
    const cursor = req.cursor !== undefined ? decodeCursor(req.cursor, order) : undefined;
    const filter: DslQuery[] = [toDsl(req.query ?? { kind: 'all' })];
    const ts: Record<string, unknown> = {};
    if (req.from !== undefined) ts['gte'] = parseTime(req.from, 'from');
    if (req.to !== undefined) ts['lt'] = parseTime(req.to, 'to');
    if (Object.keys(ts).length) filter.push({ range: { '@timestamp': { ...ts, format: 'epoch_millis' } } });
    if (offset + size > MAX_PAGE && !cursor) throw new RangeError(`search: offset + size must stay within ${MAX_PAGE}; use the cursor`);
    const aggs: Record<string, unknown> = {};
    const facetNames = req.facets ?? [];
    facetNames.forEach((f, k) => {
      if (!/^[A-Za-z_@][A-Za-z0-9_.@-]*$/.test(f)) throw new SocError('SOC_ERR_QUERY', `facet: '${f}' is not a field name`);
      aggs[`f${k}`] = { terms: { field: f, size: req.facetSize ?? 10, order: [{ _count: 'desc' }, { _key: 'asc' }] } };
    });
    const body: Record<string, unknown> = {
      query: { bool: { filter } },
      size,
      track_total_hits: this.trackTotalHits,
      sort: [{ '@timestamp': { order } }, { id: { order } }],
      ...(cursor ? { search_after: [cursor.ts, cursor.id] } : { from: offset }),
      ...(facetNames.length ? { aggs } : {}),
    };
    const r = await this.call('POST', `/${this.names.eventsPattern}/_search?ignore_unavailable=true&allow_no_indices=true`, body).catch((e: Error) => {
      throw new SocError('SOC_ERR_STORE_WRITE', `${this.backend} unreachable: ${e.message}`, { cause: e });
    });
    if (r.status >= 300) throw new SocError('SOC_ERR_QUERY', `${this.backend} refused the search (${r.status}): ${reason(r.body)}`);
    const res = r.body as {
      hits: { total: { value: number }; hits: Array<{ _source: EcsEvent; sort: [number | string, string] }> };
      aggregations?: Record<string, { buckets: Array<{ key: string | number; key_as_string?: string; doc_count: number }> }>;
    };
    const hits = res.hits.hits;
    const facets: Record<string, FacetBucket[]> = {};
    facetNames.forEach((f, k) => {
      facets[f] = (res.aggregations?.[`f${k}`]?.buckets ?? []).map((b) => ({ value: facetValue(b), count: b.doc_count }));
    });
    const out: SearchResult = { total: res.hits.total.value, events: hits.map((h) => h._source), facets };
    const last = hits.at(-1);
    if (last && hits.length === size) out.nextCursor = encodeCursor(order, Number(last.sort[0]), String(last.sort[1]));
    return out;
  }

  /**
   * One request to the engine, for the engine helpers of this directory (hunts, correlation
   * aggregations, the alert store); resolves with any HTTP status, rejects when there was no answer.
   */
  async request(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown, ndjson?: string): Promise<EngineResponse> {
    this.check();
    return this.call(method, path, body, ndjson);
  }

  /**
   * Every event matching a Query DSL clause with `@timestamp` in [`from`, `to`), oldest first
   * (then by id), in `search_after` pages of `pageSize`: memory stays bounded whatever the count.
   *
   * @example
   * ```ts
   * for await (const { event } of store.scan({ term: { 'user.name': 'root' } }, { from: '2026-11-01T00:00:00Z' })) …;
   * ```
   */
  async *scan(query: DslQuery, opts: { from?: string; to?: string; pageSize?: number } = {}): AsyncGenerator<{ event: EcsEvent; sort: [number, string] }> {
    this.check();
    const size = opts.pageSize ?? 2000;
    if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE) throw new RangeError(`scan: pageSize must be an integer in 1..${MAX_PAGE}`);
    const filter: DslQuery[] = [query];
    const ts: Record<string, unknown> = {};
    if (opts.from !== undefined) ts['gte'] = parseTime(opts.from, 'from');
    if (opts.to !== undefined) ts['lt'] = parseTime(opts.to, 'to');
    if (Object.keys(ts).length) filter.push({ range: { '@timestamp': { ...ts, format: 'epoch_millis' } } });
    let after: [number, string] | undefined;
    for (;;) {
      const body = { query: { bool: { filter } }, size, track_total_hits: false, sort: [{ '@timestamp': { order: 'asc' } }, { id: { order: 'asc' } }], ...(after ? { search_after: after } : {}) };
      const r = await this.call('POST', `/${this.names.eventsPattern}/_search?ignore_unavailable=true&allow_no_indices=true`, body).catch((e: Error) => {
        throw new SocError('SOC_ERR_STORE_WRITE', `${this.backend} unreachable: ${e.message}`, { cause: e });
      });
      if (r.status >= 300) throw new SocError('SOC_ERR_QUERY', `${this.backend} refused the search (${r.status}): ${reason(r.body)}`);
      const hits = (r.body as { hits: { hits: Array<{ _source: EcsEvent; sort: [number, string] }> } }).hits.hits;
      for (const h of hits) yield { event: h._source, sort: [Number(h.sort[0]), String(h.sort[1])] };
      if (hits.length < size) return;
      after = hits[hits.length - 1]!.sort;
    }
  }

  async get(id: string): Promise<EcsEvent | undefined> {
    this.check();
    if (typeof id !== 'string') throw new TypeError('get: id must be a string');
    const r = await this.call('POST', `/${this.names.eventsPattern}/_search?ignore_unavailable=true&allow_no_indices=true`, { query: { ids: { values: [id] } }, size: 1 });
    if (r.status >= 300) throw new SocError('SOC_ERR_QUERY', `${this.backend} refused get (${r.status}): ${reason(r.body)}`);
    return (r.body as { hits: { hits: Array<{ _source: EcsEvent }> } }).hits.hits[0]?._source;
  }

  /** Event indices with their day and document count, oldest first. */
  private async days(): Promise<Array<{ day: string; index: string; events: number }>> {
    await this.call('POST', `/${this.names.eventsPattern}/_refresh?ignore_unavailable=true&allow_no_indices=true`);
    const r = await this.call('GET', `/_cat/indices/${this.names.eventsPattern}?format=json&h=index,docs.count&expand_wildcards=open`);
    if (r.status === 404) return [];
    if (r.status >= 300) throw new SocError('SOC_ERR_QUERY', `${this.backend} refused _cat/indices (${r.status}): ${reason(r.body)}`);
    const base = this.names.eventsPattern.slice(0, -1);
    return (r.body as Array<{ index: string; 'docs.count': string }>)
      .filter((x) => x.index.startsWith(base) && /^\d{4}\.\d{2}\.\d{2}$/.test(x.index.slice(base.length)))
      .map((x) => ({ day: x.index.slice(base.length).replaceAll('.', '-'), index: x.index, events: Number(x['docs.count']) }))
      .sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
  }

  /** Drops every daily event index strictly before `day` (whole indices, never delete-by-query). */
  async deleteBefore(day: string): Promise<DeleteResult> {
    this.check();
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new RangeError(`deleteBefore: not a day: ${day}`);
    const gone = (await this.days()).filter((d) => d.day < day);
    for (const g of gone) {
      const r = await this.call('DELETE', `/${g.index}`);
      if (r.status >= 300 && r.status !== 404) throw new SocError('SOC_ERR_STORE_WRITE', `${this.backend}: cannot delete ${g.index} (${r.status}): ${reason(r.body)}`);
    }
    return { days: gone.map((g) => g.day), events: gone.reduce((a, g) => a + g.events, 0) };
  }

  async stats(): Promise<StoreStats> {
    this.check();
    const days = (await this.days()).filter((d) => d.events > 0);
    return { backend: this.backend, events: days.reduce((a, d) => a + d.events, 0), days: days.map(({ day, events }) => ({ day, events })) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.t.close();
  }
}

class RetryableError extends Error {}

/** One event ready for `_bulk`: its id, target index and JSON document. */
type BulkDoc = EngineDoc;

// The normaliser builds every event as `{ id, '@timestamp', … }`, so JSON.stringify puts both
// first; anchored at the opening brace, the match can only be the top-level keys. Escaped ids or
// times (a backslash) fall back to JSON.parse.
const HEAD = /^\{"id":"([^"\\]+)","@timestamp":"([^"\\]*)"/;

/** `[id, @timestamp]` from the head of a serialised event, or `undefined` when it has another shape. */
export function docHead(json: string): [string, string] | undefined {
  const m = HEAD.exec(json);
  return m ? [m[1]!, m[2]!] : undefined;
}

function facetValue(b: { key: string | number; key_as_string?: string }): string | number | boolean {
  if (typeof b.key === 'number' && b.key_as_string !== undefined && (b.key_as_string === 'true' || b.key_as_string === 'false')) return b.key_as_string === 'true';
  return b.key;
}

function reason(body: unknown): string {
  const e = (body as { error?: { reason?: string; type?: string } | string } | undefined)?.error;
  if (typeof e === 'string') return e;
  return e?.reason ?? e?.type ?? JSON.stringify(body)?.slice(0, 200) ?? '';
}

/**
 * Wrap a client's request function as an {@link EngineTransport}, build the store and install its
 * template and lifecycle policy; closes the client when that fails. Shared by the two adapters.
 *
 * @example
 * ```ts
 * const store = await openEngine('opensearch', 'http://127.0.0.1:9200', (m, p, b, nd) => …, () => client.close(), opts);
 * ```
 */
export async function openEngine(
  backend: 'elasticsearch' | 'opensearch',
  where: string | string[],
  request: EngineTransport['request'],
  close: () => Promise<void>,
  opts: SearchEngineStoreOptions & { retentionDays?: number },
): Promise<SearchEngineEventStore> {
  const store = new SearchEngineEventStore(backend, { request, close }, opts);
  try {
    await store.init(opts, opts.retentionDays);
  } catch (e) {
    await close();
    if (e instanceof SocError) throw e;
    throw new SocError('SOC_ERR_STORE_OPEN', `cannot reach ${backend} at ${String(where)}: ${(e as Error).message}`, { cause: e });
  }
  return store;
}
