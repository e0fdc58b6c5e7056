/**
 * Administration of accounts, held by the security administrator: users, roles, API tokens and
 * sessions. Every change is written to the audit trail by the security layer's `onResponse` hook
 * and, with the details that matter, here.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { auditLog } from '../audit/index.js';
import { ROLE_DEFINITIONS, ROLES, TOKEN_PERMISSIONS, type Permission } from '../auth/permissions.js';
import type { AuthService } from '../auth/service.js';
import { SocError } from '../errors.js';
import { ERRORS, Page, PageQuery, PermissionSchema, RoleSchema, SessionSchema, Sm2PubSchema, TokenSchema, UserSchema, UsernameSchema } from './schemas.js';

const UserParams = Type.Object({ username: UsernameSchema });
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const CreateUserBody = Type.Object(
  { username: UsernameSchema, role: RoleSchema, displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })), sm2PublicKey: Type.Optional(Sm2PubSchema) },
  { additionalProperties: false },
);
const PatchUserBody = Type.Object(
  {
    role: Type.Optional(RoleSchema),
    displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    disabled: Type.Optional(Type.Boolean()),
    sm2PublicKey: Type.Optional(Type.Union([Sm2PubSchema, Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1 },
);
const CreateTokenBody = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' }),
    permissions: Type.Array(PermissionSchema, { minItems: 1, maxItems: 32 }),
    expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);
/**
 * Permissions of another administrator's job (三权分立, GB/T 22239-2019 8.1.4.2: the audit
 * administrator's trail, the system administrator's configuration). A token carries one only when
 * its creator holds it, so the security administrator, who issues tokens, cannot lend themselves
 * either job. Machine feeds (`events:ingest`, `metrics:read`) stay grantable for collectors and
 * scrapers.
 */
const SEPARATED = /^(audit|system):/;

const OneTimePassword = Type.Object({ user: UserSchema, password: Type.String() });
const RoleInfo = Type.Object({ name: RoleSchema, description: Type.String(), permissions: Type.Array(Type.String()) });

/** Options of {@link adminRoutes}. */
export interface AdminRoutesOptions {
  auth: AuthService;
}

/**
 * `/api/v1/users`, `/api/v1/roles`, `/api/v1/tokens`, `/api/v1/sessions`.
 *
 * @example
 * await app.register(adminRoutes, { auth });
 */
export async function adminRoutes(app: FastifyInstance, o: AdminRoutesOptions): Promise<void> {
  const { auth } = o;
  const tags = ['admin'];
  type Page = Static<typeof PageQuery>;

  app.get<{ Querystring: Page }>(
    '/api/v1/users',
    { config: { permission: 'users:read' }, schema: { tags, querystring: PageQuery, response: { 200: Page(UserSchema), ...ERRORS } } },
    async (req) => auth.listUsers(req.query.limit, req.query.offset),
  );

  app.get<{ Params: Static<typeof UserParams> }>(
    '/api/v1/users/:username',
    { config: { permission: 'users:read' }, schema: { tags, params: UserParams, response: { 200: UserSchema, ...ERRORS } } },
    async (req) => auth.getUser(req.params.username),
  );

  app.post<{ Body: Static<typeof CreateUserBody> }>(
    '/api/v1/users',
    { config: { permission: 'users:write' }, schema: { tags, body: CreateUserBody, response: { 201: OneTimePassword, ...ERRORS } } },
    async (req, reply) => {
      const r = auth.createUser(req.body);
      auditLog.record({ actor: req.principal!.name, action: 'user.create', target: r.user.username, outcome: 'success', details: { role: r.user.role } });
      return reply.code(201).send(r);
    },
  );

  app.patch<{ Params: Static<typeof UserParams>; Body: Static<typeof PatchUserBody> }>(
    '/api/v1/users/:username',
    { config: { permission: 'users:write' }, schema: { tags, params: UserParams, body: PatchUserBody, response: { 200: UserSchema, ...ERRORS } } },
    async (req) => {
      const self = req.principal!.name === req.params.username;
      // A security administrator cannot demote or disable themselves: the deployment would be
      // left without anyone able to manage accounts.
      if (self && ((req.body.role !== undefined && req.body.role !== 'secadmin') || req.body.disabled === true)) {
        throw new SocError('SOC_ERR_FORBIDDEN', 'you cannot change your own role or disable yourself');
      }
      const before = auth.getUser(req.params.username);
      const u = auth.updateUser(req.params.username, req.body);
      // The trail names what changed to what (role and state), so a review needs no other record.
      const details: Record<string, unknown> = { fields: Object.keys(req.body) };
      if (req.body.role !== undefined) details.role = { from: before.role, to: u.role };
      if (req.body.disabled !== undefined) details.disabled = { from: before.disabled, to: u.disabled };
      auditLog.record({ actor: req.principal!.name, action: 'user.update', target: u.username, outcome: 'success', details });
      return u;
    },
  );

  app.delete<{ Params: Static<typeof UserParams> }>(
    '/api/v1/users/:username',
    { config: { permission: 'users:write' }, schema: { tags, params: UserParams, response: { 200: Type.Object({ ok: Type.Boolean() }), ...ERRORS } } },
    async (req) => {
      if (req.principal!.name === req.params.username) throw new SocError('SOC_ERR_FORBIDDEN', 'you cannot delete yourself');
      auth.deleteUser(req.params.username);
      auditLog.record({ actor: req.principal!.name, action: 'user.delete', target: req.params.username, outcome: 'success' });
      return { ok: true };
    },
  );

  app.post<{ Params: Static<typeof UserParams> }>(
    '/api/v1/users/:username/reset-password',
    { config: { permission: 'users:write' }, schema: { tags, params: UserParams, response: { 200: OneTimePassword, ...ERRORS } } },
    async (req) => {
      const password = auth.resetPassword(req.params.username);
      auditLog.record({ actor: req.principal!.name, action: 'user.password.reset', target: req.params.username, outcome: 'success' });
      return { user: auth.getUser(req.params.username), password };
    },
  );

  app.post<{ Params: Static<typeof UserParams> }>(
    '/api/v1/users/:username/unlock',
    { config: { permission: 'users:write' }, schema: { tags, params: UserParams, response: { 200: UserSchema, ...ERRORS } } },
    async (req) => {
      const u = auth.unlock(req.params.username);
      auditLog.record({ actor: req.principal!.name, action: 'user.unlock', target: u.username, outcome: 'success' });
      return u;
    },
  );

  app.delete<{ Params: Static<typeof UserParams> }>(
    '/api/v1/users/:username/totp',
    { config: { permission: 'users:write' }, schema: { tags, params: UserParams, response: { 200: UserSchema, ...ERRORS } } },
    async (req) => {
      const u = auth.resetTotp(req.params.username);
      auditLog.record({ actor: req.principal!.name, action: 'user.totp.reset', target: u.username, outcome: 'success' });
      return u;
    },
  );

  app.get(
    '/api/v1/roles',
    { config: { permission: 'users:read' }, schema: { tags, response: { 200: Type.Array(RoleInfo), ...ERRORS } } },
    async () => ROLES.map((r) => ({ name: r, description: ROLE_DEFINITIONS[r].description, permissions: [...ROLE_DEFINITIONS[r].permissions] })),
  );

  app.get<{ Querystring: Page }>(
    '/api/v1/tokens',
    { config: { permission: 'tokens:read' }, schema: { tags, querystring: PageQuery, response: { 200: Page(TokenSchema), ...ERRORS } } },
    async (req) => auth.listTokens(req.query.limit, req.query.offset),
  );

  app.post<{ Body: Static<typeof CreateTokenBody> }>(
    '/api/v1/tokens',
    {
      config: { permission: 'tokens:write' },
      schema: { tags, body: CreateTokenBody, response: { 201: Type.Object({ token: Type.String(), info: TokenSchema, grantable: Type.Array(Type.String()) }), ...ERRORS } },
    },
    async (req, reply) => {
      const lent = req.body.permissions.filter((p) => SEPARATED.test(p) && !req.principal!.permissions.has(p as Permission));
      if (lent.length) throw new SocError('SOC_ERR_FORBIDDEN', `a token cannot carry ${lent.join(', ')}: that is another administrator's job, which its creator does not hold`);
      const r = auth.createToken(req.body, req.principal!.name);
      auditLog.record({ actor: req.principal!.name, action: 'token.create', target: r.info.id, outcome: 'success', details: { name: r.info.name, permissions: r.info.permissions } });
      return reply.code(201).send({ ...r, grantable: [...TOKEN_PERMISSIONS] });
    },
  );

  app.delete<{ Params: Static<typeof IdParams> }>(
    '/api/v1/tokens/:id',
    { config: { permission: 'tokens:write' }, schema: { tags, params: IdParams, response: { 200: TokenSchema, ...ERRORS } } },
    async (req) => {
      const t = auth.revokeToken(req.params.id);
      auditLog.record({ actor: req.principal!.name, action: 'token.revoke', target: t.id, outcome: 'success', details: { name: t.name } });
      return t;
    },
  );

  app.get<{ Querystring: Page }>(
    '/api/v1/sessions',
    { config: { permission: 'sessions:read' }, schema: { tags, querystring: PageQuery, response: { 200: Page(SessionSchema), ...ERRORS } } },
    async (req) => auth.listSessions(req.query.limit, req.query.offset),
  );

  app.delete<{ Params: Static<typeof IdParams> }>(
    '/api/v1/sessions/:id',
    { config: { permission: 'sessions:write' }, schema: { tags, params: IdParams, response: { 200: Type.Object({ ok: Type.Boolean() }), ...ERRORS } } },
    async (req) => {
      if (!auth.endSession(req.params.id)) throw new SocError('SOC_ERR_USER_NOT_FOUND', 'no such session');
      auditLog.record({ actor: req.principal!.name, action: 'session.end', target: req.params.id, outcome: 'success' });
      return { ok: true };
    },
  );
}
