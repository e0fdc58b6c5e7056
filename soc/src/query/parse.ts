/**
 * Text → {@link QueryNode}: a hand-written recursive-descent parser for the grammar in ./ast.ts.
 * Pure and bounded: input length and nesting depth are capped so a hostile query cannot
 * exhaust the stack.
 */
import { isIP } from 'node:net';
import { SocError } from '../errors.js';
import type { CidrNode, QueryNode, RangeNode } from './ast.js';

/** Longest query text accepted. */
export const MAX_QUERY_LENGTH = 8192;
/** Deepest nesting of parentheses and NOT accepted. */
export const MAX_QUERY_DEPTH = 64;

const FIELD_RE = /^[A-Za-z_@][A-Za-z0-9_.@-]*/;
const OPS = [':>=', ':<=', ':>', ':<', '>=', '<=', '>', '<', ':'] as const;

/**
 * Parse a query string. An empty or blank string is `{ kind: 'all' }`.
 * Throws `SocError('SOC_ERR_QUERY')` naming the position of the first problem.
 *
 * @example
 * ```ts
 * parseQuery('source.ip:10.0.0.0/8 AND NOT user.name:root');
 * // { kind: 'and', children: [ { kind: 'cidr', field: 'source.ip', family: 4, prefix: '10.0.0.0', bits: 8 },
 * //                            { kind: 'not', child: { kind: 'term', field: 'user.name', value: 'root' } } ] }
 * ```
 */
export function parseQuery(text: string): QueryNode {
  if (typeof text !== 'string') throw new TypeError('parseQuery: text must be a string');
  if (text.length > MAX_QUERY_LENGTH) {
    throw new SocError('SOC_ERR_QUERY', `query longer than ${MAX_QUERY_LENGTH} characters`);
  }
  const p = new Parser(text);
  p.ws();
  if (p.eof()) return { kind: 'all' };
  const node = p.parseOr(0);
  p.ws();
  if (!p.eof()) p.fail(`unexpected '${p.peek()}'`);
  return node;
}

class Parser {
  pos = 0;
  constructor(readonly s: string) {}

  eof(): boolean {
    return this.pos >= this.s.length;
  }
  peek(): string {
    return this.s[this.pos] ?? '';
  }
  ws(): void {
    while (this.pos < this.s.length && /\s/.test(this.s[this.pos]!)) this.pos++;
  }
  fail(msg: string): never {
    throw new SocError('SOC_ERR_QUERY', `query: ${msg} at position ${this.pos}`, { details: { position: this.pos } });
  }
  /** True (and consumed) when the upcoming word is the keyword `kw` followed by a delimiter. */
  keyword(kw: string): boolean {
    this.ws();
    if (!this.s.startsWith(kw, this.pos)) return false;
    const next = this.s[this.pos + kw.length];
    if (next !== undefined && !/[\s()]/.test(next)) return false;
    this.pos += kw.length;
    return true;
  }

  parseOr(depth: number): QueryNode {
    const children = [this.parseAnd(depth)];
    while (this.keyword('OR') || this.symbol('||')) children.push(this.parseAnd(depth));
    return children.length === 1 ? children[0]! : { kind: 'or', children };
  }

  parseAnd(depth: number): QueryNode {
    const children = [this.parseUnary(depth)];
    for (;;) {
      this.ws();
      if (this.eof() || this.peek() === ')') break;
      const save = this.pos;
      if (this.keyword('OR') || this.symbol('||')) {
        this.pos = save;
        break;
      }
      this.keyword('AND') || this.symbol('&&');
      children.push(this.parseUnary(depth));
    }
    return children.length === 1 ? children[0]! : { kind: 'and', children };
  }

  symbol(sym: string): boolean {
    this.ws();
    if (!this.s.startsWith(sym, this.pos)) return false;
    this.pos += sym.length;
    return true;
  }

  parseUnary(depth: number): QueryNode {
    if (depth > MAX_QUERY_DEPTH) this.fail('nesting too deep');
    this.ws();
    if (this.keyword('NOT')) return { kind: 'not', child: this.parseUnary(depth + 1) };
    if ((this.peek() === '-' || this.peek() === '!') && /\S/.test(this.s[this.pos + 1] ?? ' ')) {
      this.pos++;
      return { kind: 'not', child: this.parseUnary(depth + 1) };
    }
    return this.parsePrimary(depth);
  }

  parsePrimary(depth: number): QueryNode {
    this.ws();
    if (this.eof()) this.fail('expected a term');
    const c = this.peek();
    if (c === '(') {
      this.pos++;
      const inner = this.parseOr(depth + 1);
      this.ws();
      if (this.peek() !== ')') this.fail("expected ')'");
      this.pos++;
      return inner;
    }
    if (c === ')') this.fail("unexpected ')'");
    if (c === '"') return { kind: 'phrase', value: this.quoted() };
    const m = FIELD_RE.exec(this.s.slice(this.pos));
    if (m) {
      const after = this.pos + m[0].length;
      const op = OPS.find((o) => this.s.startsWith(o, after));
      if (op) {
        const field = m[0];
        this.pos = after + op.length;
        return this.fieldValue(field, op, depth);
      }
    }
    const word = this.word();
    if (word === '') this.fail('expected a term');
    if (word === 'AND' || word === 'OR') this.fail(`'${word}' needs a term on both sides`);
    if (word.endsWith('*') && word.length > 1 && !word.slice(0, -1).includes('*')) {
      return { kind: 'text', value: word.slice(0, -1), prefix: true };
    }
    return { kind: 'text', value: word };
  }

  /** A `"…"` string with `\"` and `\\` escapes. */
  quoted(): string {
    const start = this.pos;
    this.pos++;
    let out = '';
    while (!this.eof()) {
      const ch = this.s[this.pos++]!;
      if (ch === '\\' && !this.eof()) out += this.s[this.pos++]!;
      else if (ch === '"') return out;
      else out += ch;
    }
    this.pos = start;
    return this.fail('unterminated quoted string');
  }

  /** An unquoted value: up to whitespace or a parenthesis; backslash escapes one character (kept as `\x` for wildcards). */
  word(stop = /[\s()]/): string {
    let out = '';
    while (!this.eof()) {
      const ch = this.s[this.pos]!;
      if (stop.test(ch)) break;
      if (ch === '\\' && this.pos + 1 < this.s.length) {
        out += ch + this.s[this.pos + 1]!;
        this.pos += 2;
        continue;
      }
      out += ch;
      this.pos++;
    }
    return out;
  }

  fieldValue(field: string, op: (typeof OPS)[number], depth: number): QueryNode {
    const cmp = op.replace(':', '');
    if (cmp !== '') {
      this.ws();
      const v = this.peek() === '"' ? this.quoted() : unescape(this.word());
      if (v === '') this.fail(`expected a value after '${op}'`);
      const r: RangeNode = { kind: 'range', field };
      if (cmp === '>=') r.gte = v;
      else if (cmp === '>') r.gt = v;
      else if (cmp === '<=') r.lte = v;
      else r.lt = v;
      return r;
    }
    const c = this.peek();
    if (c === '"') return { kind: 'phrase', field, value: this.quoted() };
    if (c === '[' || c === '{') return this.range(field);
    if (c === '(') {
      // field:(a OR b c): a value group; every value applies to the same field.
      if (depth > MAX_QUERY_DEPTH) this.fail('nesting too deep');
      this.pos++;
      const node = this.valueGroup(field, depth + 1);
      this.ws();
      if (this.peek() !== ')') this.fail("expected ')'");
      this.pos++;
      return node;
    }
    const raw = this.word();
    if (raw === '') this.fail(`expected a value for '${field}'`);
    return valueNode(field, raw);
  }

  valueGroup(field: string, depth: number): QueryNode {
    const ors: QueryNode[] = [];
    let ands: QueryNode[] = [];
    for (;;) {
      this.ws();
      if (this.eof() || this.peek() === ')') break;
      if (this.keyword('OR')) {
        if (ands.length === 0) this.fail("'OR' needs a value on both sides");
        ors.push(ands.length === 1 ? ands[0]! : { kind: 'and', children: ands });
        ands = [];
        continue;
      }
      if (this.keyword('AND')) continue;
      if (this.keyword('NOT')) {
        this.ws();
        const v = this.peek() === '"' ? { kind: 'phrase' as const, field, value: this.quoted() } : valueNode(field, this.word());
        ands.push({ kind: 'not', child: v });
        continue;
      }
      if (this.peek() === '"') ands.push({ kind: 'phrase', field, value: this.quoted() });
      else if (this.peek() === '(') {
        this.pos++;
        ands.push(this.valueGroup(field, depth + 1));
        if (this.peek() !== ')') this.fail("expected ')'");
        this.pos++;
      } else {
        const w = this.word();
        if (w === '') this.fail('expected a value');
        ands.push(valueNode(field, w));
      }
    }
    if (ands.length) ors.push(ands.length === 1 ? ands[0]! : { kind: 'and', children: ands });
    if (ors.length === 0) this.fail('empty value group');
    return ors.length === 1 ? ors[0]! : { kind: 'or', children: ors };
  }

  range(field: string): RangeNode {
    const open = this.s[this.pos++]!;
    this.ws();
    const lo = this.peek() === '"' ? this.quoted() : unescape(this.word(/[\s\]}]/));
    if (!this.keyword('TO')) this.fail("expected 'TO' in range");
    this.ws();
    const hi = this.peek() === '"' ? this.quoted() : unescape(this.word(/[\s\]}]/));
    this.ws();
    const close = this.peek();
    if (close !== ']' && close !== '}') this.fail("expected ']' or '}' to close the range");
    this.pos++;
    if (lo === '' || hi === '') this.fail('range bounds must not be empty (use * for an open end)');
    const r: RangeNode = { kind: 'range', field };
    if (lo !== '*') {
      if (open === '[') r.gte = lo;
      else r.gt = lo;
    }
    if (hi !== '*') {
      if (close === ']') r.lte = hi;
      else r.lt = hi;
    }
    return r;
  }
}

/** Remove backslash escapes. */
function unescape(s: string): string {
  return s.replace(/\\(.)/g, '$1');
}

/** Classify an unquoted fielded value: `*` exists, wildcard, CIDR, or exact term. */
function valueNode(field: string, raw: string): QueryNode {
  if (raw === '*') return { kind: 'exists', field };
  if (/(^|[^\\])[*?]/.test(raw)) return { kind: 'wildcard', field, pattern: raw };
  const cidr = parseCidr(raw);
  if (cidr) return { kind: 'cidr', field, ...cidr };
  return { kind: 'term', field, value: unescape(raw) };
}

/**
 * `a.b.c.d/n` or `v6::/n` → canonical network with host bits cleared, or `undefined` when
 * the text is not a CIDR block. A prefix longer than the address throws `SOC_ERR_QUERY`.
 */
export function parseCidr(text: string): Omit<CidrNode, 'kind' | 'field'> | undefined {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return undefined;
  const addr = text.slice(0, slash);
  const bitsText = text.slice(slash + 1);
  const family = isIP(addr);
  if (family === 0 || !/^\d{1,3}$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  const max = family === 4 ? 32 : 128;
  if (bits > max) throw new SocError('SOC_ERR_QUERY', `query: prefix /${bits} is longer than ${max} bits in '${text}'`);
  const bytes = ipToBytes(addr)!;
  const offset = family === 4 ? 12 : 0;
  for (let i = 0; i < (family === 4 ? 4 : 16); i++) {
    const bitIndex = i * 8;
    const keep = Math.max(0, Math.min(8, bits - bitIndex));
    bytes[offset + i] = bytes[offset + i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return { family: family as 4 | 6, prefix: bytesToIp(bytes), bits };
}

/**
 * An IPv4 or IPv6 address as 16 bytes (IPv4 as the IPv4-mapped `::ffff:a.b.c.d`, RFC 4291 §2.5.5.2),
 * or `undefined` when `text` is not an address.
 */
export function ipToBytes(text: string): Uint8Array | undefined {
  const fam = isIP(text);
  if (fam === 0) return undefined;
  const out = new Uint8Array(16);
  if (fam === 4) {
    out[10] = 0xff;
    out[11] = 0xff;
    text.split('.').forEach((p, i) => (out[12 + i] = Number(p)));
    return out;
  }
  let s = text;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  // A trailing dotted quad (::ffff:1.2.3.4) is two groups.
  const m = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (m) {
    const v4 = m[1]!.split('.').map(Number);
    s = s.slice(0, m.index) + ((v4[0]! << 8) | v4[1]!).toString(16) + ':' + ((v4[2]! << 8) | v4[3]!).toString(16);
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

/** Inverse of {@link ipToBytes}: IPv4-mapped addresses print dotted, others as compressed IPv6. */
export function bytesToIp(b: Uint8Array): string {
  if (b.length !== 16) throw new RangeError('bytesToIp: expected 16 bytes');
  let mapped = b[10] === 0xff && b[11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (b[i] !== 0) mapped = false;
  if (mapped) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  // RFC 5952 §4.2.3: compress the longest run of two or more zero groups, the first on a tie.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
