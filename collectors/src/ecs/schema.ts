import { ECS_FIELDS, type EcsFieldSpec } from './fields.js';

/** A JSON Schema node (draft-07 subset as produced here). */
export type JsonSchema = { [k: string]: unknown };

/** ISO 8601 date-time with seconds and an explicit offset (RFC 3339 §5.6 `date-time`). */
export const DATE_PATTERN = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$';
const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
/**
 * Dotted-quad IPv4 (RFC 791 text form) or an IPv6 text form (RFC 4291 §2.2, including the
 * IPv4-compatible `::1.2.3.4` and mapped `::ffff:1.2.3.4` forms), zone id allowed. A loose
 * shape check: parsers and `coerceEcs` admit only what `net.isIP` accepts.
 */
export const IP_PATTERN =
  `^(${OCTET}(\\.${OCTET}){3}|[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){1,8}(:${OCTET}(\\.${OCTET}){3})?(%[0-9A-Za-z._-]+)?|::ffff:${OCTET}(\\.${OCTET}){3})$`;

/** Values ECS allows for `event.kind` and `event.outcome` (ECS categorisation fields). */
export const ECS_ENUMS: Readonly<Record<string, readonly string[]>> = {
  'event.kind': ['event', 'alert', 'metric', 'state', 'pipeline_error', 'signal', 'enrichment'],
  'event.outcome': ['success', 'failure', 'unknown'],
};

function leafSchema(path: string, spec: EcsFieldSpec): JsonSchema {
  let s: JsonSchema;
  switch (spec.type) {
    case 'keyword':
    case 'text':
      s = ECS_ENUMS[path] ? { type: 'string', enum: [...ECS_ENUMS[path]!] } : { type: 'string' };
      break;
    case 'ip':
      s = { type: 'string', pattern: IP_PATTERN };
      break;
    case 'date':
      s = { type: 'string', pattern: DATE_PATTERN };
      break;
    case 'long':
      s = { type: 'integer' };
      break;
    case 'float':
      s = { type: 'number' };
      break;
    case 'boolean':
      s = { type: 'boolean' };
      break;
    case 'object':
      s = { type: 'object' };
      break;
  }
  return spec.array ? { type: 'array', items: s } : s;
}

function buildSchema(): JsonSchema {
  const root: JsonSchema = { type: 'object', properties: {} };
  for (const [path, spec] of Object.entries(ECS_FIELDS)) {
    const parts = path.split('.');
    let node = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const props = node.properties as Record<string, JsonSchema>;
      node = props[parts[i]!] ??= { type: 'object', properties: {} };
    }
    (node.properties as Record<string, JsonSchema>)[parts[parts.length - 1]!] = leafSchema(path, spec);
  }
  return root;
}

/**
 * JSON Schema (draft-07, for ajv's default export) of the stored event, generated from
 * {@link ECS_FIELDS}. Known fields are typed; ECS is an open schema, so other fields
 * (vendor namespaces, field sets not modelled here) are allowed.
 *
 * @example
 * import Ajv from 'ajv';
 * const validate = new Ajv({ strict: false }).compile(ECS_EVENT_SCHEMA);
 * validate(normalise(msg, ctx)); // true
 */
export const ECS_EVENT_SCHEMA: JsonSchema = Object.freeze({
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://xiangan.invalid/schema/ecs-event.json',
  title: 'Xiangan stored event (ECS subset)',
  ...buildSchema(),
  required: ['id', '@timestamp', 'event'],
});
