/**
 * Durability of a SQLite store's commits, taken off the writer's commit path.
 *
 * With `journal_mode = WAL` a commit appends its frames to `<db>-wal`; `synchronous = FULL`
 * fsyncs that file inside every commit, `NORMAL` only at checkpoints (SQLite "Write-Ahead
 * Logging" §"Performance Considerations", and PRAGMA synchronous). A commit made with `NORMAL` is
 * already visible to readers and survives the process being killed (its frames are in the page
 * cache); it survives power loss once the WAL's bytes up to its commit frame are on disk. An
 * fsync issued after the commit returned covers them (POSIX fsync: all data written to the file
 * before the call), whoever issues it, so the store worker can commit with `NORMAL` and go on with
 * the next step while another thread syncs the WAL: the buffer forgets a step only after that
 * sync, as it did after a `FULL` commit. A WAL that SQLite restarts from its beginning was fully
 * checkpointed first, and a checkpoint syncs the database file (also with `NORMAL`), so frames
 * overwritten by a restart are durable in the database already.
 */
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SocError } from '../errors.js';

/**
 * Syncs one WAL file on request; concurrent requests share syncs (a request made while one runs
 * waits for the next, which starts after it).
 *
 * @example
 * ```ts
 * const wal = new WalSyncer('./data/events.db-wal');
 * // after the store's commit returned:
 * await wal.sync();   // its frames are on disk
 * ```
 */
export class WalSyncer {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  /** Inode of the WAL whose directory entry was synced (a new file needs its entry synced once). */
  private ino: number | undefined;

  constructor(private readonly walPath: string) {}

  /**
   * Resolves once everything written to the WAL before this call is on disk; rejects with
   * `SOC_ERR_STORE_WRITE` when the sync fails (the steps it covers stay buffered and are retried).
   */
  sync(): Promise<void> {
    if (!this.running) return this.start();
    // The sync in progress may have started before the caller's commit: wait for a later one.
    this.next ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.start();
      });
    return this.next;
  }

  private start(): Promise<void> {
    const p: Promise<void> = this.once().finally(() => {
      if (this.running === p) this.running = undefined;
    });
    this.running = p;
    return p;
  }

  private async once(): Promise<void> {
    try {
      await this.syncOnce();
    } catch (e) {
      throw new SocError('SOC_ERR_STORE_WRITE', `cannot sync ${this.walPath}: ${(e as Error).message}`, { cause: e });
    }
  }

  private async syncOnce(): Promise<void> {
    let fh;
    try {
      fh = await open(this.walPath, 'r+');
    } catch (e) {
      // No WAL: the last connection closed the store, which checkpoints, syncs the database
      // file and only then deletes the WAL (SQLite "Write-Ahead Logging" §"Persistence of WAL
      // mode"): the commits are in the synced database.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    try {
      // fdatasync, as SQLite itself syncs on Linux: the data and the file size, not the times.
      await fh.datasync();
      const { ino } = await fh.stat();
      if (ino !== this.ino) {
        await syncDirectory(dirname(this.walPath));
        this.ino = ino;
      }
    } finally {
      await fh.close();
    }
  }
}

/**
 * A new file's directory entry is durable only once its directory is synced (fsync(2), NOTES);
 * SQLite syncs the directory of a WAL it creates at its first sync, which with `NORMAL` may come
 * only at the first checkpoint. Windows cannot open a directory and has no such step.
 */
async function syncDirectory(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
