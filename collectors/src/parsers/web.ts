/**
 * NCSA combined / common log format as written by nginx (`log_format combined`, and `main` with
 * `"$http_x_forwarded_for"` last) and Apache httpd (`LogFormat "%h %l %u %t \"%r\" %>s %b
 * \"%{Referer}i\" \"%{User-agent}i\"" combined`, and `vhost_combined` with `%v:%p` first).
 * Scanned by hand, not by one big regex, so hostile quotes cannot cause backtracking.
 */
import type { EcsEvent } from '../types.js';
import { setField } from '../ecs/helpers.js';
import type { LineParser } from './types.js';
import { asInt, asIp, categorise, extName, head, isoFromMs, isoInZone, lookup, setEndpoint } from './util.js';
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
 * A logged request line, `METHOD TARGET VERSION` (found with indexOf: `split(' ')` of a fresh
 * string went to the runtime and cost about a microsecond a line), into `http` (method, version)
 * and the event's `url.*`. The target runs to the last space before the version: servers log it
 * as received, so an attack's spaces and quotes stay in it; without a version (HTTP/0.9: `GET /`)
 * it is the rest of the line. False, with nothing written, when the line has no HTTP method.
 */
function requestLine(ev: EcsEvent, http: Record<string, unknown>, line: string): boolean {
  const sp = line.indexOf(' ');
  const last = line.lastIndexOf(' ');
  const version = last > sp && sp > 0 ? httpVersion(line, last + 1) : undefined;
  const end = version !== undefined ? last : line.length;
  const method = sp > 0 && end > sp ? line.slice(0, sp) : '';
  if (!isMethod(method)) return false;
  http.request = { method };
  const target = line.slice(sp + 1, end);
  if (target !== '') {
    const url: Record<string, unknown> = { original: target };
    const q = target.indexOf('?');
    const path = q >= 0 ? target.slice(0, q) : target;
    if (path !== '') url.path = path;
    const ext = extName(path.slice(path.lastIndexOf('/') + 1));
    if (ext !== '') url.extension = ext;
    if (q >= 0 && q + 1 < target.length) url.query = target.slice(q + 1);
    ev.url = url;
  }
  if (version !== undefined) http.version = version;
  return true;
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
  let client = s.slice(0, sp1);
  let user = s.slice(sp2 + 1, br);
  // vhost_combined (`%v:%p %h %l %u`): four fields before the time, the second an address.
  const sp3 = s.indexOf(' ', sp2 + 1);
  let vhost: string | undefined;
  if (sp3 > 0 && sp3 < br && s.indexOf(' ', sp3 + 1) === br && asIp(s.slice(sp1 + 1, sp2)) !== undefined && asIp(client) === undefined) {
    vhost = client;
    client = s.slice(sp1 + 1, sp2);
    user = s.slice(sp3 + 1, br);
  }
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
  if (!requestLine(ev, http, req[0])) {
    // A non-HTTP request line (scanner noise, TLS bytes on a plain port) is kept as written.
    if (req[0] !== '') ev.url = { original: req[0] };
    ev.tags = [...(ev.tags ?? []), 'malformed_request'];
  }
  const after = rest.slice(sizeEnd).trimStart();
  const ref = quoted(after, 0);
  if (ref) {
    if (ref[0] !== '-' && ref[0] !== '') ((http.request ??= {}) as Record<string, unknown>).referrer = ref[0];
    const afterRef = after.slice(ref[1]).trimStart();
    const ua = quoted(afterRef, 0);
    if (ua && ua[0] !== '-' && ua[0] !== '') ev.user_agent = { original: ua[0] };
    // nginx's `main` format ends with "$http_x_forwarded_for": the client a proxy forwarded for
    // (its first address; the header is the client's word, so `source.ip` stays the peer).
    const xff = ua ? quoted(afterRef.slice(ua[1]).trimStart(), 0) : undefined;
    if (xff !== undefined) {
      const comma = xff[0].indexOf(',');
      const forwarded = asIp((comma >= 0 ? xff[0].slice(0, comma) : xff[0]).trim());
      if (forwarded !== undefined) (ev.network ??= {}).forwarded_ip = forwarded;
    }
  }
  if (vhost !== undefined) {
    // `%v:%p`: the virtual host's name and port.
    const colon = vhost.lastIndexOf(':');
    const port = colon > 0 ? asInt(vhost.slice(colon + 1)) : undefined;
    const url = (ev.url ??= {}) as Record<string, unknown>;
    url.domain = port !== undefined ? vhost.slice(0, colon) : vhost;
    if (port !== undefined && port > 0 && port < 65536) url.port = port;
  }
  categorise(ev, ['web'], ['access'], 'http_request', status < 400 ? 'success' : 'failure');
  return true;
};

/** nginx's error log levels (`error_log … level`). */
const NGINX_LEVELS: ReadonlySet<string> = new Set(['debug', 'info', 'notice', 'warn', 'error', 'crit', 'alert', 'emerg']);

/** `2026/11/29 08:04:03 [error] 1234#1234: *5 ` — the head of an nginx error log line. */
const NGINX_ERROR_HEAD = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2}) \[([a-z]{4,6})\] (\d{1,10})#\d{1,10}: (?:\*\d{1,20} )?/;

/**
 * True when `text` starts like an nginx error log line (`2026/11/29 08:04:03 [error] 12#12: `).
 *
 * @example
 * looksLikeNginxError('2026/11/29 08:04:03 [error] 1234#1234: *5 open() failed'); // true
 */
export function looksLikeNginxError(text: string): boolean {
  return text.charCodeAt(4) === 0x2f && text.charCodeAt(20) === 0x5b && NGINX_ERROR_HEAD.test(text);
}

/** A wall-clock time of the log's host read in the source's zone, as ISO 8601 (undefined out of range or in a zone Intl does not know). */
function localTime(zone: string | undefined, y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): string | undefined {
  if (zone === undefined || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  return isoInZone(zone, y, mo, d, h, mi, s, ms);
}

/** Web server authentication failures named in error logs: the user, when the text names one. */
const NGINX_AUTH = /^user "([^"]{1,256})"(?:: password mismatch| was not found in )/;
const APACHE_AUTH = /^AH0161[78]: user ([^\s:]{1,256})(?::? authentication failure| not found)/;

/** An error log line as a web error, or, when `auth` matched (its group 1 the user), a failed basic-auth login. */
function errorKind(ev: EcsEvent, auth: RegExpExecArray | null): void {
  if (auth === null) return categorise(ev, ['web'], ['error'], 'error');
  setField(ev, 'user.name', auth[1]);
  categorise(ev, ['authentication', 'web'], ['start'], 'http_basic_auth_failed', 'failure');
}

/**
 * nginx error log lines: `2026/11/29 08:04:03 [error] 1234#1234: *5 open() "/x" failed (2: No
 * such file or directory), client: 203.0.113.72, server: example.cn, request: "GET /x HTTP/1.1",
 * host: "example.cn"`. The time is the server's local time, read in the source's zone.
 *
 * @example
 * parseNginxError({ text: '2026/11/29 08:04:03 [error] 1#1: *5 access forbidden by rule, client: 203.0.113.7, server: a, request: "GET / HTTP/1.1"', app: 'nginx', zone: 'Asia/Shanghai' }, ev);
 */
export const parseNginxError: LineParser = (input, ev) => {
  const s = head(input.text);
  const m = NGINX_ERROR_HEAD.exec(s);
  if (m === null || !NGINX_LEVELS.has(m[7]!)) return false;
  ev.event.module = 'nginx';
  ev.event.dataset = 'nginx.error';
  const t = localTime(input.zone, Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), 0);
  if (t !== undefined) ev['@timestamp'] = t;
  setField(ev, 'log.level', m[7]);
  setField(ev, 'process.pid', Number(m[8]));
  const body = s.slice(m[0].length);
  // The context nginx appends: `, client: …, server: …, request: "…", upstream: "…", host: "…", referrer: "…"`.
  const at = body.indexOf(', client: ');
  ev.message = at >= 0 ? body.slice(0, at) : body;
  if (at >= 0) {
    const ctx = body.slice(at);
    const client = /^, client: ([^,\s]+)/.exec(ctx);
    setEndpoint(ev, 'source', client?.[1]);
    const server = /, server: ([^,\s]+)/.exec(ctx);
    if (server && server[1] !== '_') setField(ev, 'destination.domain', server[1]);
    const req = ctx.indexOf(', request: "');
    const line = req >= 0 ? quoted(ctx, req + 11) : undefined;
    const http: Record<string, unknown> = {};
    if (line !== undefined) requestLine(ev, http, line[0]);
    const host = ctx.indexOf(', host: "');
    const h = host >= 0 ? quoted(ctx, host + 8) : undefined;
    if (h !== undefined && h[0] !== '') ((ev.url ??= {}) as Record<string, unknown>).domain = h[0];
    const referrer = ctx.indexOf(', referrer: "');
    const r = referrer >= 0 ? quoted(ctx, referrer + 12) : undefined;
    if (r !== undefined && r[0] !== '') ((http.request ??= {}) as Record<string, unknown>).referrer = r[0];
    if (http.request !== undefined) ev.http = http;
  }
  errorKind(ev, NGINX_AUTH.exec(ev.message));
  return true;
};

/**
 * `[Sun Nov 29 08:04:03.123456 2026] [core:error] [pid 1234:tid 5678] [client 203.0.113.72:51234] ` (2.4)
 * or `[Sun Nov 29 08:04:03 2026] [error] [client 203.0.113.72] ` (2.2): the head of an Apache httpd error log line.
 */
const APACHE_ERROR_HEAD =
  /^\[[A-Z][a-z]{2} ([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? (\d{4})\] \[(?:([\w-]{1,40}):)?([a-z]{4,6}\d?)\](?: \[pid (\d{1,10})(?::tid \d{1,24})?\])?(?: \[client (\[[0-9a-fA-F:.]{2,45}\](?::\d{1,5})?|[^\]\s]{1,80})\])? ?/;

/**
 * True when `text` starts like an Apache httpd error log line (`[Sun Nov 29 08:04:03.123456 2026] [`).
 *
 * @example
 * looksLikeApacheError('[Sun Nov 29 08:04:03 2026] [error] [client 1.2.3.4] File does not exist: /x'); // true
 */
export function looksLikeApacheError(text: string): boolean {
  return text.charCodeAt(0) === 0x5b && text.charCodeAt(4) === 0x20 && APACHE_ERROR_HEAD.test(text);
}

/** `203.0.113.72:51234`, `[2001:db8::1]:51234` or a bare address, as ECS `source.ip`/`source.port`. */
function apacheClient(ev: EcsEvent, c: string): void {
  if (c.startsWith('[')) {
    const close = c.indexOf(']');
    setEndpoint(ev, 'source', c.slice(1, close), c.charCodeAt(close + 1) === 0x3a ? c.slice(close + 2) : undefined);
  } else if (c.indexOf(':') === c.lastIndexOf(':') && c.includes(':')) {
    const colon = c.indexOf(':');
    setEndpoint(ev, 'source', c.slice(0, colon), c.slice(colon + 1));
  } else setEndpoint(ev, 'source', c);
}

/**
 * Apache httpd error log lines (2.4 and 2.2 layouts): the module, level, pid and client, the
 * `AHnnnnn` message code as `event.code`, authentication failures (AH01617/AH01618) with the user.
 *
 * @example
 * parseApacheError({ text: '[Sun Nov 29 08:04:03.1 2026] [authz_core:error] [pid 1:tid 2] [client 203.0.113.7:5] AH01630: client denied by server configuration: /admin', app: 'httpd', zone: 'Asia/Shanghai' }, ev);
 */
export const parseApacheError: LineParser = (input, ev) => {
  const s = head(input.text);
  const m = APACHE_ERROR_HEAD.exec(s);
  const month = m !== null ? lookup(MONTHS, m[1]!) : undefined;
  if (m === null || month === undefined) return false;
  ev.event.module = 'apache';
  ev.event.dataset = 'apache.error';
  const ms = m[6] !== undefined ? Math.floor(Number(`0.${m[6]}`) * 1000) : 0;
  const t = localTime(input.zone, Number(m[7]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), ms);
  if (t !== undefined) ev['@timestamp'] = t;
  setField(ev, 'log.logger', m[8]);
  setField(ev, 'log.level', m[9]);
  if (m[10] !== undefined) setField(ev, 'process.pid', Number(m[10]));
  if (m[11] !== undefined) apacheClient(ev, m[11]);
  const body = s.slice(m[0].length);
  ev.message = body;
  const code = /^(AH\d{5}): /.exec(body);
  if (code !== null) ev.event.code = code[1]!;
  errorKind(ev, APACHE_AUTH.exec(body));
  return true;
};

/**
 * An nginx log line of either kind: access (combined, `main`) or error.
 *
 * @example
 * parseNginxLog({ text: '2026/11/29 08:04:03 [error] 1#1: *5 open() "/x" failed, client: 203.0.113.7, server: a', app: 'nginx', zone: 'UTC' }, ev);
 */
export const parseNginxLog: LineParser = (input, ev) => parseAccessLog(input, ev) || (looksLikeNginxError(input.text) && parseNginxError(input, ev));

/**
 * An Apache httpd log line of either kind: access (combined, vhost_combined) or error.
 *
 * @example
 * parseApacheLog({ text: '[Sun Nov 29 08:04:03 2026] [error] [client 203.0.113.7] File does not exist: /x', app: 'httpd', zone: 'UTC' }, ev);
 */
export const parseApacheLog: LineParser = (input, ev) => parseAccessLog(input, ev) || (looksLikeApacheError(input.text) && parseApacheError(input, ev));
