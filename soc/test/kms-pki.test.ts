// The signing/verification-server functions of the crypto service with a real CA from
// @xiangan/pki: key certificates from a CSR, CMS sign/verify/envelope/open, path validation
// with a CRL.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { base64ToBytes, bytesToBase64, utf8ToBytes } from '@xiangan/crypto';
import { CertificateAuthority, X509Certificate, cmsVerify } from '@xiangan/pki';
import { KmsClient } from '@xiangan/crypto/kms-client';
import { KmsService, kmsRoutes } from '../src/kms/index.js';

describe('KMS with the SOC CA', () => {
  let dir: string;
  let kms: KmsService;
  let app: FastifyInstance;
  let url: string;
  let token: string;
  let ca: CertificateAuthority;
  let root: string;

  const call = async (path: string, body?: unknown, t = token): Promise<{ status: number; json: Record<string, any> }> => {
    const res = await fetch(`${url}/api/v1/kms${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    });
    return { status: res.status, json: (await res.json()) as Record<string, any> };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xiangan-kms-pki-'));
    ca = CertificateAuthority.init(join(dir, 'ca'), { passphrase: 'ca passphrase 123', kdfIterations: 1000 });
    root = ca.chain.at(-1)!.toPem();
    kms = KmsService.open({ dir: join(dir, 'kms'), masterSecret: 'pki master secret', iterations: 1000 });
    token = kms.createApp('signer', { keys: ['*'], ops: ['*'] }).token;
    app = Fastify({ logger: false });
    await app.register(kmsRoutes, { service: kms });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await app.close();
    await kms.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a CSR from the key, a certificate from the CA, signatures carry it, CMS verifies to the root', async () => {
    kms.createKey(kms.root, 'contracts', 'sm2-sign');
    const csr = await call('/keys/contracts/csr', { subject: '/C=CN/O=Xiangan/CN=contracts signer' });
    assert.equal(csr.status, 200);
    const cert = ca.issue(csr.json.csr as string, { profile: 'sign' });
    assert.deepEqual((await call('/keys/contracts/certificate', { certificate: cert.toPem() })).json, { version: 1 });
    const sig = await call('/sign/contracts', { input: bytesToBase64(utf8ToBytes('m')) });
    assert.equal(X509Certificate.parse(sig.json.certificate as string).serialHex, cert.serialHex);
    // A certificate for another key is refused.
    const other = ca.issue((await call('/keys/contracts/csr', { subject: '/CN=x' })).json.csr, { profile: 'sign' });
    kms.rotateKey(kms.root, 'contracts');
    const mismatch = await call('/keys/contracts/certificate', { certificate: ca.chain.at(-1)!.toPem() });
    assert.equal(mismatch.json.code, 'SOC_ERR_KMS_REQUEST');
    assert.equal((await call('/keys/contracts/certificate', { certificate: other.toPem() })).json.version, 1);

    const content = utf8ToBytes('合同正文 — contract body');
    const signed = await call('/cms/sign/contracts', { content: bytesToBase64(content) });
    assert.equal(signed.status, 409, 'latest version (2) has no certificate yet');
    const csr2 = await call('/keys/contracts/csr', { subject: '/C=CN/O=Xiangan/CN=contracts signer v2' });
    await call('/keys/contracts/certificate', { certificate: ca.issue(csr2.json.csr, { profile: 'sign' }).toPem() });
    const p7 = await call('/cms/sign/contracts', { content: bytesToBase64(content) });
    assert.equal(p7.status, 200);
    const local = cmsVerify(base64ToBytes(p7.json.cms));
    assert.equal(local.ok, true);
    assert.deepEqual(local.content, content);
    const v = await call('/cms/verify', { cms: p7.json.cms, trustAnchors: [root] });
    assert.equal(v.json.valid, true);
    assert.equal(v.json.content, bytesToBase64(content));
    // The same through the typed client.
    const client = new KmsClient({ url, token });
    const viaClient = await client.cmsVerify((await client.cmsSign('contracts', content, { detached: true })).cms, { content, trustAnchors: [root] });
    assert.equal(viaClient.valid, true);
    const tampered = base64ToBytes(p7.json.cms);
    const at = Buffer.from(tampered).indexOf(Buffer.from(content));
    tampered[at] ^= 1;
    assert.equal((await call('/cms/verify', { cms: bytesToBase64(tampered) })).json.valid, false);
    // A foreign trust anchor fails path validation.
    const otherCa = CertificateAuthority.init(join(dir, 'ca2'), { passphrase: 'ca passphrase 456', kdfIterations: 1000 });
    assert.equal((await call('/cms/verify', { cms: p7.json.cms, trustAnchors: [otherCa.certificate.toPem()] })).json.valid, false);
  });

  test('CMS envelope to a managed encryption key and path validation with a CRL', async () => {
    kms.createKey(kms.root, 'inbox', 'sm2-encrypt');
    const csr = await call('/keys/inbox/csr', { subject: '/C=CN/O=Xiangan/CN=inbox' });
    const cert = ca.issue(csr.json.csr as string, { profile: 'enc' });
    await call('/keys/inbox/certificate', { certificate: cert.toPem() });
    const env = await call('/cms/envelope', { content: bytesToBase64(utf8ToBytes('for the inbox')), recipients: [cert.toPem()] });
    assert.equal(env.status, 200);
    const opened = await call('/cms/open/inbox', { cms: env.json.cms });
    assert.equal(opened.json.content, bytesToBase64(utf8ToBytes('for the inbox')));
    const good = await call('/validate', { certificate: cert.toPem(), trustAnchors: [root], crls: [ca.createCrl().toPem()] });
    assert.equal(good.json.valid, true, JSON.stringify(good.json));
    ca.revoke(cert.serialHex, 'keyCompromise');
    const bad = await call('/validate', { certificate: cert.toPem(), trustAnchors: [root], crls: [ca.createCrl().toPem()] });
    assert.equal(bad.json.valid, false);
    assert.match(bad.json.code as string, /^PKI_ERR_/);
    assert.equal((await call('/validate', { certificate: 'not a certificate', trustAnchors: [root] })).json.code, 'SOC_ERR_KMS_REQUEST');
    // Keyless operations need only the operation in the policy.
    const v = kms.createApp('validator', { keys: [], ops: ['validate', 'digest'] }).token;
    assert.equal((await call('/validate', { certificate: cert.toPem(), trustAnchors: [root] }, v)).status, 200);
    assert.equal((await call('/cms/open/inbox', { cms: env.json.cms }, v)).json.code, 'SOC_ERR_KMS_DENIED');
  });
});
