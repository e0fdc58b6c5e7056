/**
 * The few engine requests the alert store and the notification outbox make, with their errors
 * mapped to `SOC_ERR_STORE_WRITE` (the detector's batch stays buffered and is retried; an API
 * call answers 503).
 */
import { SocError } from '../errors.js';
import type { SearchEngineEventStore } from '../storage/search-engine.js';

/** An engine answer (the body as the engine sent it). */
export interface EngineAnswer {
  status: number;
  // The engines' response shapes are wide and version-dependent; callers read the fields they use.
  body: any;
}

/** One `_bulk` item's result. */
export interface BulkItem {
  status: number;
  _seq_no?: number;
  _primary_term?: number;
}

/** Requests on the event store's connection, for the documents beside the events. */
export class EngineIo {
  constructor(
    private readonly s: SearchEngineEventStore,
    private readonly what: string,
  ) {}

  get backend(): string {
    return this.s.backend;
  }

  /** A request whose status must be < 300 or one of `ok`. */
  async req(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown, ok: number[] = []): Promise<EngineAnswer> {
    let r;
    try {
      r = await this.s.request(method, path, body);
    } catch (e) {
      throw new SocError('SOC_ERR_STORE_WRITE', `${this.what}: ${this.backend} unreachable: ${(e as Error).message}`, { cause: e });
    }
    if (r.status >= 300 && !ok.includes(r.status)) {
      throw new SocError('SOC_ERR_STORE_WRITE', `${this.what}: ${this.backend} answered ${r.status} to ${method} ${path.split('?')[0]}: ${JSON.stringify(r.body).slice(0, 300)}`);
    }
    return r as EngineAnswer;
  }

  /** Create an index with these field mappings (no dynamic fields); an existing one is kept. */
  async ensureIndex(index: string, properties: Record<string, unknown>): Promise<void> {
    const r = await this.s.request('PUT', `/${index}`, { settings: { number_of_shards: 1, refresh_interval: '1s' }, mappings: { dynamic: false, properties } });
    if (r.status >= 300 && !/already_exists/.test(JSON.stringify(r.body))) throw new SocError('SOC_ERR_STORE_OPEN', `${this.what}: index ${index} refused (${r.status}): ${JSON.stringify(r.body).slice(0, 200)}`);
  }

  async search<T>(index: string, body: Record<string, unknown>): Promise<{ total: number; hits: Array<{ _id: string; _source: T; _seq_no?: number; _primary_term?: number; sort?: unknown[] }> }> {
    const r = await this.req('POST', `/${index}/_search`, body);
    return { total: r.body.hits.total?.value ?? 0, hits: r.body.hits.hits };
  }

  /** `_bulk` of action/document lines; one result per action. `refresh: false` leaves visibility to the refresh interval. */
  async bulk(lines: unknown[], refresh: 'wait_for' | false = 'wait_for'): Promise<BulkItem[]> {
    if (!lines.length) return [];
    const nd = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
    let r;
    try {
      r = (await this.s.request('POST', `/_bulk${refresh ? `?refresh=${refresh}` : ''}`, undefined, nd)) as EngineAnswer;
    } catch (e) {
      throw new SocError('SOC_ERR_STORE_WRITE', `${this.what}: ${this.backend} unreachable: ${(e as Error).message}`, { cause: e });
    }
    if (r.status >= 300) throw new SocError('SOC_ERR_STORE_WRITE', `${this.what}: _bulk answered ${r.status}`);
    return (r.body.items as Array<Record<string, BulkItem>>).map((it) => Object.values(it)[0]!);
  }

  /**
   * Delete the documents matching a query: search then `_bulk` delete, page by page. Not
   * `_delete_by_query`, which lives in the reindex module that minimal distributions leave out.
   */
  async deleteMatching(index: string, query: Record<string, unknown>): Promise<number> {
    let n = 0;
    for (;;) {
      const hits = (await this.req('POST', `/${index}/_search`, { size: 1000, query, _source: false })).body.hits.hits as Array<{ _id: string }>;
      if (!hits.length) return n;
      const res = await this.bulk(hits.map((h) => ({ delete: { _index: index, _id: h._id } })));
      const done = res.filter((r) => r.status === 200 || r.status === 404).length;
      // A page nothing could be deleted from would come back forever.
      if (done === 0) throw new SocError('SOC_ERR_STORE_WRITE', `${this.what}: ${this.backend} deleted none of ${hits.length} documents of ${index}`);
      n += res.filter((r) => r.status === 200).length;
      // The bulk waits for a refresh, so the next search no longer sees these.
      if (hits.length < 1000) return n;
    }
  }
}
