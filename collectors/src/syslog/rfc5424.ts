/**
 * RFC 5424 (The Syslog Protocol) header, STRUCTURED-DATA and MSG parsing, on text that
 * has already been decoded and whose PRI has been read. Lenient where real senders are
 * sloppy (over-long header fields are accepted), strict where meaning is at stake
 * (timestamps, SD escapes). A header that does not parse returns `undefined` so the
 * caller can try RFC 3164; invalid SD keeps the rest of the line as MSG.
 */
import type { StructuredDataElement } from '../types.js';

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

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|z|[+-]\d{2}:?\d{2})?$/;

/**
 * Parses RFC 3339 (RFC 5424 §6.2.3) time text; `undefined` when invalid.
 *
 * @example
 * parseIsoTime('2026-11-29T10:00:00.123456+08:00')?.ms; // Date.UTC(2026, 10, 29, 2, 0, 0, 123)
 */
export function parseIsoTime(text: string): IsoTime | undefined {
  const m = ISO_RE.exec(text);
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  let second = Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  if (new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) return undefined;
  // A leap second (RFC 3339 §5.7) is kept as text; the instant uses :59.999.
  let leap = false;
  if (second === 60) {
    second = 59;
    leap = true;
  }
  const frac = m[7] ?? '';
  const millis = leap ? 999 : frac === '' ? 0 : Number((frac + '00').slice(0, 3));
  const fraction = frac.length > 3 ? frac.slice(3) : undefined;
  const wall: IsoTime['wall'] = [year, month, day, hour, minute, second, millis];
  const off = m[8];
  if (off === undefined) return { wall, ...(fraction !== undefined ? { fraction } : {}) };
  let offMs = 0;
  let offset = 'Z';
  if (off !== 'Z' && off !== 'z') {
    const sign = off[0] === '-' ? -1 : 1;
    const digits = off.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2, 4));
    if (oh > 23 || om > 59) return undefined;
    offMs = sign * (oh * 60 + om) * 60_000;
    offset = off.slice(0, 3) + ':' + digits.slice(2, 4);
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, millis) - offMs;
  return { ms, wall, offset, ...(fraction !== undefined ? { fraction } : {}) };
}

/** Reads one SP-terminated header token at `pos`; `undefined` if the line ends first. */
function token(s: string, pos: number): [string, number] | undefined {
  const sp = s.indexOf(' ', pos);
  if (sp === -1 || sp === pos) return undefined;
  return [s.slice(pos, sp), sp + 1];
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
  // VERSION = NONZERO-DIGIT 0*2DIGIT (§6.2.2); only 1 is defined.
  const v = token(s, 0);
  if (v === undefined || !/^[1-9]\d{0,2}$/.test(v[0])) return undefined;
  const ts = token(s, v[1]);
  if (ts === undefined) return undefined;
  const host = token(s, ts[1]);
  if (host === undefined) return undefined;
  const app = token(s, host[1]);
  if (app === undefined) return undefined;
  const proc = token(s, app[1]);
  if (proc === undefined) return undefined;
  // MSGID may be followed by SP SD, or end the line when SD is "-" and there is no MSG.
  const msgidEnd = s.indexOf(' ', proc[1]);
  if (msgidEnd === -1) return undefined;
  if (msgidEnd === proc[1]) return undefined;
  const msgid = s.slice(proc[1], msgidEnd);
  const parts: Rfc5424Parts = { version: Number(v[0]), msg: '' };
  const h = nil(host[0]);
  if (h !== undefined) parts.hostname = h;
  const a = nil(app[0]);
  if (a !== undefined) parts.appname = a;
  const p = nil(proc[0]);
  if (p !== undefined) parts.procid = p;
  const mi = nil(msgid);
  if (mi !== undefined) parts.msgid = mi;
  if (ts[0] !== '-') {
    parts.timestampText = ts[0];
    const t = parseIsoTime(ts[0]);
    // RFC 5424 §6.2.3 requires TIME-OFFSET; a time without one is read in the source zone.
    if (t === undefined) parts.timestampError = `invalid TIMESTAMP "${ts[0].slice(0, 64)}"`;
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
