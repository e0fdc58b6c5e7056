/**
 * Wall-clock ↔ instant conversion for syslog timestamps without an offset (RFC 3164 §4.1.2
 * has neither year nor zone), using `Intl` for IANA zone offsets so no tz database ships
 * with us. Offsets are cached per zone and hour: zone transitions fall on hour boundaries
 * in every zone Xiangan targets. On top of that, a (zone, day) whose offset does not change
 * during the day is cached as one number, so converting a wall time is integer arithmetic
 * and one comparison (`Intl` costs ~7 µs a call, `Date.UTC` ~75 ns; a line has ~5 µs).
 */

import { digits } from '../chars.js';

/** The zone of a source that names none (devices in China log local time without an offset). */
export const DEFAULT_TIMEZONE = 'Asia/Shanghai';

const formatters = new Map<string, Intl.DateTimeFormat>();
const offsetCache = new Map<string, Map<number, number>>();
let lastZone = '';
let lastHour = NaN;
let lastOff = 0;
const MAX_CACHE = 50_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`). */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  return era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468;
}

const isInt = (v: number): boolean => (v | 0) === v;

/**
 * `Date.UTC(year, month - 1, day, hour, minute, second, ms)` with the same results (fields
 * out of range roll over), by integer arithmetic for the common case — years from 100 on
 * (`Date.UTC` reads 0..99 as 1900..1999) and small integer fields.
 *
 * @example
 * utcMs(2026, 11, 29, 10, 0, 0, 0) === Date.UTC(2026, 10, 29, 10); // true
 */
export function utcMs(year: number, month: number, day: number, hour: number, minute: number, second: number, ms: number): number {
  if (year >= 100 && year <= 200_000 && isInt(year) && month >= 1 && month <= 12 && isInt(month) && isInt(day) && isInt(hour) && isInt(minute) && isInt(second) && isInt(ms)) {
    return daysFromCivil(year, month, day) * DAY + hour * HOUR + minute * 60_000 + second * 1000 + ms;
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

/** Days in month `m` (1..12) of year `y` (proleptic Gregorian). */
function monthDays(y: number, m: number): number {
  if (m === 2) return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/**
 * `Date.parse(text)`, read by char codes when `text` is what {@link isoTime} and
 * `Date#toISOString` write for the years 100..9999 (`YYYY-MM-DDTHH:mm:ss.sssZ`, ECMA-262
 * §21.4.1.32 Date Time String Format, every field in its range); anything else goes to
 * `Date.parse` itself, so the result is the same for any string. Why: the store reads every
 * event's `@timestamp` back to milliseconds, and `Date.parse` cost ~0.3–0.7 µs of it.
 *
 * @example
 * isoMs('2026-11-29T10:00:00.123Z') === Date.parse('2026-11-29T10:00:00.123Z'); // true
 */
export function isoMs(text: string): number {
  if (
    text.length === 24 && text.charCodeAt(4) === 0x2d && text.charCodeAt(7) === 0x2d && text.charCodeAt(10) === 0x54 &&
    text.charCodeAt(13) === 0x3a && text.charCodeAt(16) === 0x3a && text.charCodeAt(19) === 0x2e && text.charCodeAt(23) === 0x5a
  ) {
    const y = digits(text, 0, 4);
    const mo = digits(text, 5, 2);
    const d = digits(text, 8, 2);
    const h = digits(text, 11, 2);
    const mi = digits(text, 14, 2);
    const s = digits(text, 17, 2);
    const ms = digits(text, 20, 3);
    if (y >= 100 && mo >= 1 && mo <= 12 && d >= 1 && d <= monthDays(y, mo) && h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && s >= 0 && s <= 59 && ms >= 0) {
      return daysFromCivil(y, mo, d) * DAY + h * HOUR + mi * 60_000 + s * 1000 + ms;
    }
  }
  return Date.parse(text);
}

const pad2 = (n: number): string => (n < 10 ? '0' : '') + n;

/** `YYYY-MM-DDTHH:MM:SS` of a second since the epoch in years 1970..9999 (civil from days, H. Hinnant). */
function civilSeconds(sec: number): string {
  const days = Math.floor(sec / 86400);
  let rem = sec - days * 86400;
  const hh = Math.floor(rem / 3600);
  rem -= hh * 3600;
  const mi = Math.floor(rem / 60);
  const ss = rem - mi * 60;
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${y}-${pad2(m)}-${pad2(d)}T${pad2(hh)}:${pad2(mi)}:${pad2(ss)}`;
}

// A stream's timestamps cluster in a few seconds: the "YYYY-MM-DDTHH:MM:SS" part is cached
// per second (direct-mapped, hashed so that times a minute apart do not collide) and only
// the milliseconds are appended. `Date#toISOString` costs ~0.9 µs.
const SEC_SLOTS = 1024;
const secKey = new Float64Array(SEC_SLOTS).fill(NaN);
const secText: string[] = new Array<string>(SEC_SLOTS).fill('');
const MS_TEXT = Array.from({ length: 1000 }, (_, i) => '.' + String(i).padStart(3, '0') + 'Z');

// Whole texts are cached per millisecond too (direct-mapped by the time's last 10 bits): a
// stream's events share their instants (a device's second, the receive time of one read's lines),
// and the cached text is one flat string, where the concatenation above made a new cons string
// for each call, which the JSON writer then had to flatten (a copy into a new string) on its first
// scan; an event carries two or three of them (`@timestamp`, `event.ingested`, `event.created`).
const MS_SLOTS = 1024;
const msKey = new Float64Array(MS_SLOTS).fill(NaN);
const msText: string[] = new Array<string>(MS_SLOTS).fill('');

/**
 * `new Date(ms).toISOString()`, fast for integer times in the years 1970..9999 (the others,
 * and invalid times, go to `Date`, which throws a RangeError for those).
 *
 * @example
 * isoTime(0); // '1970-01-01T00:00:00.000Z'
 */
export function isoTime(ms: number): string {
  if (!(ms >= 0 && ms < 253402300800000) || Math.floor(ms) !== ms) return new Date(ms).toISOString();
  const at = ms % MS_SLOTS;
  if (msKey[at] === ms) return msText[at]!;
  const sec = Math.floor(ms / 1000);
  const slot = Math.imul(sec, 0x9e3779b1) >>> 22;
  if (secKey[slot] !== sec) {
    secKey[slot] = sec;
    secText[slot] = civilSeconds(sec);
  }
  // `join` lays the two parts out in one sequential string.
  const text = [secText[slot]!, MS_TEXT[ms - sec * 1000]!].join('');
  msKey[at] = ms;
  msText[at] = text;
  return text;
}

/** The UTC calendar year of an instant (`new Date(t).getUTCFullYear()` without the Date). */
function utcYear(t: number): number {
  const z = Math.floor(t / DAY) + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  return yoe + era * 400 + (mp >= 10 ? 1 : 0);
}

/**
 * Checks that `zone` is an IANA zone `Intl` knows; misuse throws a RangeError.
 *
 * @example
 * assertTimeZone('Asia/Shanghai');
 */
export function assertTimeZone(zone: string): void {
  formatter(zone);
}

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  return f;
}

/**
 * Offset of `zone` from UTC at instant `t` (ms), in ms (e.g. +8 h for Asia/Shanghai).
 *
 * @example
 * zoneOffset('Asia/Shanghai', Date.UTC(2026, 0, 1)); // 28800000
 */
export function zoneOffset(zone: string, t: number): number {
  const hour = Math.floor(t / HOUR);
  // Fast path: consecutive messages of one source share zone and hour.
  if (zone === lastZone && hour === lastHour) return lastOff;
  let perZone = offsetCache.get(zone);
  if (perZone === undefined) {
    if (offsetCache.size >= 1000) offsetCache.clear();
    perZone = new Map();
    offsetCache.set(zone, perZone);
  }
  let off = perZone.get(hour);
  if (off === undefined) {
    const parts = formatter(zone).formatToParts(new Date(hour * HOUR));
    const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? '0');
    const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
    off = asUtc - hour * HOUR;
    if (perZone.size >= MAX_CACHE) perZone.clear();
    perZone.set(hour, off);
  }
  lastZone = zone;
  lastHour = hour;
  lastOff = off;
  return off;
}

/**
 * The instant of a wall-clock time in `zone`. In a DST gap or overlap the earlier
 * valid reading is taken (as rsyslog and Java's ZonedDateTime do).
 *
 * @example
 * wallToInstant('Asia/Shanghai', 2026, 11, 29, 10, 0, 0, 0); // Date.UTC(2026, 10, 29, 2)
 */
export function wallToInstant(
  zone: string,
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms: number,
): number {
  const guess = utcMs(year, month, day, hour, minute, second, ms);
  if (guess >= -8.64e15 && guess <= 8.64e15) {
    const off = dayOffset(zone, Math.floor(guess / DAY));
    if (off === off) return guess - off;
  }
  const off1 = zoneOffset(zone, guess);
  const t1 = guess - off1;
  const off2 = zoneOffset(zone, t1);
  return off2 === off1 ? t1 : guess - Math.max(off1, off2);
}

const dayCache = new Map<string, Map<number, number>>();
const daySeen = new Map<string, Map<number, number>>();
let lastDayZone = '';
let lastDay = NaN;
let lastDayOff = NaN;
/** Conversions of a (zone, day) before its offset is checked and cached (checking costs ~40 `Intl` calls). */
const DAY_CHECK_AFTER = 8;

function perZone(cache: Map<string, Map<number, number>>, zone: string): Map<number, number> {
  let m = cache.get(zone);
  if (m === undefined) {
    if (cache.size >= 1000) cache.clear();
    m = new Map();
    cache.set(zone, m);
  }
  return m;
}

/**
 * The offset of `zone` on the UTC calendar day `day` (days since 1970) when it is the same
 * for every hour {@link wallToInstant} consults for a wall time of that day — the day itself
 * and the day shifted by the offset — else NaN (a transition day, or a day not seen often
 * enough yet, takes the general path). Then `wallToInstant` of a wall time `w` on that day is
 * exactly `w - offset`. A day is checked only once it has been seen a few times, so a stream
 * of scattered dates (a historical import, garbage clocks) does not pay for checks it never uses.
 */
function dayOffset(zone: string, day: number): number {
  if (day === lastDay && zone === lastDayZone) return lastDayOff;
  const checked = perZone(dayCache, zone);
  let off = checked.get(day);
  if (off === undefined) {
    const seen = perZone(daySeen, zone);
    const n = (seen.get(day) ?? 0) + 1;
    if (n < DAY_CHECK_AFTER) {
      if (seen.size >= 4096) seen.clear();
      seen.set(day, n);
      return NaN;
    }
    seen.delete(day);
    const start = day * DAY;
    off = zoneOffset(zone, start);
    const lo = Math.floor(Math.min(start, start - off) / HOUR) * HOUR;
    const hi = Math.max(start + DAY, start + DAY - off);
    for (let t = lo; t < hi; t += HOUR) {
      if (zoneOffset(zone, t) !== off) {
        off = NaN;
        break;
      }
    }
    if (checked.size >= 4096) checked.clear();
    checked.set(day, off);
  }
  lastDayZone = zone;
  lastDay = day;
  lastDayOff = off;
  return off;
}

let yearAt = NaN;
let yearZone = '';
let yearOf = 0;

/**
 * Infers the missing year of an RFC 3164 timestamp: the year (of receipt −1, 0 or +1,
 * in `zone`) that puts the time closest to `receivedAt`. A "Dec 31 23:59:59" received
 * at "Jan 1 00:00:05" thus lands in the old year, and a device clock slightly ahead
 * across New Year lands in the new one.
 *
 * @example
 * inferYear('Asia/Shanghai', 12, 31, 23, 59, 59, 0, Date.UTC(2026, 11, 31, 16, 0, 5)); // instant in 2026
 */
export function inferYear(
  zone: string,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms: number,
  receivedAt: number,
): number | undefined {
  // The receipt year in the zone: the same for the lines of one read (one receivedAt), kept.
  if (receivedAt !== yearAt || zone !== yearZone) {
    yearAt = receivedAt;
    yearZone = zone;
    yearOf = utcYear(receivedAt + zoneOffset(zone, receivedAt));
  }
  const y = yearOf;
  const leapDay = month === 2 && day === 29;
  // Feb 29 exists only in leap years: skip candidates where the date would roll over.
  const valid = (yr: number): boolean => !leapDay || (yr % 4 === 0 && (yr % 100 !== 0 || yr % 400 === 0));
  let best: number | undefined;
  let bestDist = Infinity;
  // The receipt year first: within ±182 days of receipt no other year can be closer.
  for (let k = 0; k < 3; k++) {
    const cand = k === 0 ? y : k === 1 ? y - 1 : y + 1;
    if (!valid(cand)) continue;
    const t = wallToInstant(zone, cand, month, day, hour, minute, second, ms);
    const d = Math.abs(t - receivedAt);
    if (d < bestDist) {
      bestDist = d;
      best = t;
    }
    if (cand === y && d <= 182 * 86_400_000) break;
  }
  return best;
}
