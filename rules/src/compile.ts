/**
 * Compilation of Sigma documents (detection, correlation, meta filter) into matchers, once.
 */
import { RuleError } from './errors.js';
import { compileCondition, fuseTest, orPred, parseCondition, andPred } from './condition.js';
import type { ThreatList } from './lists.js';
import { resolveLogsource, type Pipeline, type ResolvedLogsource } from './pipeline.js';
import { ruleKind, validateRuleDoc } from './schema.js';
import type { CorrelationType, LoadedRule, Logsource, RuleLevel } from './types.js';
import { compileItem, DEFAULT_LIMITS, type Hint, type Limits, type MatchCounters, type Pred, type ValueContext } from './values.js';

/** Options of rule compilation. */
export interface CompileOptions {
  /** Threat-intel lists that `|xiangan-list` values name. */
  lists?: ReadonlyMap<string, ThreatList>;
  /** Bounds (defaults: {@link DEFAULT_LIMITS}). */
  limits?: Partial<Limits>;
}

/** What every compiled rule carries from its document. */
export interface CompiledMeta {
  id: string;
  name?: string;
  title: string;
  level: RuleLevel;
  tags: string[];
  source: string;
}

/** A compiled detection rule. */
export interface CompiledDetection extends CompiledMeta {
  kind: 'detection';
  logsource: ResolvedLogsource;
  test: Pred['test'];
  hints: Hint[];
}

/** A compiled correlation rule (Sigma correlation rules specification). */
export interface CompiledCorrelation extends CompiledMeta {
  kind: 'correlation';
  type: CorrelationType;
  /** Referenced rule ids or names, as written. */
  refs: string[];
  groupBy: string[];
  aliases: Record<string, Record<string, string>>;
  timespanMs: number;
  op: 'gt' | 'gte' | 'lt' | 'lte' | 'eq';
  threshold: number;
  /** value_count: the Sigma field whose distinct values are counted. */
  field?: string;
  generate: boolean;
}

/** A compiled meta filter. */
export interface CompiledFilter {
  kind: 'filter';
  id: string;
  title: string;
  source: string;
  refs: string[];
  logsource: ResolvedLogsource | null;
  test: Pred['test'];
}

/** Anything a document compiles to. */
export type CompiledRule = CompiledDetection | CompiledCorrelation | CompiledFilter;

/** Longest timespan of a correlation window (bounded state). */
export const MAX_TIMESPAN_MS = 31 * 24 * 3600 * 1000;

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, M: 30 * 86_400_000, y: 365 * 86_400_000 };

/**
 * Parse a Sigma timespan (`30s`, `5m`, `1h`, `1d`) to milliseconds.
 *
 * @example
 * parseTimespan('5m') // 300000
 */
export function parseTimespan(s: string): number {
  const m = /^(\d{1,9})([smhdwMy])$/.exec(s);
  if (!m) throw new RuleError('RULE_ERR_VALUE', `bad timespan ${JSON.stringify(s)}`, { path: '/correlation/timespan' });
  const ms = Number(m[1]) * UNITS[m[2]];
  if (ms <= 0 || ms > MAX_TIMESPAN_MS) throw new RuleError('RULE_ERR_LIMIT', `timespan ${s} outside 1s..31d`, { path: '/correlation/timespan' });
  return ms;
}

function strList(v: unknown): string[] {
  return v === undefined || v === null ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
}

function meta(doc: Record<string, unknown>, source: string) {
  const id = typeof doc.id === 'string' ? doc.id : typeof doc.name === 'string' ? doc.name : source;
  return {
    id,
    name: typeof doc.name === 'string' ? doc.name : undefined,
    title: String(doc.title),
    level: (doc.level as RuleLevel | undefined) ?? 'medium',
    tags: strList(doc.tags),
    source,
  };
}

/** Compile the named selections of a detection block (everything except `condition`). */
function compileSelections(det: Record<string, unknown>, ls: ResolvedLogsource, pipeline: Pipeline, opts: CompileOptions, counters: MatchCounters, base: string): Map<string, Pred> {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const lists = opts.lists ?? new Map();
  const out = new Map<string, Pred>();
  for (const [name, def] of Object.entries(det)) {
    if (name === 'condition' || name === 'timeframe' || name === 'rules') continue;
    const path = `${base}/${name}`;
    const ctx = (p: string): ValueContext => ({ mapField: ls.mapField, keywordFields: pipeline.keyword_fields, lists, limits, counters, timestampField: pipeline.timestamp_field, path: p });
    const compileMap = (m: Record<string, unknown>, p: string): Pred => {
      const entries = Object.entries(m);
      if (!entries.length) throw new RuleError('RULE_ERR_SCHEMA', 'empty selection map', { path: p });
      return andPred(
        entries.map(([key, val]) => {
          const [field, ...mods] = key.split('|');
          const values = Array.isArray(val) ? val : [val];
          if (Array.isArray(val) && val.length === 0) throw new RuleError('RULE_ERR_SCHEMA', `empty value list for ${key}`, { path: `${p}/${key}` });
          return compileItem(field === '' ? null : field, mods, values, ctx(`${p}/${key}`));
        }),
      );
    };
    if (def === null || def === undefined) throw new RuleError('RULE_ERR_SCHEMA', `selection ${name} is empty`, { path });
    if (Array.isArray(def)) {
      if (!def.length) throw new RuleError('RULE_ERR_SCHEMA', `selection ${name} is an empty list`, { path });
      const maps = def.filter((x) => x !== null && typeof x === 'object' && !Array.isArray(x)) as Record<string, unknown>[];
      const scalars = def.filter((x) => x === null || typeof x !== 'object');
      if (maps.length + scalars.length !== def.length) throw new RuleError('RULE_ERR_SCHEMA', `selection ${name} mixes nested lists`, { path });
      const parts: Pred[] = maps.map((m, i) => compileMap(m, `${path}/${i}`));
      if (scalars.length) parts.push(compileItem(null, [], scalars, ctx(path)));
      out.set(name, orPred(parts));
    } else if (typeof def === 'object') out.set(name, compileMap(def as Record<string, unknown>, path));
    else out.set(name, compileItem(null, [], [def], ctx(path)));
  }
  return out;
}

function validated(r: LoadedRule): Record<string, unknown> {
  const v = validateRuleDoc(r.doc);
  if (!v.ok) throw new RuleError('RULE_ERR_SCHEMA', `${r.source}: ${v.message}`, { path: v.path });
  return r.doc;
}

/**
 * Compile one Sigma document. Throws {@link RuleError} with the reason when the document is
 * invalid or uses something the engine does not support.
 *
 * @example
 * const c = compileDocument({ doc, source: 'x.yml' }, builtinPipeline('ecs'), {}, { truncatedValues: 0 });
 */
export function compileDocument(r: LoadedRule, pipeline: Pipeline, opts: CompileOptions, counters: MatchCounters): CompiledRule {
  const doc = validated(r);
  const kind = ruleKind(doc);
  const m = meta(doc, r.source);
  if (kind === 'correlation') {
    const c = doc.correlation as Record<string, unknown>;
    const type = c.type as CorrelationType;
    const cond = (c.condition ?? {}) as Record<string, unknown>;
    const ops = (['gt', 'gte', 'lt', 'lte', 'eq'] as const).filter((k) => typeof cond[k] === 'number');
    if (type === 'event_count' || type === 'value_count') {
      if (ops.length !== 1) throw new RuleError('RULE_ERR_SCHEMA', `${type} needs exactly one of gt/gte/lt/lte/eq in its condition`, { path: '/correlation/condition' });
    }
    if (type === 'value_count' && typeof cond.field !== 'string') throw new RuleError('RULE_ERR_SCHEMA', 'value_count needs condition.field', { path: '/correlation/condition/field' });
    const refs = strList(c.rules);
    if ((type === 'temporal' || type === 'temporal_ordered') && refs.length < 2) throw new RuleError('RULE_ERR_SCHEMA', `${type} needs at least two rules`, { path: '/correlation/rules' });
    const op = ops[0] ?? 'gte';
    return {
      kind: 'correlation',
      ...m,
      type,
      refs,
      groupBy: strList(c['group-by']),
      aliases: (c.aliases as Record<string, Record<string, string>>) ?? {},
      timespanMs: parseTimespan(String(c.timespan)),
      op,
      // temporal types fire when every referenced rule was seen: the count is of rules.
      threshold: typeof cond[op] === 'number' ? (cond[op] as number) : refs.length,
      field: typeof cond.field === 'string' ? cond.field : undefined,
      generate: c.generate === true,
    };
  }
  if ('action' in doc) throw new RuleError('RULE_ERR_UNSUPPORTED', `Sigma collection action ${JSON.stringify(doc.action)} is not supported; write self-contained documents`, { path: '/action' });
  if (kind === 'filter') {
    const f = doc.filter as Record<string, unknown>;
    const ls = doc.logsource ? resolveLogsource(pipeline, doc.logsource as Logsource) : resolveLogsource({ ...pipeline, unknown_logsource: 'any' }, {});
    const sel = compileSelections(f, ls, pipeline, opts, counters, '/filter');
    const pred = compileCondition(parseCondition(String(f.condition)), sel);
    return { kind: 'filter', id: m.id, title: m.title, source: m.source, refs: strList(f.rules), logsource: doc.logsource ? ls : null, test: fuseTest(pred) };
  }
  const det = doc.detection as Record<string, unknown>;
  const ls = resolveLogsource(pipeline, (doc.logsource ?? {}) as Logsource);
  const sel = compileSelections(det, ls, pipeline, opts, counters, '/detection');
  const conds = Array.isArray(det.condition) ? det.condition.map(String) : [String(det.condition)];
  // Several conditions in a list are alternatives (Sigma v1 compatibility).
  const pred = orPred(conds.map((c) => compileCondition(parseCondition(c), sel)));
  return { kind: 'detection', ...m, logsource: ls, test: fuseTest(pred), hints: pred.hints };
}
