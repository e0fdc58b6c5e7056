/**
 * The per-day leaf index: for every stored record, in the order it was committed, its id and its
 * RFC 6962 leaf hash. It lives in the same SQLite database as the records it covers and is
 * written in the same transaction (`il_YYYYMMDD`, beside `ev_YYYYMMDD`), so a crash leaves both or
 * neither: after a restart the index never claims a record the store lost, nor misses one it kept
 * (SQLite atomic commit, WAL mode). The index alone proves nothing — an attacker with write access
 * can edit it too — but the signed checkpoints fix its root, so any edit of the index shows up
 * as a root mismatch, and any edit of a record alone shows up exactly (which id, how).
 */
import type Database from 'better-sqlite3';
import { leafHashDocsInto } from './merkle.js';

/** `YYYY-MM-DD` → `il_YYYYMMDD`; throws `RangeError` on anything else (names are never user text). */
export function leafTable(day: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new RangeError(`not a day: ${day}`);
  return `il_${day.replaceAll('-', '')}`;
}

/** Table name → day, or `undefined` for other tables. */
export function dayOfLeafTable(name: string): string | undefined {
  const m = /^il_(\d{4})(\d{2})(\d{2})$/.exec(name);
  return m ? `${m[1]}-${m[2]}-${m[3]}` : undefined;
}

/** One leaf of a day, in commit order. */
export interface LeafRow {
  /** 0-based position in the day's tree. */
  index: number;
  id: string;
  hash: Uint8Array;
}

/**
 * Leaves of a day from some position on, in commit order: `ids[i]` is the record at position
 * `from + i` and its leaf hash is `hashes[32·i … 32·i + 32)`.
 */
export interface DayLeaves {
  from: number;
  ids: string[];
  hashes: Uint8Array;
}

/**
 * Where a stream's leaf index lives: SQLite day tables ({@link sqliteLeafStore}) or a search
 * engine index (`./engine.ts`). Reads may be synchronous (SQLite) or not (an engine).
 */
export interface LeafStore {
  /** Days that have leaves, ascending. */
  days(): string[] | Promise<string[]>;
  /** The day's leaves from position `after` on (an empty list when the day has none). */
  read(day: string, after?: number): DayLeaves | Promise<DayLeaves>;
}

/**
 * Appends leaves inside the caller's transaction. Leaves are gathered per day and written as one
 * row per day and batch (`ids` as a JSON array, `hashes` as n × 32 bytes) by {@link flush}: one
 * insert per batch instead of one per record keeps the chaining cost of a write small. Documents
 * given to {@link appendDoc} are hashed at the flush, all of a day in one pass straight into the
 * row's blob (no array per leaf).
 *
 * @example
 * const leaves = new LeafWriter(db);
 * db.transaction(() => { insertRecord(); leaves.appendDoc('2026-11-28', id, doc); leaves.flush(); })();
 */
export class LeafWriter {
  private readonly stmts = new Map<string, Database.Statement>();
  private readonly pending = new Map<string, { ids: string[]; leaves: Array<string | Uint8Array>; hashed: boolean[] }>();
  constructor(private readonly db: Database.Database) {}

  private day(day: string): { ids: string[]; leaves: Array<string | Uint8Array>; hashed: boolean[] } {
    let p = this.pending.get(day);
    if (!p) {
      p = { ids: [], leaves: [], hashed: [] };
      this.pending.set(day, p);
    }
    return p;
  }

  /** Queue one leaf hash (32 bytes, already `leafHash`ed) of `day`; written by the next {@link flush}. */
  append(day: string, id: string, hash: Uint8Array): void {
    const p = this.day(day);
    p.ids.push(id);
    p.leaves.push(hash);
    p.hashed.push(true);
  }

  /**
   * Queue one stored document of `day` (its text exactly as stored, or those bytes); its leaf
   * hash SM3(0x00 ‖ UTF-8) is computed by the next {@link flush}, with the rest of the batch.
   */
  appendDoc(day: string, id: string, doc: string | Uint8Array): void {
    const p = this.day(day);
    p.ids.push(id);
    p.leaves.push(doc);
    p.hashed.push(false);
  }

  /** Write the queued leaves (one row per day), creating day tables on first use. */
  flush(): void {
    for (const [day, p] of this.pending) {
      let st = this.stmts.get(day);
      if (!st) {
        const t = leafTable(day);
        this.db.exec(`CREATE TABLE IF NOT EXISTS ${t} (seq INTEGER PRIMARY KEY, ids TEXT NOT NULL, hashes BLOB NOT NULL)`);
        st = this.db.prepare(`INSERT INTO ${t} (ids, hashes) VALUES (?, ?)`);
        this.stmts.set(day, st);
      }
      const blob = Buffer.allocUnsafe(p.leaves.length * 32);
      // Documents still to hash go through the batch hash together (four per SIMD pass).
      const at: number[] = [];
      const docs: Array<string | Uint8Array> = [];
      for (let i = 0; i < p.leaves.length; i++) {
        if (p.hashed[i]) blob.set(p.leaves[i] as Uint8Array, i * 32);
        else {
          at.push(i);
          docs.push(p.leaves[i]!);
        }
      }
      if (docs.length > 0) {
        const hashes = new Uint8Array(docs.length * 32);
        leafHashDocsInto(docs, hashes);
        for (let k = 0; k < at.length; k++) blob.set(hashes.subarray(k * 32, k * 32 + 32), at[k]! * 32);
      }
      st.run(JSON.stringify(p.ids), blob);
    }
    this.pending.clear();
  }

  /** Drop queued leaves (the transaction they belonged to rolled back). */
  discard(): void {
    this.pending.clear();
  }

  /** Drop `day`'s index (retention, inside the caller's transaction). */
  dropDay(day: string): void {
    this.db.exec(`DROP TABLE IF EXISTS ${leafTable(day)}`);
    this.stmts.delete(day);
  }

  /** Forget prepared statements (another connection may have dropped tables). */
  reset(): void {
    this.stmts.clear();
    this.pending.clear();
  }
}

/** Days that have a leaf index in `db`, ascending. */
export function leafDays(db: Database.Database): string[] {
  const rows = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'il\\_%' ESCAPE '\\'").all() as Array<{ name: string }>;
  return rows.map((r) => dayOfLeafTable(r.name)).filter((d): d is string => d !== undefined).sort();
}

/**
 * The leaves of `day` from position `after` on, read in big pieces: one JSON array and one blob
 * per stored batch, no object per leaf. A row whose `ids` and `hashes` disagree in length yields
 * what both hold (verification then reports the root mismatch).
 */
export function readDayLeaves(db: Database.Database, day: string, after = 0): DayLeaves {
  const t = leafTable(day);
  const out: DayLeaves = { from: after, ids: [], hashes: new Uint8Array(0) };
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t);
  if (!exists) return out;
  const parts: Uint8Array[] = [];
  let pos = 0;
  for (const [idsText, blob] of db.prepare(`SELECT ids, hashes FROM ${t} ORDER BY seq`).raw().iterate() as IterableIterator<[string, Buffer]>) {
    let ids: unknown;
    try {
      ids = JSON.parse(idsText);
    } catch {
      ids = [];
    }
    const list = Array.isArray(ids) ? ids : [];
    const n = Math.min(list.length, Math.floor(blob.byteLength / 32));
    if (pos + n <= after) {
      pos += n;
      continue;
    }
    const skip = Math.max(0, after - pos);
    for (let i = skip; i < n; i++) out.ids.push(String(list[i]));
    parts.push(blob.subarray(skip * 32, n * 32));
    pos += n;
  }
  out.hashes = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  return out;
}

/**
 * Every leaf of `day` in order from position `after`, one object per leaf (proofs and tests; bulk
 * readers use {@link readDayLeaves}).
 */
export function readLeaves(db: Database.Database, day: string, after = 0): LeafRow[] {
  const d = readDayLeaves(db, day, after);
  return d.ids.map((id, i) => ({ index: d.from + i, id, hash: d.hashes.subarray(32 * i, 32 * i + 32) }));
}

/**
 * The {@link LeafStore} of a SQLite database that holds `il_YYYYMMDD` tables (events.db, audit.db).
 * @example const store = sqliteLeafStore(new Database('data/events.db', { readonly: true }));
 */
export function sqliteLeafStore(db: Database.Database): LeafStore {
  return { days: () => leafDays(db), read: (day, after) => readDayLeaves(db, day, after) };
}
