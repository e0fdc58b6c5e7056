/** Shared helpers of the parser tests: fixture loading, a source context, the schema validator. */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { ECS_EVENT_SCHEMA } from '../../src/ecs/schema.js';
import type { SourceContext } from '../../src/types.js';

/** One fixture case: a syslog line or a JSON document, and the fields it must produce. */
export interface FixtureCase {
  name: string;
  line?: string;
  json?: unknown;
  format?: string;
  /** Field path → expected value; `null` means the field must be absent; `tags` lists tags that must be present. */
  expect: Record<string, unknown>;
}

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/parsers/', import.meta.url));

/** Every fixture file as `[file name, cases]`. */
export function loadFixtures(): Array<[string, FixtureCase[]]> {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [f, (JSON.parse(readFileSync(FIXTURES + f, 'utf8')) as { cases: FixtureCase[] }).cases]);
}

/** Receive time of every fixture: 2026-11-29T00:00:00Z (08:00 in Asia/Shanghai). */
export const RECEIVED_AT = Date.UTC(2026, 10, 29, 0, 0, 0);

/** A UDP source context with a given event id. */
export function ctx(eventId: string): SourceContext {
  return {
    sourceId: 'test-udp',
    transport: 'udp',
    peer: { address: '192.0.2.10', port: 514 },
    receivedAt: RECEIVED_AT,
    timezone: 'Asia/Shanghai',
    eventId,
  };
}

const ajv = new Ajv({ strict: false, allErrors: true });
/** ajv validator of the stored-event schema. */
export const validateEvent = ajv.compile(ECS_EVENT_SCHEMA);

/** Schema errors of an event as one readable string ('' when valid). */
export function schemaErrors(ev: unknown): string {
  return validateEvent(ev) ? '' : ajv.errorsText(validateEvent.errors);
}
