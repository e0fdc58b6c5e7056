/**
 * The API's security layer, installed on the root Fastify instance by `buildApp` when it is given
 * `security`: security headers and a strict CSP (`@fastify/helmet`), cookies, rate limits on login
 * and ingest (`@fastify/rate-limit`), OpenAPI at `/docs`, and one `onRequest` hook that resolves
 * the caller (session cookie or API token), refuses cookie requests without the CSRF header and
 * enforces the permission table (`auth/permissions.ts`) on every route. Privileged requests and
 * refusals go to the audit trail; login failures also go into the pipeline as ECS events so the
 * rule pack sees brute force against the SOC itself.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { EcsEvent } from '@xiangan/collectors';
import { auditLog } from './audit/index.js';
import { AuthService, type LoginFailure, type Principal } from './auth/service.js';
import { routeAccess, TOKEN_PERMISSIONS, type RouteAccess } from './auth/permissions.js';
import { socBus, type EventBus } from './bus.js';
import { SocError } from './errors.js';
import { authRoutes } from './routes/auth.js';
import { adminRoutes } from './routes/admin.js';
import { streamRoutes } from './routes/stream.js';
import { jsonBodies } from './routes/schemas.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller, set by the security hook. */
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** What the route needs (`auth/permissions.ts`): a permission or `'authenticated'`. */
    permission?: string;
    /** No sign-in needed (login, health). */
    public?: boolean;
  }
}

/** Cookie carrying the session id (HttpOnly). */
export const SESSION_COOKIE = 'xa_session';
/** Cookie carrying the CSRF token (readable by the console's script). */
export const CSRF_COOKIE = 'xa_csrf';
/** Header that must echo the CSRF token on cookie-authenticated state-changing requests. */
export const CSRF_HEADER = 'x-csrf-token';

/** Options of {@link installSecurity}. */
export interface SecurityOptions {
  auth: AuthService;
  /** Bus of the live stream; default the process-wide `socBus`. */
  bus?: EventBus;
  /**
   * Static bearer tokens from `api.tokens` in the config (older deployments, collector agents):
   * they hold every machine permission ({@link TOKEN_PERMISSIONS}), never account management.
   */
  ingestTokens?: readonly string[];
  /** Put an event into the pipeline (login failures). */
  emitEvent?: (e: EcsEvent) => void | Promise<void>;
  /** Events stored so far (a monotone count): the stream publishes its per-second difference. */
  countEvents?: () => number;
  /** Clock (tests). */
  now?: () => number;
  /** Live-stream heartbeat and session re-check interval (default 15 s; tests shorten it). */
  streamHeartbeatMs?: number;
}

/** One route as the security layer sees it; the authorisation matrix test walks this table. */
export interface RouteEntry {
  method: string;
  url: string;
  /** `undefined`: nothing declares it, so everyone is refused. */
  access: RouteAccess | undefined;
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The routes registered so far with their access (filled by {@link installSecurity}'s `onRoute`).
 * @example routeTable(app).filter((r) => r.access === undefined) // routes nobody may call
 */
export function routeTable(app: FastifyInstance): RouteEntry[] {
  return (app as unknown as { [ROUTES]?: RouteEntry[] })[ROUTES] ?? [];
}
const ROUTES = Symbol.for('xiangan.routeTable');

/** The client address for logs and lockout records. @example clientIp(req) // '127.0.0.1' */
export function clientIp(req: FastifyRequest): string {
  return req.ip ?? req.socket.remoteAddress ?? '';
}

/**
 * The login-failure event as the rule pack reads it (ECS authentication category).
 * @example loginFailureEvent({ username: 'bob', ip: '10.0.0.1', reason: 'bad_password', method: 'password' }, Date.now())
 */
export function loginFailureEvent(f: LoginFailure, at: number): EcsEvent {
  const ts = new Date(at).toISOString();
  return {
    id: randomUUID().replaceAll('-', ''),
    '@timestamp': ts,
    message: `Xiangan SOC login failed for ${f.username || '(unknown)'} from ${f.ip}: ${f.reason}`,
    event: {
      kind: 'event',
      category: ['authentication'],
      type: ['start'],
      action: 'xiangan-login',
      outcome: 'failure',
      reason: f.reason,
      module: 'xiangan',
      dataset: 'xiangan.auth',
      provider: 'xiangan-soc',
      ingested: ts,
    },
    user: { name: f.username },
    source: { ip: f.ip },
    ...({ observer: { product: 'Xiangan', vendor: 'Xiangan', type: 'siem' } } as Record<string, unknown>),
  } as EcsEvent;
}

/**
 * Install the security layer and its routes (auth, users, roles, tokens, sessions, stream). Call
 * before any other route is declared so every route passes through the permission hook.
 *
 * @example
 * const app = Fastify();
 * await installSecurity(app, { auth: AuthService.open({ dir, config: cfg.auth, level: cfg.level }) });
 */
export async function installSecurity(app: FastifyInstance, opts: SecurityOptions): Promise<void> {
  const { auth } = opts;
  const now = opts.now ?? Date.now;
  const bus = opts.bus ?? socBus;
  const ingestKeys = (opts.ingestTokens ?? []).map((t) => Buffer.from(t));
  const table: RouteEntry[] = [];
  (app as unknown as { [ROUTES]: RouteEntry[] })[ROUTES] = table;

  auth.onLoginFailure = (f) => {
    auditLog.record({ actor: f.username || '(unknown)', action: `auth.login.${f.method}`, outcome: 'failure', details: { reason: f.reason, ip: f.ip } });
    if (opts.emitEvent) {
      try {
        void Promise.resolve(opts.emitEvent(loginFailureEvent(f, now()))).catch((e: unknown) =>
          app.log.warn({ err: e, stage: 'auth' }, 'Login-failure event not buffered.'),
        );
      } catch (e) {
        app.log.warn({ err: e, stage: 'auth' }, 'Login-failure event not buffered.');
      }
    }
  };

  // Before the rate-limit plugin's own onRoute hook: ingest gets its limit from the config here,
  // and every route is entered in the table the permission hook and the matrix test use.
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const config = (r.config ?? {}) as { permission?: unknown; public?: unknown; rateLimit?: unknown };
    if (r.url === '/api/v1/ingest' && config.rateLimit === undefined) {
      r.config = { ...config, rateLimit: { max: auth.config.ingestRateLimit, timeWindow: 60_000 } } as typeof r.config;
    }
    for (const m of methods) if (m !== 'HEAD' && m !== 'OPTIONS') table.push({ method: m, url: r.url, access: routeAccess(m, r.url, config) });
  });

  await app.register(cookie);
  await app.register(helmet, {
    // The console is served from this origin; nothing inline, nothing third-party.
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
    referrerPolicy: { policy: 'no-referrer' },
  });
  await app.register(rateLimit, {
    global: false,
    keyGenerator: (req) => clientIp(req),
    errorResponseBuilder: (_req, ctx) => {
      const e = new SocError('SOC_ERR_RATE_LIMITED', `too many requests; retry in ${ctx.after}`);
      return e;
    },
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'Xiangan SOC API', version: '1' },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ session: [] }, { bearer: [] }],
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // The UI's own CSP (hashes of its inline code), without its third-party validator and fonts.
    staticCSP: true,
    transformStaticCSP: (h) => h.replace(/ validator\.swagger\.io/g, '').replace(/ https:/g, ''),
    uiConfig: { validatorUrl: null },
  });

  app.addHook('onRequest', async (req, reply) => {
    const url = req.routeOptions.url;
    if (url === undefined) return; // no route: the 404 handler answers
    const access = routeAccess(req.method, url, req.routeOptions.config as { permission?: unknown; public?: unknown });
    let principal: Principal | undefined;
    let sessionError: SocError | undefined;
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (bearer !== undefined) {
      principal = auth.tokenPrincipal(bearer) ?? ingestTokenPrincipal(bearer, ingestKeys);
    } else {
      const sid = req.cookies[SESSION_COOKIE];
      if (sid) {
        try {
          principal = auth.session(sid);
        } catch (e) {
          if (!(e instanceof SocError)) throw e;
          sessionError = e;
        }
      }
    }
    if (principal) req.principal = principal;
    if (access === 'public') return;
    if (!principal) {
      if (sessionError) {
        reply.clearCookie(SESSION_COOKIE, { path: '/' });
        throw sessionError;
      }
      throw new SocError('SOC_ERR_UNAUTHORIZED', 'sign in or send a valid API token');
    }
    if (principal.kind === 'session' && STATE_CHANGING.has(req.method) && !AuthService.csrfMatches(principal, headerValue(req.headers[CSRF_HEADER]))) {
      throw new SocError('SOC_ERR_CSRF', `state-changing requests need the ${CSRF_HEADER} header from the login answer`);
    }
    if (access === 'authenticated') return;
    if (principal.mustChangePassword) throw new SocError('SOC_ERR_PASSWORD_CHANGE_REQUIRED', 'change the one-time password first');
    if (principal.totpEnrolmentRequired) throw new SocError('SOC_ERR_TOTP_ENROLMENT_REQUIRED', 'enrol a TOTP authenticator first');
    if (access === undefined) throw new SocError('SOC_ERR_FORBIDDEN', 'this route declares no permission and is refused');
    if (!principal.permissions.has(access)) throw new SocError('SOC_ERR_FORBIDDEN', `this needs the '${access}' permission`);
  });

  // GB/T 22239-2019 8.1.4.3 a: audit every privileged action and every refusal. Reads and ingest
  // are routine (ingest is audited by volume in metrics, not per request).
  app.addHook('onResponse', async (req, reply) => {
    const url = req.routeOptions.url;
    if (url === undefined || url === '/api/v1/ingest' || url.startsWith('/api/v1/auth/')) return;
    const refused = reply.statusCode === 401 || reply.statusCode === 403;
    if (!refused && !STATE_CHANGING.has(req.method)) return;
    auditLog.record({
      actor: req.principal?.name ?? '(anonymous)',
      action: refused ? 'api.refused' : `api.${req.method.toLowerCase()}`,
      target: url,
      outcome: reply.statusCode < 400 ? 'success' : 'failure',
      details: { status: reply.statusCode, ip: clientIp(req), path: req.url.split('?')[0]! },
    });
  });

  await app.register(async (scope) => {
    jsonBodies(scope);
    await scope.register(authRoutes, { auth, now });
    await scope.register(adminRoutes, { auth });
  });
  await app.register(streamRoutes, {
    bus,
    stillValid: (req) => req.principal !== undefined && auth.stillValid(req.principal),
    ...(opts.countEvents ? { countEvents: opts.countEvents } : {}),
    ...(opts.streamHeartbeatMs ? { heartbeatMs: opts.streamHeartbeatMs } : {}),
  });
}

/**
 * The `AuthHook` `buildApp` uses with the security layer: the hook above already decided.
 * @example buildApp({ runtime, auth: principalAuthHook, security })
 */
export function principalAuthHook(req: FastifyRequest): boolean {
  return req.principal !== undefined;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function ingestTokenPrincipal(given: string, keys: readonly Buffer[]): Principal | undefined {
  const g = Buffer.from(given);
  let ok = false;
  for (const k of keys) if (k.length === g.length && timingSafeEqual(k, g)) ok = true;
  return ok ? { kind: 'token', name: 'token:config', permissions: new Set(TOKEN_PERMISSIONS), id: 'config' } : undefined;
}

/** The caller's name for audit records and alert actions. @example actorOf(req) // 'alice' or 'token:collector' */
export function actorOf(req: FastifyRequest): string {
  return req.principal?.name ?? 'api';
}

/** Set the session and CSRF cookies after a login. @example setSessionCookies(reply, auth, session) */
export function setSessionCookies(reply: FastifyReply, auth: AuthService, s: { sessionId: string; csrfToken: string }): void {
  const secure = auth.config.cookieSecure;
  const maxAge = auth.config.absoluteTimeoutHours * 3600;
  reply.setCookie(SESSION_COOKIE, s.sessionId, { path: '/', httpOnly: true, secure, sameSite: 'strict', maxAge });
  reply.setCookie(CSRF_COOKIE, s.csrfToken, { path: '/', httpOnly: false, secure, sameSite: 'strict', maxAge });
}

/** Clear both cookies (logout). @example clearSessionCookies(reply) */
export function clearSessionCookies(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/' });
  reply.clearCookie(CSRF_COOKIE, { path: '/' });
}

/** What the server needs to run the security layer. */
export interface ServerSecurity {
  security: SecurityOptions;
  /** Set on the first start only: the administrator's one-time password, to print once. */
  firstAdmin?: { username: string; password: string };
  close(): void;
}

/**
 * Open the account database in the data directory and wire the security layer to a running
 * pipeline: login failures become events, stored-event counts feed the live stream.
 *
 * @example
 * const sec = serverSecurity(config, runtime);
 * if (sec.firstAdmin) process.stdout.write(`admin one-time password: ${sec.firstAdmin.password}\n`);
 * const app = await buildApp({ runtime, security: sec.security });
 */
export function serverSecurity(
  config: { data: string; level: 2 | 3; auth: AuthService['config']; api: { tokens: string[] } },
  runtime: { buffer: { append(e: EcsEvent[]): Promise<void> }; metrics: { render(): string } },
): ServerSecurity {
  const auth = AuthService.open({ dir: config.data, config: config.auth, level: config.level });
  const firstAdmin = auth.ensureAdmin();
  const written = /^xiangan_store_events_total\{result="written"\} (\d+(?:\.\d+)?(?:e\+\d+)?)$/m;
  return {
    security: {
      auth,
      ingestTokens: config.api.tokens,
      emitEvent: (e) => runtime.buffer.append([e]),
      countEvents: () => Number(written.exec(runtime.metrics.render())?.[1] ?? 0),
    },
    ...(firstAdmin ? { firstAdmin } : {}),
    close: () => auth.close(),
  };
}
