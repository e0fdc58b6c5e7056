/**
 * The backend-neutral event storage contract. SQLite (`./sqlite.ts`, the embedded default)
 * implements it now; Elasticsearch and OpenSearch implement the same interface, and one test suite
 * runs over every backend (DESIGN.md convention 8).
 *
 * Rules every backend keeps:
 * - **Idempotent by id.** `write` of an event whose `id` is already stored changes nothing and
 *   counts it in `duplicates`. Ids are deterministic (collectors' `eventId`), so a replay after a
 *   crash stores each event once. The day partition is derived from `@timestamp`, which is part of
 *   what the id is computed from, so the same id always lands in the same day.
 * - **Days are the unit of retention.** Events are partitioned by the UTC day of `@timestamp`
 *   (`YYYY-MM-DD`); `deleteBefore` drops whole days (a table, an index), never row by row.
 * - **Order is total.** Results sort by `@timestamp`, then by `id`, so a cursor never skips or
 *   repeats an event across pages.
 * - **No strings into query text.** Values from a {@link QueryNode} reach the engine only as bound
 *   parameters (SQL) or as JSON values (query DSL).
 *
 * @packageDocumentation
 */
import type { EcsEvent } from '@xiangan/collectors';
import type { QueryNode } from '../query/ast.js';

export type { QueryNode } from '../query/ast.js';

/** Outcome of {@link EventStore.write}. `written + duplicates === events.length`. */
export interface WriteResult {
  /** Events newly stored. */
  written: number;
  /** Events whose id was already stored (not changed). */
  duplicates: number;
}

/** Sort order of search results, by `@timestamp` then `id`. */
export type SortOrder = 'asc' | 'desc';

/**
 * One search. Every field is optional; `{}` returns the newest 50 events.
 *
 * @example
 * ```ts
 * const res = await store.search({
 *   query: parseQuery('source.ip:10.0.0.0/8 AND event.outcome:failure'),
 *   from: '2026-11-28T00:00:00Z', to: '2026-11-29T00:00:00Z',
 *   size: 100, facets: ['user.name', 'source.ip'],
 * });
 * for (const e of res.events) …;  const next = res.nextCursor;
 * ```
 */
export interface SearchRequest {
  /** Parsed query; absent or `{kind:'all'}` matches everything. */
  query?: QueryNode;
  /** Inclusive lower bound on `@timestamp` (ISO 8601). */
  from?: string;
  /** Exclusive upper bound on `@timestamp` (ISO 8601). */
  to?: string;
  /** Default `'desc'` (newest first). */
  sort?: SortOrder;
  /** Page size, 0–10,000; default 50. `0` returns only `total` and facets. */
  size?: number;
  /** Skip this many matches (for page numbers; prefer `cursor` for deep paging). */
  offset?: number;
  /**
   * Opaque `search_after` cursor from a previous {@link SearchResult.nextCursor} with the same
   * query and sort: the page starts right after the last event of that page. Overrides `offset`.
   */
  cursor?: string;
  /** Fields to count values of over all matches (not just the page). */
  facets?: string[];
  /** Most frequent values returned per facet field; default 10. */
  facetSize?: number;
}

/** One value of a facet field and how many matching events have it. */
export interface FacetBucket {
  value: string | number | boolean;
  count: number;
}

/** Outcome of {@link EventStore.search}. */
export interface SearchResult {
  /** Number of matching events in the time range (exact). */
  total: number;
  /** The page, in the requested order; full documents as written. */
  events: EcsEvent[];
  /** Field → buckets, most frequent first (ties by value), only for requested facets. */
  facets: Record<string, FacetBucket[]>;
  /** Present when more events may follow: pass as `cursor` to get the next page. */
  nextCursor?: string;
}

/** One day partition in {@link StoreStats}. */
export interface DayStats {
  /** `YYYY-MM-DD` (UTC). */
  day: string;
  events: number;
}

/** Outcome of {@link EventStore.stats}. */
export interface StoreStats {
  backend: string;
  events: number;
  days: DayStats[];
  /** Bytes on disk (or in the index) when the backend can tell. */
  bytes?: number;
}

/** Outcome of {@link EventStore.deleteBefore}. */
export interface DeleteResult {
  /** Day partitions removed, oldest first. */
  days: string[];
  /** Events removed with them. */
  events: number;
}

/**
 * Where normalised events are kept and searched.
 *
 * @example
 * ```ts
 * const store = await openSqliteStore({ dir: './data' });
 * await store.write(events);                       // { written, duplicates }
 * const page = await store.search({ query: parseQuery('user.name:root'), size: 20 });
 * await store.deleteBefore('2026-06-01');          // retention: whole days
 * await store.close();
 * ```
 */
export interface EventStore {
  /** `'sqlite'`, `'elasticsearch'`, `'opensearch'`. */
  readonly backend: string;
  /**
   * Store events; resolves when they are durable (committed). Idempotent by `id`.
   * Rejects with a typed error (`SOC_ERR_STORE_WRITE`) when the backend fails; then none or all
   * may have been stored and a retry of the same batch is safe.
   */
  write(events: readonly EcsEvent[]): Promise<WriteResult>;
  /** Run a search. Rejects with `SOC_ERR_QUERY` for a query the backend cannot run. */
  search(request: SearchRequest): Promise<SearchResult>;
  /** The stored event with this id, or `undefined`. */
  get(id: string): Promise<EcsEvent | undefined>;
  /** Drop every day partition strictly before `day` (`YYYY-MM-DD`, UTC). */
  deleteBefore(day: string): Promise<DeleteResult>;
  /** Counts per day. */
  stats(): Promise<StoreStats>;
  /** Release files and connections. Further calls reject. */
  close(): Promise<void>;
}

/** Default retention: the Cybersecurity Law of the PRC, Art. 21(3), asks for at least six months of network logs. */
export const DEFAULT_RETENTION_DAYS = 180;

/** The UTC day (`YYYY-MM-DD`) an ISO 8601 timestamp falls in; `undefined` if it does not parse. */
export function dayOf(timestamp: string): string | undefined {
  const t = Date.parse(timestamp);
  if (!Number.isFinite(t)) return undefined;
  return new Date(t).toISOString().slice(0, 10);
}
