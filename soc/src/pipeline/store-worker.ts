/**
 * The store path in worker threads, so that the main thread only reads sockets, frames messages
 * and appends them to the durable buffer (and runs detection on what was stored):
 *
 * - the **prepare worker** reads buffered batches through its own connection to `buffer.db`
 *   (WAL readers never block the appender), parses and normalises raw frames, serialises each
 *   event once and computes the column values (`./prepare.ts`);
 * - the **store worker** inserts those values into SQLite (rows, indexes, FTS5, the integrity
 *   leaf index) in one transaction per step, through its own connection to `events.db`.
 *
 * {@link WorkerWriter} runs them as a two-stage pipeline: while the store worker commits step
 * k, the prepare worker already parses step k+1, so on two cores parsing and inserting overlap.
 * A prepared step goes from the prepare worker to the store worker directly, over a
 * `MessageChannel` the two share (laid out in transferred buffers, `PackedStep`): the main
 * thread, which also reads the sockets, never deserialises and re-serialises the column arrays.
 * It only learns each step's position and counters, and the stored documents when detection
 * reads them (`documents`), then names the step the store worker is to commit next; so which
 * step is stored, and when, is still the main thread's decision (acknowledgements, retries and
 * crash replays work as before). Bounded: at most `aheadSteps` steps (default one) are prepared
 * ahead, each of the consumer's size (or up to `stepGrowth` times that while a backlog waits in
 * the buffer, when enabled); they are prepared in chunks while the step before is committed, so
 * the next holds what arrived meanwhile (see `Ahead`).
 *
 * This module is both sides: {@link WorkerWriter} runs in the main thread; loaded as a worker it
 * serves the role named in its `workerData`.
 */
import { MessageChannel, Worker, isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BUFFER_CACHE_MB, READ_MAX_BYTES, bufferPath, readBatchesAfter, type RawBatch } from '../buffer/durable.js';
import { SocError } from '../errors.js';
import { niceThisThread } from '../thread-nice.js';
import { SqliteEventStore, type SqliteStoreOptions } from '../storage/sqlite.js';
import { storePrepared, type StepInfo } from './consumer.js';
import { releaseBuffers, type PackedTexts } from '../buffer/json-bytes.js';
import { Preparer, StepPacker, packedTransfer, plainBatches, unpackStep, type NormaliserName, type PackedStep, type PrepareCounters, type PreparedStep } from './prepare.js';
import { Prematcher, prematchedTransfer, type PrematchConfig, type PrematchedStep } from './prematch.js';
import { WalSyncer } from './wal-sync.js';
import { WalCheckpointer, WalFrames } from '../storage/wal-checkpointer.js';

const ROLE_STORE = 'xiangan-store-writer';
const ROLE_PREPARE = 'xiangan-store-prepare';
/**
 * Steps committed between WAL checkpoints at most. A checkpoint copies each page of the WAL into
 * the database once, however many commits rewrote it (SQLite "Write-Ahead Logging" §3), and the
 * id-key and source.ip indexes take their entries at random places, so consecutive steps rewrite
 * mostly the same index pages: checkpointing every fourth step instead of after each one cost the
 * store 0.5–0.9 CPU-µs per event less (~2 %, the same sign in four same-process runs of bench:store
 * floor mode, `XIANGAN_BENCH_STORE_CHECKPOINT_EVERY=4`, 300k and 600k rows), and fsyncs the
 * database file a quarter as often.
 */
const CHECKPOINT_STEPS = 4;
/** A checkpoint also runs once no store request has come for this long (ms), so an idle store's WAL is copied. */
const CHECKPOINT_IDLE_MS = 250;
/**
 * With the checkpoint thread (`checkpointThread`): it copies the WAL once it holds this many frames
 * beyond its last checkpoint (16 MiB at 16 KiB pages, about two flat-out steps), then at each look
 * what the store committed beside that checkpoint.
 */
const THREAD_CHECKPOINT_FRAMES = 1024;
/**
 * With the checkpoint thread, the WAL's bound in frames (64 MiB at 16 KiB pages). A PASSIVE
 * checkpoint beside a writer never copies what is committed while it runs, and SQLite starts the
 * WAL over only when every frame is copied at the start of a write: under a steady load the
 * thread alone would let it grow for ever. Past this bound the store worker copies the rest
 * itself between two steps (what the thread has not copied yet: about one step), and its next
 * commit starts the WAL over.
 */
const WAL_BOUND_FRAMES = 4096;

/** What the main thread learns of a prepared step (the step itself went to the store worker). */
interface StepMeta {
  lastSeq: number;
  events: number;
  oldestAppendedAt: number;
  counters: PrepareCounters;
  /** Whether the buffer held more batches after the step when it was read (a backlog). */
  more: boolean;
  /** Bytes of the step's batches as the buffer stored them, for the byte bound of a step ({@link READ_MAX_BYTES}). */
  bytes: number;
  /** The step's stored documents, when the writer was asked for them and detection did not run here. */
  batches?: RawBatch[];
  /** Instead of the documents: detection's stateless half of the step (./prematch.ts). */
  prematched?: PrematchedStep;
}

type Request =
  /** A new prepare → store channel (after either worker was started or restarted). */
  | { type: 'link'; port: MessagePort }
  /** Prepare the batches after `afterSeq` and send them to the store worker as step `id`. */
  | { type: 'prepare'; id: number; afterSeq: number; maxEvents: number }
  /** Commit `steps` (the ids of their prepare requests, ascending) as one; earlier steps not stored are dropped. */
  | { type: 'store'; id: number; steps: number[] }
  /** The rule set for detection's stateless half (./prematch.ts). */
  | { type: 'rules'; config: PrematchConfig }
  /** Whether the checkpoint thread serves events.db (the store worker then only bounds the WAL). */
  | { type: 'checkpoints'; thread: boolean; boundFrames: number }
  | { type: 'close' };
type Reply =
  | { type: 'prepared'; id: number; meta: StepMeta | undefined }
  | { type: 'stored'; id: number; info: StepInfo }
  | { type: 'failed'; id: number; code?: string; message: string }
  | { type: 'closed' };
/** On the prepare → store channel: a prepared step, numbered by its prepare request. */
interface StepMessage {
  step: number;
  data: PackedStep;
}

/** Options of {@link WorkerWriter}. */
export interface WorkerWriterOptions extends SqliteStoreOptions {
  /** Normaliser of raw frames in the prepare worker; default `vendor`. */
  normaliser?: NormaliserName;
  /**
   * Whether each {@link StepInfo} carries the stored documents (`batches`, what detection reads);
   * default true. Without them the documents only go to the store worker.
   */
  documents?: boolean;
  /**
   * While the buffer has a backlog, each step prepared ahead doubles, up to this multiple of the
   * consumer's step size; default 1 (every step at the consumer's size). A commit rewrites every
   * index page it touches, and the id index and the source.ip index take their entries at random
   * places, so once a day table is large a step touches nearly all their leaf pages whatever its
   * size: measured on 300,000-row day tables (one thread, load ~7), 16,000-event steps cost the
   * store 25–30 CPU-µs per event against 38–46 with 4,000-event steps. In the whole server
   * (bench:ingest, 300,000 lines, load ~8) 4 saved the store worker 4 µs per event but not the
   * process (more GC in V8's helper threads), and raised peak RSS from 717 to 1,075 MB (bigger
   * steps in both workers and in detection). The server uses 2 without detection (runtime.ts):
   * flat out half as many commits, the prepare worker reading a grown step in chunks of at most
   * the consumer's size (see `Ahead`; soc/README.md "Steps, session 17 (S)").
   */
  stepGrowth?: number;
  /**
   * Steps' worth of events the prepare worker may hold prepared ahead of the commit in progress;
   * default 1. A step still takes at most the consumer's size (or its growth); the rest waits for
   * the step after. Flat out with one step ahead, the prepare worker sat idle at that bound for
   * ~20 % of the time while the store worker (the critical path) committed; each step more ahead
   * holds one more prepared step's transferred buffers, ~8–10 MB at 4,000 events (soc/README.md
   * "Throughput, session 14").
   */
  aheadSteps?: number;
  /**
   * Nice value added to the prepare worker's thread (Linux sets it per thread; elsewhere
   * ignored); default 0. With steps prepared ahead the prepare worker has slack and the store
   * worker is the pipeline's critical path: flat out, with both at 0, the store worker spent
   * ~16 % of its time runnable but preempted (perf sched) while the other threads shared the two
   * cores with it. At +5 the prepare worker still gets a quarter of a core against one busy
   * thread at 0 (CFS weights 335 : 1,024), and all of an otherwise idle core.
   */
  prepareNice?: number;
  /**
   * Old-generation heap limit of each worker in MiB; default 256 (a step's live data is a few
   * MiB; a worker that runs out is restarted by the next write, which retries the step). The
   * young generation is held to 16 MiB: with V8's default the two workers kept ~40 MB more
   * resident for the same CPU time per event (measured with bench:ingest's stream, alerts off).
   */
  heapMb?: number;
  /**
   * Resolves once the buffer holds a batch after `afterSeq` (or after `timeoutMs`): the buffer's
   * own `waitForData`, which wakes on its commit. With it, a chunk of the next step is read as
   * soon as batches are committed while a commit runs; without it, the buffer is looked at every
   * {@link CHUNK_WAIT_MS} ms.
   */
  waitForData?: (afterSeq: number, timeoutMs: number) => Promise<void>;
  /**
   * Copy the WAL into events.db from the process's checkpoint thread (../storage/wal-checkpointer.ts)
   * instead of the store worker, the pipeline's critical path; default false. The store worker
   * checkpoints itself only past the WAL's bound ({@link WAL_BOUND_FRAMES}), and as before while
   * the thread is not running.
   */
  checkpointThread?: boolean | CheckpointThreadOptions;
  /** A failure of the checkpoint thread (it is restarted; the store worker checkpoints meanwhile). */
  onCheckpointError?: (e: SocError) => void;
}

/** Settings of the checkpoint thread's use (tests make them small). */
export interface CheckpointThreadOptions {
  /** How often the thread looks at the WAL, ms (default 50). */
  pollMs?: number;
  /** Delay before a thread that exited is started again, ms (default 30 s). */
  restartMs?: number;
  /** Frames beyond its last checkpoint at which the thread copies (default {@link THREAD_CHECKPOINT_FRAMES}). */
  frames?: number;
  /** The WAL's bound in frames (default {@link WAL_BOUND_FRAMES}). */
  boundFrames?: number;
}

/** A prepare request answered: its number (the step's, for the store worker) and what the main thread learns. */
interface Prepared {
  id: number;
  meta: StepMeta | undefined;
}

/** A prepared part of the next step: its prepare request's number and what the main thread learns. */
interface Chunk {
  id: number;
  meta: StepMeta;
}

/**
 * The next step, prepared in chunks while the store worker commits the current one: the first
 * chunk reads the buffer when the commit is asked for (as a single step prepared ahead did), and
 * while the commit runs, the batches committed to the buffer since are prepared as further
 * chunks, up to `cap` events. The step the store worker commits next is every chunk prepared by
 * then, so an event that arrives during a commit is stored by the next one instead of waiting for
 * the read after it. A chunk still being prepared when the commit returns is not waited for: it
 * becomes the first of the step after (near capacity, any wait added to a step's cycle grows the
 * steps, and with them the store's time per step, by 1 / (1 − load)).
 */
interface Ahead {
  /** Position the next step starts after, the consumer's step size, and the link its chunks go over. */
  after: number;
  max: number;
  link: number;
  /** Events the next step may grow to (see `stepGrowth`). */
  cap: number;
  /** Prepared chunks after `after`, in buffer order, and their events. */
  chunks: Chunk[];
  events: number;
  /** Their buffered bytes: at most {@link READ_MAX_BYTES} per step ahead, as a read of the buffer is. */
  bytes: number;
  /** Position the next chunk reads after. */
  end: number;
  /** Whether more chunks are read: while a commit runs. */
  open: boolean;
  /** The chunk being prepared, if any (never rejects). */
  running: Promise<void> | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** A chunk failed: nothing more is read; the chunks before it still make a step. */
  failed: { e: unknown } | undefined;
  /** Reads the next chunk if the ahead is open and none is being prepared. */
  read: () => void;
}

/**
 * While a commit runs and the last chunk found no backlog, and the writer was given no
 * `waitForData`, the next chunk reads the buffer this many ms later: short beside a commit
 * (~80–110 ms at 80 % of capacity, soc/README.md), long enough that each chunk carries a few
 * buffer batches (the buffer groups appends for 5 ms).
 */
const CHUNK_WAIT_MS = 10;
/** Longest wait for data of one chunk read (the wait also ends with the commit, see `Ahead.open`). */
const CHUNK_DATA_WAIT_MS = 250;

/** Sums `from` into `into`, per source id. */
function addCounters(into: PrepareCounters, from: PrepareCounters): void {
  for (const [id, c] of Object.entries(from)) {
    const t = (into[id] ??= { parseFailures: 0, charsetLossy: 0 });
    t.parseFailures += c.parseFailures;
    t.charsetLossy += c.charsetLossy;
  }
}

/** Chunks in one step go as one for detection: prematched, or documents (never mixed, see {@link WorkerWriter.write}). */
function chunkKind(m: StepMeta): number {
  return m.prematched ? 2 : m.batches ? 1 : 0;
}

/**
 * Prepared chunks as one step, for one transaction: columns, documents and leaf hashes in
 * chunk order (the order the buffer holds them, which is the order the integrity chain takes).
 * The store worker commits a step prepared in chunks (see `Ahead`) through this.
 *
 * @example
 * ```ts
 * const step = concatSteps([preparer.prepare(first)!, preparer.prepare(second)!]);
 * store.writeColumns(step);   // as if both had been prepared as one step
 * ```
 */
export function concatSteps(parts: readonly PreparedStep[]): PreparedStep {
  if (parts.length === 1) return parts[0]!;
  let count = 0;
  for (const p of parts) count += p.count;
  const ts = new Float64Array(count);
  const ingested = new Float64Array(count);
  const leaves = parts[0]!.leafHashes ? new Uint8Array(count * 32) : undefined;
  const docs: PackedTexts[] | undefined = parts[0]!.docs ? [] : undefined;
  const ids: string[] = [];
  const messages: Array<string | null> = [];
  const values: Array<Array<string | number | null>> = parts[0]!.values.map(() => []);
  const batches: RawBatch[] = [];
  const counters: PrepareCounters = {};
  let at = 0;
  for (const p of parts) {
    ts.set(p.ts, at);
    ingested.set(p.ingested, at);
    if (leaves) {
      if (!p.leafHashes) throw new RangeError('concatSteps: every chunk needs leaf hashes or none');
      leaves.set(p.leafHashes, at * 32);
    }
    if (docs) {
      if (!p.docs) throw new RangeError('concatSteps: every chunk needs packed documents or none');
      if (Array.isArray(p.docs)) docs.push(...(p.docs as readonly PackedTexts[]));
      else docs.push(p.docs as PackedTexts);
    }
    for (const id of p.ids) ids.push(id);
    for (const m of p.messages) messages.push(m);
    for (let c = 0; c < values.length; c++) for (const v of p.values[c]!) values[c]!.push(v);
    for (const b of p.batches) batches.push(b);
    addCounters(counters, p.counters);
    at += p.count;
  }
  const last = parts[parts.length - 1]!;
  return { count, ids, ts, ingested, values, messages, batches, ...(docs ? { docs } : {}), ...(leaves ? { leafHashes: leaves } : {}), lastSeq: last.lastSeq, oldestAppendedAt: parts[0]!.oldestAppendedAt, counters };
}

/** One worker thread answering requests in order. */
class Channel {
  private worker: Worker | undefined;
  private nextId = 1;
  /** Counts the workers started, so the writer can tell a restarted one (it needs a new link). */
  generation = 0;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: unknown) => void }>();
  constructor(
    private readonly data: unknown,
    private readonly heapMb: number,
  ) {}

  private spawn(): Worker {
    const w = new Worker(new URL(import.meta.url), { workerData: this.data, resourceLimits: { maxOldGenerationSizeMb: this.heapMb, maxYoungGenerationSizeMb: 16 } });
    this.generation++;
    w.on('message', (m: Reply) => {
      if (m.type === 'closed') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.type === 'failed') p.reject(new SocError((m.code as 'SOC_ERR_STORE_WRITE') ?? 'SOC_ERR_STORE_WRITE', m.message));
      else p.resolve(m);
    });
    const fail = (why: string): void => {
      if (this.worker === w) this.worker = undefined;
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.reject(new SocError('SOC_ERR_STORE_WRITE', `store worker ${why}`));
      }
    };
    w.on('error', (e) => fail(`failed: ${e.message}`));
    w.on('exit', (code) => fail(`exited with code ${code}`));
    return w;
  }

  /** Start the worker if it is not running (a dead one is replaced). */
  ensure(): void {
    this.worker ??= this.spawn();
  }

  /** Whether a worker is running (a message to a stopped one would start it). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /** Send a message that has no reply (a dead worker is restarted). */
  post(m: Request, transfer: Array<ArrayBuffer | MessagePort> = []): void {
    this.ensure();
    this.worker!.postMessage(m, transfer);
  }

  /** Send a request (a dead worker is restarted); resolves with the reply. */
  request(m: Extract<Request, { id: number }>): Promise<Reply> {
    this.ensure();
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(m.id, { resolve, reject });
      this.worker!.postMessage(m);
    });
  }

  id(): number {
    return this.nextId++;
  }

  async close(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    const exited = new Promise<void>((r) => w.once('exit', () => r()));
    w.postMessage({ type: 'close' } satisfies Request);
    await exited;
  }
}

/**
 * A {@link BatchWriter} backed by the prepare and store workers.
 *
 * @example
 * ```ts
 * const writer = new WorkerWriter({ dir: './data', synchronous: 'full' });
 * const consumer = new StoreConsumer({ buffer, writer: (after, max) => writer.write(after, max) });
 * …
 * await writer.close();
 * ```
 */
export class WorkerWriter {
  private readonly prep: Channel;
  private readonly store: Channel;
  /** Worker generations the current prepare → store link joins, and how many links were made. */
  private linkedFor = '';
  private link = 0;
  private ahead: Ahead | undefined;
  private closing: Promise<void> | undefined;
  private readonly growth: number;
  private readonly aheadSteps: number;
  /** The rule set of {@link setRules}, and the prepare worker generation it was last sent to. */
  private rules: { config: PrematchConfig; sentTo: number } | undefined;
  /** With `synchronous: 'full'`: syncs the store's WAL after each commit, beside the next step. */
  private readonly wal: WalSyncer | undefined;
  private readonly waitForData: WorkerWriterOptions['waitForData'];
  /** events.db in the checkpoint thread (with `checkpointThread`), whether the thread serves it, and the store worker generation last told. */
  readonly checkpointer: WalCheckpointer | undefined;
  private threadServes = false;
  private readonly boundFrames: number;
  private checkpointsSentTo = -1;

  /** `storeOptions.dir` is the data directory: `events.db` and `buffer.db` are both there. */
  constructor(storeOptions: WorkerWriterOptions) {
    const { normaliser, heapMb, documents, stepGrowth, aheadSteps, prepareNice, waitForData, checkpointThread, onCheckpointError, now: _now, ...store } = storeOptions;
    this.waitForData = waitForData;
    this.growth = stepGrowth ?? 1;
    if (!Number.isInteger(this.growth) || this.growth < 1) throw new RangeError('WorkerWriter: stepGrowth must be a positive integer');
    this.aheadSteps = aheadSteps ?? 1;
    if (!Number.isInteger(this.aheadSteps) || this.aheadSteps < 1) throw new RangeError('WorkerWriter: aheadSteps must be a positive integer');
    this.prep = new Channel(
      { role: ROLE_PREPARE, dir: store.dir, normaliser: normaliser ?? 'vendor', chain: store.chain === true, documents: documents !== false, nice: prepareNice ?? 0 },
      heapMb ?? 256,
    );
    // `full` (the default) is kept by syncing the WAL from this thread after each commit instead
    // of inside it (./wal-sync.ts): the sync, 20–27 % of a transaction's wall time here, then
    // overlaps the next step's inserts, and each step's `durable` holds its acknowledgement.
    this.wal = store.synchronous === 'normal' ? undefined : new WalSyncer(`${join(store.dir, 'events.db')}-wal`);
    const t = checkpointThread === true ? {} : checkpointThread || undefined;
    this.boundFrames = t?.boundFrames ?? WAL_BOUND_FRAMES;
    // A WAL that outgrew its bound (a reader held it, the thread lagged) is cut back to twice it when it starts over.
    this.store = new Channel({ role: ROLE_STORE, store: { ...store, synchronous: 'normal', walLimitFrames: 2 * this.boundFrames } }, heapMb ?? 256);
    if (t) {
      this.checkpointer = new WalCheckpointer({
        path: join(store.dir, 'events.db'),
        frames: t.frames ?? THREAD_CHECKPOINT_FRAMES,
        idleMs: CHECKPOINT_IDLE_MS,
        // Past the bound the store worker copies the rest; a checkpoint of the thread's would make it wait a step.
        maxFrames: this.boundFrames,
        ...(t.pollMs !== undefined ? { pollMs: t.pollMs } : {}),
        ...(t.restartMs !== undefined ? { restartMs: t.restartMs } : {}),
        onRunning: (running) => {
          this.threadServes = running;
          // A store worker not yet started is told when it is (`linked`).
          if (this.store.running && !this.closing) this.tellCheckpoints();
        },
        onError: (message) => onCheckpointError?.(new SocError('SOC_ERR_STORE_WRITE', `event store: ${message}`, { details: { store: 'events', stage: 'checkpoint' } })),
      });
    }
  }

  /** Whether the checkpoint thread copies events.db now (else the store worker does). For tests and diagnostics. */
  get threadCheckpoints(): boolean {
    return this.threadServes;
  }

  private tellCheckpoints(): void {
    this.store.post({ type: 'checkpoints', thread: this.threadServes, boundFrames: this.boundFrames });
    this.checkpointsSentTo = this.store.generation;
  }

  /**
   * Both workers running and joined by a channel: a worker that was (re)started gets a new one,
   * and so does the other, so no step is ever sent to a port nobody reads. Returns the link's
   * number: a step prepared over an older link never reached the current store worker.
   */
  private linked(): number {
    this.prep.ensure();
    this.store.ensure();
    const g = `${this.prep.generation}/${this.store.generation}`;
    if (this.rules && this.rules.sentTo !== this.prep.generation) {
      this.prep.post({ type: 'rules', config: this.rules.config });
      this.rules.sentTo = this.prep.generation;
    }
    if (this.threadServes && this.checkpointsSentTo !== this.store.generation) this.tellCheckpoints();
    if (g !== this.linkedFor) {
      const { port1, port2 } = new MessageChannel();
      this.prep.post({ type: 'link', port: port1 }, [port1]);
      this.store.post({ type: 'link', port: port2 }, [port2]);
      this.linkedFor = g;
      this.link++;
    }
    return this.link;
  }

  private prepare(afterSeq: number, maxEvents: number): Promise<Prepared> {
    const id = this.prep.id();
    return this.prep.request({ type: 'prepare', id, afterSeq, maxEvents }).then((r) => ({ id, meta: (r as Extract<Reply, { type: 'prepared' }>).meta }));
  }

  /** A reader of chunks after `after` (see {@link Ahead}), closed until a commit opens it. */
  private newAhead(after: number, max: number, cap: number, link: number): Ahead {
    const a: Ahead = { after, max, link, cap, chunks: [], events: 0, bytes: 0, end: after, open: false, running: undefined, timer: undefined, failed: undefined, read: () => undefined };
    a.read = (): void => {
      a.timer = undefined;
      // At most `aheadSteps` steps' worth (events and bytes) ahead. A chunk is at most the
      // consumer's step size even when a step may grow past it (`stepGrowth`): a commit that
      // finds no chunk ready waits for the one being prepared, and with chunks of a grown step
      // that wait doubled and the pipeline idled (soc/README.md "Steps, session 17 (S)"); a step
      // takes every chunk ready up to its `cap`.
      const depth = a.cap * this.aheadSteps;
      if (!a.open || a.running || a.failed || a.events >= depth || a.bytes >= READ_MAX_BYTES * this.aheadSteps) return;
      a.running = this.prepare(a.end, Math.min(a.max, depth - a.events)).then(
        (r) => {
          a.running = undefined;
          if (r.meta) {
            a.chunks.push({ id: r.id, meta: r.meta });
            a.events += r.meta.events;
            a.bytes += r.meta.bytes;
            a.end = r.meta.lastSeq;
          }
          if (!a.open) return;
          if (r.meta?.more) a.read();
          else if (this.waitForData) void this.waitForData(a.end, CHUNK_DATA_WAIT_MS).then(a.read, a.read);
          else a.timer = setTimeout(a.read, CHUNK_WAIT_MS);
        },
        (e: unknown) => {
          a.running = undefined;
          a.failed = { e };
        },
      );
    };
    return a;
  }

  /** Stops reading for `a`; resolves once the chunk being prepared is in. */
  private async closeAhead(a: Ahead): Promise<void> {
    a.open = false;
    clearTimeout(a.timer);
    a.timer = undefined;
    while (a.running) await a.running;
  }

  /**
   * Run detection's stateless half in the prepare worker with this rule set (./prematch.ts):
   * steps then carry the matched events instead of all documents. Sent now if the worker runs,
   * and again to a restarted one.
   */
  setRules(config: PrematchConfig): void {
    this.rules = { config, sentTo: -1 };
    // Not once closing: that would start a worker nobody closes.
    if (this.linkedFor !== '' && !this.closing) this.linked();
  }

  /**
   * Store the batches after `afterSeq`; resolves after the store worker's commit (with
   * `synchronous: 'full'`, the step's `durable` resolves once the commit is on disk). A dead
   * worker is restarted on the next call.
   */
  async write(afterSeq: number, maxEvents: number): Promise<StepInfo | undefined> {
    if (this.closing) throw new SocError('SOC_ERR_STORE_CLOSED', 'store writer is closed');
    const link = this.linked();
    let a = this.ahead;
    if (a && (a.after !== afterSeq || a.max !== maxEvents || a.link !== link)) {
      // Prepared for another position (a retry), size or link: never stored in place of this step.
      this.ahead = undefined;
      await this.closeAhead(a);
      a = undefined;
    }
    if (a) {
      a.open = false;
      clearTimeout(a.timer);
      // Nothing prepared yet: the chunk being read is this step's.
      while (a.chunks.length === 0 && a.running) await a.running;
      if (a.chunks.length === 0) {
        this.ahead = undefined;
        if (a.failed) throw a.failed.e;
        a = undefined;
      }
    }
    let chunks: Chunk[];
    let size = maxEvents;
    if (a) {
      // Detection takes a step's prematched events or its documents: a rule set that reached the
      // prepare worker between two chunks ends the step at the first chunk of the other kind. A
      // step also stays within the size it was read for.
      const kind = chunkKind(a.chunks[0]!.meta);
      // And within the buffer's bytes per read, as one read would be (large messages).
      let n = 1;
      let events = a.chunks[0]!.meta.events;
      let bytes = a.chunks[0]!.meta.bytes;
      for (; n < a.chunks.length; n++) {
        const c = a.chunks[n]!.meta;
        if (chunkKind(c) !== kind || events + c.events > a.cap || bytes + c.bytes > READ_MAX_BYTES) break;
        events += c.events;
        bytes += c.bytes;
      }
      chunks = a.chunks.slice(0, n);
      a.chunks = a.chunks.slice(n);
      a.events -= events;
      a.bytes -= bytes;
      size = a.cap;
    } else {
      // Nothing was there when the step ahead was read (or it went over a link that is gone): look again now.
      const r = await this.prepare(afterSeq, maxEvents);
      if (!r.meta) return undefined;
      chunks = [{ id: r.id, meta: r.meta }];
    }
    const last = chunks[chunks.length - 1]!.meta;
    const counters: PrepareCounters = {};
    let events = 0;
    for (const c of chunks) {
      addCounters(counters, c.meta.counters);
      events += c.meta.events;
    }
    // Parse the next step while this one is inserted; larger while a backlog waits (see stepGrowth).
    const cap = last.more ? Math.min(Math.max(size, events) * 2, maxEvents * this.growth) : maxEvents;
    if (a) {
      a.after = last.lastSeq;
      a.cap = cap;
      if (a.failed) {
        // What a failed chunk left unread is read again by a fresh reader after this step.
        await this.closeAhead(a);
        a = this.newAhead(last.lastSeq, maxEvents, cap, link);
      }
    } else a = this.newAhead(last.lastSeq, maxEvents, cap, link);
    this.ahead = a;
    a.open = true;
    a.read();
    const r = (await this.store.request({ type: 'store', id: this.store.id(), steps: chunks.map((c) => c.id) })) as Extract<Reply, { type: 'stored' }>;
    // The commit is in: the chunks read so far make the next step, which goes as soon as asked for.
    if (this.ahead === a) {
      a.open = false;
      clearTimeout(a.timer);
    }
    const durable = this.wal?.sync();
    // Whoever acknowledges the step awaits it; until then a failure is not unhandled.
    durable?.catch(() => undefined);
    const kind = chunkKind(last);
    return {
      ...r.info,
      counters,
      ...(kind === 2 ? { prematched: chunks.map((c) => c.meta.prematched!) } : kind === 1 ? { batches: chunks.flatMap((c) => c.meta.batches!) } : {}),
      ...(durable ? { durable } : {}),
    };
  }

  /** Let the workers finish, close their connections and exit. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.ahead) await this.closeAhead(this.ahead);
      this.ahead = undefined;
      await Promise.all([this.prep.close(), this.store.close()]);
      // Before the runtime closes its own connection, which as the last one then copies what is
      // left and removes the WAL.
      await this.checkpointer?.close();
    })();
    return this.closing;
  }
}

function reply(m: Reply, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(m, transfer);
}

function failed(id: number, e: unknown): Reply {
  return { type: 'failed', id, ...((e as { code?: string }).code ? { code: (e as { code: string }).code } : {}), message: (e as Error).message };
}

/** Prepare worker: one buffer connection, requests served in order; steps go to the store worker. */
function servePrepare(): void {
  const d = workerData as { dir: string; normaliser: NormaliserName; chain: boolean; documents: boolean; nice: number };
  if (d.nice !== 0) niceThisThread(d.nice);
  const buffer = new Database(bufferPath(d.dir));
  buffer.pragma('busy_timeout = 5000');
  // Each row is read once, and a read transaction that finds the WAL changed by another
  // connection (the appender commits every few ms) drops this cache anyway (SQLite pager.c,
  // pagerBeginReadTransaction): 1 MiB instead of better-sqlite3's 16 MiB default
  // (SQLITE_DEFAULT_CACHE_SIZE=-16000, its deps/defines.gypi), which each step's rows of up to
  // 4 MiB filled and freed again (soc/README.md "Memory, session 9").
  buffer.pragma(`cache_size = ${-1024 * BUFFER_CACHE_MB}`);
  const prematcher = new Prematcher();
  const preparer = new Preparer(d.normaliser, Date.now, d.chain, prematcher, true);
  const packer = new StepPacker();
  // Whether batches wait beyond a step: read from the buffer's table directly, without its data.
  const after = buffer.prepare('SELECT 1 FROM batches WHERE seq > ? LIMIT 1').pluck();
  let out: MessagePort | undefined;
  // Requests are served one after another in arrival order, also across a rule set's compile
  // (its rules engine is loaded then): a step asked for after a rule set is prematched with it.
  let served: Promise<void> = Promise.resolve();
  parentPort!.on('message', (m: Request) => {
    served = served.then(() => serve(m));
  });
  const serve = async (m: Request): Promise<void> => {
    if (m.type === 'link') {
      out?.close();
      out = m.port;
      return;
    }
    if (m.type === 'rules') {
      await prematcher.configure(m.config);
      return;
    }
    if (m.type === 'close') {
      out?.close();
      buffer.close();
      reply({ type: 'closed' });
      parentPort!.close();
      return;
    }
    if (m.type !== 'prepare') return;
    try {
      const batches = readBatchesAfter(buffer, m.afterSeq, m.maxEvents);
      let bytes = 0;
      for (const b of batches) bytes += b.bytes!;
      const step = preparer.prepare(batches);
      if (!step) {
        reply({ type: 'prepared', id: m.id, meta: undefined });
        return;
      }
      if (!out) throw new SocError('SOC_ERR_STORE_WRITE', 'prepare worker has no store worker to send to');
      const meta: StepMeta = {
        lastSeq: step.lastSeq,
        events: step.count,
        oldestAppendedAt: step.oldestAppendedAt,
        counters: step.counters,
        more: after.get(step.lastSeq) !== undefined,
        bytes,
      };
      const prematched = prematcher.take(step.lastSeq);
      // The documents' text, if the main thread gets it, is read before their bytes move on.
      const full: StepMeta = prematched ? { ...meta, prematched } : d.documents ? { ...meta, batches: plainBatches(step.batches) } : meta;
      const packed = packer.pack(step);
      // Posted before the reply: once the main thread names this step, it is on its way.
      out.postMessage({ step: m.id, data: packed } satisfies StepMessage, packedTransfer(packed));
      reply({ type: 'prepared', id: m.id, meta: full }, prematched ? prematchedTransfer(prematched) : []);
    } catch (e) {
      reply(failed(m.id, e));
    }
  };
}

/** Store worker: one store connection; steps arrive from the prepare worker, commits in the order the main thread asks. */
function serveStore(): void {
  const opts = (workerData as { store: SqliteStoreOptions }).store;
  // The WAL is checkpointed here, after the reply, instead of inside whichever commit fills it:
  // the main thread learns of the commit (and acknowledges the buffer) without waiting for the
  // copy, which then overlaps its detection of that step.
  const store = new SqliteEventStore({ ...opts, autoCheckpoint: false });
  /** Store requests received and not yet started; steps committed since the last checkpoint. */
  let queued = 0;
  let sinceCheckpoint = 0;
  /**
   * Whether the checkpoint thread copies the WAL. Durability with it is wal-sync.ts's argument
   * unchanged: the buffer forgets a step only after the WAL is synced, and this connection starts
   * the WAL over (overwriting frames) only once SQLite's shared WAL index says every frame was
   * copied, which any connection's checkpoint records only after it has synced the database file
   * (the thread's connection syncs at checkpoints, see ../storage/wal-checkpointer.ts).
   */
  let threadCheckpoints = false;
  let boundFrames = WAL_BOUND_FRAMES;
  const walFrames = new WalFrames(`${join(opts.dir, 'events.db')}-wal`);
  /** Steps received and not yet stored or dropped, by number. */
  const steps = new Map<number, PackedStep>();
  /** A store request waiting for its step to arrive. */
  let waiting: { step: number; resolve: (s: PackedStep) => void; reject: (e: unknown) => void } | undefined;
  let input: MessagePort | undefined;
  const take = (n: number): PackedStep | undefined => {
    // Steps before the one named were prepared ahead and then not used (the main thread moved
    // on or retried from elsewhere): they will never be asked for.
    for (const k of steps.keys()) if (k < n) steps.delete(k);
    const s = steps.get(n);
    steps.delete(n);
    return s;
  };
  // A step's strings are made when its commit starts (`unpackStep`), not when it arrives, so they
  // die young.
  const stepFor = (n: number): Promise<PackedStep> => {
    const s = take(n);
    return s ? Promise.resolve(s) : new Promise<PackedStep>((resolve, reject) => (waiting = { step: n, resolve, reject }));
  };
  let queue: Promise<void> = Promise.resolve();
  /** Runs a checkpoint once the store has been idle for {@link CHECKPOINT_IDLE_MS}. */
  let idle: ReturnType<typeof setTimeout> | undefined;
  const checkpoint = (): void => {
    clearTimeout(idle);
    idle = undefined;
    sinceCheckpoint = 0;
    try {
      store.checkpoint();
    } catch {
      // A failed checkpoint loses nothing (the pages stay in the WAL); the next one copies them.
    }
  };
  parentPort!.on('message', (m: Request) => {
    // Any request ends the idle wait: the checkpoint is due after a step or after a quiet spell.
    clearTimeout(idle);
    idle = undefined;
    if (m.type === 'link') {
      input?.close();
      steps.clear();
      waiting?.reject(new SocError('SOC_ERR_STORE_WRITE', 'prepare worker restarted before the step arrived'));
      waiting = undefined;
      input = m.port;
      input.on('message', (s: StepMessage) => {
        steps.set(s.step, s.data);
        if (waiting && waiting.step === s.step) {
          const w = waiting;
          waiting = undefined;
          w.resolve(take(s.step)!);
        }
      });
      return;
    }
    if (m.type === 'checkpoints') {
      threadCheckpoints = m.thread;
      boundFrames = m.boundFrames;
      return;
    }
    if (m.type === 'close') {
      queue = queue.then(async () => {
        input?.close();
        walFrames.close();
        await store.close();
        reply({ type: 'closed' });
        parentPort!.close();
      });
      return;
    }
    if (m.type !== 'store') return;
    queued++;
    // One step at a time, in the order asked, even while one waits for its data.
    queue = queue.then(async () => {
      queued--;
      try {
        const packed: PackedStep[] = [];
        for (const n of m.steps) packed.push(await stepFor(n));
        const step = concatSteps(packed.map(unpackStep));
        const { batches: _b, counters: _c, ...info } = storePrepared(store, step, Date.now);
        releaseBuffers(packed.flatMap(packedTransfer));
        reply({ type: 'stored', id: m.id, info }, info.receiptToStoredMs ? [info.receiptToStoredMs.buffer as ArrayBuffer] : []);
        sinceCheckpoint++;
      } catch (e) {
        reply(failed(m.id, e));
        return;
      }
      // Let the reply go first; checkpoint every CHECKPOINT_STEPS steps (each page copied once
      // for all of them), or once no request has come for CHECKPOINT_IDLE_MS, so the WAL stays
      // a few steps long and an idle store's is copied.
      await new Promise<void>((r) => setImmediate(r));
      if (threadCheckpoints) {
        // The thread copies the WAL beside the commits (and once the store idles); here only
        // what it left past the bound. Busy (the thread is copying) or a failed look at the file:
        // tried again after the next step.
        let past = false;
        try {
          past = walFrames.has(boundFrames - 1);
        } catch {
          // A failed read of the WAL's header: the next step looks again.
        }
        if (past) checkpoint();
      } else if (sinceCheckpoint >= CHECKPOINT_STEPS) checkpoint();
      else if (queued === 0) {
        idle = setTimeout(() => {
          queue = queue.then(() => {
            if (sinceCheckpoint > 0) checkpoint();
          });
        }, CHECKPOINT_IDLE_MS);
        idle.unref();
      }
    });
  });
}

if (!isMainThread) {
  const role = (workerData as { role?: string } | null)?.role;
  if (role === ROLE_STORE) serveStore();
  else if (role === ROLE_PREPARE) servePrepare();
}
