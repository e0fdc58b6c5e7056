/**
 * The durable buffer between the sources and the store: an SQLite WAL queue (`buffer.db`).
 *
 * - **Group commit.** Concurrent `append` calls are collected for a few milliseconds (or until a
 *   size threshold) and written as one row in one transaction; every caller's promise resolves
 *   after that commit. One commit per group, not per event, is what makes tens of thousands of
 *   events per second possible on one core.
 * - **Crash safety.** A resolved `append` is committed to the WAL. With `synchronous = NORMAL`
 *   (default) in WAL mode, committed transactions survive a process crash (`kill -9`): the WAL
 *   frames were handed to the kernel before `COMMIT` returned and SQLite recovers them on the next
 *   open (sqlite.org/wal.html §"Durability"); only an OS crash or power loss can roll back the
 *   last commits. `synchronous = FULL` fsyncs each group commit and extends the guarantee to power
 *   loss at the price of one fsync per group.
 * - **Bounded.** `maxEvents` and `maxBytes` bound the backlog; when reached, `full` is true and
 *   `append` rejects with `COL_ERR_BUFFER_FULL` (`whenFull: 'reject'`, sources push back or count
 *   a drop) or waits for room (`whenFull: 'block'`).
 * - **At least once.** The consumer reads batches in order, hands them to the store and calls
 *   `ack(seq)` only after the store has committed; a crash in between replays them, and the
 *   store's idempotent write (by event id) makes the replay harmless.
 * - **File checkpoints** live in the same database, so a file tailer's offset commits in the same
 *   transaction as the lines it read ({@link DurableBuffer.appendWithCheckpoint}).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CollectorError, type EcsEvent, type EventSink } from '@xiangan/collectors';
import { SocError } from '../errors.js';
import { encodeFrames, frameSize, RawFrame } from './raw.js';

/** Page cache of each connection to `buffer.db` (this one, the prepare worker's reader), in MiB (see the constructor). */
export const BUFFER_CACHE_MB = 1;

/** Options of {@link DurableBuffer}. */
export interface DurableBufferOptions {
  /** Directory for `buffer.db`; created if missing. */
  dir: string;
  /** Most events held; default 2,000,000. */
  maxEvents?: number;
  /** Most bytes (of serialised events) held; default 512 MiB. */
  maxBytes?: number;
  /** What `append` does when the buffer is full; default `'reject'`. */
  whenFull?: 'reject' | 'block';
  /** See the module comment; default `'normal'`. */
  synchronous?: 'normal' | 'full';
  /** Longest wait before a group commit (ms); default 5. */
  groupCommitMs?: number;
  /** A group commits at once when it reaches this many events; default 5,000. */
  groupCommitEvents?: number;
  /**
   * A group commits at once when it holds this many bytes; default 4 MiB. With the event bound
   * it keeps every row, and so every read of a few rows, small whatever the messages' size.
   */
  groupCommitBytes?: number;
  /** Clock for batch ages. */
  now?: () => number;
}

/** One committed batch as the consumer reads it. */
export interface BufferedBatch {
  /** Position in the queue; pass the last one read to {@link DurableBuffer.ack}. */
  seq: number;
  /** When it was committed (ms since the epoch). */
  appendedAt: number;
  events: EcsEvent[];
}

/**
 * One committed batch with its events still serialised. `docs` batches (the default, `kind`
 * absent) hold one JSON document per line in `data`; `frames` batches hold raw network frames
 * (`./raw.ts`) in `frames` + `meta`, not yet parsed, and an empty `data`.
 */
export interface RawBatch {
  seq: number;
  appendedAt: number;
  count: number;
  data: string;
  kind?: 'docs' | 'frames';
  frames?: Uint8Array;
  meta?: string;
  /** Its size as the buffer stored it, the measure of {@link READ_MAX_BYTES} (set by {@link readBatchesAfter}). */
  bytes?: number;
}

/** The documents of `docs` batches, one per event, in order (a `frames` batch is a TypeError: parse it first). */
export function batchDocs(batches: readonly RawBatch[]): string[] {
  const out: string[] = [];
  for (const b of batches) {
    if (b.kind === 'frames') throw new TypeError('batchDocs: a batch of raw frames has no documents before it is parsed');
    for (const d of b.data.split('\n')) out.push(d);
  }
  return out;
}

/** A file tailer's resume point, stored next to the events it produced. */
export interface BufferCheckpoint {
  key: string;
  value: string;
}

interface Pending {
  docs: string[];
  frames: RawFrame[];
  bytes: number;
  checkpoints: BufferCheckpoint[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * SQLite-backed durable buffer; implements the collectors' `EventSink`.
 *
 * @example
 * ```ts
 * const buf = new DurableBuffer({ dir: './data', maxEvents: 1_000_000 });
 * await buf.append(events);                      // durable once resolved
 * const batches = buf.read(10_000);             // consumer side
 * await store.write(batches.flatMap((b) => b.events));
 * buf.ack(batches.at(-1)!.seq);                  // only after the store committed
 * ```
 */
export class DurableBuffer implements EventSink {
  readonly path: string;
  readonly maxEvents: number;
  readonly maxBytes: number;
  private readonly whenFull: 'reject' | 'block';
  private readonly groupMs: number;
  private readonly groupEvents: number;
  private readonly groupBytes: number;
  private readonly now: () => number;
  private readonly db: Database.Database;
  private readonly stInsert: Database.Statement;
  private readonly stAck: Database.Statement;
  private readonly stCheckpoint: Database.Statement;
  private readonly stGetCheckpoint: Database.Statement;
  private readonly stOldest: Database.Statement;
  private readonly stHasData: Database.Statement;
  private pending: Pending[] = [];
  private pendingEvents = 0;
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private depthEvents = 0;
  private depthBytes = 0;
  private readSeq = 0;
  private waiters: Array<() => void> = [];
  private dataWaiters: Array<() => void> = [];
  private closed = false;
  /** Counters for metrics: events appended, acknowledged, and group commits. */
  readonly counters = { appended: 0, acked: 0, commits: 0, rejectedFull: 0 };

  constructor(opts: DurableBufferOptions) {
    if (typeof opts?.dir !== 'string' || opts.dir === '') throw new TypeError('DurableBuffer: dir must be a non-empty string');
    this.maxEvents = positive(opts.maxEvents ?? 2_000_000, 'maxEvents');
    this.maxBytes = positive(opts.maxBytes ?? 512 * 1024 * 1024, 'maxBytes');
    this.whenFull = opts.whenFull ?? 'reject';
    if (this.whenFull !== 'reject' && this.whenFull !== 'block') throw new RangeError("DurableBuffer: whenFull must be 'reject' or 'block'");
    this.groupMs = opts.groupCommitMs ?? 5;
    this.groupEvents = positive(opts.groupCommitEvents ?? 5000, 'groupCommitEvents');
    this.groupBytes = positive(opts.groupCommitBytes ?? 4 * 1024 * 1024, 'groupCommitBytes');
    this.now = opts.now ?? Date.now;
    this.path = bufferPath(opts.dir);
    try {
      mkdirSync(opts.dir, { recursive: true });
      this.db = new Database(this.path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${opts.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      this.db.pragma('busy_timeout = 5000');
      // better-sqlite3 builds SQLite with a 16 MiB default page cache (SQLITE_DEFAULT_CACHE_SIZE=-16000,
      // its deps/defines.gypi), which the appends of rows of up to 4 MiB filled; rows are written
      // once and read by another connection, so 1 MiB (B-tree pages, freelist) is enough: append,
      // read and ack 1.05-1.08x of ~1 CPU-µs per event, ~0.1 % of the server's (soc/README.md
      // "Memory, session 9").
      this.db.pragma(`cache_size = ${-1024 * BUFFER_CACHE_MB}`);
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS batches (seq INTEGER PRIMARY KEY AUTOINCREMENT, appended_at INTEGER NOT NULL,
          count INTEGER NOT NULL, bytes INTEGER NOT NULL, data TEXT NOT NULL, kind INTEGER NOT NULL DEFAULT 0, meta TEXT);
        CREATE TABLE IF NOT EXISTS checkpoints (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;`);
      // A buffer written before raw frames existed: add their columns (its rows are all documents).
      const cols = new Set((this.db.prepare('PRAGMA table_info(batches)').all() as Array<{ name: string }>).map((c) => c.name));
      if (!cols.has('kind')) this.db.exec('ALTER TABLE batches ADD COLUMN kind INTEGER NOT NULL DEFAULT 0; ALTER TABLE batches ADD COLUMN meta TEXT;');
      const agg = this.db.prepare('SELECT coalesce(sum(count), 0) AS n, coalesce(sum(bytes), 0) AS b FROM batches').get() as { n: number; b: number };
      this.depthEvents = agg.n;
      this.depthBytes = agg.b;
      this.stInsert = this.db.prepare('INSERT INTO batches (appended_at, count, bytes, data, kind, meta) VALUES (?, ?, ?, ?, ?, ?)');
      this.stAck = this.db.prepare('DELETE FROM batches WHERE seq <= ? RETURNING count, bytes');
      this.stCheckpoint = this.db.prepare('INSERT INTO checkpoints (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
      this.stGetCheckpoint = this.db.prepare('SELECT value FROM checkpoints WHERE key = ?');
      this.stOldest = this.db.prepare('SELECT appended_at FROM batches ORDER BY seq LIMIT 1');
      this.stHasData = this.db.prepare('SELECT 1 FROM batches WHERE seq > ? LIMIT 1');
    } catch (e) {
      throw new SocError('SOC_ERR_BUFFER_IO', `cannot open buffer ${this.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** True while committed plus pending events or bytes are at the bound. */
  get full(): boolean {
    return this.depthEvents + this.pendingEvents >= this.maxEvents || this.depthBytes + this.pendingBytes >= this.maxBytes;
  }

  /** Events committed and not yet acknowledged. */
  get depth(): number {
    return this.depthEvents;
  }

  /** Bytes committed and not yet acknowledged. */
  get bytes(): number {
    return this.depthBytes;
  }

  /** Age in ms of the oldest unacknowledged batch (0 when empty). */
  oldestAgeMs(): number {
    if (this.closed) return 0;
    const r = this.stOldest.get() as { appended_at: number } | undefined;
    return r ? Math.max(0, this.now() - r.appended_at) : 0;
  }

  /**
   * Durably append events; resolves after the group commit that holds them. The network sources
   * of the pipeline pass {@link RawFrame}s instead of events (all of one call the same kind):
   * they are kept as bytes and parsed by the consumer.
   */
  append(events: EcsEvent[]): Promise<void> {
    return this.enqueue(events, []);
  }

  /**
   * Append events and move a file checkpoint in the same transaction: after a crash either both
   * the lines and the new offset are there or neither is.
   */
  appendWithCheckpoint(events: EcsEvent[], checkpoint: BufferCheckpoint): Promise<void> {
    if (typeof checkpoint?.key !== 'string' || typeof checkpoint.value !== 'string') throw new TypeError('appendWithCheckpoint: checkpoint needs string key and value');
    return this.enqueue(events, [checkpoint]);
  }

  /** The stored value of a checkpoint, or `undefined`. */
  getCheckpoint(key: string): string | undefined {
    this.check();
    return (this.stGetCheckpoint.get(key) as { value: string } | undefined)?.value;
  }

  /** Set a checkpoint on its own, committed before returning. */
  setCheckpoint(key: string, value: string): void {
    this.check();
    try {
      this.stCheckpoint.run(key, value);
    } catch (e) {
      throw new SocError('SOC_ERR_BUFFER_IO', `checkpoint write failed: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Remove a checkpoint. */
  deleteCheckpoint(key: string): void {
    this.check();
    this.db.prepare('DELETE FROM checkpoints WHERE key = ?').run(key);
  }

  /** Checkpoints whose key starts with `prefix`, ordered by key. */
  listCheckpoints(prefix: string): Array<[string, string]> {
    this.check();
    // substr() rather than LIKE: keys are paths and may hold % or _.
    const rows = this.db.prepare('SELECT key, value FROM checkpoints WHERE substr(key, 1, ?) = ? ORDER BY key').all(prefix.length, prefix) as Array<{ key: string; value: string }>;
    return rows.map((r) => [r.key, r.value]);
  }

  private check(): void {
    if (this.closed) throw new SocError('SOC_ERR_STORE_CLOSED', 'buffer is closed');
  }

  private async enqueue(events: EcsEvent[], checkpoints: BufferCheckpoint[]): Promise<void> {
    this.check();
    if (!Array.isArray(events)) throw new TypeError('append: events must be an array');
    if (events.length === 0 && checkpoints.length === 0) return;
    let docs: string[] = [];
    let frames: RawFrame[] = [];
    let bytes = 0;
    if ((events[0] as unknown) instanceof RawFrame) {
      frames = events as unknown as RawFrame[];
      for (const f of frames) {
        if (!(f instanceof RawFrame)) throw new TypeError('append: raw frames and events cannot be mixed in one call');
        bytes += frameSize(f);
      }
    } else {
      docs = events.map((e) => {
        if ((e as unknown) instanceof RawFrame) throw new TypeError('append: raw frames and events cannot be mixed in one call');
        return JSON.stringify(e);
      });
      for (const d of docs) bytes += d.length;
    }
    const count = events.length;
    while (this.wouldOverflow(count, bytes)) {
      if (this.whenFull === 'reject') {
        this.counters.rejectedFull += count;
        throw new CollectorError('COL_ERR_BUFFER_FULL', `buffer full (${this.depthEvents} events, ${this.depthBytes} bytes)`);
      }
      await new Promise<void>((r) => this.waiters.push(r));
      this.check();
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ docs, frames, bytes, checkpoints, resolve, reject });
      this.pendingEvents += count;
      this.pendingBytes += bytes;
      if (this.pendingEvents >= this.groupEvents || this.pendingBytes >= this.groupBytes) {
        this.flush();
      } else if (!this.timer) {
        this.timer = setTimeout(() => this.flush(), this.groupMs);
      }
    });
  }

  /** An empty buffer always takes a batch, so one batch larger than the bound cannot wedge a source. */
  private wouldOverflow(n: number, bytes: number): boolean {
    const events = this.depthEvents + this.pendingEvents;
    const b = this.depthBytes + this.pendingBytes;
    if (events === 0 && b === 0) return false;
    return events + n > this.maxEvents || b + bytes > this.maxBytes;
  }

  /** Commit everything pending now (also called by the timer). */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const group = this.pending;
    if (group.length === 0) return;
    this.pending = [];
    const n = this.pendingEvents;
    const bytes = this.pendingBytes;
    this.pendingEvents = 0;
    this.pendingBytes = 0;
    try {
      this.db.transaction(() => {
        if (n > 0) {
          const all: string[] = [];
          const frames: RawFrame[] = [];
          let docBytes = 0;
          for (const p of group) {
            for (const d of p.docs) all.push(d);
            if (p.frames.length) {
              for (const f of p.frames) frames.push(f);
            } else docBytes += p.bytes;
          }
          const at = this.now();
          // One document per line: JSON.stringify never emits a raw newline, and the consumer can
          // hand each line to the store as the stored document without serialising it again.
          if (all.length) this.stInsert.run(at, all.length, docBytes, all.join('\n'), 0, null);
          if (frames.length) {
            const { data, meta } = encodeFrames(frames);
            this.stInsert.run(at, frames.length, bytes - docBytes, data, 1, meta);
          }
        }
        for (const p of group) for (const c of p.checkpoints) this.stCheckpoint.run(c.key, c.value);
      })();
    } catch (e) {
      const err = new SocError('SOC_ERR_BUFFER_IO', `buffer append failed: ${(e as Error).message}`, { cause: e });
      for (const p of group) p.reject(err);
      return;
    }
    this.depthEvents += n;
    this.depthBytes += bytes;
    this.counters.appended += n;
    this.counters.commits++;
    for (const p of group) p.resolve();
    const w = this.dataWaiters;
    this.dataWaiters = [];
    for (const r of w) r();
  }

  /**
   * Committed batches after the last one read, oldest first, up to about `maxEvents` events and
   * {@link READ_MAX_BYTES} (at least one batch). Reading does not remove them: {@link ack} does.
   */
  read(maxEvents: number): BufferedBatch[] {
    // Documents only: raw frames are parsed by the pipeline's consumer (`pipeline/prepare.ts`).
    return this.readRaw(maxEvents).map((b) => ({ seq: b.seq, appendedAt: b.appendedAt, events: batchDocs([b]).map((d) => JSON.parse(d) as EcsEvent) }));
  }

  /** Like {@link read}, but each event as its serialised JSON document. */
  readRaw(maxEvents: number): RawBatch[] {
    this.check();
    const out = readBatchesAfter(this.db, this.readSeq, maxEvents);
    if (out.length) this.readSeq = out[out.length - 1]!.seq;
    return out;
  }

  /** Batches after `seq` (stateless form of {@link readRaw}, for a consumer that tracks its own position). */
  readAfter(seq: number, maxEvents: number): RawBatch[] {
    this.check();
    return readBatchesAfter(this.db, seq, maxEvents);
  }

  /** Forget what was read but not acknowledged, so the next `read` returns it again (after a store failure). */
  rewind(): void {
    this.readSeq = 0;
  }

  /** Resolves when a batch after `afterSeq` (default: the last one read) is available, or after `timeoutMs`. */
  waitForData(timeoutMs: number, afterSeq = this.readSeq): Promise<void> {
    if (this.closed) return Promise.resolve();
    const has = this.stHasData.get(afterSeq) !== undefined;
    if (has) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, timeoutMs);
      const self = this;
      function done(): void {
        clearTimeout(t);
        self.dataWaiters = self.dataWaiters.filter((w) => w !== done);
        resolve();
      }
      this.dataWaiters.push(done);
    });
  }

  /** Remove every batch up to and including `seq`: call only after the store committed them. */
  ack(seq: number): void {
    this.check();
    if (!Number.isInteger(seq) || seq < 0) throw new RangeError('ack: seq must be a non-negative integer');
    let n = 0;
    let b = 0;
    try {
      for (const r of this.stAck.all(seq) as Array<{ count: number; bytes: number }>) {
        n += r.count;
        b += r.bytes;
      }
    } catch (e) {
      throw new SocError('SOC_ERR_BUFFER_IO', `buffer ack failed: ${(e as Error).message}`, { cause: e });
    }
    this.depthEvents -= n;
    this.depthBytes -= b;
    this.counters.acked += n;
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }

  /** Commit what is pending, then close the database. Waiting appenders are rejected. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
    for (const r of this.dataWaiters) r();
    this.dataWaiters = [];
    this.db.close();
  }
}

function positive(v: number, name: string): number {
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`DurableBuffer: ${name} must be a positive integer`);
  return v;
}

const readStatements = new WeakMap<Database.Database, Database.Statement>();

/**
 * Most buffered bytes one read returns (besides its first batch), whatever `maxEvents` allows: a
 * step of large messages (up to `syslog.maxMessageBytes` each) stays a few tens of MiB in the
 * threads that parse, store and detect it instead of `maxEvents` times the message size. A
 * default step of ordinary lines is not cut (4,000 syslog lines are ~1 MiB of raw frames, and
 * 4,000 normalised documents ~6 MiB).
 */
export const READ_MAX_BYTES = 8 * 1024 * 1024;

/**
 * Committed batches after `afterSeq`, oldest first, up to about `maxEvents` events and `maxBytes`
 * buffered bytes (at least one batch), read row by row so a backlog is never loaded whole. The
 * cut depends only on the rows and the bounds, so two reads from one position with the same
 * bounds return the same batches. Works on any connection to `buffer.db`: the store worker
 * reads through its own.
 */
export function readBatchesAfter(db: Database.Database, afterSeq: number, maxEvents: number, maxBytes: number = READ_MAX_BYTES): RawBatch[] {
  let st = readStatements.get(db);
  if (!st) {
    st = db.prepare('SELECT seq, appended_at, count, bytes, data, kind, meta FROM batches WHERE seq > ? ORDER BY seq');
    readStatements.set(db, st);
  }
  const out: RawBatch[] = [];
  let n = 0;
  let size = 0;
  for (const r of st.iterate(afterSeq) as IterableIterator<{ seq: number; appended_at: number; count: number; bytes: number; data: string | Buffer; kind: number; meta: string | null }>) {
    if (out.length > 0 && (n + r.count > maxEvents || size + r.bytes > maxBytes)) break;
    size += r.bytes;
    if (r.kind === 1) out.push({ seq: r.seq, appendedAt: r.appended_at, count: r.count, bytes: r.bytes, data: '', kind: 'frames', frames: r.data as Buffer, meta: r.meta ?? '[]' });
    else out.push({ seq: r.seq, appendedAt: r.appended_at, count: r.count, bytes: r.bytes, data: r.data as string });
    n += r.count;
    if (n >= maxEvents || size >= maxBytes) break;
  }
  return out;
}

/** The path of the buffer database in a data directory. */
export function bufferPath(dir: string): string {
  return join(dir, 'buffer.db');
}
