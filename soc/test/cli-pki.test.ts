// `xiangan ca|x509|cms` driven in-process, checked with the openssl CLI, and the OCSP
// responder mounted on a real Fastify server on 127.0.0.1.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { PassThrough, Readable } from 'node:stream';
import Fastify from 'fastify';
import { Sm2PrivateKey, sm2PrivateKeyToPem } from '@xiangan/crypto';
import {
  CertificateAuthority,
  createOcspRequest,
  createOcspResponder,
  ocspFastifyPlugin,
  parseOcspResponse,
  verifyOcspResponse,
  X509Certificate,
} from '@xiangan/pki';
import { main } from '../src/cli/main.js';

const PASS = 'cli test passphrase';

async function cli(args: string[], cwd: string, env: Record<string, string | undefined> = {}, stdin: Uint8Array = new Uint8Array()) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(Buffer.from(c)));
  stderr.on('data', (c: Buffer) => err.push(Buffer.from(c)));
  const code = await main(args, { stdin: Readable.from([Buffer.from(stdin)]), stdout, stderr, env: { XIANGAN_CA_PASSPHRASE: PASS, ...env }, cwd });
  return { code, out: Buffer.concat(out), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

function openssl(args: string[], cwd: string) {
  const r = spawnSync('openssl', args, { cwd });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('xiangan ca / x509 / cms', () => {
  test('CA walkthrough: init with intermediate, dual certificates, revoke, CRL, verify', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xiangan-cli-pki-'));
    try {
      // No passphrase → usage error, nothing created.
      const none = await cli(['ca', 'init', '--dir', 'ca'], dir, { XIANGAN_CA_PASSPHRASE: undefined });
      assert.equal(none.code, 2);
      assert.match(none.stderr, /XIANGAN_CA_PASSPHRASE/);
      assert.equal(existsSync(join(dir, 'ca', 'ca.pem')), false);

      const init = await cli(['ca', 'init', '--dir', 'ca', '--intermediate', '--subject', '/C=CN/O=湘安/CN=湘安根 CA', '--crl-url', 'http://127.0.0.1/crl.pem', '--kdf-iterations', '2000'], dir);
      assert.equal(init.code, 0, init.stderr);
      assert.match(init.stdout, /CN=湘安根 CA/);
      assert.equal((await cli(['ca', 'init', '--dir', 'ca'], dir)).code, 1);

      writeFileSync(join(dir, 'sign.key'), sm2PrivateKeyToPem(Sm2PrivateKey.generate()));
      writeFileSync(join(dir, 'enc.key'), sm2PrivateKeyToPem(Sm2PrivateKey.generate(), { passphrase: 'key pass', iterations: 1000 }));
      assert.equal((await cli(['x509', 'req', '--key', 'sign.key', '--subject', '/C=CN/O=湘安/CN=李四', '--out', 'sign.csr'], dir)).code, 0);
      const encReq = await cli(['x509', 'req', '--key', 'enc.key', '--key-passphrase-env', 'KP', '--subject', '/C=CN/O=湘安/CN=李四', '--out', 'enc.csr'], dir, { KP: 'key pass' });
      assert.equal(encReq.code, 0, encReq.stderr);
      assert.match(openssl(['req', '-in', 'sign.csr', '-noout', '-verify', '-vfyopt', 'distid:1234567812345678'], dir).out, /verify OK/);

      const s = await cli(['ca', 'issue', '--dir', 'ca', '--csr', 'sign.csr', '--profile', 'sign', '--out', 'sign.pem'], dir);
      assert.equal(s.code, 0, s.stderr);
      const e = await cli(['ca', 'issue', '--dir', 'ca', '--csr', 'enc.csr', '--profile', 'enc', '--out', 'enc.pem'], dir);
      assert.equal(e.code, 0, e.stderr);
      assert.equal((await cli(['ca', 'issue', '--dir', 'ca', '--csr', 'enc.csr', '--profile', 'bogus'], dir)).code, 2);
      assert.equal((await cli(['ca', 'issue', '--dir', 'ca', '--csr', 'enc.csr', '--profile', 'sign'], dir, { XIANGAN_CA_PASSPHRASE: 'wrong passphrase' })).code, 1);

      const show = JSON.parse((await cli(['x509', 'show', 'enc.pem'], dir)).stdout) as { keyUsage: string[]; subject: string; serial: string };
      assert.deepEqual(show.keyUsage, ['keyEncipherment', 'dataEncipherment', 'keyAgreement']);
      assert.equal(show.subject, 'CN=李四,O=湘安,C=CN');
      const signSerial = X509Certificate.fromPem(readFileSync(join(dir, 'sign.pem'), 'utf8')).serialHex;

      // openssl checks each link with the SM2 default ID.
      assert.match(openssl(['verify', '-vfyopt', 'distid:1234567812345678', '-CAfile', 'ca/root.pem', 'ca/ca.pem'], dir).out, /OK/);
      assert.match(openssl(['verify', '-vfyopt', 'distid:1234567812345678', '-partial_chain', '-CAfile', 'ca/ca.pem', 'sign.pem'], dir).out, /sign\.pem: OK/);

      const ok = await cli(['x509', 'verify', '--ca', 'ca/root.pem', '--untrusted', 'ca/chain.pem', '--purpose', 'sign', 'sign.pem'], dir);
      assert.equal(ok.code, 0, ok.stdout);
      const wrong = await cli(['x509', 'verify', '--ca', 'ca/root.pem', '--untrusted', 'ca/chain.pem', '--purpose', 'sign', 'enc.pem'], dir);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stdout, /PKI_ERR_KEY_USAGE/);

      assert.equal((await cli(['ca', 'revoke', signSerial, '--dir', 'ca', '--reason', 'keyCompromise'], dir)).code, 0);
      assert.equal((await cli(['ca', 'revoke', 'abcdef', '--dir', 'ca'], dir)).code, 1);
      const crl = await cli(['ca', 'crl', '--dir', 'ca', '--out', 'ca.crl'], dir);
      assert.equal(crl.code, 0, crl.stderr);
      assert.match(crl.stderr, /CRL number 1 with 1 entries/);
      assert.match(openssl(['crl', '-in', 'ca.crl', '-noout', '-text'], dir).out, /Key Compromise/);
      // The same CRL signed the way OpenSSL 3.0 checks SM2 CRLs (empty ID) passes openssl crl -verify.
      assert.equal((await cli(['ca', 'crl', '--dir', 'ca', '--openssl-compat', '--out', 'ossl.crl'], dir)).code, 0);
      assert.match(openssl(['crl', '-in', 'ossl.crl', '-noout', '-verify', '-CAfile', 'ca/ca.pem'], dir).out, /verify OK/);
      const revoked = await cli(['x509', 'verify', '--ca', 'ca/root.pem', '--untrusted', 'ca/chain.pem', '--crl', 'ca.crl', '--purpose', 'sign', '--at', new Date(Date.now() + 5000).toISOString(), 'sign.pem'], dir);
      assert.equal(revoked.code, 1);
      assert.match(revoked.stdout, /PKI_ERR_REVOKED/);
      // The root's CRL: the intermediate is fine, until it is revoked there.
      assert.equal((await cli(['ca', 'crl', '--dir', 'ca', '--root', '--out', 'root.crl'], dir)).code, 0);
      const both = ['x509', 'verify', '--ca', 'ca/root.pem', '--untrusted', 'ca/chain.pem', '--crl', 'root.crl', '--crl', 'ca.crl', '--require-crl', '--purpose', 'enc', 'enc.pem'];
      assert.equal((await cli(both, dir)).code, 0);
      assert.equal((await cli(['ca', 'crl', '--dir', 'ca', '--root', '--revoke-intermediate', 'cACompromise', '--out', 'root.crl'], dir)).code, 0);
      const afterRoot = await cli(both, dir);
      assert.equal(afterRoot.code, 1);
      assert.match(afterRoot.stdout, /PKI_ERR_REVOKED.*depth 1/);
      const listed = await cli(['ca', 'list', '--dir', 'ca'], dir);
      assert.match(listed.stdout, new RegExp(`${signSerial}\\tsign\\trevoked`));

      // CMS with the issued dual certificates.
      writeFileSync(join(dir, 'report.txt'), '等级保护测评报告\n');
      assert.equal((await cli(['cms', 'sign', '--cert', 'enc.pem', '--key', 'sign.key', '--in', 'report.txt'], dir)).code, 1, 'key/cert mismatch');
      assert.equal((await cli(['cms', 'sign', '--cert', 'sign.pem', '--key', 'sign.key', '--chain', 'ca/chain.pem', '--in', 'report.txt', '--out', 'report.p7s', '--pem'], dir)).code, 0);
      const v = await cli(['cms', 'verify', '--in', 'report.p7s', '--out', 'out.txt'], dir);
      assert.equal(v.code, 0, v.stderr);
      assert.equal(readFileSync(join(dir, 'out.txt'), 'utf8'), '等级保护测评报告\n');
      // Path validation of the signer: revoked certificates are caught only with CRLs; here the chain is fine.
      assert.equal((await cli(['cms', 'verify', '--in', 'report.p7s', '--ca', 'ca/root.pem'], dir)).code, 0);
      // With the CA's CRL the (revoked) signing certificate is refused.
      const revokedSigner = await cli(['cms', 'verify', '--in', 'report.p7s', '--ca', 'ca/root.pem', '--crl', 'ca.crl'], dir);
      assert.equal(revokedSigner.code, 1);
      assert.match(revokedSigner.stderr, /PKI_ERR_REVOKED/);
      assert.equal((await cli(['cms', 'sign', '--cert', 'sign.pem', '--key', 'sign.key', '--detached', '--openssl-compat', '--in', 'report.txt', '--out', 'det.p7s'], dir)).code, 0);
      assert.match(openssl(['cms', '-verify', '-inform', 'DER', '-in', 'det.p7s', '-content', 'report.txt', '-noverify', '-binary', '-out', '/dev/null'], dir).out, /Verification successful/);
      assert.equal((await cli(['cms', 'verify', '--in', 'det.p7s', '--content', 'report.txt', '--openssl-compat'], dir)).code, 0);
      assert.equal((await cli(['cms', 'verify', '--in', 'det.p7s', '--content', 'sign.csr', '--openssl-compat'], dir)).code, 1);

      assert.equal((await cli(['cms', 'encrypt', '--cert', 'enc.pem', '--in', 'report.txt', '--out', 'report.p7m'], dir)).code, 0);
      const d = await cli(['cms', 'decrypt', '--cert', 'enc.pem', '--key', 'enc.key', '--key-passphrase-env', 'KP', '--in', 'report.p7m'], dir, { KP: 'key pass' });
      assert.equal(d.code, 0, d.stderr);
      assert.equal(d.stdout, '等级保护测评报告\n');
      const wrongKey = await cli(['cms', 'decrypt', '--cert', 'enc.pem', '--key', 'sign.key', '--in', 'report.p7m'], dir);
      assert.equal(wrongKey.code, 1);
      assert.match(wrongKey.stderr, /PKI_ERR_CMS_DECRYPT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('OCSP responder mounted on Fastify', () => {
  test('POST and GET on 127.0.0.1 answer for the CA', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xiangan-ocsp-'));
    const app = Fastify();
    try {
      const ca = CertificateAuthority.init(dir, { passphrase: PASS, kdfIterations: 1000 });
      const { createCsr, sm2Signer } = await import('@xiangan/pki');
      const leaf = ca.issue(createCsr({ subject: '/CN=ocsp client', signer: sm2Signer(Sm2PrivateKey.generate()) }), { profile: 'client' });
      const respond = createOcspResponder({ issuer: ca.certificate, responder: ca.certificate, signer: ca.ocspSigner(), lookup: (s) => ca.status(s) });
      await app.register(ocspFastifyPlugin(respond), { prefix: '/ocsp' });
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      const nonce = Uint8Array.of(7, 7, 7, 7, 7, 7, 7, 7);
      const req = createOcspRequest(leaf, ca.certificate, { nonce });
      const post = await fetch(`${url}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.from(req) });
      assert.equal(post.status, 200);
      assert.equal(post.headers.get('content-type'), 'application/ocsp-response');
      const st = verifyOcspResponse(parseOcspResponse(new Uint8Array(await post.arrayBuffer())), leaf, ca.certificate, { nonce });
      assert.equal(st.status, 'good');
      ca.revoke(leaf.serialHex, 'cessationOfOperation');
      const get = await fetch(`${url}/ocsp/${encodeURIComponent(Buffer.from(req).toString('base64'))}`);
      const st2 = verifyOcspResponse(parseOcspResponse(new Uint8Array(await get.arrayBuffer())), leaf, ca.certificate);
      assert.deepEqual(st2.status === 'revoked' && st2.reason, 'cessationOfOperation');
      const junk = await fetch(`${url}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.from([1, 2, 3]) });
      assert.equal(parseOcspResponse(new Uint8Array(await junk.arrayBuffer())).status, 'malformedRequest');
    } finally {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
