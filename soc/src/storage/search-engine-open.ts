/**
 * The engine backends as the server runs them: open the store named by the `storage` config
 * section, and the buffer → engine writer of the consumer (the write rejects while the engine is
 * away, so the consumer keeps the batch buffered and retries: back-pressure, nothing lost).
 */
import { readFileSync } from 'node:fs';
import type { EcsEvent } from '@xiangan/collectors';
import { batchDocs, type DurableBuffer } from '../buffer/durable.js';
import { receiptLatencies, type BatchWriter } from '../pipeline/consumer.js';
import { openElasticStore } from './elastic.js';
import { openOpenSearchStore } from './opensearch.js';
import type { SearchEngineEventStore } from './search-engine.js';

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
 * A consumer writer that stores buffered batches in an engine store (one `_bulk` per step).
 *
 * @example
 * ```ts
 * new StoreConsumer({ buffer, writer: engineWriter(buffer, store) });
 * ```
 */
export function engineWriter(buffer: DurableBuffer, store: SearchEngineEventStore, now: () => number = Date.now): BatchWriter {
  return async (afterSeq, maxEvents) => {
    const batches = buffer.readAfter(afterSeq, maxEvents);
    if (batches.length === 0) return undefined;
    const events = batchDocs(batches).map((d) => JSON.parse(d) as EcsEvent);
    const t0 = performance.now();
    const res = await store.write(events);
    return {
      written: res.written,
      duplicates: res.duplicates,
      ms: performance.now() - t0,
      receiptToStoredMs: receiptLatencies(events, now()),
      lastSeq: batches[batches.length - 1]!.seq,
      events: events.length,
      oldestAppendedAt: batches[0]!.appendedAt,
    };
  };
}
