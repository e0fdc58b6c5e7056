// The store worker with the checkpoint thread (src/pipeline/store-worker.ts) under a backlog stored
// back to back, steps prepared ahead and grown (so the thread copies beside commits that follow each
// other and some step ends find the next step already there): every event once and in buffer order,
// and the WAL starts over within its limit (the store worker's copy past the bound).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EcsEvent } from '@xiangan/collectors';
import { DurableBuffer } from '../src/buffer/durable.js';
import { WorkerWriter } from '../src/pipeline/store-worker.js';
import { inTempDir, rowsInFile, until, walSequence } from './wal-files.js';

/** A 16 KiB page and its frame header. */
const FRAME = 16_384 + 24;

let seq = 0;
/** `n` events of one day, each ~1 KB of text, so a step of 40 writes a few dozen WAL frames. */
function events(n: number): EcsEvent[] {
  return Array.from({ length: n }, () => {
    const i = seq++;
    return { id: `si-${String(i).padStart(6, '0')}`, '@timestamp': '2026-11-28T02:00:00.000Z', message: `event ${i} ${'x'.repeat(1000)}`, event: { ingested: '2026-11-28T02:01:00.000Z' } };
  });
}

test('a backlog stored back to back with steps prepared ahead: every event once and in order, the WAL started over and within its limit', () =>
  inTempDir('xa-storeidle-', async (dir) => {
    const buf = new DurableBuffer({ dir });
    const bound = 64;
    const step = 40;
    const writer = new WorkerWriter({ dir, synchronous: 'full', documents: false, aheadSteps: 2, stepGrowth: 2, checkpointThread: { pollMs: 5, frames: 8, boundFrames: bound } });
    const ids: string[] = [];
    try {
      // One step first, so the thread is serving before the backlog.
      const first = events(step);
      ids.push(...first.map((e) => String(e.id)));
      await buf.append(first);
      let after = (await writer.write(0, step))!.lastSeq;
      await until('the thread', () => writer.threadCheckpoints);
      const seq0 = walSequence(join(dir, 'events.db-wal'));
      for (let k = 0; k < 60; k++) {
        const evs = events(step);
        ids.push(...evs.map((e) => String(e.id)));
        await buf.append(evs);
      }
      let maxWal = 0;
      for (;;) {
        const r = await writer.write(after, step);
        if (!r) break;
        await r.durable;
        after = r.lastSeq;
        maxWal = Math.max(maxWal, statSync(join(dir, 'events.db-wal')).size);
      }
      assert.ok(walSequence(join(dir, 'events.db-wal')) > seq0, 'the WAL started over');
      // Grown steps of up to 80 events write a few dozen frames each: the WAL starts over a step or
      // two past the bound, and is cut back to twice the bound.
      assert.ok(maxWal <= (2 * bound + 80) * FRAME + 32, `WAL of ${maxWal} bytes`);
      await until('every row in the database file', () => rowsInFile(dir) === ids.length);
    } finally {
      await writer.close();
      buf.close();
    }
    const db = new Database(join(dir, 'events.db'), { readonly: true });
    try {
      const stored = db.prepare('SELECT id FROM ev_20261128 ORDER BY rowid').pluck().all() as string[];
      assert.deepEqual(stored, ids, 'every event once, in buffer order');
    } finally {
      db.close();
    }
  }));
