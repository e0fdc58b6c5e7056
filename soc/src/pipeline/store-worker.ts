/**
 * The store writer in a worker thread. The main thread reads sockets, parses and normalises
 * events and appends them to the buffer; the worker decodes the buffered documents and inserts
 * them into SQLite (columns, indexes, FTS5) on the other core. It has its own connection to
 * `events.db`; the main thread keeps one for searches and retention (WAL lets them coexist).
 *
 * This module is both sides: {@link WorkerWriter} runs in the main thread; when loaded as a
 * worker it serves write requests until told to close. The worker reads the buffered batches
 * itself (a second connection to `buffer.db`; WAL readers never block the appender), so the main
 * thread only sends sequence numbers and acknowledges.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { bufferPath, readBatchesAfter } from '../buffer/durable.js';
import { SocError } from '../errors.js';
import { SqliteEventStore, type SqliteStoreOptions } from '../storage/sqlite.js';
import { storeBatches, type StepInfo } from './consumer.js';

const ROLE = 'xiangan-store-writer';

interface WriteRequest {
  type: 'write';
  id: number;
  afterSeq: number;
  maxEvents: number;
}
type Reply =
  | ({ type: 'written'; id: number } & StepInfo)
  | { type: 'empty'; id: number }
  | { type: 'failed'; id: number; code?: string; message: string }
  | { type: 'closed' };

/**
 * A {@link BatchWriter} backed by a worker thread that reads the buffer through its own
 * connection, so batch text never passes through the main thread.
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
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (i: StepInfo | undefined) => void; reject: (e: unknown) => void }>();
  private closing: Promise<void> | undefined;

  /** `storeOptions.dir` is the data directory: `events.db` and `buffer.db` are both there. */
  constructor(private readonly storeOptions: SqliteStoreOptions) {}

  private spawn(): Worker {
    const w = new Worker(new URL(import.meta.url), { workerData: { role: ROLE, store: { ...this.storeOptions, now: undefined } } });
    w.on('message', (m: Reply) => {
      if (m.type === 'closed') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.type === 'written') {
        const { type: _t, id: _i, ...info } = m;
        p.resolve(info);
      } else if (m.type === 'empty') p.resolve(undefined);
      else p.reject(new SocError((m.code as 'SOC_ERR_STORE_WRITE') ?? 'SOC_ERR_STORE_WRITE', m.message));
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

  /** Store the batches after `afterSeq`; resolves after the worker's commit. A dead worker is restarted on the next call. */
  write(afterSeq: number, maxEvents: number): Promise<StepInfo | undefined> {
    if (this.closing) return Promise.reject(new SocError('SOC_ERR_STORE_CLOSED', 'store writer is closed'));
    this.worker ??= this.spawn();
    const id = this.nextId++;
    return new Promise<StepInfo | undefined>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker!.postMessage({ type: 'write', id, afterSeq, maxEvents } satisfies WriteRequest);
    });
  }

  /** Let the worker finish its write, close its connections and exit. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const w = this.worker;
      if (!w) return;
      const exited = new Promise<void>((r) => w.once('exit', () => r()));
      w.postMessage({ type: 'close' });
      await exited;
    })();
    return this.closing;
  }
}

/** Worker side: one store connection and one buffer connection, requests served in order. */
function serveWorker(): void {
  const opts = (workerData as { store: SqliteStoreOptions }).store;
  const store = new SqliteEventStore(opts);
  const buffer = new Database(bufferPath(opts.dir));
  buffer.pragma('busy_timeout = 5000');
  parentPort!.on('message', async (m: WriteRequest | { type: 'close' }) => {
    if (m.type === 'close') {
      buffer.close();
      await store.close();
      parentPort!.postMessage({ type: 'closed' } satisfies Reply);
      parentPort!.close();
      return;
    }
    try {
      const batches = readBatchesAfter(buffer, m.afterSeq, m.maxEvents);
      if (batches.length === 0) {
        parentPort!.postMessage({ type: 'empty', id: m.id } satisfies Reply);
        return;
      }
      const info = storeBatches(store, batches, Date.now);
      const transfer = info.receiptToStoredMs ? [info.receiptToStoredMs.buffer as ArrayBuffer] : [];
      parentPort!.postMessage({ type: 'written', id: m.id, ...info } satisfies Reply, transfer);
    } catch (e) {
      parentPort!.postMessage({ type: 'failed', id: m.id, code: (e as { code?: string }).code, message: (e as Error).message } satisfies Reply);
    }
  });
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) serveWorker();
