/**
 * JSON Schemas (ajv) for Sigma rules (specification v2: detection, correlation and meta-filter
 * rules) and for pipelines. Validation happens once, at load; errors name the path
 * (DESIGN.md convention 4).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

const ajv = new Ajv({ allErrors: false, strict: false });

/** Result of a schema check. */
export type SchemaResult = { ok: true } | { ok: false; message: string; path: string };

function describe(e: ErrorObject): { message: string; path: string } {
  const path = e.instancePath || '/';
  let msg = e.message ?? 'invalid';
  if (e.keyword === 'additionalProperties') msg = `unknown property ${JSON.stringify((e.params as { additionalProperty: string }).additionalProperty)}`;
  if (e.keyword === 'enum') msg = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((x) => JSON.stringify(x)).join(', ')}`;
  return { message: `${path}: ${msg}`, path };
}

/**
 * Compile a schema into a checker that returns `{ ok }` or the first error with its path.
 *
 * @example
 * const check = compileSchema({ type: 'object', required: ['title'] });
 * check({}) // { ok: false, message: "/: must have required property 'title'", path: '/' }
 */
export function compileSchema(schema: object): (v: unknown) => SchemaResult {
  const fn: ValidateFunction = ajv.compile(schema);
  return (v) => {
    if (fn(v)) return { ok: true };
    return { ok: false, ...describe(fn.errors![0]) };
  };
}

const str = { type: 'string', maxLength: 65536 };
const strList = { type: 'array', items: str, maxItems: 10000 };
const strOrList = { anyOf: [str, strList] };

const LOGSOURCE = {
  type: 'object',
  properties: { product: str, category: str, service: str, definition: str },
};

const SAMPLE_EVENT = { type: 'object' };
const SAMPLE = { anyOf: [SAMPLE_EVENT, { type: 'array', items: SAMPLE_EVENT, minItems: 1, maxItems: 10000 }] };

/** The Xiangan extension block inside a rule file (samples run as tests). */
const XIANGAN = {
  type: 'object',
  additionalProperties: false,
  properties: {
    samples: {
      type: 'object',
      additionalProperties: false,
      properties: {
        match: { type: 'array', items: SAMPLE },
        nomatch: { type: 'array', items: SAMPLE },
      },
    },
    pipeline: { enum: ['ecs', 'identity'] },
  },
};

const META = {
  title: { type: 'string', minLength: 1, maxLength: 256 },
  id: str,
  name: str,
  status: { enum: ['stable', 'test', 'experimental', 'deprecated', 'unsupported'] },
  description: str,
  license: str,
  author: str,
  references: strList,
  date: { anyOf: [str, { type: 'object' }] },
  modified: { anyOf: [str, { type: 'object' }] },
  tags: strList,
  level: { enum: ['informational', 'low', 'medium', 'high', 'critical'] },
  falsepositives: strOrList,
  fields: strList,
  related: { type: 'array' },
  scope: strList,
  taxonomy: str,
  'x-xiangan': XIANGAN,
};

/** Sigma detection rule (specification v2). Extra top-level keys are allowed, as Sigma permits custom attributes. */
export const DETECTION_SCHEMA = {
  type: 'object',
  required: ['title', 'logsource', 'detection'],
  properties: {
    ...META,
    logsource: LOGSOURCE,
    detection: {
      type: 'object',
      required: ['condition'],
      properties: { condition: { anyOf: [str, { type: 'array', items: str, minItems: 1 }] } },
      additionalProperties: { anyOf: [{ type: 'object' }, { type: 'array' }, { type: 'string' }, { type: 'number' }, { type: 'null' }] },
    },
  },
};

const TIMESPAN = { type: 'string', pattern: '^[0-9]{1,9}[smhdwMy]$' };
const CMP = { type: 'number' };

/** Sigma correlation rule (Sigma correlation rules specification). */
export const CORRELATION_SCHEMA = {
  type: 'object',
  required: ['title', 'correlation'],
  properties: {
    ...META,
    correlation: {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'rules', 'timespan'],
      properties: {
        type: { enum: ['event_count', 'value_count', 'temporal', 'temporal_ordered'] },
        rules: { anyOf: [str, { type: 'array', items: str, minItems: 1, maxItems: 64 }] },
        'group-by': strList,
        timespan: TIMESPAN,
        generate: { type: 'boolean' },
        aliases: { type: 'object', additionalProperties: { type: 'object', additionalProperties: str } },
        condition: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: { gt: CMP, gte: CMP, lt: CMP, lte: CMP, eq: CMP, field: str },
        },
      },
    },
  },
};

/** Sigma meta filter (Sigma filters specification): extra conditions applied to referenced rules. */
export const FILTER_SCHEMA = {
  type: 'object',
  required: ['title', 'filter'],
  properties: {
    ...META,
    logsource: LOGSOURCE,
    filter: {
      type: 'object',
      required: ['rules', 'condition'],
      properties: {
        rules: { anyOf: [str, { type: 'array', items: str, minItems: 1 }] },
        condition: str,
      },
    },
  },
};

/** A field-mapping pipeline (rules/pipelines/*.yml). */
export const PIPELINE_SCHEMA = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9_-]{1,64}$' },
    description: str,
    timestamp_field: str,
    keyword_fields: { anyOf: [strList, { const: '*' }] },
    unmapped: { enum: ['keep', 'reject'] },
    unknown_logsource: { enum: ['any', 'reject'] },
    fields: { type: 'object', additionalProperties: str },
    logsources: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['match'],
        properties: {
          match: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: { product: str, category: str, service: str },
          },
          conditions: {
            type: 'object',
            additionalProperties: { anyOf: [str, { type: 'number' }, { type: 'array', items: { anyOf: [str, { type: 'number' }] } }] },
          },
          fields: { type: 'object', additionalProperties: str },
          unmapped_prefix: str,
        },
      },
    },
  },
};

const checkDetection = compileSchema(DETECTION_SCHEMA);
const checkCorrelation = compileSchema(CORRELATION_SCHEMA);
const checkFilter = compileSchema(FILTER_SCHEMA);

/** Which kind of Sigma document this is. */
export type RuleKind = 'detection' | 'correlation' | 'filter';

/**
 * The kind of a Sigma document, by its distinguishing key.
 *
 * @example
 * ruleKind({ title: 't', correlation: {} }) // 'correlation'
 */
export function ruleKind(doc: Record<string, unknown>): RuleKind {
  if ('correlation' in doc) return 'correlation';
  if ('filter' in doc) return 'filter';
  return 'detection';
}

/**
 * Validate a Sigma document against the schema of its kind.
 *
 * @example
 * validateRuleDoc({ title: 'x' }) // { ok: false, message: "/: must have required property 'logsource'", … }
 */
export function validateRuleDoc(doc: unknown): SchemaResult {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return { ok: false, message: '/: a rule must be a mapping', path: '/' };
  const k = ruleKind(doc as Record<string, unknown>);
  return k === 'correlation' ? checkCorrelation(doc) : k === 'filter' ? checkFilter(doc) : checkDetection(doc);
}
