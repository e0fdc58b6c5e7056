/**
 * Login, logout, the caller's own account (`/me`, password change, TOTP enrolment) and SM2
 * challenge-response login. The session and CSRF contract is described in soc/README.md.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { auditLog } from '../audit/index.js';
import type { AuthService, NewSession } from '../auth/service.js';
import { SocError } from '../errors.js';
import { clearSessionCookies, clientIp, setSessionCookies } from '../security.js';
import { ERRORS, MeSchema, UsernameSchema } from './schemas.js';

const Totp = Type.Optional(Type.String({ pattern: '^\\d{6}$' }));
const LoginBody = Type.Object({ username: UsernameSchema, password: Type.String({ minLength: 1, maxLength: 1024 }), totp: Totp }, { additionalProperties: false });
const Sm2ChallengeBody = Type.Object({ username: UsernameSchema }, { additionalProperties: false });
const Sm2LoginBody = Type.Object(
  { challengeId: Type.String({ format: 'uuid' }), signature: Type.String({ pattern: '^[0-9a-fA-F]{16,288}$' }), totp: Totp },
  { additionalProperties: false },
);
const PasswordBody = Type.Object({ current: Type.String({ minLength: 1, maxLength: 1024 }), next: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false });
const TotpConfirmBody = Type.Object({ code: Type.String({ pattern: '^\\d{6}$' }) }, { additionalProperties: false });
const LoginAnswer = Type.Object({ user: MeSchema, csrfToken: Type.String(), idleTimeoutSec: Type.Integer(), absoluteExpiresAt: Type.String() });
const Ok = Type.Object({ ok: Type.Boolean() });

/** Options of {@link authRoutes}. */
export interface AuthRoutesOptions {
  auth: AuthService;
  now: () => number;
}

/**
 * The `/api/v1/auth/*` routes.
 *
 * @example
 * await app.register(authRoutes, { auth, now: Date.now });
 */
export async function authRoutes(app: FastifyInstance, o: AuthRoutesOptions): Promise<void> {
  const { auth } = o;
  const loginLimit = { rateLimit: { max: auth.config.loginRateLimit, timeWindow: 60_000 } };

  const me = (username: string) => {
    const u = auth.getUser(username);
    return {
      username: u.username,
      displayName: u.displayName,
      role: u.role,
      permissions: [...auth.permissionsOfUser(u.role)],
      mustChangePassword: u.mustChangePassword,
      totpEnabled: u.totpEnabled,
      totpRequired: auth.totpRequired,
      sm2Enabled: u.sm2Enabled,
    };
  };

  const answer = (reply: Parameters<typeof setSessionCookies>[0], s: NewSession, method: string, req: FastifyRequest) => {
    setSessionCookies(reply, auth, s);
    auditLog.record({ actor: s.user.username, action: `auth.login.${method}`, outcome: 'success', details: { ip: clientIp(req) } });
    return { user: me(s.user.username), csrfToken: s.csrfToken, idleTimeoutSec: auth.config.idleTimeoutMinutes * 60, absoluteExpiresAt: s.absoluteExpiresAt };
  };

  app.post<{ Body: Static<typeof LoginBody> }>(
    '/api/v1/auth/login',
    { config: { public: true, ...loginLimit }, schema: { tags: ['auth'], body: LoginBody, response: { 200: LoginAnswer, ...ERRORS } } },
    async (req, reply) => {
      const s = auth.loginPassword(req.body.username, req.body.password, req.body.totp, clientIp(req));
      return answer(reply, s, 'password', req);
    },
  );

  app.post<{ Body: Static<typeof Sm2ChallengeBody> }>(
    '/api/v1/auth/sm2/challenge',
    {
      config: { public: true, ...loginLimit },
      schema: { tags: ['auth'], body: Sm2ChallengeBody, response: { 200: Type.Object({ challengeId: Type.String(), challenge: Type.String(), expiresAt: Type.String() }), ...ERRORS } },
    },
    async (req) => auth.sm2Challenge(req.body.username),
  );

  app.post<{ Body: Static<typeof Sm2LoginBody> }>(
    '/api/v1/auth/sm2/login',
    { config: { public: true, ...loginLimit }, schema: { tags: ['auth'], body: Sm2LoginBody, response: { 200: LoginAnswer, ...ERRORS } } },
    async (req, reply) => {
      const s = auth.loginSm2(req.body.challengeId, req.body.signature, req.body.totp, clientIp(req));
      return answer(reply, s, 'sm2', req);
    },
  );

  app.post(
    '/api/v1/auth/logout',
    { config: { permission: 'authenticated' }, schema: { tags: ['auth'], response: { 200: Ok, ...ERRORS } } },
    async (req, reply) => {
      const p = req.principal!;
      if (p.kind === 'session') auth.endSession(p.id);
      clearSessionCookies(reply);
      auditLog.record({ actor: p.name, action: 'auth.logout', outcome: 'success' });
      return { ok: true };
    },
  );

  app.get('/api/v1/auth/me', { config: { permission: 'authenticated' }, schema: { tags: ['auth'], response: { 200: MeSchema, ...ERRORS } } }, async (req) => {
    const p = req.principal!;
    if (p.kind === 'token') {
      return { username: p.name, displayName: p.name, role: null, permissions: [...p.permissions], mustChangePassword: false, totpEnabled: false, totpRequired: false, sm2Enabled: false };
    }
    return me(p.name);
  });

  const sessionOnly = (req: FastifyRequest) => {
    const p = req.principal!;
    if (p.kind !== 'session') throw new SocError('SOC_ERR_FORBIDDEN', 'only a signed-in user can do this');
    return p;
  };

  app.post<{ Body: Static<typeof PasswordBody> }>(
    '/api/v1/auth/password',
    { config: { permission: 'authenticated', ...loginLimit }, schema: { tags: ['auth'], body: PasswordBody, response: { 200: Ok, ...ERRORS } } },
    async (req) => {
      const p = sessionOnly(req);
      try {
        auth.changePassword(p, req.body.current, req.body.next);
      } catch (e) {
        auditLog.record({ actor: p.name, action: 'auth.password.change', outcome: 'failure', details: { code: (e as SocError).code ?? 'error' } });
        throw e;
      }
      auditLog.record({ actor: p.name, action: 'auth.password.change', outcome: 'success' });
      return { ok: true };
    },
  );

  app.post(
    '/api/v1/auth/totp/enrol',
    { config: { permission: 'authenticated' }, schema: { tags: ['auth'], response: { 200: Type.Object({ secret: Type.String(), uri: Type.String() }), ...ERRORS } } },
    async (req) => {
      const p = sessionOnly(req);
      auditLog.record({ actor: p.name, action: 'auth.totp.enrol', outcome: 'success' });
      return auth.enrolTotp(p);
    },
  );

  app.post<{ Body: Static<typeof TotpConfirmBody> }>(
    '/api/v1/auth/totp/confirm',
    { config: { permission: 'authenticated', ...loginLimit }, schema: { tags: ['auth'], body: TotpConfirmBody, response: { 200: MeSchema, ...ERRORS } } },
    async (req) => {
      const p = sessionOnly(req);
      try {
        auth.confirmTotp(p, req.body.code);
      } catch (e) {
        auditLog.record({ actor: p.name, action: 'auth.totp.confirm', outcome: 'failure' });
        throw e;
      }
      auditLog.record({ actor: p.name, action: 'auth.totp.confirm', outcome: 'success' });
      return me(p.name);
    },
  );
}
