// The crypto service as a networked signing/verification server: certificates issued by the SOC
// CA on key creation and rotation, online OCSP checks against a real responder on loopback, and
// TLS client-certificate authentication (certificates made by the openssl CLI, verified by Node's
// TLS layer, bound to applications by SM3 fingerprint).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { bytesToBase64, utf8ToBytes, importSm2PublicKey, sm2Verify } from '@xiangan/crypto';
import { CertificateAuthority, X509Certificate, cmsVerify, createOcspRequest, createOcspResponder, ocspFastifyPlugin } from '@xiangan/pki';
import { KmsService, kmsRoutes, KmsError, parseEnvelope, verifyResultAsync } from '../src/kms/index.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'xiangan-kms-online-'));

describe('KMS: certificates from the SOC CA', () => {
  let dir: string;
  let ca: CertificateAuthority;
  let kms: KmsService;
  before(() => {
    dir = tmp();
    ca = CertificateAuthority.init(join(dir, 'ca'), { passphrase: 'ca passphrase 123', kdfIterations: 1000, intermediate: true });
    kms = KmsService.open({ dir: join(dir, 'kms'), masterSecret: 'online master secret', iterations: 1000, ca });
  });
  after(async () => {
    await kms.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a key created with a subject is certified at once; OpenSSL verifies the chain; rotation re-certifies', () => {
    const info = kms.createKey(kms.root, 'invoices', 'sm2-sign', { certificateSubject: '/C=CN/O=Xiangan/CN=invoice signer' });
    const pem = info.certificates?.[1];
    assert.ok(pem, 'version 1 has a certificate');
    const cert = X509Certificate.parse(pem);
    assert.equal(cert.subjectName, 'CN=invoice signer,O=Xiangan,C=CN');
    assert.equal(cert.issuerName, ca.certificate.subjectName);
    assert.deepEqual(cert.extensions.keyUsage, ['digitalSignature', 'nonRepudiation']);
    // Independent check: OpenSSL builds and verifies the SM2 chain to the root.
    const files = tmp();
    writeFileSync(join(files, 'root.pem'), ca.chain.at(-1)!.toPem());
    writeFileSync(join(files, 'ica.pem'), ca.chain[0]!.toPem());
    writeFileSync(join(files, 'leaf.pem'), pem);
    // `-vfyopt` reaches only the certificate being verified, so each link is checked on its own.
    const verify = (...a: string[]): string => execFileSync('openssl', ['verify', '-vfyopt', 'distid:1234567812345678', ...a], { encoding: 'utf8' });
    assert.match(verify('-CAfile', join(files, 'root.pem'), join(files, 'ica.pem')), /ica\.pem: OK/);
    assert.match(verify('-partial_chain', '-CAfile', join(files, 'ica.pem'), join(files, 'leaf.pem')), /leaf\.pem: OK/);
    rmSync(files, { recursive: true, force: true });

    // The certified key signs CMS at once, and the signature verifies to the root.
    const cms = kms.cmsSign(kms.root, 'invoices', utf8ToBytes('invoice 42'));
    const v = kms.cmsVerify(kms.root, cms.cms, { trustAnchors: [ca.chain.at(-1)!.toPem()] });
    assert.equal(v.valid, true, 'the message carries the intermediate, so the root is enough');
    assert.equal(cmsVerify(cms.cms).certificates.length, 2);

    const rotated = kms.rotateKey(kms.root, 'invoices');
    const v2 = X509Certificate.parse(rotated.certificates![2]!);
    assert.equal(v2.subjectName, cert.subjectName);
    assert.notEqual(v2.serialHex, cert.serialHex);
    assert.notDeepEqual(v2.publicKey.key, cert.publicKey.key);
    assert.equal(ca.issued().length, 2);
  });

  test('issuing on demand; refusals are typed', () => {
    kms.createKey(kms.root, 'mail-enc', 'sm2-encrypt');
    const r = kms.issueCertificate(kms.root, 'mail-enc', '/C=CN/CN=mail gateway');
    assert.deepEqual(X509Certificate.parse(r.certificate).extensions.keyUsage, ['keyEncipherment', 'dataEncipherment', 'keyAgreement']);
    assert.equal(r.chain.length, 2);
    assert.throws(() => kms.createKey(kms.root, 'mac', 'hmac-sm3', { certificateSubject: '/CN=x' }), (e: unknown) => e instanceof KmsError && e.code === 'SOC_ERR_KMS_KEY_TYPE');
    assert.throws(() => kms.issueCertificate(kms.root, 'mail-enc', 'not a DN'), (e: unknown) => e instanceof KmsError && e.code === 'SOC_ERR_KMS_REQUEST');
  });

  test('without a CA, a certificate subject is refused and no key is left behind', async () => {
    const d = tmp();
    const plain = KmsService.open({ dir: d, masterSecret: 'online master secret', iterations: 1000 });
    try {
      assert.throws(() => plain.createKey(plain.root, 'k', 'sm2-sign', { certificateSubject: '/CN=k' }), (e: unknown) => e instanceof KmsError && e.code === 'SOC_ERR_KMS_REQUEST');
      assert.deepEqual(plain.listKeys(plain.root), []);
    } finally {
      await plain.close();
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('certificates survive backup and restore', async () => {
    const blob = kms.backup(kms.root);
    const d = tmp();
    const copy = KmsService.open({ dir: d, masterSecret: 'another master secret', iterations: 1000 });
    try {
      copy.restore(copy.root, blob, 'online master secret');
      const info = copy.getKey(copy.root, 'invoices');
      assert.equal(Object.keys(info.certificates ?? {}).length, 2);
    } finally {
      await copy.close();
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('KMS: online OCSP in certificate validation', () => {
  let dir: string;
  let ca: CertificateAuthority;
  let kms: KmsService;
  let responder: FastifyInstance;
  let port: number;
  let root: string;

  before(async () => {
    dir = tmp();
    // The responder's port must be known before the CA writes it into certificates.
    responder = Fastify({ logger: false });
    let lookup: (s: string) => ReturnType<CertificateAuthority['status']> = () => ({ status: 'unknown' });
    let respond: (der: Uint8Array) => Uint8Array = () => new Uint8Array();
    await responder.register(ocspFastifyPlugin((der) => respond(der)), { prefix: '/ocsp' });
    await responder.listen({ host: '127.0.0.1', port: 0 });
    port = (responder.server.address() as { port: number }).port;
    ca = CertificateAuthority.init(join(dir, 'ca'), { passphrase: 'ca passphrase 123', kdfIterations: 1000, urls: { ocsp: `http://127.0.0.1:${port}/ocsp` } });
    lookup = (s) => ca.status(s);
    respond = createOcspResponder({ issuer: ca.certificate, responder: ca.certificate, signer: ca.ocspSigner(), lookup: (s) => lookup(s) });
    root = ca.chain.at(-1)!.toPem();
    kms = KmsService.open({ dir: join(dir, 'kms'), masterSecret: 'online master secret', iterations: 1000, ca, ocspTimeoutMs: 2000 });
  });
  after(async () => {
    await responder.close();
    await kms.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('good, then revoked, as the responder says; without fetching, required revocation fails', async () => {
    const info = kms.createKey(kms.root, 'web', 'sm2-sign', { certificateSubject: '/CN=web signer' });
    const leaf = info.certificates![1]!;
    const req = { certificate: leaf, trustAnchors: [root], revocation: 'required' as const };

    const offline = kms.validateCertificate(kms.root, req);
    assert.equal(offline.valid, false, 'no CRL and no OCSP answer: revocation status unknown');

    const good = await kms.validateCertificateOnline(kms.root, req);
    assert.equal(good.valid, true, good.message);
    assert.deepEqual(good.ocsp?.map((r) => [r.url, r.status]), [[`http://127.0.0.1:${port}/ocsp`, 'good']]);

    ca.revoke(X509Certificate.parse(leaf).serialHex, 'keyCompromise');
    const revoked = await kms.validateCertificateOnline(kms.root, req);
    assert.equal(revoked.valid, false);
    assert.equal(revoked.code, 'PKI_ERR_REVOKED');
    assert.equal(revoked.ocsp?.[0]?.status, 'revoked');
  });

  test('a stapled response is used without fetching; a garbled one is a typed request error', async () => {
    const info = kms.createKey(kms.root, 'api', 'sm2-sign', { certificateSubject: '/CN=api signer' });
    const leaf = X509Certificate.parse(info.certificates![1]!);
    const res = await fetch(`http://127.0.0.1:${port}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.from(createOcspRequest(leaf, ca.certificate)) });
    const stapled = bytesToBase64(new Uint8Array(await res.arrayBuffer()));
    const r = kms.validateCertificate(kms.root, { certificate: leaf.toPem(), trustAnchors: [root], revocation: 'required', ocsp: [stapled] });
    assert.equal(r.valid, true, r.message);
    assert.throws(() => kms.validateCertificate(kms.root, { certificate: leaf.toPem(), trustAnchors: [root], ocsp: ['AAAA'] }), (e: unknown) => e instanceof KmsError && e.code === 'SOC_ERR_KMS_REQUEST');
  });

  test('a responder that is down is reported, and required revocation then fails', async () => {
    const info = kms.createKey(kms.root, 'batch', 'sm2-sign', { certificateSubject: '/CN=batch signer' });
    await responder.close();
    const r = await kms.validateCertificateOnline(kms.root, { certificate: info.certificates![1]!, trustAnchors: [root], revocation: 'required' });
    assert.equal(r.valid, false);
    assert.equal(r.ocsp?.[0]?.status, 'error');
    assert.ok(r.ocsp?.[0]?.error);
    const lenient = await kms.validateCertificateOnline(kms.root, { certificate: info.certificates![1]!, trustAnchors: [root] });
    assert.equal(lenient.valid, true, 'revocation "available" accepts a path whose status could not be learned');
  });

  test('a certificate that does not chain to the anchors makes no fetch at all', async () => {
    const other = CertificateAuthority.init(join(dir, 'other'), { passphrase: 'ca passphrase 123', kdfIterations: 1000, urls: { ocsp: 'http://127.0.0.1:9/never' } });
    const k = KmsService.open({ dir: join(dir, 'kms2'), masterSecret: 'online master secret', iterations: 1000, ca: other });
    try {
      const info = k.createKey(k.root, 'x', 'sm2-sign', { certificateSubject: '/CN=x' });
      const r = await k.validateCertificateOnline(k.root, { certificate: info.certificates![1]!, trustAnchors: [root] });
      assert.equal(r.valid, false);
      assert.deepEqual(r.ocsp, []);
    } finally {
      await k.close();
    }
  });
});

/** `openssl` commands for an ECDSA P-256 client-certificate PKI (Node's TLS cannot use SM2 certificates). */
function ecPki(d: string): void {
  const o = (...a: string[]): void => void execFileSync('openssl', a, { cwd: d, stdio: 'pipe' });
  o('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=client CA', '-days', '2');
  for (const n of ['server', 'alice', 'mallory']) {
    o('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${n}.key`, '-out', `${n}.csr`, '-subj', `/CN=${n === 'server' ? '127.0.0.1' : n}`);
    writeFileSync(join(d, `${n}.ext`), n === 'server' ? 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' : 'extendedKeyUsage=clientAuth\n');
    o('x509', '-req', '-in', `${n}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${n}.pem`, '-days', '1', '-extfile', `${n}.ext`);
  }
}

describe('KMS: TLS client-certificate authentication', () => {
  let dir: string;
  let kms: KmsService;
  let app: FastifyInstance;
  let port: number;
  let token: string;
  const f = (n: string): Buffer => readFileSync(join(dir, n));

  const call = (path: string, body: unknown, o: { client?: string; token?: string } = {}): Promise<{ status: number; json: Record<string, any> }> =>
    new Promise((resolve, reject) => {
      const data = JSON.stringify(body);
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: `/api/v1/kms${path}`,
          method: 'POST',
          ca: f('ca.pem'),
          ...(o.client ? { cert: f(`${o.client}.pem`), key: f(`${o.client}.key`) } : {}),
          headers: { 'content-type': 'application/json', ...(o.token ? { authorization: `Bearer ${o.token}` } : {}) },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, any> }));
        },
      );
      req.on('error', reject);
      req.end(data);
    });

  before(async () => {
    dir = tmp();
    ecPki(dir);
    kms = KmsService.open({ dir: join(dir, 'kms'), masterSecret: 'online master secret', iterations: 1000 });
    token = kms.createApp('billing', { keys: ['billing-*'], ops: ['sign', 'verify'] }).token;
    kms.createKey(kms.root, 'billing-sign', 'sm2-sign');
    app = Fastify({ logger: false, https: { key: f('server.key'), cert: f('server.pem'), ca: f('ca.pem'), requestCert: true, rejectUnauthorized: false } }) as unknown as FastifyInstance;
    await app.register(kmsRoutes, { service: kms });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  after(async () => {
    await app.close();
    await kms.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a bound certificate authenticates as its application, with its policy', async () => {
    const bound = kms.bindAppCertificate('billing', f('alice.pem').toString());
    assert.match(bound.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(bound.subject, 'CN=alice');
    const input = bytesToBase64(utf8ToBytes('invoice'));
    const signed = await call('/sign/billing-sign', { input }, { client: 'alice' });
    assert.equal(signed.status, 200, JSON.stringify(signed.json));
    const verified = await call('/verify/billing-sign', { input, signature: signed.json.signature }, { client: 'alice' });
    assert.equal(verified.json.valid, true);
    // The policy of the application still applies.
    const denied = await call('/keys', { name: 'billing-other', type: 'sm4' }, { client: 'alice' });
    assert.equal(denied.status, 403);
    assert.equal(denied.json.code, 'SOC_ERR_KMS_DENIED');
    assert.deepEqual(kms.listApps().find((a) => a.name === 'billing')?.certificates.map((c) => c.fingerprint), [bound.fingerprint]);
  });

  test('an unbound certificate from the same CA, no credentials, or a revoked application: 401', async () => {
    const input = bytesToBase64(utf8ToBytes('x'));
    for (const o of [{ client: 'mallory' }, {}]) {
      const r = await call('/sign/billing-sign', { input }, o);
      assert.equal(r.status, 401);
      assert.equal(r.json.code, 'SOC_ERR_KMS_UNAUTHENTICATED');
    }
    // A token still works over the same TLS listener.
    assert.equal((await call('/sign/billing-sign', { input }, { token })).status, 200);
    const fp = kms.listApps().find((a) => a.name === 'billing')!.certificates[0]!.fingerprint;
    assert.throws(() => kms.unbindAppCertificate('other-app', fp), (e: unknown) => e instanceof KmsError && e.code === 'SOC_ERR_KMS_KEY_NOT_FOUND');
    kms.revokeApp('billing');
    const r = await call('/sign/billing-sign', { input }, { client: 'alice' });
    assert.equal(r.status, 401);
  });

  test('binding something that is not a certificate is a typed error', () => {
    kms.createApp('ops', { keys: ['*'], ops: ['read'] });
    assert.throws(() => kms.bindAppCertificate('ops', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), (e: unknown) => e instanceof KmsError && e.code === 'SOC_ERR_KMS_REQUEST');
    assert.throws(() => kms.bindAppCertificate('nobody', f('alice.pem').toString()), (e: unknown) => e instanceof KmsError && e.code === 'SOC_ERR_KMS_KEY_NOT_FOUND');
  });
});


describe('KMS: SM2 on worker threads', () => {
  test('signAsync/verifyAsync give signatures that the SDK and OpenSSL-compatible checks accept; refusals and failures are audited', async () => {
    const d = tmp();
    const audits: Array<{ operation: string; outcome: string; errorCode?: string }> = [];
    const kms = KmsService.open({ dir: d, masterSecret: 'online master secret', iterations: 1000, workers: 1, onAudit: (r) => audits.push(r) });
    try {
      const info = kms.createKey(kms.root, 'w', 'sm2-sign');
      const pub = importSm2PublicKey(info.publicKeys![1]!);
      const msgs = Array.from({ length: 64 }, (_, i) => utf8ToBytes(`message ${i}`));
      // Many at once: they travel to the worker in one batch.
      const sigs = await Promise.all(msgs.map((m, i) => kms.signAsync(kms.root, 'w', m, i % 2 ? { format: 'raw', id: utf8ToBytes('alice@example') } : {})));
      msgs.forEach((m, i) => {
        const { bytes } = parseEnvelope(sigs[i]!.signature);
        assert.equal(sm2Verify(pub, m, bytes, i % 2 ? { format: 'raw', id: utf8ToBytes('alice@example') } : {}), true, `signature ${i}`);
      });
      assert.deepEqual(await kms.verifyAsync(kms.root, 'w', msgs[0]!, sigs[0]!.signature), { valid: true, version: 1 });
      assert.deepEqual(await verifyResultAsync(kms.verifyAsync(kms.root, 'w', msgs[1]!, sigs[0]!.signature)), { valid: false, version: 1 });
      // After a rotation the new version signs; the old one still verifies.
      kms.rotateKey(kms.root, 'w');
      const s2 = await kms.signAsync(kms.root, 'w', msgs[0]!);
      assert.equal(s2.version, 2);
      assert.equal((await kms.verifyAsync(kms.root, 'w', msgs[0]!, sigs[0]!.signature)).valid, true);
      await assert.rejects(kms.signAsync(kms.root, 'nope', msgs[0]!), (e: unknown) => e instanceof KmsError && e.code === 'SOC_ERR_KMS_KEY_NOT_FOUND');
      await assert.rejects(kms.signAsync(kms.root, 'w', msgs[0]!, { id: new Uint8Array(9000) }), (e: unknown) => e instanceof KmsError && e.code === 'SOC_ERR_KMS_REQUEST');
      assert.ok(audits.some((a) => a.operation === 'verify' && a.outcome === 'failure' && a.errorCode === 'invalid'));
      assert.ok(audits.some((a) => a.operation === 'sign' && a.outcome === 'failure' && a.errorCode === 'SOC_ERR_KMS_REQUEST'));
    } finally {
      await kms.close();
      rmSync(d, { recursive: true, force: true });
    }
  });
});
