/**
 * Field-mapping pipelines: data (rules/pipelines/*.yml) that say how a Sigma rule's logsource
 * and field names land on our events, in the manner of pySigma's processing pipelines
 * (ecs_windows, ecs_linux…). A pipeline maps:
 * - a logsource (product/category/service) to equality conditions on event fields, which the
 *   engine evaluates once per event to pick the rules that can apply;
 * - Sigma field names (`Image`, `CommandLine`) to event paths (`process.executable`…), with an
 *   optional prefix for names it does not know (e.g. `winlog.event_data.` for Windows).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { RuleError } from './errors.js';
import { compileSchema, PIPELINE_SCHEMA } from './schema.js';
import type { Logsource } from './types.js';

/** One logsource entry of a pipeline. */
export interface PipelineLogsource {
  match: { product?: string; category?: string; service?: string };
  conditions?: Record<string, string | number | (string | number)[]>;
  fields?: Record<string, string>;
  unmapped_prefix?: string;
}

/** A field-mapping pipeline (see rules/pipelines/*.yml). */
export interface Pipeline {
  name: string;
  description?: string;
  /** Event path holding the event time (RFC 3339); correlation windows use it. */
  timestamp_field: string;
  /** Event paths searched by Sigma keyword detections; `'*'` searches every string value. */
  keyword_fields: string[] | '*';
  /** What to do with a field the pipeline does not map and that is not a dotted ECS path. */
  unmapped: 'keep' | 'reject';
  /** What to do with a logsource no entry covers. */
  unknown_logsource: 'any' | 'reject';
  fields: Record<string, string>;
  logsources: PipelineLogsource[];
}

/** An equality condition on one event path (values lower-cased; any value matches). */
export interface LogsourceCondition {
  field: string;
  values: string[];
}

/** A rule's logsource resolved through a pipeline. */
export interface ResolvedLogsource {
  /** Stable key: rules with the same key share one logsource check per event. */
  key: string;
  conditions: LogsourceCondition[];
  /** Map a Sigma field name to an event path (throws RULE_ERR_UNSUPPORTED_FIELD). */
  mapField(name: string): string;
}

const validatePipeline = compileSchema(PIPELINE_SCHEMA);

/**
 * Parse and validate a pipeline from YAML text.
 *
 * @example
 * const p = parsePipeline('name: mine\nfields: { Image: process.executable }\n');
 */
export function parsePipeline(text: string): Pipeline {
  if (typeof text !== 'string') throw new TypeError('pipeline text must be a string');
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new RuleError('RULE_ERR_YAML', `pipeline is not valid YAML: ${(e as Error).message}`, { cause: e });
  }
  const v = validatePipeline(doc);
  if (!v.ok) throw new RuleError('RULE_ERR_SCHEMA', `pipeline: ${v.message}`, { path: v.path });
  const p = doc as Partial<Pipeline> & { name: string };
  return {
    name: p.name,
    description: p.description,
    timestamp_field: p.timestamp_field ?? '@timestamp',
    keyword_fields: p.keyword_fields ?? ['message'],
    unmapped: p.unmapped ?? 'reject',
    unknown_logsource: p.unknown_logsource ?? 'reject',
    fields: p.fields ?? {},
    logsources: p.logsources ?? [],
  };
}

const builtinCache = new Map<string, Pipeline>();

/**
 * Load a pipeline shipped in rules/pipelines: `ecs` (our normalised events) or `identity`
 * (raw JSON events that already carry Sigma field names, e.g. flattened Sysmon events).
 *
 * @example
 * const ecs = builtinPipeline('ecs');
 */
export function builtinPipeline(name: 'ecs' | 'identity'): Pipeline {
  if (name !== 'ecs' && name !== 'identity') throw new RangeError(`unknown builtin pipeline ${String(name)}`);
  let p = builtinCache.get(name);
  if (!p) {
    // dist/src/pipeline.js → ../../pipelines/<name>.yml (the YAML ships beside dist/).
    p = parsePipeline(readFileSync(new URL(`../../pipelines/${name}.yml`, import.meta.url), 'utf8'));
    builtinCache.set(name, p);
  }
  return p;
}

function lc(v: string | undefined): string | undefined {
  return v === undefined ? undefined : v.toLowerCase();
}

/**
 * Resolve a rule logsource through a pipeline: which entries apply, their merged conditions
 * and field mapping. A logsource attribute no entry covers is RULE_ERR_UNSUPPORTED_LOGSOURCE
 * unless the pipeline says `unknown_logsource: any`.
 *
 * @example
 * resolveLogsource(builtinPipeline('ecs'), { product: 'windows', category: 'process_creation' }).mapField('Image')
 * // 'process.executable'
 */
export function resolveLogsource(p: Pipeline, ls: Logsource): ResolvedLogsource {
  const want = { product: lc(ls.product), category: lc(ls.category), service: lc(ls.service) };
  const hits: PipelineLogsource[] = [];
  const covered = new Set<string>();
  for (const e of p.logsources) {
    const keys = Object.keys(e.match) as (keyof PipelineLogsource['match'])[];
    if (keys.length && keys.every((k) => lc(e.match[k]) === want[k])) {
      hits.push(e);
      for (const k of keys) covered.add(k);
    }
  }
  for (const k of ['product', 'category', 'service'] as const) {
    if (want[k] !== undefined && !covered.has(k) && p.unknown_logsource === 'reject') {
      throw new RuleError('RULE_ERR_UNSUPPORTED_LOGSOURCE', `pipeline ${p.name} has no mapping for logsource ${k}: ${want[k]}`, { path: `/logsource/${k}` });
    }
  }
  // Most specific entries (more match keys) win for field mappings.
  hits.sort((a, b) => Object.keys(b.match).length - Object.keys(a.match).length);
  const byField = new Map<string, Set<string>>();
  for (const e of hits) {
    for (const [f, v] of Object.entries(e.conditions ?? {})) {
      const vals = (Array.isArray(v) ? v : [v]).map((x) => String(x).toLowerCase());
      const prev = byField.get(f);
      // Two entries constraining the same field: both must hold, so keep the intersection.
      byField.set(f, prev ? new Set(vals.filter((x) => prev.has(x))) : new Set(vals));
    }
  }
  const conditions = [...byField.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([field, vals]) => ({ field, values: [...vals].sort() }));
  const prefix = hits.find((e) => e.unmapped_prefix !== undefined)?.unmapped_prefix;
  const mapField = (name: string): string => {
    for (const e of hits) {
      const m = e.fields?.[name];
      if (m !== undefined) return m;
    }
    const g = p.fields[name];
    if (g !== undefined) return g;
    if (name.includes('.') || name.startsWith('@')) return name;
    if (prefix !== undefined) return prefix + name;
    if (p.unmapped === 'keep') return name;
    throw new RuleError('RULE_ERR_UNSUPPORTED_FIELD', `pipeline ${p.name} has no mapping for field ${name} (logsource ${JSON.stringify(ls)})`);
  };
  return { key: JSON.stringify(conditions), conditions, mapField };
}
