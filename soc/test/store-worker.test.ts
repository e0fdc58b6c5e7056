// The worker-thread writer with its prepare → store channel: real worker threads, real SQLite
// files (buffer.db and events.db). Prepared steps go from the prepare worker to the store
// worker directly; the main thread names the step to commit, so a step prepared ahead and then
// not used must never be stored in place of the one asked for.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EcsEvent } from '@xiangan/collectors';
import { DurableBuffer } from '../src/buffer/durable.js';
import { WorkerWriter } from '../src/pipeline/store-worker.js';
import { openSqliteStore } from '../src/storage/sqlite.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'xa-sw-'));

function event(i: number): EcsEvent {
  return { id: `sw-${i}`, '@timestamp': `2026-11-28T02:00:0${i}.000Z`, message: `event number ${i}`, event: { ingested: '2026-11-28T02:00:10.000Z' } };
}

/** A buffer holding one batch per event (each append committed on its own). */
async function buffered(dir: string, n: number): Promise<DurableBuffer> {
  const buf = new DurableBuffer({ dir });
  for (let i = 1; i <= n; i++) await buf.append([event(i)]);
  assert.equal(buf.readAfter(0, 100).length, n, 'one buffer batch per event');
  return buf;
}

describe('worker writer (prepare → store channel)', () => {
  test('the stored documents reach the caller only when asked for', async () => {
    for (const documents of [true, false]) {
      const dir = tmp();
      const buf = await buffered(dir, 3);
      const writer = new WorkerWriter({ dir, synchronous: 'normal', documents });
      try {
        const info = await writer.write(0, 100);
        assert.ok(info);
        assert.equal(info.written, 3);
        assert.equal(info.events, 3);
        if (documents) {
          const docs = info.batches!.flatMap((b) => b.data.split('\n')).map((d) => JSON.parse(d) as EcsEvent);
          assert.deepEqual(docs, [1, 2, 3].map(event));
        } else {
          assert.equal(info.batches, undefined);
        }
        assert.equal(await writer.write(info.lastSeq, 100), undefined, 'nothing after the last batch');
      } finally {
        await writer.close();
        buf.close();
      }
      const store = await openSqliteStore({ dir });
      assert.equal((await store.search({ size: 0 })).total, 3);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a step prepared ahead and not used is dropped; retries and new sizes store the right batches', async () => {
    const dir = tmp();
    const buf = await buffered(dir, 6);
    const writer = new WorkerWriter({ dir, synchronous: 'normal' });
    const ids = (info: { batches?: Array<{ data: string }> } | undefined) =>
      info!.batches!.flatMap((b) => b.data.split('\n')).map((d) => (JSON.parse(d) as EcsEvent).id);
    try {
      const first = await writer.write(0, 2);
      assert.deepEqual([first!.written, first!.duplicates], [2, 0]);
      assert.deepEqual(ids(first), ['sw-1', 'sw-2']);
      // The same position again (a retry after a failed detection hook): the step prepared
      // ahead (events 3 and 4) is not the one asked for.
      const retry = await writer.write(0, 2);
      assert.deepEqual([retry!.written, retry!.duplicates], [0, 2]);
      assert.deepEqual(ids(retry), ['sw-1', 'sw-2']);
      const second = await writer.write(retry!.lastSeq, 2);
      assert.deepEqual([second!.written, second!.duplicates], [2, 0]);
      assert.deepEqual(ids(second), ['sw-3', 'sw-4']);
      // Another step size than the one prepared ahead: prepared again at that size.
      const rest = await writer.write(second!.lastSeq, 10);
      assert.deepEqual([rest!.written, rest!.duplicates], [2, 0]);
      assert.deepEqual(ids(rest), ['sw-5', 'sw-6']);
      assert.equal(await writer.write(rest!.lastSeq, 10), undefined);
    } finally {
      await writer.close();
      buf.close();
    }
    const store = await openSqliteStore({ dir });
    const all = await store.search({ size: 10, sort: 'asc' });
    assert.deepEqual(all.events.map((e) => e.id), ['sw-1', 'sw-2', 'sw-3', 'sw-4', 'sw-5', 'sw-6']);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a closed writer refuses writes', async () => {
    const dir = tmp();
    const writer = new WorkerWriter({ dir, synchronous: 'normal' });
    try {
      await writer.close();
      await assert.rejects(writer.write(0, 10), (e: { code?: string }) => e.code === 'SOC_ERR_STORE_CLOSED');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
