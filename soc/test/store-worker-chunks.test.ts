// A step prepared in chunks (store-worker.ts, `Ahead`): while the store worker commits one step,
// the batches appended meanwhile are prepared as chunks of the next, which is committed as one.
// Real worker threads and SQLite files; the expectation is what preparing the same batches as
// one step gives (a differential check), and the store must hold every event once, in buffer
// order, with its integrity leaf.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EcsEvent } from '@xiangan/collectors';
import { DurableBuffer, readBatchesAfter, bufferPath } from '../src/buffer/durable.js';
import { StoreConsumer } from '../src/pipeline/consumer.js';
import { Preparer, plainBatches, preparedDocs, type PreparedStep } from '../src/pipeline/prepare.js';
import { WorkerWriter, concatSteps } from '../src/pipeline/store-worker.js';
import { leafHashText } from '../src/integrity/merkle.js';
import { readDayLeaves } from '../src/integrity/leaves.js';
import { T0, assertStoredOnceInOrder, frameAppender, lockedSecondStep, syslogFrames, watchedWriter } from './worker-frames.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'xa-chunks-'));
/** An HTTP-ingested event (a documents batch in the buffer). */
function doc(i: number): EcsEvent {
  return { id: `chunk-doc-${i}`, '@timestamp': new Date(T0 + i).toISOString(), message: `posted ${i}`, event: { ingested: new Date(T0 + i).toISOString() } };
}

describe('a step prepared in chunks', () => {
  test('chunks joined are the step prepared at once: columns, documents, leaf hashes, counters, positions', async () => {
    const dir = tmp();
    const buf = new DurableBuffer({ dir });
    try {
      await buf.append(syslogFrames(0, 300) as unknown as EcsEvent[]);
      await buf.append([doc(1), doc(2)]);
      await buf.append(syslogFrames(300, 7) as unknown as EcsEvent[]);
      await buf.append(syslogFrames(307, 260) as unknown as EcsEvent[]);
      const db = new Database(bufferPath(dir), { readonly: true });
      const batches = readBatchesAfter(db, 0, 10_000);
      db.close();
      assert.equal(batches.length, 4);
      const whole = new Preparer('vendor', Date.now, true).prepare(batches)!;
      const chunked = new Preparer('vendor', Date.now, true);
      const parts = [batches.slice(0, 1), batches.slice(1, 3), batches.slice(3)].map((b) => chunked.prepare(b)!);
      const joined = concatSteps(parts);
      assert.equal(joined.count, 569);
      // The documents compare as text: the joined step's bytes are laid out chunk after chunk.
      const same = (s: PreparedStep): unknown => {
        const docs = preparedDocs(s);
        return { ...s, leafHashes: Buffer.from(s.leafHashes!), docs: Array.from({ length: docs.length }, (_, i) => docs.at(i)), batches: plainBatches(s.batches) };
      };
      assert.deepEqual(same(joined), same(whole));
      assert.equal(preparedDocs(joined).length, 569);
      assert.equal(concatSteps([whole]), whole, 'a single chunk is passed as it is');
    } finally {
      buf.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('appends during commits: every event stored once, in buffer order, with its leaf; detection sees each once', async () => {
    const dir = tmp();
    const buf = new DurableBuffer({ dir });
    const writer = new WorkerWriter({ dir, synchronous: 'full', chain: true });
    const seen: string[] = [];
    let written = 0;
    let duplicates = 0;
    const consumer = new StoreConsumer({
      buffer: buf,
      writer: (a, m) => writer.write(a, m),
      batchEvents: 400,
      afterWrite: async (info) => void seen.push(...info.batches!.flatMap((b) => b.data.split('\n'))),
      onStored: (info) => {
        written += info.written;
        duplicates += info.duplicates;
      },
    });
    const sent: string[] = [];
    try {
      consumer.start();
      // Small batches a few ms apart, as a paced sender makes them, so commits run while more arrive.
      for (let b = 0; b < 120; b++) {
        const fs = syslogFrames(b * 25, 25);
        for (const f of fs) sent.push(f.ctx.eventId);
        await buf.append(fs as unknown as EcsEvent[]);
        await new Promise((r) => setTimeout(r, 3));
      }
      await consumer.drain();
      await consumer.stop();
    } finally {
      await writer.close();
      buf.close();
    }
    try {
      assert.deepEqual([written, duplicates], [3000, 0]);
      assert.deepEqual(seen.map((d) => (JSON.parse(d) as EcsEvent).id), sent, 'detection: every stored document once, in buffer order');
      const db = new Database(join(dir, 'events.db'), { readonly: true });
      const leaves = readDayLeaves(db, '2026-11-29');
      db.close();
      assert.deepEqual(leaves.ids, sent, 'integrity leaves in buffer order');
      assert.deepEqual(Buffer.from(leaves.hashes), Buffer.concat(seen.map((d) => leafHashText(d))));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('chunks read while a commit waits for the write lock make one step: stored once, in order, with leaves', async () => {
    // The test holds events.db's write lock, so the store worker's commit of step B waits (its
    // busy timeout) while C and D are appended: the reader prepares each as a chunk of the next
    // step (seen through the waitForData calls, which name the position read so far), and once
    // the lock goes, the next write commits both chunks in one transaction. Nothing here depends
    // on timing: the commit cannot finish before the test lets it.
    const dir = tmp();
    const buf = new DurableBuffer({ dir });
    const w = watchedWriter(dir, buf);
    const { writer, readUpTo, readPast } = w;
    const sent: string[] = [];
    const append = frameAppender(buf, sent);
    let held: Awaited<ReturnType<typeof lockedSecondStep>> | undefined;
    try {
      // Step B is prepared and its commit waits for the lock; the reader then waits after B.
      held = await lockedSecondStep(dir, w, append, 400);
      const pb = held.b;
      const afterB = Math.max(...readUpTo);
      await append(50);
      await readPast(afterB);
      const afterC = Math.max(...readUpTo);
      await append(75);
      await readPast(afterC);
      held.release();
      const b = await pb;
      assert.deepEqual([b?.written, b?.lastSeq], [25, afterB]);
      const cd = await writer.write(b!.lastSeq, 400);
      assert.equal(cd?.written, 50, 'chunks C and D in one step');
      await cd!.durable;
      assert.equal(await writer.write(cd!.lastSeq, 400), undefined, 'nothing left');
    } finally {
      held?.release();
      await writer.close();
      buf.close();
    }
    try {
      assert.equal(sent.length, 100);
      assertStoredOnceInOrder(dir, sent);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
