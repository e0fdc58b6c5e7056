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
 * Steps travel as a few flat arrays and one text per buffer batch (cheap structured clones); the
 * main thread forwards them and keeps the batches' documents for detection. Bounded: at most one
 * step is prepared ahead.
 *
 * This module is both sides: {@link WorkerWriter} runs in the main thread; loaded as a worker it
 * serves the role named in its `workerData`.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { bufferPath, readBatchesAfter } from '../buffer/durable.js';
import { SocError } from '../errors.js';
import { SqliteEventStore, type SqliteStoreOptions } from '../storage/sqlite.js';
import { storePrepared, type StepInfo } from './consumer.js';
import { Preparer, type NormaliserName, type PreparedStep } from './prepare.js';

const ROLE_STORE = 'xiangan-store-writer';
const ROLE_PREPARE = 'xiangan-store-prepare';

type Request =
  | { type: 'prepare'; id: number; afterSeq: number; maxEvents: number }
  | { type: 'store'; id: number; step: PreparedStep }
  | { type: 'close' };
type Reply =
  | { type: 'prepared'; id: number; step: PreparedStep | undefined }
  | { type: 'stored'; id: number; info: StepInfo }
  | { type: 'failed'; id: number; code?: string; message: string }
  | { type: 'closed' };

/** Options of {@link WorkerWriter}. */
export interface WorkerWriterOptions extends SqliteStoreOptions {
  /** Normaliser of raw frames in the prepare worker; default `vendor`. */
  normaliser?: NormaliserName;
  /**
   * Old-generation heap limit of each worker in MiB; default 256 (a step's live data is a few
   * MiB; a worker that runs out is restarted by the next write, which retries the step). The
   * young generation is held to 16 MiB: with V8's default the two workers kept ~40 MB more
   * resident for the same CPU time per event (measured with bench:ingest's stream, alerts off).
   */
  heapMb?: number;
}

/** One worker thread answering requests in order. */
class Channel {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: unknown) => void }>();
  constructor(
    private readonly data: unknown,
    private readonly heapMb: number,
  ) {}

  private spawn(): Worker {
    const w = new Worker(new URL(import.meta.url), { workerData: this.data, resourceLimits: { maxOldGenerationSizeMb: this.heapMb, maxYoungGenerationSizeMb: 16 } });
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

  /** Send a request (a dead worker is restarted); resolves with the reply. */
  request(m: Exclude<Request, { type: 'close' }>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    this.worker ??= this.spawn();
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(m.id, { resolve, reject });
      this.worker!.postMessage(m, transfer);
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
  private ahead: { after: number; max: number; p: Promise<PreparedStep | undefined> } | undefined;
  private closing: Promise<void> | undefined;

  /** `storeOptions.dir` is the data directory: `events.db` and `buffer.db` are both there. */
  constructor(storeOptions: WorkerWriterOptions) {
    const { normaliser, heapMb, now: _now, ...store } = storeOptions;
    this.prep = new Channel({ role: ROLE_PREPARE, dir: store.dir, normaliser: normaliser ?? 'vendor', chain: store.chain === true }, heapMb ?? 256);
    this.store = new Channel({ role: ROLE_STORE, store }, heapMb ?? 256);
  }

  private prepare(afterSeq: number, maxEvents: number): Promise<PreparedStep | undefined> {
    const id = this.prep.id();
    return this.prep.request({ type: 'prepare', id, afterSeq, maxEvents }).then((r) => (r as Extract<Reply, { type: 'prepared' }>).step);
  }

  /** Store the batches after `afterSeq`; resolves after the store worker's commit. A dead worker is restarted on the next call. */
  async write(afterSeq: number, maxEvents: number): Promise<StepInfo | undefined> {
    if (this.closing) throw new SocError('SOC_ERR_STORE_CLOSED', 'store writer is closed');
    const a = this.ahead;
    this.ahead = undefined;
    let step = a && a.after === afterSeq && a.max === maxEvents ? await a.p : undefined;
    // Nothing was there when the step ahead was read: look again now.
    step ??= await this.prepare(afterSeq, maxEvents);
    if (!step) return undefined;
    // Parse the next step while this one is inserted.
    const p = this.prepare(step.lastSeq, maxEvents);
    p.catch(() => undefined);
    this.ahead = { after: step.lastSeq, max: maxEvents, p };
    const transfer = [step.ts.buffer as ArrayBuffer, step.ingested.buffer as ArrayBuffer, ...(step.leafHashes ? [step.leafHashes.buffer as ArrayBuffer] : [])];
    const batches = step.batches;
    const r = (await this.store.request({ type: 'store', id: this.store.id(), step }, transfer)) as Extract<Reply, { type: 'stored' }>;
    return { ...r.info, batches };
  }

  /** Let the workers finish, close their connections and exit. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.ahead?.p.catch(() => undefined);
      this.ahead = undefined;
      await Promise.all([this.prep.close(), this.store.close()]);
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

/** Prepare worker: one buffer connection, requests served in order. */
function servePrepare(): void {
  const d = workerData as { dir: string; normaliser: NormaliserName; chain: boolean };
  const buffer = new Database(bufferPath(d.dir));
  buffer.pragma('busy_timeout = 5000');
  const preparer = new Preparer(d.normaliser, Date.now, d.chain);
  parentPort!.on('message', (m: Request) => {
    if (m.type === 'close') {
      buffer.close();
      reply({ type: 'closed' });
      parentPort!.close();
      return;
    }
    if (m.type !== 'prepare') return;
    try {
      const step = preparer.prepare(readBatchesAfter(buffer, m.afterSeq, m.maxEvents));
      const transfer = step ? [step.ts.buffer as ArrayBuffer, step.ingested.buffer as ArrayBuffer, ...(step.leafHashes ? [step.leafHashes.buffer as ArrayBuffer] : [])] : [];
      reply({ type: 'prepared', id: m.id, step }, transfer);
    } catch (e) {
      reply(failed(m.id, e));
    }
  });
}

/** Store worker: one store connection, requests served in order. */
function serveStore(): void {
  const opts = (workerData as { store: SqliteStoreOptions }).store;
  const store = new SqliteEventStore(opts);
  parentPort!.on('message', async (m: Request) => {
    if (m.type === 'close') {
      await store.close();
      reply({ type: 'closed' });
      parentPort!.close();
      return;
    }
    if (m.type !== 'store') return;
    try {
      const info = storePrepared(store, m.step, Date.now);
      // The documents stay with the caller (it sent them): reply with counts and latencies only.
      const { batches: _b, ...rest } = info;
      reply({ type: 'stored', id: m.id, info: rest }, rest.receiptToStoredMs ? [rest.receiptToStoredMs.buffer as ArrayBuffer] : []);
    } catch (e) {
      reply(failed(m.id, e));
    }
  });
}

if (!isMainThread) {
  const role = (workerData as { role?: string } | null)?.role;
  if (role === ROLE_STORE) serveStore();
  else if (role === ROLE_PREPARE) servePrepare();
}
