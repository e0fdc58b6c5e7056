// Helpers of the WAL checkpoint suites (alerts-checkpointer, store-worker-checkpoint,
// store-worker-checkpoint-thread): a temporary directory, a wait with a deadline, and what SQLite's
// own files say about the WAL and the database file.
import assert from 'node:assert/strict';
import { closeSync, copyFileSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';

/** Runs `fn` in a fresh temporary directory, removed afterwards whatever happens. */
export async function inTempDir(prefix: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Waits for `cond`; the deadline is long because checkpoint threads run at nice +10, last on a loaded machine. */
export async function until(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** The WAL header's checkpoint sequence: SQLite increments it each time the WAL starts over. */
export function walSequence(walPath: string): number {
  const fd = openSync(walPath, 'r');
  try {
    const b = Buffer.alloc(32);
    readSync(fd, b, 0, 32, 0);
    return b.readUInt32BE(12);
  } finally {
    closeSync(fd);
  }
}

/**
 * Rows of `table` in `dir`'s events.db alone (its WAL left behind); 0 while the table is not there
 * or when the copy caught a checkpoint mid-write (callers that expect rows look again).
 */
export function rowsInFile(dir: string, table = 'ev_20261128'): number {
  const copy = join(dir, 'copy.db');
  try {
    copyFileSync(join(dir, 'events.db'), copy);
    const db = new Database(copy, { readonly: true });
    try {
      const t = db.prepare('SELECT name FROM sqlite_master WHERE name = ?').pluck().get(table);
      return t ? (db.prepare(`SELECT count(*) FROM "${table}"`).pluck().get() as number) : 0;
    } finally {
      db.close();
    }
  } catch {
    // Copied while a checkpoint was writing the file: counted as nothing yet.
    return 0;
  } finally {
    rmSync(copy, { force: true });
  }
}
