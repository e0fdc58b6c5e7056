/**
 * Helpers of the stateful half of the engine (`applyPrematched`: detection matches and
 * correlation state) that do not need the engine's private types.
 */

/**
 * Milliseconds of an ISO 8601 time: `Date.parse`, with a fast path for the UTC form our events
 * carry (`2026-11-30T08:00:00.000Z`). Days 29–31 take the fast path too: `Date.parse` does not
 * check the day against the month and rolls over as `Date.UTC` does (ECMA-262 §21.4.1.28
 * MakeDay), which is what the day count below does, being linear in the day.
 *
 * @example
 * parseTime('2026-11-30T08:00:00.000Z') // 1796025600000
 */
export function parseTime(s: string): number {
  if (s.length === 24 && s.charCodeAt(23) === 90 && s.charCodeAt(10) === 84 && s.charCodeAt(4) === 45 && s.charCodeAt(7) === 45 && s.charCodeAt(13) === 58 && s.charCodeAt(16) === 58 && s.charCodeAt(19) === 46) {
    const y = digits(s, 0, 4);
    const mo = digits(s, 5, 2);
    const d = digits(s, 8, 2);
    const h = digits(s, 11, 2);
    const mi = digits(s, 14, 2);
    const se = digits(s, 17, 2);
    const ms = digits(s, 20, 3);
    if (y >= 1000 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && se >= 0 && se <= 59 && ms >= 0) return daysFromCivil(y, mo, d) * 86_400_000 + h * 3_600_000 + mi * 60_000 + se * 1000 + ms;
  }
  return Date.parse(s);
}

/**
 * Days from 1970-01-01 to a proleptic Gregorian date (year ≥ 0), without a call into the
 * runtime as `Date.UTC` makes: H. Hinnant, "chrono-Compatible Low-Level Date Algorithms",
 * `days_from_civil` (years counted from March, so the leap day ends a year).
 */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** The decimal number in `s` at `i..i+n`, or -1 if any character is not a digit. */
function digits(s: string, i: number, n: number): number {
  let v = 0;
  for (let k = i; k < i + n; k++) {
    const c = s.charCodeAt(k) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}
