// Shared by the store-worker tests (store-worker-chunks, throughput-ahead, throughput-steps,
// store-worker): syslog frames as a TCP source hands them over, and a WorkerWriter whose chunk reader
// the test can wait for.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { eventId, type EcsEvent } from '@xiangan/collectors';
import type { DurableBuffer } from '../src/buffer/durable.js';
import { RawFrame } from '../src/buffer/raw.js';
import { readDayLeaves } from '../src/integrity/leaves.js';
import type { StepInfo } from '../src/pipeline/consumer.js';
import { WorkerWriter, type WorkerWriterOptions } from '../src/pipeline/store-worker.js';

export const T0 = Date.UTC(2026, 10, 29, 3, 0, 0);

/** Syslog frames as a TCP source hands them over (ids derived at receipt). */
export function syslogFrames(from: number, n: number): RawFrame[] {
  const peer = { address: '127.0.0.1', port: 40001 };
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const bytes = Buffer.from(`<38>Nov 29 11:00:${String(i % 60).padStart(2, '0')} bastion sshd[${1000 + i}]: Failed password for root from 10.1.${i % 7}.${i % 250} port ${40000 + i} ssh2`);
    const ctx = { sourceId: 'syslog-tcp', transport: 'tcp' as const, peer, receivedAt: T0 + i, timezone: 'Asia/Shanghai' };
    return new RawFrame(bytes, { ...ctx, eventId: eventId({ kind: 'network', sourceId: 'syslog-tcp', peerAddress: peer.address, peerPort: peer.port, receivedAt: T0 + i, connection: 'c1', seq: i, bytes }) }, 'auto');
  });
}

/**
 * A writer over `buf` in `dir` (synchronous `full`, chained) whose reader's waits for data are
 * recorded: `readUpTo` holds the positions it had read up to, and `readPast(seq)` resolves once it
 * has read past `seq` (an assertion fails after 5 s: the reader did not get there).
 */
export function watchedWriter(
  dir: string,
  buf: DurableBuffer,
  options: Partial<WorkerWriterOptions> = {},
): { writer: WorkerWriter; readUpTo: number[]; readPast: (seq: number) => Promise<void> } {
  const readUpTo: number[] = [];
  const writer = new WorkerWriter({
    dir,
    synchronous: 'full',
    chain: true,
    ...options,
    waitForData: (after, ms) => {
      readUpTo.push(after);
      return buf.waitForData(ms, after);
    },
  });
  const readPast = async (seq: number): Promise<void> => {
    const past = (): boolean => readUpTo.some((s) => s > seq);
    for (let i = 0; i < 500 && !past(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(past(), 'the reader did not get there within 5 s');
  };
  return { writer, readUpTo, readPast };
}

/**
 * Records the writer's chunk reads (its prepare requests, in the order made): `asked` the events
 * each asked for, `got` the events each returned (NaN until it has). `read(from)` sums `got` from
 * request `from` on (NaN while one of them is pending); `readAll(n, from, what)` waits until that
 * sum is `n`. Its guard is 4.5 s: tests that hold events.db's write lock meanwhile must let it go
 * within the store worker's 5 s busy timeout.
 */
export function chunkReads(writer: WorkerWriter): {
  asked: number[];
  got: number[];
  read: (from?: number) => number;
  readAll: (n: number, from: number, what: string) => Promise<void>;
} {
  const asked: number[] = [];
  const got: number[] = [];
  const w = writer as unknown as { prepare: (after: number, max: number) => Promise<{ meta?: { events: number } }> };
  const prepare = w.prepare.bind(writer);
  w.prepare = async (after, max) => {
    asked.push(max);
    const k = got.push(NaN) - 1;
    const r = await prepare(after, max);
    got[k] = r.meta?.events ?? 0;
    return r;
  };
  const read = (from = 0): number => got.slice(from).reduce((a, n) => a + n, 0);
  const readAll = async (n: number, from: number, what: string): Promise<void> => {
    for (let i = 0; i < 450 && !(read(from) >= n); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(read(from), n, `${what} not read within 4.5 s`);
  };
  return { asked, got, read, readAll };
}

/** The store in `dir` holds the events `sent` (ids, all on T0's day) each once, their integrity leaves in that order. */
export function assertStoredOnceInOrder(dir: string, sent: readonly string[]): void {
  const db = new Database(join(dir, 'events.db'), { readonly: true });
  try {
    const stored = (db.prepare('SELECT count(*) AS n FROM ev_20261129').get() as { n: number }).n;
    assert.equal(stored, sent.length);
    assert.deepEqual(readDayLeaves(db, '2026-11-29').ids, sent, 'integrity leaves in buffer order, each once');
  } finally {
    db.close();
  }
}

/** Appends 25 syslog frames from `from` to `buf` and records their ids, in order, in `sent`. */
export function frameAppender(buf: DurableBuffer, sent: string[]): (from: number) => Promise<void> {
  return async (from) => {
    const fs = syslogFrames(from, 25);
    for (const f of fs) sent.push(f.ctx.eventId);
    await buf.append(fs as unknown as EcsEvent[]);
  };
}

/**
 * The start of the lock tests: step A (frames 0–24) is stored and durable; then the test holds
 * events.db's write lock and asks for step B (frames 25–49), whose commit waits until `release`
 * (the store worker's busy timeout is 5 s: the test must release within that). Resolves once the
 * reader has gone past A, so what is appended next is read as chunks ahead while B waits.
 */
export async function lockedSecondStep(
  dir: string,
  w: { writer: WorkerWriter; readPast: (seq: number) => Promise<void> },
  append: (from: number) => Promise<void>,
  stepEvents: number,
): Promise<{ a: StepInfo; b: Promise<StepInfo | undefined>; release: () => void }> {
  await append(0);
  const a = await w.writer.write(0, stepEvents);
  assert.equal(a?.written, 25);
  await a!.durable;
  const lock = new Database(join(dir, 'events.db'));
  try {
    lock.exec('BEGIN IMMEDIATE');
    await append(25);
    const b = w.writer.write(a!.lastSeq, stepEvents);
    await w.readPast(a!.lastSeq);
    return {
      a: a!,
      b,
      release: () => {
        if (!lock.open) return;
        lock.exec('COMMIT');
        lock.close();
      },
    };
  } catch (e) {
    lock.close();
    throw e;
  }
}
