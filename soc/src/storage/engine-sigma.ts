/**
 * Sigma detection rules → Elasticsearch / OpenSearch Query DSL, for hunts over stored history.
 *
 * The streaming engine (`@xiangan/rules`) stays the judge: a hunt asks the engine for the events
 * that *can* match (a superset), then runs every one of them through the same compiled rules, so a
 * hunt on an engine backend reports exactly what the replay on SQLite reports. The translation
 * therefore yields two queries per rule:
 *
 * - `sup` — every event the rule matches is in it (what the hunt searches);
 * - `sub` — every event in it is matched by the rule (needed under `not`: `not X` is bounded from
 *   above by `not sub(X)`).
 *
 * Where the engine's semantics and the index agree, `sup` and `sub` are the same query (`exact`):
 * keyword fields with `term` / `prefix` / `wildcard` and `case_insensitive` (ASCII case folding, as
 * the Elasticsearch reference says of that flag), `exists`, CIDR `term` on `ip` fields, `range` on
 * numbers. Elsewhere `sup` widens and `sub` is `match_none`:
 * - `message` (analysed text): the words a value fully contains must all be indexed tokens
 *   (`match` with `operator: and`), the substring check itself is left to the engine;
 * - `re`: the literal every match contains (`regexLiteral` of the rules package) as a substring;
 * - non-ASCII letters with case, numbers and addresses compared as text, value transformations
 *   (`base64`, `windash`, `utf16`…), `fieldref`, threat lists, work times: the field exists.
 *
 * Known gap (documented in soc/README.md): keyword values longer than the template's
 * `ignore_above` (8191 characters) are stored but not indexed, so no query finds them.
 *
 * Values reach the DSL only as JSON values (no query strings), as in `./dsl.ts`.
 */
import { parseCondition, regexLiteral, resolveLogsource, sigmaWildcardTokens, ruleKind, validateRuleDoc, RuleError, type CondAst, type LoadedRule, type Logsource, type Pipeline, type SigmaToken } from '@xiangan/rules';
import type { DslQuery } from './dsl.js';

/** Mapping type of an event path in the searched indices (`'conflict'` when they disagree), `undefined` when unmapped. */
export type FieldTypeOf = (path: string) => string | undefined;

/** A rule's query pair (see the module comment). */
export interface SigmaQuery {
  /** Superset: every event the rule matches. */
  sup: DslQuery;
  /** Subset: only events the rule matches. */
  sub: DslQuery;
}

/** Outcome of {@link sigmaToDsl}. */
export interface SigmaDsl extends SigmaQuery {
  /** `sup` and `sub` are the same query: the engine finds exactly the rule's matches. */
  exact: boolean;
}

export const MATCH_ALL: DslQuery = Object.freeze({ match_all: {} }) as DslQuery;
export const MATCH_NONE: DslQuery = Object.freeze({ match_none: {} }) as DslQuery;

export function dslAnd(qs: DslQuery[]): DslQuery {
  if (qs.some((q) => q === MATCH_NONE)) return MATCH_NONE;
  const rest = qs.filter((q) => q !== MATCH_ALL);
  if (rest.length === 0) return MATCH_ALL;
  return rest.length === 1 ? rest[0]! : { bool: { filter: rest } };
}

export function dslOr(qs: DslQuery[], min = 1): DslQuery {
  if (min === 1 && qs.some((q) => q === MATCH_ALL)) return MATCH_ALL;
  const rest = min === 1 ? qs.filter((q) => q !== MATCH_NONE) : qs;
  if (rest.length < min) return MATCH_NONE;
  if (rest.length === 1) return rest[0]!;
  return { bool: { should: rest, minimum_should_match: min } };
}

export function dslNot(q: DslQuery): DslQuery {
  if (q === MATCH_ALL) return MATCH_NONE;
  if (q === MATCH_NONE) return MATCH_ALL;
  return { bool: { must_not: [q] } };
}

const andQ = (xs: SigmaQuery[]): SigmaQuery => ({ sup: dslAnd(xs.map((x) => x.sup)), sub: dslAnd(xs.map((x) => x.sub)) });
const orQ = (xs: SigmaQuery[], min = 1): SigmaQuery => ({ sup: dslOr(xs.map((x) => x.sup), min), sub: dslOr(xs.map((x) => x.sub), min) });
const notQ = (x: SigmaQuery): SigmaQuery => ({ sup: dslNot(x.sub), sub: dslNot(x.sup) });
const exists = (path: string): DslQuery => ({ exists: { field: path } });
const wide = (path: string): SigmaQuery => ({ sup: exists(path), sub: MATCH_NONE });
const same = (q: DslQuery): SigmaQuery => ({ sup: q, sub: q });

type Tok = SigmaToken;

/** Any character whose case folding Elasticsearch's ASCII-only `case_insensitive` would miss. */
function nonAsciiCase(s: string): boolean {
  for (const c of s) if (c.charCodeAt(0) > 0x7f && c.toLowerCase() !== c.toUpperCase()) return true;
  return false;
}

const luceneWildcard = (toks: Tok[]): string => toks.map((t) => ('lit' in t ? t.lit.replace(/[\\*?]/g, '\\$&') : t.wild)).join('');

/** A pattern on a keyword field (exact semantics for ASCII case). */
function keywordPattern(path: string, toks: Tok[], cased: boolean): SigmaQuery {
  const ci = cased ? {} : { case_insensitive: true };
  let q: DslQuery;
  if (toks.length === 0) q = { term: { [path]: { value: '' } } };
  else if (toks.length === 1 && 'lit' in toks[0]!) q = { term: { [path]: { value: toks[0].lit, ...ci } } };
  else if (toks.length === 1 && 'wild' in toks[0]! && toks[0].wild === '*') q = exists(path);
  else if (toks.length === 2 && 'lit' in toks[0]! && 'wild' in toks[1]! && toks[1].wild === '*') q = { prefix: { [path]: { value: toks[0].lit, ...ci } } };
  else q = { wildcard: { [path]: { value: luceneWildcard(toks), ...ci } } };
  const text = toks.map((t) => ('lit' in t ? t.lit : '')).join('');
  // ASCII-only folding finds fewer events than the engine's full lower-casing: still a subset.
  if (!cased && nonAsciiCase(text)) return { sup: exists(path), sub: q };
  return same(q);
}

/**
 * A pattern on analysed text (`message`): the whitespace-delimited words that the value contains
 * whole (bounded by white space or an anchored end) are tokens the event's text has too.
 */
function textPattern(path: string, toks: Tok[]): SigmaQuery {
  const words: string[] = [];
  toks.forEach((t, i) => {
    if (!('lit' in t)) return;
    const leftHard = i === 0;
    const rightHard = i === toks.length - 1;
    const parts = t.lit.split(/(\s+)/);
    for (let k = 0; k < parts.length; k++) {
      const w = parts[k]!;
      if (w === '' || /^\s+$/.test(w)) continue;
      const leftOk = k > 0 || leftHard;
      const rightOk = k < parts.length - 1 || rightHard;
      if (leftOk && rightOk) words.push(w);
    }
  });
  if (words.length === 0) return wide(path);
  return { sup: { match: { [path]: { query: words.join(' '), operator: 'and' } } }, sub: MATCH_NONE };
}

const NUMBER = /^-?\d+(\.\d+)?$/;
const NUMERIC_TYPES = new Set(['long', 'integer', 'short', 'byte', 'double', 'float', 'half_float', 'scaled_float', 'unsigned_long']);
const KEYWORD_TYPES = new Set(['keyword', 'constant_keyword', 'wildcard']);

function isIp(v: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(v) ? v.split('.').every((o) => Number(o) <= 255) : /^[0-9a-fA-F:.]+$/.test(v) && v.includes(':');
}

/** One string value against one field, by the field's type. */
function valueQuery(path: string, type: string | undefined, value: string, how: 'exact' | 'contains' | 'startswith' | 'endswith', cased: boolean): SigmaQuery {
  const toks = sigmaWildcardTokens(value, how);
  const plain = toks.length === 1 && 'lit' in toks[0]!;
  // Unmapped: no stored event has the field, so the keyword query finds none, as the engine would.
  if (type === undefined || KEYWORD_TYPES.has(type)) return keywordPattern(path, toks, cased);
  if (type === 'text' || type === 'match_only_text') return textPattern(path, toks);
  if (NUMERIC_TYPES.has(type)) return plain && NUMBER.test(value) ? { sup: { term: { [path]: Number(value) } }, sub: MATCH_NONE } : wide(path);
  if (type === 'ip') return plain && isIp(value) ? { sup: { term: { [path]: value } }, sub: MATCH_NONE } : wide(path);
  if (type === 'boolean') return plain && /^(true|false)$/i.test(value) ? { sup: { term: { [path]: value.toLowerCase() === 'true' } }, sub: MATCH_NONE } : wide(path);
  return wide(path);
}

interface Ctx {
  mapField(name: string): string;
  keywordFields: string[] | '*';
  typeOf: FieldTypeOf;
}

const MATCH_TYPES = new Set(['contains', 'startswith', 'endswith']);
const TRANSFORMS = new Set(['base64', 'base64offset', 'windash', 'utf16', 'utf16le', 'utf16be', 'wide']);
const OPAQUE = new Set(['fieldref', 'xiangan-list', 'xiangan-worktime', 'xiangan-expires-within']);
const CMP = new Set(['gt', 'gte', 'lt', 'lte']);

/** `field|mods: values` → query pair. Unknown modifiers are left to the engine (it rejects them). */
function itemQuery(field: string | null, mods: string[], values: unknown[], ctx: Ctx): SigmaQuery {
  const ms = mods.map((m) => m.toLowerCase());
  const how = (ms.find((m) => MATCH_TYPES.has(m)) ?? 'exact') as 'exact' | 'contains' | 'startswith' | 'endswith';
  const all = ms.includes('all');
  const cased = ms.includes('cased');
  const combine = (qs: SigmaQuery[]) => (all ? andQ(qs) : orQ(qs));
  if (field === null) {
    if (ctx.keywordFields === '*') return { sup: MATCH_ALL, sub: MATCH_NONE };
    const fields = ctx.keywordFields;
    return combine(values.map((v) => orQ(fields.map((f) => valueQuery(f, ctx.typeOf(f), String(v), 'contains', cased)))));
  }
  const path = ctx.mapField(field);
  const type = ctx.typeOf(path);
  if (type === 'conflict') return wide(path);
  if (ms.includes('exists')) {
    return values[0] === true ? { sup: exists(path), sub: MATCH_NONE } : values[0] === false ? { sup: dslNot(exists(path)), sub: MATCH_NONE } : { sup: MATCH_ALL, sub: MATCH_NONE };
  }
  const parts: SigmaQuery[] = [];
  if (values.some((v) => v === null)) parts.push({ sup: dslNot(exists(path)), sub: MATCH_NONE });
  const nonNull = values.filter((v) => v !== null);
  let vq: SigmaQuery[];
  if (ms.some((m) => TRANSFORMS.has(m) || OPAQUE.has(m))) vq = nonNull.map(() => wide(path));
  else if (ms.includes('re')) {
    vq = nonNull.map((v) => {
      const lit = regexLiteral(String(v));
      if (lit.length < 2) return wide(path);
      // The literal is lower-cased; every match contains it in some case.
      const q = valueQuery(path, type, lit.replace(/[\\*?]/g, '\\$&'), 'contains', false);
      return { sup: q.sup, sub: MATCH_NONE };
    });
  } else if (ms.includes('cidr')) {
    vq = nonNull.map((v) => (type === 'ip' ? same({ term: { [path]: String(v) } }) : wide(path)));
  } else if (ms.some((m) => CMP.has(m))) {
    const op = ms.find((m) => CMP.has(m))!;
    vq = nonNull.map((v) => (type !== undefined && NUMERIC_TYPES.has(type) && Number.isFinite(Number(v)) ? { sup: { range: { [path]: { [op]: Number(v) } } }, sub: MATCH_NONE } : wide(path)));
  } else vq = nonNull.map((v) => valueQuery(path, type, String(v), how, cased));
  if (vq.length) parts.push(combine(vq));
  return parts.length === 1 ? parts[0]! : orQ(parts);
}

function selectionQuery(def: unknown, ctx: Ctx): SigmaQuery {
  const mapQuery = (m: Record<string, unknown>): SigmaQuery =>
    andQ(
      Object.entries(m).map(([key, val]) => {
        const [field, ...mods] = key.split('|');
        return itemQuery(field === '' ? null : field!, mods, Array.isArray(val) ? val : [val], ctx);
      }),
    );
  if (Array.isArray(def)) {
    const maps = def.filter((x) => x !== null && typeof x === 'object' && !Array.isArray(x)) as Record<string, unknown>[];
    const scalars = def.filter((x) => x === null || typeof x !== 'object');
    const parts = maps.map(mapQuery);
    if (scalars.length) parts.push(itemQuery(null, [], scalars, ctx));
    return orQ(parts);
  }
  if (def !== null && typeof def === 'object') return mapQuery(def as Record<string, unknown>);
  return itemQuery(null, [], [def], ctx);
}

function globToRe(p: string): RegExp {
  return new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

function conditionQuery(ast: CondAst, sel: Map<string, SigmaQuery>): SigmaQuery {
  switch (ast.t) {
    case 'ref': {
      const q = sel.get(ast.name);
      if (!q) throw new RuleError('RULE_ERR_CONDITION', `condition names unknown selection ${JSON.stringify(ast.name)}`, { path: '/detection/condition' });
      return q;
    }
    case 'not':
      return notQ(conditionQuery(ast.x, sel));
    case 'and':
      return andQ(ast.a.map((x) => conditionQuery(x, sel)));
    case 'or':
      return orQ(ast.a.map((x) => conditionQuery(x, sel)));
    case 'of': {
      const names = [...sel.keys()];
      const ns = ast.pattern.toLowerCase() === 'them' ? names.filter((n) => !n.startsWith('_')) : names.filter((n) => globToRe(ast.pattern).test(n));
      if (!ns.length) throw new RuleError('RULE_ERR_CONDITION', `no selection matches ${JSON.stringify(ast.pattern)}`, { path: '/detection/condition' });
      const qs = ns.map((n) => sel.get(n)!);
      return ast.quant === 'all' ? andQ(qs) : orQ(qs, ast.quant);
    }
  }
}

/**
 * Translate one Sigma detection rule. `typeOf` tells the mapping type of an event path in the
 * indices searched (see `engineFieldTypes` in `./engine-hunt.ts`). Throws the rules package's
 * `RuleError` for a document the engine would reject too (schema, logsource, field mapping), and
 * `RangeError` for a correlation or filter document (see `./engine-correlate.ts`).
 *
 * @example
 * ```ts
 * const q = sigmaToDsl({ doc, source: 'x.yml' }, builtinPipeline('ecs'), (p) => (p === 'message' ? 'text' : 'keyword'));
 * q.sup; // { bool: { filter: [ <logsource>, <condition> ] } }
 * ```
 */
export function sigmaToDsl(rule: LoadedRule, pipeline: Pipeline, typeOf: FieldTypeOf): SigmaDsl {
  const v = validateRuleDoc(rule.doc);
  if (!v.ok) throw new RuleError('RULE_ERR_SCHEMA', `${rule.source}: ${v.message}`, { path: v.path });
  const kind = ruleKind(rule.doc);
  if (kind !== 'detection') throw new RangeError(`${rule.source}: a ${kind} document has no detection of its own`);
  const doc = rule.doc;
  const ls = resolveLogsource(pipeline, (doc['logsource'] ?? {}) as Logsource);
  const ctx: Ctx = { mapField: ls.mapField, keywordFields: pipeline.keyword_fields, typeOf };
  // Logsource conditions: lower-cased values, any of them, compared case-insensitively.
  const lsq = andQ(ls.conditions.map((c) => orQ(c.values.map((val) => valueQuery(c.field, typeOf(c.field), val.replace(/[\\*?]/g, '\\$&'), 'exact', false)))));
  const det = doc['detection'] as Record<string, unknown>;
  const sel = new Map<string, SigmaQuery>();
  for (const [name, def] of Object.entries(det)) {
    if (name === 'condition' || name === 'timeframe' || name === 'rules') continue;
    sel.set(name, selectionQuery(def, ctx));
  }
  const conds = Array.isArray(det['condition']) ? (det['condition'] as unknown[]).map(String) : [String(det['condition'])];
  const cond = orQ(conds.map((c) => conditionQuery(parseCondition(c), sel)));
  const q = andQ([lsq, cond]);
  return { ...q, exact: JSON.stringify(q.sup) === JSON.stringify(q.sub) };
}

/** Leaf clauses of a query (Lucene's clause limit counts these). */
export function clauseCount(q: DslQuery): number {
  const b = q['bool'] as Record<string, DslQuery[]> | undefined;
  if (!b) return 1;
  let n = 0;
  for (const k of ['filter', 'must', 'should', 'must_not']) for (const c of b[k] ?? []) n += clauseCount(c);
  return Math.max(n, 1);
}
