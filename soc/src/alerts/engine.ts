/**
 * The {@link AlertStore} on Elasticsearch / OpenSearch: alerts in their own index
 * (`<prefix>-alerts`, see `engineIndexNames`), their history, comments, suppressions and the
 * detector's state in four more, with the same rules as the SQLite store (`./sqlite.ts`): dedup by
 * rule + group key within a window of event time, counted suppressions, the lifecycle of
 * `ALERT_TRANSITIONS` with every change in the history, deterministic alert ids (a replayed match
 * names the same alert and creates nothing).
 *
 * One writer (the server's detector) is assumed, as with SQLite; analyst changes (transition,
 * assign) use the engine's optimistic concurrency (`if_seq_no` / `if_primary_term`) so two
 * analysts cannot overwrite each other silently. Writes wait for a refresh (`refresh=wait_for`), so
 * a list right after a change shows it.
 */
import { SocError } from '../errors.js';
import { mergeIntoAlert, newAlert, purgeStart, suppressionMatches } from './dedup.js';
import type { SearchEngineEventStore } from '../storage/search-engine.js';
import { EngineIo, type EngineAnswer } from './engine-io.js';
import { EngineOutbox } from '../notify/engine-outbox.js';
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

/** Options of {@link openEngineAlertStore}. */
export interface EngineAlertStoreOptions {
  /** Matches of one rule and group within this span of event time fold into one alert; default 1 h. */
  dedupWindowMs?: number;
  /** Wall clock for `createdAt`/`updatedAt` and history entries. */
  now?: () => number;
  /** Ids of suppressions (default `crypto.randomUUID`). */
  newId?: () => string;
  /**
   * Channels a new alert is announced on (`routeTargets` of the notify routes). Its outbox
   * entries are written before the alert itself (see {@link EngineAlertStore.record}).
   */
  notifyTargets?: (alert: Alert) => readonly string[];
}

const KW = { type: 'keyword' } as const;
const DATE = { type: 'date' } as const;
const OPAQUE = { type: 'object', enabled: false } as const;

const MAPPINGS: Record<string, Record<string, unknown>> = {
  alerts: {
    id: KW, ruleId: KW, groupKey: KW, title: KW, severity: KW, severityRank: { type: 'integer' }, riskScore: { type: 'integer' }, tags: KW, kind: KW,
    group: OPAQUE, status: KW, assignee: KW, count: { type: 'long' }, firstSeen: DATE, lastSeen: DATE, createdAt: DATE, updatedAt: DATE,
    eventIds: { type: 'keyword', index: false, doc_values: false }, correlation: OPAQUE,
  },
  history: { alertId: KW, seq: { type: 'long' }, at: DATE, actor: KW, action: KW, from: KW, to: KW, note: { type: 'text' } },
  comments: { alertId: KW, id: { type: 'long' }, at: DATE, actor: KW, text: { type: 'text' } },
  suppressions: { id: KW, kind: KW, ruleId: KW, match: OPAQUE, expiresAt: DATE, reason: { type: 'text' }, createdBy: KW, createdAt: DATE, hits: { type: 'long' } },
  state: { kind: KW, name: KW, value: { type: 'keyword', index: false, doc_values: false }, ruleId: KW, enabled: { type: 'boolean' }, actor: KW, at: DATE },
};

type Doc = Alert & { severityRank: number };

function toAlert(d: Doc): Alert {
  const { severityRank: _rank, ...a } = d;
  return { ...a, assignee: a.assignee ?? null };
}

/** See {@link openEngineAlertStore}. */
export class EngineAlertStore implements AlertStore {
  readonly backend: string;
  /** The notification outbox beside the alerts (`<prefix>-alerts-outbox`). */
  readonly outbox: EngineOutbox;
  private readonly io: EngineIo;
  private readonly notifyTargets: ((alert: Alert) => readonly string[]) | undefined;
  private readonly idx: Record<keyof typeof MAPPINGS, string>;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly newId: () => string;
  private suppressions: Suppression[] | undefined;
  private seq = 0;
  private closed = false;

  constructor(store: SearchEngineEventStore, opts: EngineAlertStoreOptions = {}) {
    this.io = new EngineIo(store, 'alert store');
    this.backend = store.backend;
    const p = store.names.alerts;
    this.idx = { alerts: p, history: `${p}-history`, comments: `${p}-comments`, suppressions: `${p}-suppressions`, state: `${p}-state` };
    this.windowMs = opts.dedupWindowMs ?? 3_600_000;
    if (!Number.isFinite(this.windowMs) || this.windowMs < 0) throw new RangeError('EngineAlertStore: dedupWindowMs must be ≥ 0');
    this.now = opts.now ?? Date.now;
    this.newId = opts.newId ?? (() => crypto.randomUUID());
    this.notifyTargets = opts.notifyTargets;
    this.outbox = new EngineOutbox(this.io, { outbox: `${p}-outbox`, alerts: p }, opts.now ? { now: opts.now } : {});
  }

  /** Create the five indices and the outbox's (idempotent). */
  async init(): Promise<void> {
    for (const [k, props] of Object.entries(MAPPINGS)) await this.io.ensureIndex(this.idx[k as keyof typeof MAPPINGS], props);
    await this.outbox.init();
  }

  private check(): void {
    if (this.closed) throw new SocError('SOC_ERR_STORE_CLOSED', 'alert store is closed');
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  /** Increasing sequence for history and comment order (SQLite's rowid). */
  private nextSeq(): number {
    this.seq = Math.max(this.seq + 1, this.now() * 1000);
    return this.seq;
  }

  private req(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown, ok: number[] = []): Promise<EngineAnswer> {
    return this.io.req(method, path, body, ok);
  }

  private search<T>(index: keyof typeof MAPPINGS, body: Record<string, unknown>) {
    return this.io.search<T>(this.idx[index], body);
  }

  private bulk(lines: unknown[]): ReturnType<EngineIo['bulk']> {
    return this.io.bulk(lines);
  }

  private async activeSuppressions(): Promise<Suppression[]> {
    this.suppressions ??= (await this.search<Suppression>('suppressions', { size: 10_000, query: { match_all: {} } })).hits.map((h) => h._source);
    return this.suppressions;
  }

  async record(candidates: readonly AlertCandidate[], opts: RecordOptions = {}): Promise<RecordResult> {
    this.check();
    const at = this.iso();
    const sups = await this.activeSuppressions();
    const created: Alert[] = [];
    const updated = new Map<string, Doc>();
    const fresh = new Map<string, Doc>();
    const open = new Map<string, Doc | null>();
    const hitSups = new Set<Suppression>();
    let suppressed = 0;
    for (const c of candidates) {
      const m = c.match;
      const sup = sups.find((s) => suppressionMatches(s, c));
      if (sup) {
        sup.hits++;
        hitSups.add(sup);
        suppressed++;
        continue;
      }
      const key = `${m.ruleId}\u001f${c.groupKey}`;
      let cur = open.get(key);
      if (cur === undefined) {
        const r = await this.search<Doc>('alerts', {
          size: 1,
          query: { bool: { filter: [{ term: { ruleId: m.ruleId } }, { term: { groupKey: c.groupKey } }, { terms: { status: [...OPEN_STATUSES] } }] } },
          sort: [{ lastSeen: 'desc' }],
        });
        cur = r.hits[0]?._source ?? null;
      }
      if (cur && mergeIntoAlert(cur, c, at, this.windowMs)) {
        if (!fresh.has(cur.id)) updated.set(cur.id, cur);
        open.set(key, cur);
        continue;
      }
      const a: Doc = { ...newAlert(c, at), severityRank: LEVEL_RANK[m.level] ?? 0 };
      open.set(key, a);
      fresh.set(a.id, a);
    }
    const newDocs = [...fresh.values()];
    // Notifications first, so no alert is ever stored without them: a failure here leaves
    // nothing of the batch behind, and the retry writes the same ids again (409 = already there).
    const announced = await this.outbox.announce(newDocs.map((a) => ({ alert: toAlert(a), channels: this.notifyTargets?.(a) ?? [] })));
    // New alerts with `create` (a replayed match's id exists: 409, nothing new), then the rest.
    const items = await this.bulk(newDocs.flatMap((a) => [{ create: { _index: this.idx.alerts, _id: a.id } }, a]));
    const lines: unknown[] = [];
    items.forEach((it, k) => {
      const a = newDocs[k]!;
      // Not new after all: withdraw the entries this call wrote for it (older ones stay).
      if (it.status === 409) lines.push(...this.outbox.withdrawLines(announced.get(a.id) ?? []));
      if (it.status === 201 || it.status === 200) {
        created.push(toAlert(a));
        lines.push({ index: { _index: this.idx.history } }, { alertId: a.id, seq: this.nextSeq(), at, actor: 'detector', action: 'created', from: null, to: 'new' });
      } else if (it.status !== 409) throw new SocError('SOC_ERR_STORE_WRITE', `alert store: creating alert ${a.id} answered ${it.status}`);
      // A later match of the batch folded into a new alert: store its final state.
      else if (a.count > 1) lines.push({ index: { _index: this.idx.alerts, _id: a.id } }, a);
    });
    for (const a of updated.values()) lines.push({ index: { _index: this.idx.alerts, _id: a.id } }, a);
    for (const s of hitSups) lines.push({ index: { _index: this.idx.suppressions, _id: s.id } }, s);
    for (const cp of opts.checkpoints ?? []) lines.push({ index: { _index: this.idx.state, _id: `cp:${cp.name}` } }, { kind: 'checkpoint', name: cp.name, value: cp.value });
    const res = await this.bulk(lines);
    const bad = res.find((r) => r.status >= 300);
    if (bad) {
      this.suppressions = undefined;
      throw new SocError('SOC_ERR_STORE_WRITE', `alert store: a write answered ${bad.status}`);
    }
    for (const a of created) opts.onCreated?.(a);
    // Alerts created in this batch and then updated are reported as created only (as on SQLite).
    for (const a of created) if (fresh.get(a.id)!.count > 1) Object.assign(a, toAlert(fresh.get(a.id)!));
    return { created, updated: [...updated.values()].map(toAlert), suppressed };
  }

  async list(filter: AlertFilter = {}): Promise<AlertPage> {
    this.check();
    const f: unknown[] = [];
    const statuses = filter.status?.length ? [...new Set(filter.status)] : undefined;
    for (const s of statuses ?? []) if (!ALERT_STATUSES.includes(s)) throw new RangeError(`unknown alert status ${s}`);
    if (statuses) f.push({ terms: { status: statuses } });
    if (filter.minSeverity !== undefined) {
      const rank = LEVEL_RANK[filter.minSeverity];
      if (rank === undefined) throw new RangeError(`unknown severity ${filter.minSeverity}`);
      f.push({ range: { severityRank: { gte: rank } } });
    }
    if (filter.ruleId !== undefined) f.push({ term: { ruleId: filter.ruleId } });
    if (filter.assignee !== undefined) f.push({ term: { assignee: filter.assignee } });
    if (filter.from !== undefined || filter.to !== undefined) f.push({ range: { lastSeen: { ...(filter.from !== undefined ? { gte: filter.from } : {}), ...(filter.to !== undefined ? { lt: filter.to } : {}) } } });
    const size = Math.min(filter.size ?? 50, 1000);
    const offset = filter.offset ?? 0;
    if (!Number.isInteger(size) || size < 0 || !Number.isInteger(offset) || offset < 0) throw new RangeError('size and offset must be non-negative integers');
    const query = { bool: { filter: f } };
    // Keyset: after (lastSeen, id) in the list order; the total stays the filter's own.
    const page = filter.after
      ? { bool: { filter: [...f, { bool: { should: [{ range: { lastSeen: { lt: filter.after.lastSeen } } }, { bool: { filter: [{ term: { lastSeen: filter.after.lastSeen } }, { range: { id: { gt: filter.after.id } } }] } }], minimum_should_match: 1 } }] } }
      : query;
    const r = await this.search<Doc>('alerts', { query: page, size, from: offset, track_total_hits: true, sort: [{ lastSeen: 'desc' }, { id: 'asc' }] });
    const total = filter.after ? ((await this.req('POST', `/${this.idx.alerts}/_count`, { query })).body.count as number) : r.total;
    return { total, alerts: r.hits.map((h) => toAlert(h._source)) };
  }

  private async getDoc(id: string): Promise<{ doc: Doc; seqNo: number; term: number } | undefined> {
    const r = await this.req('GET', `/${this.idx.alerts}/_doc/${encodeURIComponent(id)}`, undefined, [404]);
    if (r.status === 404 || !r.body.found) return undefined;
    return { doc: r.body._source as Doc, seqNo: r.body._seq_no, term: r.body._primary_term };
  }

  async get(id: string): Promise<Alert | undefined> {
    this.check();
    if (typeof id !== 'string') throw new TypeError('id must be a string');
    const d = await this.getDoc(id);
    return d ? toAlert(d.doc) : undefined;
  }

  private async mustGet(id: string): Promise<{ doc: Doc; seqNo: number; term: number }> {
    const d = await this.getDoc(id);
    if (!d) throw new SocError('SOC_ERR_ALERT_NOT_FOUND', `no alert with id ${id}`);
    return d;
  }

  /** Write a changed alert only if nobody changed it since it was read, then its history entry. */
  private async change(d: { doc: Doc; seqNo: number; term: number }, entry: Omit<AlertHistoryEntry, 'at'>): Promise<Alert> {
    const at = this.iso();
    d.doc.updatedAt = at;
    const r = await this.req('PUT', `/${this.idx.alerts}/_doc/${encodeURIComponent(d.doc.id)}?if_seq_no=${d.seqNo}&if_primary_term=${d.term}&refresh=wait_for`, d.doc, [409]);
    if (r.status === 409) throw new SocError('SOC_ERR_STORE_WRITE', `alert ${d.doc.id} was changed by someone else; reload and retry`);
    await this.req('POST', `/${this.idx.history}/_doc?refresh=wait_for`, { alertId: d.doc.id, seq: this.nextSeq(), at, ...entry, from: entry.from ?? null, to: entry.to ?? null });
    return toAlert(d.doc);
  }

  async transition(id: string, to: AlertStatus, actor: string, note?: string): Promise<Alert> {
    this.check();
    if (!ALERT_STATUSES.includes(to)) throw new RangeError(`unknown alert status ${String(to)}`);
    if (typeof actor !== 'string' || !actor) throw new TypeError('actor must be a non-empty string');
    const d = await this.mustGet(id);
    const from = d.doc.status;
    if (!ALERT_TRANSITIONS[from].includes(to)) {
      throw new SocError('SOC_ERR_ALERT_TRANSITION', `alert ${id} cannot go from ${from} to ${to} (allowed: ${ALERT_TRANSITIONS[from].join(', ')})`, {
        details: { from, to, allowed: ALERT_TRANSITIONS[from] },
      });
    }
    d.doc.status = to;
    return this.change(d, { actor, action: 'transition', from, to, ...(note !== undefined ? { note } : {}) });
  }

  async assign(id: string, assignee: string | null, actor: string): Promise<Alert> {
    this.check();
    if (assignee !== null && (typeof assignee !== 'string' || !assignee)) throw new TypeError('assignee must be a non-empty string or null');
    const d = await this.mustGet(id);
    const from = d.doc.assignee ?? null;
    d.doc.assignee = assignee;
    return this.change(d, { actor, action: 'assign', from, to: assignee });
  }

  async comment(id: string, actor: string, text: string): Promise<AlertComment> {
    this.check();
    if (typeof text !== 'string' || !text) throw new TypeError('comment text must be a non-empty string');
    const d = await this.mustGet(id);
    const c: AlertComment = { id: this.nextSeq(), at: this.iso(), actor, text };
    await this.req('POST', `/${this.idx.comments}/_doc?refresh=wait_for`, { alertId: id, ...c });
    await this.change(d, { actor, action: 'comment', from: null, to: null, note: text });
    return c;
  }

  async comments(id: string): Promise<AlertComment[]> {
    this.check();
    await this.mustGet(id);
    const r = await this.search<AlertComment & { alertId: string }>('comments', { size: 10_000, query: { term: { alertId: id } }, sort: [{ id: 'asc' }] });
    return r.hits.map(({ _source: { alertId: _a, ...c } }) => c);
  }

  async history(id: string): Promise<AlertHistoryEntry[]> {
    this.check();
    await this.mustGet(id);
    const r = await this.search<AlertHistoryEntry & { alertId: string; seq: number; note?: string | null }>('history', { size: 10_000, query: { term: { alertId: id } }, sort: [{ seq: 'asc' }] });
    return r.hits.map(({ _source: h }) => ({ at: h.at, actor: h.actor, action: h.action, from: h.from ?? null, to: h.to ?? null, ...(h.note != null ? { note: h.note } : {}) }));
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
    const out: Suppression = { id: this.newId(), kind: s.kind, ruleId: s.ruleId ?? null, match, expiresAt: s.expiresAt ?? null, reason: s.reason, createdBy: s.createdBy, createdAt: this.iso(), hits: 0 };
    await this.req('PUT', `/${this.idx.suppressions}/_doc/${encodeURIComponent(out.id)}?refresh=wait_for`, out);
    this.suppressions = undefined;
    return out;
  }

  async listSuppressions(): Promise<Suppression[]> {
    this.check();
    return (await this.search<Suppression>('suppressions', { size: 10_000, query: { match_all: {} }, sort: [{ createdAt: 'asc' }, { id: 'asc' }] })).hits.map((h) => h._source);
  }

  async deleteSuppression(id: string): Promise<boolean> {
    this.check();
    const r = await this.req('DELETE', `/${this.idx.suppressions}/_doc/${encodeURIComponent(id)}?refresh=wait_for`, undefined, [404]);
    this.suppressions = undefined;
    return r.status < 300;
  }

  async loadCheckpoint(name: string): Promise<string | undefined> {
    this.check();
    const r = await this.req('GET', `/${this.idx.state}/_doc/${encodeURIComponent(`cp:${name}`)}`, undefined, [404]);
    return r.status === 404 || !r.body.found ? undefined : String(r.body._source.value);
  }

  async saveCheckpoint(name: string, value: string): Promise<void> {
    this.check();
    await this.req('PUT', `/${this.idx.state}/_doc/${encodeURIComponent(`cp:${name}`)}?refresh=wait_for`, { kind: 'checkpoint', name, value });
  }

  async disabledRules(): Promise<Set<string>> {
    this.check();
    const r = await this.search<{ ruleId: string }>('state', { size: 10_000, query: { bool: { filter: [{ term: { kind: 'rule' } }, { term: { enabled: false } }] } } });
    return new Set(r.hits.map((h) => h._source.ruleId));
  }

  async setRuleEnabled(ruleId: string, enabled: boolean, actor: string): Promise<void> {
    this.check();
    await this.req('PUT', `/${this.idx.state}/_doc/${encodeURIComponent(`rule:${ruleId}`)}?refresh=wait_for`, { kind: 'rule', ruleId, enabled, actor, at: this.iso() });
  }

  /**
   * Retention of closed alerts (see {@link AlertStore.purgeClosed}): the matching alert ids are
   * collected first (paged by id), then their history and comments and the alerts themselves are
   * deleted with the same condition in chunks, children first: an interrupted purge leaves at worst a closed
   * alert without its history, which the next run deletes (the reverse would orphan history).
   *
   * @example
   * ```ts
   * const r = await alerts.purgeClosed({ olderThanDays: 365 });
   * ```
   */
  async purgeClosed(opts: PurgeOptions): Promise<PurgeResult> {
    this.check();
    const { cutoff, dryRun, out } = purgeStart(opts, this.now());
    const query = { bool: { filter: [{ terms: { status: CLOSED_STATUSES } }, { range: { updatedAt: { lt: cutoff } } }] } };
    const ids: string[] = [];
    let after: unknown[] | undefined;
    for (;;) {
      const r = await this.req('POST', `/${this.idx.alerts}/_search`, { size: 1000, query, _source: ['status'], sort: [{ id: 'asc' }], ...(after ? { search_after: after } : {}) });
      const hits = r.body.hits.hits as Array<{ _id: string; _source: { status: 'resolved' | 'false_positive' }; sort: unknown[] }>;
      for (const h of hits) {
        ids.push(h._id);
        out.byStatus[h._source.status]++;
        out.alerts++;
      }
      if (hits.length < 1000) break;
      after = hits[hits.length - 1]!.sort;
    }
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const byAlert = { terms: { alertId: chunk } };
      if (dryRun) {
        out.history += (await this.req('POST', `/${this.idx.history}/_count`, { query: byAlert })).body.count as number;
        out.comments += (await this.req('POST', `/${this.idx.comments}/_count`, { query: byAlert })).body.count as number;
        continue;
      }
      out.history += await this.deleteMatching('history', byAlert);
      out.comments += await this.deleteMatching('comments', byAlert);
      // The status and age are checked again: an alert reopened since it was listed stays.
      await this.deleteMatching('alerts', { bool: { filter: [...query.bool.filter, { ids: { values: chunk } }] } });
    }
    return out;
  }

  private deleteMatching(index: keyof typeof MAPPINGS, query: Record<string, unknown>): Promise<number> {
    return this.io.deleteMatching(this.idx[index], query);
  }

  /** The event store's connection is shared: closing the alert store leaves it open. */
  async close(): Promise<void> {
    this.closed = true;
  }
}

/**
 * Open the alert store of an engine-backed event store (same cluster, connection and prefix),
 * creating its indices when missing.
 *
 * @example
 * ```ts
 * const events = await openElasticStore({ node: 'https://es1:9200', prefix: 'xiangan' });
 * const alerts = await openEngineAlertStore(events, { dedupWindowMs: 3_600_000 });
 * ```
 */
export async function openEngineAlertStore(store: SearchEngineEventStore, opts: EngineAlertStoreOptions = {}): Promise<EngineAlertStore> {
  const a = new EngineAlertStore(store, opts);
  await a.init();
  return a;
}
