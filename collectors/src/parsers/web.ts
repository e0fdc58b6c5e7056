/**
 * NCSA combined / common log format as written by nginx (`log_format combined`) and Apache
 * httpd (`LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\"" combined`).
 * Scanned by hand, not by one big regex, so hostile quotes cannot cause backtracking.
 */
import { setField } from '../ecs/helpers.js';
import type { LineParser } from './types.js';
import { asInt, categorise, extName, isoFromMs, lookup, setEndpoint } from './util.js';

const MONTHS: Record<string, string> = {
  Jan: '01', Feb: '02', Mar: '03', Apr: '04', May: '05', Jun: '06',
  Jul: '07', Aug: '08', Sep: '09', Oct: '10', Nov: '11', Dec: '12',
};

/**
 * `10/Oct/2000:13:55:36 -0700` (strftime `%d/%b/%Y:%H:%M:%S %z`) to ISO 8601 UTC.
 *
 * @example
 * clfTime('10/Oct/2000:13:55:36 -0700'); // '2000-10-10T20:55:36.000Z'
 */
export function clfTime(s: string): string | undefined {
  const m = /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(s);
  const month = m ? lookup(MONTHS, m[2]!) : undefined;
  if (!m || month === undefined) return undefined;
  const day = Number(m[1]);
  const hour = Number(m[4]);
  const min = Number(m[5]);
  const sec = Number(m[6]);
  const oh = Number(m[8]);
  const om = Number(m[9]);
  if (day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60 || om > 59) return undefined;
  // Arithmetic, not Date.parse of a rebuilt string: this runs once per access-log line.
  const offset = (m[7] === '-' ? -1 : 1) * (oh * 60 + om) * 60000;
  return isoFromMs(Date.UTC(Number(m[3]), Number(month) - 1, day, hour, min, sec) - offset);
}

/** Reads a double-quoted field at `i` (pointing at the quote); `\"` is an escaped quote (nginx escapes as \x22). */
function quoted(s: string, i: number): [string, number] | undefined {
  if (s.charCodeAt(i) !== 34) return undefined;
  let j = i + 1;
  while (j < s.length) {
    const c = s.charCodeAt(j);
    if (c === 92) j += 2;
    else if (c === 34) return [s.slice(i + 1, j), j + 1];
    else j++;
  }
  return undefined;
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
  const sm = /^(\d{3}) (\d+|-)/.exec(rest);
  if (!sm) return false;
  const client = s.slice(0, sp1);
  const user = s.slice(sp2 + 1, br);
  // The line format is shared; only the program name tells the server apart.
  ev.event.module = input.app.includes('apache') || input.app.includes('httpd') ? 'apache' : input.app.includes('nginx') ? 'nginx' : 'web';
  ev.event.dataset = `${ev.event.module}.access`;
  ev['@timestamp'] = time;
  setEndpoint(ev, 'source', client);
  if (user !== '-' && user !== '') setField(ev, 'user.name', user);
  const status = Number(sm[1]);
  setField(ev, 'http.response.status_code', status);
  setField(ev, 'http.response.body.bytes', asInt(sm[2]));
  const parts = req[0].split(' ');
  if (parts.length === 3 && /^[A-Z]{3,10}$/.test(parts[0]!)) {
    setField(ev, 'http.request.method', parts[0]);
    const target = parts[1]!;
    setField(ev, 'url.original', target);
    const q = target.indexOf('?');
    const path = q >= 0 ? target.slice(0, q) : target;
    setField(ev, 'url.path', path);
    const ext = extName(path.slice(path.lastIndexOf('/') + 1));
    if (ext !== '') setField(ev, 'url.extension', ext);
    if (q >= 0) setField(ev, 'url.query', target.slice(q + 1));
    const v = /^HTTP\/(\d(?:\.\d)?)$/.exec(parts[2]!);
    setField(ev, 'http.version', v?.[1]);
  } else {
    // A non-HTTP request line (scanner noise, TLS bytes on a plain port) is kept as written.
    setField(ev, 'url.original', req[0]);
    ev.tags = [...(ev.tags ?? []), 'malformed_request'];
  }
  const after = rest.slice(sm[0].length).trimStart();
  const ref = quoted(after, 0);
  if (ref) {
    if (ref[0] !== '-') setField(ev, 'http.request.referrer', ref[0]);
    const ua = quoted(after.slice(ref[1]).trimStart(), 0);
    if (ua && ua[0] !== '-') setField(ev, 'user_agent.original', ua[0]);
  }
  categorise(ev, ['web'], ['access'], 'http_request', status < 400 ? 'success' : 'failure');
  return true;
};
