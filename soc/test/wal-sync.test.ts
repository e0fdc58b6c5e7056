/**
 * Durability off the store's commit path: the store worker commits with `synchronous = NORMAL`,
 * the WAL is synced beside the next step (`WalSyncer`), and the consumer releases a step's
 * batches from the buffer only once that sync resolved.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EcsEvent } from '@xiangan/collectors';
import Database from 'better-sqlite3';
import { DurableBuffer } from '../src/buffer/durable.js';
import { StoreConsumer, inProcessWriter, type BatchWriter, type StepInfo } from '../src/pipeline/consumer.js';
import { WorkerWriter } from '../src/pipeline/store-worker.js';
import { WalSyncer } from '../src/pipeline/wal-sync.js';
import { openSqliteStore } from '../src/storage/sqlite.js';

const ev = (i: number): EcsEvent => ({
  id: `w-${i}`,
  '@timestamp': new Date(Date.UTC(2026, 10, 28, 8, 0, 0) + i).toISOString(),
  message: `event ${i}`,
  event: { original: `<13>event ${i}` },
});
const range = (a: number, b: number): EcsEvent[] => Array.from({ length: b - a }, (_, k) => ev(a + k));
const tmp = (): string => mkdtempSync(join(tmpdir(), 'xa-walsync-'));

/** Resolves once `cond` holds (polled), or fails after 10 s. */
async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** A durability the test settles by hand, one per step. */
interface Gate {
  lastSeq: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * The real in-process writer over a real store, whose steps carry a `durable` the test settles
 * (as the WAL sync would); 30 events in six buffer batches, steps of five.
 */
async function withGatedConsumer(
  body: (c: { buf: DurableBuffer; gates: Gate[]; stored: () => Promise<number>; consumer: StoreConsumer; errors: unknown[] }) => Promise<void>,
  afterWrite?: (info: StepInfo) => Promise<void>,
): Promise<void> {
  const dir = tmp();
  const buf = new DurableBuffer({ dir });
  const store = await openSqliteStore({ dir, synchronous: 'normal' });
  const inner = inProcessWriter(buf, store);
  const gates: Gate[] = [];
  const writer: BatchWriter = async (after, max) => {
    const info = await inner(after, max);
    if (!info) return info;
    const durable = new Promise<void>((resolve, reject) => gates.push({ lastSeq: info.lastSeq, resolve, reject }));
    durable.catch(() => undefined);
    return { ...info, durable };
  };
  const errors: unknown[] = [];
  const consumer = new StoreConsumer({ buffer: buf, writer, batchEvents: 5, maxBackoffMs: 20, onError: (e) => errors.push(e), ...(afterWrite ? { afterWrite } : {}) });
  try {
    for (let i = 0; i < 6; i++) await buf.append(range(i * 5, i * 5 + 5));
    await body({ buf, gates, stored: async () => (await store.stats()).events, consumer, errors });
  } finally {
    for (const g of gates) g.resolve();
    await consumer.stop();
    buf.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('durability off the commit path', () => {
  test('the buffer keeps a committed step until its commit is durable, and releases steps in order', async () => {
    await withGatedConsumer(async ({ buf, gates, stored, consumer }) => {
      consumer.start();
      // The store goes on committing while no step is durable yet...
      await until(async () => (await stored()) === 30 && gates.length === 6, 'all six steps committed');
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(buf.depth, 30, 'nothing released before its commit is durable');
      // ...a later step's durability does not release it ahead of an earlier one...
      gates[1]!.resolve();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(buf.depth, 30, 'step 2 waits for step 1');
      // ...and each step is released once it and those before it are durable.
      gates[0]!.resolve();
      await until(() => buf.depth === 20, 'steps 1 and 2 released');
      for (const g of gates.slice(2)) g.resolve();
      await until(() => buf.depth === 0, 'everything released');
      assert.equal(await stored(), 30);
    });
  });

  test('a failed sync releases nothing stored since the last durable step, and those batches are written again', async () => {
    await withGatedConsumer(async ({ buf, gates, stored, consumer, errors }) => {
      consumer.start();
      await until(() => gates.length === 6, 'all six steps committed');
      gates[0]!.resolve();
      await until(() => buf.depth === 25, 'step 1 released');
      gates[1]!.reject(new Error('EIO: fsync failed'));
      // Steps 3–6 report durable after the failure: that must not release them (fsync(2): a later
      // success says nothing about what a failed sync lost).
      for (const g of gates.slice(2, 6)) g.resolve();
      await until(() => errors.length > 0, 'the failure reported');
      assert.match(String(errors[0]), /EIO/);
      assert.ok(buf.depth === 25, `step 2 onwards still buffered (depth ${buf.depth})`);
      // The replay (duplicates in the store, ignored by id) gets syncs of its own.
      for (let k = 6; k < 1000 && buf.depth > 0; k++) {
        await until(() => gates.length > k || buf.depth === 0, 'a replayed step');
        gates[k]?.resolve();
      }
      assert.equal(buf.depth, 0);
      assert.ok(gates[6]!.lastSeq === gates[1]!.lastSeq, 'the replay starts at the step whose sync failed');
      assert.equal(await stored(), 30, 'each event stored once');
    });
  });

  test('with an afterWrite hook: a step the hook was running on when an earlier sync failed is not released', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const hooked: number[] = [];
    const hook = async (info: StepInfo): Promise<void> => {
      hooked.push(info.lastSeq);
      if (hooked.length === 2) await gate;
    };
    await withGatedConsumer(async ({ buf, gates, stored, consumer, errors }) => {
      consumer.start();
      await until(() => hooked.length === 2, 'the hook on the second step');
      gates[1]!.resolve();
      gates[0]!.reject(new Error('EIO: fsync failed'));
      await new Promise((r) => setTimeout(r, 50));
      open();
      await until(() => errors.length > 0, 'the failure reported');
      assert.equal(buf.depth, 30, 'neither the failed step nor the one its hook ran on is released');
      for (let k = 2; k < 1000 && buf.depth > 0; k++) {
        await until(() => gates.length > k || buf.depth === 0, 'a replayed step');
        gates[k]?.resolve();
      }
      assert.equal(buf.depth, 0);
      assert.equal(await stored(), 30, 'each event stored once');
    }, hook);
  });

  test('WorkerWriter: with synchronous full each step carries its WAL sync; with normal none is needed', async () => {
    for (const synchronous of ['full', 'normal'] as const) {
      const dir = tmp();
      const buf = new DurableBuffer({ dir });
      const writer = new WorkerWriter({ dir, synchronous, documents: false });
      try {
        await buf.append(range(0, 10));
        const info = await writer.write(0, 100);
        assert.equal(info?.events, 10);
        if (synchronous === 'full') {
          assert.ok(info.durable instanceof Promise, 'full: a durability to wait for');
          await info.durable;
        } else assert.equal(info.durable, undefined, 'normal: acknowledged at the commit, as before');
      } finally {
        await writer.close();
        buf.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  test('WalSyncer syncs a live WAL, shares concurrent syncs, treats a closed store (no WAL) as synced, and reports a failure', async () => {
    const dir = tmp();
    try {
      const path = join(dir, 'x.db');
      const db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec('CREATE TABLE t (v)');
      db.prepare('INSERT INTO t VALUES (?)').run(1);
      const wal = new WalSyncer(`${path}-wal`);
      await Promise.all(Array.from({ length: 8 }, () => wal.sync()));
      await wal.sync();
      db.close();
      await wal.sync();
      // A path that cannot be opened for writing (a directory) fails the sync instead of passing it.
      mkdirSync(join(dir, 'y.db-wal'));
      await assert.rejects(new WalSyncer(join(dir, 'y.db-wal')).sync(), (e: Error & { code?: string }) => e.code === 'SOC_ERR_STORE_WRITE' && /EISDIR/.test(e.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
