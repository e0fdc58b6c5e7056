/**
 * Leaf hashes of stored SQLite records, for verification: read in rowid order (the commit order
 * the leaf index follows) as raw UTF-8 bytes (`CAST(doc AS BLOB)`: no text decoding, no JSON
 * parse) and hashed straight from them. A big day is cut into rowid ranges hashed at the same
 * time by worker threads (each with its own read-only connection; WAL readers do not block the
 * writer) and by the calling thread, so verification uses every core.
 *
 * This module is both sides: {@link DigestPool} in the caller; loaded as a worker it serves
 * range requests until terminated.
 */
import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { leafHashDoc, leafHashPrefixed } from './merkle.js';

/** Leaf hashes of stored records in stored order: record `i` is `ids[i]`, its hash `hashes[32·i …]`. */
export interface RecordDigests {
  ids: string[];
  hashes: Uint8Array;
}

const ROLE = 'xiangan-integrity-digest';
/**
 * The calling thread's part of a split day, relative to a worker's: it also recomputes the day's
 * Merkle root (one 2-block SM3 per leaf, about a fifth of a leaf's hashing) while the workers hash.
 */
const MAIN_SHARE = 0.6;
const EV_TABLE = /^ev_\d{8}$/;

/** Rows per read: one JSON array of ids and one joined blob of documents each. */
const PAGE_ROWS = 10_000;

/**
 * Hash the records of `table` with `lo <= rowid < hi`, in rowid order. SQLite joins each page of
 * documents into one blob, each preceded by a 0x00 byte (JSON text never holds a raw NUL, RFC
 * 8259 §7), so every leaf SM3(0x00 ‖ document) is hashed straight from a slice of it: no value
 * per row crosses into JavaScript but the id.
 */
export function digestRange(db: Database.Database, table: string, lo: number, hi: number): RecordDigests {
  if (!EV_TABLE.test(table)) throw new RangeError(`not an event table: ${table}`);
  // Both aggregates run over the same rows in the same pass, so id i and document i belong together.
  const page = db
    .prepare(`SELECT count(*), json_group_array(id), CAST(char(0) || group_concat(doc, char(0)) AS BLOB) FROM (SELECT id, doc FROM ${table} WHERE rowid >= ? AND rowid < ? ORDER BY rowid)`)
    .raw();
  const bounds = db.prepare(`SELECT min(rowid), max(rowid) FROM ${table} WHERE rowid >= ? AND rowid < ?`).raw().get(lo, hi) as [number | null, number | null];
  const rows = db.prepare(`SELECT id, CAST(doc AS BLOB) FROM ${table} WHERE rowid >= ? AND rowid < ? ORDER BY rowid`).raw();
  const out = new Growing();
  if (bounds[0] === null || bounds[1] === null) return out.done();
  for (let from = bounds[0]; from <= bounds[1]; from += PAGE_ROWS) {
    const to = Math.min(hi, from + PAGE_ROWS);
    const [n, idsJson, joined] = page.get(from, to) as [number, string, Buffer | null];
    if (n === 0 || joined === null) continue;
    const ids = JSON.parse(idsJson) as string[];
    const hashes: Uint8Array[] = [];
    let start = 1;
    for (let i = 0; i < n && start <= joined.length; i++) {
      let end = joined.indexOf(0, start);
      if (end < 0) end = joined.length;
      hashes.push(leafHashPrefixed(joined.subarray(start - 1, end)));
      start = end + 1;
    }
    if (hashes.length === n && start === joined.length + 1) {
      for (let i = 0; i < n; i++) out.push(ids[i]!, hashes[i]!);
      continue;
    }
    // A stored document holds a raw NUL (no JSON text does: it was written by someone else), so
    // the split is off: this page again, row by row.
    for (const [id, doc] of rows.iterate(from, to) as IterableIterator<[string, Buffer]>) out.push(id, leafHashDoc(doc));
  }
  return out.done();
}

/** Digests gathered one by one into a buffer that doubles when full. */
class Growing {
  private ids: string[] = [];
  private hashes = new Uint8Array(32 * 1024);
  push(id: string, hash: Uint8Array): void {
    const n = this.ids.length;
    if (32 * (n + 1) > this.hashes.length) {
      const grown = new Uint8Array(this.hashes.length * 2);
      grown.set(this.hashes);
      this.hashes = grown;
    }
    this.hashes.set(hash, 32 * n);
    this.ids.push(id);
  }
  done(): RecordDigests {
    return { ids: this.ids, hashes: this.hashes.subarray(0, 32 * this.ids.length) };
  }
}

/** Hash `(id, document)` rows as they come (small tables: the audit trail). */
export function digestRows(rows: Iterable<[string, Uint8Array | string]>): RecordDigests {
  const out = new Growing();
  for (const [id, doc] of rows) out.push(id, leafHashDoc(doc));
  return out.done();
}

/** Join digests of consecutive ranges. */
function concat(parts: RecordDigests[]): RecordDigests {
  if (parts.length === 1) return parts[0]!;
  const total = parts.reduce((a, p) => a + p.ids.length, 0);
  const hashes = new Uint8Array(32 * total);
  const ids: string[] = [];
  let off = 0;
  for (const p of parts) {
    hashes.set(p.hashes, off);
    off += p.hashes.length;
    for (const id of p.ids) ids.push(id);
  }
  return { ids, hashes };
}

/** Options of {@link DigestPool}. */
export interface DigestPoolOptions {
  /** Worker threads besides the calling thread; default: the cores less one (at least 1). 0: hash in the calling thread only. */
  workers?: number;
  /** Fewest records worth a part of their own; default 20,000 (a worker's start costs about as much as hashing that many). */
  minPerPart?: number;
}

interface RangeRequest {
  id: number;
  table: string;
  lo: number;
  hi: number;
}
type RangeReply = { id: number; ids: string[]; hashes: Uint8Array } | { id: number; error: string };

/**
 * Hashes the records of an event day table, in parallel when the day is big.
 *
 * @example
 * const pool = new DigestPool('data/events.db', db);
 * const { ids, hashes } = await pool.digest('ev_20261128');
 * await pool.close();
 */
export class DigestPool {
  private readonly size: number;
  private readonly minPerPart: number;
  private workers: Array<Worker | undefined> = [];
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (d: RecordDigests) => void; reject: (e: Error) => void }>();

  /** `path` is the database file the workers open; `db` the caller's connection to it. */
  constructor(
    private readonly path: string,
    private readonly db: Database.Database,
    opts: DigestPoolOptions = {},
  ) {
    this.size = opts.workers ?? Math.max(1, availableParallelism() - 1);
    this.minPerPart = opts.minPerPart ?? 20_000;
    if (!Number.isInteger(this.size) || this.size < 0) throw new RangeError('DigestPool: workers must be a non-negative integer');
    if (!Number.isInteger(this.minPerPart) || this.minPerPart < 1) throw new RangeError('DigestPool: minPerPart must be a positive integer');
  }

  private worker(k: number): Worker {
    let w = this.workers[k];
    if (w) return w;
    w = new Worker(new URL(import.meta.url), { workerData: { role: ROLE, path: this.path } });
    w.on('message', (m: RangeReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) for (const x of this.workers) x?.unref();
      if ('error' in m) p.reject(new Error(m.error));
      else p.resolve({ ids: m.ids, hashes: m.hashes });
    });
    const fail = (why: string): void => {
      if (this.workers[k] === w) this.workers[k] = undefined;
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.reject(new Error(`digest worker ${why}`));
      }
      for (const x of this.workers) x?.unref();
    };
    w.on('error', (e) => fail(`failed: ${e.message}`));
    w.on('exit', (code) => fail(`exited with code ${code}`));
    // An idle pool never keeps the process alive (a caller that forgets close() still exits);
    // `remote` refs the workers while a request waits. After the listeners: adding a 'message'
    // listener refs a worker again (Node 20: unref'd first, the process did not exit).
    w.unref();
    this.workers[k] = w;
    return w;
  }

  private remote(k: number, table: string, lo: number, hi: number): Promise<RecordDigests> {
    const id = this.nextId++;
    return new Promise<RecordDigests>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const w = this.worker(k);
      // Held while the reply is awaited: otherwise a caller with nothing else pending would exit mid-digest.
      w.ref();
      w.postMessage({ id, table, lo, hi } satisfies RangeRequest);
    });
  }

  /**
   * Leaf hashes of every record of `table` (`ev_YYYYMMDD`) in rowid order. The calling thread's
   * part is hashed before this returns its promise, the workers' parts after: call it first and
   * do other work (the root) before awaiting.
   */
  async digest(table: string): Promise<RecordDigests> {
    if (!EV_TABLE.test(table)) throw new RangeError(`not an event table: ${table}`);
    const r = this.db.prepare(`SELECT min(rowid), max(rowid), count(*) FROM ${table}`).raw().get() as [number | null, number | null, number];
    const [min, max, count] = r;
    if (min === null || max === null) return { ids: [], hashes: new Uint8Array(0) };
    const parts = Math.min(this.size + 1, Math.floor(count / this.minPerPart));
    if (parts <= 1) return digestRange(this.db, table, min, max + 1);
    // Rowid ranges (rowids are dense unless rows were deleted): the calling thread's is smaller
    // (MAIN_SHARE of a worker's), as it also recomputes the day's Merkle root meanwhile.
    const span = max + 1 - min;
    const unit = span / (parts - 1 + MAIN_SHARE);
    const mainEnd = Math.min(max + 1, min + Math.ceil(unit * MAIN_SHARE));
    const bounds = [min, ...Array.from({ length: parts - 1 }, (_, k) => Math.min(max + 1, mainEnd + Math.ceil(unit * k))), max + 1];
    const remote = Array.from({ length: parts - 1 }, (_, k) => this.remote(k, table, bounds[k + 1]!, bounds[k + 2]!));
    const first = digestRange(this.db, table, bounds[0]!, bounds[1]!);
    return concat([first, ...(await Promise.all(remote))]);
  }

  /** Stop the workers. */
  async close(): Promise<void> {
    const ws = this.workers.filter((w): w is Worker => w !== undefined);
    this.workers = [];
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

/** Worker side: one read-only connection, range requests answered in order. */
function serveWorker(): void {
  const { path } = workerData as { path: string };
  const db = new Database(path, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  parentPort!.on('message', (m: RangeRequest) => {
    try {
      const d = digestRange(db, m.table, m.lo, m.hi);
      // Copy into a buffer of its own so it can be transferred, not cloned.
      const hashes = d.hashes.slice();
      parentPort!.postMessage({ id: m.id, ids: d.ids, hashes } satisfies RangeReply, [hashes.buffer as ArrayBuffer]);
    } catch (e) {
      parentPort!.postMessage({ id: m.id, error: (e as Error).message } satisfies RangeReply);
    }
  });
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) serveWorker();
