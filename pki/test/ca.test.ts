import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sm2PrivateKey } from '@xiangan/crypto';
import {
  CertificateAuthority,
  CertificateRevocationList,
  createCsr,
  createOcspRequest,
  createOcspResponder,
  parseOcspResponse,
  PkiError,
  sm2Signer,
  validatePath,
  verifyOcspResponse,
  writeFileAtomic,
} from '../src/index.js';
import { DISTID, opensslOk, put, tempDir } from './helpers.js';

const PASS = 'correct horse battery staple';
const fast = { passphrase: PASS, kdfIterations: 1000 };

function code(e: unknown): string {
  return e instanceof PkiError ? e.code : String(e);
}

describe('CertificateAuthority in a directory', () => {
  test('init with an intermediate, issue dual certificates, revoke, CRL; state survives reopening', () => {
    const { dir, cleanup } = tempDir();
    try {
      const ca = CertificateAuthority.init(dir, { ...fast, intermediate: true, urls: { crl: 'http://ca.example/crl.pem', ocsp: 'http://ca.example/ocsp' } });
      assert.equal(ca.chain.length, 2);
      assert.match(readFileSync(join(dir, 'ca.key.pem'), 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
      assert.match(readFileSync(join(dir, 'root.key.pem'), 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
      assert.throws(() => CertificateAuthority.init(dir, fast), (e: unknown) => code(e) === 'PKI_ERR_CA_EXISTS');

      const signKey = Sm2PrivateKey.generate();
      const encKey = Sm2PrivateKey.generate();
      const subject = '/C=CN/O=湘安/CN=张三';
      const signCert = ca.issue(createCsr({ subject, signer: sm2Signer(signKey) }).toPem(), { profile: 'sign' });
      const encCert = ca.issue(createCsr({ subject, signer: sm2Signer(encKey) }).der, { profile: 'enc' });
      // GM/T 0015 dual certificates: signing vs encryption key usages.
      assert.deepEqual(signCert.extensions.keyUsage, ['digitalSignature', 'nonRepudiation']);
      assert.deepEqual(encCert.extensions.keyUsage, ['keyEncipherment', 'dataEncipherment', 'keyAgreement']);
      assert.equal(signCert.subjectName, 'CN=张三,O=湘安,C=CN');
      assert.deepEqual(signCert.extensions.crlDistributionPoints, ['http://ca.example/crl.pem']);
      assert.equal(signCert.serialNumber.length, 16);
      const time = new Date();
      const opts = { trustAnchors: [ca.root], intermediates: [ca.certificate], time };
      assert.equal(validatePath(signCert, { ...opts, purpose: 'sign' }).ok, true);
      assert.equal(validatePath(encCert, { ...opts, purpose: 'enc' }).ok, true);
      assert.equal(validatePath(encCert, { ...opts, purpose: 'sign' }).ok, false);

      const server = ca.issue(createCsr({ subject: '/CN=soc.example', signer: sm2Signer(Sm2PrivateKey.generate()), subjectAltName: { dns: ['soc.example'] } }), { profile: 'server' });
      assert.deepEqual(server.extensions.subjectAltName?.dns, ['soc.example']);
      assert.equal(validatePath(server, { ...opts, purpose: 'serverAuth' }).ok, true);

      ca.revoke(signCert.serialHex, 'keyCompromise');
      assert.throws(() => ca.revoke('0badc0de', 'keyCompromise'), (e: unknown) => code(e) === 'PKI_ERR_CA_UNKNOWN_SERIAL');
      const crl1 = ca.createCrl();
      const crl2 = ca.createCrl();
      assert.equal(crl1.crlNumber, 1n);
      assert.equal(crl2.crlNumber, 2n);
      assert.equal(crl2.find(signCert.serialNumber)?.reason, 'keyCompromise');
      assert.equal(crl2.verify(ca.certificate), true);
      const r = validatePath(signCert, { ...opts, time: new Date(Date.now() + 2000), purpose: 'sign', crls: [crl2] });
      assert.equal(r.ok ? 'ok' : r.code, 'PKI_ERR_REVOKED');
      assert.deepEqual(CertificateRevocationList.parse(readFileSync(join(dir, 'crl.pem'), 'utf8')).der, crl2.der);

      // Reopen: state on disk, key decrypted with the passphrase.
      const again = CertificateAuthority.open(dir, { passphrase: PASS });
      assert.equal(again.issued().length, 3);
      assert.equal(again.status(signCert.serialHex).status, 'revoked');
      assert.equal(again.status(encCert.serialHex).status, 'good');
      assert.equal(again.status('01').status, 'unknown');
      assert.equal(again.createCrl().crlNumber, 3n);
      assert.ok(existsSync(join(dir, 'certs', `${encCert.serialHex}.pem`)));
      assert.throws(() => CertificateAuthority.open(dir, { passphrase: 'wrong passphrase' }), (e: unknown) => code(e) === 'PKI_ERR_CA_PASSPHRASE');
      assert.throws(() => CertificateAuthority.open(dir, { passphrase: '' }), (e: unknown) => code(e) === 'PKI_ERR_CA_PASSPHRASE');
      // No temporary files or lock left behind.
      assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.tmp-') || n === '.lock'), []);

      // The CA answers OCSP for its certificates.
      const respond = createOcspResponder({ issuer: again.certificate, responder: again.certificate, signer: again.ocspSigner(), lookup: (s) => again.status(s) });
      const st = verifyOcspResponse(parseOcspResponse(respond(createOcspRequest(signCert, again.certificate))), signCert, again.certificate);
      assert.equal(st.status, 'revoked');
    } finally {
      cleanup();
    }
  });

  test('the root CRL revokes the intermediate, and every certificate under it then fails', () => {
    const { dir, cleanup } = tempDir();
    try {
      const ca = CertificateAuthority.init(dir, { ...fast, intermediate: true });
      const cert = ca.issue(createCsr({ subject: '/CN=under the intermediate', signer: sm2Signer(Sm2PrivateKey.generate()) }), { profile: 'sign' });
      const clean = ca.createRootCrl({ passphrase: PASS });
      assert.equal(clean.crlNumber, 1n);
      assert.equal(clean.entries.length, 0);
      assert.equal(clean.verify(ca.root), true);
      const opts = { trustAnchors: [ca.root], intermediates: [ca.certificate], purpose: 'sign' as const, revocation: 'required' as const };
      assert.equal(validatePath(cert, { ...opts, time: new Date(Date.now() + 2000), crls: [clean, ca.createCrl()] }).ok, true);
      const crl = ca.createRootCrl({ passphrase: PASS, revokeIntermediate: 'cACompromise' });
      assert.equal(crl.crlNumber, 2n);
      assert.equal(crl.find(ca.certificate.serialNumber)?.reason, 'cACompromise');
      const r = validatePath(cert, { ...opts, time: new Date(Date.now() + 2000), crls: [crl, ca.createCrl()] });
      assert.deepEqual(r.ok ? 'ok' : [r.code, r.depth], ['PKI_ERR_REVOKED', 1]);
      assert.throws(() => ca.createRootCrl({ passphrase: 'not the passphrase' }), (e: unknown) => code(e) === 'PKI_ERR_CA_PASSPHRASE');
    } finally {
      cleanup();
    }
  });

  test('openssl verifies what the CA issues (each link with the SM2 default ID)', () => {
    const { dir, cleanup } = tempDir();
    try {
      const ca = CertificateAuthority.init(dir, { ...fast, intermediate: true });
      const cert = ca.issue(createCsr({ subject: '/CN=client-7', signer: sm2Signer(Sm2PrivateKey.generate()) }), { profile: 'client' });
      const root = join(dir, 'root.pem');
      assert.match(opensslOk(['verify', '-vfyopt', DISTID, '-CAfile', root, join(dir, 'ca.pem')]), /OK/);
      const leaf = put(dir, 'leaf.pem', cert.toPem());
      assert.match(opensslOk(['verify', '-vfyopt', DISTID, '-partial_chain', '-purpose', 'sslclient', '-CAfile', join(dir, 'ca.pem'), leaf]), /OK/);
    } finally {
      cleanup();
    }
  });

  test('a request made by openssl req without -sigopt distid (empty SM2 ID) is accepted', () => {
    const { dir, cleanup } = tempDir();
    try {
      const ca = CertificateAuthority.init(dir, fast);
      opensslOk(['genpkey', '-algorithm', 'sm2', '-out', 'k.pem'], { cwd: dir });
      opensslOk(['req', '-new', '-key', 'k.pem', '-sm3', '-subj', '/C=CN/CN=plain openssl request', '-out', 'r.csr'], { cwd: dir });
      const csr = readFileSync(join(dir, 'r.csr'), 'utf8');
      const cert = ca.issue(csr, { profile: 'client' });
      assert.equal(cert.subjectName, 'CN=plain openssl request,C=CN');
      assert.equal(cert.verify(ca.certificate), true);
    } finally {
      cleanup();
    }
  });

  test('a request whose proof of possession fails is refused; a corrupt state file is a typed error', () => {
    const { dir, cleanup } = tempDir();
    try {
      const ca = CertificateAuthority.init(dir, fast);
      const req = createCsr({ subject: '/CN=x', signer: sm2Signer(Sm2PrivateKey.generate()) });
      const der = req.der.slice();
      der[der.length - 4] ^= 1;
      assert.throws(() => ca.issue(der, { profile: 'server' }), (e: unknown) => code(e) === 'PKI_ERR_BAD_SIGNATURE');
      assert.throws(() => ca.issue(req.der, { profile: 'nope' as never }), RangeError);
      writeFileSync(join(dir, 'state.json'), '{"version":1,');
      assert.throws(() => ca.issue(req.der, { profile: 'server' }), (e: unknown) => code(e) === 'PKI_ERR_CA_STATE');
      assert.throws(() => CertificateAuthority.open(join(dir, 'nothing-here'), { passphrase: PASS }), (e: unknown) => code(e) === 'PKI_ERR_CA_STATE');
    } finally {
      cleanup();
    }
  });

  test('a held lock refuses changes; a temporary left by a crash does not disturb the state', () => {
    const { dir, cleanup } = tempDir();
    try {
      const ca = CertificateAuthority.init(dir, fast);
      const req = createCsr({ subject: '/CN=locked out', signer: sm2Signer(Sm2PrivateKey.generate()) });
      writeFileSync(join(dir, '.lock'), '');
      assert.throws(() => ca.issue(req.der, { profile: 'client' }), (e: unknown) => code(e) === 'PKI_ERR_CA_STATE');
      assert.equal(ca.issued().length, 0);
      rmSync(join(dir, '.lock'));
      // A process that died between writing and renaming leaves only a temporary file behind.
      writeFileSync(join(dir, 'state.json.tmp-999-x'), '{"version":1,"garbage":');
      const cert = ca.issue(req.der, { profile: 'client' });
      assert.deepEqual(CertificateAuthority.open(dir, { passphrase: PASS }).issued().map((i) => i.serial), [cert.serialHex]);
    } finally {
      cleanup();
    }
  });

  test('writeFileAtomic replaces a file whole and leaves no temporary', () => {
    const { dir, cleanup } = tempDir();
    try {
      const p = join(dir, 'f.json');
      writeFileAtomic(p, 'one');
      writeFileAtomic(p, new Uint8Array(Buffer.from('two')));
      assert.equal(readFileSync(p, 'utf8'), 'two');
      assert.deepEqual(readdirSync(dir), ['f.json']);
    } finally {
      cleanup();
    }
  });
});
