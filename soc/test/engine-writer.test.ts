// The pipelined buffer → engine writer (search-engine-open.ts) without an engine: a fake store
// records the `_bulk` slices it is given, how many run at once, and fails on demand. Checks that
// requests overlap up to `inFlight`, that acknowledgements stay in buffer order, that a failure
// of any request is retried from the acknowledged position without losing events, and the
// `flushBytes` cut. The same writer against real nodes: engine-outage and engine-cluster tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EcsEvent } from '@xiangan/collectors';
import { DurableBuffer } from '../src/buffer/durable.js';
import { StoreConsumer, type StepInfo } from '../src/pipeline/consumer.js';
import { docHead, type SearchEngineEventStore } from '../src/storage/search-engine.js';
import { engineWriter } from '../src/storage/search-engine-open.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function events(k: number, n: number): EcsEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `w-${k}-${i}`,
    '@timestamp': new Date(Date.UTC(2026, 10, 28, 0, k, i % 60)).toISOString(),
    message: `m ${k} ${i}`,
    event: { ingested: new Date(Date.UTC(2026, 10, 28)).toISOString() },
  }));
}

class FakeStore {
  running = 0;
  maxRunning = 0;
  calls: string[][] = [];
  stored = new Set<string>();
  failNext = 0;
  /** Calls (1-based, in the order made) that fail whatever `failNext` says. */
  failCalls = new Set<number>();
  async writeSerialised(docs: readonly string[]) {
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    this.calls.push([...docs]);
    const call = this.calls.length;
    try {
      // Later slices finish first sometimes: acknowledgement order must not follow them.
      await sleep(call % 2 ? 30 : 5);
      if (this.failCalls.has(call) || this.failNext > 0) {
        if (!this.failCalls.has(call)) this.failNext--;
        throw new Error('engine away');
      }
      let written = 0;
      let duplicates = 0;
      for (const d of docs) {
        const id = docHead(d)![0];
        if (this.stored.has(id)) duplicates++;
        else {
          this.stored.add(id);
          written++;
        }
      }
      return { written, duplicates };
    } finally {
      this.running--;
    }
  }
}

async function withBuffer(fn: (buffer: DurableBuffer) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'xa-ew-'));
  const buffer = new DurableBuffer({ dir });
  try {
    await fn(buffer);
  } finally {
    buffer.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Stores the buffer through the engine writer (two requests in flight, 80-event reads, retries
 * after at most 20 ms) until it is empty; returns the failures the consumer saw.
 */
async function drainRetrying(buffer: DurableBuffer, store: FakeStore, onStored: (info: StepInfo) => void): Promise<number> {
  let errors = 0;
  const consumer = new StoreConsumer({
    buffer,
    writer: engineWriter(buffer, store as unknown as SearchEngineEventStore, Date.now, { inFlight: 2 }),
    batchEvents: 80,
    maxBackoffMs: 20,
    onError: () => errors++,
    onStored,
  });
  consumer.start();
  await consumer.drain();
  await consumer.stop();
  return errors;
}

test('docHead reads id and @timestamp from the normaliser’s key order, and nothing else', () => {
  assert.deepEqual(docHead('{"id":"a1","@timestamp":"2026-11-28T00:00:00.000Z","x":1}'), ['a1', '2026-11-28T00:00:00.000Z']);
  assert.equal(docHead('{"@timestamp":"2026-11-28T00:00:00.000Z","id":"a1"}'), undefined);
  assert.equal(docHead('{"id":"a\\"1","@timestamp":"t"}'), undefined);
  assert.equal(docHead('{"x":{"id":"a1","@timestamp":"t"}}'), undefined);
});

test('engineWriter keeps inFlight requests running and acknowledges in buffer order', async () => {
  await withBuffer(async (buffer) => {
    for (let k = 0; k < 20; k++) await buffer.append(events(k, 50));
    const store = new FakeStore();
    const acked: number[] = [];
    const consumer = new StoreConsumer({
      buffer,
      writer: engineWriter(buffer, store as unknown as SearchEngineEventStore, Date.now, { inFlight: 3 }),
      batchEvents: 100,
      onStored: (info) => acked.push(info.lastSeq),
    });
    consumer.start();
    await consumer.drain();
    await consumer.stop();
    assert.equal(store.stored.size, 1000);
    assert.equal(store.maxRunning, 3);
    assert.deepEqual(acked, [...acked].sort((a, b) => a - b), 'acknowledged in order');
    assert.equal(new Set(acked).size, acked.length);
    assert.equal(buffer.depth, 0);
  });
});

test('a failed request is retried from the acknowledged position: nothing lost, duplicates counted', async () => {
  await withBuffer(async (buffer) => {
    for (let k = 0; k < 12; k++) await buffer.append(events(k, 40));
    const store = new FakeStore();
    let written = 0;
    let duplicates = 0;
    let armed = false;
    const errors = await drainRetrying(buffer, store, (info) => {
      written += info.written;
      duplicates += info.duplicates;
      // Fail a request in the middle of the stream, twice.
      if (written === 160 && !armed) {
        armed = true;
        store.failNext = 2;
      }
    });
    assert.ok(errors >= 1, 'the failure reached the consumer');
    assert.equal(store.stored.size, 480, 'every event stored');
    // The acknowledged steps cover the buffer once, in order: each event is counted once, as
    // written or, when a request of the dropped queue stored it before the retry, as a duplicate.
    assert.equal(written + duplicates, 480, 'each event counted once');
    assert.equal(buffer.depth, 0);
  });
});

test('a request stored ahead of a failed one is counted as duplicates when the retry stores it again', async () => {
  await withBuffer(async (buffer) => {
    for (let k = 0; k < 4; k++) await buffer.append(events(k, 40));
    const store = new FakeStore();
    // Call 1 (events 0-79) fails after 30 ms; call 2 (80-159) is stored after 5 ms, before the retry.
    store.failCalls.add(1);
    const steps: Array<[number, number]> = [];
    const errors = await drainRetrying(buffer, store, (info) => steps.push([info.written, info.duplicates]));
    assert.equal(errors, 1);
    assert.equal(store.stored.size, 160);
    assert.deepEqual(steps, [[80, 0], [0, 80]]);
    assert.equal(buffer.depth, 0);
  });
});

test('flushBytes cuts a read into several requests of whole buffer batches', async () => {
  await withBuffer(async (buffer) => {
    for (let k = 0; k < 6; k++) await buffer.append(events(k, 20));
    const store = new FakeStore();
    const bytes = buffer.readAfter(0, 20)[0]!.data.length;
    const consumer = new StoreConsumer({
      buffer,
      writer: engineWriter(buffer, store as unknown as SearchEngineEventStore, Date.now, { inFlight: 1, flushBytes: bytes * 2 }),
      batchEvents: 1000,
    });
    consumer.start();
    await consumer.drain();
    await consumer.stop();
    assert.deepEqual(store.calls.map((c) => c.length), [40, 40, 40]);
    assert.equal(store.stored.size, 120);
  });
});

test('engineWriter rejects bad options', () => {
  assert.throws(() => engineWriter({} as DurableBuffer, {} as SearchEngineEventStore, Date.now, { inFlight: 0 }), RangeError);
  assert.throws(() => engineWriter({} as DurableBuffer, {} as SearchEngineEventStore, Date.now, { flushBytes: 0 }), RangeError);
});
