/**
 * Character classes by UTF-16 code, shared by the hand-written scanners (syslog headers,
 * vendor parsers) that replace regular expressions on the hot path. Internal: not re-exported.
 */

/**
 * An ASCII decimal digit.
 *
 * @example
 * isDigit('7'.charCodeAt(0)); // true
 */
export const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/**
 * JavaScript's `\s` (ECMA-262 WhiteSpace and LineTerminator), which `String#trim` also strips.
 *
 * @example
 * isRegexSpace(0x3000); // true (ideographic space)
 */
export function isRegexSpace(c: number): boolean {
  return (
    c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff
  );
}

/**
 * `n` decimal digits at `i` of `s` as a number, or -1 when one of them is not a digit.
 *
 * @example
 * digits('2026-11-29', 5, 2); // 11
 */
export function digits(s: string, i: number, n: number): number {
  let v = 0;
  for (let k = i; k < i + n; k++) {
    const c = s.charCodeAt(k);
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + c - 0x30;
  }
  return v;
}

/**
 * Whether the ASCII text `lit` is at index `at` of `s`, compared by char codes (a
 * `startsWith` call with a position cost more than the comparisons on the hot paths).
 *
 * @example
 * hasAt('Built inbound', 6, 'inbound'); // true
 */
export function hasAt(s: string, at: number, lit: string): boolean {
  const n = lit.length;
  if (at < 0 || at + n > s.length) return false;
  for (let k = 0; k < n; k++) if (s.charCodeAt(at + k) !== lit.charCodeAt(k)) return false;
  return true;
}
