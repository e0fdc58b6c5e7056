// The checkpoint thread's connection opened before its database went to WAL (a WorkerWriter that
// creates events.db itself): the thread must still copy the WAL once the writer commits (it reopens
// a connection whose checkpoint reports no WAL) and report no errors. Found by review (R, session 16).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { WalCheckpointer } from '../src/storage/wal-checkpointer.js';
import { inTempDir, until } from './wal-files.js';

test('a database the thread opened while it was empty and not yet WAL is checkpointed once it is', () =>
  inTempDir('xa-ckblind-', async (dir) => {
    const path = join(dir, 'e.db');
    writeFileSync(path, ''); // the writer's `new Database()` has made the file, nothing more yet
    const errors: string[] = [];
    let running = false;
    const cp = new WalCheckpointer({ path, frames: 8, pollMs: 5, onError: (m) => errors.push(m), onRunning: (r) => (running = r) });
    const db = new Database(path);
    try {
      await until('the thread to open the database', () => running);
      // Only now does the writer make it a WAL database and commit.
      db.pragma('journal_mode = WAL');
      db.pragma('wal_autocheckpoint = 0');
      db.exec('CREATE TABLE t (x)');
      const insert = db.prepare('INSERT INTO t VALUES (?)');
      for (let i = 0; i < 40; i++) insert.run('x'.repeat(5000));
      await until(`a copy (${JSON.stringify(cp.stats)} ${errors[0] ?? ''})`, () => cp.stats.framesCopied >= 8);
      assert.deepEqual(errors, []);
    } finally {
      await cp.close();
      db.close();
    }
  }));
