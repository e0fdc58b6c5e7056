export { ECS_FIELDS, fieldType, type EcsFieldSpec, type EcsFieldType } from './fields.js';
export { ECS_EVENT_SCHEMA, ECS_ENUMS, DATE_PATTERN, IP_PATTERN, type JsonSchema } from './schema.js';
export { flattenEvent, getField, setField, finaliseEvent } from './helpers.js';
export { coerceEcs } from './coerce.js';
