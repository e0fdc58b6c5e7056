/**
 * IPv4/IPv6 parsing and CIDR containment for the `cidr` modifier and threat-intel lists.
 * Addresses become 16-byte arrays (IPv4 as IPv4-mapped IPv6, RFC 4291 §2.5.5.2) so one
 * comparison serves both families.
 */
import { isIPv6 } from 'node:net';
import { RuleError } from './errors.js';

/** A parsed CIDR block. */
export interface Cidr {
  bytes: Uint8Array;
  prefix: number;
}

function v4bytes(s: string): Uint8Array {
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  const p = s.split('.');
  for (let i = 0; i < 4; i++) out[12 + i] = Number(p[i]);
  return out;
}

/**
 * A dotted-quad IPv4 address as an unsigned 32-bit number, or -1 when `s` is not exactly one
 * (the same strings `net.isIPv4` accepts: four decimal octets 0-255 without leading zeros),
 * without a regular expression or an allocation.
 *
 * @example
 * v4int('10.0.0.1') // 167772161
 */
export function v4int(s: string): number {
  const len = s.length;
  if (len < 7 || len > 15) return -1;
  let n = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  let lead = false;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      n = n * 256 + octet;
      dots++;
      octet = 0;
      digits = 0;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9) return -1;
    if (digits === 0) lead = d === 0;
    else if (lead) return -1;
    octet = octet * 10 + d;
    if (++digits > 3 || octet > 255) return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return n * 256 + octet;
}

/**
 * Parse an IP address into 16 bytes, or return undefined if it is not one.
 *
 * @example
 * parseIp('10.0.0.1')?.[15] // 1
 */
export function parseIp(s: string): Uint8Array | undefined {
  if (s.length > 64) return undefined;
  if (v4int(s) >= 0) return v4bytes(s);
  // Every IPv6 form has a colon: most non-addresses stop here without the costly isIPv6.
  if (!s.includes(':')) return undefined;
  let t = s;
  const pct = t.indexOf('%');
  if (pct >= 0) t = t.slice(0, pct);
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  if (!isIPv6(t)) return undefined;
  const out = new Uint8Array(16);
  let tail: string[] = [];
  let head: string[];
  const dbl = t.indexOf('::');
  if (dbl >= 0) {
    head = t.slice(0, dbl) ? t.slice(0, dbl).split(':') : [];
    tail = t.slice(dbl + 2) ? t.slice(dbl + 2).split(':') : [];
  } else head = t.split(':');
  const words = (parts: string[]): number[] => {
    const w: number[] = [];
    for (const p of parts) {
      if (p.includes('.')) {
        const b = v4bytes(p);
        w.push((b[12] << 8) | b[13], (b[14] << 8) | b[15]);
      } else w.push(parseInt(p, 16));
    }
    return w;
  };
  const hw = words(head);
  const tw = words(tail);
  const all = [...hw, ...new Array(8 - hw.length - tw.length).fill(0), ...tw];
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i] >> 8;
    out[2 * i + 1] = all[i] & 0xff;
  }
  return out;
}

/**
 * Parse `a.b.c.d/n` or `v6::/n` (a bare address is a /32 or /128).
 *
 * @example
 * cidrContains(parseCidr('10.0.0.0/8'), parseIp('10.1.2.3')!) // true
 */
export function parseCidr(s: string): Cidr {
  const slash = s.indexOf('/');
  const addr = slash >= 0 ? s.slice(0, slash) : s;
  const bytes = parseIp(addr.trim());
  if (!bytes) throw new RuleError('RULE_ERR_VALUE', `not a CIDR block: ${JSON.stringify(s.slice(0, 80))}`);
  const v4 = v4int(addr.trim()) >= 0;
  const max = v4 ? 32 : 128;
  const n = slash >= 0 ? Number(s.slice(slash + 1)) : max;
  if (!Number.isInteger(n) || n < 0 || n > max) throw new RuleError('RULE_ERR_VALUE', `bad CIDR prefix in ${JSON.stringify(s.slice(0, 80))}`);
  return { bytes, prefix: v4 ? n + 96 : n };
}

/**
 * For an IPv4 block (`a.b.c.d/n`, or an IPv4-mapped IPv6 block of /96 or longer): its network
 * and mask as 32-bit numbers, so IPv4 values are tested with {@link v4int} and no allocation.
 * Undefined for other IPv6 blocks.
 */
export function cidrV4(c: Cidr): { net: number; mask: number } | undefined {
  if (c.prefix < 96) return undefined;
  for (let i = 0; i < 10; i++) if (c.bytes[i] !== 0) return undefined;
  if (c.bytes[10] !== 0xff || c.bytes[11] !== 0xff) return undefined;
  const bits = c.prefix - 96;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const net = ((c.bytes[12] << 24) | (c.bytes[13] << 16) | (c.bytes[14] << 8) | c.bytes[15]) >>> 0;
  return { net: (net & mask) >>> 0, mask };
}

/** True when `ip` (16 bytes) lies inside `c`. */
export function cidrContains(c: Cidr, ip: Uint8Array): boolean {
  let bits = c.prefix;
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((c.bytes[i] & mask) !== (ip[i] & mask)) return false;
  }
  return true;
}
