/**
 * The store writer in a worker thread. The main thread reads sockets, parses and normalises
 * events and appends them to the buffer; the worker decodes the buffered documents and inserts
 * them into SQLite (columns, indexes, FTS5) on the other core. It has its own connection to
 * `events.db`; the main thread keeps one for searches and retention (WAL lets them coexist).
 *
 * This module is both sides: {@link WorkerWriter} runs in the main thread; when loaded as a
 * worker it serves write requests until told to close.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { EcsEvent } from '@xiangan/collectors';
import type { RawBatch } from '../buffer/durable.js';
import { SocError } from '../errors.js';
import { SqliteEventStore, type SqliteStoreOptions } from '../storage/sqlite.js';
import { receiptLatencies, type WriteInfo } from './consumer.js';

const ROLE = 'xiangan-store-writer';

interface WriteRequest {
  type: 'write';
  id: number;
  /** `RawBatch.data` of each batch: splitting them is left to the worker. */
  data: string[];
}
type Reply =
  | { type: 'written'; id: number; written: number; duplicates: number; ms: number; lat: Float64Array }
  | { type: 'failed'; id: number; code?: string; message: string }
  | { type: 'closed' };

/**
 * A {@link BatchWriter} backed by a worker thread.
 *
 * @example
 * ```ts
 * const writer = new WorkerWriter({ dir: './data', synchronous: 'full' });
 * const consumer = new StoreConsumer({ buffer, writer: (b) => writer.write(b) });
 * …
 * await writer.close();
 * ```
 */
export class WorkerWriter {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (i: WriteInfo) => void; reject: (e: unknown) => void }>();
  private closing: Promise<void> | undefined;

  constructor(private readonly storeOptions: SqliteStoreOptions) {}

  private spawn(): Worker {
    const w = new Worker(new URL(import.meta.url), { workerData: { role: ROLE, store: { ...this.storeOptions, now: undefined } } });
    w.on('message', (m: Reply) => {
      if (m.type === 'closed') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.type === 'written') p.resolve({ written: m.written, duplicates: m.duplicates, ms: m.ms, receiptToStoredMs: m.lat });
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

  /** Write batches; resolves after the worker's commit. A dead worker is restarted on the next call. */
  write(batches: RawBatch[]): Promise<WriteInfo> {
    if (this.closing) return Promise.reject(new SocError('SOC_ERR_STORE_CLOSED', 'store writer is closed'));
    this.worker ??= this.spawn();
    const data = batches.map((b) => b.data);
    const id = this.nextId++;
    return new Promise<WriteInfo>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker!.postMessage({ type: 'write', id, data } satisfies WriteRequest);
    });
  }

  /** Let the worker finish its write, close its connection and exit. */
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

/** Worker side: one store connection, requests served in order. */
function serveWorker(): void {
  const opts = (workerData as { store: SqliteStoreOptions }).store;
  const store = new SqliteEventStore(opts);
  parentPort!.on('message', async (m: WriteRequest | { type: 'close' }) => {
    if (m.type === 'close') {
      await store.close();
      parentPort!.postMessage({ type: 'closed' } satisfies Reply);
      parentPort!.close();
      return;
    }
    try {
      const docs: string[] = [];
      for (const d of m.data) for (const line of d.split('\n')) docs.push(line);
      const events = docs.map((d) => JSON.parse(d) as EcsEvent);
      const t0 = performance.now();
      const res = store.writeSync(events, docs);
      const ms = performance.now() - t0;
      const lat = receiptLatencies(events, Date.now());
      parentPort!.postMessage({ type: 'written', id: m.id, ...res, ms, lat } satisfies Reply, [lat.buffer as ArrayBuffer]);
    } catch (e) {
      parentPort!.postMessage({ type: 'failed', id: m.id, code: (e as { code?: string }).code, message: (e as Error).message } satisfies Reply);
    }
  });
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) serveWorker();
