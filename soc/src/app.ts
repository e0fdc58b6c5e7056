/**
 * The Fastify application of the SOC: HTTP ingest, event search, Prometheus metrics, health.
 * Builds the server and never listens (DESIGN.md convention 5): `server.ts` does that, tests use
 * `app.inject` or listen on port 0 themselves.
 */
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyBaseLogger } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { CollectorError } from '@xiangan/collectors';
import { SocError, SOC_ERROR_STATUS } from './errors.js';
import { parseIngestBody, type JsonNormaliser } from './ingest/http.js';
import { PROMETHEUS_CONTENT_TYPE } from './metrics.js';
import type { Runtime } from './pipeline/runtime.js';
import { parseQuery } from './query/parse.js';
import { parseDuration } from './query/time.js';
import type { SearchRequest } from './storage/types.js';
import { alertRoutes } from './alerts/routes.js';
import { kmsRoutes, type KmsService } from './kms/index.js';
import { actorOf, installSecurity, principalAuthHook, type SecurityOptions } from './security.js';
import { consoleRoutes } from './console.js';
import { complyRoutes, type ComplyRoutesOptions } from './comply/routes.js';
import { socBus, type EventBus } from './bus.js';
import type { AlertStore } from './alerts/types.js';
import { auditRoutes } from './routes/audit.js';
import { detectionToolRoutes } from './routes/detection.js';
import { keysRoutes } from './routes/keys.js';
import { jsonBodies } from './routes/schemas.js';

/**
 * Decides whether a request may use the API. The console will bring sessions and roles; until
 * then the default is {@link bearerTokenAuth}. Return `true` to allow.
 */
export type AuthHook = (req: FastifyRequest) => boolean | Promise<boolean>;

/**
 * Bearer-token auth: with tokens configured a request must carry `Authorization: Bearer <token>`
 * matching one of them (compared in constant time); with none configured only loopback clients
 * are served, so an unconfigured server is not open to the network.
 *
 * @example
 * ```ts
 * buildApp({ runtime, auth: bearerTokenAuth(['s3cr3t-token-0123456789']) });
 * ```
 */
export function bearerTokenAuth(tokens: readonly string[]): AuthHook {
  const keys = tokens.map((t) => Buffer.from(t));
  return (req) => {
    if (keys.length === 0) {
      const a = req.socket.remoteAddress ?? '';
      return a === '127.0.0.1' || a === '::1' || a.startsWith('127.') || a === '::ffff:127.0.0.1';
    }
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const given = Buffer.from(m[1]!);
    let ok = false;
    for (const k of keys) if (k.length === given.length && timingSafeEqual(k, given)) ok = true;
    return ok;
  };
}

/** Options of {@link buildApp}. */
export interface AppOptions {
  /** Compliance self-assessment routes (soc/src/comply/routes.ts); off when absent. */
  comply?: ComplyRoutesOptions;
  runtime: Runtime;
  /** Default: {@link bearerTokenAuth} over `config.api.tokens`. */
  auth?: AuthHook;
  /** Fastify's logger: the server passes a pino child; tests may omit it. */
  logger?: FastifyBaseLogger;
  /** Turns posted JSON objects into ECS events (collectors' `normaliseJson`); default: fields kept as posted. */
  normaliseJson?: JsonNormaliser;
  now?: () => number;
  /** Users, sessions, roles and the live stream (`security.ts`); the server always passes it. */
  security?: SecurityOptions;
  /** The crypto service (`kms/`): its routes under `/api/v1/kms` with their own application tokens. */
  kms?: KmsService;
}

const ErrorBody = Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: false });

/** Query string of `GET /api/v1/events`. */
export const SearchQuerySchema = Type.Object(
  {
    q: Type.Optional(Type.String({ maxLength: 8192 })),
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time' })),
    last: Type.Optional(Type.String({ pattern: '^\\d{1,9}[smhdw]$' })),
    size: Type.Integer({ minimum: 0, maximum: 10_000, default: 50 }),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
    cursor: Type.Optional(Type.String({ maxLength: 2048 })),
    sort: Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'desc' }),
    facets: Type.Optional(Type.String({ maxLength: 1024 })),
    facetSize: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  },
  { additionalProperties: false },
);

/** Response of `GET /api/v1/events`. */
export const SearchResponseSchema = Type.Object(
  {
    total: Type.Integer(),
    events: Type.Array(Type.Object({}, { additionalProperties: true })),
    facets: Type.Record(Type.String(), Type.Array(Type.Object({ value: Type.Union([Type.String(), Type.Number(), Type.Boolean()]), count: Type.Integer() }))),
    nextCursor: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/**
 * Build the Fastify app over a running pipeline.
 *
 * @example
 * ```ts
 * const app = await buildApp({ runtime });
 * const res = await app.inject({ method: 'GET', url: '/api/v1/events?q=user.name:root&last=1h' });
 * ```
 */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { runtime } = opts;
  const cfg = runtime.config.api;
  const now = opts.now ?? Date.now;
  const auth = opts.auth ?? (opts.security ? principalAuthHook : bearerTokenAuth(cfg.tokens));
  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    bodyLimit: cfg.maxBodyBytes,
    ajv: { customOptions: { coerceTypes: true, useDefaults: true, removeAdditional: false, strict: false } },
  });

  // Every body type the ingest route takes arrives as a string; parsing is ours (line numbers in errors).
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(['application/json', 'application/x-ndjson', 'application/ndjson', 'text/plain'], { parseAs: 'string', bodyLimit: cfg.maxBodyBytes }, (_req, body, done) =>
    done(null, body),
  );

  app.setErrorHandler((err, req, reply) => {
    const e = err as Error & { code?: string; statusCode?: number; validation?: unknown };
    if (e instanceof SocError) {
      const status = SOC_ERROR_STATUS[e.code];
      if (status >= 500) req.log.error({ err: e, errorCode: e.code, stage: 'api' }, 'Request failed.');
      return reply.code(status).send({ code: e.code, message: e.message });
    }
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      runtime.ingestCounters.rejected.inc({ reason: 'too_large' });
      return reply.code(413).send({ code: 'SOC_ERR_PAYLOAD_TOO_LARGE', message: `body larger than ${cfg.maxBodyBytes} bytes` });
    }
    if (e.validation) {
      const code = req.url.startsWith('/api/v1/ingest') ? 'SOC_ERR_INGEST_INVALID' : 'SOC_ERR_QUERY';
      return reply.code(400).send({ code, message: e.message });
    }
    if (e.statusCode && e.statusCode < 500) return reply.code(e.statusCode).send({ code: e.code ?? 'SOC_ERR_QUERY', message: e.message });
    req.log.error({ err: e, stage: 'api' }, 'Unexpected error.');
    return reply.code(500).send({ code: 'SOC_ERR_UNAVAILABLE', message: 'internal error' });
  });

  // Before any route, so the permission hook and the route table see every one.
  if (opts.security) await installSecurity(app, opts.security);

  const requireAuth = async (req: FastifyRequest): Promise<void> => {
    if (!(await auth(req))) throw new SocError('SOC_ERR_UNAUTHORIZED', 'a valid bearer token is required');
  };

  app.get('/api/v1/health', async () => {
    const m = process.memoryUsage();
    return {
      status: 'ok',
      buffer: { depth: runtime.buffer.depth, full: runtime.buffer.full },
      memory: { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers },
    };
  });

  app.get('/metrics', async (_req, reply) => reply.type(PROMETHEUS_CONTENT_TYPE).send(runtime.metrics.render()));

  app.post(
    '/api/v1/ingest',
    {
      onRequest: requireAuth,
      schema: { response: { 200: Type.Object({ accepted: Type.Integer() }), '4xx': ErrorBody, '5xx': ErrorBody } },
    },
    async (req, reply) => {
      const body = typeof req.body === 'string' ? req.body : '';
      let events;
      try {
        events = parseIngestBody(body, req.headers['content-type'] ?? 'application/x-ndjson', {
          receivedAt: now(),
          sourceId: 'http',
          maxEvents: cfg.maxEventsPerRequest,
          peer: { address: req.socket.remoteAddress ?? '', port: req.socket.remotePort ?? 0 },
          ...(opts.normaliseJson ? { normaliseJson: opts.normaliseJson } : {}),
        });
      } catch (e) {
        runtime.ingestCounters.rejected.inc({ reason: 'invalid' });
        throw e;
      }
      if (events.length === 0) return { accepted: 0 };
      if (runtime.buffer.full) {
        runtime.ingestCounters.rejected.inc({ reason: 'buffer_full' });
        reply.header('retry-after', '1');
        throw new SocError('SOC_ERR_BACKPRESSURE', 'buffer full; retry later');
      }
      try {
        await runtime.buffer.append(events);
      } catch (e) {
        if (e instanceof CollectorError && e.code === 'COL_ERR_BUFFER_FULL') {
          runtime.ingestCounters.rejected.inc({ reason: 'buffer_full' });
          reply.header('retry-after', '1');
          throw new SocError('SOC_ERR_BACKPRESSURE', 'buffer full; retry later', { cause: e });
        }
        runtime.ingestCounters.rejected.inc({ reason: 'buffer_error' });
        throw new SocError('SOC_ERR_UNAVAILABLE', `buffer cannot accept events: ${(e as Error).message}`, { cause: e });
      }
      runtime.ingestCounters.accepted.inc(undefined, events.length);
      return { accepted: events.length };
    },
  );

  app.get<{ Querystring: Static<typeof SearchQuerySchema> }>(
    '/api/v1/events',
    { onRequest: requireAuth, schema: { querystring: SearchQuerySchema, response: { 200: SearchResponseSchema, '4xx': ErrorBody, '5xx': ErrorBody } } },
    async (req) => {
      const q = req.query;
      return runtime.store.search(searchRequestFrom(q, now()));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/events/:id',
    { onRequest: requireAuth, schema: { params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) }) } },
    async (req, reply) => {
      const ev = await runtime.store.get(req.params.id);
      if (!ev) return reply.code(404).send({ code: 'SOC_ERR_QUERY', message: 'no event with this id' });
      return ev;
    },
  );

  if (runtime.detection) await app.register(alertRoutes, { alerts: publishingAlertStore(runtime.detection.alerts, opts.security?.bus ?? socBus), events: runtime.store, auth, detector: runtime.detection.detector, notifier: runtime.detection.notifier, ...(opts.security ? { actorOf } : {}) });

  if (opts.security) {
    // Console tools: the audit trail, rule testing, keys and certificates; JSON bodies parsed in their own context
    // (the app takes every body as text for its ingest route).
    await app.register(async (scope) => {
      jsonBodies(scope);
      await scope.register(auditRoutes);
      await scope.register(detectionToolRoutes, { now, ...(runtime.detection ? { detector: runtime.detection.detector } : {}) });
      await scope.register(keysRoutes, { dataDir: runtime.config.data, ...(opts.kms ? { kms: opts.kms } : {}), now });
    });
  }

  if (opts.kms) await app.register(kmsRoutes, { service: opts.kms });

  if (opts.comply) await app.register(complyRoutes, opts.comply);
  await app.register(consoleRoutes);

  return app;
}

/**
 * The alert store as the API uses it: every lifecycle change made through the API (transition,
 * assignment, comment) is published as an `alert` message after it is committed, so every open
 * console sees it live, as it sees the detector's new and re-raised alerts. Everything else is
 * the store's own method.
 *
 * @example
 * const alerts = publishingAlertStore(runtime.detection.alerts, socBus);
 * await alerts.transition(id, 'acknowledged', 'alice'); // bus gets { type: 'alert', data: alert }
 */
export function publishingAlertStore(store: AlertStore, bus: EventBus): AlertStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'transition' || prop === 'assign') {
        return async (...args: unknown[]) => {
          const a = await (target[prop] as (...x: unknown[]) => Promise<unknown>).apply(target, args);
          bus.publish('alert', a);
          return a;
        };
      }
      if (prop === 'comment') {
        return async (id: string, actor: string, text: string) => {
          const c = await target.comment(id, actor, text);
          const a = await target.get(id);
          if (a) bus.publish('alert', a);
          return c;
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * The store request for search parameters as the API and the CLI take them (`last` wins over
 * `from` when both are given).
 */
export function searchRequestFrom(q: Partial<Static<typeof SearchQuerySchema>>, nowMs: number): SearchRequest {
  const req: SearchRequest = { query: parseQuery(q.q ?? '') };
  if (q.last !== undefined) {
    const ms = parseDuration(q.last);
    if (ms === undefined) throw new SocError('SOC_ERR_QUERY', `last: '${q.last}' is not a duration like 15m, 1h, 7d`);
    req.from = new Date(nowMs - ms).toISOString();
  } else if (q.from !== undefined) req.from = q.from;
  if (q.to !== undefined) req.to = q.to;
  if (q.size !== undefined) req.size = q.size;
  if (q.offset !== undefined) req.offset = q.offset;
  if (q.cursor !== undefined) req.cursor = q.cursor;
  if (q.sort !== undefined) req.sort = q.sort;
  if (q.facets !== undefined && q.facets !== '') req.facets = q.facets.split(',').map((f) => f.trim()).filter(Boolean);
  if (q.facetSize !== undefined) req.facetSize = q.facetSize;
  return req;
}
