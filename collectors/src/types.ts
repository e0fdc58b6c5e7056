/**
 * The contracts between the parts of the log pipeline (DESIGN.md, "The way of one event").
 *
 *   source (I/O) ─RawMessage─▶ framing ▶ parse ▶ normalise ─EcsEvent─▶ EventSink.append (durable)
 *
 * A source acknowledges (TCP keeps reading, HTTP answers 2xx, a file checkpoint commits)
 * only after `append` has resolved: that is the at-least-once guarantee.
 */

/** The Elastic Common Schema subset Xiangan stores. Nested objects as in ECS. */
export interface EcsEvent {
  /** Deterministic id (see `eventId`): retries and replays write the same id, so sinks dedupe. */
  id: string;
  /** Event time (device time when known) as ISO 8601 with `Z`. */
  '@timestamp': string;
  message?: string;
  tags?: string[];
  labels?: Record<string, string>;
  event: {
    /** The raw bytes as received, decoded losslessly (see `collectors` charset handling). */
    original?: string;
    created?: string;
    /** Time the collector received the event (ISO 8601). */
    ingested?: string;
    kind?: 'event' | 'alert' | 'metric' | 'state' | 'pipeline_error' | 'signal';
    category?: string[];
    type?: string[];
    action?: string;
    outcome?: 'success' | 'failure' | 'unknown';
    code?: string;
    module?: string;
    dataset?: string;
    provider?: string;
    severity?: number;
    timezone?: string;
    [k: string]: unknown;
  };
  source?: EcsEndpoint;
  destination?: EcsEndpoint;
  client?: EcsEndpoint;
  server?: EcsEndpoint;
  user?: EcsUser & { target?: EcsUser; effective?: EcsUser };
  group?: { id?: string; name?: string; domain?: string };
  host?: { name?: string; hostname?: string; ip?: string[]; os?: { type?: string; family?: string; name?: string } };
  observer?: { name?: string; hostname?: string; ip?: string[]; vendor?: string; product?: string; type?: string; version?: string; serial_number?: string };
  network?: { transport?: string; protocol?: string; direction?: string; application?: string; bytes?: number; packets?: number; community_id?: string };
  process?: { pid?: number; name?: string; executable?: string; command_line?: string; args?: string[]; parent?: { pid?: number; name?: string; executable?: string; command_line?: string }; [k: string]: unknown };
  file?: { path?: string; name?: string; directory?: string; [k: string]: unknown };
  url?: { original?: string; path?: string; query?: string; domain?: string; [k: string]: unknown };
  http?: { request?: { method?: string; bytes?: number; referrer?: string }; response?: { status_code?: number; bytes?: number }; version?: string };
  user_agent?: { original?: string };
  rule?: { id?: string; name?: string; [k: string]: unknown };
  dns?: { question?: { name?: string; type?: string }; [k: string]: unknown };
  tls?: { [k: string]: unknown };
  winlog?: { event_id?: string; channel?: string; provider_name?: string; computer_name?: string; record_id?: string; event_data?: Record<string, unknown>; [k: string]: unknown };
  log?: {
    level?: string;
    file?: { path?: string };
    offset?: number;
    syslog?: {
      priority?: number;
      facility?: { code?: number; name?: string };
      severity?: { code?: number; name?: string };
      hostname?: string;
      appname?: string;
      procid?: string;
      msgid?: string;
      version?: string;
      structured_data?: Record<string, Record<string, string>>;
    };
    [k: string]: unknown;
  };
  related?: { ip?: string[]; user?: string[]; hosts?: string[]; hash?: string[] };
  /** Vendor or parser specific fields that have no ECS home, kept under the parser's name. */
  [k: string]: unknown;
}

export interface EcsEndpoint {
  ip?: string;
  port?: number;
  address?: string;
  domain?: string;
  mac?: string;
  bytes?: number;
  packets?: number;
  user?: EcsUser;
  nat?: { ip?: string; port?: number };
  geo?: Record<string, unknown>;
}

export interface EcsUser {
  id?: string;
  name?: string;
  domain?: string;
  roles?: string[];
}

/** Where a collector sends normalised events. Implemented by the durable buffer in `soc`. */
export interface EventSink {
  /**
   * Durably append events. Resolves once they survive a crash (committed to the buffer).
   * Rejects with `CollectorError('COL_ERR_BUFFER_FULL')` when the buffer is full; the source
   * then pushes back (TCP stops reading, HTTP answers 429/503) or counts a drop (UDP).
   */
  append(events: EcsEvent[]): Promise<void>;
  /** True while the buffer is at its bound: sources should pause before calling `append`. */
  readonly full: boolean;
}
