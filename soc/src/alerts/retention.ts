/**
 * Alert retention, as Elastic Security and Wazuh users expect it: closed alerts (resolved, false
 * positive) whose last change is older than `alerts.retentionDays` are deleted with their history
 * and comments; open, acknowledged and in-progress alerts are never deleted. The server runs it at
 * start and hourly beside event retention; `xiangan alerts purge` runs it on demand. Every real
 * purge leaves an audit record (`alerts.purge`) with its counts, so expiry is never silent.
 */
import { auditLog, type AuditEntry } from '../audit/log.js';
import type { AlertStore, PurgeResult } from './types.js';

/** Options of {@link purgeAlerts}. */
export interface PurgeAlertsOptions {
  olderThanDays: number;
  dryRun?: boolean;
  /** Who asked: a user name, or `system` for the server's periodic run. */
  actor: string;
  /**
   * Audit a purge that deleted nothing too (an operator's explicit request); the hourly run
   * audits only purges that deleted something, so the trail is not one empty record an hour.
   */
  auditEmpty?: boolean;
  /** Where the record goes: default the process's `auditLog`; the CLI passes the data directory's trail. */
  audit?: { record(entry: AuditEntry): unknown };
}

/**
 * Purge closed alerts past retention and audit it. A dry run deletes nothing and is not audited.
 *
 * @example
 * ```ts
 * const r = await purgeAlerts(alerts, { olderThanDays: 365, actor: 'system' });
 * ```
 */
export async function purgeAlerts(store: AlertStore, opts: PurgeAlertsOptions): Promise<PurgeResult> {
  const r = await store.purgeClosed({ olderThanDays: opts.olderThanDays, dryRun: opts.dryRun === true });
  if (!r.dryRun && (r.alerts > 0 || opts.auditEmpty)) {
    (opts.audit ?? auditLog).record({
      actor: opts.actor,
      action: 'alerts.purge',
      target: 'alerts',
      outcome: 'success',
      details: { olderThanDays: opts.olderThanDays, cutoff: r.cutoff, alerts: r.alerts, byStatus: { ...r.byStatus }, history: r.history, comments: r.comments },
    });
  }
  return r;
}
