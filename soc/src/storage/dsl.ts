/**
 * {@link QueryNode} → Elasticsearch / OpenSearch Query DSL (the two engines agree on every clause
 * used here). Values from the query only ever appear as JSON values, never spliced into a query
 * string (`query_string` is not used), so no query text can change the shape of the request.
 *
 * The translation keeps the semantics of the SQLite backend (`./sqlite-query.ts`), which the
 * conformance suite checks on the same fixtures: exact, case-sensitive `term` on keyword fields,
 * numbers compared as numbers, CIDR as a `term` on an `ip` field (Elasticsearch reference
 * "IP field type: querying"), full text as `match_phrase` on the analysed `message`.
 */
import { ECS_FIELDS, type EcsFieldType } from '@xiangan/collectors';
import { SocError } from '../errors.js';
import type { QueryNode, RangeNode } from '../query/ast.js';

/** A Query DSL clause (JSON). */
export type DslQuery = Record<string, unknown>;

const NUMERIC = /^-?\d+(\.\d+)?$/;
const MATCH_NONE: DslQuery = { match_none: {} };

/** Storage type of a field as mapped by the index template; `undefined` for dynamically mapped fields. */
export function mappedType(field: string): EcsFieldType | undefined {
  if (field === 'id') return 'keyword';
  return ECS_FIELDS[field]?.type;
}

/**
 * Compile a query tree to one Query DSL clause.
 *
 * @example
 * ```ts
 * toDsl(parseQuery('source.ip:10.0.0.0/8 AND user.name:root'));
 * // { bool: { filter: [ { term: { 'source.ip': '10.0.0.0/8' } }, { term: { 'user.name': 'root' } } ] } }
 * ```
 */
export function toDsl(node: QueryNode): DslQuery {
  switch (node.kind) {
    case 'all':
      return { match_all: {} };
    case 'and':
      return { bool: { filter: node.children.map(toDsl) } };
    case 'or':
      return { bool: { should: node.children.map(toDsl), minimum_should_match: 1 } };
    case 'not':
      return { bool: { must_not: [toDsl(node.child)] } };
    case 'text':
      return fullText(node.value, node.prefix === true);
    case 'phrase':
      if (node.field === undefined || node.field === 'message') return fullText(node.value, false);
      return equals(node.field, node.value);
    case 'term':
      if (node.field === 'message') return fullText(node.value, false);
      return equals(node.field, node.value);
    case 'wildcard':
      // Same metacharacters (`*`, `?`, backslash escape) as our query language.
      return { wildcard: { [node.field]: { value: node.pattern } } };
    case 'exists':
      return { exists: { field: node.field } };
    case 'range':
      return range(node);
    case 'cidr':
      // An `ip` field answers a CIDR `term` as a range over the network (also for arrays).
      return { term: { [node.field]: `${node.prefix}/${node.bits}` } };
  }
}

/** Full text over `message`: the standard analyser lowercases, so match is case-insensitive like FTS5. */
function fullText(value: string, prefix: boolean): DslQuery {
  if (prefix) {
    // `prefix` is not analysed: lowercase as the analyser did at index time.
    if (/^[\p{L}\p{N}_]+$/u.test(value) && !/[^\x00-\x7f]/.test(value)) return { prefix: { message: value.toLowerCase() } };
    return { match_phrase_prefix: { message: { query: value } } };
  }
  return { match_phrase: { message: { query: value } } };
}

function equals(field: string, value: string): DslQuery {
  switch (mappedType(field)) {
    case 'keyword':
      return { term: { [field]: value } };
    case 'long':
    case 'float':
      return NUMERIC.test(value) ? { term: { [field]: Number(value) } } : MATCH_NONE;
    case 'date':
      return { term: { [field]: toMillis(field, value) } };
    case 'ip':
      // A non-address never equals an ip field (SQLite compares it with the stored text: no match).
      return isIp(value) ? { term: { [field]: value } } : MATCH_NONE;
    case 'boolean':
      return value === 'true' || value === 'false' ? { term: { [field]: value === 'true' } } : MATCH_NONE;
    default:
      // Dynamically mapped (strings as keyword, numbers as long): `lenient` turns a type mismatch
      // into "no match" instead of a failed search, as SQLite's comparison of unlike values does.
      return { match: { [field]: { query: value, lenient: true } } };
  }
}

function isIp(v: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(v) ? v.split('.').every((o) => Number(o) <= 255) : /^[0-9a-fA-F:.]+$/.test(v) && v.includes(':');
}

function toMillis(field: string, value: string): number {
  const t = NUMERIC.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(t)) throw new SocError('SOC_ERR_QUERY', `query: '${value}' is not a time for ${field}`);
  return t;
}

function range(node: RangeNode): DslQuery {
  const type = mappedType(node.field);
  const r: Record<string, unknown> = {};
  for (const op of ['gt', 'gte', 'lt', 'lte'] as const) {
    const v = node[op];
    if (v === undefined) continue;
    if (type === 'date') r[op] = toMillis(node.field, v);
    else if (type === 'long' || type === 'float') {
      if (!NUMERIC.test(v)) return MATCH_NONE;
      r[op] = Number(v);
    } else if (type === 'ip') {
      if (!isIp(v)) return MATCH_NONE;
      r[op] = v;
    } else r[op] = NUMERIC.test(v) && type === undefined ? Number(v) : v;
  }
  if (Object.keys(r).length === 0) return { exists: { field: node.field } };
  if (type === 'date') r['format'] = 'epoch_millis';
  return { range: { [node.field]: r } };
}
