// The alert store's WAL checkpoint in a thread of its own (src/storage/wal-checkpointer.ts): the main
// connection's autocheckpoint is off while the thread runs, the thread's checkpoints let the WAL
// start over, a thread that falls behind or exits leaves the WAL bounded by the committing
// connection, an exit is reported as a SocError and the thread comes back, and what was committed
// is there after a reopen and after a SIGKILL. The WAL's state is read from SQLite's own file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import type { AlertCandidate } from '../src/alerts/types.js';
import { openSqliteAlertStore, type SqliteAlertStore } from '../src/alerts/sqlite.js';
import { SocError } from '../src/errors.js';
import { inTempDir, until, walSequence } from './wal-files.js';

const PAGES = 500;
const FRAME = 4096 + 24;
/** The store's bound with the thread: twice the checkpoint's frames (4 KiB pages + 24-byte headers). */
const BOUND = 2 * PAGES * FRAME + 32;
/** More than one commit of 20 new alerts appends (their random keys dirty ~100 pages). */
const ONE_COMMIT = 300 * FRAME;

let seq = 0;
/** A batch of new alerts, each its own group (so each writes a row, a history entry and index keys). */
function batch(n: number): AlertCandidate[] {
  return Array.from({ length: n }, () => {
    const k = seq++;
    const group = { 'host.name': `h${k}` };
    return {
      match: { ruleId: 'rule-a', title: 'SSH root login', level: 'high', tags: ['attack.t1078'], kind: 'detection', alert: true, eventIds: [`e${k}`], time: '2026-11-30T02:00:00.000Z' },
      groupKey: `h${k}`,
      group,
      field: (f: string) => (f === 'host.name' ? [group['host.name']] : []),
    } satisfies AlertCandidate;
  });
}

const inDir = (fn: (dir: string) => Promise<void>) => inTempDir('xiangan-alert-ckpt-', fn);
const autocheckpoint = (s: SqliteAlertStore) => s.db.pragma('wal_autocheckpoint', { simple: true }) as number;
const walSeq = (dir: string) => walSequence(join(dir, 'alerts.db-wal'));
const walSize = (dir: string) => statSync(join(dir, 'alerts.db-wal')).size;

function reopenCount(dir: string): { alerts: number; check: string } {
  const db = new Database(join(dir, 'alerts.db'));
  try {
    return { alerts: (db.prepare('SELECT count(*) AS n FROM alerts').get() as { n: number }).n, check: db.pragma('integrity_check', { simple: true }) as string };
  } finally {
    db.close();
  }
}

test('the thread checkpoints, the main connection does not, and the WAL starts over, cut back to its bound', () =>
  inDir(async (dir) => {
    const s = await openSqliteAlertStore({ dir, walCheckpointPages: PAGES, checkpointThread: { pollMs: 2 } });
    // Inline until the thread is up, then off.
    await until('the thread', () => autocheckpoint(s) === 0);
    let created = 0;
    let commits = 0;
    const seqs = new Set<number>();
    // At least 150 commits, and on until the thread has checkpointed three times: the thread runs
    // niced, and on a loaded machine may not get the CPU to look at the WAL during a fixed number.
    const end = Date.now() + 60_000;
    while (commits < 150 || s.checkpointer!.stats.checkpoints < 3) {
      if (Date.now() > end) assert.fail(`${s.checkpointer!.stats.checkpoints} thread checkpoints in ${commits} commits`);
      created += s.recordSync(batch(20)).created.length;
      commits++;
      seqs.add(walSeq(dir));
      await sleep(3); // the detector's passes are apart; the thread copies between them
    }
    assert.equal(created, 20 * commits);
    assert.ok(s.checkpointer!.stats.framesCopied >= 3 * PAGES);
    assert.ok(seqs.size >= 3, `the WAL started over ${seqs.size - 1} times`);
    // While the thread copies, the WAL may pass the bound (a loaded machine); once it has caught
    // up, the next commit starts the WAL over and its file is at most the bound again.
    for (let i = 0; ; i++) {
      const seq = walSeq(dir);
      await sleep(50);
      created += s.recordSync(batch(1)).created.length;
      if (walSeq(dir) !== seq) break;
      if (i === 100) assert.fail('the WAL did not start over');
    }
    assert.ok(walSize(dir) <= BOUND, `WAL ${walSize(dir)} bytes, bound ${BOUND}`);
    assert.equal(s.checkpointer!.stats.errors, 0);
    await s.close();
    assert.deepEqual(reopenCount(dir), { alerts: created, check: 'ok' });
  }));

test('a thread that falls behind: the committing connection checkpoints past the bound', () =>
  inDir(async (dir) => {
    // The thread is up but never looks at the WAL.
    const s = await openSqliteAlertStore({ dir, walCheckpointPages: PAGES, checkpointThread: { pollMs: 2 ** 30 } });
    await until('the thread', () => autocheckpoint(s) === 0);
    let maxWal = 0;
    for (let i = 0; i < 300; i++) {
      s.recordSync(batch(20));
      maxWal = Math.max(maxWal, walSize(dir));
    }
    assert.equal(s.checkpointer!.stats.checkpoints, 0);
    assert.ok(s.inlineCheckpoints >= 1, 'inline checkpoints');
    // The bound plus what one commit appends.
    assert.ok(maxWal > BOUND && maxWal <= BOUND + ONE_COMMIT, `WAL ${maxWal} bytes, bound ${BOUND}`);
    // Past the bound the WAL's file is cut back when it starts over (journal_size_limit).
    assert.equal(s.db.pragma('journal_size_limit', { simple: true }), BOUND);
    await s.close();
    assert.deepEqual(reopenCount(dir), { alerts: 6000, check: 'ok' });
  }));

test('a failed checkpoint after a commit is reported, and the commit stands', () =>
  inDir(async (dir) => {
    const errors: SocError[] = [];
    const s = await openSqliteAlertStore({ dir, walCheckpointPages: PAGES, checkpointThread: { pollMs: 2 ** 30 }, onCheckpointError: (e) => errors.push(e) });
    await until('the thread', () => autocheckpoint(s) === 0);
    // The committing connection's own checkpoint fails (as on an I/O error).
    const pragma = s.db.pragma.bind(s.db);
    s.db.pragma = ((src: string, o?: Database.PragmaOptions) => {
      if (src.startsWith('wal_checkpoint')) throw new Error('disk I/O error');
      return pragma(src, o);
    }) as typeof s.db.pragma;
    let created = 0;
    while (walSize(dir) <= BOUND) created += s.recordSync(batch(20)).created.length;
    // Past the bound: this commit's checkpoint fails, the record does not.
    created += s.recordSync(batch(20)).created.length;
    assert.ok(errors.length >= 1);
    assert.equal(errors[0]!.code, 'SOC_ERR_STORE_WRITE');
    assert.match(errors[0]!.message, /disk I\/O error/);
    s.db.pragma = pragma;
    await s.close();
    assert.deepEqual(reopenCount(dir), { alerts: created, check: 'ok' });
  }));

test('a thread that exits: a SocError, the connection checkpoints itself, the thread comes back', () =>
  inDir(async (dir) => {
    const errors: SocError[] = [];
    const s = await openSqliteAlertStore({ dir, walCheckpointPages: PAGES, checkpointThread: { pollMs: 2, restartMs: 200 }, onCheckpointError: (e) => errors.push(e) });
    await until('the thread', () => autocheckpoint(s) === 0);
    await s.checkpointer!.thread!.terminate();
    await until('the error', () => errors.length > 0);
    assert.ok(errors[0] instanceof SocError);
    assert.equal(errors[0]!.code, 'SOC_ERR_STORE_WRITE');
    assert.deepEqual(errors[0]!.details, { store: 'alerts', stage: 'checkpoint' });
    assert.match(errors[0]!.message, /exited/);
    // Meanwhile the committing connection checkpoints as without the thread.
    assert.equal(autocheckpoint(s), PAGES);
    const seq0 = walSeq(dir);
    for (let i = 0; i < 60; i++) s.recordSync(batch(20));
    assert.notEqual(walSeq(dir), seq0, 'inline checkpoints let the WAL start over');
    await until('the restart', () => s.checkpointer!.stats.starts === 2 && autocheckpoint(s) === 0);
    const before = s.checkpointer!.stats.checkpoints;
    for (let i = 0; i < 40; i++) {
      s.recordSync(batch(20));
      await sleep(3);
    }
    await until('a checkpoint by the new thread', () => s.checkpointer!.stats.checkpoints > before);
    await s.close();
    assert.deepEqual(reopenCount(dir), { alerts: 2000, check: 'ok' });
  }));

test('SIGKILL while the thread checkpoints: every committed alert is there after reopen', () =>
  inDir(async (dir) => {
    const storeUrl = new URL('../src/alerts/sqlite.js', import.meta.url).href;
    // A writer committing batches of 20 new alerts as fast as it can, reporting each commit
    // after it returned, and the thread's checkpoint count.
    const code = `
      import { openSqliteAlertStore } from ${JSON.stringify(storeUrl)};
      const s = await openSqliteAlertStore({ dir: ${JSON.stringify(dir)}, walCheckpointPages: ${PAGES}, checkpointThread: { pollMs: 1 } });
      let k = 0;
      const step = () => {
        const c = Array.from({ length: 20 }, () => { const i = k++; return { match: { ruleId: 'r', title: 't', level: 'high', tags: [], kind: 'detection', alert: true, eventIds: ['e' + i], time: '2026-11-30T02:00:00.000Z' }, groupKey: 'g' + i, group: {}, field: () => [] }; });
        const n = s.recordSync(c).created.length;
        process.stdout.write(n + ' ' + s.checkpointer.stats.checkpoints + '\\n');
        setTimeout(step, 1);
      };
      step();
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let committed = 0;
    let checkpoints = 0;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const giveUp = setTimeout(() => child.kill('SIGKILL'), 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [n, c] = line.split(' ').map(Number);
      committed += n!;
      checkpoints = c!;
      if (checkpoints >= 5 && committed >= 4000) child.kill('SIGKILL');
    });
    await exited;
    clearTimeout(giveUp);
    assert.ok(checkpoints >= 5, `${checkpoints} checkpoints by the thread before the kill`);
    const after = reopenCount(dir);
    assert.equal(after.check, 'ok');
    // Committed before the kill: all there (a commit reported may be followed by one not reported).
    assert.ok(after.alerts >= committed && after.alerts <= committed + 20, `${after.alerts} alerts, ${committed} reported`);
  }));

test('the thread does not keep the process alive, and close() stops it', () =>
  inDir(async (dir) => {
    const storeUrl = new URL('../src/alerts/sqlite.js', import.meta.url).href;
    const run = (close: boolean) =>
      new Promise<number | null>((resolve) => {
        const code = `
          import { openSqliteAlertStore } from ${JSON.stringify(storeUrl)};
          const s = await openSqliteAlertStore({ dir: ${JSON.stringify(dir)}, checkpointThread: true });
          await new Promise((r) => setTimeout(r, 300));
          if (${close}) await s.close();
          process.stdout.write('done ' + s.checkpointer.stats.starts + '\\n');
        `;
        const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout!.on('data', (d) => (out += String(d)));
        const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', (c) => {
          clearTimeout(t);
          assert.equal(out, 'done 1\n');
          resolve(c);
        });
      });
    assert.equal(await run(false), 0);
    assert.equal(await run(true), 0);
    // Closed last by the main connection: the WAL was checkpointed and removed.
    assert.throws(() => statSync(join(dir, 'alerts.db-wal')), /ENOENT/);
  }));
