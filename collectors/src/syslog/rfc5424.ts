/**
 * RFC 5424 (The Syslog Protocol) header, STRUCTURED-DATA and MSG parsing, on text that
 * has already been decoded and whose PRI has been read. Lenient where real senders are
 * sloppy (over-long header fields are accepted), strict where meaning is at stake
 * (timestamps, SD escapes). A header that does not parse returns `undefined` so the
 * caller can try RFC 3164; invalid SD keeps the rest of the line as MSG.
 */
import type { StructuredDataElement } from '../types.js';
import { utcMs } from './time.js';

/** The parts an RFC 5424 header yields (the caller adds PRI, charset and times). */
export interface Rfc5424Parts {
  version: number;
  timestamp?: IsoTime;
  timestampText?: string;
  timestampError?: string;
  hostname?: string;
  appname?: string;
  procid?: string;
  msgid?: string;
  structuredData?: StructuredDataElement[];
  sdError?: string;
  msg: string;
}

/** A parsed ISO 8601 / RFC 3339 time. `ms` is absent when the text has no offset (caller applies a zone). */
export interface IsoTime {
  /** Instant (ms) when the text carried an offset. */
  ms?: number;
  /** Wall-clock fields, used when there is no offset. */
  wall: [year: number, month: number, day: number, hour: number, minute: number, second: number, millis: number];
  /** Digits of the fraction beyond milliseconds (RFC 5424 allows 6). */
  fraction?: string;
  /** `Z`, `+08:00`, or undefined when absent. */
  offset?: string;
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
/** Two decimal digits at `i`, or -1. */
function two(s: string, i: number): number {
  const a = s.charCodeAt(i);
  const b = s.charCodeAt(i + 1);
  return isDigit(a) && isDigit(b) ? (a - 0x30) * 10 + b - 0x30 : -1;
}

/**
 * Parses RFC 3339 (RFC 5424 §6.2.3) time text; `undefined` when invalid. The grammar
 * `YYYY-MM-DD(T| )hh:mm:ss[(.|,)1*9DIGIT][Z|z|(+|-)hh[:]mm]`, read by hand from char codes.
 *
 * @example
 * parseIsoTime('2026-11-29T10:00:00.123456+08:00')?.ms; // Date.UTC(2026, 10, 29, 2, 0, 0, 123)
 */
export function parseIsoTime(text: string): IsoTime | undefined {
  const n = text.length;
  if (n < 19) return undefined;
  const y1 = two(text, 0);
  const y2 = two(text, 2);
  const month = two(text, 5);
  const day = two(text, 8);
  const hour = two(text, 11);
  const minute = two(text, 14);
  let second = two(text, 17);
  const t = text.charCodeAt(10);
  if (
    y1 < 0 || y2 < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0 ||
    text.charCodeAt(4) !== 0x2d || text.charCodeAt(7) !== 0x2d || (t !== 0x54 && t !== 0x20) ||
    text.charCodeAt(13) !== 0x3a || text.charCodeAt(16) !== 0x3a
  )
    return undefined;
  const year = y1 * 100 + y2;
  let p = 19;
  let fracStart = -1;
  const f = text.charCodeAt(p);
  if (f === 0x2e || f === 0x2c) {
    let q = p + 1;
    while (q < n && isDigit(text.charCodeAt(q))) q++;
    if (q === p + 1 || q - p - 1 > 9) return undefined;
    fracStart = p + 1;
    p = q;
  }
  const fracEnd = p;
  // Offset: Z | z | (+|-)hh[:]mm, then the end of the text.
  let offSign = 0;
  let oh = 0;
  let om = 0;
  let offText = '';
  if (p < n) {
    const c = text.charCodeAt(p);
    if ((c === 0x5a || c === 0x7a) && p + 1 === n) offText = 'Z';
    else if (c === 0x2b || c === 0x2d) {
      oh = two(text, p + 1);
      const colon = text.charCodeAt(p + 3) === 0x3a ? 1 : 0;
      om = two(text, p + 3 + colon);
      if (oh < 0 || om < 0 || p + 5 + colon !== n) return undefined;
      offSign = c === 0x2d ? -1 : 1;
    } else return undefined;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  if (day > 28 && utcDayOfMonth(year, month, day) !== day) return undefined;
  // A leap second (RFC 3339 §5.7) is kept as text; the instant uses :59.999.
  let leap = false;
  if (second === 60) {
    second = 59;
    leap = true;
  }
  let millis = 0;
  let fraction: string | undefined;
  if (leap) millis = 999;
  else if (fracStart >= 0) {
    millis = (text.charCodeAt(fracStart) - 0x30) * 100;
    if (fracStart + 1 < fracEnd) millis += (text.charCodeAt(fracStart + 1) - 0x30) * 10;
    if (fracStart + 2 < fracEnd) millis += text.charCodeAt(fracStart + 2) - 0x30;
  }
  if (fracEnd - fracStart > 3 && fracStart >= 0) fraction = text.slice(fracStart + 3, fracEnd);
  const wall: IsoTime['wall'] = [year, month, day, hour, minute, second, millis];
  if (offSign === 0 && offText === '') return fraction !== undefined ? { wall, fraction } : { wall };
  let offMs = 0;
  let offset = 'Z';
  if (offSign !== 0) {
    if (oh > 23 || om > 59) return undefined;
    offMs = offSign * (oh * 60 + om) * 60_000;
    offset = text.slice(p, p + 3) + ':' + text.slice(n - 2);
  }
  const ms = utcMs(year, month, day, hour, minute, second, millis) - offMs;
  return fraction !== undefined ? { ms, wall, offset, fraction } : { ms, wall, offset };
}

/** The day of month `Date.UTC` lands on for (year, month, day): differs from `day` when the date does not exist. */
function utcDayOfMonth(year: number, month: number, day: number): number {
  if (year < 100) return new Date(Date.UTC(year, month - 1, day)).getUTCDate();
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const len = month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return day <= len ? day : day - len;
}

const nil = (v: string): string | undefined => (v === '-' ? undefined : v);

/**
 * Parses STRUCTURED-DATA (RFC 5424 §6.3) at `pos`. PARAM-VALUE escapes: `\"`, `\\`, `\]`;
 * a backslash before any other character is kept literally (§6.3.3).
 * Returns the elements and the index after the SD, or an error text.
 */
export function parseStructuredData(s: string, pos: number): { sd: StructuredDataElement[]; end: number } | { error: string } {
  const sd: StructuredDataElement[] = [];
  while (pos < s.length && s[pos] === '[') {
    pos++;
    let i = pos;
    while (i < s.length && s[i] !== ' ' && s[i] !== ']' && s[i] !== '=' && s[i] !== '"') i++;
    if (i === pos || i >= s.length) return { error: 'SD-ID missing or unterminated' };
    const el: StructuredDataElement = { id: s.slice(pos, i), params: [] };
    pos = i;
    while (s[pos] === ' ') {
      pos++;
      let j = pos;
      while (j < s.length && s[j] !== '=' && s[j] !== ' ' && s[j] !== ']' && s[j] !== '"') j++;
      if (j === pos || s[j] !== '=' || s[j + 1] !== '"') return { error: `SD-PARAM in [${el.id}] malformed` };
      const name = s.slice(pos, j);
      pos = j + 2;
      let value = '';
      let k = pos;
      let closed = false;
      while (k < s.length) {
        const c = s[k]!;
        if (c === '\\' && k + 1 < s.length) {
          const n = s[k + 1]!;
          if (n === '"' || n === '\\' || n === ']') {
            value += s.slice(pos, k) + n;
            k += 2;
            pos = k;
            continue;
          }
          k++;
          continue;
        }
        if (c === '"') {
          closed = true;
          break;
        }
        k++;
      }
      if (!closed) return { error: `SD-PARAM ${name} in [${el.id}] unterminated` };
      value += s.slice(pos, k);
      el.params.push([name, value]);
      pos = k + 1;
    }
    if (s[pos] !== ']') return { error: `SD-ELEMENT [${el.id}] not closed` };
    pos++;
    sd.push(el);
  }
  if (sd.length === 0) return { error: 'STRUCTURED-DATA is neither "-" nor [..]' };
  return { sd, end: pos };
}

/**
 * Parses the part of an RFC 5424 message after PRI (`1 TIMESTAMP HOSTNAME …`).
 *
 * @example
 * parseRfc5424Body('1 2026-11-29T10:00:00Z host app 42 ID47 - hello')?.appname; // 'app'
 */
export function parseRfc5424Body(s: string): Rfc5424Parts | undefined {
  // VERSION = NONZERO-DIGIT 0*2DIGIT (§6.2.2); only 1 is defined. Then five SP-terminated
  // header fields (TIMESTAMP HOSTNAME APP-NAME PROCID MSGID), none of them empty.
  const v = s.indexOf(' ');
  if (v < 1 || v > 3) return undefined;
  let version = 0;
  for (let i = 0; i < v; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39 || (i === 0 && c === 0x30)) return undefined;
    version = version * 10 + c - 0x30;
  }
  const tsEnd = s.indexOf(' ', v + 1);
  if (tsEnd <= v + 1) return undefined;
  const hostEnd = s.indexOf(' ', tsEnd + 1);
  if (hostEnd <= tsEnd + 1) return undefined;
  const appEnd = s.indexOf(' ', hostEnd + 1);
  if (appEnd <= hostEnd + 1) return undefined;
  const procEnd = s.indexOf(' ', appEnd + 1);
  if (procEnd <= appEnd + 1) return undefined;
  // MSGID may be followed by SP SD, or end the line when SD is "-" and there is no MSG.
  const msgidEnd = s.indexOf(' ', procEnd + 1);
  if (msgidEnd <= procEnd + 1) return undefined;
  const ts = s.slice(v + 1, tsEnd);
  const parts: Rfc5424Parts = { version, msg: '' };
  const h = nil(s.slice(tsEnd + 1, hostEnd));
  if (h !== undefined) parts.hostname = h;
  const a = nil(s.slice(hostEnd + 1, appEnd));
  if (a !== undefined) parts.appname = a;
  const p = nil(s.slice(appEnd + 1, procEnd));
  if (p !== undefined) parts.procid = p;
  const mi = nil(s.slice(procEnd + 1, msgidEnd));
  if (mi !== undefined) parts.msgid = mi;
  if (ts !== '-') {
    parts.timestampText = ts;
    const t = parseIsoTime(ts);
    // RFC 5424 §6.2.3 requires TIME-OFFSET; a time without one is read in the source zone.
    if (t === undefined) parts.timestampError = `invalid TIMESTAMP "${ts.slice(0, 64)}"`;
    else parts.timestamp = t;
  }
  let pos = msgidEnd + 1;
  if (s[pos] === '-') {
    pos++;
  } else {
    const r = parseStructuredData(s, pos);
    if ('error' in r) {
      // Keep everything after MSGID as MSG so nothing is lost.
      parts.sdError = r.error;
      parts.msg = stripBom(s.slice(pos));
      return parts;
    }
    parts.structuredData = r.sd;
    pos = r.end;
  }
  if (pos < s.length) {
    if (s[pos] === ' ') pos++;
    parts.msg = stripBom(s.slice(pos));
  }
  return parts;
}

/** MSG may start with a UTF-8 BOM (RFC 5424 §6.4) announcing UTF-8; it is not part of the text. */
function stripBom(m: string): string {
  return m.charCodeAt(0) === 0xfeff ? m.slice(1) : m;
}
