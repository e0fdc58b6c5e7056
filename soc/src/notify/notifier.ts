/**
 * The notifier: routing, and a sender loop over a durable outbox kept beside the alerts
 * (`./outbox.ts`).
 *
 * New alerts are routed (severity, tags, rule ids) to channels. On SQLite the entries are added
 * inside the alert store's transaction ({@link Notifier.enqueue} is its `onCreated`); on
 * Elasticsearch/OpenSearch the engine alert store writes them itself before the alerts (see
 * `./engine-outbox.ts`). Either way an alert's notifications survive a restart. The loop delivers due entries,
 * within each channel's rate (token bucket), and on failure retries with exponential back-off
 * (`baseMs · 2^(attempt−1)`, capped at `maxMs`) until `maxAttempts`, after which the entry is
 * marked `dead` and kept for inspection — never dropped silently.
 */
import type Database from 'better-sqlite3';
import type { Logger } from '@xiangan/collectors';
import { LEVEL_RANK, type Alert } from '../alerts/types.js';
import { channelRate, type ChannelConfig, type NotifyConfig, type RouteConfig } from './config.js';
import { sendAlert, type Sender } from './channels.js';
import { SqliteOutbox, type Outbox, type OutboxEntry, type OutboxFilter } from './outbox.js';

export type { OutboxEntry } from './outbox.js';

/** How long delivered entries stay in the outbox. */
export const SENT_RETENTION_MS = 7 * 86_400_000;

/** Counters of a {@link Notifier}. */
export interface NotifierStats {
  enqueued: number;
  sent: number;
  failed: number;
  dead: number;
  /** Deliveries postponed because the channel's rate was used up. */
  rateLimited: number;
}

/** Options of {@link Notifier}: an outbox, or the SQLite alert store's connection for its table. */
export type NotifierOptions = ({ outbox: Outbox; db?: undefined } | { /** `SqliteAlertStore.db`. */ db: Database.Database; outbox?: undefined }) & {
  config: Pick<NotifyConfig, 'channels' | 'routes' | 'retry'> & Partial<Pick<NotifyConfig, 'pollMs'>>;
  now?: () => number;
  /** Default {@link sendAlert}. */
  send?: Sender;
  logger?: Logger;
};

/** Entries read per delivery pass. */
const DUE_PAGE = 500;

/** Channels the routes send an alert to (each once). */
export function routeTargets(routes: readonly RouteConfig[], a: Alert): string[] {
  const targets = new Set<string>();
  for (const r of routes) if (routeMatches(r, a)) for (const c of r.channels) targets.add(c);
  return [...targets];
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
 * const notifier = new Notifier({ outbox: new SqliteOutbox(alerts.db), config: cfg.notify });
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
  /** The outbox delivered from. */
  readonly outbox: Outbox;

  constructor(private readonly opts: NotifierOptions) {
    this.now = opts.now ?? Date.now;
    this.send = opts.send ?? sendAlert;
    for (const c of opts.config.channels) {
      if (this.channels.has(c.id)) throw new RangeError(`notify: channel id ${c.id} is used twice`);
      this.channels.set(c.id, c);
    }
    for (const r of opts.config.routes) for (const id of r.channels) if (!this.channels.has(id)) throw new RangeError(`notify: a route names unknown channel ${id}`);
    this.outbox = opts.outbox !== undefined ? opts.outbox : new SqliteOutbox(opts.db);
  }

  /** Counters. */
  stats(): NotifierStats {
    return { ...this.s };
  }

  /**
   * Route a new alert and add its deliveries to the outbox (synchronous: call inside the alert
   * transaction). On an outbox without `add` (the engine store writes its entries with the
   * alerts) this only counts them. Returns the number of entries.
   */
  enqueue(alert: Alert): number {
    const targets = routeTargets(this.opts.config.routes, alert);
    if (targets.length === 0) return 0;
    this.outbox.add?.(alert.id, targets, JSON.stringify(alert), this.now());
    this.s.enqueued += targets.length;
    return targets.length;
  }

  /** Outbox entries, newest first (for the API and tests). */
  entries(filter: OutboxFilter = {}): Promise<OutboxEntry[]> {
    return this.outbox.entries(filter);
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

  private refund(channel: ChannelConfig): void {
    const b = this.tokens.get(channel.id);
    if (b) b.tokens = Math.min(channelRate(channel), b.tokens + 1);
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
    const ob = this.outbox;
    const { baseMs, maxMs, maxAttempts } = this.opts.config.retry;
    const due = await ob.due(this.now(), DUE_PAGE);
    // Delivered entries are kept a week for inspection, then pruned.
    await ob.prune(this.now() - SENT_RETENTION_MS);
    let n = 0;
    for (const e of due) {
      const ch = this.channels.get(e.channel);
      const t = this.now();
      if (!ch) {
        if (!(await ob.claim(e, t))) continue;
        await ob.failed(e, { status: 'dead', attempts: e.attempts, nextAt: t, error: `channel ${e.channel} is no longer configured` });
        this.s.dead++;
        continue;
      }
      // The token first: an entry claimed and then held back by the rate would stay leased.
      if (!this.take(ch, t)) {
        this.s.rateLimited++;
        continue;
      }
      if (!(await ob.claim(e, t))) {
        this.refund(ch);
        continue;
      }
      n++;
      try {
        await this.send(ch, JSON.parse(e.payload) as Alert, t);
        await ob.sent(e, this.now());
        this.s.sent++;
      } catch (err) {
        const attempts = e.attempts + 1;
        const dead = attempts >= maxAttempts;
        const delay = Math.min(baseMs * 2 ** (attempts - 1), maxMs);
        await ob.failed(e, { status: dead ? 'dead' : 'pending', attempts, nextAt: this.now() + delay, error: String((err as Error).message ?? err).slice(0, 500) });
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
