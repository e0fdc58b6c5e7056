/**
 * The alert API as a Fastify plugin. Routes are a table ({@link ALERT_ROUTES}) with the
 * permission each needs, so the console's users/roles layer can wrap them with role checks; until
 * then every route sits behind the app's {@link AuthHook}. Inputs and outputs have JSON Schemas;
 * errors are `{ code, message }` through the app's error handler.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { EcsEvent } from '@xiangan/collectors';
import type { AuthHook } from '../app.js';
import { SocError } from '../errors.js';
import type { EventStore } from '../storage/types.js';
import type { Detector } from '../detection/detector.js';
import type { Notifier } from '../notify/notifier.js';
import { LevelSchema } from '../notify/config.js';
import { decodeAlertCursor, encodeAlertCursor, MAX_ALERT_CURSOR_LENGTH } from '../routes/alert-cursor.js';
import { ALERT_STATUSES, type AlertStatus, type AlertStore } from './types.js';

const Status = Type.Union(ALERT_STATUSES.map((s) => Type.Literal(s)));
const ErrorBody = Type.Object({ code: Type.String(), message: Type.String() });
const Actor = Type.Optional(Type.String({ minLength: 1, maxLength: 128 }));

/** JSON Schema of one alert. */
export const AlertSchema = Type.Object({
  id: Type.String(),
  ruleId: Type.String(),
  title: Type.String(),
  severity: LevelSchema,
  riskScore: Type.Integer(),
  tags: Type.Array(Type.String()),
  kind: Type.Union([Type.Literal('detection'), Type.Literal('correlation')]),
  groupKey: Type.String(),
  group: Type.Record(Type.String(), Type.String()),
  status: Status,
  assignee: Type.Union([Type.String(), Type.Null()]),
  count: Type.Integer(),
  firstSeen: Type.String(),
  lastSeen: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  eventIds: Type.Array(Type.String()),
  correlation: Type.Optional(Type.Object({}, { additionalProperties: true })),
});

const HistorySchema = Type.Object({
  at: Type.String(),
  actor: Type.String(),
  action: Type.String(),
  from: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  to: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  note: Type.Optional(Type.String()),
});
const CommentSchema = Type.Object({ id: Type.Integer(), at: Type.String(), actor: Type.String(), text: Type.String() });
const SuppressionSchema = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal('suppression'), Type.Literal('exception')]),
  ruleId: Type.Union([Type.String(), Type.Null()]),
  match: Type.Record(Type.String(), Type.Array(Type.String())),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
  reason: Type.String(),
  createdBy: Type.String(),
  createdAt: Type.String(),
  hits: Type.Integer(),
});

/** Query string of `GET /api/v1/alerts`. */
export const AlertListQuery = Type.Object(
  {
    /** Comma-separated statuses. */
    status: Type.Optional(Type.String({ pattern: '^[a-z_]+(,[a-z_]+)*$', maxLength: 200 })),
    severity: Type.Optional(LevelSchema),
    rule: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    assignee: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time' })),
    size: Type.Integer({ minimum: 0, maximum: 1000, default: 50 }),
    offset: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
    /** Keyset paging: the `next` of the previous page (`../routes/alert-cursor.ts`); not with `offset`. */
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_ALERT_CURSOR_LENGTH })),
  },
  { additionalProperties: false },
);

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) });

/** Body of `POST /api/v1/suppressions`. */
export const SuppressionBody = Type.Object(
  {
    kind: Type.Union([Type.Literal('suppression'), Type.Literal('exception')]),
    ruleId: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()])),
    match: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 256 }), Type.Array(Type.String({ maxLength: 1024 }), { minItems: 1, maxItems: 1000 }))),
    expiresAt: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
    reason: Type.String({ minLength: 1, maxLength: 2000 }),
    actor: Actor,
  },
  { additionalProperties: false },
);

/** What the plugin needs. */
export interface AlertRoutesOptions {
  alerts: AlertStore;
  events: EventStore;
  auth: AuthHook;
  detector?: Detector;
  notifier?: Notifier;
  /**
   * Who is acting: the console's session layer supplies the user; until then the body's `actor`
   * (or `api`).
   */
  actorOf?: (req: FastifyRequest) => string;
}

/** A permission name a role may hold. */
export type AlertPermission = 'alerts:read' | 'alerts:write' | 'alerts:suppress' | 'rules:read' | 'rules:write';

/** One route of the table. */
export interface AlertRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  permission: AlertPermission;
  schema: { querystring?: TSchema; params?: TSchema; body?: TSchema; response: Record<string, TSchema> };
  handler: (o: AlertRoutesOptions, req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

const ok = (s: TSchema) => ({ 200: s, '4xx': ErrorBody, '5xx': ErrorBody });
const MAX_EVENTS_SHOWN = 100;

function actor(o: AlertRoutesOptions, req: FastifyRequest): string {
  if (o.actorOf) return o.actorOf(req);
  const b = req.body as { actor?: string } | undefined;
  return b?.actor ?? 'api';
}

async function mustAlert(o: AlertRoutesOptions, id: string) {
  const a = await o.alerts.get(id);
  if (!a) throw new SocError('SOC_ERR_ALERT_NOT_FOUND', `no alert with id ${id}`);
  return a;
}

/**
 * Every alert route with its permission. Wrap `handler` or add an `onRequest` per `permission`
 * to enforce roles.
 */
export const ALERT_ROUTES: readonly AlertRoute[] = [
  {
    method: 'GET',
    url: '/api/v1/alerts',
    permission: 'alerts:read',
    schema: {
      querystring: AlertListQuery,
      // `next`: cursor of the following page, present when this page is full.
      response: ok(Type.Object({ total: Type.Integer(), alerts: Type.Array(AlertSchema), next: Type.Optional(Type.String()) })),
    },
    handler: async (o, req) => {
      const q = req.query as Static<typeof AlertListQuery>;
      const status = q.status?.split(',') as AlertStatus[] | undefined;
      for (const s of status ?? []) if (!ALERT_STATUSES.includes(s)) throw new SocError('SOC_ERR_QUERY', `status: '${s}' is not one of ${ALERT_STATUSES.join(', ')}`);
      if (q.cursor !== undefined && q.offset > 0) throw new SocError('SOC_ERR_QUERY', 'cursor and offset exclude each other');
      const bound = { ...(status ? { status } : {}), ...(q.severity ? { severity: q.severity } : {}), ...(q.rule ? { rule: q.rule } : {}), ...(q.assignee ? { assignee: q.assignee } : {}), ...(q.from ? { from: q.from } : {}), ...(q.to ? { to: q.to } : {}) };
      const page = await o.alerts.list({
        ...(status ? { status } : {}),
        ...(q.severity ? { minSeverity: q.severity as never } : {}),
        ...(q.rule ? { ruleId: q.rule } : {}),
        ...(q.assignee ? { assignee: q.assignee } : {}),
        ...(q.from ? { from: q.from } : {}),
        ...(q.to ? { to: q.to } : {}),
        size: q.size,
        offset: q.offset,
        ...(q.cursor !== undefined ? { after: decodeAlertCursor(q.cursor, bound) } : {}),
      });
      const last = page.alerts.at(-1);
      return q.size > 0 && page.alerts.length === q.size && last ? { ...page, next: encodeAlertCursor(last, bound) } : page;
    },
  },
  {
    method: 'GET',
    url: '/api/v1/alerts/:id',
    permission: 'alerts:read',
    schema: {
      params: IdParams,
      response: ok(
        Type.Object({
          alert: AlertSchema,
          events: Type.Array(Type.Object({}, { additionalProperties: true })),
          /** Event ids no longer in the store (retention). */
          missingEvents: Type.Integer(),
          history: Type.Array(HistorySchema),
          comments: Type.Array(CommentSchema),
        }),
      ),
    },
    handler: async (o, req) => {
      const { id } = req.params as { id: string };
      const alert = await mustAlert(o, id);
      const events: EcsEvent[] = [];
      let missing = 0;
      for (const eid of alert.eventIds.slice(-MAX_EVENTS_SHOWN)) {
        const ev = await o.events.get(eid);
        if (ev) events.push(ev);
        else missing++;
      }
      return { alert, events, missingEvents: missing, history: await o.alerts.history(id), comments: await o.alerts.comments(id) };
    },
  },
  {
    method: 'POST',
    url: '/api/v1/alerts/:id/transition',
    permission: 'alerts:write',
    schema: {
      params: IdParams,
      body: Type.Object({ to: Status, note: Type.Optional(Type.String({ maxLength: 4000 })), actor: Actor }, { additionalProperties: false }),
      response: ok(AlertSchema),
    },
    handler: async (o, req) => {
      const b = req.body as { to: AlertStatus; note?: string };
      return o.alerts.transition((req.params as { id: string }).id, b.to, actor(o, req), b.note);
    },
  },
  {
    method: 'POST',
    url: '/api/v1/alerts/:id/assign',
    permission: 'alerts:write',
    schema: {
      params: IdParams,
      body: Type.Object({ assignee: Type.Union([Type.String({ minLength: 1, maxLength: 128 }), Type.Null()]), actor: Actor }, { additionalProperties: false }),
      response: ok(AlertSchema),
    },
    handler: async (o, req) => o.alerts.assign((req.params as { id: string }).id, (req.body as { assignee: string | null }).assignee, actor(o, req)),
  },
  {
    method: 'POST',
    url: '/api/v1/alerts/:id/comments',
    permission: 'alerts:write',
    schema: { params: IdParams, body: Type.Object({ text: Type.String({ minLength: 1, maxLength: 20_000 }), actor: Actor }, { additionalProperties: false }), response: ok(CommentSchema) },
    handler: async (o, req) => o.alerts.comment((req.params as { id: string }).id, actor(o, req), (req.body as { text: string }).text),
  },
  {
    method: 'GET',
    url: '/api/v1/suppressions',
    permission: 'alerts:read',
    schema: { response: ok(Type.Object({ suppressions: Type.Array(SuppressionSchema) })) },
    handler: async (o) => ({ suppressions: await o.alerts.listSuppressions() }),
  },
  {
    method: 'POST',
    url: '/api/v1/suppressions',
    permission: 'alerts:suppress',
    schema: { body: SuppressionBody, response: ok(SuppressionSchema) },
    handler: async (o, req) => {
      const b = req.body as Static<typeof SuppressionBody>;
      if (b.kind === 'suppression' && !b.expiresAt) throw new SocError('SOC_ERR_QUERY', 'a suppression window needs expiresAt');
      return o.alerts.addSuppression({
        kind: b.kind,
        reason: b.reason,
        createdBy: actor(o, req),
        ruleId: b.ruleId ?? null,
        match: b.match ?? {},
        expiresAt: b.expiresAt ?? null,
      });
    },
  },
  {
    method: 'DELETE',
    url: '/api/v1/suppressions/:id',
    permission: 'alerts:suppress',
    schema: { params: IdParams, response: ok(Type.Object({ deleted: Type.Boolean() })) },
    handler: async (o, req) => {
      const id = (req.params as { id: string }).id;
      if (!(await o.alerts.deleteSuppression(id))) throw new SocError('SOC_ERR_ALERT_NOT_FOUND', `no suppression with id ${id}`);
      return { deleted: true };
    },
  },
  {
    method: 'GET',
    url: '/api/v1/detection/rules',
    permission: 'rules:read',
    schema: {
      response: ok(
        Type.Object({
          rules: Type.Array(Type.Object({ id: Type.String(), title: Type.String(), level: Type.String(), kind: Type.String(), tags: Type.Array(Type.String()), enabled: Type.Boolean() })),
          rejected: Type.Array(Type.Object({ source: Type.String(), code: Type.String(), reason: Type.String() })),
        }),
      ),
    },
    handler: async (o) => {
      const d = o.detector;
      if (!d) return { rules: [], rejected: [] };
      const all = [...d.engine.detections, ...d.engine.correlations];
      return {
        rules: all.map((r) => ({ id: r.id, title: r.title, level: r.level, kind: r.kind, tags: r.tags, enabled: d.isRuleEnabled(r.id) })),
        rejected: d.engine.rejected.map((r) => ({ source: r.source, code: r.code, reason: r.reason })),
      };
    },
  },
  {
    method: 'PUT',
    url: '/api/v1/detection/rules/:id',
    permission: 'rules:write',
    schema: {
      params: IdParams,
      body: Type.Object({ enabled: Type.Boolean(), actor: Actor }, { additionalProperties: false }),
      response: ok(Type.Object({ id: Type.String(), enabled: Type.Boolean() })),
    },
    handler: async (o, req) => {
      const id = (req.params as { id: string }).id;
      const d = o.detector;
      if (!d || ![...d.engine.detections, ...d.engine.correlations].some((r) => r.id === id)) throw new SocError('SOC_ERR_ALERT_NOT_FOUND', `no loaded rule with id ${id}`);
      const enabled = (req.body as { enabled: boolean }).enabled;
      await d.setRuleEnabled(id, enabled, actor(o, req));
      return { id, enabled };
    },
  },
  {
    method: 'GET',
    url: '/api/v1/notify/outbox',
    permission: 'alerts:read',
    schema: {
      querystring: Type.Object({ status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('sent'), Type.Literal('dead')])) }, { additionalProperties: false }),
      response: ok(Type.Object({ entries: Type.Array(Type.Object({}, { additionalProperties: true })) })),
    },
    handler: async (o, req) => {
      const status = (req.query as { status?: 'pending' | 'sent' | 'dead' }).status;
      return { entries: o.notifier ? await o.notifier.entries(status ? { status } : {}) : [] };
    },
  },
];

/**
 * Register {@link ALERT_ROUTES}.
 *
 * @example
 * ```ts
 * await app.register(alertRoutes, { alerts, events: store, auth: bearerTokenAuth(tokens) });
 * ```
 */
export async function alertRoutes(app: FastifyInstance, o: AlertRoutesOptions): Promise<void> {
  // The app takes every body as text (its ingest route parses NDJSON itself); these routes take
  // JSON objects, parsed here inside the plugin's own context.
  if (app.hasContentTypeParser('application/json')) app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, body === '' ? undefined : JSON.parse(String(body)));
    } catch (e) {
      done(new SocError('SOC_ERR_QUERY', `body is not JSON: ${(e as Error).message}`), undefined);
    }
  });
  const onRequest = async (req: FastifyRequest): Promise<void> => {
    if (!(await o.auth(req))) throw new SocError('SOC_ERR_UNAUTHORIZED', 'a valid bearer token is required');
  };
  for (const r of ALERT_ROUTES) {
    const opts: RouteOptions = {
      method: r.method,
      url: r.url,
      schema: r.schema,
      onRequest,
      config: { permission: r.permission },
      handler: (req, reply) => r.handler(o, req, reply),
    };
    app.route(opts);
  }
}
