// `xiangan kms …` against a real service on 127.0.0.1: init a store, then create, sign (checked
// by OpenSSL), verify, encrypt/decrypt, datakey, rotate, list, backup and restore.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { base64ToBytes } from '@xiangan/crypto';
import { KmsClient, KmsClientError } from '@xiangan/crypto/kms-client';
import { main } from '../src/cli/main.js';
import { KmsService, kmsRoutes, parseEnvelope } from '../src/kms/index.js';

const MASTER = 'operator master secret 2026';

async function cli(args: string[], cwd: string, env: Record<string, string>, stdin = '') {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const input = new PassThrough();
  input.end(stdin);
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await main(args, { stdin: input, stdout, stderr, env, cwd });
  return { code, out, err };
}

describe('xiangan kms', () => {
  let dir: string;
  let kms: KmsService;
  let app: FastifyInstance;
  let env: Record<string, string>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xiangan-cli-kms-'));
    const init = await cli(['kms', 'init', '--data', 'store'], dir, { XIANGAN_KMS_MASTER: MASTER });
    assert.equal(init.code, 0, init.err);
    const token = init.out.trim();
    assert.match(token, /^xkms_/);
    const wrong = await cli(['kms', 'init', '--data', 'store'], dir, { XIANGAN_KMS_MASTER: 'not the master secret' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /SOC_ERR_KMS_MASTER_SECRET/);
    kms = KmsService.open({ dir: join(dir, 'store'), masterSecret: MASTER });
    app = Fastify({ logger: false });
    await app.register(kmsRoutes, { service: kms });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    env = { XIANGAN_KMS_URL: url, XIANGAN_KMS_TOKEN: token };
  });
  after(async () => {
    await app.close();
    await kms.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('create, sign (verified by OpenSSL), verify, rotate, list', async () => {
    assert.equal((await cli(['kms', 'create', 'doc-sign', '--type', 'sm2-sign'], dir, env)).code, 0);
    writeFileSync(join(dir, 'doc.txt'), '合同 v1');
    const s = await cli(['kms', 'sign', 'doc-sign', '--in', 'doc.txt'], dir, env);
    assert.equal(s.code, 0, s.err);
    const sig = s.out.trim();
    writeFileSync(join(dir, 'doc.sig'), parseEnvelope(sig).bytes);
    writeFileSync(join(dir, 'pub.pem'), kms.getKey(kms.root, 'doc-sign').publicKeys![1]!);
    const ossl = execFileSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', 'pub.pem', '-rawin', '-digest', 'sm3', '-in', 'doc.txt', '-sigfile', 'doc.sig', '-pkeyopt', 'distid:1234567812345678'], { cwd: dir });
    assert.match(ossl.toString(), /Verified Successfully/);
    assert.equal((await cli(['kms', 'verify', 'doc-sign', '--sig', sig, '--in', 'doc.txt'], dir, env)).code, 0);
    const bad = await cli(['kms', 'verify', 'doc-sign', '--sig', sig], dir, env, 'tampered');
    assert.equal(bad.code, 1);
    assert.equal(bad.out, 'INVALID\n');
    assert.equal((await cli(['kms', 'rotate', 'doc-sign'], dir, env)).code, 0);
    assert.match((await cli(['kms', 'list'], dir, env)).out, /^doc-sign\tsm2-sign\tv2\tmin v1$/m);
  });

  test('encrypt, decrypt, datakey, backup and restore', async () => {
    assert.equal((await cli(['kms', 'create', 'files', '--type', 'sm4'], dir, env)).code, 0);
    const e = await cli(['kms', 'encrypt', 'files', '--aad', 'file-7'], dir, env, 'top secret');
    const ct = e.out.trim();
    assert.match(ct, /^xiangan:v1:/);
    assert.equal((await cli(['kms', 'decrypt', 'files', '--ct', ct, '--aad', 'file-7'], dir, env)).out, 'top secret');
    const wrongAad = await cli(['kms', 'decrypt', 'files', '--ct', ct, '--aad', 'file-8'], dir, env);
    assert.equal(wrongAad.code, 1);
    assert.match(wrongAad.err, /SOC_ERR_KMS_CIPHERTEXT/);
    const dk = JSON.parse((await cli(['kms', 'datakey', 'files', '--bytes', '32'], dir, env)).out) as { plaintext: string; ciphertext: string };
    assert.equal(base64ToBytes(dk.plaintext).length, 32);
    assert.equal((await cli(['kms', 'decrypt', 'files', '--ct', dk.ciphertext, '--out', 'dk.bin'], dir, env)).code, 0);
    assert.equal((await cli(['kms', 'backup', '--out', 'kms.backup'], dir, env)).code, 0);
    assert.equal((await cli(['kms', 'restore', '--in', 'kms.backup'], dir, env)).out.trim(), JSON.stringify({ keys: 0, apps: 0 }));
    assert.equal((await cli(['kms', 'restore', '--in', 'kms.backup', '--replace'], dir, env)).code, 0);
    assert.equal((await cli(['kms', 'decrypt', 'files', '--ct', ct, '--aad', 'file-7'], dir, env)).out, 'top secret');
    // Into a fresh local store with another master secret.
    const local = await cli(['kms', 'restore', '--data', 'store2', '--in', 'kms.backup'], dir, { XIANGAN_KMS_MASTER: 'second store secret', XIANGAN_KMS_BACKUP_MASTER: MASTER });
    assert.equal(local.code, 0, local.err);
    const second = KmsService.open({ dir: join(dir, 'store2'), masterSecret: 'second store secret' });
    try {
      assert.equal(new TextDecoder().decode(second.decrypt(second.root, 'files', ct, { aad: new TextEncoder().encode('file-7') }).plaintext), 'top secret');
    } finally {
      await second.close();
    }
  });

  test('the client retries idempotent calls only, and times out', async () => {
    let calls = 0;
    const flaky: typeof fetch = async (input, init) => {
      calls++;
      if (calls === 1) return new Response(JSON.stringify({ code: 'SOC_ERR_KMS_STORE', message: 'busy' }), { status: 503 });
      return fetch(input, init);
    };
    const c = new KmsClient({ url: env.XIANGAN_KMS_URL!, token: env.XIANGAN_KMS_TOKEN!, fetch: flaky, backoffMs: 1 });
    assert.equal((await c.decrypt('files', (await new KmsClient({ url: env.XIANGAN_KMS_URL!, token: env.XIANGAN_KMS_TOKEN! }).encrypt('files', 'x')).ciphertext)).plaintext.length, 1);
    assert.equal(calls, 2, 'decrypt was retried once');
    calls = 0;
    await assert.rejects(c.rotateKey('files'), (e: unknown) => e instanceof KmsClientError && e.status === 503);
    assert.equal(calls, 1, 'rotate is not retried');
    const hang: typeof fetch = (_i, init) => new Promise((_r, reject) => init!.signal!.addEventListener('abort', () => reject(new Error('aborted'))));
    const slow = new KmsClient({ url: env.XIANGAN_KMS_URL!, token: 't', fetch: hang, timeoutMs: 50, retries: 0 });
    await assert.rejects(slow.listKeys(), (e: unknown) => e instanceof KmsClientError && e.code === 'KMS_CLIENT_TIMEOUT');
    const denied = new KmsClient({ url: env.XIANGAN_KMS_URL!, token: 'xkms_wrong' });
    await assert.rejects(denied.listKeys(), (e: unknown) => e instanceof KmsClientError && e.code === 'SOC_ERR_KMS_UNAUTHENTICATED' && e.status === 401);
  });
});
