/**
 * HTTP ingest (issue 3, "Sources"): NDJSON or a JSON array of event objects → ECS events with a
 * deterministic id → durable buffer. The route answers 2xx only after the durable append; a full
 * buffer answers 429 with `Retry-After`, a buffer that cannot write 503; nothing is half-accepted
 * (the whole request is one append, which commits all of its events or none).
 */
import { createHash } from 'node:crypto';
import { Ajv } from 'ajv';
import { Type } from '@sinclair/typebox';
import { normaliseJson, type EcsEvent, type SourceContext } from '@xiangan/collectors';
import { SocError } from '../errors.js';

/**
 * The schema each posted object must meet. ECS is an open schema (vendor namespaces, field sets
 * not modelled), so only the fields Xiangan relies on are typed and other keys are allowed; the
 * stored event still has its core fields set here.
 */
export const IngestEventSchema = Type.Object(
  {
    id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    '@timestamp': Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})$' })),
    message: Type.Optional(Type.String()),
    tags: Type.Optional(Type.Array(Type.String())),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    event: Type.Optional(Type.Object({}, { additionalProperties: true })),
    source: Type.Optional(Type.Object({ ip: Type.Optional(Type.String()), port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })) })),
    destination: Type.Optional(Type.Object({ ip: Type.Optional(Type.String()), port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })) })),
    user: Type.Optional(Type.Object({ name: Type.Optional(Type.String()) })),
    host: Type.Optional(Type.Object({ name: Type.Optional(Type.String()) })),
  },
  { additionalProperties: true },
);

const ajv = new Ajv({ allErrors: false, strict: false });
const validateEvent = ajv.compile(IngestEventSchema);

/** A posted object turned into an ECS event (collectors' `normaliseJson` by default). */
export type JsonNormaliser = (obj: Record<string, unknown>, ctx: SourceContext) => EcsEvent;

/** Options of {@link parseIngestBody}. */
export interface IngestParseOptions {
  /** Receive time (ms). */
  receivedAt: number;
  /** Source id recorded in `labels['xiangan.source']` and mixed into ids. */
  sourceId: string;
  maxEvents: number;
  /** The client's address, kept in `log.source.address`. */
  peer?: { address: string; port: number };
  /** Zone for vendor times without an offset; default Asia/Shanghai. */
  timezone?: string;
  normaliseJson?: JsonNormaliser;
}

/**
 * The deterministic id of a posted event without its own `id`: SHA-256 over the source id and the
 * exact JSON text, so a client retrying the same request writes the same ids (the store dedupes).
 */
export function ingestEventId(sourceId: string, text: string): string {
  return createHash('sha256').update(sourceId).update('\0').update(text).digest('hex').slice(0, 32);
}

/**
 * Parse an ingest body. `contentType` `application/json` takes a JSON array (or one object);
 * anything else is NDJSON (one object per line, blank lines ignored). Throws
 * `SocError('SOC_ERR_INGEST_INVALID')` naming the line or index of the first bad event.
 *
 * @example
 * ```ts
 * parseIngestBody('{"message":"a"}\n{"message":"b"}\n', 'application/x-ndjson', { receivedAt: Date.now(), sourceId: 'http', maxEvents: 1000 });
 * ```
 */
export function parseIngestBody(body: string, contentType: string, opts: IngestParseOptions): EcsEvent[] {
  const items: Array<{ obj: unknown; text: string; where: string }> = [];
  if (/^application\/json\b/i.test(contentType)) {
    let v: unknown;
    try {
      v = JSON.parse(body);
    } catch (e) {
      throw new SocError('SOC_ERR_INGEST_INVALID', `body is not JSON: ${(e as Error).message}`);
    }
    const arr = Array.isArray(v) ? v : [v];
    if (arr.length > opts.maxEvents) throw new SocError('SOC_ERR_INGEST_INVALID', `more than ${opts.maxEvents} events in one request`);
    arr.forEach((obj, i) => items.push({ obj, text: JSON.stringify(obj), where: `item ${i}` }));
  } else {
    const lines = body.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.replace(/\r$/, '');
      if (line.trim() === '') continue;
      if (items.length >= opts.maxEvents) throw new SocError('SOC_ERR_INGEST_INVALID', `more than ${opts.maxEvents} events in one request`);
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch (e) {
        throw new SocError('SOC_ERR_INGEST_INVALID', `line ${i + 1}: not JSON: ${(e as Error).message}`, { details: { line: i + 1 } });
      }
      items.push({ obj, text: line, where: `line ${i + 1}` });
    }
  }
  const normalise = opts.normaliseJson ?? normaliseJson;
  return items.map(({ obj, text, where }) => {
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new SocError('SOC_ERR_INGEST_INVALID', `${where}: an event must be a JSON object`);
    }
    if (!validateEvent(obj)) {
      const e = validateEvent.errors![0]!;
      throw new SocError('SOC_ERR_INGEST_INVALID', `${where}: ${e.instancePath || '(event)'} ${e.message ?? 'is invalid'}`, {
        details: { where, path: e.instancePath },
      });
    }
    const o = obj as Record<string, unknown>;
    if (typeof o['@timestamp'] === 'string' && !Number.isFinite(Date.parse(o['@timestamp']))) {
      throw new SocError('SOC_ERR_INGEST_INVALID', `${where}: /@timestamp is not a real date`);
    }
    const ctx: SourceContext = {
      sourceId: opts.sourceId,
      transport: 'http',
      receivedAt: opts.receivedAt,
      timezone: opts.timezone ?? 'Asia/Shanghai',
      eventId: typeof o.id === 'string' ? o.id : ingestEventId(opts.sourceId, text),
      ...(opts.peer ? { peer: opts.peer } : {}),
    };
    return normalise(o, ctx);
  });
}
