/**
 * The alert store's WAL checkpoint, run by a thread of its own (see {@link WalCheckpointer}).
 *
 * The detector commits alerts on the main thread. With SQLite's autocheckpoint the commit that
 * takes the WAL past its bound also copies the whole WAL back into `alerts.db` and fsyncs both:
 * 80–200 ms of the main thread every ~2 s in bench:ingest's paced phase (soc/README.md, "Alert
 * store, session 12"), while socket reads and fsync callbacks wait. Here the main connection's
 * autocheckpoint is off and a worker with its own connection runs `wal_checkpoint(PASSIVE)` once
 * the WAL holds that many frames. A PASSIVE checkpoint never blocks the writer and SQLite syncs
 * the WAL before copying and the database before counting frames as copied, whichever connection
 * runs it, so durability is unchanged; the writer's next commit starts the WAL over once every
 * frame is copied.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { niceThisThread } from '../thread-nice.js';

const ROLE = 'xiangan-alerts-checkpointer';
/**
 * Nice value added to the thread's (Linux: per thread; at most 19). The copy is not urgent and its
 * bound holds if it lags, so the pipeline's threads come first on a busy machine; at +10 it still
 * gets ~10 % of a contended core, more than a checkpoint every ~2 s needs. Added, not set: a
 * server started niced would otherwise run this thread ahead of its others.
 */
const THREAD_NICE = 10;

/** What the main side hears from the thread. */
type FromThread =
  | { type: 'ready' }
  | { type: 'checkpoint'; log: number; checkpointed: number }
  | { type: 'error'; message: string };

interface ThreadData {
  role: typeof ROLE;
  path: string;
  frames: number;
  pollMs: number;
}

/** Options of {@link WalCheckpointer}. */
export interface WalCheckpointerOptions {
  /** The database file (`alerts.db`); the thread opens its own connection to it. */
  path: string;
  /** Checkpoint once the WAL holds this many frames. */
  frames: number;
  /** How often the thread looks at the WAL, ms (default 50). */
  pollMs?: number;
  /** Delay before a thread that exited is started again, ms (default 30 s, doubling up to 10 min). */
  restartMs?: number;
  /** A checkpoint failed or the thread exited (the caller logs it). */
  onError: (message: string) => void;
  /**
   * The thread is up (`true`) or gone (`false`): the caller turns its connection's own
   * autocheckpoint off or back on, so the WAL stays bounded while no thread checkpoints.
   */
  onRunning: (running: boolean) => void;
}

/**
 * Main side of the checkpoint thread: starts it, restarts it after it exits, stops it on
 * {@link close}. The thread is unref'd: it never keeps the process alive.
 */
export class WalCheckpointer {
  private worker: Worker | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private restartDelay: number;
  private closed = false;
  /** Checkpoints the thread ran, frames they copied, failures reported, threads started. For tests and diagnostics. */
  readonly stats = { checkpoints: 0, framesCopied: 0, errors: 0, starts: 0 };

  constructor(private readonly opts: WalCheckpointerOptions) {
    if (!Number.isInteger(opts.frames) || opts.frames < 1) throw new RangeError('WalCheckpointer: frames must be a positive integer');
    this.restartDelay = opts.restartMs ?? 30_000;
    this.start();
  }

  /** The running thread, if any (tests stop it to check the fallback). */
  get thread(): Worker | undefined {
    return this.worker;
  }

  private start(): void {
    this.restartTimer = undefined;
    if (this.closed) return;
    const data: ThreadData = { role: ROLE, path: this.opts.path, frames: this.opts.frames, pollMs: this.opts.pollMs ?? 50 };
    // No inherited node options: the thread needs none, and `-e` would run the caller's code.
    const w = new Worker(new URL(import.meta.url), { workerData: data, execArgv: [], resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 } });
    this.worker = w;
    this.stats.starts++;
    w.on('message', (m: FromThread) => {
      if (m.type === 'ready') {
        this.opts.onRunning(true);
      } else if (m.type === 'checkpoint') {
        this.stats.checkpoints++;
        this.stats.framesCopied += m.checkpointed;
        this.restartDelay = this.opts.restartMs ?? 30_000;
      } else {
        this.stats.errors++;
        this.opts.onError(m.message);
      }
    });
    w.on('error', (e) => this.opts.onError(`checkpoint thread failed: ${e.message}`));
    w.on('exit', (code) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      if (this.closed) return;
      // The caller checkpoints inline meanwhile; the thread comes back after a delay.
      this.opts.onRunning(false);
      this.opts.onError(`checkpoint thread exited with code ${code}; the committing connection checkpoints until it is back`);
      const delay = this.restartDelay;
      this.restartDelay = Math.min(delay * 2, 600_000);
      this.restartTimer = setTimeout(() => this.start(), delay);
      this.restartTimer.unref();
    });
    // After the listeners: adding a 'message' listener refs the worker again.
    w.unref();
  }

  /** Stop the thread (it closes its connection first). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.restartTimer);
    const w = this.worker;
    this.worker = undefined;
    if (!w) return;
    const exited = new Promise<void>((r) => w.once('exit', () => r()));
    // Held until it has exited, so that a caller awaiting close() sees it through.
    w.ref();
    w.postMessage('stop');
    const t = setTimeout(() => void w.terminate(), 5_000);
    await exited;
    clearTimeout(t);
  }
}

/**
 * Thread side. Whether the WAL holds at least `n` frames is read from the `-wal` file: frame `n`'s
 * header carries the WAL header's salts only if it was written since the WAL last started over
 * (two reads of 24–32 bytes; the `-wal` file carries no locks, unlike `-shm`, whose descriptor's
 * close would drop the process's POSIX locks). After a checkpoint that the writer outran (frames
 * committed meanwhile), the rest is copied at the next look, so the WAL can start over.
 */
function serveThread(): void {
  const { path, frames, pollMs } = workerData as ThreadData;
  let db: Database.Database | undefined;
  let fd: number | undefined;
  const head = Buffer.alloc(32);
  const frameHead = Buffer.alloc(24);
  // The current WAL (its salt-1) and how far our last checkpoint in it read.
  let salt1 = -1;
  let seen = 0;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;

  const hasFrame = (k: number, pageSize: number): boolean => {
    if (readSync(fd!, frameHead, 0, 24, 32 + k * (24 + pageSize)) < 24) return false;
    return frameHead.readUInt32BE(8) === head.readUInt32BE(16) && frameHead.readUInt32BE(12) === head.readUInt32BE(20);
  };

  const look = (): void => {
    if (fd === undefined) {
      try {
        fd = openSync(`${path}-wal`, 'r');
      } catch {
        return; // no WAL yet
      }
    }
    if (readSync(fd, head, 0, 32, 0) < 32) return;
    const pageSize = head.readUInt32BE(8);
    if (head.readUInt32BE(16) !== salt1) {
      salt1 = head.readUInt32BE(16);
      seen = 0;
    }
    // A full WAL's worth of frames, or frames committed beside our last checkpoint.
    if (!hasFrame(seen + frames - 1, pageSize) && !(seen > 0 && hasFrame(seen, pageSize))) return;
    const [r] = db!.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    if (!r || r.busy) return; // another connection checkpoints (the writer's bound, its close)
    seen = r.log;
    parentPort!.postMessage({ type: 'checkpoint', log: r.log, checkpointed: r.checkpointed } satisfies FromThread);
  };

  const tick = (): void => {
    let delay = pollMs;
    try {
      look();
      failures = 0;
    } catch (e) {
      // Reported, then tried again later (backing off, so a failing disk does not flood the log).
      failures++;
      delay = Math.min(pollMs * 2 ** failures, 5_000);
      parentPort!.postMessage({ type: 'error', message: `alerts.db checkpoint: ${(e as Error).message}` } satisfies FromThread);
    }
    timer = setTimeout(tick, delay);
  };

  parentPort!.on('message', (m: unknown) => {
    if (m !== 'stop') return;
    clearTimeout(timer);
    if (fd !== undefined) closeSync(fd);
    db?.close();
    parentPort!.close();
  });
  niceThisThread(THREAD_NICE);
  try {
    db = new Database(path, { fileMustExist: true });
    db.pragma('busy_timeout = 1000');
  } catch (e) {
    parentPort!.postMessage({ type: 'error', message: `alerts.db checkpoint thread: ${(e as Error).message}` } satisfies FromThread);
    process.exit(1);
  }
  parentPort!.postMessage({ type: 'ready' } satisfies FromThread);
  timer = setTimeout(tick, pollMs);
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) serveThread();
