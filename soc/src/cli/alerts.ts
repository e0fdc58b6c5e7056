/**
 * `xiangan alerts`: the alert lifecycle from the command line, against the files of a data
 * directory (`--data DIR`, default `./data`), the alert store a config file names (`--config FILE`:
 * its data directory, or its Elasticsearch/OpenSearch cluster), or a running server (`--api URL`,
 * bearer token from `--token-env VAR`, default `XIANGAN_TOKEN`), like `xiangan search`.
 *
 * ```
 * xiangan alerts list [--status S[,S…]] [--severity LEVEL] [--size N] [--json]
 * xiangan alerts ack ID [--actor NAME] [--note TEXT]
 * xiangan alerts resolve ID [--false-positive] [--actor NAME] [--note TEXT]
 * xiangan alerts purge [--older-than DAYS] [--dry-run] [--json]     (--data or --config)
 * ```
 *
 * `purge` deletes closed alerts (resolved, false positive) last changed more than DAYS ago
 * (default 365, the `alerts.retentionDays` default) with their history and comments, and writes
 * an `alerts.purge` record to the data directory's audit trail; `--dry-run` only counts.
 *
 * Exit codes: 0 done, 1 refused (unknown alert, a move the lifecycle forbids), 2 usage.
 */
import { resolve } from 'node:path';
import { openSqliteAlertStore } from '../alerts/sqlite.js';
import { openEngineAlertStore } from '../alerts/engine.js';
import type { AlertStore } from '../alerts/types.js';
import { openConfiguredEngine } from '../storage/search-engine-open.js';
import { purgeAlerts } from '../alerts/retention.js';
import { AuditStore } from '../audit/log.js';
import { ALERT_STATUSES, type Alert, type AlertFilter, type AlertPage, type AlertStatus } from '../alerts/types.js';
import { parseCommandLine, UsageError, type CliIo } from './io.js';

const USAGE = `usage:
  xiangan alerts list [--status S[,S...]] [--severity LEVEL] [--size N] [--json] [--data DIR | --config FILE | --api URL]
  xiangan alerts ack ID [--actor NAME] [--note TEXT] [--data DIR | --config FILE | --api URL]
  xiangan alerts resolve ID [--false-positive] [--actor NAME] [--note TEXT] [--data DIR | --config FILE | --api URL]
  xiangan alerts purge [--older-than DAYS] [--dry-run] [--actor NAME] [--json] [--data DIR | --config FILE]
`;

const OPTIONS = {
  data: { type: 'string' },
  config: { type: 'string' },
  api: { type: 'string' },
  'token-env': { type: 'string' },
  json: { type: 'boolean' },
  status: { type: 'string' },
  severity: { type: 'string' },
  size: { type: 'string' },
  actor: { type: 'string' },
  note: { type: 'string' },
  'false-positive': { type: 'boolean' },
  'older-than': { type: 'string' },
  'dry-run': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const LEVELS = ['informational', 'low', 'medium', 'high', 'critical'] as const;

/** Where the CLI reads and changes alerts. */
interface AlertTarget {
  list(f: AlertFilter): Promise<AlertPage>;
  transition(id: string, to: AlertStatus, actor: string, note?: string): Promise<Alert>;
  close(): Promise<void>;
}

/**
 * The alert store of `--data DIR` or `--config FILE` (SQLite in the data directory, or the
 * engine cluster of an `elasticsearch`/`opensearch` backend), and the data directory (its audit trail).
 */
async function openLocal(v: { data?: string; config?: string }, io: CliIo): Promise<{ store: AlertStore; dir: string; close: () => Promise<void> }> {
  if (v.data !== undefined && v.config !== undefined) throw new UsageError('give --data or --config, not both');
  let dir = resolve(io.cwd, v.data ?? './data');
  if (v.config !== undefined) {
    const { loadConfig } = await import('../config/load.js');
    const cfg = loadConfig({ file: resolve(io.cwd, v.config), cwd: io.cwd });
    dir = cfg.data;
    if (cfg.storage.backend !== 'sqlite') {
      const events = await openConfiguredEngine(cfg.storage.backend, cfg.storage.engine, cfg.storage.retentionDays);
      try {
        const store = await openEngineAlertStore(events, { dedupWindowMs: cfg.alerts.dedupWindowSeconds * 1000 });
        const close = async (): Promise<void> => {
          await store.close();
          await events.close();
        };
        return { store, dir, close };
      } catch (e) {
        await events.close();
        throw e;
      }
    }
  }
  const store = await openSqliteAlertStore({ dir });
  return { store, dir, close: () => store.close() };
}

async function openTarget(v: { data?: string; config?: string; api?: string; 'token-env'?: string }, io: CliIo): Promise<AlertTarget> {
  if ((v.data !== undefined || v.config !== undefined) && v.api !== undefined) throw new UsageError('give --data, --config or --api, not two of them');
  if (v.api !== undefined) {
    const base = v.api.replace(/\/+$/, '');
    const token = io.env[v['token-env'] ?? 'XIANGAN_TOKEN'];
    const call = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
      const res = await fetch(`${base}${path}`, {
        ...init,
        headers: { ...(init.body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      });
      const body = (await res.json()) as T & { code?: string; message?: string };
      if (!res.ok) throw Object.assign(new Error(body.message ?? `HTTP ${res.status}`), { code: body.code });
      return body;
    };
    return {
      list: (f) => {
        const q = new URLSearchParams();
        if (f.status) q.set('status', f.status.join(','));
        if (f.minSeverity) q.set('severity', f.minSeverity);
        if (f.size !== undefined) q.set('size', String(f.size));
        return call<AlertPage>(`/api/v1/alerts?${q.toString()}`);
      },
      transition: (id, to, actor, note) =>
        call<Alert>(`/api/v1/alerts/${encodeURIComponent(id)}/transition`, { method: 'POST', body: JSON.stringify({ to, actor, ...(note ? { note } : {}) }) }),
      async close() {},
    };
  }
  const { store, close } = await openLocal(v, io);
  return { list: (f) => store.list(f), transition: (id, to, a, n) => store.transition(id, to, a, n), close };
}

function line(a: Alert): string {
  const g = Object.values(a.group).filter(Boolean).join(' ');
  return `${a.id}  ${a.status.padEnd(14)} ${a.severity.padEnd(8)} ×${String(a.count).padEnd(5)} ${a.lastSeen}  ${a.title}${g ? `  [${g}]` : ''}\n`;
}

/** Run `xiangan alerts …`. */
export async function run(_command: string, argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandLine(argv, OPTIONS, USAGE);
  const { values: v, positionals } = parsed;
  const [sub, ...rest] = positionals;
  if (v.help || !sub) {
    io.stderr.write(USAGE);
    return v.help ? 0 : 2;
  }
  const actor = v.actor ?? io.env.USER ?? 'cli';
  if (sub === 'list') {
    if (rest.length) throw new UsageError(`list takes no arguments\n${USAGE}`);
    const status = v.status?.split(',').map((s) => s.trim());
    for (const s of status ?? []) if (!ALERT_STATUSES.includes(s as AlertStatus)) throw new UsageError(`--status: ${s} is not one of ${ALERT_STATUSES.join(', ')}`);
    if (v.severity !== undefined && !LEVELS.includes(v.severity as (typeof LEVELS)[number])) throw new UsageError(`--severity is one of ${LEVELS.join(', ')}`);
    const size = v.size === undefined ? 100 : Number(v.size);
    if (!Number.isInteger(size) || size < 0 || size > 1000) throw new UsageError('--size must be 0..1000');
    const t = await openTarget(v, io);
    try {
      const page = await t.list({ ...(status ? { status: status as AlertStatus[] } : {}), ...(v.severity ? { minSeverity: v.severity as (typeof LEVELS)[number] } : {}), size });
      for (const a of page.alerts) io.stdout.write(v.json ? `${JSON.stringify(a)}\n` : line(a));
      if (!v.json) io.stderr.write(`${page.alerts.length} of ${page.total} alerts\n`);
    } finally {
      await t.close();
    }
    return 0;
  }
  if (sub === 'ack' || sub === 'resolve') {
    if (rest.length !== 1) throw new UsageError(`${sub} takes one alert id\n${USAGE}`);
    if (sub === 'ack' && v['false-positive']) throw new UsageError('--false-positive goes with resolve');
    const to: AlertStatus = sub === 'ack' ? 'acknowledged' : v['false-positive'] ? 'false_positive' : 'resolved';
    const t = await openTarget(v, io);
    try {
      const a = await t.transition(rest[0]!, to, actor, v.note);
      io.stdout.write(v.json ? `${JSON.stringify(a)}\n` : line(a));
    } finally {
      await t.close();
    }
    return 0;
  }
  if (sub === 'purge') {
    if (rest.length) throw new UsageError(`purge takes no arguments\n${USAGE}`);
    if (v.api !== undefined) throw new UsageError('purge works on a data directory (--data) or a config (--config), not --api');
    const days = v['older-than'] === undefined ? 365 : Number(v['older-than']);
    if (!Number.isInteger(days) || days < 1) throw new UsageError('--older-than must be a whole number of days ≥ 1');
    const { store, dir, close } = await openLocal(v, io);
    // The trail of the data directory, not the process's auditLog: no server runs in this process.
    const audit = v['dry-run'] ? undefined : AuditStore.open({ dir });
    try {
      const r = await purgeAlerts(store, { olderThanDays: days, dryRun: v['dry-run'] === true, actor, auditEmpty: true, ...(audit ? { audit } : {}) });
      if (v.json) io.stdout.write(`${JSON.stringify(r)}\n`);
      else {
        io.stdout.write(
          `${r.dryRun ? 'would delete' : 'deleted'} ${r.alerts} closed alerts (${r.byStatus.resolved} resolved, ${r.byStatus.false_positive} false positive) ` +
            `last changed before ${r.cutoff}, with ${r.history} history entries and ${r.comments} comments\n`,
        );
      }
    } finally {
      audit?.close();
      await close();
    }
    return 0;
  }
  throw new UsageError(`unknown sub-command ${sub}\n${USAGE}`);
}
