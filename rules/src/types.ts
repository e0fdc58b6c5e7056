/**
 * The value types the rule engine takes and gives. Matches are plain JSON values so the alert
 * store (soc) can persist them as they are.
 */

/** Sigma logsource (specification v2 §logsource). */
export interface Logsource {
  product?: string;
  category?: string;
  service?: string;
  definition?: string;
}

/** Sigma severity levels (specification v2 §level). */
export type RuleLevel = 'informational' | 'low' | 'medium' | 'high' | 'critical';

/** A rule document as loaded from YAML, with the file it came from. */
export interface LoadedRule {
  /** The parsed YAML document (validated by the schema before compilation). */
  doc: Record<string, unknown>;
  /** File path (and `#n` document index for multi-document files), for messages. */
  source: string;
}

/** One match of a rule (detection or correlation) on the event stream. */
export interface RuleMatch {
  /** Rule UUID (or name when the rule has no id). */
  ruleId: string;
  title: string;
  level: RuleLevel;
  tags: string[];
  kind: 'detection' | 'correlation';
  /**
   * False when the rule only feeds a correlation that does not `generate` its base rules
   * (Sigma correlation specification §generate): store it as context, not as an alert.
   */
  alert: boolean;
  /** Ids (`id` of the EcsEvent) of the events that raised the match, oldest first. */
  eventIds: string[];
  /** Event time (`@timestamp`) of the last event of the match, ISO 8601. */
  time: string;
  /** Group-by values joined (stable order) — the alert dedup key with `ruleId`. */
  groupKey?: string;
  /** Group-by field → value. */
  group?: Record<string, string>;
  /** Correlation context: what made the window fire. */
  correlation?: {
    type: CorrelationType;
    /** Number of events (event_count) or distinct values (value_count) in the window. */
    count?: number;
    /** Referenced rule ids that took part (temporal, temporal_ordered). */
    rules?: string[];
    windowStart: string;
    windowEnd: string;
  };
}

/** Sigma correlation types (Sigma correlation rules specification §types). */
export type CorrelationType = 'event_count' | 'value_count' | 'temporal' | 'temporal_ordered';

/** Why a rule was not compiled. */
export interface RejectedRule {
  source: string;
  id?: string;
  title?: string;
  code: string;
  reason: string;
}

/** Any JSON-like event: an EcsEvent or a raw flattened event. */
export type EventLike = Record<string, unknown>;
