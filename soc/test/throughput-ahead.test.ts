// More than one step prepared ahead (store-worker.ts, `aheadSteps`): while the store worker
// commits one step, the prepare worker goes on past the next step's size, and the steps after it
// are committed from what it prepared, each within the consumer's size, every event once, in
// buffer order, with its integrity leaf. Real worker threads and SQLite files.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EcsEvent } from '@xiangan/collectors';
import { DurableBuffer } from '../src/buffer/durable.js';
import { RawFrame } from '../src/buffer/raw.js';
import { WorkerWriter } from '../src/pipeline/store-worker.js';
import { validateConfig } from '../src/config/load.js';
import { createLogger } from '../src/logger.js';
import { startServer } from '../src/server.js';
import { assertStoredOnceInOrder, frameAppender, lockedSecondStep, syslogFrames, watchedWriter } from './worker-frames.js';

/** Syslog frames of about `size` bytes each (large messages: the buffer's byte bound decides the step). */
function bigFrames(from: number, n: number, size: number): RawFrame[] {
  const pad = 'lorem ipsum dolor sit amet '.repeat(Math.ceil(size / 27)).slice(0, size);
  return syslogFrames(from, n).map((f) => new RawFrame(Buffer.concat([Buffer.from(f.bytes), Buffer.from(` ${pad}`)]), f.ctx, 'auto'));
}

describe('steps prepared ahead', () => {
  test('with aheadSteps 2 the reader goes a whole step past the next one while a commit waits; steps stay within their size', async () => {
    // The test holds events.db's write lock, so the commit of step B waits while C, D, E and F
    // (25 events each, steps of 50) are appended. The reader's waitForData calls name the
    // position read so far: with one step ahead it stops after D (50 events ready), with two it
    // reads E and F too. No timing decides the outcome: the commit cannot finish before the test
    // lets it, and each wait is for the reader to get somewhere (or 5 s, a failure).
    const dir = mkdtempSync(join(tmpdir(), 'xa-ahead-'));
    const buf = new DurableBuffer({ dir });
    const w = watchedWriter(dir, buf, { aheadSteps: 2 });
    const { writer, readUpTo, readPast } = w;
    const sent: string[] = [];
    const append = frameAppender(buf, sent);
    let held: Awaited<ReturnType<typeof lockedSecondStep>> | undefined;
    try {
      held = await lockedSecondStep(dir, w, append, 50);
      for (const from of [50, 75, 100, 125]) {
        const before = Math.max(...readUpTo);
        await append(from);
        // E and F lie past the next step's 50 events: read only when more than a step is ahead.
        await readPast(before);
      }
      held.release();
      const b = await held.b;
      assert.equal(b?.written, 25);
      const cd = await writer.write(b!.lastSeq, 50);
      assert.equal(cd?.written, 50, 'C and D in one step, at its size');
      const ef = await writer.write(cd!.lastSeq, 50);
      assert.equal(ef?.written, 50, 'E and F, prepared ahead, the step after');
      await ef!.durable;
      assert.equal(await writer.write(ef!.lastSeq, 50), undefined, 'nothing left');
    } finally {
      held?.release();
      await writer.close();
      buf.close();
    }
    try {
      assert.equal(sent.length, 150);
      assertStoredOnceInOrder(dir, sent);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('chunks of large messages: a step stays within the buffer’s bytes per read, as one read would', async () => {
    // As above, the commit of step B waits on the test's lock while C and D (100 messages of
    // ~60 kB each, 6 MB a batch) are prepared as chunks; both fit the steps' 4,000 events, but
    // together they pass READ_MAX_BYTES (8 MiB), so they are committed as two steps.
    const dir = mkdtempSync(join(tmpdir(), 'xa-ahead-bytes-'));
    const buf = new DurableBuffer({ dir });
    const w = watchedWriter(dir, buf, { aheadSteps: 2 });
    const { writer, readUpTo, readPast } = w;
    let held: Awaited<ReturnType<typeof lockedSecondStep>> | undefined;
    try {
      held = await lockedSecondStep(dir, w, frameAppender(buf, []), 4000);
      for (const from of [50, 150]) {
        const before = Math.max(...readUpTo);
        await buf.append(bigFrames(from, 100, 60_000) as unknown as EcsEvent[]);
        await readPast(before);
      }
      held.release();
      const b = await held.b;
      assert.equal(b?.written, 25);
      const c = await writer.write(b!.lastSeq, 4000);
      assert.equal(c?.written, 100, 'C alone: C and D together pass the bytes of one read');
      const d = await writer.write(c!.lastSeq, 4000);
      assert.equal(d?.written, 100);
      await d!.durable;
      assert.equal(await writer.write(d!.lastSeq, 4000), undefined, 'nothing left');
    } finally {
      held?.release();
      await writer.close();
      buf.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('aheadSteps must be a positive integer', () => {
    assert.throws(() => new WorkerWriter({ dir: tmpdir(), aheadSteps: 0 }), RangeError);
    assert.throws(() => new WorkerWriter({ dir: tmpdir(), aheadSteps: 1.5 }), RangeError);
  });
});

describe('prepare worker priority', () => {
  /** Nice values of this process's threads (Linux, /proc: field 19 of each task's stat). */
  const nices = (): number[] =>
    readdirSync('/proc/self/task').flatMap((t) => {
      try {
        const st = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
        return [Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[16])];
      } catch {
        return [];
      }
    });

  test('prepareNice adds to the prepare worker thread’s nice value, and only its', { skip: process.platform !== 'linux' }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xa-nice-'));
    const buf = new DurableBuffer({ dir });
    const writer = new WorkerWriter({ dir, synchronous: 'full', chain: true, prepareNice: 5 });
    try {
      // Added to the process's own value (the test may run niced), at most 19.
      const base = getPriority();
      const want = Math.min(19, base + 5);
      const before = nices().filter((n) => n === want).length;
      await buf.append(syslogFrames(0, 10) as unknown as EcsEvent[]);
      const a = await writer.write(0, 50);
      assert.equal(a?.written, 10);
      await a!.durable;
      if (want === base) return; // a process at 19 already: nothing to tell apart
      assert.equal(nices().filter((n) => n === want).length, before + 1, 'one thread more at the process value + 5: the prepare worker');
      assert.deepEqual([...new Set(nices().filter((n) => n !== want))], [base], 'every other thread at the process value');
    } finally {
      await writer.close();
      buf.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the server puts the prepare worker at +5 without detection, and leaves it at the process value with detection', { skip: process.platform !== 'linux' }, async () => {
    const token = 'throughput-ahead-token-0123456789';
    const want = Math.min(19, getPriority() + 5);
    // Nothing to tell apart in a process at 14 or more: the alerts checkpointer's thread (+10) is at 19 too.
    if (want === Math.min(19, getPriority() + 10)) return;
    for (const detection of [false, true]) {
      const dir = mkdtempSync(join(tmpdir(), 'xa-nice-server-'));
      const before = nices().filter((n) => n === want).length;
      const config = { data: dir, log: { level: 'silent' }, storage: { synchronous: 'normal' }, api: { port: 0, tokens: [token] }, syslog: { enabled: false }, alerts: { enabled: detection } };
      const srv = await startServer(validateConfig(config), { logger: createLogger({ level: 'silent' }) });
      try {
        // One event through the pipeline: stored, so the prepare worker has run (it sets its nice value first).
        const r = await fetch(`http://127.0.0.1:${srv.api.port}/api/v1/ingest`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson' },
          body: `${JSON.stringify({ '@timestamp': new Date().toISOString(), message: 'nice check' })}\n`,
        });
        assert.equal(r.status, 200);
        for (let i = 0; i < 600 && (await srv.runtime.store.stats()).events < 1; i++) await new Promise((res) => setTimeout(res, 25));
        assert.equal((await srv.runtime.store.stats()).events, 1, 'the event was not stored within 15 s');
        assert.equal(nices().filter((n) => n === want).length - before, detection ? 0 : 1, `detection ${detection}`);
      } finally {
        await srv.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});
