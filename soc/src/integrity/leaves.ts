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
 * Appends leaves inside the caller's transaction.
 *
 * @example
 * const leaves = new LeafWriter(db);
 * db.transaction(() => { insertRecord(); leaves.append('2026-11-28', id, leafHashText(doc)); })();
 */
export class LeafWriter {
  private readonly stmts = new Map<string, Database.Statement>();
  constructor(private readonly db: Database.Database) {}

  /** Append one leaf to `day`'s index (creates the table on first use). */
  append(day: string, id: string, hash: Uint8Array): void {
    let st = this.stmts.get(day);
    if (!st) {
      const t = leafTable(day);
      this.db.exec(`CREATE TABLE IF NOT EXISTS ${t} (idx INTEGER PRIMARY KEY, id TEXT NOT NULL, hash BLOB NOT NULL)`);
      st = this.db.prepare(`INSERT INTO ${t} (id, hash) VALUES (?, ?)`);
      this.stmts.set(day, st);
    }
    st.run(id, hash);
  }

  /** Drop `day`'s index (retention, inside the caller's transaction). */
  dropDay(day: string): void {
    this.db.exec(`DROP TABLE IF EXISTS ${leafTable(day)}`);
    this.stmts.delete(day);
  }

  /** Forget prepared statements (another connection may have dropped tables). */
  reset(): void {
    this.stmts.clear();
  }
}

/** Days that have a leaf index in `db`, ascending. */
export function leafDays(db: Database.Database): string[] {
  const rows = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'il\\_%' ESCAPE '\\'").all() as Array<{ name: string }>;
  return rows.map((r) => dayOfLeafTable(r.name)).filter((d): d is string => d !== undefined).sort();
}

/** Every leaf of `day` in order (empty when the day has no index). */
export function readLeaves(db: Database.Database, day: string, after = 0): LeafRow[] {
  const t = leafTable(day);
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t);
  if (!exists) return [];
  const rows = db.prepare(`SELECT id, hash FROM ${t} ORDER BY idx LIMIT -1 OFFSET ?`).raw().all(after) as Array<[string, Buffer]>;
  return rows.map((r, i) => ({ index: after + i, id: r[0], hash: new Uint8Array(r[1].buffer, r[1].byteOffset, r[1].byteLength) }));
}
