/**
 * The notifier: a durable outbox in the alert database and a sender loop.
 *
 * New alerts are routed (severity, tags, rule ids) to channels and enqueued inside the alert
 * store's transaction ({@link Notifier.enqueue} is its `onCreated`), so an alert and its
 * notifications are committed together and survive a restart. The loop delivers due entries,
 * within each channel's rate (token bucket), and on failure retries with exponential back-off
 * (`baseMs · 2^(attempt−1)`, capped at `maxMs`) until `maxAttempts`, after which the entry is
 * marked `dead` and kept for inspection — never dropped silently.
 */
import type Database from 'better-sqlite3';
import type { Logger } from '@xiangan/collectors';
import { LEVEL_RANK, type Alert } from '../alerts/types.js';
import { channelRate, type ChannelConfig, type NotifyConfig, type RouteConfig } from './config.js';
import { sendAlert, type Sender } from './channels.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, alert_id TEXT NOT NULL, payload TEXT NOT NULL,
  status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, last_error TEXT,
  created_at INTEGER NOT NULL, sent_at INTEGER);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_at);
`;

/** How long delivered entries stay in the outbox. */
export const SENT_RETENTION_MS = 7 * 86_400_000;

/** One outbox entry. */
export interface OutboxEntry {
  id: number;
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

/** Counters of a {@link Notifier}. */
export interface NotifierStats {
  enqueued: number;
  sent: number;
  failed: number;
  dead: number;
  /** Deliveries postponed because the channel's rate was used up. */
  rateLimited: number;
}

/** Options of {@link Notifier}. */
export interface NotifierOptions {
  /** The alert store's connection (`SqliteAlertStore.db`). */
  db: Database.Database;
  config: Pick<NotifyConfig, 'channels' | 'routes' | 'retry'> & Partial<Pick<NotifyConfig, 'pollMs'>>;
  now?: () => number;
  /** Default {@link sendAlert}. */
  send?: Sender;
  logger?: Logger;
}

/** Whether a route takes an alert. */
export function routeMatches(r: RouteConfig, a: Alert): boolean {
  if (LEVEL_RANK[a.severity] < LEVEL_RANK[r.minSeverity as Alert['severity']]) return false;
  if (r.rules && !r.rules.includes(a.ruleId)) return false;
  if (r.tags && !r.tags.some((p) => a.tags.some((t) => t.toLowerCase().startsWith(p.toLowerCase())))) return false;
  return true;
}

/**
 * Routes, stores and delivers alert notifications.
 *
 * @example
 * ```ts
 * const notifier = new Notifier({ db: alerts.db, config: cfg.notify });
 * const detector = await Detector.open({ engine, alerts, onCreated: (a) => notifier.enqueue(a) });
 * notifier.start();
 * …
 * await notifier.stop();
 * ```
 */
export class Notifier {
  private readonly now: () => number;
  private readonly send: Sender;
  private readonly channels = new Map<string, ChannelConfig>();
  private readonly tokens = new Map<string, { tokens: number; at: number }>();
  private readonly s: NotifierStats = { enqueued: 0, sent: 0, failed: 0, dead: 0, rateLimited: 0 };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = true;
  private again = false;

  constructor(private readonly opts: NotifierOptions) {
    this.now = opts.now ?? Date.now;
    this.send = opts.send ?? sendAlert;
    for (const c of opts.config.channels) {
      if (this.channels.has(c.id)) throw new RangeError(`notify: channel id ${c.id} is used twice`);
      this.channels.set(c.id, c);
    }
    for (const r of opts.config.routes) for (const id of r.channels) if (!this.channels.has(id)) throw new RangeError(`notify: a route names unknown channel ${id}`);
    opts.db.exec(SCHEMA);
  }

  /** Counters. */
  stats(): NotifierStats {
    return { ...this.s };
  }

  /** Route a new alert and add its deliveries to the outbox (synchronous: call inside the alert transaction). */
  enqueue(alert: Alert): number {
    const targets = new Set<string>();
    for (const r of this.opts.config.routes) if (routeMatches(r, alert)) for (const c of r.channels) targets.add(c);
    if (targets.size === 0) return 0;
    const t = this.now();
    const ins = this.opts.db.prepare("INSERT INTO outbox (channel, alert_id, payload, status, attempts, next_at, created_at) VALUES (?, ?, ?, 'pending', 0, ?, ?)");
    const payload = JSON.stringify(alert);
    for (const c of targets) ins.run(c, alert.id, payload, t, t);
    this.s.enqueued += targets.size;
    return targets.size;
  }

  /** Outbox entries, newest first (for the API and tests). */
  entries(filter: { status?: OutboxEntry['status']; limit?: number } = {}): OutboxEntry[] {
    const rows = this.opts.db
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

  private take(channel: ChannelConfig, t: number): boolean {
    // Token bucket: `ratePerMinute` tokens refilled continuously, burst up to the same number.
    const cap = channelRate(channel);
    const b = this.tokens.get(channel.id) ?? { tokens: cap, at: t };
    b.tokens = Math.min(cap, b.tokens + ((t - b.at) * cap) / 60_000);
    b.at = t;
    this.tokens.set(channel.id, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Deliver every due entry once; resolves to the number of attempts made. */
  runOnce(): Promise<number> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.deliverDue().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async deliverDue(): Promise<number> {
    const db = this.opts.db;
    const { baseMs, maxMs, maxAttempts } = this.opts.config.retry;
    const due = db.prepare("SELECT id, channel, payload, attempts FROM outbox WHERE status = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT 500").all(this.now()) as {
      id: number;
      channel: string;
      payload: string;
      attempts: number;
    }[];
    const sent = db.prepare("UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL WHERE id = ?");
    const failed = db.prepare('UPDATE outbox SET status = ?, attempts = ?, next_at = ?, last_error = ? WHERE id = ?');
    // Delivered entries are kept a week for inspection, then pruned (`next_at` of a sent entry is
    // its last scheduled attempt, covered by the index).
    db.prepare("DELETE FROM outbox WHERE status = 'sent' AND next_at < ?").run(this.now() - SENT_RETENTION_MS);
    let n = 0;
    for (const e of due) {
      const ch = this.channels.get(e.channel);
      const t = this.now();
      if (!ch) {
        failed.run('dead', e.attempts, t, `channel ${e.channel} is no longer configured`, e.id);
        this.s.dead++;
        continue;
      }
      if (!this.take(ch, t)) {
        this.s.rateLimited++;
        continue;
      }
      n++;
      try {
        await this.send(ch, JSON.parse(e.payload) as Alert, t);
        sent.run(this.now(), e.id);
        this.s.sent++;
      } catch (err) {
        const attempts = e.attempts + 1;
        const dead = attempts >= maxAttempts;
        const delay = Math.min(baseMs * 2 ** (attempts - 1), maxMs);
        failed.run(dead ? 'dead' : 'pending', attempts, this.now() + delay, String((err as Error).message ?? err).slice(0, 500), e.id);
        this.s.failed++;
        if (dead) this.s.dead++;
        this.opts.logger?.warn?.(
          { err, errorCode: (err as { code?: string }).code, stage: 'notify', channel: ch.id, attempts, retryInMs: dead ? undefined : delay },
          dead ? 'Notification failed for the last time; marked dead.' : 'Notification failed; will retry.',
        );
      }
    }
    return n;
  }

  /** Deliver soon (after new alerts were recorded). */
  wake(): void {
    if (this.stopped) return;
    void this.runOnce().catch(() => undefined);
  }

  /** Start the poll loop. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const tick = async (): Promise<void> => {
      try {
        await this.runOnce();
        while (this.again && !this.stopped) {
          this.again = false;
          await this.runOnce();
        }
      } catch (e) {
        this.opts.logger?.error?.({ err: e, stage: 'notify' }, 'Notification loop failed; it keeps polling.');
      }
      if (!this.stopped) this.timer = setTimeout(() => void tick(), this.opts.config.pollMs ?? 1000);
    };
    void tick();
  }

  /** Stop the loop after the delivery in progress. Pending entries stay in the outbox. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }
}
