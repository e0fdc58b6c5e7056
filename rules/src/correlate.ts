/**
 * Helpers of the stateful half of the engine (`applyPrematched`: detection matches and
 * correlation state) that do not need the engine's private types.
 */

import { isoTime } from '@xiangan/collectors';
import type { RuleMatch } from './types.js';

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
