// With a backlog, the prepare worker reads half a step beyond the next while a commit runs
// (store-worker.ts, `Ahead`, READ_AHEAD_STEPS), so the first part of the step after the next is
// prepared before the commit that stores it is asked for; steps keep the size asked, and every
// event is stored once, in order.
// Real worker threads and SQLite files. The test holds events.db's write lock, so the first
// commit cannot finish before the reader has gone as far as it is going to: nothing depends on
// timing.
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

const tmp = () => mkdtempSync(join(tmpdir(), 'xa-ahead-'));

function event(i: number): EcsEvent {
  return { id: `ah-${i}`, '@timestamp': `2026-11-28T02:00:${String(i).padStart(2, '0')}.000Z`, message: `event number ${i}`, event: { ingested: '2026-11-28T02:00:10.000Z' } };
}

describe('worker writer: reading ahead with a backlog', () => {
  test('half of the step after the next is prepared during a commit; steps keep their size; each event stored once, in order', async () => {
    const dir = tmp();
    const buf = new DurableBuffer({ dir });
    for (let i = 1; i <= 10; i++) await buf.append([event(i)]);
    const seqs = buf.readAfter(0, 100).map((b) => b.seq);
    assert.equal(seqs.length, 10, 'one buffer batch per event');
    const writer = new WorkerWriter({ dir, synchronous: 'normal' });
    // The prepare requests the writer sends (position read after, most events), seen through its private method.
    const reads: Array<[number, number]> = [];
    const replies: Array<Promise<unknown>> = [];
    const w = writer as unknown as { prepare: (after: number, max: number) => Promise<unknown> };
    const prepare = w.prepare.bind(writer);
    w.prepare = (after, max) => {
      reads.push([after, max]);
      const p = prepare(after, max);
      replies.push(p);
      return p;
    };
    const ids = (info: { batches?: Array<{ data: string }> } | undefined) => info!.batches!.flatMap((b) => b.data.split('\n')).map((d) => (JSON.parse(d) as EcsEvent).id);
    let lock: Database.Database | undefined;
    try {
      const first = await writer.write(0, 2);
      assert.deepEqual(ids(first), ['ah-1', 'ah-2']);
      lock = new Database(join(dir, 'events.db'));
      lock.exec('BEGIN IMMEDIATE');
      // Step 2 (events 3, 4) goes to the store worker and waits for the lock; meanwhile the
      // reader prepares the next step (events 5, 6) and half of the one after it (event 7), and
      // no further. (Events 5 and 6 may already have been read during the first commit.)
      const pending = writer.write(first!.lastSeq, 2);
      for (let i = 0; i < 300 && !reads.some(([after]) => after === seqs[5]); i++) await new Promise((r) => setTimeout(r, 10));
      // Every read answered, and whatever it started next begun: the reader has stopped.
      for (let n = -1; n !== replies.length; ) {
        n = replies.length;
        await Promise.all(replies);
        await new Promise((r) => setImmediate(r));
      }
      assert.ok(
        reads.some(([after, max]) => after === seqs[5] && max === 1),
        `half of the step after the next was not read during the commit: ${JSON.stringify(reads)}`,
      );
      assert.ok(!reads.some(([after]) => after === seqs[6]), `no more than half a step beyond the next: ${JSON.stringify(reads)}`);
      lock.exec('COMMIT');
      lock.close();
      lock = undefined;
      const second = await pending;
      assert.deepEqual(ids(second), ['ah-3', 'ah-4']);
      const readsBefore = reads.length;
      const third = await writer.write(second!.lastSeq, 2);
      assert.deepEqual(ids(third), ['ah-5', 'ah-6'], 'at the size asked');
      // Event 7 was prepared ahead; event 8 is read during the third commit and joins it if in
      // by that commit's reply (else it starts the step after): no step over the size asked.
      const rest: string[][] = [];
      for (let after = third!.lastSeq, info = await writer.write(after, 2); info; after = info.lastSeq, info = await writer.write(after, 2)) rest.push(ids(info));
      assert.deepEqual(rest.flat(), ['ah-7', 'ah-8', 'ah-9', 'ah-10']);
      assert.ok(rest.every((r) => r.length <= 2), JSON.stringify(rest));
      assert.ok(!reads.slice(readsBefore).some(([after]) => after === seqs[3] || after === seqs[5]), `events 5 to 7 were not read again: ${JSON.stringify(reads)}`);
    } finally {
      lock?.close();
      await writer.close();
      buf.close();
    }
    const store = await openSqliteStore({ dir });
    const all = await store.search({ size: 20, sort: 'asc' });
    assert.deepEqual(all.events.map((e) => e.id), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => `ah-${i}`));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
