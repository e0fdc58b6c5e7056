/**
 * RFC 3164 (BSD syslog) parsing of the part after PRI, covering the variants seen from
 * real devices (RFC 3164 §4.3 asks relays to accept what they get):
 *
 * - `Mmm dd hh:mm:ss HOST TAG[PID]: MSG` (the classic; day space- or zero-padded),
 * - without HOST (`Mmm dd hh:mm:ss TAG: MSG`), and without any timestamp (`TAG: MSG`),
 * - a year before or after the time (Huawei `Nov 29 2026 10:00:00`, H3C `Nov 29 10:00:00 2026`),
 * - milliseconds, and an ISO 8601 / RFC 3339 timestamp (rsyslog's file and forward formats),
 * - Cisco IOS: a sequence number `123: `, `*`/`.` clock-state marks, a zone name and a
 *   trailing colon (`*Mar  1 18:46:11.123 UTC: %SYS-5-CONFIG_I: …`).
 *
 * Vendor message bodies (`%%01SHELL/…`, `%SYS-5-…`) stay in MSG for the vendor parsers.
 */
import { parseIsoTime, type IsoTime } from './rfc5424.js';

/** Parts an RFC 3164 line yields. */
export interface Rfc3164Parts {
  /** Month..millis when a BSD timestamp was read; `year` undefined when it must be inferred. */
  bsd?: { year?: number; month: number; day: number; hour: number; minute: number; second: number; millis: number; utc: boolean };
  iso?: IsoTime;
  timestampText?: string;
  sequence?: string;
  hostname?: string;
  appname?: string;
  procid?: string;
  msg: string;
}

const MONTHS: Record<string, number> = {
  Jan: 1, Feb: 2, Mar: 3, Apr: 4, May: 5, Jun: 6, Jul: 7, Aug: 8, Sep: 9, Oct: 10, Nov: 11, Dec: 12,
};

// Month, day (1–2 digits, space-padded), optional year, time with optional fraction,
// optional year after the time, then (Cisco) an optional zone name and a colon.
const BSD_RE =
  /^([A-Z][a-z]{2}) {1,2}(\d{1,2})(?: (\d{4}))? (\d{2}):(\d{2}):(\d{2})(?:[.:](\d{1,6}))?(?: (\d{4})(?= ))?(?:(?: ([A-Z]{2,5}))?(:))?(?: |$)/;
const ISO_PREFIX_RE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|z|[+-]\d{2}:?\d{2})?/;
// TAG[PID]: — RFC 3164 §4.1.3 TAG is alphanumeric; real tags also use - _ . / (postfix/smtpd).
// With a [PID] the colon may be followed directly by the text (some embedded syslogds).
const TAG_RE = /^([A-Za-z0-9_.\-/]{1,64})(?:\[([^\]\s]{1,128})\]: ?|:(?: |$))/;
const SEQ_RE = /^(\d{1,10}): /;

/**
 * Parses the text after PRI as RFC 3164. Always returns parts: when nothing matches the
 * whole text is MSG (the caller decides whether that counts as parsed).
 *
 * @example
 * parseRfc3164Body('Nov 29 10:00:00 fw01 sshd[812]: Failed password').procid; // '812'
 */
export function parseRfc3164Body(s: string): Rfc3164Parts {
  const out: Rfc3164Parts = { msg: s };
  let pos = 0;
  let cisco = false;
  const c0 = s.charCodeAt(0);
  // Only a leading digit can start a Cisco sequence number; skip the regex otherwise.
  const seq = c0 >= 0x30 && c0 <= 0x39 ? SEQ_RE.exec(s) : null;
  if (seq !== null) {
    out.sequence = seq[1]!;
    pos = seq[0].length;
    cisco = true;
  }
  let rest = pos === 0 ? s : s.slice(pos);
  // Cisco "seq: host: *Mar 1 …" (logging origin-id): a host before the timestamp.
  if (cisco) {
    const m = /^([A-Za-z0-9_.\-]{1,255}): (?=[*.]?[A-Z][a-z]{2} )/.exec(rest);
    if (m !== null) {
      out.hostname = m[1]!;
      rest = rest.slice(m[0].length);
    }
  }
  let mark = '';
  if (rest[0] === '*' || rest[0] === '.') {
    // Cisco: '*' = clock not authoritative, '.' = lost sync; the time is kept as written.
    mark = rest[0];
    rest = rest.slice(1);
  }
  let afterTs = -1;
  const bsd = BSD_RE.exec(rest);
  if (bsd !== null) {
    const month = MONTHS[bsd[1]!];
    const day = Number(bsd[2]);
    const hour = Number(bsd[4]);
    const minute = Number(bsd[5]);
    const second = Number(bsd[6]);
    if (month !== undefined && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 && second <= 60) {
      const frac = bsd[7];
      const yearText = bsd[3] ?? bsd[8];
      const zone = bsd[9];
      out.bsd = {
        month,
        day,
        hour,
        minute,
        second: Math.min(second, 59),
        millis: frac === undefined ? 0 : Number((frac + '00').slice(0, 3)),
        utc: zone === 'UTC' || zone === 'GMT',
        year: yearText !== undefined ? Number(yearText) : undefined,
      };
      let e = bsd[0].length;
      if (bsd[0].charCodeAt(e - 1) === 0x20) e--;
      if (bsd[0].charCodeAt(e - 1) === 0x3a) e--;
      out.timestampText = mark + bsd[0].slice(0, e);
      afterTs = bsd[0].length;
      if (bsd[10] === ':') cisco = true;
    }
  } else {
    const iso = ISO_PREFIX_RE.exec(rest);
    if (iso !== null && (rest.length === iso[0].length || rest[iso[0].length] === ' ')) {
      const t = parseIsoTime(iso[0]);
      if (t !== undefined) {
        out.iso = t;
        out.timestampText = iso[0];
        afterTs = Math.min(rest.length, iso[0].length + 1);
      }
    }
  }
  if (afterTs === -1) {
    // No timestamp: maybe still "TAG[PID]: MSG".
    takeTag(rest, out);
    return out;
  }
  rest = rest.slice(afterTs);
  if (cisco) {
    // Cisco puts no HOST after the time; MSG is "%FACILITY-SEV-MNEMONIC: text".
    out.msg = rest;
    return out;
  }
  const sp = rest.indexOf(' ');
  const first = sp === -1 ? rest : rest.slice(0, sp);
  if (first === '' || first.endsWith(':') || TAG_RE.test(first)) {
    takeTag(rest, out);
    return out;
  }
  // RFC 3164 §4.1.2: HOSTNAME follows TIMESTAMP.
  out.hostname = first;
  let after = sp === -1 ? '' : rest.slice(sp + 1);
  // Cisco ASA with "logging device-id": "HOST : %ASA-…".
  if (after.startsWith(': ')) after = after.slice(2);
  takeTag(after, out);
  return out;
}

function takeTag(rest: string, out: Rfc3164Parts): void {
  const t = TAG_RE.exec(rest);
  if (t === null) {
    out.msg = rest;
    return;
  }
  out.appname = t[1]!;
  if (t[2] !== undefined) out.procid = t[2];
  out.msg = rest.slice(t[0].length);
}
