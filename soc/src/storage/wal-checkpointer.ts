/**
 * WAL checkpoints run by one thread of the process for every database registered with it (see
 * {@link WalCheckpointer}): `alerts.db` for the detector, `events.db` for the store worker.
 *
 * The detector commits alerts on the main thread. With SQLite's autocheckpoint the commit that
 * takes the WAL past its bound also copies the whole WAL back into `alerts.db` and fsyncs both:
 * 80–200 ms of the main thread every ~2 s in bench:ingest's paced phase (soc/README.md, "Alert
 * store, session 12"), while socket reads and fsync callbacks wait. The store worker, the
 * pipeline's critical path, spent 11–15 % of its time copying the events WAL ("Checkpoint thread,
 * session 16"). Here the writers' connections do not checkpoint while the thread runs; the thread
 * opens its own connection to each database and runs `wal_checkpoint(PASSIVE)` once the WAL holds
 * enough frames. A PASSIVE checkpoint never blocks the writer, and SQLite syncs the WAL before
 * copying and the database before counting frames as copied, whichever connection runs it (the
 * thread's connections run with `synchronous = NORMAL`, which syncs at checkpoints), so durability
 * is unchanged; the writer's next commit starts the WAL over once every frame is copied. One
 * thread for all: an idle worker isolate costs 7–8 MB of RSS.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { niceThisThread } from '../thread-nice.js';

const ROLE = 'xiangan-wal-checkpointer';
/**
 * Nice value added to the thread's (Linux: per thread; at most 19). The copy is not urgent and its
 * writers' bounds hold if it lags, so the pipeline's threads come first on a busy machine; at +10
 * it still gets ~10 % of a contended core and all of an idle one. Added, not set: a server started
 * niced would otherwise run this thread ahead of its others.
 */
const THREAD_NICE = 10;

/** One database as the thread serves it. */
interface TargetData {
  id: number;
  path: string;
  frames: number;
  pollMs: number;
  idleMs: number | undefined;
  maxFrames: number | undefined;
}

/** What the main side hears from the thread. */
type FromThread =
  | { type: 'ready'; id: number }
  | { type: 'removed'; id: number }
  | { type: 'checkpoint'; id: number; log: number; checkpointed: number }
  | { type: 'error'; id: number; message: string; fatal?: boolean };
type ToThread = { type: 'add'; target: TargetData } | { type: 'remove'; id: number } | { type: 'stop' };

/** Options of {@link WalCheckpointer}. */
export interface WalCheckpointerOptions {
  /** The database file (`alerts.db`, `events.db`); the thread opens its own connection to it. */
  path: string;
  /**
   * Checkpoint once the WAL holds this many frames beyond those the thread last copied; after a
   * checkpoint the writer outran, what it committed meanwhile is copied at the next look.
   */
  frames: number;
  /** How often the thread looks at the WAL, ms (default 50). */
  pollMs?: number;
  /**
   * Also checkpoint once the WAL has not changed for this long, ms (default: never), so that an
   * idle writer's last frames reach the database file.
   */
  idleMs?: number;
  /**
   * Leave a WAL of this many frames or more to its writer (default: never): a writer that bounds
   * its WAL by checkpointing past that point itself finds the thread out of its way.
   */
  maxFrames?: number;
  /** Delay before a thread that exited is started again, ms (default 30 s, doubling up to 10 min). */
  restartMs?: number;
  /** A checkpoint failed or the thread exited (the caller logs it). */
  onError: (message: string) => void;
  /**
   * The thread serves this database (`true`) or is gone (`false`): the caller turns its writer's
   * own checkpoints off or back on, so the WAL stays bounded while no thread checkpoints.
   */
  onRunning: (running: boolean) => void;
}

/**
 * The process's checkpoint thread: started by the first {@link WalCheckpointer}, stopped when the
 * last one is closed, restarted after it exits (for every database it served). Unref'd: it never
 * keeps the process alive.
 */
class CheckpointThread {
  private worker: Worker | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private restartDelay: number | undefined;
  readonly targets = new Map<number, WalCheckpointer>();
  /** Removals the thread has not confirmed yet (the worker stays ref'd meanwhile). */
  private readonly removing = new Map<number, () => void>();

  get thread(): Worker | undefined {
    return this.worker;
  }

  add(t: WalCheckpointer): void {
    this.targets.set(t.id, t);
    if (this.worker) this.worker.postMessage({ type: 'add', target: t.data() } satisfies ToThread);
    else if (!this.restartTimer) this.start();
  }

  /** The thread closes its connection to `t`'s database; resolves once it has (or has exited). */
  async remove(t: WalCheckpointer): Promise<void> {
    this.targets.delete(t.id);
    const w = this.worker;
    if (this.targets.size === 0) {
      clearTimeout(this.restartTimer);
      this.restartTimer = undefined;
      this.restartDelay = undefined;
      if (w) await this.stop(w);
      return;
    }
    if (!w) return;
    const done = new Promise<void>((r) => this.removing.set(t.id, r));
    // Held until the thread has answered, so that a caller awaiting close() sees it through; a
    // thread that does not answer (stuck in a checkpoint) is ended, as stop() does, and restarted
    // for the others.
    w.ref();
    w.postMessage({ type: 'remove', id: t.id } satisfies ToThread);
    const timer = setTimeout(() => void w.terminate(), 5_000);
    await done;
    clearTimeout(timer);
    if (this.worker === w && this.removing.size === 0) w.unref();
  }

  private start(): void {
    this.restartTimer = undefined;
    if (this.targets.size === 0) return;
    const targets = [...this.targets.values()];
    // No inherited node options: the thread needs none, and `-e` would run the caller's code.
    const w = new Worker(new URL(import.meta.url), {
      workerData: { role: ROLE, targets: targets.map((t) => t.data()) },
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    this.worker = w;
    for (const t of targets) t.stats.starts++;
    w.on('message', (m: FromThread) => {
      if (m.type === 'removed') {
        this.removing.get(m.id)?.();
        this.removing.delete(m.id);
        return;
      }
      const t = this.targets.get(m.id);
      if (!t) return;
      if (m.type === 'checkpoint') {
        this.restartDelay = undefined;
        t.checkpointed(m.checkpointed);
      } else if (m.type === 'ready') t.running(true);
      else t.failed(m.message, m.fatal === true);
    });
    w.on('error', (e) => {
      for (const t of this.targets.values()) t.opts.onError(`checkpoint thread failed: ${e.message}`);
    });
    w.on('exit', (code) => {
      // Removals it did not answer are done (also when stop() ended it while one was pending).
      for (const r of this.removing.values()) r();
      this.removing.clear();
      if (this.worker !== w) return;
      this.worker = undefined;
      if (this.targets.size === 0) return;
      // The writers checkpoint themselves meanwhile; the thread comes back after a delay.
      for (const t of this.targets.values()) {
        t.running(false);
        t.opts.onError(`checkpoint thread exited with code ${code}; the committing connection checkpoints until it is back`);
      }
      const delay = (this.restartDelay ??= Math.min(...[...this.targets.values()].map((t) => t.opts.restartMs ?? 30_000)));
      this.restartDelay = Math.min(delay * 2, 600_000);
      this.restartTimer = setTimeout(() => this.start(), delay);
      this.restartTimer.unref();
    });
    // After the listeners: adding a 'message' listener refs the worker again.
    w.unref();
  }

  private async stop(w: Worker): Promise<void> {
    this.worker = undefined;
    const exited = new Promise<void>((r) => w.once('exit', () => r()));
    w.ref();
    w.postMessage({ type: 'stop' } satisfies ToThread);
    const t = setTimeout(() => void w.terminate(), 5_000);
    await exited;
    clearTimeout(t);
  }
}

let shared: CheckpointThread | undefined;
let nextId = 1;

/**
 * One database checkpointed by the process's checkpoint thread: registers it (starting the thread
 * if none runs), reports the thread's state through `onRunning`, and unregisters it on
 * {@link close} (the thread closes its connection first; the last one stops the thread).
 */
export class WalCheckpointer {
  readonly id = nextId++;
  private readonly host: CheckpointThread;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private retryMs: number;
  /** Checkpoints the thread ran here, frames they copied, failures reported, threads that served it. For tests and diagnostics. */
  readonly stats = { checkpoints: 0, framesCopied: 0, errors: 0, starts: 0 };

  constructor(readonly opts: WalCheckpointerOptions) {
    if (!Number.isInteger(opts.frames) || opts.frames < 1) throw new RangeError('WalCheckpointer: frames must be a positive integer');
    this.retryMs = opts.restartMs ?? 30_000;
    this.host = shared ??= new CheckpointThread();
    if (this.host.thread) this.stats.starts++;
    this.host.add(this);
  }

  /** The running thread, if any (tests stop it to check the fallback). */
  get thread(): Worker | undefined {
    return this.host.thread;
  }

  /** @internal What the thread needs to serve this database. */
  data(): TargetData {
    return { id: this.id, path: this.opts.path, frames: this.opts.frames, pollMs: this.opts.pollMs ?? 50, idleMs: this.opts.idleMs, maxFrames: this.opts.maxFrames };
  }

  /** @internal */
  running(on: boolean): void {
    if (!this.closed) this.opts.onRunning(on);
  }

  /** @internal */
  checkpointed(frames: number): void {
    this.stats.checkpoints++;
    this.stats.framesCopied += frames;
  }

  /** @internal A failure of this database in the thread; a fatal one (it could not open it) is retried later. */
  failed(message: string, fatal: boolean): void {
    this.stats.errors++;
    this.opts.onError(message);
    if (!fatal || this.closed) return;
    this.host.targets.delete(this.id);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (!this.closed) this.host.add(this);
    }, this.retryMs);
    this.retry.unref();
    this.retryMs = Math.min(this.retryMs * 2, 600_000);
  }

  /** Stop checkpointing this database (the thread closes its connection to it first). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retry);
    await this.host.remove(this);
  }
}

/**
 * Whether a WAL holds at least `n` frames, read from its `-wal` file: frame `n`'s header carries
 * the WAL header's salts only if it was written since the WAL last started over (two reads of
 * 24–32 bytes). The `-wal` file carries no locks, unlike `-shm`, whose descriptor's close would
 * drop the process's POSIX locks of it (fcntl(2)), so a descriptor of its own is safe here.
 */
export class WalFrames {
  private fd: number | undefined;
  private readonly head = Buffer.alloc(32);
  private readonly frameHead = Buffer.alloc(24);

  constructor(readonly walPath: string) {}

  /** Reads the WAL header: its page size, or 0 when there is no WAL (yet). */
  private header(): number {
    if (this.fd === undefined) {
      try {
        this.fd = openSync(this.walPath, 'r');
      } catch {
        return 0;
      }
    }
    return readSync(this.fd, this.head, 0, 32, 0) < 32 ? 0 : this.head.readUInt32BE(8);
  }

  /** The current WAL's salt-1 (changes when the WAL starts over), or -1 without a WAL. */
  salt(): number {
    return this.header() === 0 ? -1 : this.head.readUInt32BE(16);
  }

  /** Whether frame `k` (0-based) belongs to the current WAL; reads the header again first. */
  has(k: number): boolean {
    const pageSize = this.header();
    return pageSize !== 0 && this.hasFrame(k, pageSize);
  }

  private hasFrame(k: number, pageSize: number): boolean {
    if (readSync(this.fd!, this.frameHead, 0, 24, 32 + k * (24 + pageSize)) < 24) return false;
    return this.frameHead.readUInt32BE(8) === this.head.readUInt32BE(16) && this.frameHead.readUInt32BE(12) === this.head.readUInt32BE(20);
  }

  /** Last modification of the `-wal` file, ms (0 without one). */
  mtimeMs(): number {
    return this.fd === undefined ? 0 : fstatSync(this.fd).mtimeMs;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * Thread side: one connection and one look every `pollMs` per database. A database is
 * checkpointed once its WAL holds `frames` frames beyond the last checkpoint's, again at the next
 * look if the writer committed beside that checkpoint (so the WAL can start over), and, with
 * `idleMs`, once the WAL has not changed for that long; never past `maxFrames`.
 */
function serveThread(): void {
  const served = new Map<number, () => void>();
  const post = (m: FromThread): void => parentPort!.postMessage(m);

  const serve = (t: TargetData): void => {
    let db: Database.Database | undefined;
    /** Opens the database once its writer has made it (never creates it); false if it is not there yet. */
    const open = (): boolean => {
      if (!existsSync(t.path)) return false;
      const d = new Database(t.path, { fileMustExist: true });
      try {
        d.pragma('busy_timeout = 1000');
        // Syncs the WAL before a checkpoint copies and the database file before it counts frames
        // as copied (OFF would do neither): the writers' durability rests on it.
        d.pragma('synchronous = NORMAL');
      } catch (e) {
        d.close();
        throw e;
      }
      db = d;
      post({ type: 'ready', id: t.id });
      return true;
    };
    const wal = new WalFrames(`${t.path}-wal`);
    // The current WAL (its salt-1) and how far our last checkpoint in it read.
    let salt1 = -1;
    let seen = 0;
    let failures = 0;
    let mtime = 0;
    let changedAt = Date.now();
    let timer: NodeJS.Timeout | undefined;

    const look = (): void => {
      const s = wal.salt();
      if (s === -1) return; // no WAL yet
      if (s !== salt1) {
        salt1 = s;
        seen = 0;
      }
      let quiet = false;
      if (t.idleMs !== undefined) {
        const m = wal.mtimeMs();
        if (m !== mtime) {
          mtime = m;
          changedAt = Date.now();
        } else quiet = Date.now() - changedAt >= t.idleMs;
      }
      if (!wal.has(seen)) return; // nothing beyond the last checkpoint
      // Past the bound the writer copies after its next commit; but a writer gone idle (its last
      // copy held back by a reader or by ours) makes no next commit, so a quiet WAL is copied here.
      if (!quiet && t.maxFrames !== undefined && wal.has(t.maxFrames - 1)) return;
      if (!quiet && !wal.has(seen + t.frames - 1) && seen === 0) return;
      const [r] = db!.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
      if (!r || r.busy) return; // another connection checkpoints (a writer's bound, its close)
      // -1: this connection has not seen the database in WAL mode (it read the schema before the
      // writer switched); it never reads again, so it is opened afresh at the next look.
      if (r.log < 0) {
        db!.close();
        db = undefined;
        return;
      }
      seen = r.log;
      post({ type: 'checkpoint', id: t.id, log: r.log, checkpointed: r.checkpointed });
    };

    const tick = (): void => {
      let delay = t.pollMs;
      if (!db) {
        try {
          // Looked at from the next tick on; until its writer has made it, looked for often.
          if (!open()) delay = Math.min(delay, 100);
          timer = setTimeout(tick, delay);
          return;
        } catch (e) {
          post({ type: 'error', id: t.id, message: `${t.path} checkpoint thread: ${(e as Error).message}`, fatal: true });
          served.delete(t.id);
          return;
        }
      }
      try {
        look();
        failures = 0;
      } catch (e) {
        // Reported, then tried again later (backing off, so a failing disk does not flood the log).
        failures++;
        delay = Math.min(t.pollMs * 2 ** failures, 5_000);
        post({ type: 'error', id: t.id, message: `${t.path} checkpoint: ${(e as Error).message}` });
      }
      timer = setTimeout(tick, delay);
    };

    served.set(t.id, () => {
      clearTimeout(timer);
      wal.close();
      db?.close();
    });
    tick();
  };

  parentPort!.on('message', (m: ToThread) => {
    if (m.type === 'add') serve(m.target);
    else if (m.type === 'remove') {
      served.get(m.id)?.();
      served.delete(m.id);
      post({ type: 'removed', id: m.id });
    } else if (m.type === 'stop') {
      for (const close of served.values()) close();
      served.clear();
      parentPort!.close();
    }
  });
  niceThisThread(THREAD_NICE);
  for (const t of (workerData as { targets: TargetData[] }).targets) serve(t);
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) serveThread();
