/**
 * Helpers of the stateful half of the engine (`applyPrematched`: detection matches and
 * correlation state) that do not need the engine's private types.
 */

import { digits, isoTime, utcMs } from '@xiangan/collectors';
import type { RuleMatch } from './types.js';

/**
 * Milliseconds of an ISO 8601 time: `Date.parse`, with a fast path for the UTC form our events
 * carry (`2026-11-30T08:00:00.000Z`) through the collectors' `utcMs` (integer arithmetic, no call
 * into the runtime). Days 29–31 take the fast path too: `Date.parse` does not check the day
 * against the month and rolls over as `Date.UTC` does (ECMA-262 §21.4.1.28 MakeDay), as `utcMs`
 * does.
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
    if (y >= 1000 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && se >= 0 && se <= 59 && ms >= 0) return utcMs(y, mo, d, h, mi, se, ms);
  }
  return Date.parse(s);
}

/**
 * The `correlation` field of a correlation match: `rules` for the temporal types, else `count`
 * (present even when undefined, as the object spread it replaces made it), and the window as ISO
 * times. A literal per shape instead of a spread (a generic object clone per match) and the
 * collectors' `isoTime` instead of two `Date`s (`new Date(ms).toISOString()` for the same ms,
 * tested there).
 *
 * @example
 * correlationOf('event_count', null, 5, 0, 60_000).windowEnd // '1970-01-01T00:01:00.000Z'
 */
export function correlationOf(type: NonNullable<RuleMatch['correlation']>['type'], rules: string[] | null, count: number | undefined, start: number, end: number): NonNullable<RuleMatch['correlation']> {
  return rules ? { type, rules, windowStart: isoTime(start), windowEnd: isoTime(end) } : { type, count, windowStart: isoTime(start), windowEnd: isoTime(end) };
}
