// The authorisation matrix: every role × every route of the running app, generated from the
// route table the security layer records (so a route added later is in the matrix without
// anyone listing it), against the expectation derived from ROLE_DEFINITIONS.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PERMISSIONS, ROLE_DEFINITIONS, ROLES, type Role } from '../src/auth/permissions.js';
import { routeTable } from '../src/security.js';
import { as, firstLogin, harness, login, STRONG, userOf, type Harness, type Session } from './auth-helpers.js';

describe('authorisation matrix', () => {
  let h: Harness;
  const sessions = new Map<Role, Session>();
  before(async () => {
    h = await harness({ alerts: true });
    const admin = await firstLogin(h.app, 'admin', h.admin.password);
    sessions.set('secadmin', admin);
    for (const r of ROLES) if (r !== 'secadmin') sessions.set(r, await userOf(h, admin, r));
  });
  after(async () => h.close());

  test('三权分立: no administrator role holds another\'s permissions; the audit administrator changes nothing', () => {
    const sys = new Set(ROLE_DEFINITIONS.sysadmin.permissions);
    const sec = new Set(ROLE_DEFINITIONS.secadmin.permissions);
    const aud = new Set(ROLE_DEFINITIONS.auditadmin.permissions);
    for (const p of sys) assert.ok(!sec.has(p) && !aud.has(p), p);
    for (const p of aud) assert.ok(!sec.has(p), p);
    assert.ok(!sys.has('users:write') && !sys.has('audit:read'));
    assert.ok(!sec.has('audit:read') && !sec.has('system:write'));
    for (const p of aud) assert.match(p, /:read$/, `auditadmin ${p}`);
    for (const p of ROLE_DEFINITIONS.viewer.permissions) assert.match(p, /:read$/, `viewer ${p}`);
    for (const r of ROLES) for (const p of ROLE_DEFINITIONS[r].permissions) assert.ok((PERMISSIONS as readonly string[]).includes(p));
  });

  test('every /api route declares what it needs', () => {
    const undeclared = routeTable(h.app).filter((r) => r.url.startsWith('/api/') && r.access === undefined);
    assert.deepEqual(undeclared, []);
  });

  test('every role × every route: allowed exactly when the role holds the permission', async () => {
    const routes = routeTable(h.app);
    assert.ok(routes.length >= 30, `only ${routes.length} routes`);
    // Logout ends the session it is called with, so it runs last for each role.
    const ordered = [...routes].sort((a, b) => Number(a.url.endsWith('/auth/logout')) - Number(b.url.endsWith('/auth/logout')));
    let cells = 0;
    for (const role of ROLES) {
      const s = sessions.get(role)!;
      const held = new Set<string>(ROLE_DEFINITIONS[role].permissions);
      for (const r of ordered) {
        // A parameter that names nothing; a query key no strict schema takes, so allowed calls of
        // long-running routes (the live stream) stop at validation instead of streaming.
        const url = r.url.replace(/:[A-Za-z]+/g, 'matrix-none').replace('*', 'matrix-none') + (r.method === 'GET' ? '?matrixProbe=1' : '');
        const res = await as(h.app, s, r.method, url, r.method === 'GET' || r.method === 'DELETE' ? undefined : {});
        const expectAllowed = r.access === 'public' || r.access === 'authenticated' || (r.access !== undefined && held.has(r.access));
        const where = `${role} ${r.method} ${r.url} → ${res.statusCode} ${res.body.slice(0, 120)}`;
        if (expectAllowed) assert.ok(res.statusCode !== 401 && res.statusCode !== 403, where);
        else {
          assert.equal(res.statusCode, 403, where);
          assert.equal(res.json().code, 'SOC_ERR_FORBIDDEN', where);
        }
        cells++;
      }
    }
    assert.equal(cells, routes.length * ROLES.length);
  });

  test('without a session or token every non-public route answers 401', async () => {
    for (const r of routeTable(h.app)) {
      if (r.access === 'public' || !r.url.startsWith('/api/')) continue;
      const res = await h.app.inject({ method: r.method as 'GET', url: r.url.replace(/:[A-Za-z]+/g, 'x') });
      assert.equal(res.statusCode, 401, `${r.method} ${r.url}`);
      assert.equal(res.json().code, 'SOC_ERR_UNAUTHORIZED');
    }
  });

  test('a role change takes effect at once (sessions of the user end)', async () => {
    const admin = await login(h.app, 'admin', STRONG);
    const v = await login(h.app, 'viewer1', STRONG);
    assert.equal((await as(h.app, v, 'GET', '/api/v1/events?last=1h')).statusCode, 200);
    const p = await as(h.app, admin, 'PATCH', '/api/v1/users/viewer1', { role: 'auditadmin' });
    assert.equal(p.statusCode, 200, p.body);
    assert.equal((await as(h.app, v, 'GET', '/api/v1/events?last=1h')).statusCode, 401);
    const again = await login(h.app, 'viewer1', STRONG);
    assert.equal((await as(h.app, again, 'GET', '/api/v1/events?last=1h')).statusCode, 403);
    const self = await as(h.app, admin, 'PATCH', '/api/v1/users/admin', { role: 'viewer' });
    assert.equal(self.statusCode, 403, 'a security administrator cannot demote themselves');
  });
});
