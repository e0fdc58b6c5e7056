/**
 * The notification outbox on Elasticsearch / OpenSearch: one document per (alert, channel) in
 * `<prefix>-alerts-outbox`, beside the alert indices, instead of a table in the SQLite alert
 * transaction (an engine has no transaction across documents).
 *
 * Why it stays correct without one:
 * - **Written before the alert.** The engine alert store writes an alert's entries
 *   ({@link EngineOutbox.announce}) before the alert; a failure in between leaves entries whose
 *   alert is missing, never an alert without its entries. The detector's batch is then retried
 *   and writes the same ids again.
 * - **Idempotent ids.** `<alertId>:<channel>`, written with `create`: a retried or replayed batch
 *   answers 409 and adds nothing. Alert ids are deterministic (`alerts/dedup.ts`).
 * - **Delivered only for stored alerts.** Before sending, the claim reads the alert by id (a
 *   real-time GET); an entry whose alert is still missing after {@link ORPHAN_GRACE_MS} was left by
 *   a write that never completed, and is closed as `dead` with that reason.
 * - **A lease for several senders.** Servers sharing a cluster claim an entry with a conditional
 *   write (`if_seq_no` / `if_primary_term`, the engines' optimistic concurrency): one wins, the
 *   others get 409 and skip it. A sender that dies mid-delivery loses its lease after `leaseMs`
 *   and another sends again: delivery is at least once, as with any outbox.
 */
import { SocError } from '../errors.js';
import type { EngineIo } from '../alerts/engine-io.js';
import type { Alert } from '../alerts/types.js';
import type { DueEntry, FailedAttempt, Outbox, OutboxEntry, OutboxFilter } from './outbox.js';

/** How long an entry may wait for its alert to appear before it is closed as dead. */
export const ORPHAN_GRACE_MS = 10 * 60_000;

/** How often delivered entries are pruned (a search and a bulk delete each time). */
const PRUNE_EVERY_MS = 60_000;

const KW = { type: 'keyword' } as const;
const LONG = { type: 'long' } as const;
const MAPPING = {
  channel: KW,
  alertId: KW,
  payload: { type: 'keyword', index: false, doc_values: false },
  status: KW,
  attempts: LONG,
  nextAt: LONG,
  lastError: { type: 'keyword', index: false, doc_values: false },
  createdAt: LONG,
  sentAt: LONG,
  leaseUntil: LONG,
  owner: KW,
};

interface Doc {
  channel: string;
  alertId: string;
  payload: string;
  status: OutboxEntry['status'];
  attempts: number;
  nextAt: number;
  lastError: string | null;
  createdAt: number;
  sentAt: number | null;
  /** Until when (ms) a sender holds the entry; 0 when nobody does. */
  leaseUntil: number;
  owner: string | null;
}

interface Version {
  seqNo: number;
  term: number;
  doc: Doc;
}

/** Options of {@link EngineOutbox}. */
export interface EngineOutboxOptions {
  now?: () => number;
  /** How long a claim holds an entry; default 60 s (well above a channel's timeout). */
  leaseMs?: number;
  /** This sender's name in `owner` (default a random id per process). */
  owner?: string;
}

/**
 * See the module comment. The engine alert store creates it (`EngineAlertStore.outbox`); the
 * notifier delivers from it.
 *
 * @example
 * ```ts
 * const alerts = await openEngineAlertStore(events, { notifyTargets: (a) => routeTargets(cfg.notify.routes, a) });
 * const notifier = new Notifier({ outbox: alerts.outbox, config: cfg.notify });
 * ```
 */
export class EngineOutbox implements Outbox {
  private readonly now: () => number;
  private readonly leaseMs: number;
  private readonly owner: string;
  private prunedAt = -Infinity;

  constructor(
    private readonly io: EngineIo,
    private readonly idx: { outbox: string; alerts: string },
    opts: EngineOutboxOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.leaseMs = opts.leaseMs ?? 60_000;
    this.owner = opts.owner ?? crypto.randomUUID();
  }

  /** Create the outbox index (idempotent). */
  init(): Promise<void> {
    return this.io.ensureIndex(this.idx.outbox, MAPPING);
  }

  /**
   * Write the entries of alerts about to be created, before them. Resolves to the ids this call
   * created, per alert (an id that already existed answered 409 and is not listed); rejects with
   * `SOC_ERR_STORE_WRITE` when any entry could not be written, so the alerts are not written either.
   */
  async announce(list: ReadonlyArray<{ alert: Alert; channels: readonly string[] }>): Promise<Map<string, string[]>> {
    const t = this.now();
    const ids: Array<[string, string]> = [];
    const lines: unknown[] = [];
    for (const { alert, channels } of list) {
      const payload = JSON.stringify(alert);
      for (const channel of channels) {
        const id = `${alert.id}:${channel}`;
        ids.push([alert.id, id]);
        const doc: Doc = { channel, alertId: alert.id, payload, status: 'pending', attempts: 0, nextAt: t, lastError: null, createdAt: t, sentAt: null, leaseUntil: 0, owner: null };
        lines.push({ create: { _index: this.idx.outbox, _id: id } }, doc);
      }
    }
    const out = new Map<string, string[]>();
    // Not waiting for a refresh: the notifier's next poll sees them within the refresh interval.
    const res = await this.io.bulk(lines, false);
    res.forEach((r, k) => {
      const [alertId, id] = ids[k]!;
      if (r.status === 201 || r.status === 200) out.set(alertId, [...(out.get(alertId) ?? []), id]);
      else if (r.status !== 409) throw new SocError('SOC_ERR_STORE_WRITE', `notification outbox: entry ${id} answered ${r.status}`);
    });
    return out;
  }

  /** `_bulk` lines deleting entries (of an alert that turned out not to be new). */
  withdrawLines(ids: readonly string[]): unknown[] {
    return ids.map((id) => ({ delete: { _index: this.idx.outbox, _id: id } }));
  }

  async due(t: number, limit: number): Promise<DueEntry[]> {
    const r = await this.io.search<Doc>(this.idx.outbox, {
      size: limit,
      seq_no_primary_term: true,
      query: { bool: { filter: [{ term: { status: 'pending' } }, { range: { nextAt: { lte: t } } }, { range: { leaseUntil: { lte: t } } }] } },
      sort: [{ nextAt: 'asc' }, { createdAt: 'asc' }],
    });
    return r.hits.map((h) => ({
      id: h._id,
      channel: h._source.channel,
      alertId: h._source.alertId,
      payload: h._source.payload,
      attempts: h._source.attempts,
      createdAt: h._source.createdAt,
      version: { seqNo: h._seq_no!, term: h._primary_term!, doc: h._source } satisfies Version,
    }));
  }

  /** Write a new state of an entry if nobody changed it since `v`; the new version, or undefined on a conflict. */
  private async put(e: DueEntry, v: Version, doc: Doc): Promise<Version | undefined> {
    const path = `/${this.idx.outbox}/_doc/${encodeURIComponent(String(e.id))}?if_seq_no=${v.seqNo}&if_primary_term=${v.term}`;
    const r = await this.io.req('PUT', path, doc, [409]);
    if (r.status === 409) return undefined;
    return { seqNo: r.body._seq_no as number, term: r.body._primary_term as number, doc };
  }

  async claim(e: DueEntry, t: number): Promise<boolean> {
    const v = e.version as Version;
    const held = await this.put(e, v, { ...v.doc, leaseUntil: t + this.leaseMs, owner: this.owner });
    if (!held) return false;
    e.version = held;
    const a = await this.io.req('GET', `/${this.idx.alerts}/_doc/${encodeURIComponent(e.alertId)}?_source=false`, undefined, [404]);
    if (a.status !== 404 && a.body.found) return true;
    // The alert's write has not landed (yet): look again later, or give up on a write that never completed.
    const orphan = t - e.createdAt >= ORPHAN_GRACE_MS;
    await this.put(e, held, {
      ...held.doc,
      leaseUntil: 0,
      owner: null,
      ...(orphan ? { status: 'dead', lastError: 'its alert was never stored (the write that announced it did not complete)' } : { nextAt: t + 5_000 }),
    });
    return false;
  }

  async sent(e: DueEntry, t: number): Promise<void> {
    const v = e.version as Version;
    // A conflict means the lease ran out and another sender took the entry: it records the outcome.
    await this.put(e, v, { ...v.doc, status: 'sent', attempts: v.doc.attempts + 1, sentAt: t, nextAt: t, lastError: null, leaseUntil: 0, owner: null });
  }

  async failed(e: DueEntry, f: FailedAttempt): Promise<void> {
    const v = e.version as Version;
    await this.put(e, v, { ...v.doc, status: f.status, attempts: f.attempts, nextAt: f.nextAt, lastError: f.error, leaseUntil: 0, owner: null });
  }

  async prune(before: number): Promise<void> {
    const t = this.now();
    if (t - this.prunedAt < PRUNE_EVERY_MS) return;
    this.prunedAt = t;
    await this.io.deleteMatching(this.idx.outbox, { bool: { filter: [{ term: { status: 'sent' } }, { range: { sentAt: { lt: before } } }] } });
  }

  async entries(filter: OutboxFilter = {}): Promise<OutboxEntry[]> {
    const r = await this.io.search<Doc>(this.idx.outbox, {
      size: filter.limit ?? 100,
      query: filter.status ? { term: { status: filter.status } } : { match_all: {} },
      sort: [{ createdAt: 'desc' }, { alertId: 'asc' }, { channel: 'asc' }],
    });
    return r.hits.map(({ _id, _source: d }) => ({
      id: _id,
      channel: d.channel,
      alertId: d.alertId,
      status: d.status,
      attempts: d.attempts,
      nextAt: d.nextAt,
      lastError: d.lastError ?? null,
      createdAt: d.createdAt,
      sentAt: d.sentAt ?? null,
    }));
  }
}
