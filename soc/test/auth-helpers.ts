// Shared set-up of the API security tests: a real pipeline (SQLite buffer and store), a real
// auth database and the app with the security layer, driven through `inject`.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { normalise } from '@xiangan/collectors';
import { buildApp } from '../src/app.js';
import { AuthService } from '../src/auth/service.js';
import { EventBus } from '../src/bus.js';
import { validateConfig } from '../src/config/load.js';
import { createLogger } from '../src/logger.js';
import { startRuntime, type Runtime } from '../src/pipeline/runtime.js';
import type { Role } from '../src/auth/permissions.js';

export const CONFIG_TOKEN = 'config-token-0123456789abcdef';
export const STRONG = 'Str0ng-pass-phrase!';

export interface Harness {
  app: FastifyInstance;
  auth: AuthService;
  runtime: Runtime;
  bus: EventBus;
  dir: string;
  admin: { username: string; password: string };
  clock: { t: number };
  /** What `countEvents` answers (the live stream's per-second counts). */
  counted: { n: number };
  close(): Promise<void>;
}

export async function harness(opts: { level?: 2 | 3; auth?: Record<string, unknown>; alerts?: boolean } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'xa-auth-'));
  const config = validateConfig({
    data: dir,
    log: { level: 'silent' },
    storage: { synchronous: 'normal', worker: false },
    api: { port: 0, tokens: [CONFIG_TOKEN] },
    syslog: { enabled: false },
    alerts: { enabled: opts.alerts ?? false },
    level: opts.level ?? 2,
    auth: { pbkdf2Iterations: 1000, loginRateLimit: 10_000, ...opts.auth },
  });
  const runtime = await startRuntime(config, { logger: createLogger({ level: 'silent' }), normalise });
  const clock = { t: Date.now() };
  const auth = AuthService.open({ dir, config: config.auth, level: config.level, now: () => clock.t });
  const admin = auth.ensureAdmin();
  assert.ok(admin);
  const bus = new EventBus(100);
  const counted = { n: 0 };
  const app = await buildApp({ runtime, security: { auth, bus, ingestTokens: config.api.tokens, emitEvent: (e) => runtime.buffer.append([e]), now: () => clock.t, countEvents: () => counted.n, streamHeartbeatMs: 200 } });
  return {
    app, auth, runtime, bus, dir, admin, clock, counted,
    async close() {
      await app.close();
      auth.close();
      await runtime.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Session {
  cookie: string;
  csrf: string;
  res: LightMyRequestResponse;
}

export async function login(app: FastifyInstance, username: string, password: string, totp?: string): Promise<Session> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password, ...(totp ? { totp } : {}) } });
  const sid = res.cookies.find((c) => c.name === 'xa_session')?.value ?? '';
  const csrf = res.statusCode === 200 ? (res.json() as { csrfToken: string }).csrfToken : '';
  return { cookie: `xa_session=${sid}`, csrf, res };
}

/** A request as a signed-in user (with the CSRF header unless told otherwise). */
export function as(app: FastifyInstance, s: Session, method: string, url: string, payload?: unknown, csrf = true) {
  return app.inject({
    method: method as 'GET',
    url,
    headers: { cookie: s.cookie, ...(csrf ? { 'x-csrf-token': s.csrf } : {}) },
    ...(payload !== undefined ? { payload: payload as object } : {}),
  });
}

/** Log in with a one-time password and set a permanent one; returns the new session. */
export async function firstLogin(app: FastifyInstance, username: string, oneTime: string, next = STRONG): Promise<Session> {
  const s = await login(app, username, oneTime);
  assert.equal(s.res.statusCode, 200, s.res.body);
  const r = await as(app, s, 'POST', '/api/v1/auth/password', { current: oneTime, next });
  assert.equal(r.statusCode, 200, r.body);
  return s;
}

/** Create a user of a role (as the security administrator) and sign them in. */
export async function userOf(h: Harness, admin: Session, role: Role, username: string = `${role}1`): Promise<Session> {
  const r = await as(h.app, admin, 'POST', '/api/v1/users', { username, role });
  assert.equal(r.statusCode, 201, r.body);
  return firstLogin(h.app, username, (r.json() as { password: string }).password);
}

/** RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30 s) from RFC 4226 §5.3, independent of the server's library. */
export function totpAt(base32: string, ms: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of base32.replace(/=+$/, '')) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(ms / 1000 / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const off = mac[mac.length - 1]! & 0xf;
  const code = (mac.readUInt32BE(off) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, '0');
}
