/**
 * Small pure helpers shared by the vendor parsers: tolerant number and address readers and
 * key/value scanners. None of them throws on bad data; they return `undefined` instead.
 */
import { isIP } from 'node:net';
import type { EcsEndpoint, EcsEvent } from '../types.js';
import { isoTime, wallToInstant } from '../syslog/time.js';

/**
 * `table[key]` for own keys only: a key from the wire such as `constructor` or `toString`
 * must not find `Object.prototype` members.
 *
 * @example
 * lookup({ '3': 'Network' }, 'constructor'); // undefined
 */
export function lookup<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** How much of a message the secondary field regexes look at: device lines are short, and a hostile 64 KiB line must stay linear. */
export const SCAN_LIMIT = 4096;

/**
 * The first {@link SCAN_LIMIT} characters of `s` (the whole message stays in `message` and `event.original`).
 *
 * @example
 * head('x'.repeat(10000)).length; // 4096
 */
export function head(s: string): string {
  return s.length > SCAN_LIMIT ? s.slice(0, SCAN_LIMIT) : s;
}

/**
 * A key from the wire that is safe to use as a property name (no prototype pollution via vendor keys).
 *
 * @example
 * safeKey('__proto__'); // false
 */
export function safeKey(k: string): boolean {
  return k !== '' && k !== '__proto__' && k !== 'constructor' && k !== 'prototype';
}

/**
 * The value as an IP address text if it is one (RFC 791 dotted quad or RFC 4291 text form),
 * else `undefined`. IPv4-mapped forms and zone ids are accepted as `net.isIP` does.
 *
 * @example
 * asIp('10.0.0.1'); // '10.0.0.1'
 * asIp('-');        // undefined
 */
export function asIp(v: string | undefined): string | undefined {
  if (v === undefined || v.length < 2 || v.length > 64) return undefined;
  if (isIpv4(v)) return v;
  // Only an IPv6 text has a colon; the rest of what net.isIP accepts is IPv4, checked above.
  return v.includes(':') && isIP(v) !== 0 ? v : undefined;
}

/**
 * A dotted quad as `net.isIP` accepts it (RFC 791 text form: four decimal octets 0..255, no
 * leading zeros), checked from char codes (net.isIP runs a regular expression).
 *
 * @example
 * isIpv4('10.0.0.1'); // true
 * isIpv4('10.0.0.01'); // false
 */
export function isIpv4(v: string): boolean {
  return ipv4Value(v) >= 0;
}

/**
 * The 32-bit value of a dotted quad as {@link isIpv4} accepts it, or -1 for any other text.
 *
 * @example
 * ipv4Value('10.0.0.1'); // 167772161
 * ipv4Value('10.0.0.01'); // -1
 */
export function ipv4Value(v: string): number {
  const n = v.length;
  if (n < 7 || n > 15) return -1;
  let i = 0;
  let value = 0;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (v.charCodeAt(i) !== 0x2e) return -1;
      i++;
    }
    const start = i;
    let octet = 0;
    while (i < n && i - start < 4) {
      const c = v.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      octet = octet * 10 + c - 0x30;
      i++;
    }
    const len = i - start;
    if (len === 0 || len > 3 || octet > 255 || (len > 1 && v.charCodeAt(start) === 0x30)) return -1;
    value = value * 256 + octet;
  }
  return i === n ? value : -1;
}

/**
 * A non-negative decimal integer (at most 15 digits, so it stays a safe integer), else `undefined`.
 *
 * @example
 * asInt('22'); // 22
 * asInt('x');  // undefined
 */
export function asInt(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const len = v.length;
  if (len === 0 || len > 15) return undefined;
  // Accumulated here (exact below 2^53): Number(text) parses the string a second time.
  let n = 0;
  for (let i = 0; i < len; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
    n = n * 10 + c - 48;
  }
  return n;
}

/**
 * A TCP/UDP port (0..65535) from text, else `undefined`.
 *
 * @example
 * asPort('65536'); // undefined
 */
export function asPort(v: string | undefined): number | undefined {
  const n = asInt(v);
  return n !== undefined && n <= 65535 ? n : undefined;
}

/**
 * A hexadecimal (`0x1a2b`) or decimal integer, as Windows writes process ids.
 *
 * @example
 * asHexOrInt('0x1a2c'); // 6700
 */
export function asHexOrInt(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  if (/^0x[0-9a-f]{1,12}$/i.test(v)) return parseInt(v.slice(2), 16);
  return asInt(v);
}

/** Where {@link setEndpoint} writes. */
export type EndpointPrefix = 'source' | 'destination' | 'source.nat' | 'destination.nat';

/** The endpoint object at `source`, `destination`, `source.nat` or `destination.nat`, created on demand. */
function endpoint(ev: EcsEvent, prefix: EndpointPrefix): EcsEndpoint {
  switch (prefix) {
    case 'source':
      return (ev.source ??= {});
    case 'destination':
      return (ev.destination ??= {});
    case 'source.nat':
      return ((ev.source ??= {}).nat ??= {});
    default:
      return ((ev.destination ??= {}).nat ??= {});
  }
}

const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/;

/**
 * Sets `prefix.ip` (or `prefix.domain` when the value is a host name) and `prefix.port`;
 * `prefix` is `source`, `destination`, `source.nat` or `destination.nat` (NAT has no domain).
 *
 * @example
 * setEndpoint(ev, 'source', '10.0.0.1', '22'); // ev.source = { ip: '10.0.0.1', port: 22 }
 */
export function setEndpoint(ev: EcsEvent, prefix: EndpointPrefix, host: string | undefined, port?: string | number): void {
  if (host !== undefined && host !== '' && host !== '-') {
    const ip = asIp(host);
    if (ip !== undefined) endpoint(ev, prefix).ip = ip;
    else if ((prefix === 'source' || prefix === 'destination') && HOST_NAME.test(host)) endpoint(ev, prefix).domain = host;
  }
  const p = typeof port === 'number' ? (port >= 0 && port <= 65535 ? port : undefined) : asPort(port);
  if (p !== undefined) endpoint(ev, prefix).port = p;
}

/**
 * Lower-cased IANA protocol name for a number or name (`6` → `tcp`), as ECS `network.transport` wants.
 *
 * @example
 * transportName('17'); // 'udp'
 */
export function transportName(v: string | undefined): string | undefined {
  if (v === undefined || v === '') return undefined;
  switch (v) {
    case '6':
      return 'tcp';
    case '17':
      return 'udp';
    case '1':
      return 'icmp';
    case '58':
      return 'ipv6-icmp';
    case '47':
      return 'gre';
    case '50':
      return 'esp';
    // The names firewalls write most (iptables PROTO=TCP, ASA), without the regex below.
    case 'TCP':
    case 'tcp':
      return 'tcp';
    case 'UDP':
    case 'udp':
      return 'udp';
    case 'ICMP':
    case 'icmp':
      return 'icmp';
    default:
      return /^[A-Za-z][A-Za-z0-9-]{0,15}$/.test(v) ? v.toLowerCase() : undefined;
  }
}

/**
 * The keys a parser reads from `key=value` text, each with a slot number (its index in
 * `names`). {@link scanKv} files each value it finds under its key's slot, looking the key up
 * in place — by length and first character, then `startsWith` — so no key text is sliced,
 * hashed or made a property (one property per key on a fresh object per line cost more than
 * the rest of the parse).
 *
 * @example
 * const K = new KvKeys(['srcip', 'dstip']);
 * scanKv('srcip=10.0.0.1 x=1 dstip=10.0.0.2', K); // ['10.0.0.1', '10.0.0.2']
 */
export class KvKeys {
  /** `length * 128 + first char code` (ASCII) → [name, slot, name, slot, …]. */
  private readonly buckets: Array<Array<string | number> | undefined> = [];
  /** One `undefined` per key: {@link scanKv} copies it (a copy costs less than `new Array(n).fill(undefined)`). */
  readonly empty: ReadonlyArray<string | undefined>;

  constructor(readonly names: readonly string[]) {
    this.empty = new Array<string | undefined>(names.length).fill(undefined);
    names.forEach((name, slot) => {
      const c = name.charCodeAt(0);
      if (name === '' || c >= 128 || !safeKey(name)) throw new RangeError(`KvKeys: bad key ${JSON.stringify(name)}`);
      (this.buckets[name.length * 128 + c] ??= []).push(name, slot);
    });
  }

  /** Slot of the key `s[start..end)`, or -1 when it is not one of `names`. */
  slotOf(s: string, start: number, end: number): number {
    const c = s.charCodeAt(start);
    if (c >= 128) return -1;
    const b = this.buckets[(end - start) * 128 + c];
    if (b === undefined) return -1;
    // Length and first character are equal within a bucket: the rest is compared by char
    // code (inlined by the compiler; a `startsWith` call per candidate cost more than the scan).
    const len = end - start;
    for (let j = 0; j < b.length; j += 2) {
      const name = b[j] as string;
      let k = 1;
      while (k < len && name.charCodeAt(k) === s.charCodeAt(start + k)) k++;
      if (k === len) return b[j + 1] as number;
    }
    return -1;
  }
}

/**
 * Scans `key=value` pairs separated by spaces, where a value may be double- or single-quoted
 * (FortiOS, auditd, iptables), and returns the values of the keys in `keys` by slot
 * (`undefined` when absent; a repeated key: the last value). Quotes are removed; a backslash
 * inside quotes escapes the next character. Linear time: one pass, no regex backtracking;
 * values are found with `indexOf` (native) rather than a loop over characters.
 *
 * @example
 * scanKv('a=1 b="x y" c', new KvKeys(['a', 'b'])); // ['1', 'x y']   (bare word `c` ignored)
 */
export function scanKv(s: string, keys: KvKeys): Array<string | undefined> {
  const out = keys.empty.slice();
  const len = s.length;
  // Escapes need the slow path; most lines have no backslash at all.
  const escapes = s.indexOf('\\') >= 0;
  let i = 0;
  // The next `=` and the next space at or after `i`, found with indexOf (native) and searched
  // again only once `i` has passed them: a key ends at an `=` before the next space, else the
  // token is a bare word. A JavaScript loop over the key's characters cost more than the calls.
  let eq = -1;
  let sp = -1;
  while (i < len) {
    while (i < len && s.charCodeAt(i) === 32) i++;
    if (i >= len) break;
    const ks = i;
    if (eq < i) {
      eq = s.indexOf('=', i);
      if (eq < 0) break;
    }
    if (sp < i) {
      sp = s.indexOf(' ', i);
      if (sp < 0) sp = len;
    }
    if (sp < eq) {
      i = sp;
      continue;
    }
    i = eq;
    const slot = i > ks ? keys.slotOf(s, ks, i) : -1;
    i++;
    let value: string;
    const q = s.charCodeAt(i);
    if (q === 34 || q === 39) {
      i++;
      if (!escapes) {
        let end = s.indexOf(q === 34 ? '"' : "'", i);
        if (end < 0) end = len;
        value = slot >= 0 ? s.slice(i, end) : '';
        i = end + 1;
      } else {
        let buf = '';
        let start = i;
        while (i < len && s.charCodeAt(i) !== q) {
          if (s.charCodeAt(i) === 92 && i + 1 < len) {
            buf += s.slice(start, i);
            i++;
            start = i;
          }
          i++;
        }
        value = buf + s.slice(start, i);
        i++;
      }
    } else {
      // The first space after the key is the first after the `=`.
      value = slot >= 0 ? s.slice(i, sp) : '';
      i = sp;
    }
    if (slot >= 0) out[slot] = value;
  }
  return out;
}

const isSpace = (c: number): boolean => c === 32 || c === 9;

/**
 * Splits a delimited list of `key<kv>value` items (`a=1, b=2` or `源IP:1.2.3.4，目的IP:…`):
 * any character of `itemSeps` ends an item, the first character of `kvSeps` in it splits key
 * from value (one or two characters each); both sides are trimmed and a double-quoted value is unquoted. An item without a
 * key separator belongs to the previous value (a comma inside a value). One pass over char
 * codes, slicing only keys and values.
 *
 * @example
 * splitPairs('User=admin, Ip=10.0.0.1', ',', '='); // { User: 'admin', Ip: '10.0.0.1' }
 * splitPairs('源IP：1.2.3.4，动作：拒绝', ',，', ':：'); // { 源IP: '1.2.3.4', 动作: '拒绝' }
 */
export function splitPairs(s: string, itemSeps: string, kvSeps: string): Record<string, string> {
  if (itemSeps.length < 1 || itemSeps.length > 2 || kvSeps.length < 1 || kvSeps.length > 2)
    throw new RangeError('splitPairs: one or two separator characters each');
  const out: Record<string, string> = {};
  let last: string | undefined;
  const n = s.length;
  // Up to two separators each (ASCII and full-width forms). The next position of each at or
  // after `start` is found with indexOf (native) and searched again only once `start` has
  // passed it: linear in the length of `s` overall.
  const c1 = itemSeps[0]!;
  const c2 = itemSeps.length > 1 ? itemSeps[1]! : c1;
  const d1 = kvSeps[0]!;
  const d2 = kvSeps.length > 1 ? kvSeps[1]! : d1;
  let pi1 = -1;
  let pi2 = -1;
  let pk1 = -1;
  let pk2 = -1;
  const next = (ch: string, from: number): number => {
    const i = s.indexOf(ch, from);
    return i < 0 ? n : i;
  };
  let start = 0;
  while (start <= n) {
    if (pi1 < start) pi1 = next(c1, start);
    if (pi2 < start) pi2 = c2 === c1 ? pi1 : next(c2, start);
    if (pk1 < start) pk1 = next(d1, start);
    if (pk2 < start) pk2 = d2 === d1 ? pk1 : next(d2, start);
    const end = pi1 < pi2 ? pi1 : pi2;
    const k = pk1 < pk2 ? pk1 : pk2;
    const kv = k < end ? k : -1;
    let ks = start;
    while (ks < end && isSpace(s.charCodeAt(ks))) ks++;
    if (kv <= ks) {
      // No key: a continuation of the previous value (or an empty item).
      if (last !== undefined && ks < end) out[last] += s.slice(start - 1, end);
    } else {
      let ke = kv;
      while (ke > ks && isSpace(s.charCodeAt(ke - 1))) ke--;
      let vs = kv + 1;
      let ve = end;
      while (vs < ve && isSpace(s.charCodeAt(vs))) vs++;
      while (ve > vs && isSpace(s.charCodeAt(ve - 1))) ve--;
      if (ve - vs >= 2 && s.charCodeAt(vs) === 34 && s.charCodeAt(ve - 1) === 34) {
        vs++;
        ve--;
      }
      const key = s.slice(ks, ke);
      if (ke - ks <= 64 && safeKey(key)) {
        out[key] = s.slice(vs, ve);
        last = key;
      }
    }
    start = end + 1;
  }
  return out;
}

/**
 * Base name of a Windows or POSIX path.
 *
 * @example
 * baseName('C:\\Windows\\cmd.exe'); // 'cmd.exe'
 */
export function baseName(p: string): string {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  return i >= 0 ? p.slice(i + 1) : p;
}

/**
 * Directory part of a Windows or POSIX path (`''` when none).
 *
 * @example
 * dirName('/usr/bin/id'); // '/usr/bin'
 */
export function dirName(p: string): string {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  return i > 0 ? p.slice(0, i) : '';
}

/**
 * Extension without the dot, lower-cased, of a file name (`''` when none).
 *
 * @example
 * extName('报告.PS1'); // 'ps1'
 */
export function extName(name: string): string {
  const i = name.lastIndexOf('.');
  return i > 0 && i < name.length - 1 ? name.slice(i + 1).toLowerCase() : '';
}

/**
 * Sets the ECS categorisation fields in one call.
 *
 * @example
 * categorise(ev, ['authentication'], ['start'], 'ssh_login', 'failure');
 */
export function categorise(
  ev: EcsEvent,
  category: string[],
  type: string[],
  action?: string,
  outcome?: 'success' | 'failure' | 'unknown',
): void {
  ev.event.category = category;
  ev.event.type = type;
  if (action !== undefined) ev.event.action = action;
  if (outcome !== undefined) ev.event.outcome = outcome;
}

/**
 * Marks the observer (the device that emitted the log) per ECS `observer.*`.
 *
 * @example
 * observer(ev, 'Huawei', 'USG', 'firewall');
 */
export function observer(ev: EcsEvent, vendor: string, product: string, type: string): void {
  const o = (ev.observer ??= {});
  o.vendor = vendor;
  o.product = product;
  o.type = type;
  const h = ev.log?.syslog?.hostname;
  if (h !== undefined && o.hostname === undefined) o.hostname = h;
}

/**
 * Action words of firewalls mapped to ECS `event.type` and `event.outcome`.
 *
 * @example
 * verdict('被阻断'); // { type: 'denied', outcome: 'failure' }
 */
export function verdict(action: string | undefined): { type: 'allowed' | 'denied'; outcome: 'success' | 'failure' } | undefined {
  if (action === undefined) return undefined;
  const a = action.toLowerCase();
  if (/^(deny|denied|drop|dropped|block|blocked|reject|rejected|discard|reset|refuse|阻断|拒绝|丢弃|被阻断|被拒绝)/.test(a))
    return { type: 'denied', outcome: 'failure' };
  if (/^(permit|permitted|accept|accepted|allow|allowed|pass|passed|close|start|允许|放行|被记录|记录)/.test(a))
    return { type: 'allowed', outcome: 'success' };
  return undefined;
}

/**
 * Time zone offset text (`+0800`, `+08:00`) normalised to `+08:00`, else `undefined`.
 *
 * @example
 * tzOffset('+0800'); // '+08:00'
 */
export function tzOffset(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(v);
  return m ? `${m[1]}${m[2]}:${m[3]}` : undefined;
}

/**
 * `YYYY-MM-DD` (or `/`) plus `HH:MM:SS` and an offset to an ISO string in UTC, else `undefined`.
 * Used for device timestamps that carry their own offset (FortiOS `tz=`, Huawei `+08:00`).
 *
 * @example
 * isoFromParts('2026-11-29', '08:00:00', '+08:00'); // '2026-11-29T00:00:00.000Z'
 */
export function isoFromParts(date: string, time: string, offset: string): string | undefined {
  const dm = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$/.exec(date);
  const tm = /^(\d{1,2}):(\d{2}):(\d{2})$/.exec(time);
  if (!dm || !tm) return undefined;
  const pad = (x: string): string => x.padStart(2, '0');
  const ms = Date.parse(`${dm[1]}-${pad(dm[2]!)}-${pad(dm[3]!)}T${pad(tm[1]!)}:${tm[2]}:${tm[3]}${offset}`);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

/**
 * A device's wall-clock time read in IANA zone `zone`, as ISO 8601 UTC; `undefined` for a zone
 * Intl does not know (the caller keeps the receive time rather than guess) or a time outside
 * 1970..9999.
 *
 * @example
 * isoInZone('Asia/Shanghai', 2026, 11, 29, 8, 0, 0, 0); // '2026-11-29T00:00:00.000Z'
 */
export function isoInZone(zone: string, year: number, month: number, day: number, hour: number, minute: number, second: number, ms: number): string | undefined {
  try {
    return isoFromMs(wallToInstant(zone, year, month, day, hour, minute, second, ms));
  } catch {
    return undefined;
  }
}

/**
 * Milliseconds since the epoch to ISO 8601 UTC (`Date#toISOString` format), or `undefined`
 * outside the years 1970..9999. Fractions of a millisecond are dropped.
 *
 * @example
 * isoFromMs(0); // '1970-01-01T00:00:00.000Z'
 */
export function isoFromMs(ms: number): string | undefined {
  if (!(ms >= 0 && ms < 253402300800000)) return undefined;
  return isoTime(Math.floor(ms));
}
