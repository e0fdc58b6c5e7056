/**
 * Named threat-intel lists that rules reference with the Xiangan extension modifier
 * `|xiangan-list` (e.g. `destination.ip|xiangan-list: bad-ips`). The list is resolved when the
 * rule is compiled, so the hot path is a hash lookup (plus a CIDR scan for network entries).
 *
 * Sources: CSV (first column, or a column named `indicator`/`value`/`ip`/`domain`/`url`) and
 * STIX 2.1 bundles of `indicator` objects whose `pattern` is a disjunction of equality
 * comparisons (STIX 2.1 §9 Patterning; e.g. `[ipv4-addr:value = '203.0.113.7']`).
 */
import { RuleError } from './errors.js';
import { cidrContains, cidrV4, parseCidr, parseIp, v4int, type Cidr } from './ip.js';

/** Most entries one list may hold (bounded memory, DESIGN.md convention 6). */
export const MAX_LIST_ENTRIES = 1_000_000;

/**
 * A set of indicators: IPs and CIDR blocks, domains (a listed domain also matches its
 * subdomains), and other values (URLs, hashes) compared case-insensitively.
 *
 * @example
 * const l = new ThreatList('bad'); l.add('203.0.113.0/24'); l.add('evil.example');
 * l.has('203.0.113.9'); l.has('a.evil.example'); // true, true
 */
export class ThreatList {
  readonly name: string;
  private readonly ips = new Set<string>();
  private readonly cidrs: Cidr[] = [];
  // IPv4 fast path (most log addresses): dotted quads and 32-bit network/mask pairs.
  private readonly v4 = new Set<number>();
  private readonly v4nets: { net: number; mask: number }[] = [];
  private readonly domains = new Set<string>();
  private readonly values = new Set<string>();
  private n = 0;
  constructor(name: string) {
    if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new TypeError('list name must be 1-64 of [A-Za-z0-9_.-]');
    this.name = name;
  }
  /** Number of entries added. */
  get size(): number {
    return this.n;
  }
  /** Add one indicator (IP, CIDR, domain, URL, hash…). */
  add(raw: string): void {
    if (typeof raw !== 'string') throw new TypeError('indicator must be a string');
    const v = raw.trim().toLowerCase();
    if (!v) return;
    if (this.n >= MAX_LIST_ENTRIES) throw new RuleError('RULE_ERR_LIMIT', `list ${this.name} exceeds ${MAX_LIST_ENTRIES} entries`);
    this.n++;
    const ip = parseIp(v);
    if (ip) {
      this.ips.add(ipKey(ip));
      const n = v4int(v);
      if (n >= 0) this.v4.add(n);
      return;
    }
    if (v.includes('/') && parseIp(v.slice(0, v.indexOf('/')))) {
      const c = parseCidr(v);
      this.cidrs.push(c);
      if (v4int(v.slice(0, v.indexOf('/'))) >= 0) this.v4nets.push(cidrV4(c)!);
      return;
    }
    if (/^[a-z0-9_-]+(\.[a-z0-9_-]+)+\.?$/.test(v)) {
      this.domains.add(v.replace(/\.$/, ''));
      return;
    }
    this.values.add(v);
  }
  private hasV4(n: number): boolean {
    if (this.v4.has(n)) return true;
    for (const c of this.v4nets) if (((n & c.mask) >>> 0) === c.net) return true;
    return false;
  }

  /** True when the value is listed (subdomains of listed domains included). */
  has(value: unknown): boolean {
    if (typeof value === 'string') {
      // The common case, an IPv4 address as logs write it: no trimming, no regex, no allocation.
      const n = v4int(value);
      if (n >= 0) return this.hasV4(n);
    } else if (typeof value !== 'number') return false;
    const v = String(value).trim().toLowerCase();
    const n = v4int(v);
    if (n >= 0) return this.hasV4(n);
    if (this.values.has(v)) return true;
    const ip = parseIp(v);
    if (ip) {
      if (this.ips.has(ipKey(ip))) return true;
      for (const c of this.cidrs) if (cidrContains(c, ip)) return true;
      return false;
    }
    let d = v.replace(/\.$/, '');
    // Walk up the labels: "a.b.evil.example" → "b.evil.example" → "evil.example" → "example".
    for (let i = 0; i < 16 && d; i++) {
      if (this.domains.has(d)) return true;
      const dot = d.indexOf('.');
      if (dot < 0) break;
      d = d.slice(dot + 1);
    }
    return false;
  }
}


function ipKey(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/**
 * Split one CSV line (RFC 4180 quoting: `"a,b"`, `""` for a quote); an unterminated quoted field
 * is `RULE_ERR_LIST`. Used for threat-intel lists and by the SOC's asset import.
 * @example splitCsvLine('1.2.3.4,"c2, known"') // ['1.2.3.4', 'c2, known']
 */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') q = false;
      else cur += c;
    } else if (c === '"') q = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (q) throw new RuleError('RULE_ERR_LIST', 'unterminated quoted CSV field');
  out.push(cur);
  return out;
}

const CSV_COLUMNS = ['indicator', 'value', 'ioc', 'ip', 'domain', 'url', 'hash'];

/**
 * Build a list from CSV text (RFC 4180 quoting; `#` comment lines skipped). With a header row,
 * the first column named indicator/value/ioc/ip/domain/url/hash is used; else the first column.
 *
 * @example
 * const l = listFromCsv('bad-ips', 'ip,comment\n203.0.113.7,c2\n');
 */
export function listFromCsv(name: string, text: string): ThreatList {
  if (typeof text !== 'string') throw new TypeError('CSV text must be a string');
  const list = new ThreatList(name);
  const lines = text.split(/\r?\n/).filter((l) => l.trim() && !l.trimStart().startsWith('#'));
  if (!lines.length) return list;
  let col = 0;
  const header = splitCsvLine(lines[0]).map((h) => h.trim().toLowerCase());
  const idx = header.findIndex((h) => CSV_COLUMNS.includes(h));
  const hasHeader = idx >= 0 || !header.some((h) => parseIp(h) || h.includes('.'));
  if (idx >= 0) col = idx;
  for (const line of hasHeader ? lines.slice(1) : lines) {
    const cells = splitCsvLine(line);
    if (cells[col] !== undefined) list.add(cells[col]);
  }
  return list;
}

/** What a STIX import kept and skipped. */
export interface StixImport {
  list: ThreatList;
  /** Indicators whose pattern is not a plain disjunction of equalities, or revoked/expired. */
  skipped: { id: string; reason: string }[];
}

const STIX_CMP = /^\s*([a-z0-9-]+):([A-Za-z0-9_.'-]+)\s*=\s*'((?:[^'\\]|\\.)*)'\s*$/;
const STIX_TYPES = new Set(['ipv4-addr', 'ipv6-addr', 'domain-name', 'url', 'file', 'email-addr']);

/**
 * Build a list from a STIX 2.1 bundle (JSON text or parsed). Only `indicator` objects with
 * `pattern_type: stix` and a pattern made of `=` comparisons joined by `OR` are taken; others
 * are reported in `skipped` with the reason. `now` (ISO 8601) drops indicators past `valid_until`.
 *
 * @example
 * const { list } = listFromStix('bad', bundleJson, '2026-01-01T00:00:00Z');
 */
export function listFromStix(name: string, bundle: string | unknown, now?: string): StixImport {
  let b: unknown = bundle;
  if (typeof bundle === 'string') {
    try {
      b = JSON.parse(bundle);
    } catch (e) {
      throw new RuleError('RULE_ERR_LIST', `STIX bundle is not JSON: ${(e as Error).message}`, { cause: e });
    }
  }
  const objs = (b as { type?: unknown; objects?: unknown })?.objects;
  if ((b as { type?: unknown })?.type !== 'bundle' || !Array.isArray(objs)) throw new RuleError('RULE_ERR_LIST', 'not a STIX 2.1 bundle (type "bundle" with "objects")');
  const list = new ThreatList(name);
  const skipped: StixImport['skipped'] = [];
  const nowMs = now ? Date.parse(now) : NaN;
  for (const o of objs as Record<string, unknown>[]) {
    if (!o || o.type !== 'indicator') continue;
    const id = String(o.id ?? '?');
    if (o.revoked === true) {
      skipped.push({ id, reason: 'revoked' });
      continue;
    }
    if (typeof o.valid_until === 'string' && Number.isFinite(nowMs) && Date.parse(o.valid_until) < nowMs) {
      skipped.push({ id, reason: 'expired (valid_until)' });
      continue;
    }
    if (o.pattern_type !== undefined && o.pattern_type !== 'stix') {
      skipped.push({ id, reason: `pattern_type ${String(o.pattern_type)}` });
      continue;
    }
    const pat = typeof o.pattern === 'string' ? o.pattern.trim() : '';
    const m = /^\[(.*)\]$/s.exec(pat);
    if (!m) {
      skipped.push({ id, reason: 'pattern is not one observation expression' });
      continue;
    }
    const parts = m[1].split(/\s+OR\s+/);
    const values: string[] = [];
    let ok = true;
    for (const p of parts) {
      const c = STIX_CMP.exec(p);
      if (!c || !STIX_TYPES.has(c[1])) {
        ok = false;
        break;
      }
      values.push(c[3].replace(/\\(.)/g, '$1'));
    }
    if (!ok) {
      skipped.push({ id, reason: 'pattern uses operators other than = joined by OR' });
      continue;
    }
    for (const v of values) list.add(v);
  }
  return { list, skipped };
}
