/**
 * The SQLite {@link AlertStore}: `alerts.db` in the data directory (WAL, beside `events.db`).
 * Alerts, their history and comments, suppressions, rule switches, the detector's checkpoint and
 * the notification outbox (`../notify/outbox.ts`) share one database, so one transaction records
 * alerts, enqueues their notifications and advances the checkpoint: a crash leaves all or none.
 */
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import type { RuleLevel } from '@xiangan/rules';
import { SocError } from '../errors.js';
import { WalCheckpointer } from '../storage/wal-checkpointer.js';
import { mergeIntoAlert, newAlert, purgeStart, suppressionMatches } from './dedup.js';
import {
  ALERT_STATUSES,
  ALERT_TRANSITIONS,
  CLOSED_STATUSES,
  LEVEL_RANK,
  OPEN_STATUSES,
  type Alert,
  type AlertCandidate,
  type AlertComment,
  type AlertFilter,
  type AlertHistoryEntry,
  type AlertPage,
  type AlertStatus,
  type AlertStore,
  type PurgeOptions,
  type PurgeResult,
  type RecordOptions,
  type RecordResult,
  type Suppression,
  type SuppressionInput,
} from './types.js';

/** Options of {@link openSqliteAlertStore}. */
export interface SqliteAlertStoreOptions {
  /** Data directory (`alerts.db` inside it); created if missing. */
  dir: string;
  /** Matches of one rule and group within this span of event time fold into one alert; default 1 h. */
  dedupWindowMs?: number;
  /** Wall clock for `createdAt`/`updatedAt` and history entries. */
  now?: () => number;
  /** Ids of suppressions (default `randomUUID`). */
  newId?: () => string;
  /**
   * Checkpoint the WAL from a thread of its own instead of inside the commit that fills it (the
   * server sets it; see `../storage/wal-checkpointer.ts`). `pollMs` and `restartMs` are for tests.
   */
  checkpointThread?: boolean | { pollMs?: number; restartMs?: number };
  /** WAL frames after which it is checkpointed (default {@link WAL_AUTOCHECKPOINT_PAGES}). */
  walCheckpointPages?: number;
  /** A failure of the checkpoint thread (it is restarted; the committing connection checkpoints meanwhile). */
  onCheckpointError?: (e: SocError) => void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS alerts (
  id TEXT PRIMARY KEY, rule_id TEXT NOT NULL, group_key TEXT NOT NULL, title TEXT NOT NULL,
  severity TEXT NOT NULL, severity_rank INTEGER NOT NULL, risk INTEGER NOT NULL, tags TEXT NOT NULL,
  kind TEXT NOT NULL, grp TEXT NOT NULL, status TEXT NOT NULL, assignee TEXT, count INTEGER NOT NULL,
  first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  event_ids TEXT NOT NULL, correlation TEXT);
CREATE INDEX IF NOT EXISTS alerts_dedup ON alerts(rule_id, group_key, last_seen);
-- The list's order (newest first, id as tie-break) per filter it takes, so a page reads only its
-- rows instead of sorting every match. alerts_list and alerts_list_status also serve every
-- lookup by last_seen, and by status (then last_seen): the indexes on just those (alerts_seen,
-- alerts_status) that earlier versions made were their prefixes, two more B-trees to write per
-- new alert for no query, and are dropped.
DROP INDEX IF EXISTS alerts_status;
DROP INDEX IF EXISTS alerts_seen;
CREATE INDEX IF NOT EXISTS alerts_list ON alerts(last_seen DESC, id);
CREATE INDEX IF NOT EXISTS alerts_list_status ON alerts(status, last_seen DESC, id);
CREATE INDEX IF NOT EXISTS alerts_list_rule ON alerts(rule_id, last_seen DESC, id);
-- Alerts per status, kept by triggers (exact across processes), so a page's total needs no COUNT(*).
CREATE TABLE IF NOT EXISTS alert_counts (status TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS alert_history (
  alert_id TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
  from_s TEXT, to_s TEXT, note TEXT);
CREATE INDEX IF NOT EXISTS alert_history_id ON alert_history(alert_id);
CREATE TABLE IF NOT EXISTS alert_comments (
  id INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alert_comments_id ON alert_comments(alert_id);
CREATE TABLE IF NOT EXISTS suppressions (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, rule_id TEXT, match TEXT NOT NULL, expires_at TEXT,
  reason TEXT NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL, hits INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS checkpoints (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rule_state (rule_id TEXT PRIMARY KEY, enabled INTEGER NOT NULL, actor TEXT NOT NULL, at TEXT NOT NULL);
`;

const COUNT_TRIGGERS = `
CREATE TRIGGER IF NOT EXISTS alert_counts_ins AFTER INSERT ON alerts BEGIN
  UPDATE alert_counts SET n = n + 1 WHERE status = new.status; END;
CREATE TRIGGER IF NOT EXISTS alert_counts_del AFTER DELETE ON alerts BEGIN
  UPDATE alert_counts SET n = n - 1 WHERE status = old.status; END;
CREATE TRIGGER IF NOT EXISTS alert_counts_upd AFTER UPDATE OF status ON alerts WHEN old.status IS NOT new.status BEGIN
  UPDATE alert_counts SET n = n - 1 WHERE status = old.status;
  UPDATE alert_counts SET n = n + 1 WHERE status = new.status; END;
`;

/** WAL pages after which the alert store checkpoints (see the constructor and `../storage/wal-checkpointer.ts`). */
export const WAL_AUTOCHECKPOINT_PAGES = 16_000;

/**
 * Page cache of the alert store's connection, in MiB. better-sqlite3 builds SQLite with a
 * 16 MiB default (`SQLITE_DEFAULT_CACHE_SIZE=-16000`, its deps/defines.gypi), which a store of
 * ~100k alerts fills. Per new alert, alternating two stores in one process (500-alert records up
 * to 100k alerts, load 7–8): 8 MiB 0.99–1.03x the CPU of 16; 4 MiB 1.02x up to 50k alerts but
 * 1.17x past it, 2 MiB 1.14–1.18x (the id-keyed B-trees' pages no longer stay cached).
 */
export const ALERT_CACHE_MB = 8;

/** Alerts deleted per retention transaction (also under SQLite's 32,766 bound parameters). */
const PURGE_BATCH = 500;

interface AlertRow {
  id: string;
  rule_id: string;
  group_key: string;
  title: string;
  severity: RuleLevel;
  risk: number;
  tags: string;
  kind: 'detection' | 'correlation';
  grp: string;
  status: AlertStatus;
  assignee: string | null;
  count: number;
  first_seen: string;
  last_seen: string;
  created_at: string;
  updated_at: string;
  event_ids: string;
  correlation: string | null;
}

function fromRow(r: AlertRow): Alert {
  const a: Alert = {
    id: r.id,
    ruleId: r.rule_id,
    title: r.title,
    severity: r.severity,
    riskScore: r.risk,
    tags: JSON.parse(r.tags) as string[],
    kind: r.kind,
    groupKey: r.group_key,
    group: JSON.parse(r.grp) as Record<string, string>,
    status: r.status,
    assignee: r.assignee,
    count: r.count,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    eventIds: JSON.parse(r.event_ids) as string[],
  };
  if (r.correlation) a.correlation = JSON.parse(r.correlation) as Alert['correlation'];
  return a;
}

/**
 * Open (or create) the SQLite alert store in `opts.dir`.
 *
 * @example
 * ```ts
 * const alerts = await openSqliteAlertStore({ dir: './data', dedupWindowMs: 3_600_000 });
 * ```
 */
export async function openSqliteAlertStore(opts: SqliteAlertStoreOptions): Promise<SqliteAlertStore> {
  return new SqliteAlertStore(opts);
}

/** See {@link openSqliteAlertStore}. */
export class SqliteAlertStore implements AlertStore {
  readonly backend = 'sqlite';
  /** The connection, shared with the notification outbox (same transaction). */
  readonly db: Database.Database;
  private readonly now: () => number;
  private readonly newId: () => string;
  private readonly windowMs: number;
  private suppressions: Suppression[] | undefined;
  private closed = false;
  private readonly walPages: number;
  /** The checkpoint thread, when {@link SqliteAlertStoreOptions.checkpointThread} is set. */
  readonly checkpointer: WalCheckpointer | undefined;
  /** With the thread: past this many bytes of WAL the committing connection checkpoints itself. */
  private readonly walBound: number = 0;
  /** Checkpoints the committing connection ran because the WAL passed {@link walBound}. */
  inlineCheckpoints = 0;
  private readonly onCheckpointError: ((e: SocError) => void) | undefined;

  constructor(opts: SqliteAlertStoreOptions) {
    if (typeof opts?.dir !== 'string' || !opts.dir) throw new TypeError('SqliteAlertStore: dir must be a non-empty string');
    this.windowMs = opts.dedupWindowMs ?? 3_600_000;
    if (!Number.isFinite(this.windowMs) || this.windowMs < 0) throw new RangeError('SqliteAlertStore: dedupWindowMs must be ≥ 0');
    this.now = opts.now ?? Date.now;
    this.newId = opts.newId ?? randomUUID;
    this.onCheckpointError = opts.onCheckpointError;
    this.walPages = opts.walCheckpointPages ?? WAL_AUTOCHECKPOINT_PAGES;
    if (!Number.isInteger(this.walPages) || this.walPages < 1) throw new RangeError('SqliteAlertStore: walCheckpointPages must be a positive integer');
    try {
      mkdirSync(opts.dir, { recursive: true });
      this.db = new Database(join(opts.dir, 'alerts.db'));
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      // The WAL is copied back into the database (and both are fsynced) by the connection that
      // commits once it holds this many pages: on the main thread, in the detector's commit. New
      // alerts dirty pages all over the id-keyed B-trees, and each commit appends them to the WAL
      // again, so at SQLite's default of 1,000 pages (https://sqlite.org/wal.html#ckpt) a burst
      // checkpointed every second or third step. At 16,000 (~64 MB at 4 KiB pages) a page
      // rewritten by many commits is copied back once: per new alert 1.1–1.25x less CPU and
      // ~1.55x less wall time of the recording thread (soc/README.md, session 8). Durability is
      // that of `synchronous = NORMAL` either way; the WAL file keeps its largest size (~64 MB).
      // With `checkpointThread` (the server) a thread does it instead (below).
      this.db.pragma(`wal_autocheckpoint = ${this.walPages}`);
      this.db.pragma(`cache_size = ${-1024 * ALERT_CACHE_MB}`);
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(SCHEMA);
      this.db.transaction(() => {
        if ((this.db.prepare('SELECT count(*) AS n FROM alert_counts').get() as { n: number }).n === 0) {
          for (const st of ALERT_STATUSES) this.db.prepare('INSERT INTO alert_counts (status, n) VALUES (?, 0)').run(st);
          this.db.exec('UPDATE alert_counts SET n = (SELECT count(*) FROM alerts WHERE alerts.status = alert_counts.status)');
        }
        this.db.exec(COUNT_TRIGGERS);
      })();
    } catch (e) {
      throw new SocError('SOC_ERR_STORE_OPEN', `alert store in ${opts.dir}: ${(e as Error).message}`, { cause: e });
    }
    if (opts.checkpointThread) {
      const t = typeof opts.checkpointThread === 'object' ? opts.checkpointThread : {};
      // Twice the checkpoint's size: a thread that falls behind (a slow disk) or is gone
      // leaves the WAL to the committing connection there, and a WAL that grew past it is cut
      // back to it when it starts over.
      this.walBound = 2 * this.walPages * ((this.db.pragma('page_size', { simple: true }) as number) + 24) + 32;
      this.db.pragma(`journal_size_limit = ${this.walBound}`);
      const walPages = this.walPages;
      this.checkpointer = new WalCheckpointer({
        path: this.db.name,
        frames: walPages,
        ...(t.pollMs !== undefined ? { pollMs: t.pollMs } : {}),
        ...(t.restartMs !== undefined ? { restartMs: t.restartMs } : {}),
        // Until the thread is up and after it exits, this connection checkpoints as without it.
        onRunning: (running) => {
          if (!this.closed) this.db.pragma(`wal_autocheckpoint = ${running ? 0 : walPages}`);
        },
        onError: (message) => this.checkpointFailed(message),
      });
    }
  }

  private checkpointFailed(message: string): void {
    this.onCheckpointError?.(new SocError('SOC_ERR_STORE_WRITE', `alert store: ${message}`, { details: { store: 'alerts', stage: 'checkpoint' } }));
  }

  /**
   * With the checkpoint thread, after a commit: a WAL past {@link walBound} (the thread is
   * behind or stuck) is checkpointed here, so its file stays bounded. One `stat` per commit.
   */
  private boundWal(): void {
    // The commit stands either way: a failure here is reported, never thrown to the detector,
    // whose retry of a committed batch would count its merged alerts twice.
    try {
      const size = statSync(`${this.db.name}-wal`, { throwIfNoEntry: false })?.size ?? 0;
      if (size <= this.walBound) return;
      const [r] = this.db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number }>;
      if (r && !r.busy) this.inlineCheckpoints++;
    } catch (e) {
      this.checkpointFailed(`checkpoint after a commit: ${(e as Error).message}`);
    }
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  private check(): void {
    if (this.closed) throw new SocError('SOC_ERR_STORE_CLOSED', 'alert store is closed');
  }

  private activeSuppressions(): Suppression[] {
    this.suppressions ??= (this.db.prepare('SELECT * FROM suppressions').all() as Record<string, unknown>[]).map(suppressionFromRow);
    return this.suppressions;
  }

  /**
   * The statements of {@link recordSync}, prepared on its first call and reused: the detector
   * records every step, and preparing seven statements each time cost more than a small step's
   * writes.
   */
  private recordStmts: ReturnType<SqliteAlertStore['prepareRecord']> | undefined;

  private prepareRecord() {
    return {
      findOpen: this.db.prepare(
        `SELECT * FROM alerts WHERE rule_id = ? AND group_key = ? AND status IN (${OPEN_STATUSES.map(() => '?').join(',')}) ORDER BY last_seen DESC LIMIT 1`,
      ),
      insert: this.db.prepare(
        `INSERT OR IGNORE INTO alerts (id, rule_id, group_key, title, severity, severity_rank, risk, tags, kind, grp, status, assignee, count, first_seen, last_seen, created_at, updated_at, event_ids, correlation)
       VALUES (@id, @rule_id, @group_key, @title, @severity, @severity_rank, @risk, @tags, @kind, @grp, 'new', NULL, @count, @first_seen, @last_seen, @created_at, @updated_at, @event_ids, @correlation)`,
      ),
      update: this.db.prepare('UPDATE alerts SET count = @count, last_seen = @last_seen, updated_at = @updated_at, event_ids = @event_ids, correlation = @correlation WHERE id = @id'),
      hit: this.db.prepare('UPDATE suppressions SET hits = hits + ? WHERE id = ?'),
      hist: this.db.prepare('INSERT INTO alert_history (alert_id, at, actor, action, from_s, to_s, note) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      saveCp: this.db.prepare('INSERT INTO checkpoints (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value'),
    };
  }

  /** Synchronous {@link record} (the detector calls it inside its own flow). */
  recordSync(candidates: readonly AlertCandidate[], opts: RecordOptions = {}): RecordResult {
    this.check();
    const created = new Map<string, Alert>();
    const updated = new Map<string, Alert>();
    let suppressed = 0;
    const sups = this.activeSuppressions();
    const run = this.db.transaction(() => {
      const { findOpen, insert, update, hit, hist, saveCp } = (this.recordStmts ??= this.prepareRecord());
      const at = this.iso();
      // Alerts touched in this batch, by dedup key (one lookup per key per batch).
      const open = new Map<string, Alert | null>();
      // Alerts merged into, written once after the loop: an alert storm folds thousands of
      // candidates of a batch into one alert, whose row (up to MAX_ALERT_EVENT_IDS ids) was
      // rewritten for each of them (160 µs a candidate at the cap).
      const merged = new Set<Alert>();
      /** Suppressed candidates per suppression id. */
      const hits = new Map<string, number>();
      for (const c of candidates) {
        const m = c.match;
        const sup = sups.find((s) => suppressionMatches(s, c));
        if (sup) {
          hits.set(sup.id, (hits.get(sup.id) ?? 0) + 1);
          sup.hits++;
          suppressed++;
          continue;
        }
        const key = `${m.ruleId}\u001f${c.groupKey}`;
        let cur = open.get(key);
        if (cur === undefined) {
          const row = findOpen.get(m.ruleId, c.groupKey, ...OPEN_STATUSES) as AlertRow | undefined;
          cur = row ? fromRow(row) : null;
        }
        if (cur && mergeIntoAlert(cur, c, at, this.windowMs)) {
          merged.add(cur);
          if (!created.has(cur.id)) updated.set(cur.id, cur);
          open.set(key, cur);
          continue;
        }
        const a = newAlert(c, at);
        const r = insert.run({
          id: a.id,
          rule_id: a.ruleId,
          group_key: a.groupKey,
          title: a.title,
          severity: a.severity,
          severity_rank: LEVEL_RANK[a.severity] ?? 0,
          risk: a.riskScore,
          tags: JSON.stringify(a.tags),
          kind: a.kind,
          grp: JSON.stringify(a.group),
          count: 1,
          first_seen: a.firstSeen,
          last_seen: a.lastSeen,
          created_at: at,
          updated_at: at,
          event_ids: JSON.stringify(a.eventIds),
          correlation: a.correlation ? JSON.stringify(a.correlation) : null,
        });
        open.set(key, a);
        // Same deterministic id already stored (a replayed match): nothing new.
        if (r.changes === 0) continue;
        hist.run(a.id, at, 'detector', 'created', null, 'new', null);
        created.set(a.id, a);
        opts.onCreated?.(a);
      }
      for (const a of merged) {
        update.run({ id: a.id, count: a.count, last_seen: a.lastSeen, updated_at: at, event_ids: JSON.stringify(a.eventIds), correlation: a.correlation ? JSON.stringify(a.correlation) : null });
      }
      for (const [id, n] of hits) hit.run(n, id);
      for (const cp of opts.checkpoints ?? []) saveCp.run(cp.name, cp.value);
    });
    try {
      run();
    } catch (e) {
      this.suppressions = undefined;
      if (e instanceof SocError) throw e;
      throw new SocError('SOC_ERR_STORE_WRITE', `alert store: ${(e as Error).message}`, { cause: e });
    }
    if (this.checkpointer) this.boundWal();
    return { created: [...created.values()], updated: [...updated.values()], suppressed };
  }

  async record(candidates: readonly AlertCandidate[], opts?: RecordOptions): Promise<RecordResult> {
    return this.recordSync(candidates, opts);
  }

  async list(filter: AlertFilter = {}): Promise<AlertPage> {
    this.check();
    const where: string[] = [];
    const args: unknown[] = [];
    const statuses = filter.status?.length ? [...new Set(filter.status)] : undefined;
    for (const s of statuses ?? []) if (!ALERT_STATUSES.includes(s)) throw new RangeError(`unknown alert status ${s}`);
    if (filter.minSeverity !== undefined) {
      const rank = LEVEL_RANK[filter.minSeverity];
      if (rank === undefined) throw new RangeError(`unknown severity ${filter.minSeverity}`);
      where.push('severity_rank >= ?');
      args.push(rank);
    }
    if (filter.ruleId !== undefined) {
      where.push('rule_id = ?');
      args.push(filter.ruleId);
    }
    if (filter.assignee !== undefined) {
      where.push('assignee = ?');
      args.push(filter.assignee);
    }
    if (filter.from !== undefined) {
      where.push('last_seen >= ?');
      args.push(filter.from);
    }
    if (filter.to !== undefined) {
      where.push('last_seen < ?');
      args.push(filter.to);
    }
    const size = Math.min(filter.size ?? 50, 1000);
    const offset = filter.offset ?? 0;
    if (!Number.isInteger(size) || size < 0 || !Number.isInteger(offset) || offset < 0) throw new RangeError('size and offset must be non-negative integers');
    const total = this.countAlerts(statuses, where, args);
    if (filter.after) {
      // Keyset: after (lastSeen, id) in the list order. `last_seen <= ?` bounds the index range
      // scan; the OR breaks ties on id (mixed directions rule out a row-value comparison).
      where.push('last_seen <= ? AND (last_seen < ? OR id > ?)');
      args.push(filter.after.lastSeen, filter.after.lastSeen, filter.after.id);
    }
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    let rows: AlertRow[];
    if (!statuses) rows = this.stmt(`SELECT * FROM alerts ${w} ORDER BY last_seen DESC, id LIMIT ? OFFSET ?`).all(...args, size, offset) as AlertRow[];
    else {
      // One ordered index range per status, merged: SQLite cannot read `status IN (…)` in
      // last_seen order from one index and would sort every match otherwise.
      const rest = where.length ? ` AND ${where.join(' AND ')}` : '';
      const part = `SELECT * FROM (SELECT * FROM alerts WHERE status = ?${rest} ORDER BY last_seen DESC, id LIMIT ?)`;
      const sql = `${statuses.map(() => part).join(' UNION ALL ')} ORDER BY last_seen DESC, id LIMIT ? OFFSET ?`;
      rows = this.stmt(sql).all(...statuses.flatMap((st) => [st, ...args, size + offset]), size, offset) as AlertRow[];
    }
    return { total, alerts: rows.map(fromRow) };
  }

  private readonly stmts = new Map<string, Database.Statement>();
  private readonly counts = new Map<string, { version: string; n: number }>();

  private stmt(sql: string): Database.Statement {
    let st = this.stmts.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      if (this.stmts.size > 200) this.stmts.clear();
      this.stmts.set(sql, st);
    }
    return st;
  }

  /**
   * A list's total: by status from the trigger-kept table; with other filters a COUNT(*) cached
   * until the database changes (this connection's change count or another connection's commit).
   */
  private countAlerts(statuses: AlertStatus[] | undefined, where: string[], args: unknown[]): number {
    if (where.length === 0) {
      const rows = this.stmt('SELECT status, n FROM alert_counts').all() as { status: string; n: number }[];
      return rows.reduce((t, r) => (!statuses || statuses.includes(r.status as AlertStatus) ? t + r.n : t), 0);
    }
    const all = statuses ? [`status IN (${statuses.map(() => '?').join(',')})`, ...where] : where;
    const sql = `SELECT count(*) AS n FROM alerts WHERE ${all.join(' AND ')}`;
    const params = [...(statuses ?? []), ...args];
    const key = `${sql}\u0000${JSON.stringify(params)}`;
    const version = `${this.stmt('SELECT total_changes() AS c').pluck().get() as number}:${this.db.pragma('data_version', { simple: true }) as number}`;
    const hit = this.counts.get(key);
    if (hit && hit.version === version) return hit.n;
    const n = (this.stmt(sql).get(...params) as { n: number }).n;
    if (this.counts.size > 100) this.counts.clear();
    this.counts.set(key, { version, n });
    return n;
  }

  async get(id: string): Promise<Alert | undefined> {
    this.check();
    const r = this.db.prepare('SELECT * FROM alerts WHERE id = ?').get(id) as AlertRow | undefined;
    return r ? fromRow(r) : undefined;
  }

  private mustGet(id: string): Alert {
    const r = this.db.prepare('SELECT * FROM alerts WHERE id = ?').get(id) as AlertRow | undefined;
    if (!r) throw new SocError('SOC_ERR_ALERT_NOT_FOUND', `no alert with id ${id}`);
    return fromRow(r);
  }

  async transition(id: string, to: AlertStatus, actor: string, note?: string): Promise<Alert> {
    this.check();
    if (!ALERT_STATUSES.includes(to)) throw new RangeError(`unknown alert status ${String(to)}`);
    if (typeof actor !== 'string' || !actor) throw new TypeError('actor must be a non-empty string');
    return this.db.transaction(() => {
      const a = this.mustGet(id);
      if (!ALERT_TRANSITIONS[a.status].includes(to)) {
        throw new SocError('SOC_ERR_ALERT_TRANSITION', `alert ${id} cannot go from ${a.status} to ${to} (allowed: ${ALERT_TRANSITIONS[a.status].join(', ')})`, {
          details: { from: a.status, to, allowed: ALERT_TRANSITIONS[a.status] },
        });
      }
      const at = this.iso();
      this.db.prepare('UPDATE alerts SET status = ?, updated_at = ? WHERE id = ?').run(to, at, id);
      this.db.prepare('INSERT INTO alert_history (alert_id, at, actor, action, from_s, to_s, note) VALUES (?, ?, ?, ?, ?, ?, ?)').run(id, at, actor, 'transition', a.status, to, note ?? null);
      return { ...a, status: to, updatedAt: at };
    })();
  }

  async assign(id: string, assignee: string | null, actor: string): Promise<Alert> {
    this.check();
    if (assignee !== null && (typeof assignee !== 'string' || !assignee)) throw new TypeError('assignee must be a non-empty string or null');
    return this.db.transaction(() => {
      const a = this.mustGet(id);
      const at = this.iso();
      this.db.prepare('UPDATE alerts SET assignee = ?, updated_at = ? WHERE id = ?').run(assignee, at, id);
      this.db.prepare('INSERT INTO alert_history (alert_id, at, actor, action, from_s, to_s, note) VALUES (?, ?, ?, ?, ?, ?, ?)').run(id, at, actor, 'assign', a.assignee, assignee, null);
      return { ...a, assignee, updatedAt: at };
    })();
  }

  async comment(id: string, actor: string, text: string): Promise<AlertComment> {
    this.check();
    if (typeof text !== 'string' || !text) throw new TypeError('comment text must be a non-empty string');
    return this.db.transaction(() => {
      this.mustGet(id);
      const at = this.iso();
      const r = this.db.prepare('INSERT INTO alert_comments (alert_id, at, actor, text) VALUES (?, ?, ?, ?)').run(id, at, actor, text);
      this.db.prepare('INSERT INTO alert_history (alert_id, at, actor, action, from_s, to_s, note) VALUES (?, ?, ?, ?, ?, ?, ?)').run(id, at, actor, 'comment', null, null, text);
      this.db.prepare('UPDATE alerts SET updated_at = ? WHERE id = ?').run(at, id);
      return { id: Number(r.lastInsertRowid), at, actor, text };
    })();
  }

  async comments(id: string): Promise<AlertComment[]> {
    this.check();
    this.mustGet(id);
    return this.db.prepare('SELECT id, at, actor, text FROM alert_comments WHERE alert_id = ? ORDER BY id').all(id) as AlertComment[];
  }

  async history(id: string): Promise<AlertHistoryEntry[]> {
    this.check();
    this.mustGet(id);
    const rows = this.db.prepare('SELECT at, actor, action, from_s, to_s, note FROM alert_history WHERE alert_id = ? ORDER BY rowid').all(id) as {
      at: string;
      actor: string;
      action: AlertHistoryEntry['action'];
      from_s: string | null;
      to_s: string | null;
      note: string | null;
    }[];
    return rows.map((r) => ({ at: r.at, actor: r.actor, action: r.action, from: r.from_s, to: r.to_s, ...(r.note !== null ? { note: r.note } : {}) }));
  }

  async addSuppression(s: SuppressionInput): Promise<Suppression> {
    this.check();
    if (s.kind !== 'suppression' && s.kind !== 'exception') throw new TypeError("kind must be 'suppression' or 'exception'");
    if (typeof s.reason !== 'string' || !s.reason) throw new TypeError('a suppression needs a reason');
    if (typeof s.createdBy !== 'string' || !s.createdBy) throw new TypeError('a suppression needs createdBy');
    if (s.expiresAt != null && !Number.isFinite(Date.parse(s.expiresAt))) throw new RangeError('expiresAt must be an ISO 8601 time');
    const match = s.match ?? {};
    for (const [k, v] of Object.entries(match)) if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new TypeError(`match.${k} must be an array of strings`);
    if (s.kind === 'suppression' && s.expiresAt == null) throw new RangeError('a suppression window needs expiresAt');
    const out: Suppression = {
      id: this.newId(),
      kind: s.kind,
      ruleId: s.ruleId ?? null,
      match,
      expiresAt: s.expiresAt ?? null,
      reason: s.reason,
      createdBy: s.createdBy,
      createdAt: this.iso(),
      hits: 0,
    };
    this.db
      .prepare('INSERT INTO suppressions (id, kind, rule_id, match, expires_at, reason, created_by, created_at, hits) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)')
      .run(out.id, out.kind, out.ruleId, JSON.stringify(out.match), out.expiresAt, out.reason, out.createdBy, out.createdAt);
    this.suppressions = undefined;
    return out;
  }

  async listSuppressions(): Promise<Suppression[]> {
    this.check();
    return (this.db.prepare('SELECT * FROM suppressions ORDER BY created_at, id').all() as Record<string, unknown>[]).map(suppressionFromRow);
  }

  async deleteSuppression(id: string): Promise<boolean> {
    this.check();
    const r = this.db.prepare('DELETE FROM suppressions WHERE id = ?').run(id);
    this.suppressions = undefined;
    return r.changes > 0;
  }

  async loadCheckpoint(name: string): Promise<string | undefined> {
    this.check();
    return (this.db.prepare('SELECT value FROM checkpoints WHERE name = ?').get(name) as { value: string } | undefined)?.value;
  }

  async saveCheckpoint(name: string, value: string): Promise<void> {
    this.check();
    this.db.prepare('INSERT INTO checkpoints (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value').run(name, value);
  }

  async disabledRules(): Promise<Set<string>> {
    this.check();
    return new Set((this.db.prepare('SELECT rule_id FROM rule_state WHERE enabled = 0').all() as { rule_id: string }[]).map((r) => r.rule_id));
  }

  async setRuleEnabled(ruleId: string, enabled: boolean, actor: string): Promise<void> {
    this.check();
    this.db
      .prepare('INSERT INTO rule_state (rule_id, enabled, actor, at) VALUES (?, ?, ?, ?) ON CONFLICT(rule_id) DO UPDATE SET enabled = excluded.enabled, actor = excluded.actor, at = excluded.at')
      .run(ruleId, enabled ? 1 : 0, actor, this.iso());
  }

  /**
   * Retention of closed alerts (see {@link AlertStore.purgeClosed}). Deletes in transactions of
   * {@link PURGE_BATCH} alerts, so the detector's writes interleave with a large first purge
   * instead of waiting behind one long transaction. The `alert_counts` triggers fire per deleted
   * row, so the per-status totals stay exact.
   *
   * @example
   * ```ts
   * const r = await alerts.purgeClosed({ olderThanDays: 365, dryRun: true });
   * ```
   */
  async purgeClosed(opts: PurgeOptions): Promise<PurgeResult> {
    this.check();
    const { cutoff, dryRun, out } = purgeStart(opts, this.now());
    // updated_at is always written by toISOString(), so text order is time order.
    const closed = `status IN (${CLOSED_STATUSES.map(() => '?').join(',')}) AND updated_at < ?`;
    const sel = [...CLOSED_STATUSES, cutoff];
    const tally = (ids: string[] | undefined): void => {
      const inIds = ids ? `alert_id IN (${ids.map(() => '?').join(',')})` : `alert_id IN (SELECT id FROM alerts WHERE ${closed})`;
      const args = ids ?? sel;
      const byStatus = this.db
        .prepare(`SELECT status, count(*) AS n FROM alerts WHERE ${ids ? `id IN (${ids.map(() => '?').join(',')})` : closed} GROUP BY status`)
        .all(...args) as { status: 'resolved' | 'false_positive'; n: number }[];
      for (const r of byStatus) {
        out.byStatus[r.status] += r.n;
        out.alerts += r.n;
      }
      out.history += (this.db.prepare(`SELECT count(*) AS n FROM alert_history WHERE ${inIds}`).get(...args) as { n: number }).n;
      out.comments += (this.db.prepare(`SELECT count(*) AS n FROM alert_comments WHERE ${inIds}`).get(...args) as { n: number }).n;
    };
    try {
      if (dryRun) {
        this.db.transaction(() => tally(undefined))();
        return out;
      }
      const batch = this.db.transaction((): number => {
        const ids = (this.db.prepare(`SELECT id FROM alerts WHERE ${closed} LIMIT ${PURGE_BATCH}`).all(...sel) as { id: string }[]).map((r) => r.id);
        if (ids.length === 0) return 0;
        tally(ids);
        const marks = ids.map(() => '?').join(',');
        this.db.prepare(`DELETE FROM alert_history WHERE alert_id IN (${marks})`).run(...ids);
        this.db.prepare(`DELETE FROM alert_comments WHERE alert_id IN (${marks})`).run(...ids);
        this.db.prepare(`DELETE FROM alerts WHERE id IN (${marks})`).run(...ids);
        return ids.length;
      });
      while (batch() === PURGE_BATCH);
    } catch (e) {
      if (e instanceof SocError) throw e;
      throw new SocError('SOC_ERR_STORE_WRITE', `alert store: purge: ${(e as Error).message}`, { cause: e });
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // The thread first: this connection, the last one, then checkpoints and removes the WAL.
    await this.checkpointer?.close();
    this.db.close();
  }
}

function suppressionFromRow(r: Record<string, unknown>): Suppression {
  return {
    id: String(r.id),
    kind: r.kind as Suppression['kind'],
    ruleId: (r.rule_id as string | null) ?? null,
    match: JSON.parse(String(r.match)) as Record<string, string[]>,
    expiresAt: (r.expires_at as string | null) ?? null,
    reason: String(r.reason),
    createdBy: String(r.created_by),
    createdAt: String(r.created_at),
    hits: Number(r.hits),
  };
}
