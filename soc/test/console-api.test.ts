// Console tools over the API: rule testing against pasted events, Sigma import checks and the
// audit trail, through the real security layer (sessions, permissions).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_PACKS_DIR } from '@xiangan/rules';
import { as, firstLogin, harness, userOf, type Harness, type Session } from './auth-helpers.js';

const SSH_RULE = readFileSync(join(BUILTIN_PACKS_DIR, 'linux', 'ssh_auth_failure.yml'), 'utf8');

describe('console tools API', () => {
  let h: Harness;
  let admin: Session;
  let analyst: Session;
  let auditor: Session;
  let sysadmin: Session;
  before(async () => {
    h = await harness();
    admin = await firstLogin(h.app, 'admin', h.admin.password);
    analyst = await userOf(h, admin, 'analyst');
    auditor = await userOf(h, admin, 'auditadmin');
    sysadmin = await userOf(h, admin, 'sysadmin');
  });
  after(async () => h.close());

  test('a pasted rule tested against pasted syslog lines matches the failure, not the success', async () => {
    const events = [
      '<38>Nov 30 10:00:00 web1 sshd[123]: Failed password for root from 203.0.113.5 port 52100 ssh2',
      '',
      '<38>Nov 30 10:00:05 web1 sshd[123]: Accepted password for alice from 203.0.113.5 port 52101 ssh2',
    ].join('\n');
    const r = await as(h.app, analyst, 'POST', '/api/v1/detection/test', { rules: SSH_RULE, events, format: 'syslog' });
    assert.equal(r.statusCode, 200, r.body);
    const body = r.json() as { rules: { id: string }[]; events: number; matches: { ruleId: string; line: number }[]; parsed: Record<string, unknown>[] };
    assert.deepEqual(body.rules.map((x) => x.id), ['d4bb0582-6c90-5c9f-b4d5-2115fbbece95']);
    assert.equal(body.events, 2);
    assert.deepEqual(body.matches.map((m) => [m.ruleId, m.line]), [['d4bb0582-6c90-5c9f-b4d5-2115fbbece95', 1]]);
    assert.equal((body.parsed[0] as { source: { ip: string } }).source.ip, '203.0.113.5');
  });

  test('NDJSON events; bad input is a 400 with a code, not a 500', async () => {
    const ev = { '@timestamp': '2026-11-30T02:00:00.000Z', message: 'x', event: { dataset: 'system.auth', action: 'invalid_user', outcome: 'failure' }, host: { os: { type: 'linux' } }, process: { name: 'sshd' } };
    let r = await as(h.app, analyst, 'POST', '/api/v1/detection/test', { rules: SSH_RULE, events: JSON.stringify(ev), format: 'ndjson', pipeline: 'identity' });
    assert.equal(r.statusCode, 200, r.body);
    r = await as(h.app, analyst, 'POST', '/api/v1/detection/test', { rules: SSH_RULE, events: '{not json', format: 'ndjson' });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().code, 'SOC_ERR_QUERY');
    assert.match(r.json().message, /line 1/);
    r = await as(h.app, analyst, 'POST', '/api/v1/detection/test', { rules: 'title: [unclosed', events: '' });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().message, /RULE_ERR_YAML/);
  });

  test('import-sigma reports accepted and rejected rules with their codes', async () => {
    const bad = 'title: no detection\nid: 5f0f8a57-1c1e-4d8e-9d55-0d2f1f4a9e01\nlogsource:\n  product: linux\nlevel: low\n';
    const r = await as(h.app, analyst, 'POST', '/api/v1/detection/import-sigma', { rules: `${SSH_RULE}\n---\n${bad}` });
    assert.equal(r.statusCode, 200, r.body);
    const b = r.json() as { total: number; accepted: number; rules: { id: string }[]; rejected: { code: string }[]; byCode: Record<string, number> };
    assert.equal(b.total, 2);
    assert.equal(b.accepted, 1);
    assert.equal(b.rejected.length, 1);
    assert.match(b.rejected[0]!.code, /^RULE_ERR_/);
    assert.equal(b.byCode[b.rejected[0]!.code], 1);
  });

  test('rule tools need rules:read: the system administrator is refused', async () => {
    const r = await as(h.app, sysadmin, 'POST', '/api/v1/detection/test', { rules: SSH_RULE, events: '' });
    assert.equal(r.statusCode, 403);
  });

  test('the audit trail: newest first, filtered by action prefix, paged by seq; only the audit administrator reads it', async () => {
    for (const n of ['u1', 'u2', 'u3']) assert.equal((await as(h.app, admin, 'POST', '/api/v1/users', { username: `audit-${n}`, role: 'viewer' })).statusCode, 201);
    const r = await as(h.app, auditor, 'GET', '/api/v1/audit?action=user.create&limit=2');
    assert.equal(r.statusCode, 200, r.body);
    const p1 = r.json() as { items: { seq: number; action: string; target: string; actor: string }[]; nextBefore: number | null };
    assert.deepEqual(p1.items.map((i) => i.target), ['audit-u3', 'audit-u2']);
    assert.ok(p1.items.every((i) => i.action === 'user.create' && i.actor === 'admin'));
    assert.equal(p1.nextBefore, p1.items[1]!.seq);
    const p2 = (await as(h.app, auditor, 'GET', `/api/v1/audit?action=user.create&limit=2&before=${p1.nextBefore}`)).json() as typeof p1;
    assert.equal(p2.items[0]!.target, 'audit-u1');
    assert.equal((await as(h.app, admin, 'PATCH', '/api/v1/users/audit-u1', { role: 'analyst' })).statusCode, 200);
    const upd = (await as(h.app, auditor, 'GET', '/api/v1/audit?action=user.update&limit=1')).json() as { items: { target: string; details: { role: { from: string; to: string } } }[] };
    assert.equal(upd.items[0]!.target, 'audit-u1');
    assert.deepEqual(upd.items[0]!.details.role, { from: 'viewer', to: 'analyst' });
    const byActor = (await as(h.app, auditor, 'GET', '/api/v1/audit?actor=nobody')).json() as typeof p1;
    assert.deepEqual(byActor.items, []);
    assert.equal((await as(h.app, analyst, 'GET', '/api/v1/audit')).statusCode, 403);
    assert.equal((await as(h.app, admin, 'GET', '/api/v1/audit')).statusCode, 403, 'the security administrator does not read the trail');
  });

  test('keys overview: certificates with days left, the crypto service when it runs; security administrator only', async () => {
    const r = await as(h.app, admin, 'GET', '/api/v1/keys/overview');
    assert.equal(r.statusCode, 200, r.body);
    const b = r.json() as { warningDays: number; certificates: { daysLeft: number; expiringSoon: boolean }[]; kms: unknown };
    assert.equal(b.warningDays, 30);
    assert.equal(b.kms, null, 'no crypto service in this process');
    for (const c of b.certificates) assert.equal(c.expiringSoon, c.daysLeft < 30);
    assert.equal((await as(h.app, analyst, 'GET', '/api/v1/keys/overview')).statusCode, 403);
    assert.equal((await as(h.app, auditor, 'GET', '/api/v1/keys/overview')).statusCode, 403);
  });
  test('三权分立 for API tokens: the security administrator cannot issue audit or system permissions, but can issue a collector token', async () => {
    for (const permissions of [['audit:read'], ['system:write', 'events:ingest']]) {
      const r = await as(h.app, admin, 'POST', '/api/v1/tokens', { name: 'lend', permissions });
      assert.equal(r.statusCode, 403, r.body);
      assert.equal(r.json().code, 'SOC_ERR_FORBIDDEN');
    }
    const ok = await as(h.app, admin, 'POST', '/api/v1/tokens', { name: 'collector', permissions: ['events:ingest', 'metrics:read'] });
    assert.equal(ok.statusCode, 201, ok.body);
    // The collector's token reads no audit trail: that stays the auditor's.
    assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/audit', headers: { authorization: `Bearer ${ok.json().token}` } })).statusCode, 403);
  });
});
