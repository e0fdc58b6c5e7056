/**
 * Relative times for `--last 1h` and `?last=15m`: a number and a unit (s, m, h, d, w).
 */

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Milliseconds in a duration such as `90s`, `15m`, `1h`, `7d`, `2w`; `undefined` when malformed.
 *
 * @example
 * ```ts
 * parseDuration('1h'); // 3600000
 * ```
 */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,9})([smhdw])$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNITS[m[2]!]!;
}
