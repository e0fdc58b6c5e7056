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
import { isDigit, isRegexSpace } from '../chars.js';

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

/** `Jan`..`Dec` → 1..12, else 0 (three char codes, no string built). */
function monthOf(s: string): number {
  const a = s.charCodeAt(0);
  const b = s.charCodeAt(1);
  const c = s.charCodeAt(2);
  switch (a) {
    case 74: // J
      return b === 97 && c === 110 ? 1 : b === 117 ? (c === 110 ? 6 : c === 108 ? 7 : 0) : 0; // Jan Jun Jul
    case 70: // F
      return b === 101 && c === 98 ? 2 : 0; // Feb
    case 77: // M
      return b === 97 ? (c === 114 ? 3 : c === 121 ? 5 : 0) : 0; // Mar May
    case 65: // A
      return b === 112 && c === 114 ? 4 : b === 117 && c === 103 ? 8 : 0; // Apr Aug
    case 83: // S
      return b === 101 && c === 112 ? 9 : 0; // Sep
    case 79: // O
      return b === 99 && c === 116 ? 10 : 0; // Oct
    case 78: // N
      return b === 111 && c === 118 ? 11 : 0; // Nov
    case 68: // D
      return b === 101 && c === 99 ? 12 : 0; // Dec
    default:
      return 0;
  }
}

const ISO_PREFIX_RE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|z|[+-]\d{2}:?\d{2})?/;
const SEQ_RE = /^(\d{1,10}): /;

const isUpper = (c: number): boolean => c >= 0x41 && c <= 0x5a;
const isLower = (c: number): boolean => c >= 0x61 && c <= 0x7a;
/** Two decimal digits at `i` as a number (the caller checked they are digits). */
const two = (s: string, i: number): number => (s.charCodeAt(i) - 0x30) * 10 + s.charCodeAt(i + 1) - 0x30;
/** Four decimal digits at `i`, or -1. */
function four(s: string, i: number): number {
  const a = s.charCodeAt(i) - 0x30;
  const b = s.charCodeAt(i + 1) - 0x30;
  const c = s.charCodeAt(i + 2) - 0x30;
  const d = s.charCodeAt(i + 3) - 0x30;
  // NaN (past the end) fails the range tests too.
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 && c >= 0 && c <= 9 && d >= 0 && d <= 9 ? a * 1000 + b * 100 + c * 10 + d : -1;
}

/**
 * RFC 3164 §4.1.3 TAG characters as real senders use them: alphanumerics and `_ . - /`, and CJK
 * ideographs (U+3400–U+4DBF, U+4E00–U+9FFF), since Chinese programs name themselves in Chinese
 * (`日志服务: …`) and rsyslog reads any text up to the colon as the TAG.
 */
function isTagChar(c: number): boolean {
  return isLower(c) || isUpper(c) || isDigit(c) || c === 0x5f || c === 0x2e || c === 0x2d || c === 0x2f || (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf);
}

/**
 * Reads `TAG[PID]: ` or `TAG: ` at the start of `s` — the grammar
 * `^([A-Za-z0-9_.\-/\u3400-\u4DBF\u4E00-\u9FFF]{1,64})(?:\[([^\]\s]{1,128})\]: ?|:(?: |$))` scanned by hand.
 * Sets {@link tagPidStart}/{@link tagPidEnd} (-1 without a PID); returns the index after the
 * tag and its separator, and the tag's length in {@link tagLen}, or -1 when there is no tag.
 */
function readTag(s: string): number {
  const n = s.length;
  let i = 0;
  while (i < n && isTagChar(s.charCodeAt(i))) i++;
  if (i === 0 || i > 64) return -1;
  tagLen = i;
  const c = s.charCodeAt(i);
  if (c === 0x5b /* [ */) {
    let j = i + 1;
    while (j < n) {
      const d = s.charCodeAt(j);
      if (d === 0x5d || isRegexSpace(d)) break;
      j++;
    }
    const len = j - i - 1;
    if (len < 1 || len > 128 || s.charCodeAt(j) !== 0x5d || s.charCodeAt(j + 1) !== 0x3a) return -1;
    tagPidStart = i + 1;
    tagPidEnd = j;
    return s.charCodeAt(j + 2) === 0x20 ? j + 3 : j + 2;
  }
  if (c !== 0x3a /* : */) return -1;
  tagPidStart = -1;
  tagPidEnd = -1;
  if (i + 1 === n) return n;
  return s.charCodeAt(i + 1) === 0x20 ? i + 2 : -1;
}
let tagLen = 0;
let tagPidStart = -1;
let tagPidEnd = -1;

/**
 * The BSD timestamp at the start of `s`, scanned by hand. Equivalent to (and written to give
 * exactly the matches of) the expression
 * `^([A-Z][a-z]{2}) {1,2}(\d{1,2})(?: (\d{4}))? (\d{2}):(\d{2}):(\d{2})(?:[.:](\d{1,6}))?(?: (\d{4})(?= ))?(?:(?: ([A-Z]{2,5}))?(:))?(?: |$)`:
 * month, day (space- or zero-padded), an optional year before (Huawei) or after (H3C) the
 * time, an optional fraction, and Cisco's zone name and trailing colon. The optional tail
 * parts are tried in the order that expression's backtracking tries them.
 * Returns the match length, or -1; the captures are left in the `bsd*` variables.
 */
function matchBsd(s: string): number {
  if (!isUpper(s.charCodeAt(0)) || !isLower(s.charCodeAt(1)) || !isLower(s.charCodeAt(2)) || s.charCodeAt(3) !== 0x20) return -1;
  let p = s.charCodeAt(4) === 0x20 ? 5 : 4;
  if (!isDigit(s.charCodeAt(p))) return -1;
  let day = s.charCodeAt(p) - 0x30;
  p++;
  if (isDigit(s.charCodeAt(p))) {
    day = day * 10 + s.charCodeAt(p) - 0x30;
    p++;
  }
  bsdDay = day;
  bsdYear = -1;
  if (s.charCodeAt(p) === 0x20) {
    const y = four(s, p + 1);
    if (y >= 0) {
      bsdYear = y;
      p += 5;
    }
  }
  // " HH:MM:SS"
  if (
    s.charCodeAt(p) !== 0x20 || !isDigit(s.charCodeAt(p + 1)) || !isDigit(s.charCodeAt(p + 2)) || s.charCodeAt(p + 3) !== 0x3a ||
    !isDigit(s.charCodeAt(p + 4)) || !isDigit(s.charCodeAt(p + 5)) || s.charCodeAt(p + 6) !== 0x3a ||
    !isDigit(s.charCodeAt(p + 7)) || !isDigit(s.charCodeAt(p + 8))
  )
    return -1;
  bsdHour = two(s, p + 1);
  bsdMinute = two(s, p + 4);
  bsdSecond = two(s, p + 7);
  p += 9;
  // Fraction: the whole digit run when it is 1..6 long (a shorter one would leave a digit
  // that nothing after it accepts), else none.
  let fEnd = -1;
  const f0 = s.charCodeAt(p);
  if (f0 === 0x2e || f0 === 0x3a) {
    let q = p + 1;
    while (q < s.length && isDigit(s.charCodeAt(q))) q++;
    if (q - p - 1 >= 1 && q - p - 1 <= 6) fEnd = q;
  }
  for (let f = 0; f < 2; f++) {
    const a = f === 0 ? fEnd : p;
    if (a < 0) continue;
    for (let y = 0; y < 2; y++) {
      let b = a;
      if (y === 0) {
        if (s.charCodeAt(a) !== 0x20 || four(s, a + 1) < 0 || s.charCodeAt(a + 5) !== 0x20) continue;
        b = a + 5;
      }
      for (let z = 0; z < 3; z++) {
        let c = b;
        let zoneEnd = -1;
        if (z === 0) {
          if (s.charCodeAt(b) !== 0x20) continue;
          let k = b + 1;
          while (k < s.length && isUpper(s.charCodeAt(k))) k++;
          if (k - b - 1 < 2 || k - b - 1 > 5 || s.charCodeAt(k) !== 0x3a) continue;
          zoneEnd = k;
          c = k + 1;
        } else if (z === 1) {
          if (s.charCodeAt(b) !== 0x3a) continue;
          c = b + 1;
        }
        let end: number;
        if (c === s.length) end = c;
        else if (s.charCodeAt(c) === 0x20) end = c + 1;
        else continue;
        bsdFracStart = f === 0 ? p + 1 : -1;
        bsdFracEnd = a;
        bsdYearAfter = y === 0 ? four(s, a + 1) : -1;
        bsdZoneStart = zoneEnd >= 0 ? b + 1 : -1;
        bsdZoneEnd = zoneEnd;
        bsdColon = z < 2;
        return end;
      }
    }
  }
  return -1;
}
let bsdDay = 0;
let bsdYear = -1;
let bsdHour = 0;
let bsdMinute = 0;
let bsdSecond = 0;
let bsdFracStart = -1;
let bsdFracEnd = -1;
let bsdYearAfter = -1;
let bsdZoneStart = -1;
let bsdZoneEnd = -1;
let bsdColon = false;

/**
 * Parses the text after PRI as RFC 3164. Always returns parts: when nothing matches the
 * whole text is MSG (the caller decides whether that counts as parsed). Scanned by hand
 * (char codes, no regular expression on the common path): this runs for every line.
 *
 * @example
 * parseRfc3164Body('Nov 29 10:00:00 fw01 sshd[812]: Failed password').procid; // '812'
 */
export function parseRfc3164Body(s: string): Rfc3164Parts {
  // Every field present from the start, in one order (absent ones undefined): one hidden class
  // for all results, so parseSyslog's reads of them stay monomorphic.
  const out: Rfc3164Parts = { bsd: undefined, iso: undefined, timestampText: undefined, sequence: undefined, hostname: undefined, appname: undefined, procid: undefined, msg: s };
  let pos = 0;
  let cisco = false;
  // Only a leading digit can start a Cisco sequence number; skip the regex otherwise.
  const seq = isDigit(s.charCodeAt(0)) ? SEQ_RE.exec(s) : null;
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
  const c0 = rest.charCodeAt(0);
  if (c0 === 0x2a || c0 === 0x2e) {
    // Cisco: '*' = clock not authoritative, '.' = lost sync; the time is kept as written.
    mark = rest[0]!;
    rest = rest.slice(1);
  }
  let afterTs = -1;
  const bsdEnd = matchBsd(rest);
  if (bsdEnd >= 0) {
    const month = monthOf(rest);
    if (month !== 0 && bsdDay >= 1 && bsdDay <= 31 && bsdHour <= 23 && bsdMinute <= 59 && bsdSecond <= 60) {
      const year = bsdYear >= 0 ? bsdYear : bsdYearAfter;
      let millis = 0;
      if (bsdFracStart >= 0) {
        // The first three digits, right-padded with zeros.
        millis = (rest.charCodeAt(bsdFracStart) - 0x30) * 100;
        if (bsdFracStart + 1 < bsdFracEnd) millis += (rest.charCodeAt(bsdFracStart + 1) - 0x30) * 10;
        if (bsdFracStart + 2 < bsdFracEnd) millis += rest.charCodeAt(bsdFracStart + 2) - 0x30;
      }
      let utc = false;
      if (bsdZoneStart >= 0 && bsdZoneEnd - bsdZoneStart === 3) {
        const z = rest.slice(bsdZoneStart, bsdZoneEnd);
        utc = z === 'UTC' || z === 'GMT';
      }
      out.bsd = {
        month,
        day: bsdDay,
        hour: bsdHour,
        minute: bsdMinute,
        second: Math.min(bsdSecond, 59),
        millis,
        utc,
        year: year >= 0 ? year : undefined,
      };
      let e = bsdEnd;
      if (rest.charCodeAt(e - 1) === 0x20) e--;
      if (rest.charCodeAt(e - 1) === 0x3a) e--;
      out.timestampText = mark === '' ? rest.slice(0, e) : mark + rest.slice(0, e);
      afterTs = bsdEnd;
      if (bsdColon) cisco = true;
    }
  } else if (isDigit(rest.charCodeAt(0))) {
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
  const firstEnd = sp === -1 ? rest.length : sp;
  // A first word that is already a TAG (`TAG:` or `TAG[PID]:…`) means there is no HOSTNAME.
  if (firstEnd === 0 || rest.charCodeAt(firstEnd - 1) === 0x3a || startsWithTag(rest, firstEnd)) {
    takeTag(rest, out);
    return out;
  }
  // RFC 3164 §4.1.2: HOSTNAME follows TIMESTAMP.
  out.hostname = rest.slice(0, firstEnd);
  let afterHost = sp === -1 ? rest.length : sp + 1;
  // Cisco ASA with "logging device-id": "HOST : %ASA-…".
  if (rest.charCodeAt(afterHost) === 0x3a && rest.charCodeAt(afterHost + 1) === 0x20) afterHost += 2;
  takeTag(rest.slice(afterHost), out);
  return out;
}

/** Whether the word `s[0..end)` (no spaces) is read as a TAG: `TAG[PID]:` (a `TAG:` word ends with a colon). */
function startsWithTag(s: string, end: number): boolean {
  let i = 0;
  while (i < end && isTagChar(s.charCodeAt(i))) i++;
  if (i === 0 || i > 64 || s.charCodeAt(i) !== 0x5b) return false;
  let j = i + 1;
  while (j < end && s.charCodeAt(j) !== 0x5d && !isRegexSpace(s.charCodeAt(j))) j++;
  return j - i - 1 >= 1 && j - i - 1 <= 128 && j + 1 < end && s.charCodeAt(j) === 0x5d && s.charCodeAt(j + 1) === 0x3a;
}

function takeTag(rest: string, out: Rfc3164Parts): void {
  const end = readTag(rest);
  if (end < 0) {
    out.msg = rest;
    return;
  }
  out.appname = rest.slice(0, tagLen);
  if (tagPidStart >= 0) out.procid = rest.slice(tagPidStart, tagPidEnd);
  out.msg = rest.slice(end);
}
