// Web security of the API: CSRF, cookie attributes, security headers and CSP, rate limits,
// OpenAPI, and no secret in responses or logs.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalise } from '@xiangan/collectors';
import { buildApp } from '../src/app.js';
import { AuthService } from '../src/auth/service.js';
import { validateConfig } from '../src/config/load.js';
import { createLogger } from '../src/logger.js';
import { startRuntime } from '../src/pipeline/runtime.js';
import { as, firstLogin, harness, login, type Harness, type Session } from './auth-helpers.js';

describe('web security', () => {
  let h: Harness;
  let admin: Session;
  before(async () => {
    h = await harness();
    admin = await firstLogin(h.app, 'admin', h.admin.password);
  });
  after(async () => h.close());

  test('session cookie is HttpOnly, Secure, SameSite=Strict; the CSRF cookie matches the answer', () => {
    const raw = admin.res.headers['set-cookie'];
    const cookies = (Array.isArray(raw) ? raw : [String(raw)]).map((c) => c.toLowerCase());
    const session = cookies.find((c) => c.startsWith('xa_session='))!;
    assert.ok(session.includes('httponly') && session.includes('secure') && session.includes('samesite=strict') && session.includes('path=/'), session);
    const csrf = admin.res.cookies.find((c) => c.name === 'xa_csrf')!;
    assert.equal(csrf.value, admin.csrf);
    assert.equal(csrf.httpOnly, undefined);
  });

  test('a cookie request that changes state without the CSRF header is refused', async () => {
    const body = { username: 'csrf1', role: 'viewer' };
    const none = await as(h.app, admin, 'POST', '/api/v1/users', body, false);
    assert.equal(none.statusCode, 403);
    assert.equal(none.json().code, 'SOC_ERR_CSRF');
    const forged = await h.app.inject({ method: 'POST', url: '/api/v1/users', headers: { cookie: admin.cookie, 'x-csrf-token': 'guessed-token' }, payload: body });
    assert.equal(forged.json().code, 'SOC_ERR_CSRF');
    const other = await login(h.app, 'admin', 'Str0ng-pass-phrase!');
    const crossed = await h.app.inject({ method: 'POST', url: '/api/v1/users', headers: { cookie: admin.cookie, 'x-csrf-token': other.csrf }, payload: body });
    assert.equal(crossed.json().code, 'SOC_ERR_CSRF', "another session's token does not fit");
    assert.equal((await as(h.app, admin, 'GET', '/api/v1/users/csrf1')).statusCode, 404, 'nothing was created');
    const ok = await as(h.app, admin, 'POST', '/api/v1/users', body);
    assert.equal(ok.statusCode, 201);
    assert.equal((await as(h.app, admin, 'GET', '/api/v1/users', undefined, false)).statusCode, 200, 'reads need no CSRF header');
  });

  test('strict security headers and CSP on API answers', async () => {
    const r = await as(h.app, admin, 'GET', '/api/v1/auth/me');
    const csp = String(r.headers['content-security-policy']);
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /object-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.match(String(r.headers['strict-transport-security']), /max-age=31536000/);
    assert.equal(r.headers['referrer-policy'], 'no-referrer');
  });

  test('no secret in answers: user lists carry no hashes, token lists no tokens', async () => {
    const users = await as(h.app, admin, 'GET', '/api/v1/users');
    assert.doesNotMatch(users.body, /pbkdf2|pw_hash|totp_secret|"password"/i);
    const me = await as(h.app, admin, 'GET', '/api/v1/auth/me');
    assert.equal(me.body.includes(admin.csrf), false);
    assert.equal(me.body.includes(admin.cookie.split('=')[1]!), false);
  });

  test('OpenAPI at /docs/json lists the routes with their schemas', async () => {
    const r = await h.app.inject({ method: 'GET', url: '/docs/json' });
    assert.equal(r.statusCode, 200);
    const doc = r.json() as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: unknown }>> };
    assert.match(doc.openapi, /^3\./);
    for (const p of ['/api/v1/auth/login', '/api/v1/users', '/api/v1/tokens', '/api/v1/stream', '/api/v1/events']) assert.ok(doc.paths[p], p);
    assert.ok(doc.paths['/api/v1/auth/login']!.post!.requestBody, 'login body schema');
    assert.ok(doc.paths['/api/v1/users']!.get!.responses['200'], 'list response schema');
    const ui = await h.app.inject({ method: 'GET', url: '/docs' });
    assert.ok(ui.statusCode === 200 || ui.statusCode === 302, String(ui.statusCode));
  });
});

describe('rate limits and log redaction', () => {
  test('login is rate-limited per client; passwords and tokens never reach the log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xa-rl-'));
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } });
    const config = validateConfig({ data: dir, log: { level: 'silent' }, storage: { synchronous: 'normal', worker: false }, syslog: { enabled: false }, alerts: { enabled: false }, auth: { pbkdf2Iterations: 1000, loginRateLimit: 3, ingestRateLimit: 2 } });
    const runtime = await startRuntime(config, { logger: createLogger({ level: 'silent' }), normalise });
    const auth = AuthService.open({ dir, config: config.auth, level: 2 });
    const first = auth.ensureAdmin()!;
    const logger = createLogger({ level: 'info', destination: sink });
    const app = await buildApp({ runtime, logger, security: { auth } });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: `Secret-Guess-${i}` } });
        codes.push(r.statusCode);
        if (r.statusCode === 429) assert.equal(r.json().code, 'SOC_ERR_RATE_LIMITED');
      }
      assert.deepEqual(codes, [401, 401, 401, 429]);
      const tok = auth.createToken({ name: 'ing', permissions: ['events:ingest'] }, 'test').token;
      const ingest = async () => (await app.inject({ method: 'POST', url: '/api/v1/ingest', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/x-ndjson' }, payload: '{"message":"x"}\n' })).statusCode;
      assert.deepEqual([await ingest(), await ingest(), await ingest()], [200, 200, 429]);
      const log = lines.join('');
      assert.ok(log.length > 0, 'the app logged');
      assert.equal(log.includes(first.password), false);
      assert.equal(log.includes('Secret-Guess'), false);
      assert.equal(log.includes(tok), false);
    } finally {
      await app.close();
      auth.close();
      await runtime.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
