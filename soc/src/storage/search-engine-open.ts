/**
 * The engine backends as the server runs them: open the store named by the `storage` config
 * section, and the buffer → engine writer of the consumer (the write rejects while the engine is
 * away, so the consumer keeps the batch buffered and retries: back-pressure, nothing lost).
 */
import { readFileSync } from 'node:fs';
import { batchDocs, type DurableBuffer } from '../buffer/durable.js';
import type { BatchWriter, StepInfo } from '../pipeline/consumer.js';
import { openElasticStore } from './elastic.js';
import { openOpenSearchStore } from './opensearch.js';
import type { SearchEngineEventStore } from './search-engine.js';
import type { EventStore } from './types.js';

/** The `storage.engine` config section (see soc/src/config/schema.ts). */
export interface EngineConfig {
  /** Node URLs of the cluster. */
  nodes: string[];
  /** Index name prefix. */
  prefix: string;
  username?: string;
  password?: string;
  /** Elasticsearch API key (base64 `id:key`). */
  apiKey?: string;
  /** PEM file of the CA that signed the cluster's HTTP certificates. */
  caFile?: string;
  /** Replicas per index (1 on a cluster of three or more). */
  replicas: number;
  shards: number;
  /** `wait_for`: a write resolves once searchable; `false`: faster, visible within the refresh interval. */
  refresh: 'wait_for' | false;
}

/**
 * Open the configured engine store.
 *
 * @example
 * ```ts
 * const store = await openConfiguredEngine('opensearch', { nodes: ['https://os1:9200'], prefix: 'xiangan', replicas: 1, shards: 1, refresh: 'wait_for' }, 180);
 * ```
 */
export async function openConfiguredEngine(backend: 'elasticsearch' | 'opensearch', c: EngineConfig, retentionDays: number): Promise<SearchEngineEventStore> {
  const tls = c.caFile ? { ca: readFileSync(c.caFile) } : undefined;
  const common = { node: c.nodes, prefix: c.prefix, replicas: c.replicas, shards: c.shards, refresh: c.refresh, retentionDays, ...(tls ? { tls } : {}) };
  const basic = c.username !== undefined ? { auth: { username: c.username, password: c.password ?? '' } } : {};
  if (backend === 'elasticsearch') return openElasticStore({ ...common, ...(c.apiKey ? { auth: { apiKey: c.apiKey } } : basic) });
  return openOpenSearchStore({ ...common, ...basic });
}

/**
 * The event store a config file names, for the CLI's `search` / `tail --config`: SQLite (read
 * only) in its data directory, or the Elasticsearch/OpenSearch cluster of `storage.engine`.
 *
 * @example
 * ```ts
 * const store = await openConfiguredStore('xiangan.yaml', process.cwd());
 * ```
 */
export async function openConfiguredStore(configFile: string, cwd: string): Promise<EventStore> {
  const { loadConfig } = await import('../config/load.js');
  const cfg = loadConfig({ file: configFile, cwd });
  if (cfg.storage.backend === 'sqlite') {
    const { openSqliteStore } = await import('./sqlite.js');
    return openSqliteStore({ dir: cfg.data, readonly: true });
  }
  return openConfiguredEngine(cfg.storage.backend, cfg.storage.engine, cfg.storage.retentionDays);
}

/** Options of {@link engineWriter}. */
export interface EngineWriterOptions {
  /**
   * `_bulk` requests kept in flight (each on its own connection); default 2. The consumer still
   * acknowledges in buffer order: a later request that finished first waits for the earlier ones.
   */
  inFlight?: number;
  /** Most bytes of documents per `_bulk` request (whole buffer batches; at least one); default 8 MiB. */
  flushBytes?: number;
}

interface Slot {
  after: number;
  lastSeq: number;
  done: boolean;
  p: Promise<StepInfo>;
}

const INGESTED = /"ingested":"([^"\\]*)"/;

/** Receipt → `t` per serialised event, from its `event.ingested` (the only ECS field of that name). */
function receiptLatenciesOf(docs: readonly string[], t: number): Float64Array {
  const out = new Float64Array(docs.length);
  for (let i = 0; i < docs.length; i++) {
    const m = INGESTED.exec(docs[i]!);
    out[i] = m ? t - Date.parse(m[1]!) : NaN;
  }
  return out;
}

/**
 * A consumer writer that stores buffered batches in an engine store, pipelined: while the
 * consumer waits for the oldest `_bulk`, up to `inFlight - 1` later ones are already on the wire,
 * each a slice of the buffer of at most `flushBytes`, sent as the buffer's JSON documents (never
 * parsed and re-serialised). The consumer acknowledges in order, so a failure of any request
 * rejects the step of the oldest unacknowledged slice, the queue is dropped and the consumer
 * retries from its acknowledged position: events that a later request had already stored come
 * back as duplicates (idempotent by id), nothing is lost.
 *
 * @example
 * ```ts
 * new StoreConsumer({ buffer, writer: engineWriter(buffer, store, Date.now, { inFlight: 2 }) });
 * ```
 */
export function engineWriter(buffer: DurableBuffer, store: SearchEngineEventStore, now: () => number = Date.now, opts: EngineWriterOptions = {}): BatchWriter {
  const inFlight = opts.inFlight ?? 2;
  const flushBytes = opts.flushBytes ?? 8 * 1024 * 1024;
  if (!Number.isInteger(inFlight) || inFlight < 1 || inFlight > 64) throw new RangeError('engineWriter: inFlight must be an integer in 1..64');
  if (!Number.isFinite(flushBytes) || flushBytes <= 0) throw new RangeError('engineWriter: flushBytes must be positive');
  let queue: Slot[] = [];
  let gen = 0;
  let maxEvents = 10_000;

  const launch = (after: number): Slot | undefined => {
    const batches = buffer.readAfter(after, maxEvents);
    if (batches.length === 0) return undefined;
    let bytes = 0;
    let k = 0;
    while (k < batches.length) {
      bytes += batches[k]!.data.length;
      k++;
      if (bytes >= flushBytes) break;
    }
    const take = k < batches.length ? batches.slice(0, k) : batches;
    const docs = batchDocs(take);
    const slot: Slot = { after, lastSeq: take[take.length - 1]!.seq, done: false, p: undefined as unknown as Promise<StepInfo> };
    const t0 = performance.now();
    slot.p = store.writeSerialised(docs).then((res) => ({
      written: res.written,
      duplicates: res.duplicates,
      ms: performance.now() - t0,
      receiptToStoredMs: receiptLatenciesOf(docs, now()),
      lastSeq: slot.lastSeq,
      events: docs.length,
      oldestAppendedAt: take[0]!.appendedAt,
    }));
    const mine = gen;
    // Keep the pipe full as soon as a request ends, not only when the consumer asks again.
    slot.p.then(
      () => {
        slot.done = true;
        if (mine === gen) fill();
      },
      () => {
        slot.done = true;
      },
    );
    return slot;
  };

  const fill = (): void => {
    try {
      // Bounded read-ahead: at most inFlight running, 2 × inFlight waiting for their acknowledgement.
      while (queue.length < 2 * inFlight && queue.filter((x) => !x.done).length < inFlight) {
        const last = queue[queue.length - 1];
        if (!last) return;
        const s = launch(last.lastSeq);
        if (!s) return;
        queue.push(s);
      }
    } catch {
      // The buffer was closed under a request that ended late; the consumer has stopped.
    }
  };

  return async (afterSeq, max) => {
    maxEvents = max;
    if (queue.length > 0 && queue[0]!.after !== afterSeq) {
      // A retry from the acknowledged position (or a restart): start over.
      queue = [];
      gen++;
    }
    if (queue.length === 0) {
      const s = launch(afterSeq);
      if (!s) return undefined;
      queue.push(s);
    }
    fill();
    const head = queue[0]!;
    try {
      const info = await head.p;
      if (queue[0] === head) queue.shift();
      return info;
    } catch (e) {
      queue = [];
      gen++;
      throw e;
    }
  };
}
