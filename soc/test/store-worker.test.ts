// The worker-thread writer with its prepare → store channel: real worker threads, real SQLite
// files (buffer.db and events.db). Prepared steps go from the prepare worker to the store
// worker directly; the main thread names the step to commit, so a step prepared ahead and then
// not used must never be stored in place of the one asked for.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EcsEvent } from '@xiangan/collectors';
import { DurableBuffer } from '../src/buffer/durable.js';
import { WorkerWriter } from '../src/pipeline/store-worker.js';
import { openSqliteStore } from '../src/storage/sqlite.js';
import { chunkReads } from './worker-frames.js';

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

  test('a step prepared ahead and not used is dropped; steps grow while a backlog waits and restart at the size asked', async () => {
    const dir = tmp();
    const buf = await buffered(dir, 8);
    const writer = new WorkerWriter({ dir, synchronous: 'normal', stepGrowth: 4 });
    const reads = chunkReads(writer);
    const ids = (info: { batches?: Array<{ data: string }> } | undefined) =>
      info!.batches!.flatMap((b) => b.data.split('\n')).map((d) => (JSON.parse(d) as EcsEvent).id);
    try {
      const first = await writer.write(0, 2);
      assert.deepEqual([first!.written, first!.duplicates], [2, 0]);
      assert.deepEqual(ids(first), ['sw-1', 'sw-2']);
      // The same position again (a retry after a failed detection hook): the step prepared
      // ahead (events 3 to 6) is not the one asked for, and is never stored in its place. The
      // test holds events.db's write lock until the reader has prepared events 3 to 6 again (in
      // chunks of the size asked, 2) beside the retry's commit, so what the next step finds ready
      // does not depend on timing (the lock must go within the store's 5 s busy timeout).
      const lock = new Database(join(dir, 'events.db'));
      let retry: Awaited<ReturnType<typeof writer.write>>;
      try {
        lock.exec('BEGIN IMMEDIATE');
        const from = reads.got.length;
        const pending = writer.write(0, 2);
        // Reads asked for from here on (a read of the dropped ahead may still finish meanwhile).
        await reads.readAll(6, from, 'the retry (2 events) and the 4 after it were');
        lock.exec('COMMIT');
        retry = await pending;
      } finally {
        lock.close();
      }
      assert.deepEqual([retry!.written, retry!.duplicates], [0, 2]);
      assert.deepEqual(ids(retry), ['sw-1', 'sw-2']);
      // Events waited behind the first step: the chunks prepared ahead make a step of twice the size.
      const second = await writer.write(retry!.lastSeq, 2);
      assert.deepEqual([second!.written, second!.duplicates], [4, 0]);
      assert.deepEqual(ids(second), ['sw-3', 'sw-4', 'sw-5', 'sw-6']);
      // Another step size than the one prepared ahead: prepared again at that size.
      const seventh = await writer.write(second!.lastSeq, 1);
      assert.deepEqual(ids(seventh), ['sw-7']);
      const eighth = await writer.write(seventh!.lastSeq, 1);
      assert.deepEqual(ids(eighth), ['sw-8']);
      assert.equal(await writer.write(eighth!.lastSeq, 1), undefined);
    } finally {
      await writer.close();
      buf.close();
    }
    const store = await openSqliteStore({ dir });
    const all = await store.search({ size: 10, sort: 'asc' });
    assert.deepEqual(all.events.map((e) => e.id), [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `sw-${i}`));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('by default every step has the size asked, backlog or not', async () => {
    const dir = tmp();
    const buf = await buffered(dir, 4);
    const writer = new WorkerWriter({ dir, synchronous: 'normal' });
    try {
      const sizes: number[] = [];
      for (let after = 0, info = await writer.write(0, 1); info; after = info.lastSeq, info = await writer.write(after, 1)) sizes.push(info.events);
      assert.deepEqual(sizes, [1, 1, 1, 1]);
    } finally {
      await writer.close();
      buf.close();
      rmSync(dir, { recursive: true, force: true });
    }
    assert.throws(() => new WorkerWriter({ dir, stepGrowth: 0 }), RangeError);
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
