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
  network?: { transport?: string; protocol?: string; direction?: string; application?: string; bytes?: number; packets?: number; community_id?: string; forwarded_ip?: string };
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

/** How a message reached the collector. */
export type Transport = 'udp' | 'tcp' | 'tls' | 'file' | 'http';

/** A charset a source is configured with; `auto` = valid UTF-8 → utf-8, else GB18030 if it decodes cleanly. */
export type CharsetName = 'utf-8' | 'gb18030' | 'gbk' | 'latin1' | 'auto';

/**
 * Per-message context a source attaches at receipt: who sent it, how, and when.
 * Everything the pure stages need that is not in the bytes themselves.
 *
 * @example
 * const ctx: SourceContext = { sourceId: 'syslog-tcp', transport: 'tcp', peer: { address: '10.0.0.1', port: 51514 },
 *   receivedAt: Date.now(), timezone: 'Asia/Shanghai', eventId: '…' };
 */
export interface SourceContext {
  /** Configured id of the source (e.g. `syslog-udp`, `auth-log`). */
  sourceId: string;
  transport: Transport;
  /** Network peer; absent for files. */
  peer?: { address: string; port: number };
  /** Receive time, milliseconds since the epoch, read once by the source from its injected clock. */
  receivedAt: number;
  /** IANA zone used for device timestamps without an offset (RFC 3164); default `Asia/Shanghai`. */
  timezone: string;
  /**
   * Deterministic event id derived once at receipt (see `eventId`); `''` from a network source
   * started with `deferIds`, whose consumer derives it from `connection` and the sequence.
   */
  eventId: string;
  /** Network sources with `deferIds`: the connection id that enters the event id (`EventIdInput.connection`). */
  connection?: string;
  /** For file sources: the path and the byte offset of the line's first byte. */
  file?: { path: string; offset: number };
  /** For TLS sources: whether the client certificate was verified, and its subject. */
  tls?: { authorized: boolean; peerSubject?: string };
  /** True when the frame was cut at the source's maximum message size. */
  truncated?: boolean;
}

/** One framed message as a source hands it to the pipeline: bytes plus context. */
export interface RawMessage {
  bytes: Uint8Array;
  ctx: SourceContext;
}

/** An RFC 5424 §6.3 SD-ELEMENT: its SD-ID and its parameters in order (names may repeat). */
export interface StructuredDataElement {
  id: string;
  params: Array<[name: string, value: string]>;
}

/**
 * A syslog message as the RFC 5424 / RFC 3164 parsers produce it. Nothing is dropped:
 * a message that does not parse has `format: 'unparsed'`, a `parseError` and its full text in `msg`.
 *
 * @example
 * const m = parseSyslog(bytes, { receivedAt: Date.now(), timezone: 'Asia/Shanghai', charset: 'auto' });
 * if (m.priValid) console.log(m.facility, m.severity);
 */
export interface SyslogMessage {
  /** Which grammar matched. `unparsed`: kept whole, see `parseError`. */
  format: 'rfc5424' | 'rfc3164' | 'unparsed';
  /** PRIVAL (RFC 5424 §6.2.1), facility = pri >> 3, severity = pri & 7; absent when `priValid` is false. */
  pri?: number;
  facility?: number;
  severity?: number;
  /** False when `<PRI>` is missing or invalid (out of 0..191, leading zero, non-digit). */
  priValid: boolean;
  /** The invalid PRI text as received (e.g. `<999>`, `<abc>`), kept for the record. */
  priRaw?: string;
  /** RFC 5424 VERSION (1); absent for RFC 3164. */
  version?: number;
  time: {
    /** Device time, milliseconds since the epoch; absent when the message has none or it is invalid. */
    device?: number;
    /** The timestamp exactly as written by the device. */
    deviceText?: string;
    /** Sub-millisecond digits of RFC 5424 TIME-SECFRAC beyond milliseconds, kept as text. */
    fraction?: string;
    /** Receive time, milliseconds since the epoch (from the source context). */
    received: number;
    /** Zone used to read the device time: an offset from the message (`+08:00`, `Z`) or the source's IANA zone. */
    zone: string;
    /** True when the device time had no year (RFC 3164) and the year was inferred from the receive time. */
    yearInferred: boolean;
  };
  hostname?: string;
  appname?: string;
  procid?: string;
  msgid?: string;
  /** RFC 5424 STRUCTURED-DATA, in order. */
  structuredData?: StructuredDataElement[];
  /** Cisco-style sequence number (`123: *Mar  1 …`) when present. */
  sequence?: string;
  /** The MSG part, decoded (BOM removed). */
  msg: string;
  /** The whole message decoded losslessly: undecodable bytes appear as `\xHH`. */
  raw: string;
  /** Base64 of the original bytes, present only when some bytes could not be decoded. */
  rawBase64?: string;
  /** Charset actually used to decode (after `auto` detection). */
  charset: 'utf-8' | 'gb18030' | 'latin1';
  /** True when undecodable bytes were escaped. */
  lossy: boolean;
  /** Why the message or a part of it (time, PRI, SD) did not parse. */
  parseError?: string;
}

/**
 * The normaliser hook the pipeline calls after parsing: a pure function from a parsed
 * syslog message and its context to an ECS event. It must set `id` to `ctx.eventId` and
 * keep `event.original`. `collectors/src/parsers` provides the vendor-aware one;
 * `baselineNormalise` (syslog fields only) is the fallback.
 *
 * @example
 * const n: Normalise = (msg, ctx) => ({ id: ctx.eventId, '@timestamp': new Date(msg.time.device ?? ctx.receivedAt).toISOString(),
 *   message: msg.msg, event: { original: msg.raw } });
 */
export type Normalise = (msg: SyslogMessage, ctx: SourceContext) => EcsEvent;

/** A logger-like interface (pino satisfies it). Sources log through it, never `console`. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
