/**
 * Tamper evidence for events stored in Elasticsearch or OpenSearch. The leaf index of the
 * `events` stream lives in the engine, in an index of its own (`<prefix>-integrity`): one
 * document per stored batch and day (`ids` in order, `hashes` n × 32 bytes base64, `seq` 1, 2,
 * 3, … per day), as the SQLite backend keeps `il_YYYYMMDD` rows. The signed checkpoints stay in
 * the SOC's own `integrity/checkpoints.db`, apart from the engine, so whoever administers the
 * cluster can change neither the records nor their index without it showing.
 *
 * Order and crash consistency (the engine has no transaction across indices):
 * - Leaf documents are written one at a time (`create` with the id `stream:day:seq`), each after
 *   the events it covers were acknowledged by `_bulk`, so the leaves of a day are the
 *   concatenation of its documents in `seq` order, without gaps. Two SOCs on one prefix cannot
 *   take the same `seq`: the second `create` answers 409 and it re-reads the last one.
 * - A crash between the events' `_bulk` and their leaf document leaves stored events without a
 *   leaf; the buffer replays them (at-least-once), the engine answers 409, and the chain then
 *   looks the replayed ids up in the leaf index and gives a leaf to those that have none (their
 *   stored text is the buffered text the replay carries). Every other 409 already has its leaf.
 * - Records and leaves are hashed exactly as on SQLite: SM3(0x00 ‖ UTF-8 of the JSON text sent
 *   in `_bulk`, which the engine keeps as `_source`).
 */
import { base64ToBytes, bytesToBase64 } from '@xiangan/crypto';
import { SocError } from '../errors.js';
import type { EngineDoc, EngineIndexNames, EngineTransport, EngineWriteHook } from '../storage/search-engine.js';
import type { RecordDigests } from './digest.js';
import type { DayLeaves, LeafStore } from './leaves.js';
import { leafHashDoc, leafHashText } from './merkle.js';
import type { RecordSource } from './verify.js';

/** What the chain needs of an engine event store. */
export interface ChainableEngine {
  readonly backend: string;
  readonly names: EngineIndexNames;
  readonly transport: EngineTransport;
  onWrite(hook: EngineWriteHook | undefined): void;
}

/** The prefix of an engine store's indices (`<prefix>-events-*`). */
export function enginePrefix(names: EngineIndexNames): string {
  return names.eventsPattern.slice(0, -'-events-*'.length);
}

/** The index holding the leaf documents of a prefix. */
export function integrityIndex(prefix: string): string {
  return `${prefix}-integrity`;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
/** Leaf documents per search page (each holds up to a whole batch of ids and hashes). */
const LEAF_PAGE = 50;
/** Events per scroll page when verifying. */
const SCROLL_PAGE = 5000;

interface LeafDoc {
  stream: string;
  day: string;
  seq: number;
  count: number;
  ids: string[];
  hashes: string;
  at: string;
}

function fail(what: string, r: { status: number; body: unknown }): never {
  const e = (r.body as { error?: { reason?: string; type?: string } | string } | undefined)?.error;
  const why = typeof e === 'string' ? e : (e?.reason ?? e?.type ?? JSON.stringify(r.body)?.slice(0, 200));
  throw new SocError('SOC_ERR_INTEGRITY', `${what} (${r.status}): ${why}`);
}

async function call(t: EngineTransport, what: string, method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  try {
    return await t.request(method, path, body);
  } catch (e) {
    throw new SocError('SOC_ERR_INTEGRITY', `${what}: the engine did not answer: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * The leaf index in the engine: reads for the checkpointer and verification ({@link LeafStore}
 * per stream), serialised appends for the write path.
 *
 * @example
 * const leaves = new EngineLeafIndex(store.transport, 'xiangan');
 * await new Checkpointer({ dir, identity, sources: [{ stream: 'events', leaves: leaves.store('events') }] }).run();
 */
export class EngineLeafIndex {
  readonly index: string;
  /** Next `seq` per `stream:day`, known after the first append or look-up. */
  private readonly next = new Map<string, number>();
  /** What the last read of each `stream:day` covered, so the next read fetches only newer documents. */
  private readonly readCache = new Map<string, { seq: number; count: number }>();
  private tail: Promise<unknown> = Promise.resolve();
  private ensured: Promise<void> | undefined;

  constructor(
    private readonly t: EngineTransport,
    prefix: string,
  ) {
    this.index = integrityIndex(prefix);
  }

  /** Create the index if it is missing (once per instance; the first append calls it). */
  ensure(): Promise<void> {
    this.ensured ??= this.create().catch((e: unknown) => {
      this.ensured = undefined;
      throw e;
    });
    return this.ensured;
  }

  private async create(): Promise<void> {
    const r = await call(this.t, 'integrity index', 'PUT', `/${this.index}`, {
      // One shard keeps `seq` order and refresh simple; a replica wherever a second node exists.
      settings: { number_of_shards: 1, auto_expand_replicas: '0-1', refresh_interval: '1s' },
      mappings: {
        dynamic: false,
        properties: {
          stream: { type: 'keyword' },
          day: { type: 'keyword' },
          seq: { type: 'long' },
          count: { type: 'integer' },
          // Looked up by id only when the buffer replays events the engine already holds.
          ids: { type: 'keyword', doc_values: false },
          hashes: { type: 'binary' },
          at: { type: 'date' },
        },
      },
    });
    if (r.status >= 300 && !/already_exists/.test(JSON.stringify(r.body))) fail(`cannot create ${this.index}`, r);
  }

  /** Make appended documents searchable now (before a look-up by id). */
  async refresh(): Promise<void> {
    const r = await call(this.t, 'integrity refresh', 'POST', `/${this.index}/_refresh`);
    // 404: no leaf written yet on this cluster (nothing to look up).
    if (r.status >= 300 && r.status !== 404) fail(`cannot refresh ${this.index}`, r);
  }

  private async lastSeq(stream: string, day: string): Promise<number> {
    const r = await call(this.t, 'integrity read', 'POST', `/${this.index}/_search`, {
      size: 1,
      query: { bool: { filter: [{ term: { stream } }, { term: { day } }] } },
      sort: [{ seq: 'desc' }],
      _source: ['seq'],
    });
    if (r.status === 404) return 0;
    if (r.status >= 300) fail(`cannot read ${this.index}`, r);
    const hit = (r.body as { hits: { hits: Array<{ _source: { seq: number } }> } }).hits.hits[0];
    return hit?._source.seq ?? 0;
  }

  /**
   * Append the leaves of one batch of a day (ids in commit order, hashes n × 32 bytes). Appends
   * run one at a time, in call order.
   */
  append(stream: string, day: string, ids: readonly string[], hashes: Uint8Array): Promise<void> {
    const run = async (): Promise<void> => {
      await this.ensure();
      const key = `${stream}:${day}`;
      for (let attempt = 0; ; attempt++) {
        const seq = this.next.get(key) ?? (await this.lastSeq(stream, day)) + 1;
        const doc: LeafDoc = { stream, day, seq, count: ids.length, ids: [...ids], hashes: bytesToBase64(hashes), at: new Date().toISOString() };
        const r = await call(this.t, 'integrity append', 'PUT', `/${this.index}/_create/${encodeURIComponent(`${key}:${seq}`)}`, doc).catch((e: unknown) => {
          // No answer: the document may or may not be there; read the last seq again next time.
          this.next.delete(key);
          throw e;
        });
        if (r.status === 409 && attempt < 5) {
          // Another writer took this seq (or an earlier append did, unanswered): read the last one again.
          await this.refresh();
          this.next.set(key, (await this.lastSeq(stream, day)) + 1);
          continue;
        }
        if (r.status >= 300) {
          this.next.delete(key);
          fail(`cannot append to ${this.index}`, r);
        }
        this.next.set(key, seq + 1);
        return;
      }
    };
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** Of `ids` (records of `day`), the ones that already have a leaf. */
  async withLeaves(stream: string, day: string, ids: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    if (ids.length === 0) return found;
    await this.refresh();
    const want = new Set(ids);
    // Each hit holds its whole batch of ids; intersect here.
    for await (const d of this.scan(stream, day, { terms: { ids: [...want] } })) for (const id of d.ids) if (want.has(id)) found.add(id);
    return found;
  }

  /** Leaf documents of a day in `seq` order, optionally only those after `afterSeq` or matching `extra`. */
  private async *scan(stream: string, day: string, extra?: object, afterSeq = 0): AsyncGenerator<LeafDoc> {
    let after: unknown[] | undefined;
    const filter: object[] = [{ term: { stream } }, { term: { day } }, { range: { seq: { gt: afterSeq } } }];
    if (extra) filter.push(extra);
    for (;;) {
      const r = await call(this.t, 'integrity read', 'POST', `/${this.index}/_search`, {
        size: LEAF_PAGE,
        query: { bool: { filter } },
        sort: [{ seq: 'asc' }],
        ...(after ? { search_after: after } : {}),
      });
      if (r.status === 404) return;
      if (r.status >= 300) fail(`cannot read ${this.index}`, r);
      const hits = (r.body as { hits: { hits: Array<{ _source: LeafDoc; sort: unknown[] }> } }).hits.hits;
      for (const h of hits) yield h._source;
      if (hits.length < LEAF_PAGE) return;
      after = hits[hits.length - 1]!.sort;
    }
  }

  /**
   * Days with leaves of a stream, ascending. Refreshes first, so that the reads that follow (the
   * checkpointer's, every interval) see every leaf document written so far.
   */
  async days(stream: string): Promise<string[]> {
    await this.refresh();
    const r = await call(this.t, 'integrity read', 'POST', `/${this.index}/_search`, {
      size: 0,
      query: { term: { stream } },
      aggs: { days: { terms: { field: 'day', size: 10_000, order: { _key: 'asc' } } } },
    });
    if (r.status === 404) return [];
    if (r.status >= 300) fail(`cannot read ${this.index}`, r);
    return (r.body as { aggregations: { days: { buckets: Array<{ key: string }> } } }).aggregations.days.buckets.map((b) => b.key).filter((d) => DAY.test(d));
  }

  /**
   * The leaves of a day from position `after` on. Documents are read in `seq` order; one whose
   * `ids` and `hashes` disagree in length yields what both hold (the root then mismatches). Where
   * the last read of the day ended at `after` (the checkpointer reads from the end of its tree
   * every interval), only the documents after it are fetched.
   */
  async read(stream: string, day: string, after = 0): Promise<DayLeaves> {
    const key = `${stream}:${day}`;
    const last = this.readCache.get(key);
    const start = last && last.count === after ? last : { seq: 0, count: 0 };
    let { seq, count } = start;
    const ids: string[] = [];
    const parts: Uint8Array[] = [];
    for await (const d of this.scan(stream, day, undefined, seq)) {
      const bytes = base64ToBytes(typeof d.hashes === 'string' ? d.hashes : '');
      const list = Array.isArray(d.ids) ? d.ids : [];
      const n = Math.min(list.length, Math.floor(bytes.length / 32));
      for (let i = 0; i < n; i++) ids.push(String(list[i]));
      parts.push(bytes.subarray(0, 32 * n));
      count += n;
      seq = d.seq;
    }
    this.readCache.set(key, { seq, count });
    const skip = Math.max(0, after - start.count);
    return { from: after, ids: ids.slice(skip), hashes: concatBytes(parts).subarray(32 * skip) };
  }

  /**
   * Drop the leaf documents of whole days (retention, after their deletion records are signed):
   * found by day and deleted by id through `_bulk` (`_delete_by_query` lives in a module that
   * minimal distributions leave out).
   */
  async dropDays(stream: string, days: readonly string[]): Promise<void> {
    for (const day of days) {
      let body = '';
      for await (const d of this.scan(stream, day)) body += `{"delete":{"_index":"${this.index}","_id":${JSON.stringify(`${stream}:${day}:${d.seq}`)}}}\n`;
      if (body) {
        let r: { status: number; body: unknown };
        try {
          r = await this.t.request('POST', '/_bulk?refresh=true', undefined, body);
        } catch (e) {
          throw new SocError('SOC_ERR_INTEGRITY', `integrity retention: the engine did not answer: ${(e as Error).message}`, { cause: e });
        }
        if (r.status >= 300 || (r.body as { errors?: boolean }).errors === true) fail(`cannot drop ${day} from ${this.index}`, r);
      }
      this.next.delete(`${stream}:${day}`);
      this.readCache.delete(`${stream}:${day}`);
    }
  }

  /** The {@link LeafStore} of one stream. */
  store(stream: string): LeafStore {
    return { days: () => this.days(stream), read: (day, after) => this.read(stream, day, after) };
  }
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  if (parts.length === 0) return new Uint8Array(0);
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** `YYYY-MM-DD` of a daily event index name, or `undefined`. */
function dayOfIndex(names: EngineIndexNames, index: string): string | undefined {
  const base = names.eventsPattern.slice(0, -1);
  if (!index.startsWith(base)) return undefined;
  const d = index.slice(base.length).replaceAll('.', '-');
  return DAY.test(d) ? d : undefined;
}

/** Ids recently given a leaf, remembered for overlapping in-flight writes (bounded, oldest forgotten first). */
const RECENT_MAX = 200_000;

/**
 * Chains an engine store's writes: attach once, and every write that the store acknowledges has
 * its leaves appended before it resolves (a failure rejects the write, so the buffer retries it).
 *
 * @example
 * const chain = attachEngineChain(store);
 * new Checkpointer({ dir, identity, sources: [{ stream: 'events', leaves: chain.leaves.store('events') }] });
 */
export function attachEngineChain(store: ChainableEngine): { leaves: EngineLeafIndex; detach(): void } {
  const leaves = new EngineLeafIndex(store.transport, enginePrefix(store.names));
  const recent = new Set<string>();
  const remember = (id: string): void => {
    recent.add(id);
    if (recent.size > RECENT_MAX) recent.delete(recent.values().next().value!);
  };
  store.onWrite(async (created, duplicates) => {
    // Ids are claimed (in `recent`) the moment they are taken into this call, so that a write in
    // flight beside this one, seeing the same ids as 409s, does not give them a second leaf; a
    // failure releases them again, so the replay that follows gives them their leaf.
    const claimed: string[] = [];
    const perDay = new Map<string, EngineDoc[]>();
    const take = (d: EngineDoc): void => {
      const day = dayOfIndex(store.names, d.index);
      if (!day || recent.has(d.id)) return;
      remember(d.id);
      claimed.push(d.id);
      let list = perDay.get(day);
      if (!list) perDay.set(day, (list = []));
      list.push(d);
    };
    try {
      for (const d of created) take(d);
      // 409s: stored before. Only those without a leaf (a crash between events and leaves) get one.
      const dupByDay = new Map<string, EngineDoc[]>();
      for (const d of duplicates) {
        const day = dayOfIndex(store.names, d.index);
        if (!day || recent.has(d.id)) continue;
        let list = dupByDay.get(day);
        if (!list) dupByDay.set(day, (list = []));
        list.push(d);
      }
      for (const [day, list] of dupByDay) {
        const have = await leaves.withLeaves('events', day, list.map((d) => d.id));
        for (const d of list) if (!have.has(d.id)) take(d);
      }
      for (const [day, list] of perDay) {
        const hashes = new Uint8Array(32 * list.length);
        for (let i = 0; i < list.length; i++) hashes.set(leafHashText(list[i]!.json), 32 * i);
        await leaves.append('events', day, list.map((d) => d.id), hashes);
      }
    } catch (e) {
      for (const id of claimed) recent.delete(id);
      throw e;
    }
  });
  return { leaves, detach: () => store.onWrite(undefined) };
}

/**
 * The `events` source over an engine, for verification and proofs: days from the daily event
 * indices, each day's records read back with the scroll API (Elasticsearch and OpenSearch
 * alike), leaves from the integrity index. A document comes back parsed; it is hashed as
 * `JSON.stringify` of it, which reproduces the text that was stored (see verify.ts).
 *
 * @example
 * const src = engineEventSource(store.transport, store.names);
 */
export function engineEventSource(t: EngineTransport, names: EngineIndexNames, leaves = new EngineLeafIndex(t, enginePrefix(names))): RecordSource {
  return {
    stream: 'events',
    leaves: leaves.store('events'),
    async days() {
      // Make what is written searchable: the events first, then their leaf documents (written
      // after them), so that every event read has its leaf visible unless its write is in flight
      // (the leaf store's days() refreshes the leaf index after this).
      await call(t, 'event refresh', 'POST', `/${names.eventsPattern}/_refresh?ignore_unavailable=true&allow_no_indices=true`);
      const r = await call(t, 'event indices', 'GET', `/_cat/indices/${names.eventsPattern}?format=json&h=index&expand_wildcards=open`);
      if (r.status === 404) return [];
      if (r.status >= 300) fail('cannot list event indices', r);
      return (r.body as Array<{ index: string }>)
        .map((x) => dayOfIndex(names, x.index))
        .filter((d): d is string => d !== undefined)
        .sort();
    },
    async digests(day): Promise<RecordDigests> {
      const index = names.events(day);
      const ids: string[] = [];
      let hashes = new Uint8Array(32 * SCROLL_PAGE);
      let r = await call(t, 'event scroll', 'POST', `/${index}/_search?scroll=2m`, { size: SCROLL_PAGE, sort: ['_doc'], query: { match_all: {} } });
      let scrollId: string | undefined;
      try {
        for (;;) {
          if (r.status === 404) break;
          if (r.status >= 300) fail(`cannot read ${index}`, r);
          const body = r.body as { _scroll_id?: string; hits: { hits: Array<{ _id: string; _source: unknown }> } };
          scrollId = body._scroll_id;
          const hits = body.hits.hits;
          if (hits.length === 0) break;
          if (hashes.length < 32 * (ids.length + hits.length)) {
            const grown = new Uint8Array(Math.max(hashes.length * 2, 32 * (ids.length + hits.length)));
            grown.set(hashes.subarray(0, 32 * ids.length));
            hashes = grown;
          }
          for (const h of hits) {
            hashes.set(leafHashDoc(JSON.stringify(h._source)), 32 * ids.length);
            ids.push(h._id);
          }
          r = await call(t, 'event scroll', 'POST', '/_search/scroll', { scroll: '2m', scroll_id: scrollId });
        }
      } finally {
        if (scrollId) await call(t, 'event scroll', 'DELETE', '/_search/scroll', { scroll_id: scrollId }).catch(() => undefined);
      }
      return { ids, hashes: hashes.subarray(0, 32 * ids.length) };
    },
    async document(day, id) {
      const r = await call(t, 'event read', 'GET', `/${names.events(day)}/_doc/${encodeURIComponent(id)}`);
      if (r.status === 404) return undefined;
      if (r.status >= 300) fail(`cannot read ${id}`, r);
      const body = r.body as { found?: boolean; _source?: unknown };
      return body.found === false || body._source === undefined ? undefined : JSON.stringify(body._source);
    },
  };
}
