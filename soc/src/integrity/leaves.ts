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
 * Appends leaves inside the caller's transaction. Leaves are gathered per day and written as one
 * row per day and batch (`ids` as a JSON array, `hashes` as n × 32 bytes) by {@link flush}: one
 * insert per batch instead of one per record keeps the chaining cost of a write small.
 *
 * @example
 * const leaves = new LeafWriter(db);
 * db.transaction(() => { insertRecord(); leaves.append('2026-11-28', id, leafHashText(doc)); leaves.flush(); })();
 */
export class LeafWriter {
  private readonly stmts = new Map<string, Database.Statement>();
  private readonly pending = new Map<string, { ids: string[]; hashes: Uint8Array[] }>();
  constructor(private readonly db: Database.Database) {}

  /** Queue one leaf of `day`; written by the next {@link flush} (call it before the commit). */
  append(day: string, id: string, hash: Uint8Array): void {
    let p = this.pending.get(day);
    if (!p) {
      p = { ids: [], hashes: [] };
      this.pending.set(day, p);
    }
    p.ids.push(id);
    p.hashes.push(hash);
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
      const blob = Buffer.allocUnsafe(p.hashes.length * 32);
      for (let i = 0; i < p.hashes.length; i++) blob.set(p.hashes[i]!, i * 32);
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
 * Every leaf of `day` in order from position `after` (empty when the day has no index). A row
 * whose `ids` and `hashes` disagree in length yields what both hold (verification then reports
 * the root mismatch).
 */
export function readLeaves(db: Database.Database, day: string, after = 0): LeafRow[] {
  const t = leafTable(day);
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t);
  if (!exists) return [];
  const out: LeafRow[] = [];
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
    for (let i = 0; i < n; i++, pos++) {
      if (pos < after) continue;
      out.push({ index: pos, id: String(list[i]), hash: new Uint8Array(blob.buffer, blob.byteOffset + i * 32, 32) });
    }
  }
  return out;
}
