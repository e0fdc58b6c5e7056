/**
 * Syslog message parsing: decode (per-source charset) → PRI → RFC 5424 or RFC 3164 →
 * `SyslogMessage`. Pure: the receive time and zone come in through options.
 * Never throws on data: what does not parse is kept whole as `format: 'unparsed'`.
 */
import type { CharsetName, SyslogMessage } from '../types.js';
import { bytesToBase64, decodeBytes } from '../charset.js';
import { parseRfc5424Body, type IsoTime } from './rfc5424.js';
import { parseRfc3164Body } from './rfc3164.js';
import { DEFAULT_TIMEZONE, inferYear, wallToInstant } from './time.js';

/** Options of {@link parseSyslog}. */
export interface ParseOptions {
  /** Receive time (ms since the epoch), used for year inference and kept in `time.received`. */
  receivedAt: number;
  /** IANA zone for timestamps without an offset; default `Asia/Shanghai`. */
  timezone?: string;
  /** Source charset; default `auto`. */
  charset?: CharsetName;
}

/**
 * Reads `<PRI>` (RFC 5424 §6.2.1: 1–3 digits, no leading zero, 0..191) at the start of `s`.
 * Returns the PRI value (0..191), -1 when there is no `<` (no PRI at all), -2 when the `>`
 * is missing or too far (not terminated), or -3 when the text between is not a valid PRIVAL;
 * {@link priEnd} is the index after `>` (0 when absent or unterminated).
 */
function readPri(s: string): number {
  priEnd = 0;
  if (s.charCodeAt(0) !== 0x3c) return -1;
  const close = s.indexOf('>', 1);
  if (close === -1 || close > 6) return -2;
  priEnd = close + 1;
  // PRIVAL = 1*3DIGIT without leading zeros, ≤ 191 (RFC 5424 §6.2.1).
  if (close === 1 || (close > 2 && s.charCodeAt(1) === 0x30)) return -3;
  let v = 0;
  for (let i = 1; i < close; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -3;
    v = v * 10 + (c - 0x30);
  }
  return v <= 191 ? v : -3;
}
let priEnd = 0;

/** Appends one problem to a `parseError` text ('; '-separated). */
const addError = (errors: string, e: string): string => (errors === '' ? e : errors + '; ' + e);

/**
 * The parse error of a header without a timestamp (devices that put the time in their own text,
 * such as FortiGate's `date= time=` or Huawei's `Mon dd yyyy hh:mm:ss+08:00`). The normaliser takes
 * it back when a vendor parser reads the event's time from the text.
 */
export const NO_TIMESTAMP = 'no timestamp';

/** The parse errors of a line without a syslog header (nginx's access log, audit.log, a device that sends bare text). */
export const PRI_MISSING = 'PRI missing';
export const NO_SYSLOG_HEADER = 'no syslog header';

/** Copies the header fields both grammars share, leaving absent ones absent. */
function copyHeader(msg: SyslogMessage, r: { hostname?: string; appname?: string; procid?: string }): void {
  if (r.hostname !== undefined) msg.hostname = r.hostname;
  if (r.appname !== undefined) msg.appname = r.appname;
  if (r.procid !== undefined) msg.procid = r.procid;
}

/** Sets the device time from an RFC 3339 time; without an offset it is read in the source zone. */
function applyIso(msg: SyslogMessage, t: IsoTime, zone: string): void {
  if (t.ms !== undefined) {
    msg.time.device = t.ms;
    msg.time.zone = t.offset ?? 'Z';
  } else msg.time.device = wallToInstant(zone, ...t.wall);
  if (t.fraction !== undefined) msg.time.fraction = t.fraction;
}

/**
 * Parses one framed syslog message.
 *
 * @example
 * const m = parseSyslog(Buffer.from('<34>Oct 11 22:14:15 mymachine su: \'su root\' failed'),
 *   { receivedAt: Date.UTC(2026, 9, 11, 14, 15), timezone: 'Asia/Shanghai' });
 * m.format;           // 'rfc3164'
 * m.time.yearInferred // true
 */
export function parseSyslog(bytes: Uint8Array, opts: ParseOptions): SyslogMessage {
  return parseMessage(bytes, opts.receivedAt, opts.timezone ?? DEFAULT_TIMEZONE, opts.charset ?? 'auto');
}

/**
 * {@link parseSyslog} with the options as arguments (the processor calls it per message
 * without building an options object).
 * @internal
 */
export function parseMessage(bytes: Uint8Array, receivedAt: number, zone: string, charset: CharsetName): SyslogMessage {
  const dec = decodeBytes(bytes, charset);
  const text = dec.text;
  // Every field is present from the start (absent ones as undefined), in one order: all
  // messages share one hidden class, so the normaliser's reads of them stay monomorphic
  // (a shape per grammar and header made them megamorphic). JSON and `!== undefined`
  // readers see no difference.
  const msg: SyslogMessage = {
    format: 'unparsed',
    priValid: false,
    pri: undefined,
    facility: undefined,
    severity: undefined,
    priRaw: undefined,
    version: undefined,
    time: { received: receivedAt, zone, yearInferred: false, device: undefined, deviceText: undefined, fraction: undefined },
    hostname: undefined,
    appname: undefined,
    procid: undefined,
    msgid: undefined,
    structuredData: undefined,
    sequence: undefined,
    msg: text,
    raw: text,
    rawBase64: undefined,
    charset: dec.charset,
    lossy: dec.lossy,
    parseError: undefined,
  };
  if (dec.lossy) msg.rawBase64 = bytesToBase64(bytes);
  const pri = readPri(text);
  const end = priEnd;
  let errors = '';
  if (pri >= 0) {
    msg.priValid = true;
    msg.pri = pri;
    msg.facility = pri >> 3;
    msg.severity = pri & 7;
  } else if (pri === -1) errors = PRI_MISSING;
  else if (pri === -2) errors = 'PRI not terminated';
  else {
    const raw = text.slice(0, end);
    msg.priRaw = raw;
    errors = `invalid PRI ${raw.slice(0, 8)}`;
  }
  const body = end > 0 ? text.slice(end) : text;

  if (body.charCodeAt(0) >= 0x31 && body.charCodeAt(0) <= 0x39 && body.charCodeAt(1) === 0x20) {
    const r = parseRfc5424Body(body);
    if (r !== undefined) {
      msg.format = 'rfc5424';
      msg.version = r.version;
      copyHeader(msg, r);
      if (r.msgid !== undefined) msg.msgid = r.msgid;
      if (r.structuredData !== undefined) msg.structuredData = r.structuredData;
      msg.msg = r.msg;
      if (r.timestampText !== undefined) msg.time.deviceText = r.timestampText;
      if (r.timestamp !== undefined) applyIso(msg, r.timestamp, zone);
      if (r.timestampError !== undefined) errors = addError(errors, r.timestampError);
      if (r.sdError !== undefined) errors = addError(errors, r.sdError);
      if (errors !== '') msg.parseError = errors;
      return msg;
    }
  }

  const r = parseRfc3164Body(body);
  const hasTime = r.bsd !== undefined || r.iso !== undefined;
  const hasTag = r.appname !== undefined;
  if (!hasTime && !hasTag && !msg.priValid) {
    // Nothing recognisable: keep the whole text as MSG.
    msg.parseError = addError(errors, NO_SYSLOG_HEADER);
    return msg;
  }
  msg.format = 'rfc3164';
  if (r.sequence !== undefined) msg.sequence = r.sequence;
  copyHeader(msg, r);
  msg.msg = r.msg;
  if (r.timestampText !== undefined) msg.time.deviceText = r.timestampText;
  if (r.bsd !== undefined) {
    const b = r.bsd;
    const z = b.utc ? 'UTC' : zone;
    msg.time.zone = z;
    if (b.year !== undefined) {
      msg.time.device = wallToInstant(z, b.year, b.month, b.day, b.hour, b.minute, b.second, b.millis);
    } else {
      const t = inferYear(z, b.month, b.day, b.hour, b.minute, b.second, b.millis, receivedAt);
      if (t !== undefined) {
        msg.time.device = t;
        msg.time.yearInferred = true;
      } else errors = addError(errors, 'invalid date');
    }
  } else if (r.iso !== undefined) {
    applyIso(msg, r.iso, zone);
  } else {
    errors = addError(errors, NO_TIMESTAMP);
  }
  if (errors !== '') msg.parseError = errors;
  return msg;
}
