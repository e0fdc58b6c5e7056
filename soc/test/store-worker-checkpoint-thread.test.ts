// The events WAL copied by the process's checkpoint thread (src/storage/wal-checkpointer.ts) instead of
// the store worker (`checkpointThread`): the thread copies and the WAL starts over; a thread that
// never copies leaves the WAL to the store worker past its bound; a thread that exits is reported,
// the store worker checkpoints itself until a new one serves; alerts.db and events.db share one
// thread; close() releases the thread's connection; a SIGKILL while the thread copies loses no
// acknowledged event. The WAL's state is read from SQLite's own files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import type { EcsEvent } from '@xiangan/collectors';
import { DurableBuffer } from '../src/buffer/durable.js';
import { WorkerWriter } from '../src/pipeline/store-worker.js';
import { openSqliteAlertStore } from '../src/alerts/sqlite.js';
import { SocError } from '../src/errors.js';
import { inTempDir, rowsInFile, until, walSequence } from './wal-files.js';

/** A 16 KiB page and its frame header. */
const FRAME = 16_384 + 24;

let seq = 0;
/** `n` events of one day, each ~1 KB of text, so a step of 40 writes a few dozen WAL frames. */
function events(n: number): EcsEvent[] {
  return Array.from({ length: n }, () => {
    const i = seq++;
    return { id: `ct-${i}`, '@timestamp': '2026-11-28T02:00:00.000Z', message: `event ${i} ${'x'.repeat(1000)}`, event: { ingested: '2026-11-28T02:01:00.000Z' } };
  });
}

const inDir = (fn: (dir: string) => Promise<void>) => inTempDir('xa-ckthread-', fn);
const walSeq = (dir: string) => walSequence(join(dir, 'events.db-wal'));

/** Appends `steps` steps of `n` events and stores each; returns the last position. */
async function writeSteps(buf: DurableBuffer, writer: WorkerWriter, after: number, steps: number, n: number): Promise<number> {
  for (let k = 0; k < steps; k++) {
    await buf.append(events(n));
    const r = await writer.write(after, n);
    assert.equal(r!.written, n);
    after = r!.lastSeq;
  }
  return after;
}

test('the thread copies the WAL beside the commits and it starts over', () =>
  inDir(async (dir) => {
    const buf = new DurableBuffer({ dir });
    // The thread copies once 8 frames wait; the bound is far away.
    const writer = new WorkerWriter({ dir, synchronous: 'normal', documents: false, checkpointThread: { pollMs: 5, frames: 8, boundFrames: 1_000_000 } });
    try {
      let after = await writeSteps(buf, writer, 0, 1, 40);
      await until('the thread', () => writer.threadCheckpoints);
      const seq0 = walSeq(dir);
      const end = Date.now() + 60_000;
      while (writer.checkpointer!.stats.checkpoints < 3 || walSeq(dir) === seq0) {
        if (Date.now() > end) assert.fail(`${writer.checkpointer!.stats.checkpoints} thread checkpoints, WAL sequence ${walSeq(dir)}`);
        after = await writeSteps(buf, writer, after, 1, 40);
        await sleep(20); // the steps are apart: the thread copies between them
      }
      assert.ok(writer.checkpointer!.stats.framesCopied >= 8);
      assert.equal(writer.checkpointer!.stats.errors, 0);
      // Read from a copy of the file, which may catch the thread mid-copy: looked at again then.
      await until('rows copied into the database file', () => rowsInFile(dir) > 0);
    } finally {
      await writer.close();
      buf.close();
    }
  }));

test('while the thread serves, the store worker does not checkpoint every fourth step', () =>
  inDir(async (dir) => {
    const buf = new DurableBuffer({ dir });
    const writer = new WorkerWriter({ dir, synchronous: 'normal', documents: false, checkpointThread: { pollMs: 1_000_000_000, boundFrames: 1_000_000 } });
    try {
      const after = await writeSteps(buf, writer, 0, 1, 10);
      await until('the thread', () => writer.threadCheckpoints);
      // The first step may have been copied (the store worker's idle checkpoint before the thread was up).
      await writeSteps(buf, writer, after, 6, 10);
      assert.ok(rowsInFile(dir) <= 10, `${rowsInFile(dir)} rows in the database file`);
    } finally {
      await writer.close();
      buf.close();
    }
  }));

test('a thread that never copies: past its bound the store worker copies the WAL, which starts over and keeps within twice the bound', () =>
  inDir(async (dir) => {
    const buf = new DurableBuffer({ dir });
    const bound = 64;
    const writer = new WorkerWriter({ dir, synchronous: 'normal', documents: false, checkpointThread: { pollMs: 1_000_000_000, boundFrames: bound } });
    try {
      let after = await writeSteps(buf, writer, 0, 1, 40);
      await until('the thread', () => writer.threadCheckpoints);
      const seq0 = walSeq(dir);
      // ~60 steps of ~1 KB events: far more than the bound's frames if nothing were copied.
      after = await writeSteps(buf, writer, after, 60, 40);
      assert.equal(writer.checkpointer!.stats.checkpoints, 0);
      assert.ok(walSeq(dir) > seq0, 'the WAL started over');
      await until('the store worker to copy rows into the database file', () => rowsInFile(dir) >= 40 * 30);
      // Cut back to twice the bound when it starts over, and never further past it than a step or two.
      assert.ok(statSync(join(dir, 'events.db-wal')).size <= (2 * bound + 40) * FRAME + 32, `WAL of ${statSync(join(dir, 'events.db-wal')).size} bytes`);
    } finally {
      await writer.close();
      buf.close();
    }
  }));

test('a WAL past its bound that a reader kept from being copied is copied once the store idles', () =>
  inDir(async (dir) => {
    const buf = new DurableBuffer({ dir });
    const writer = new WorkerWriter({ dir, synchronous: 'normal', documents: false, checkpointThread: { pollMs: 5, frames: 8, boundFrames: 64 } });
    try {
      let after = await writeSteps(buf, writer, 0, 1, 40);
      await until('the thread', () => writer.threadCheckpoints);
      // A reader's snapshot holds the WAL's frames back from every checkpoint while 12 steps
      // take it past the bound; then the reader ends and no step follows.
      const reader = new Database(join(dir, 'events.db'), { readonly: true });
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM ev_20261128').get();
      after = await writeSteps(buf, writer, after, 12, 40);
      reader.exec('COMMIT');
      reader.close();
      await until('every row in the database file', () => rowsInFile(dir) === 13 * 40);
    } finally {
      await writer.close();
      buf.close();
    }
  }));

test('a thread that exits: a SocError, the store worker checkpoints itself, then a new thread serves', () =>
  inDir(async (dir) => {
    const buf = new DurableBuffer({ dir });
    const errors: SocError[] = [];
    // The thread copies only an idle WAL (250 ms without a change); no bound in reach.
    const writer = new WorkerWriter({
      dir,
      synchronous: 'normal',
      documents: false,
      checkpointThread: { pollMs: 20, frames: 1_000_000, boundFrames: 1_000_000, restartMs: 3_000 },
      onCheckpointError: (e) => errors.push(e),
    });
    try {
      let after = await writeSteps(buf, writer, 0, 1, 10);
      await until('the thread', () => writer.threadCheckpoints);
      await writer.checkpointer!.thread!.terminate();
      await until('the exit', () => !writer.threadCheckpoints);
      assert.ok(errors[0] instanceof SocError);
      assert.equal(errors[0]!.code, 'SOC_ERR_STORE_WRITE');
      assert.deepEqual(errors[0]!.details, { store: 'events', stage: 'checkpoint' });
      // Without the thread: a checkpoint after every fourth step, in the store worker, before the
      // next request is served, so all but the last three of the 70 events are in the file (with
      // the thread gone and the store worker not checkpointing, at most the first step's 10).
      after = await writeSteps(buf, writer, after, 6, 10);
      await until('the store worker to checkpoint', () => rowsInFile(dir) >= 40);
      await until('a new thread', () => writer.checkpointer!.stats.starts === 2 && writer.threadCheckpoints);
      const before = writer.checkpointer!.stats.checkpoints;
      after = await writeSteps(buf, writer, after, 1, 10);
      await until('a checkpoint by the new thread', () => writer.checkpointer!.stats.checkpoints > before);
      await until('the rows in the file', () => rowsInFile(dir) === 80);
    } finally {
      await writer.close();
      buf.close();
    }
  }));

test('one thread serves alerts.db and events.db; closing both stops it and lets the last connection remove the WAL', () =>
  inDir(async (dir) => {
    const buf = new DurableBuffer({ dir });
    const writer = new WorkerWriter({ dir, synchronous: 'normal', documents: false, checkpointThread: true });
    const alerts = await openSqliteAlertStore({ dir, checkpointThread: true });
    try {
      await writeSteps(buf, writer, 0, 2, 10);
      await until('the thread', () => writer.threadCheckpoints);
      assert.ok(writer.checkpointer!.thread);
      assert.equal(alerts.checkpointer!.thread, writer.checkpointer!.thread);
    } finally {
      await writer.close();
    }
    // The thread has let go of events.db: a connection opened and closed now is the last one.
    assert.ok(alerts.checkpointer!.thread, 'still serving alerts.db');
    new Database(join(dir, 'events.db')).close();
    assert.equal(existsSync(join(dir, 'events.db-wal')), false);
    await alerts.close();
    assert.equal(alerts.checkpointer!.thread, undefined);
    buf.close();
  }));

test('SIGKILL while the thread copies: every acknowledged event is there after reopen', () =>
  inDir(async (dir) => {
    const url = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);
    // Steps of 200 events stored as fast as they go, each reported once durable (`full`), with the
    // thread's checkpoint count.
    const code = `
      import { DurableBuffer } from ${url('../src/buffer/durable.js')};
      import { WorkerWriter } from ${url('../src/pipeline/store-worker.js')};
      const dir = ${JSON.stringify(dir)};
      const buf = new DurableBuffer({ dir });
      const writer = new WorkerWriter({ dir, synchronous: 'full', documents: false, checkpointThread: { pollMs: 1, frames: 4, boundFrames: 256 } });
      let after = 0, k = 0;
      for (;;) {
        await buf.append(Array.from({ length: 200 }, () => ({ id: 'k-' + k, '@timestamp': '2026-11-28T02:00:00.000Z', message: 'event ' + k++ + ' ' + 'y'.repeat(800) })));
        const r = await writer.write(after, 200);
        await r.durable;
        after = r.lastSeq;
        process.stdout.write(r.written + ' ' + writer.checkpointer.stats.checkpoints + '\\n');
      }
    `;
    // A file, not `-e`: the workers would inherit `--input-type`, which only `-e` takes.
    const script = join(dir, 'writer.mjs');
    writeFileSync(script, code);
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let acknowledged = 0;
    let checkpoints = 0;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const giveUp = setTimeout(() => child.kill('SIGKILL'), 60_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [n, c] = line.split(' ').map(Number);
      acknowledged += n!;
      checkpoints = c!;
      if (checkpoints >= 5 && acknowledged >= 10_000) child.kill('SIGKILL');
    });
    await exited;
    clearTimeout(giveUp);
    assert.ok(checkpoints >= 5, `${checkpoints} checkpoints by the thread before the kill`);
    const db = new Database(join(dir, 'events.db'));
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      const rows = db.prepare('SELECT count(*) FROM ev_20261128').pluck().get() as number;
      // Acknowledged before the kill: all there (a step stored but not yet reported may be too).
      assert.ok(rows >= acknowledged && rows <= acknowledged + 400, `${rows} rows, ${acknowledged} acknowledged`);
    } finally {
      db.close();
    }
  }));
