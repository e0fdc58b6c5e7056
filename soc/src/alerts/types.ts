/**
 * The backend-neutral alert contract. SQLite (`./sqlite.ts`, the embedded default, in the same
 * data directory as the events) implements it; Elasticsearch/OpenSearch can implement the same
 * interface later (alerts, history and suppressions as documents).
 *
 * Rules every backend keeps:
 * - **Dedup by rule + group key within a window.** A match whose `(ruleId, groupKey)` has an open
 *   alert last seen within `dedupWindowMs` (event time) updates that alert (count, last seen,
 *   event ids) instead of creating a new one.
 * - **Suppression is counted, not silent.** A match that hits a suppression or exception is not
 *   raised, and the suppression's `hits` counter grows.
 * - **Lifecycle is enforced.** {@link ALERT_TRANSITIONS} lists every allowed move; anything else is
 *   `SOC_ERR_ALERT_TRANSITION`. Every change lands in the alert's history (who, when, from, to).
 *
 * @packageDocumentation
 */
import type { RuleLevel, RuleMatch } from '@xiangan/rules';

/** Lifecycle states of an alert. */
export type AlertStatus = 'new' | 'acknowledged' | 'in_progress' | 'resolved' | 'false_positive';

/** Every status, in lifecycle order. */
export const ALERT_STATUSES: readonly AlertStatus[] = ['new', 'acknowledged', 'in_progress', 'resolved', 'false_positive'];

/**
 * Allowed moves: `new → acknowledged → in_progress → resolved | false_positive`, with the
 * shortcuts an analyst takes (an acknowledged alert may be closed at once; a new one may be
 * dismissed as a false positive) and reopening a closed alert into `in_progress`.
 */
export const ALERT_TRANSITIONS: Readonly<Record<AlertStatus, readonly AlertStatus[]>> = {
  new: ['acknowledged', 'false_positive'],
  acknowledged: ['in_progress', 'resolved', 'false_positive'],
  in_progress: ['resolved', 'false_positive'],
  resolved: ['in_progress'],
  false_positive: ['in_progress'],
};

/** Statuses in which an alert still absorbs duplicates. */
export const OPEN_STATUSES: readonly AlertStatus[] = ['new', 'acknowledged', 'in_progress'];

/** Closed statuses: the only ones retention ever deletes (an open alert is work not yet done). */
export const CLOSED_STATUSES: readonly AlertStatus[] = ['resolved', 'false_positive'];

/**
 * Risk score (0–100) of a Sigma level: the defaults Elastic Security maps severities to
 * (low 21, medium 47, high 73, critical 99); informational 5.
 */
export const RISK_BY_LEVEL: Readonly<Record<RuleLevel, number>> = { informational: 5, low: 21, medium: 47, high: 73, critical: 99 };

/** A rule level's rank, for "at least this severe" filters. */
export const LEVEL_RANK: Readonly<Record<RuleLevel, number>> = { informational: 0, low: 1, medium: 2, high: 3, critical: 4 };

/** One alert. */
export interface Alert {
  id: string;
  ruleId: string;
  title: string;
  /** Sigma level of the rule. */
  severity: RuleLevel;
  /** 0–100 ({@link RISK_BY_LEVEL}). */
  riskScore: number;
  tags: string[];
  kind: 'detection' | 'correlation';
  /** Dedup key with `ruleId` (group-by values joined by U+001F). */
  groupKey: string;
  group: Record<string, string>;
  status: AlertStatus;
  assignee: string | null;
  /** Matches folded into this alert (1 when created). */
  count: number;
  /** Event time of the first and the newest match. */
  firstSeen: string;
  lastSeen: string;
  /** Wall-clock creation and last change. */
  createdAt: string;
  updatedAt: string;
  /** Ids of the events that raised it (the newest {@link MAX_ALERT_EVENT_IDS}). */
  eventIds: string[];
  correlation?: RuleMatch['correlation'];
}

/** Most event ids one alert keeps (the newest). */
export const MAX_ALERT_EVENT_IDS = 1000;

/** One entry of an alert's history. */
export interface AlertHistoryEntry {
  at: string;
  actor: string;
  action: 'created' | 'transition' | 'assign' | 'comment';
  from?: string | null;
  to?: string | null;
  note?: string;
}

/** A comment on an alert. */
export interface AlertComment {
  id: number;
  at: string;
  actor: string;
  text: string;
}

/**
 * A suppression window or an exception (allow-list). Both mute matching alerts until `expiresAt`
 * (never when `null`): `suppression` is the temporary kind ("mute this rule for two hours"),
 * `exception` the standing allow-list ("the backup host may do this").
 */
export interface Suppression {
  id: string;
  kind: 'suppression' | 'exception';
  /** The rule it applies to; `null` for every rule. */
  ruleId: string | null;
  /** Field → allowed values: a match is muted when every field holds one of its values (empty: all). */
  match: Record<string, string[]>;
  /** ISO 8601; compared with the match's event time. */
  expiresAt: string | null;
  reason: string;
  createdBy: string;
  createdAt: string;
  /** Matches it muted. */
  hits: number;
}

/** What a new suppression is made of. */
export type SuppressionInput = Pick<Suppression, 'kind' | 'reason' | 'createdBy'> & Partial<Pick<Suppression, 'ruleId' | 'match' | 'expiresAt'>>;

/** A rule match made ready for the store: the detector fills the group and the field reader. */
export interface AlertCandidate {
  match: RuleMatch;
  /** Dedup key (the correlation's, or the detector's group-by fields for a detection). */
  groupKey: string;
  group: Record<string, string>;
  /** Values of a field in the raising event (or the group), for exceptions. */
  field: (name: string) => string[];
}

/** What {@link AlertStore.record} did. */
export interface RecordResult {
  created: Alert[];
  updated: Alert[];
  suppressed: number;
}

/** Filter and page of {@link AlertStore.list}. */
export interface AlertFilter {
  status?: AlertStatus[];
  /** At least this severe. */
  minSeverity?: RuleLevel;
  ruleId?: string;
  assignee?: string;
  /** Inclusive lower / exclusive upper bound on `lastSeen`. */
  from?: string;
  to?: string;
  /** Default 50, at most 1,000. */
  size?: number;
  offset?: number;
  /**
   * Keyset page: only alerts after this one in the list order (`lastSeen` descending, `id`
   * ascending). Unlike `offset`, alerts inserted meanwhile do not shift the next page.
   */
  after?: AlertKey;
}

/** An alert's position in the list order (what a keyset cursor carries). */
export interface AlertKey {
  lastSeen: string;
  id: string;
}

/** A page of alerts, newest `lastSeen` first. */
export interface AlertPage {
  total: number;
  alerts: Alert[];
}

/** Options of {@link AlertStore.record}. */
export interface RecordOptions {
  /** State blobs to save in the same transaction (the detector's checkpoints). */
  checkpoints?: { name: string; value: string }[];
  /** Called inside the transaction with each new alert (the notifier enqueues from here). */
  onCreated?: (alert: Alert) => void;
}

/** Options of {@link AlertStore.purgeClosed}. */
export interface PurgeOptions {
  /** Closed alerts whose last change (`updatedAt`) is more than this many days old go. Integer ≥ 1. */
  olderThanDays: number;
  /** Count what would go, delete nothing. */
  dryRun?: boolean;
}

/** What {@link AlertStore.purgeClosed} deleted (or, in a dry run, would delete). */
export interface PurgeResult {
  /** ISO 8601: closed alerts last changed before this instant were selected. */
  cutoff: string;
  dryRun: boolean;
  /** Alerts, in total and per closed status. */
  alerts: number;
  byStatus: { resolved: number; false_positive: number };
  /** History entries and comments of those alerts (their event ids live in the alert itself). */
  history: number;
  comments: number;
}

/**
 * Where alerts live.
 *
 * @example
 * ```ts
 * const alerts = await openSqliteAlertStore({ dir: './data' });
 * const { created } = await alerts.record(candidates);
 * await alerts.transition(created[0].id, 'acknowledged', 'alice');
 * ```
 */
export interface AlertStore {
  readonly backend: string;
  /** Apply dedup and suppression to candidates and persist them (one transaction). */
  record(candidates: readonly AlertCandidate[], opts?: RecordOptions): Promise<RecordResult>;
  list(filter?: AlertFilter): Promise<AlertPage>;
  get(id: string): Promise<Alert | undefined>;
  /** Move an alert; `SOC_ERR_ALERT_TRANSITION` when the lifecycle forbids it. */
  transition(id: string, to: AlertStatus, actor: string, note?: string): Promise<Alert>;
  assign(id: string, assignee: string | null, actor: string): Promise<Alert>;
  comment(id: string, actor: string, text: string): Promise<AlertComment>;
  comments(id: string): Promise<AlertComment[]>;
  history(id: string): Promise<AlertHistoryEntry[]>;
  addSuppression(s: SuppressionInput): Promise<Suppression>;
  listSuppressions(): Promise<Suppression[]>;
  deleteSuppression(id: string): Promise<boolean>;
  /** A checkpoint saved by {@link record} or {@link saveCheckpoint}. */
  loadCheckpoint(name: string): Promise<string | undefined>;
  /**
   * Save a checkpoint. The SQLite backend's detector keeps its correlation windows in a file of
   * their own (detection/windows-file.ts), so the ~11 MB of them reach this only on the
   * Elasticsearch/OpenSearch backends, whose request body is text anyway.
   */
  saveCheckpoint(name: string, value: string): Promise<void>;
  /** Rule ids switched off (persisted). */
  disabledRules(): Promise<Set<string>>;
  setRuleEnabled(ruleId: string, enabled: boolean, actor: string): Promise<void>;
  /**
   * Retention: delete closed alerts (resolved, false positive) last changed more than
   * `olderThanDays` ago, with their history and comments. Open alerts are never touched.
   */
  purgeClosed(opts: PurgeOptions): Promise<PurgeResult>;
  close(): Promise<void>;
}
