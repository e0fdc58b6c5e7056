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
