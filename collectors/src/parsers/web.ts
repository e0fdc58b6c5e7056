/**
 * NCSA combined / common log format as written by nginx (`log_format combined`) and Apache
 * httpd (`LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\"" combined`).
 * Scanned by hand, not by one big regex, so hostile quotes cannot cause backtracking.
 */
import type { LineParser } from './types.js';
import { asInt, categorise, extName, isoFromMs, lookup, setEndpoint } from './util.js';
import { digits, hasAt, isDigit } from '../chars.js';
import { utcMs } from '../syslog/time.js';

const MONTHS: Record<string, number> = {
  Jan: 1, Feb: 2, Mar: 3, Apr: 4, May: 5, Jun: 6, Jul: 7, Aug: 8, Sep: 9, Oct: 10, Nov: 11, Dec: 12,
};

/**
 * `10/Oct/2000:13:55:36 -0700` (strftime `%d/%b/%Y:%H:%M:%S %z`) to ISO 8601 UTC.
 *
 * @example
 * clfTime('10/Oct/2000:13:55:36 -0700'); // '2000-10-10T20:55:36.000Z'
 */
export function clfTime(s: string): string | undefined {
  // Fixed layout `dd/Mmm/yyyy:hh:mm:ss ±hhmm`, read from char codes.
  if (s.length !== 26) return undefined;
  const day = digits(s, 0, 2);
  const year = digits(s, 7, 4);
  const hour = digits(s, 12, 2);
  const min = digits(s, 15, 2);
  const sec = digits(s, 18, 2);
  const oh = digits(s, 22, 2);
  const om = digits(s, 24, 2);
  const sign = s.charCodeAt(21);
  if (
    day < 0 || year < 0 || hour < 0 || min < 0 || sec < 0 || oh < 0 || om < 0 ||
    s.charCodeAt(2) !== 0x2f || s.charCodeAt(6) !== 0x2f || s.charCodeAt(11) !== 0x3a || s.charCodeAt(14) !== 0x3a ||
    s.charCodeAt(17) !== 0x3a || s.charCodeAt(20) !== 0x20 || (sign !== 0x2b && sign !== 0x2d)
  )
    return undefined;
  const month = lookup(MONTHS, s.slice(3, 6));
  if (month === undefined) return undefined;
  if (day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60 || om > 59) return undefined;
  // Arithmetic, not Date.parse of a rebuilt string: this runs once per access-log line.
  const offset = (sign === 0x2d ? -1 : 1) * (oh * 60 + om) * 60000;
  return isoFromMs(utcMs(year, month, day, hour, min, sec, 0) - offset);
}

/**
 * Reads a double-quoted field at `i` (pointing at the quote): its text as written (escapes
 * kept) and the index after the closing quote, else `undefined`. A backslash escapes the
 * next character, so `\"` is a quote inside the field (nginx escapes as \x22).
 *
 * @example
 * quoted('"GET / HTTP/1.1" 200', 0); // ['GET / HTTP/1.1', 16]
 */
export function quoted(s: string, i: number): [string, number] | undefined {
  if (s.charCodeAt(i) !== 34) return undefined;
  // The next quote and the next backslash, found with indexOf (native; a loop over the
  // characters cost more) and searched again only once passed, so the scan stays linear: a
  // backslash before the quote escapes the character after it.
  let j = i + 1;
  let q = -1;
  let b = -1;
  for (;;) {
    if (q < j) {
      q = s.indexOf('"', j);
      if (q < 0) return undefined;
    }
    if (b < j) {
      // No backslash left: s.length, past every quote, so it is not searched again.
      b = s.indexOf('\\', j);
      if (b < 0) b = s.length;
    }
    if (b > q) return [s.slice(i + 1, q), q + 1];
    j = b + 2;
  }
}

/**
 * The end of `^(\d{3}) (\d+|-)` (the status and the body size: digits or `-`) in `rest`, read
 * from char codes, or -1.
 * @internal
 */
export function statusEnd(rest: string): number {
  if (!isDigit(rest.charCodeAt(0)) || !isDigit(rest.charCodeAt(1)) || !isDigit(rest.charCodeAt(2)) || rest.charCodeAt(3) !== 0x20) return -1;
  let end = 4;
  while (isDigit(rest.charCodeAt(end))) end++;
  if (end > 4) return end;
  return rest.charCodeAt(4) === 0x2d ? 5 : -1;
}

/**
 * `^[A-Z]{3,10}$` (an HTTP method), from char codes.
 * @internal
 */
export function isMethod(m: string): boolean {
  if (m.length < 3 || m.length > 10) return false;
  for (let i = 0; i < m.length; i++) {
    const c = m.charCodeAt(i);
    if (c < 0x41 || c > 0x5a) return false;
  }
  return true;
}

/**
 * The version of `HTTP/1.1` (`^HTTP\/(\d(?:\.\d)?)$` on `s` from `at`), from char codes, else undefined.
 * @internal
 */
export function httpVersion(s: string, at: number): string | undefined {
  const n = s.length - at;
  if ((n !== 6 && n !== 8) || !hasAt(s, at, 'HTTP/') || !isDigit(s.charCodeAt(at + 5))) return undefined;
  if (n === 8 && (s.charCodeAt(at + 6) !== 0x2e || !isDigit(s.charCodeAt(at + 7)))) return undefined;
  return s.slice(at + 5);
}

/**
 * True when `text` starts like an access-log line: `host ident user [`.
 *
 * @example
 * looksLikeAccessLog('1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1'); // true
 */
export function looksLikeAccessLog(text: string): boolean {
  const b = text.indexOf(' [');
  return b > 4 && b < 300 && text.charCodeAt(b + 4) === 47 && text.includes('] "', b);
}

/**
 * nginx / Apache access log lines (combined or common).
 *
 * @example
 * parseAccessLog({ text: '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 404 1', app: 'nginx' }, ev);
 */
export const parseAccessLog: LineParser = (input, ev) => {
  const s = input.text;
  const sp1 = s.indexOf(' ');
  const sp2 = sp1 > 0 ? s.indexOf(' ', sp1 + 1) : -1;
  const br = sp2 > 0 ? s.indexOf(' [', sp2) : -1;
  if (br < 0 || br > 300) return false;
  const close = s.indexOf('] ', br);
  if (close < 0) return false;
  const time = clfTime(s.slice(br + 2, close));
  const req = quoted(s, close + 2);
  if (time === undefined || req === undefined) return false;
  const rest = s.slice(req[1]).trimStart();
  const sizeEnd = statusEnd(rest);
  if (sizeEnd < 0) return false;
  const client = s.slice(0, sp1);
  const user = s.slice(sp2 + 1, br);
  // The line format is shared; only the program name tells the server apart.
  ev.event.module = input.app.includes('apache') || input.app.includes('httpd') ? 'apache' : input.app.includes('nginx') ? 'nginx' : 'web';
  ev.event.dataset = `${ev.event.module}.access`;
  ev['@timestamp'] = time;
  setEndpoint(ev, 'source', client);
  // Direct writes (this runs for every access-log line); empty values are left out, as setField does.
  if (user !== '-' && user !== '') (ev.user ??= {}).name = user;
  const status = digits(rest, 0, 3);
  const response: Record<string, unknown> = { status_code: status };
  const http: Record<string, unknown> = { response };
  ev.http = http;
  const bytes = asInt(rest.slice(4, sizeEnd));
  if (bytes !== undefined) response.body = { bytes };
  // "METHOD TARGET VERSION": exactly two spaces (found with indexOf: `split(' ')` of a fresh
  // string went to the runtime and cost about a microsecond a line).
  const line = req[0];
  const rs1 = line.indexOf(' ');
  const rs2 = rs1 >= 0 ? line.indexOf(' ', rs1 + 1) : -1;
  const method = rs2 >= 0 && line.indexOf(' ', rs2 + 1) < 0 ? line.slice(0, rs1) : '';
  if (isMethod(method)) {
    http.request = { method };
    const target = line.slice(rs1 + 1, rs2);
    const url: Record<string, unknown> = {};
    if (target !== '') url.original = target;
    const q = target.indexOf('?');
    const path = q >= 0 ? target.slice(0, q) : target;
    if (path !== '') url.path = path;
    const ext = extName(path.slice(path.lastIndexOf('/') + 1));
    if (ext !== '') url.extension = ext;
    if (q >= 0 && q + 1 < target.length) url.query = target.slice(q + 1);
    if (target !== '') ev.url = url;
    const v = httpVersion(line, rs2 + 1);
    if (v !== undefined) http.version = v;
  } else {
    // A non-HTTP request line (scanner noise, TLS bytes on a plain port) is kept as written.
    if (req[0] !== '') ev.url = { original: req[0] };
    ev.tags = [...(ev.tags ?? []), 'malformed_request'];
  }
  const after = rest.slice(sizeEnd).trimStart();
  const ref = quoted(after, 0);
  if (ref) {
    if (ref[0] !== '-' && ref[0] !== '') ((http.request ??= {}) as Record<string, unknown>).referrer = ref[0];
    const ua = quoted(after.slice(ref[1]).trimStart(), 0);
    if (ua && ua[0] !== '-' && ua[0] !== '') ev.user_agent = { original: ua[0] };
  }
  categorise(ev, ['web'], ['access'], 'http_request', status < 400 ? 'success' : 'failure');
  return true;
};
