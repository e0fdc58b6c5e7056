// The store worker's WAL checkpoints: every few steps while requests keep coming, and once the
// store has been idle for a moment, so the database file catches up with the WAL without a
// checkpoint after every step. Observed through SQLite alone: a copy of events.db without its
// WAL holds exactly what was checkpointed into the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EcsEvent } from '@xiangan/collectors';
import { DurableBuffer } from '../src/buffer/durable.js';
import { WorkerWriter } from '../src/pipeline/store-worker.js';
import { rowsInFile } from './wal-files.js';

function event(i: number): EcsEvent {
  return { id: `ck-${i}`, '@timestamp': `2026-11-28T02:00:${String(i % 60).padStart(2, '0')}.000Z`, message: `event ${i}`, event: { ingested: '2026-11-28T02:01:00.000Z' } };
}

test('the store worker checkpoints after four steps in a row, and after a quiet spell', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xa-swck-'));
  const buf = new DurableBuffer({ dir });
  const writer = new WorkerWriter({ dir, synchronous: 'normal', documents: false });
  try {
    for (let i = 1; i <= 6; i++) await buf.append([event(i)]);
    // Four steps asked for one after another: the fourth is followed by a checkpoint.
    let after = 0;
    for (let k = 0; k < 4; k++) after = (await writer.write(after, 1))!.lastSeq;
    // The checkpoint runs after the reply; a next request (nothing left but two events) follows it.
    const fifth = await writer.write(after, 1);
    assert.equal(fifth!.written, 1);
    assert.ok(rowsInFile(dir) >= 4, 'the first four steps are in the database file');
    // One more step, then quiet: checkpointed within a moment, without another request.
    await writer.write(fifth!.lastSeq, 1);
    let rows = 0;
    for (let t = 0; t < 40 && rows < 6; t++) {
      await sleep(100);
      rows = rowsInFile(dir); // 0 for a copy torn by the checkpoint: looked at again
    }
    assert.equal(rows, 6, 'the idle store copied its WAL into the file');
  } finally {
    await writer.close();
    buf.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
