// Users, passwords, lockout, timeouts, TOTP, SM2 login and API tokens through the real API.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sm2PrivateKey, bytesToHex, sm2Sign } from '@xiangan/crypto';
import { auditLog, AuditStore } from '../src/audit/index.js';
import { AuthService, sm2LoginMessage } from '../src/auth/service.js';
import { as, firstLogin, harness, login, STRONG, totpAt, userOf, type Harness, type Session } from './auth-helpers.js';

test('TOTP helper matches RFC 6238 Appendix B (SHA-1, T = 59 s → 94287082)', () => {
  const base32 = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'; // "12345678901234567890"
  assert.equal(totpAt(base32, 59_000), '287082');
  assert.equal(totpAt(base32, 1_111_111_109_000), '081804');
});

describe('accounts at level 2', () => {
  let h: Harness;
  let admin: Session;
  let audit: AuditStore;
  before(async () => {
    h = await harness({ auth: { maxFailures: 5, lockoutMinutes: 15, idleTimeoutMinutes: 15, absoluteTimeoutHours: 8 } });
    audit = AuditStore.open({ dir: h.dir });
    auditLog.attach(audit);
  });
  after(async () => {
    auditLog.detach();
    audit.close();
    await h.close();
  });

  test('first start: one random one-time admin password, stored only as PBKDF2-HMAC-SM3', async () => {
    assert.match(h.admin.password, /^.{20,}$/);
    const again = AuthService.open({ dir: h.dir, config: h.auth.config, level: 2 });
    assert.equal(again.ensureAdmin(), undefined, 'no second admin password');
    again.close();
    const db = dbBytes(h);
    assert.equal(db.includes(Buffer.from(h.admin.password)), false, 'password not stored');
    assert.ok(db.includes(Buffer.from('pbkdf2-sm3$1000$')), 'hash with its parameters');
  });

  test('a one-time password must be changed before anything else; the policy refuses weak ones', async () => {
    const s = await login(h.app, 'admin', h.admin.password);
    assert.equal(s.res.statusCode, 200);
    const me = (s.res.json() as { user: { mustChangePassword: boolean; role: string } }).user;
    assert.equal(me.mustChangePassword, true);
    assert.equal(me.role, 'secadmin');
    const blocked = await as(h.app, s, 'GET', '/api/v1/users');
    assert.equal(blocked.statusCode, 403);
    assert.equal(blocked.json().code, 'SOC_ERR_PASSWORD_CHANGE_REQUIRED');
    const weak = await as(h.app, s, 'POST', '/api/v1/auth/password', { current: h.admin.password, next: 'password' });
    assert.equal(weak.json().code, 'SOC_ERR_PASSWORD_POLICY');
    const ok = await as(h.app, s, 'POST', '/api/v1/auth/password', { current: h.admin.password, next: STRONG });
    assert.equal(ok.statusCode, 200);
    admin = s;
    assert.equal((await as(h.app, s, 'GET', '/api/v1/users')).statusCode, 200);
    const old = await login(h.app, 'admin', h.admin.password);
    assert.equal(old.res.json().code, 'SOC_ERR_LOGIN_FAILED');
  });

  test('lockout after 5 failures, audited and sent into the pipeline as authentication events', async () => {
    const u = await as(h.app, admin, 'POST', '/api/v1/users', { username: 'mallory', role: 'viewer' });
    const pw = u.json().password as string;
    for (let i = 0; i < 5; i++) {
      const r = await login(h.app, 'mallory', `wrong-${i}`);
      assert.equal(r.res.statusCode, 401);
      assert.equal(r.res.json().code, 'SOC_ERR_LOGIN_FAILED');
    }
    const locked = await login(h.app, 'mallory', pw);
    assert.equal(locked.res.statusCode, 423);
    assert.equal(locked.res.json().code, 'SOC_ERR_LOCKED');
    const unknown = await login(h.app, 'nobody', 'x');
    assert.equal(unknown.res.json().code, 'SOC_ERR_LOGIN_FAILED', 'unknown users look like wrong passwords');
    h.clock.t += 16 * 60_000;
    const after = await login(h.app, 'mallory', pw);
    assert.equal(after.res.statusCode, 200, 'lock expires');
    h.clock.t = Date.now();

    const trail = audit.list().filter((r) => r.action === 'auth.login.password' && r.outcome === 'failure' && r.actor === 'mallory');
    assert.equal(trail.length, 6);
    assert.deepEqual(trail.map((r) => r.details?.reason), ['bad_password', 'bad_password', 'bad_password', 'bad_password', 'bad_password', 'locked']);
    // The events reach the store through the buffer like any other source.
    let found = 0;
    for (let i = 0; i < 200 && found < 6; i++) {
      const r = await h.app.inject({ method: 'GET', url: '/api/v1/events?q=user.name:mallory AND event.outcome:failure&size=100', headers: { authorization: `Bearer ${(await token(h, admin, ['events:read'])).token}` } });
      found = (r.json() as { total: number }).total;
      if (found < 6) await new Promise((res) => setTimeout(res, 50));
    }
    assert.equal(found, 6);
  });

  test('idle timeout and absolute timeout end sessions', async () => {
    const s = await userOf(h, admin, 'analyst', 'idle1');
    h.clock.t += 14 * 60_000;
    assert.equal((await as(h.app, s, 'GET', '/api/v1/auth/me')).statusCode, 200, 'used within 15 min');
    h.clock.t += 16 * 60_000;
    const r = await as(h.app, s, 'GET', '/api/v1/auth/me');
    assert.equal(r.statusCode, 401);
    assert.equal(r.json().code, 'SOC_ERR_SESSION_EXPIRED');
    assert.equal((await as(h.app, s, 'GET', '/api/v1/auth/me')).statusCode, 401, 'the session is gone');
    h.clock.t = Date.now();
    const s2 = await login(h.app, 'idle1', STRONG);
    for (let i = 0; i < 9 * 6; i++) {
      h.clock.t += 10 * 60_000;
      if ((await as(h.app, s2, 'GET', '/api/v1/auth/me')).statusCode !== 200) break;
    }
    assert.ok(h.clock.t - Date.now() > 8 * 3600_000 - 11 * 60_000 && h.clock.t - Date.now() <= 8 * 3600_000 + 10 * 60_000, 'ends at the 8 h cap');
    h.clock.t = Date.now();
    admin = await login(h.app, 'admin', STRONG); // the jumps above timed the admin out too
  });

  test('SM2 challenge-response login with the user\'s registered key', async () => {
    const key = Sm2PrivateKey.generate();
    const other = Sm2PrivateKey.generate();
    const u = await as(h.app, admin, 'POST', '/api/v1/users', { username: 'ukey', role: 'analyst', sm2PublicKey: bytesToHex(key.publicKey.toBytes()) });
    assert.equal(u.statusCode, 201, u.body);
    await firstLogin(h.app, 'ukey', u.json().password);
    const ch = async () => (await h.app.inject({ method: 'POST', url: '/api/v1/auth/sm2/challenge', payload: { username: 'ukey' } })).json() as { challengeId: string; challenge: string };
    const sign = (k: Sm2PrivateKey, c: { challenge: string }) => bytesToHex(sm2Sign(k, sm2LoginMessage('ukey', c.challenge)));
    const c1 = await ch();
    const bad = await h.app.inject({ method: 'POST', url: '/api/v1/auth/sm2/login', payload: { challengeId: c1.challengeId, signature: sign(other, c1) } });
    assert.equal(bad.json().code, 'SOC_ERR_LOGIN_FAILED');
    const c2 = await ch();
    const good = await h.app.inject({ method: 'POST', url: '/api/v1/auth/sm2/login', payload: { challengeId: c2.challengeId, signature: sign(key, c2) } });
    assert.equal(good.statusCode, 200, good.body);
    assert.equal(good.json().user.username, 'ukey');
    const replay = await h.app.inject({ method: 'POST', url: '/api/v1/auth/sm2/login', payload: { challengeId: c2.challengeId, signature: sign(key, c2) } });
    assert.equal(replay.json().code, 'SOC_ERR_LOGIN_FAILED', 'a challenge is single-use');
  });

  test('SM2 login with a key and signature made by the openssl CLI (GB/T 32918 default ID)', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'xa-sm2-'));
    try {
      const keyPem = join(tmp, 'k.pem');
      execFileSync('openssl', ['genpkey', '-algorithm', 'SM2', '-out', keyPem]);
      const pub = execFileSync('openssl', ['pkey', '-in', keyPem, '-pubout', '-outform', 'DER']).subarray(-65).toString('hex');
      const u = await as(h.app, admin, 'POST', '/api/v1/users', { username: 'osslkey', role: 'viewer', sm2PublicKey: pub });
      assert.equal(u.statusCode, 201, u.body);
      await firstLogin(h.app, 'osslkey', u.json().password);
      const c = (await h.app.inject({ method: 'POST', url: '/api/v1/auth/sm2/challenge', payload: { username: 'osslkey' } })).json() as { challengeId: string; challenge: string };
      writeFileSync(join(tmp, 'msg'), sm2LoginMessage('osslkey', c.challenge));
      const sig = execFileSync('openssl', ['pkeyutl', '-sign', '-inkey', keyPem, '-in', join(tmp, 'msg'), '-rawin', '-digest', 'sm3', '-pkeyopt', 'distid:1234567812345678']);
      const r = await h.app.inject({ method: 'POST', url: '/api/v1/auth/sm2/login', payload: { challengeId: c.challengeId, signature: sig.toString('hex') } });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().user.username, 'osslkey');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('API tokens: scoped, stored as SM3 hashes, revocable; never account permissions', async () => {
    const t = await token(h, admin, ['events:read']);
    const auth = { authorization: `Bearer ${t.token}` };
    assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/events?last=1h', headers: auth })).statusCode, 200);
    const denied = await h.app.inject({ method: 'POST', url: '/api/v1/ingest', headers: { ...auth, 'content-type': 'application/x-ndjson' }, payload: '{"message":"x"}\n' });
    assert.equal(denied.statusCode, 403);
    assert.equal(denied.json().code, 'SOC_ERR_FORBIDDEN');
    const db = dbBytes(h);
    assert.equal(db.includes(Buffer.from(t.token)), false);
    assert.ok(db.includes(Buffer.from(createHash('sm3').update(t.token).digest('hex'))), 'SM3 hash (OpenSSL) stored');
    const mint = await as(h.app, admin, 'POST', '/api/v1/tokens', { name: 'evil', permissions: ['users:write'] });
    assert.equal(mint.statusCode, 403);
    const rev = await as(h.app, admin, 'DELETE', `/api/v1/tokens/${t.id}`);
    assert.equal(rev.statusCode, 200);
    assert.ok(rev.json().revokedAt);
    const after = await h.app.inject({ method: 'GET', url: '/api/v1/events?last=1h', headers: auth });
    assert.equal(after.statusCode, 401);
    const list = await as(h.app, admin, 'GET', '/api/v1/tokens?limit=1&offset=0');
    assert.equal(list.json().items.length, 1);
    assert.ok(list.json().total >= 2);
    assert.equal(JSON.stringify(list.json()).includes(t.token), false);
  });

  test('privileged actions are in the audit trail with the acting user', () => {
    const actions = new Set(audit.list().filter((r) => r.actor === 'admin').map((r) => r.action));
    for (const a of ['user.create', 'token.create', 'token.revoke', 'auth.password.change', 'api.post', 'api.delete']) assert.ok(actions.has(a), a);
  });
});

describe('TOTP at level 3', () => {
  let h: Harness;
  before(async () => {
    h = await harness({ level: 3 });
  });
  after(async () => h.close());

  test('enrolment is forced, then every login needs a fresh code', async () => {
    const admin = await firstLogin(h.app, 'admin', h.admin.password);
    const blocked = await as(h.app, admin, 'GET', '/api/v1/users');
    assert.equal(blocked.json().code, 'SOC_ERR_TOTP_ENROLMENT_REQUIRED');
    const en = await as(h.app, admin, 'POST', '/api/v1/auth/totp/enrol');
    const { secret, uri } = en.json() as { secret: string; uri: string };
    assert.match(uri, /^otpauth:\/\/totp\/Xiangan:admin\?/);
    const wrong = await as(h.app, admin, 'POST', '/api/v1/auth/totp/confirm', { code: totpAt(secret, h.clock.t + 10 * 60_000) });
    assert.equal(wrong.statusCode, 401);
    const ok = await as(h.app, admin, 'POST', '/api/v1/auth/totp/confirm', { code: totpAt(secret, h.clock.t) });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().totpEnabled, true);
    assert.equal((await as(h.app, admin, 'GET', '/api/v1/users')).statusCode, 200);

    h.clock.t += 60_000;
    const noCode = await login(h.app, 'admin', STRONG);
    assert.equal(noCode.res.statusCode, 401);
    assert.equal(noCode.res.json().code, 'SOC_ERR_TOTP_REQUIRED');
    const badCode = await login(h.app, 'admin', STRONG, totpAt(secret, h.clock.t + 5 * 60_000));
    assert.equal(badCode.res.json().code, 'SOC_ERR_LOGIN_FAILED');
    const code = totpAt(secret, h.clock.t);
    const good = await login(h.app, 'admin', STRONG, code);
    assert.equal(good.res.statusCode, 200, good.res.body);
    const replay = await login(h.app, 'admin', STRONG, code);
    assert.equal(replay.res.json().code, 'SOC_ERR_LOGIN_FAILED', 'RFC 6238 §5.2: a code is used once');
  });
});

async function token(h: Harness, admin: Session, permissions: string[]): Promise<{ token: string; id: string }> {
  const r = await as(h.app, admin, 'POST', '/api/v1/tokens', { name: `t${Math.random().toString(36).slice(2, 8)}`, permissions });
  assert.equal(r.statusCode, 201, r.body);
  return { token: r.json().token, id: r.json().info.id };
}

/** The database file and its write-ahead log (WAL mode keeps recent pages in the log). */
function dbBytes(h: Harness): Buffer {
  const p = join(h.dir, 'auth.db');
  return Buffer.concat([readFileSync(p), existsSync(`${p}-wal`) ? readFileSync(`${p}-wal`) : Buffer.alloc(0)]);
}
