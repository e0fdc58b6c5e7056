// Steps that grow while a backlog waits (store-worker.ts, `stepGrowth`) are prepared in chunks of
// at most the consumer's step size, and a step takes the chunks ready up to its grown size: every
// step within its events and bytes, every event once, in buffer order, with its integrity leaf.
// Real worker threads and SQLite files; the test holds events.db's write lock, so no timing decides
// what is read while a commit waits.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EcsEvent } from '@xiangan/collectors';
import { DurableBuffer, READ_MAX_BYTES } from '../src/buffer/durable.js';
import type { StepInfo } from '../src/pipeline/consumer.js';
import { RawFrame } from '../src/buffer/raw.js';
import { assertStoredOnceInOrder, chunkReads, syslogFrames, watchedWriter } from './worker-frames.js';

describe('grown steps', () => {
  test('with stepGrowth 2 a backlog is read in chunks of the consumer’s size and stored in steps of up to twice it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xa-steps-'));
    const buf = new DurableBuffer({ dir });
    const w = watchedWriter(dir, buf, { aheadSteps: 2, stepGrowth: 2 });
    const { writer } = w;
    const reads = chunkReads(writer);
    const sent: string[] = [];
    const append = async (from: number, n: number): Promise<void> => {
      const fs = syslogFrames(from, n);
      for (const f of fs) sent.push(f.ctx.eventId);
      await buf.append(fs as unknown as EcsEvent[]);
    };
    let lock: Database.Database | undefined;
    const steps: StepInfo[] = [];
    try {
      await append(0, 25);
      const a = await writer.write(0, 50);
      assert.equal(a?.written, 25);
      await a!.durable;
      // A backlog of ten batches of 25 (250 events): the first step reads 50 of them and finds more
      // waiting, so the steps after it may grow to 100. Its commit waits on the test's lock while
      // the reader prepares what follows (two grown steps ahead, 200 events).
      lock = new Database(join(dir, 'events.db'));
      lock.exec('BEGIN IMMEDIATE');
      for (let i = 0; i < 10; i++) await append(25 + 25 * i, 25);
      const b = writer.write(a!.lastSeq, 50);
      // The reader stops at its bound, two grown steps (200 events) past the first step's 50: the
      // whole backlog. Wait until it has read it all, so what each step finds ready is known.
      await reads.readAll(275, 0, 'the backlog was');
      lock.exec('COMMIT');
      lock.close();
      let info = await b;
      assert.equal(info?.written, 50, 'the first step at the consumer’s size');
      steps.push(info!);
      for (let n = 50; n < 250; n += info!.written) {
        info = await writer.write(info!.lastSeq, 50);
        assert.ok(info, 'a step was expected');
        steps.push(info);
      }
      await info!.durable;
      assert.equal(await writer.write(info!.lastSeq, 50), undefined, 'nothing left');
    } finally {
      if (lock?.open) lock.close();
      await writer.close();
      buf.close();
    }
    try {
      assert.deepEqual(
        steps.map((s) => s.written),
        [50, 100, 100],
        'after the first, steps of twice the consumer’s size',
      );
      for (const max of reads.asked) assert.ok(max <= 50, `a chunk read for ${max} events, more than the consumer’s 50`);
      assert.ok(reads.got.filter((n) => n > 0).length >= 6, 'the grown steps came from chunks of 50');
      assert.equal(sent.length, 275);
      assertStoredOnceInOrder(dir, sent);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a grown step stays within the buffer’s bytes per read', async () => {
    // Messages of ~60 kB: 100 of them (~6 MB) fit a step, 200 (~12 MB) do not, whatever the
    // step's events allow (2 × 4,000).
    const pad = 'lorem ipsum dolor sit amet '.repeat(2300).slice(0, 60_000);
    const dir = mkdtempSync(join(tmpdir(), 'xa-steps-bytes-'));
    const buf = new DurableBuffer({ dir });
    const w = watchedWriter(dir, buf, { aheadSteps: 2, stepGrowth: 2 });
    const { writer } = w;
    const sent: string[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const fs = syslogFrames(100 * i, 100).map((f) => {
          sent.push(f.ctx.eventId);
          return new RawFrame(Buffer.concat([Buffer.from(f.bytes), Buffer.from(` ${pad}`)]), f.ctx, 'auto');
        });
        await buf.append(fs as unknown as EcsEvent[]);
      }
      let after = 0;
      const sizes: number[] = [];
      for (let info = await writer.write(after, 4000); info; info = await writer.write(after, 4000)) {
        sizes.push(info.written);
        after = info.lastSeq;
        await info.durable;
      }
      // One batch is ~6 MB, two pass READ_MAX_BYTES: each batch a step of its own.
      assert.ok(2 * 100 * 60_000 > READ_MAX_BYTES);
      assert.deepEqual(sizes, [100, 100, 100, 100]);
    } finally {
      await writer.close();
      buf.close();
    }
    try {
      assertStoredOnceInOrder(dir, sent);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
