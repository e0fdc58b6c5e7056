// The cluster-down case of issue 6 on a real Elasticsearch node of its own (port 19210, so the
// shared test engines stay up): events stream through the durable buffer and the consumer into
// the node; the node is stopped for a while mid-stream and started again; every event must be
// stored exactly once. The issue asks for a 60 s outage; the default here is 20 s to keep the
// suite's time on the 2-core CI machine (XIANGAN_OUTAGE_SECONDS=60 runs the full one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EcsEvent } from '@xiangan/collectors';
import { DurableBuffer } from '../src/buffer/durable.js';
import { StoreConsumer } from '../src/pipeline/consumer.js';
import { openElasticStore } from '../src/storage/elastic.js';
import { engineWriter } from '../src/storage/search-engine-open.js';
import { startNode, stopNode, startNodeAsync } from './engine-env.js';

const NODE = 'xt-outage';
const PORT = 19210;
const OUTAGE_S = Number(process.env['XIANGAN_OUTAGE_SECONDS'] ?? 20);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function batch(k: number, n: number): EcsEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `o-${k}-${i}`,
    '@timestamp': new Date(Date.UTC(2026, 10, 27, 10) + (k * n + i) * 1000).toISOString(),
    message: `stream event ${k}/${i}`,
    event: { category: ['network'], outcome: 'success' },
    source: { ip: `10.9.${k % 256}.${i % 256}` },
  }));
}

test(`engine stopped for ${OUTAGE_S} s mid-stream: every event arrives exactly once`, { timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xa-outage-'));
  stopNode(NODE, true);
  startNode('es', NODE, PORT, 19310);
  const store = await openElasticStore({ node: `http://127.0.0.1:${PORT}`, prefix: 'outage', refresh: false, maxAttempts: 2, backoffMs: 50, requestTimeoutMs: 5000 });
  const buffer = new DurableBuffer({ dir });
  let failures = 0;
  const consumer = new StoreConsumer({ buffer, writer: engineWriter(buffer, store), batchEvents: 1000, maxBackoffMs: 1000, onError: () => failures++ });
  const BATCHES = 40;
  const PER = 250;
  try {
    consumer.start();
    let restarted: Promise<void> | undefined;
    for (let k = 0; k < BATCHES; k++) {
      await buffer.append(batch(k, PER));
      if (k === 10) {
        stopNode(NODE);
        // Keep producing while the node is away: the buffer holds the events (back-pressure).
        setTimeout(() => (restarted = startNodeAsync('es', NODE, PORT, 19310)), OUTAGE_S * 1000);
      }
      await sleep(k > 10 ? (OUTAGE_S * 1000) / 30 : 100);
    }
    while (!restarted) await sleep(200);
    await restarted;
    const deadline = Date.now() + 240_000;
    while (buffer.depth > 0 && Date.now() < deadline) await sleep(200);
    assert.equal(buffer.depth, 0, 'buffer drained after the restart');
    assert.ok(failures > 0, 'writes failed while the node was down (and were retried)');
    await fetch(`http://127.0.0.1:${PORT}/outage-events-*/_refresh`, { method: 'POST' });
    const res = await store.search({ size: 0 });
    assert.equal(res.total, BATCHES * PER, 'every event stored');
    // Exact: no id with two documents (a terms aggregation with min_doc_count 2 must be empty).
    const dup = (await (await fetch(`http://127.0.0.1:${PORT}/outage-events-*/_search`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ size: 0, aggs: { ids: { terms: { field: 'id', min_doc_count: 2, size: 10 } } } }),
    })).json()) as { aggregations: { ids: { buckets: unknown[] } } };
    assert.deepEqual(dup.aggregations.ids.buckets, [], 'no event stored twice');
  } finally {
    await consumer.stop();
    buffer.close();
    await store.close();
    stopNode(NODE, true);
    rmSync(dir, { recursive: true, force: true });
  }
});
