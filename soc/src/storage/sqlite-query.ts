/**
 * {@link QueryNode} → a SQL `WHERE` fragment over one day table. Every value from the query is
 * appended to `params` and appears in the SQL only as `?`; the only names spliced into the text are
 * column names from {@link COLUMNS} and the day suffix, both ours.
 */
import { SocError } from '../errors.js';
import type { QueryNode, RangeNode } from '../query/ast.js';
import { ipToBytes } from '../query/parse.js';
import { COLUMN_BY_FIELD, type ColumnSpec, type DayLayout, idParams, idWhere, ipKey } from './sqlite-schema.js';

/** A compiled condition: SQL text with `?` placeholders and their values in order. */
export interface SqlFragment {
  sql: string;
  params: Array<string | number>;
}

/**
 * Compile a query for the day table with suffix `s` (`YYYYMMDD`) of `layout` (how an `id` term
 * reaches its index: {@link idWhere}).
 *
 * @example
 * ```ts
 * compileQuery(parseQuery('user.name:root'), '20261128'); // { sql: '(user_name = ?)', params: ['root'] }
 * ```
 */
export function compileQuery(node: QueryNode, s: string, layout: DayLayout = 'bucketed-id'): SqlFragment {
  const params: Array<string | number> = [];
  const sql = compile(node, s, layout, params);
  return { sql, params };
}

/**
 * JSON path for `json_extract`/`json_each`, each key quoted so dots or odd characters never split
 * it. `labels` is a flat map (ECS) whose keys may hold dots, the collectors' own among them
 * (`labels.xiangan.source` is the key `xiangan.source`, as Elasticsearch reads the same document).
 */
export function jsonPath(field: string): string {
  const keys = field.startsWith('labels.') ? ['labels', field.slice(7)] : field.split('.');
  return '$' + keys.map((k) => `."${k.replaceAll('"', '')}"`).join('');
}

const NUMERIC = /^-?\d+(\.\d+)?$/;

function compile(node: QueryNode, s: string, layout: DayLayout, p: Array<string | number>): string {
  switch (node.kind) {
    case 'all':
      return '1';
    case 'and':
      return `(${node.children.map((c) => compile(c, s, layout, p)).join(' AND ')})`;
    case 'or':
      return `(${node.children.map((c) => compile(c, s, layout, p)).join(' OR ')})`;
    case 'not':
      return `(NOT ${compile(node.child, s, layout, p)})`;
    case 'text':
      return fullText(node.value, node.prefix === true, false, s, p);
    case 'phrase':
      if (node.field === undefined || node.field === 'message') return fullText(node.value, false, true, s, p);
      return equals(node.field, node.value, s, layout, p);
    case 'term':
      if (node.field === 'message') return fullText(node.value, false, true, s, p);
      return equals(node.field, node.value, s, layout, p);
    case 'wildcard':
      return wildcard(node.field, node.pattern, p);
    case 'exists':
      return exists(node.field, p);
    case 'range':
      return range(node, p);
    case 'cidr': {
      const lo = ipToBytes(node.prefix)!;
      const hi = Uint8Array.from(lo);
      // Set host bits: the prefix counts from bit 0 of the 16-byte key, IPv4 from bit 96.
      const start = (node.family === 4 ? 96 : 0) + node.bits;
      for (let bit = start; bit < 128; bit++) hi[bit >> 3]! |= 0x80 >> (bit & 7);
      const loK = Buffer.from(lo).toString('hex');
      const hiK = Buffer.from(hi).toString('hex');
      const col = COLUMN_BY_FIELD.get(node.field);
      if (col?.kind === 'ip') {
        p.push(loK, hiK);
        return `(${col.column} BETWEEN ? AND ?)`;
      }
      p.push(jsonPath(node.field), loK, hiK);
      return `EXISTS (SELECT 1 FROM json_each(doc, ?) WHERE xa_ipkey(value) BETWEEN ? AND ?)`;
    }
  }
}

/** Full text over `message`: FTS5 for words, a substring scan where FTS5's tokens cannot help. */
function fullText(value: string, prefix: boolean, phrase: boolean, s: string, p: Array<string | number>): string {
  // unicode61 (the FTS5 default tokenizer) keeps a run of CJK characters as one token, so a
  // Chinese word inside a sentence is not a token; such terms, and terms with no letters or
  // digits at all, fall back to a case-sensitive substring test.
  if (/[^\x00-\x7f]/.test(value) || !/[A-Za-z0-9]/.test(value)) {
    p.push(value);
    return `(instr(message, ?) > 0)`;
  }
  // FTS5 string syntax (SQLite FTS5 §3.1): a quoted phrase, `"` doubled; `*` after it is a prefix query.
  p.push(`"${value.replaceAll('"', '""')}"${prefix && !phrase ? '*' : ''}`);
  return `(rowid IN (SELECT rowid FROM fts_${s} WHERE fts_${s} MATCH ?))`;
}

function equals(field: string, value: string, s: string, layout: DayLayout, p: Array<string | number>): string {
  if (field === 'id') {
    // Every day-table layout answers this through an index (see DayLayout, idWhere): SQLite
    // picks an expression index only for the same expression.
    p.push(...idParams(value, layout));
    return `(${idWhere(s, layout)})`;
  }
  const col = COLUMN_BY_FIELD.get(field);
  if (col) {
    switch (col.kind) {
      case 'time': {
        p.push(toMillis(field, value));
        return `(${col.column} = ?)`;
      }
      case 'number':
        if (!NUMERIC.test(value)) return '0';
        p.push(Number(value));
        return `(${col.column} = ?)`;
      case 'ip': {
        const k = ipKey(value);
        if (k === null) break; // not an address: compare the stored text below
        p.push(k);
        return `(${col.column} = ?)`;
      }
      case 'array':
        p.push(value);
        return `EXISTS (SELECT 1 FROM json_each(${col.column}) WHERE value = ?)`;
      case 'text':
        p.push(value);
        return `(${col.column} = ?)`;
    }
  }
  // Any field: json_each yields the value itself for a scalar and each element for an array.
  if (NUMERIC.test(value)) {
    p.push(jsonPath(field), value, Number(value));
    return `EXISTS (SELECT 1 FROM json_each(doc, ?) WHERE value IN (?, ?))`;
  }
  p.push(jsonPath(field), value);
  return `EXISTS (SELECT 1 FROM json_each(doc, ?) WHERE value = ?)`;
}

/** Query wildcard → SQLite GLOB: `*` and `?` as they are, any other GLOB metacharacter bracketed. */
function toGlob(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '\\' && i + 1 < pattern.length) {
      out += `[${pattern[++i]!}]`;
    } else if (ch === '[' || ch === ']') out += `[${ch}]`;
    else out += ch;
  }
  return out;
}

function wildcard(field: string, pattern: string, p: Array<string | number>): string {
  const glob = toGlob(pattern);
  if (field === 'message') {
    p.push(glob);
    return '(message GLOB ?)';
  }
  const col = COLUMN_BY_FIELD.get(field);
  if (col && (col.kind === 'text' || col.kind === 'number')) {
    p.push(glob);
    return `(CAST(${col.column} AS TEXT) GLOB ?)`;
  }
  if (col?.kind === 'array') {
    p.push(glob);
    return `EXISTS (SELECT 1 FROM json_each(${col.column}) WHERE value GLOB ?)`;
  }
  p.push(jsonPath(field), glob);
  return `EXISTS (SELECT 1 FROM json_each(doc, ?) WHERE CAST(value AS TEXT) GLOB ?)`;
}

function exists(field: string, p: Array<string | number>): string {
  const col = COLUMN_BY_FIELD.get(field);
  if (col && col.kind !== 'ip') return `(${col.column} IS NOT NULL)`;
  if (field === 'message') return '(message IS NOT NULL)';
  p.push(jsonPath(field));
  return `(coalesce(json_type(doc, ?), 'null') <> 'null')`;
}

function toMillis(field: string, value: string): number {
  const t = NUMERIC.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(t)) throw new SocError('SOC_ERR_QUERY', `query: '${value}' is not a time for ${field}`);
  return t;
}

function range(node: RangeNode, p: Array<string | number>): string {
  const col: ColumnSpec | undefined = COLUMN_BY_FIELD.get(node.field);
  const bounds: Array<[string, string]> = [];
  if (node.gt !== undefined) bounds.push(['>', node.gt]);
  if (node.gte !== undefined) bounds.push(['>=', node.gte]);
  if (node.lt !== undefined) bounds.push(['<', node.lt]);
  if (node.lte !== undefined) bounds.push(['<=', node.lte]);
  if (bounds.length === 0) return exists(node.field, p);
  const parts: string[] = [];
  for (const [op, v] of bounds) {
    if (col?.kind === 'time') {
      p.push(toMillis(node.field, v));
      parts.push(`ts ${op} ?`);
    } else if (col?.kind === 'ip' && ipKey(v) !== null) {
      p.push(ipKey(v)!);
      parts.push(`${col.column} ${op} ?`);
    } else if (col && (col.kind === 'number' || col.kind === 'text')) {
      p.push(col.kind === 'number' && NUMERIC.test(v) ? Number(v) : v);
      parts.push(`${col.column} ${op} ?`);
    } else {
      p.push(jsonPath(node.field), NUMERIC.test(v) ? Number(v) : v);
      parts.push(`json_extract(doc, ?) ${op} ?`);
    }
  }
  return `(${parts.join(' AND ')})`;
}
