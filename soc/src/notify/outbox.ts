/**
 * Where notifications wait for delivery. The {@link Notifier} routes and sends; an {@link Outbox}
 * keeps the entries durable beside the alerts they belong to, so an alert and its notifications
 * cannot drift apart:
 * - {@link SqliteOutbox}: a table in `alerts.db`, filled inside the alert transaction (the SQLite
 *   alert store's `onCreated`), so the alert and its entries commit together.
 * - `EngineOutbox` (`./engine-outbox.ts`): an index beside the alert indices on Elasticsearch /
 *   OpenSearch, filled by the engine alert store itself before the alerts it announces, with
 *   idempotent ids and a lease so several servers on one cluster deliver each entry once.
 */
import type Database from 'better-sqlite3';

/** One outbox entry, as the API lists it. */
export interface OutboxEntry {
  /** A row number (SQLite) or the document id `<alertId>:<channel>` (engines). */
  id: number | string;
  channel: string;
  alertId: string;
  status: 'pending' | 'sent' | 'dead';
  attempts: number;
  /** Next attempt (ms since the epoch). */
  nextAt: number;
  lastError: string | null;
  createdAt: number;
  sentAt: number | null;
}

/** An entry due for delivery: what the sender needs, and the outbox's own handle on it. */
export interface DueEntry {
  id: number | string;
  channel: string;
  alertId: string;
  /** The alert as JSON, as it was when it was created. */
  payload: string;
  attempts: number;
  createdAt: number;
  /** Opaque to the notifier: the version the outbox read, for its conditional writes. */
  version?: unknown;
}

/** What a failed attempt leaves behind. */
export interface FailedAttempt {
  status: 'pending' | 'dead';
  attempts: number;
  nextAt: number;
  error: string;
}

/** Filter of {@link Outbox.entries}. */
export interface OutboxFilter {
  status?: OutboxEntry['status'];
  limit?: number;
}

/** The storage a {@link Notifier} delivers from. */
export interface Outbox {
  /**
   * Add entries synchronously, inside the caller's alert transaction. Absent on an outbox that its
   * alert store fills itself (the engine store writes entries together with the alerts).
   */
  add?(alertId: string, channels: readonly string[], payload: string, t: number): void;
  /** Pending entries whose next attempt is at or before `t`, oldest first, at most `limit`. */
  due(t: number, limit: number): Promise<DueEntry[]>;
  /**
   * Take an entry for one delivery attempt. `false` when it must not be sent now: another sender
   * holds it, or the outbox has rescheduled or closed it (an engine entry whose alert is missing).
   */
  claim(e: DueEntry, t: number): Promise<boolean>;
  sent(e: DueEntry, t: number): Promise<void>;
  failed(e: DueEntry, f: FailedAttempt): Promise<void>;
  /** Delete entries delivered before `before` (ms). */
  prune(before: number): Promise<void>;
  /** Entries, newest first. */
  entries(filter?: OutboxFilter): Promise<OutboxEntry[]>;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, alert_id TEXT NOT NULL, payload TEXT NOT NULL,
  status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, last_error TEXT,
  created_at INTEGER NOT NULL, sent_at INTEGER);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_at);
`;

/**
 * The outbox table in the SQLite alert database (`SqliteAlertStore.db`). One process owns the
 * database, so a claim always succeeds.
 *
 * @example
 * ```ts
 * const notifier = new Notifier({ outbox: new SqliteOutbox(alerts.db), config: cfg.notify });
 * ```
 */
export class SqliteOutbox implements Outbox {
  private readonly ins: Database.Statement;
  private readonly sentSt: Database.Statement;
  private readonly failedSt: Database.Statement;

  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
    this.ins = db.prepare("INSERT INTO outbox (channel, alert_id, payload, status, attempts, next_at, created_at) VALUES (?, ?, ?, 'pending', 0, ?, ?)");
    this.sentSt = db.prepare("UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL WHERE id = ?");
    this.failedSt = db.prepare('UPDATE outbox SET status = ?, attempts = ?, next_at = ?, last_error = ? WHERE id = ?');
  }

  add(alertId: string, channels: readonly string[], payload: string, t: number): void {
    for (const c of channels) this.ins.run(c, alertId, payload, t, t);
  }

  async due(t: number, limit: number): Promise<DueEntry[]> {
    const rows = this.db
      .prepare("SELECT id, channel, alert_id, payload, attempts, created_at FROM outbox WHERE status = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?")
      .all(t, limit) as { id: number; channel: string; alert_id: string; payload: string; attempts: number; created_at: number }[];
    return rows.map((r) => ({ id: r.id, channel: r.channel, alertId: r.alert_id, payload: r.payload, attempts: r.attempts, createdAt: r.created_at }));
  }

  async claim(): Promise<boolean> {
    return true;
  }

  async sent(e: DueEntry, t: number): Promise<void> {
    this.sentSt.run(t, e.id);
  }

  async failed(e: DueEntry, f: FailedAttempt): Promise<void> {
    this.failedSt.run(f.status, f.attempts, f.nextAt, f.error, e.id);
  }

  async prune(before: number): Promise<void> {
    // `next_at` of a sent entry is its last scheduled attempt, covered by the index.
    this.db.prepare("DELETE FROM outbox WHERE status = 'sent' AND next_at < ?").run(before);
  }

  async entries(filter: OutboxFilter = {}): Promise<OutboxEntry[]> {
    const rows = this.db
      .prepare(`SELECT * FROM outbox ${filter.status ? 'WHERE status = ?' : ''} ORDER BY id DESC LIMIT ?`)
      .all(...(filter.status ? [filter.status] : []), filter.limit ?? 100) as Record<string, unknown>[];
    return rows.map((r) => ({
      id: Number(r.id),
      channel: String(r.channel),
      alertId: String(r.alert_id),
      status: r.status as OutboxEntry['status'],
      attempts: Number(r.attempts),
      nextAt: Number(r.next_at),
      lastError: (r.last_error as string | null) ?? null,
      createdAt: Number(r.created_at),
      sentAt: r.sent_at === null ? null : Number(r.sent_at),
    }));
  }
}
