/**
 * The SOC's own audit trail: logins, configuration changes, alert actions, key operations.
 * Append-only SQLite (`audit.db`): each record is stored in its RFC 8785 canonical form and its
 * SM3 leaf hash goes into the day's leaf index in the same transaction, exactly like stored events
 * (`../integrity`), so the checkpointer signs it and `xiangan audit verify` checks it
 * (GB/T 22239-2019 8.1.4.3 c: audit records protected from deletion, modification, overwriting).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SocError } from '../errors.js';
import { canonicalJson } from '../integrity/canonical.js';
import { LeafWriter } from '../integrity/leaves.js';

/** What a caller records. */
export interface AuditEntry {
  /** Who: a user name, `system`, an API token name. */
  actor: string;
  /** What, dotted: `auth.login`, `config.change`, `alert.ack`, `key.rotate`. */
  action: string;
  /** On what: an alert id, a config path, a key label. */
  target?: string;
  /** `success` or `failure` (ECS `event.outcome`). */
  outcome: 'success' | 'failure' | 'unknown';
  /** Anything else worth keeping (JSON values only; never secrets). */
  details?: Record<string, unknown>;
}

/** A stored audit record. */
export interface AuditRecord extends AuditEntry {
  id: string;
  '@timestamp': string;
}

/** Options of {@link AuditStore.open}. */
export interface AuditStoreOptions {
  /** Data directory; the trail is `audit.db` inside it. */
  dir: string;
  /** Clock (tests). */
  now?: () => number;
  /** Open without write access (verification next to a running server). */
  readonly?: boolean;
}

const OUTCOMES = new Set(['success', 'failure', 'unknown']);

/** Misuse checks of an entry (callers are our own code: a wrong entry is a bug, not data). */
function checkEntry(e: AuditEntry): void {
  if (!e || typeof e !== 'object') throw new TypeError('audit: entry must be an object');
  if (typeof e.actor !== 'string' || e.actor === '') throw new TypeError('audit: actor must be a non-empty string');
  if (typeof e.action !== 'string' || e.action === '') throw new TypeError('audit: action must be a non-empty string');
  if (e.target !== undefined && typeof e.target !== 'string') throw new TypeError('audit: target must be a string');
  if (!OUTCOMES.has(e.outcome)) throw new TypeError("audit: outcome must be 'success', 'failure' or 'unknown'");
  if (e.details !== undefined && (typeof e.details !== 'object' || e.details === null || Array.isArray(e.details))) {
    throw new TypeError('audit: details must be an object');
  }
}

/**
 * The append-only audit store. There is no update or delete method; retention of the trail goes
 * through the checkpointer's signed deletion records like events.
 *
 * @example
 * const audit = AuditStore.open({ dir: './data' });
 * audit.record({ actor: 'admin', action: 'auth.login', outcome: 'success', details: { ip: '127.0.0.1' } });
 * audit.close();
 */
export class AuditStore {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly leaves: LeafWriter;
  private readonly insert: Database.Statement;
  private readonly now: () => number;
  private closed = false;

  private constructor(opts: AuditStoreOptions) {
    this.path = join(opts.dir, 'audit.db');
    this.now = opts.now ?? Date.now;
    try {
      if (!opts.readonly) mkdirSync(opts.dir, { recursive: true });
      this.db = new Database(this.path, { readonly: opts.readonly === true, fileMustExist: opts.readonly === true });
      this.db.pragma('busy_timeout = 5000');
      if (!opts.readonly) {
        this.db.pragma('journal_mode = WAL');
        this.db.pragma('synchronous = FULL');
        this.db.exec('CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, day TEXT NOT NULL, ts INTEGER NOT NULL, doc TEXT NOT NULL)');
        this.db.exec('CREATE INDEX IF NOT EXISTS audit_day ON audit (day, seq)');
      }
      this.leaves = new LeafWriter(this.db);
      this.insert = this.db.prepare(opts.readonly ? 'SELECT 1' : 'INSERT INTO audit (id, day, ts, doc) VALUES (?, ?, ?, ?)');
    } catch (e) {
      throw new SocError('SOC_ERR_STORE_OPEN', `cannot open audit trail ${this.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Open (or create) the trail in `opts.dir`. */
  static open(opts: AuditStoreOptions): AuditStore {
    if (typeof opts?.dir !== 'string' || opts.dir === '') throw new TypeError('AuditStore: dir must be a non-empty string');
    return new AuditStore(opts);
  }

  /** The underlying database (verification and the checkpointer read the leaf index from it). */
  get database(): Database.Database {
    return this.db;
  }

  /**
   * Append one record; returns it once committed (durable, `synchronous = FULL`).
   * @example audit.record({ actor: 'alice', action: 'alert.ack', target: alertId, outcome: 'success' })
   */
  record(entry: AuditEntry, at: number = this.now()): AuditRecord {
    if (this.closed) throw new SocError('SOC_ERR_STORE_CLOSED', 'audit trail is closed');
    checkEntry(entry);
    const ts = new Date(at).toISOString();
    const rec: AuditRecord = { id: randomUUID(), '@timestamp': ts, ...entry };
    const doc = canonicalJson(rec);
    const day = ts.slice(0, 10);
    try {
      this.db.transaction(() => {
        this.insert.run(rec.id, day, at, doc);
        this.leaves.appendDoc(day, rec.id, doc);
        this.leaves.flush();
      })();
    } catch (e) {
      this.leaves.discard();
      throw new SocError('SOC_ERR_STORE_WRITE', `audit trail write failed: ${(e as Error).message}`, { cause: e });
    }
    return rec;
  }

  /** Records, oldest first, optionally bounded by `[from, to)` ISO times. */
  list(opts: { from?: string; to?: string; limit?: number } = {}): AuditRecord[] {
    if (this.closed) throw new SocError('SOC_ERR_STORE_CLOSED', 'audit trail is closed');
    const from = opts.from ? Date.parse(opts.from) : -Infinity;
    const to = opts.to ? Date.parse(opts.to) : Infinity;
    const limit = opts.limit ?? 1000;
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError('audit list: limit must be a non-negative integer');
    const rows = this.db
      .prepare('SELECT doc FROM audit WHERE ts >= ? AND ts < ? ORDER BY seq LIMIT ?')
      .all(Number.isFinite(from) ? from : -8.64e15, Number.isFinite(to) ? to : 8.64e15, limit) as Array<{ doc: string }>;
    return rows.map((r) => JSON.parse(r.doc) as AuditRecord);
  }

  /** Drop whole days before `day` (called by the checkpointer after it signed their deletion records). */
  deleteDaysBefore(day: string): string[] {
    const days = (this.db.prepare('SELECT DISTINCT day FROM audit WHERE day < ? ORDER BY day').all(day) as Array<{ day: string }>).map((r) => r.day);
    this.db.transaction(() => {
      for (const d of days) {
        this.db.prepare('DELETE FROM audit WHERE day = ?').run(d);
        this.leaves.dropDay(d);
      }
    })();
    return days;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

/** Most records kept while no store is attached (before start-up finishes, or in tools). */
const PENDING_MAX = 10_000;

/**
 * The process-wide audit trail other components call. Until the server attaches a store,
 * records wait in a bounded queue (oldest dropped past 10,000, counted in `dropped`) and are
 * written, with their original time, when a store is attached.
 *
 * @example
 * import { auditLog } from '@xiangan/soc';
 * auditLog.record({ actor: 'alice', action: 'auth.login', outcome: 'failure', details: { reason: 'bad password' } });
 */
export const auditLog = {
  store: undefined as AuditStore | undefined,
  pending: [] as Array<{ entry: AuditEntry; at: number }>,
  /** Records dropped because no store was attached and the queue was full. */
  dropped: 0,
  /** Record one action. Returns the stored record, or `undefined` while it waits for a store. */
  record(entry: AuditEntry): AuditRecord | undefined {
    checkEntry(entry);
    if (this.store) return this.store.record(entry);
    if (this.pending.length >= PENDING_MAX) {
      this.pending.shift();
      this.dropped++;
    }
    this.pending.push({ entry, at: Date.now() });
    return undefined;
  },
  /** Attach the store (server start) and flush what waited. */
  attach(store: AuditStore): void {
    this.store = store;
    const queued = this.pending.splice(0);
    for (const q of queued) store.record(q.entry, q.at);
  },
  /** Detach (server stop); later records wait again. */
  detach(): void {
    this.store = undefined;
  },
};
