/**
 * `GET /api/v1/audit`: the audit trail for the audit administrator (GB/T 22239-2019 8.1.4.3:
 * audit records can be reviewed), newest first, a page at a time by record sequence (keyset:
 * `before` is the `seq` of the last record shown), filtered by time, actor and action prefix.
 * Reading is not itself audited per request (`audit:read` reads are routine); the trail is never
 * changed here.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { auditLog } from '../audit/index.js';
import { SocError } from '../errors.js';
import { ERRORS } from './schemas.js';

const AuditQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time' })),
    actor: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    /** Dotted prefix: `user.` matches `user.create`, `user.update`, … */
    action: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.-]+$' })),
    before: Type.Optional(Type.Integer({ minimum: 1 })),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
  },
  { additionalProperties: false },
);

const AuditItem = Type.Object({
  seq: Type.Integer(),
  id: Type.String(),
  '@timestamp': Type.String(),
  actor: Type.String(),
  action: Type.String(),
  target: Type.Optional(Type.String()),
  outcome: Type.String(),
  details: Type.Optional(Type.Object({}, { additionalProperties: true })),
});

/**
 * Register the route.
 * @example await app.register(auditRoutes); // GET /api/v1/audit?action=user.&limit=50
 */
export async function auditRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Querystring: Static<typeof AuditQuery> }>(
    '/api/v1/audit',
    {
      config: { permission: 'audit:read' },
      schema: { tags: ['audit'], querystring: AuditQuery, response: { 200: Type.Object({ items: Type.Array(AuditItem), nextBefore: Type.Union([Type.Integer(), Type.Null()]) }), ...ERRORS } },
    },
    async (req) => {
      const store = auditLog.store;
      if (!store) throw new SocError('SOC_ERR_UNAVAILABLE', 'the audit trail is not open on this server');
      const q = req.query;
      const where = ['ts >= ?', 'ts < ?'];
      const args: unknown[] = [q.from ? Date.parse(q.from) : -8.64e15, q.to ? Date.parse(q.to) : 8.64e15];
      if (q.before !== undefined) {
        where.push('seq < ?');
        args.push(q.before);
      }
      if (q.actor !== undefined) {
        where.push("json_extract(doc, '$.actor') = ?");
        args.push(q.actor);
      }
      if (q.action !== undefined) {
        // A prefix match without LIKE's wildcards (`_` is common in action names).
        where.push("substr(json_extract(doc, '$.action'), 1, ?) = ?");
        args.push(q.action.length, q.action);
      }
      const rows = store.database.prepare(`SELECT seq, doc FROM audit WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT ?`).all(...args, q.limit) as { seq: number; doc: string }[];
      const items = rows.map((r) => ({ seq: r.seq, ...(JSON.parse(r.doc) as Record<string, unknown>) }));
      return { items, nextBefore: rows.length === q.limit ? rows[rows.length - 1]!.seq : null };
    },
  );
}
