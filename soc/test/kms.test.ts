// The crypto service end to end: a real SQLite key store, real HTTP on 127.0.0.1, the real
// durable buffer as audit sink, and OpenSSL as an independent SM2 verifier.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import {
  Sm2PrivateKey, sm2Decrypt, sm2Verify, sm4GcmDecrypt, sm4GcmEncrypt, sm2PublicKeyToPem, importSm2PublicKey, hmacSm3, sm3,
  base64ToBytes, bytesToBase64, bytesToHex, utf8ToBytes, randomBytes, concatBytes,
} from '@xiangan/crypto';
import { normalise } from '@xiangan/collectors';
import { DurableBuffer } from '../src/buffer/durable.js';
import { buildApp } from '../src/app.js';
import { AuthService } from '../src/auth/service.js';
import { EventBus } from '../src/bus.js';
import { validateConfig } from '../src/config/load.js';
import { createLogger } from '../src/logger.js';
import { startRuntime } from '../src/pipeline/runtime.js';
import { parseQuery } from '../src/query/parse.js';
import { KmsService, KmsError, kmsRoutes, parseEnvelope, envelope } from '../src/kms/index.js';

const SECRET = 'correct horse battery staple';
const ITER = 1000; // PBKDF2 cost is not under test; keep the suite fast.

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'xiangan-kms-'));
}

function openssl(args: string[], cwd: string, input?: Uint8Array): Buffer {
  return execFileSync('openssl', args, { cwd, ...(input ? { input } : {}), stdio: ['pipe', 'pipe', 'pipe'] });
}

async function serve(kms: KmsService, logs?: string[]): Promise<{ app: FastifyInstance; url: string }> {
  const stream = new Writable({ write(chunk, _e, cb) { logs?.push(String(chunk)); cb(); } });
  const app = Fastify({ loggerInstance: pino({ level: 'trace' }, stream) as unknown as FastifyBaseLogger });
  await app.register(kmsRoutes, { service: kms });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url };
}

async function call(url: string, token: string | undefined, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}/api/v1/kms${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const b64 = (s: string | Uint8Array): string => bytesToBase64(typeof s === 'string' ? utf8ToBytes(s) : s);

describe('key store', () => {
  test('a wrong master secret is refused with a typed error; the right one reopens every key', async () => {
    const dir = tmp();
    try {
      const kms = KmsService.open({ dir, masterSecret: SECRET, iterations: ITER });
      kms.createKey(kms.root, 'sig', 'sm2-sign');
      kms.createKey(kms.root, 'box', 'sm4');
      const msg = utf8ToBytes('across a restart');
      const { signature } = kms.sign(kms.root, 'sig', msg);
      const { ciphertext } = kms.encrypt(kms.root, 'box', msg, { aad: utf8ToBytes('ctx') });
      await kms.close();
      assert.throws(() => KmsService.open({ dir, masterSecret: 'wrong horse battery staple' }), (e: unknown) => e instanceof KmsError && e.code === 'SOC_ERR_KMS_MASTER_SECRET');
      const again = KmsService.open({ dir, masterSecret: SECRET });
      assert.equal(again.verify(again.root, 'sig', msg, signature).valid, true);
      assert.deepEqual(again.decrypt(again.root, 'box', ciphertext, { aad: utf8ToBytes('ctx') }).plaintext, msg);
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('no clear key material reaches the data directory or the logs', async () => {
    const dir = tmp();
    const logs: string[] = [];
    try {
      const kms = KmsService.open({ dir, masterSecret: SECRET, iterations: ITER });
      const { token } = kms.createApp('ops', { keys: ['*'], ops: ['*'] });
      const { app, url } = await serve(kms, logs);
      try {
        for (const [name, type] of [['s', 'sm2-sign'], ['e', 'sm2-encrypt'], ['k', 'sm4'], ['h', 'hmac-sm3']] as const) {
          assert.equal((await call(url, token, 'POST', '/keys', { name, type, exportable: true })).status, 200);
        }
        await call(url, token, 'POST', '/sign/s', { input: b64('x') });
        await call(url, token, 'POST', '/encrypt/k', { plaintext: b64('x') });
        // Recover every clear key through an export to a key only the test holds.
        const holder = Sm2PrivateKey.generate();
        const materials: Uint8Array[] = [];
        for (const n of ['s', 'e', 'k', 'h']) {
          const r = await call(url, token, 'POST', `/keys/${n}/export`, { publicKey: sm2PublicKeyToPem(holder.publicKey) });
          assert.equal(r.status, 200);
          for (const v of r.json.versions as Array<{ wrapped: string }>) materials.push(sm2Decrypt(holder, base64ToBytes(v.wrapped)));
        }
        await kms.drainAudit();
        const disk = Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f))));
        const logText = logs.join('');
        assert.ok(logText.length > 0, 'the logger captured requests');
        for (const m of materials) {
          assert.equal(disk.indexOf(Buffer.from(m)), -1, 'clear key bytes on disk');
          for (const enc of [bytesToHex(m), bytesToBase64(m)]) {
            assert.equal(disk.indexOf(Buffer.from(enc)), -1, 'encoded key on disk');
            assert.equal(logText.includes(enc), false, 'key in logs');
          }
        }
        assert.equal(logText.includes(token), false, 'token in logs');
      } finally {
        await app.close();
        await kms.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('encrypted backup restores into a store with another master secret', async () => {
    const a = tmp();
    const b = tmp();
    try {
      const src = KmsService.open({ dir: a, masterSecret: SECRET, iterations: ITER });
      src.createKey(src.root, 'k', 'sm4');
      src.rotateKey(src.root, 'k');
      const ct1 = src.encrypt(src.root, 'k', utf8ToBytes('one')).ciphertext;
      const backup = src.backup(src.root);
      assert.equal(backup.includes(bytesToBase64(utf8ToBytes('one'))), false);
      await src.close();
      const dst = KmsService.open({ dir: b, masterSecret: 'another master secret', iterations: ITER });
      assert.throws(() => dst.restore(dst.root, backup, 'wrong secret!!'), (e: unknown) => e instanceof KmsError && e.code === 'SOC_ERR_KMS_BACKUP');
      assert.throws(() => dst.restore(dst.root, backup, undefined), (e: unknown) => e instanceof KmsError && e.code === 'SOC_ERR_KMS_BACKUP');
      const tampered = JSON.parse(backup) as { payload: string };
      const p = base64ToBytes(tampered.payload);
      p[40] ^= 1;
      tampered.payload = bytesToBase64(p);
      assert.throws(() => dst.restore(dst.root, JSON.stringify(tampered), SECRET), (e: unknown) => e instanceof KmsError && e.code === 'SOC_ERR_KMS_BACKUP');
      assert.deepEqual(dst.restore(dst.root, backup, SECRET), { keys: 1, apps: 0 });
      assert.deepEqual(dst.decrypt(dst.root, 'k', ct1).plaintext, utf8ToBytes('one'));
      await dst.close();
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });
});

describe('operations over HTTP', () => {
  let dir: string;
  let kms: KmsService;
  let app: FastifyInstance;
  let url: string;
  let buffer: DurableBuffer;
  let admin: string;
  let clock = Date.now();

  before(async () => {
    dir = tmp();
    buffer = new DurableBuffer({ dir: join(dir, 'buffer') });
    kms = KmsService.open({ dir: join(dir, 'kms'), masterSecret: SECRET, iterations: ITER, sink: buffer, now: () => clock });
    admin = kms.createApp('admin', { keys: ['*'], ops: ['*'] }).token;
    ({ app, url } = await serve(kms));
  });
  after(async () => {
    await app.close();
    await kms.close();
    buffer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('SM2 signatures verify in OpenSSL with the exported public key, with the default and a custom ID', async () => {
    assert.equal((await call(url, admin, 'POST', '/keys', { name: 'orders-sign', type: 'sm2-sign' })).status, 200);
    const key = await call(url, admin, 'GET', '/keys/orders-sign');
    const pem = (key.json.publicKeys as Record<string, string>)['1']!;
    const work = join(dir, 'ossl');
    execFileSync('mkdir', ['-p', work]);
    writeFileSync(join(work, 'pub.pem'), pem);
    const msg = utf8ToBytes('pay 100 CNY to 湘安');
    writeFileSync(join(work, 'msg'), msg);
    for (const id of [undefined, 'ALICE123@YAHOO.COM']) {
      const r = await call(url, admin, 'POST', '/sign/orders-sign', { input: b64(msg), ...(id ? { id: b64(id) } : {}) });
      assert.equal(r.status, 200);
      const sig = parseEnvelope(r.json.signature as string).bytes;
      writeFileSync(join(work, 'sig'), sig);
      const out = openssl(['pkeyutl', '-verify', '-pubin', '-inkey', 'pub.pem', '-rawin', '-digest', 'sm3', '-in', 'msg', '-sigfile', 'sig', '-pkeyopt', `distid:${id ?? '1234567812345678'}`], work);
      assert.match(out.toString(), /Verified Successfully/);
      // And in the local SDK.
      assert.equal(sm2Verify(importSm2PublicKey(pem), msg, sig, id ? { id: utf8ToBytes(id) } : {}), true);
    }
    // An OpenSSL signature verifies in the service only with the service's key: a wrong one is false.
    const v = await call(url, admin, 'POST', '/verify/orders-sign', { input: b64('other message'), signature: (await call(url, admin, 'POST', '/sign/orders-sign', { input: b64(msg) })).json.signature });
    assert.deepEqual(v.json, { valid: false, version: 1 });
    const raw = await call(url, admin, 'POST', '/sign/orders-sign', { input: b64(msg), format: 'raw' });
    assert.equal(parseEnvelope(raw.json.signature as string).bytes.length, 64);
    assert.equal((await call(url, admin, 'POST', '/verify/orders-sign', { input: b64(msg), signature: raw.json.signature, format: 'raw' })).json.valid, true);
  });

  test('rotation: old versions still decrypt, rewrap moves to the newest, min version retires old ones', async () => {
    await call(url, admin, 'POST', '/keys', { name: 'vault', type: 'sm4' });
    const aad = b64('order-42');
    const v1 = (await call(url, admin, 'POST', '/encrypt/vault', { plaintext: b64('secret'), aad })).json.ciphertext as string;
    assert.match(v1, /^xiangan:v1:/);
    const rot = await call(url, admin, 'POST', '/keys/vault/rotate');
    assert.equal(rot.json.latestVersion, 2);
    const v2 = (await call(url, admin, 'POST', '/encrypt/vault', { plaintext: b64('secret'), aad })).json.ciphertext as string;
    assert.match(v2, /^xiangan:v2:/);
    for (const ct of [v1, v2]) assert.equal((await call(url, admin, 'POST', '/decrypt/vault', { ciphertext: ct, aad })).json.plaintext, b64('secret'));
    const rw = await call(url, admin, 'POST', '/rewrap/vault', { ciphertext: v1, aad });
    assert.match(rw.json.ciphertext as string, /^xiangan:v2:/);
    assert.equal((await call(url, admin, 'POST', '/keys/vault/config', { minDecryptionVersion: 2 })).status, 200);
    const old = await call(url, admin, 'POST', '/decrypt/vault', { ciphertext: v1, aad });
    assert.equal(old.status, 409);
    assert.equal(old.json.code, 'SOC_ERR_KMS_KEY_STATE');
    assert.equal((await call(url, admin, 'POST', '/decrypt/vault', { ciphertext: rw.json.ciphertext, aad })).json.plaintext, b64('secret'));
    // Signatures of an old version still verify after rotation.
    const s1 = (await call(url, admin, 'POST', '/sign/orders-sign', { input: b64('m') })).json.signature;
    await call(url, admin, 'POST', '/keys/orders-sign/rotate');
    const vr = await call(url, admin, 'POST', '/verify/orders-sign', { input: b64('m'), signature: s1 });
    assert.deepEqual(vr.json, { valid: true, version: 1 });
  });

  test('tampered ciphertexts, wrong versions and wrong AAD give typed errors', async () => {
    const ct = (await call(url, admin, 'POST', '/encrypt/vault', { plaintext: b64('data'), aad: b64('a') })).json.ciphertext as string;
    const { version, bytes } = parseEnvelope(ct);
    const flipped = bytes.slice();
    flipped[flipped.length - 1] ^= 0x80;
    const cases: Array<[string, Record<string, unknown>]> = [
      ['tampered tag', { ciphertext: envelope(version, flipped), aad: b64('a') }],
      ['wrong aad', { ciphertext: ct, aad: b64('b') }],
      ['unknown version', { ciphertext: envelope(9, bytes), aad: b64('a') }],
      ['truncated', { ciphertext: envelope(version, bytes.subarray(0, 20)), aad: b64('a') }],
      ['not an envelope', { ciphertext: 'vault:v1:AAAA', aad: b64('a') }],
    ];
    for (const [what, body] of cases) {
      const r = await call(url, admin, 'POST', '/decrypt/vault', body);
      assert.equal(r.status, 400, what);
      assert.equal(r.json.code, 'SOC_ERR_KMS_CIPHERTEXT', what);
    }
    // The wrong version of a valid ciphertext fails authentication under the other key.
    const r = await call(url, admin, 'POST', '/decrypt/vault', { ciphertext: envelope(3 - version === 0 ? 1 : version === 2 ? 1 : 2, bytes), aad: b64('a') });
    assert.ok(r.json.code === 'SOC_ERR_KMS_CIPHERTEXT' || r.json.code === 'SOC_ERR_KMS_KEY_STATE');
    // SM2 in both component orders, and a tampered SM2 ciphertext.
    await call(url, admin, 'POST', '/keys', { name: 'box2', type: 'sm2-encrypt' });
    for (const order of ['c1c3c2', 'c1c2c3']) {
      const c = (await call(url, admin, 'POST', '/encrypt/box2', { plaintext: b64('sm2 text'), order })).json.ciphertext as string;
      assert.equal((await call(url, admin, 'POST', '/decrypt/box2', { ciphertext: c, order })).json.plaintext, b64('sm2 text'));
      const p = parseEnvelope(c);
      p.bytes[p.bytes.length - 1] ^= 1;
      assert.equal((await call(url, admin, 'POST', '/decrypt/box2', { ciphertext: envelope(p.version, p.bytes), order })).json.code, 'SOC_ERR_KMS_CIPHERTEXT');
    }
  });

  test('every policy denial: no token, unknown token, wrong key, wrong operation, revoked token, admin routes', async () => {
    const { token } = (await call(url, admin, 'POST', '/apps', { name: 'billing', keys: ['billing-*'], ops: ['sign', 'verify', 'read'] })).json as { token: string };
    await call(url, admin, 'POST', '/keys', { name: 'billing-sign', type: 'sm2-sign' });
    await call(url, admin, 'POST', '/keys', { name: 'billing-box', type: 'sm4' });
    const ok = await call(url, token, 'POST', '/sign/billing-sign', { input: b64('x') });
    assert.equal(ok.status, 200);
    const expect = async (t: string | undefined, method: string, path: string, body: unknown, status: number, code: string): Promise<void> => {
      const r = await call(url, t, method, path, body);
      assert.equal(r.status, status, `${method} ${path}`);
      assert.equal(r.json.code, code, `${method} ${path}`);
    };
    await expect(undefined, 'POST', '/sign/billing-sign', { input: b64('x') }, 401, 'SOC_ERR_KMS_UNAUTHENTICATED');
    await expect('xkms_not-a-token', 'POST', '/sign/billing-sign', { input: b64('x') }, 401, 'SOC_ERR_KMS_UNAUTHENTICATED');
    await expect(token, 'POST', '/sign/orders-sign', { input: b64('x') }, 403, 'SOC_ERR_KMS_DENIED');
    await expect(token, 'POST', '/encrypt/billing-box', { plaintext: b64('x') }, 403, 'SOC_ERR_KMS_DENIED');
    await expect(token, 'POST', '/keys/billing-sign/rotate', undefined, 403, 'SOC_ERR_KMS_DENIED');
    await expect(token, 'POST', '/keys/billing-sign/export', { key: 'vault' }, 403, 'SOC_ERR_KMS_DENIED');
    await expect(token, 'POST', '/apps', { name: 'evil', keys: ['*'], ops: ['*'] }, 403, 'SOC_ERR_KMS_DENIED');
    await expect(token, 'POST', '/backup', undefined, 403, 'SOC_ERR_KMS_DENIED');
    await expect(admin, 'POST', '/keys/billing-sign/export', { key: 'vault' }, 403, 'SOC_ERR_KMS_NOT_EXPORTABLE');
    await expect(admin, 'POST', '/encrypt/billing-sign', { plaintext: b64('x') }, 400, 'SOC_ERR_KMS_KEY_TYPE');
    await expect(admin, 'POST', '/sign/nope', { input: b64('x') }, 404, 'SOC_ERR_KMS_KEY_NOT_FOUND');
    await expect(admin, 'POST', '/sign/billing-sign', { input: 'not base64!' }, 400, 'SOC_ERR_KMS_REQUEST');
    const list = await call(url, token, 'GET', '/keys');
    assert.deepEqual((list.json.keys as Array<{ name: string }>).map((k) => k.name), ['billing-box', 'billing-sign']);
    assert.equal((await call(url, admin, 'DELETE', '/apps/billing')).status, 200);
    await expect(token, 'POST', '/sign/billing-sign', { input: b64('x') }, 401, 'SOC_ERR_KMS_UNAUTHENTICATED');
    // Disabled keys refuse use.
    await call(url, admin, 'POST', '/keys/billing-sign/config', { disabled: true });
    await expect(admin, 'POST', '/sign/billing-sign', { input: b64('x') }, 409, 'SOC_ERR_KMS_KEY_STATE');
  });

  test('scheduled destruction: refused at once, erased after the delay, cancellable before', async () => {
    await call(url, admin, 'POST', '/keys', { name: 'doomed', type: 'hmac-sm3' });
    assert.equal((await call(url, admin, 'POST', '/keys/doomed/config', { destroyAfterMs: 60_000 })).status, 200);
    assert.equal((await call(url, admin, 'POST', '/hmac/doomed', { input: b64('x') })).json.code, 'SOC_ERR_KMS_KEY_STATE');
    await call(url, admin, 'POST', '/keys/doomed/config', { destroyAfterMs: null });
    assert.equal((await call(url, admin, 'POST', '/hmac/doomed', { input: b64('x') })).status, 200);
    await call(url, admin, 'POST', '/keys/doomed/config', { destroyAfterMs: 1000 });
    clock += 2000;
    assert.equal((await call(url, admin, 'GET', '/keys/doomed')).json.code, 'SOC_ERR_KMS_KEY_NOT_FOUND');
    assert.equal(kms.store.versions('doomed').length, 0, 'the wrapped material is gone from the store');
  });

  test('SM4-GCM, HMAC-SM3, SM3 and data keys match the local SDK', async () => {
    const holder = Sm2PrivateKey.generate();
    await call(url, admin, 'POST', '/keys', { name: 'exp', type: 'sm4', exportable: true });
    await call(url, admin, 'POST', '/keys', { name: 'mac', type: 'hmac-sm3', exportable: true });
    const exp = await call(url, admin, 'POST', '/keys/exp/export', { publicKey: sm2PublicKeyToPem(holder.publicKey) });
    const k = sm2Decrypt(holder, base64ToBytes((exp.json.versions as Array<{ wrapped: string }>)[0]!.wrapped));
    const pt = randomBytes(1024);
    const ct = parseEnvelope((await call(url, admin, 'POST', '/encrypt/exp', { plaintext: b64(pt), aad: b64('hdr') })).json.ciphertext as string);
    assert.deepEqual(sm4GcmDecrypt(k, ct.bytes.subarray(0, 12), ct.bytes.subarray(12), { aad: utf8ToBytes('hdr') }), pt);
    const nonce = randomBytes(12);
    const mine = envelope(1, concatBytes(nonce, sm4GcmEncrypt(k, nonce, pt)));
    assert.equal((await call(url, admin, 'POST', '/decrypt/exp', { ciphertext: mine })).json.plaintext, b64(pt));
    // Data key: the plaintext half decrypts from the wrapped half, locally.
    const dk = await call(url, admin, 'POST', '/datakey/exp', { bytes: 32 });
    const w = parseEnvelope(dk.json.ciphertext as string);
    assert.deepEqual(sm4GcmDecrypt(k, w.bytes.subarray(0, 12), w.bytes.subarray(12)), base64ToBytes(dk.json.plaintext as string));
    // HMAC-SM3 against the SDK, and against OpenSSL for the SM3 digest.
    const mk = sm2Decrypt(holder, base64ToBytes(((await call(url, admin, 'POST', '/keys/mac/export', { publicKey: sm2PublicKeyToPem(holder.publicKey) })).json.versions as Array<{ wrapped: string }>)[0]!.wrapped));
    const mac = (await call(url, admin, 'POST', '/hmac/mac', { input: b64('abc') })).json.mac as string;
    assert.deepEqual(parseEnvelope(mac).bytes, hmacSm3(mk, utf8ToBytes('abc')));
    assert.equal((await call(url, admin, 'POST', '/hmac-verify/mac', { input: b64('abc'), mac })).json.valid, true);
    assert.equal((await call(url, admin, 'POST', '/hmac-verify/mac', { input: b64('abd'), mac })).json.valid, false);
    const dg = await call(url, admin, 'POST', '/digest', { input: b64('abc') });
    assert.equal(dg.json.digest, bytesToHex(sm3(utf8ToBytes('abc'))));
    assert.match(openssl(['dgst', '-sm3'], dir, utf8ToBytes('abc')).toString(), new RegExp(dg.json.digest as string));
    // Import an SM4 key wrapped under a managed key; export from one wraps under another managed key.
    const material = randomBytes(16);
    const wrapped = (await call(url, admin, 'POST', '/encrypt/exp', { plaintext: b64(material) })).json.ciphertext;
    const imp = await call(url, admin, 'POST', '/keys/imported/import', { type: 'sm4', wrappingKey: 'exp', wrapped });
    assert.equal(imp.status, 200, JSON.stringify(imp.json));
    const n2 = randomBytes(12);
    const byMe = envelope(1, concatBytes(n2, sm4GcmEncrypt(material, n2, utf8ToBytes('imported ok'))));
    const dec = await call(url, admin, 'POST', '/decrypt/imported', { ciphertext: byMe });
    assert.equal(dec.json.plaintext, b64('imported ok'), JSON.stringify(dec.json));
  });

  test('concurrent calls from many clients all succeed and each is audited into the SOC buffer', async () => {
    const { token } = (await call(url, admin, 'POST', '/apps', { name: 'fleet', keys: ['fleet-*'], ops: ['sign', 'verify'] })).json as { token: string };
    await call(url, admin, 'POST', '/keys', { name: 'fleet-sign', type: 'sm2-sign' });
    await kms.drainAudit();
    buffer.read(1_000_000);
    const N = 64;
    const results = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const input = b64(`message ${i}`);
        const s = await call(url, token, 'POST', '/sign/fleet-sign', { input });
        const v = await call(url, token, 'POST', '/verify/fleet-sign', { input, signature: s.json.signature });
        const bad = await call(url, token, 'POST', '/verify/fleet-sign', { input: b64('forged'), signature: s.json.signature });
        return [s.status, v.json.valid, bad.json.valid];
      }),
    );
    for (const r of results) assert.deepEqual(r, [200, true, false]);
    await kms.drainAudit();
    const events = buffer.read(1_000_000).flatMap((b) => b.events) as Array<Record<string, any>>;
    const mine = events.filter((e) => e.xiangan?.kms?.app === 'fleet');
    assert.equal(mine.length, 3 * N);
    const sign = mine.filter((e) => e.event.action === 'sm2-sign');
    assert.equal(sign.length, N);
    assert.ok(sign.every((e) => e.event.dataset === 'xiangan.kms' && e.event.outcome === 'success' && e.xiangan.kms.key === 'fleet-sign' && e.xiangan.kms.version === 2 - 1 && e.client.ip === '127.0.0.1'));
    const failed = mine.filter((e) => e.event.action === 'sm2-verify' && e.event.outcome === 'failure');
    assert.equal(failed.length, N, 'failed verifications are audited as failures for the pack rule');
    const text = JSON.stringify(mine);
    assert.equal(text.includes(b64('message 1')), false, 'no input in audit events');
  });
});

describe('inside the SOC server', () => {
  test('the routes pass the SOC security layer and every call lands in the event store', async () => {
    const dir = tmp();
    const config = validateConfig({
      data: dir,
      log: { level: 'silent' },
      storage: { synchronous: 'normal', worker: false },
      api: { port: 0, tokens: ['kms-soc-token-0123456789abcdef'] },
      syslog: { enabled: false },
      alerts: { enabled: false },
      auth: { pbkdf2Iterations: 1000 },
    });
    const runtime = await startRuntime(config, { logger: createLogger({ level: 'silent' }), normalise });
    const auth = AuthService.open({ dir, config: config.auth, level: config.level });
    const kms = KmsService.open({ dir: join(dir, 'kms'), masterSecret: SECRET, iterations: ITER, sink: runtime.buffer });
    const app = await buildApp({ runtime, kms, security: { auth, bus: new EventBus(10), ingestTokens: config.api.tokens, emitEvent: (e) => runtime.buffer.append([e]), countEvents: () => 0 } });
    try {
      const { token } = kms.createApp('payments', { keys: ['pay-*'], ops: ['sign'] });
      kms.createKey(kms.root, 'pay-sign', 'sm2-sign');
      const ok = await app.inject({ method: 'POST', url: '/api/v1/kms/sign/pay-sign', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: { input: b64('x') } });
      assert.equal(ok.statusCode, 200, ok.body);
      const no = await app.inject({ method: 'POST', url: '/api/v1/kms/sign/pay-sign', headers: { 'content-type': 'application/json' }, payload: { input: b64('x') } });
      assert.equal(no.statusCode, 401);
      assert.equal(no.json().code, 'SOC_ERR_KMS_UNAUTHENTICATED');
      await kms.drainAudit();
      const t0 = Date.now();
      let found: Array<Record<string, any>> = [];
      while (Date.now() - t0 < 20_000) {
        const r = await runtime.store.search({ query: parseQuery('event.dataset:xiangan.kms'), size: 10 });
        found = r.events as Array<Record<string, any>>;
        if (found.length >= 3) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      const actions = found.map((e) => `${e.event.action}/${e.event.outcome}`).sort();
      assert.deepEqual(actions, ['authenticate/failure', 'sm2-create/success', 'sm2-sign/success']);
    } finally {
      await app.close();
      await kms.close();
      auth.close();
      await runtime.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
