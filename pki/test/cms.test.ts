import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { ContentInfo, SignatureAlgorithmIdentifier, SignedData } from '@peculiar/asn1-cms';
import { sm2PrivateKeyToPem, utf8ToBytes } from '@xiangan/crypto';
import { cmsDecrypt, cmsEncrypt, cmsSign, cmsToPem, cmsVerify, OID, PkiError, SM2_OPENSSL_EMPTY_ID } from '../src/index.js';
import { hierarchy, openssl, opensslOk, put, tempDir } from './helpers.js';

const msg = utf8ToBytes('等级保护报告 / audit checkpoint 42\n');
const signerLeaf = { leaf: { keyUsage: ['digitalSignature', 'nonRepudiation'] as const, extKeyUsage: undefined } };

function code(e: unknown): string {
  return e instanceof PkiError ? e.code : String(e);
}

describe('SignedData (RFC 5652 §5 / GM/T 0010 §7)', () => {
  test('attached, detached and without signed attributes round-trip', () => {
    const h = hierarchy({ leaf: { keyUsage: ['digitalSignature', 'nonRepudiation'] } });
    const t = new Date('2026-06-01T08:00:00Z');
    const att = cmsVerify(cmsSign({ content: msg, certificate: h.leaf, key: h.lk.key, signingTime: t, extraCertificates: [h.ica] }));
    assert.equal(att.ok, true);
    assert.deepEqual(att.content, msg);
    assert.equal(att.contentType, OID.data);
    assert.equal(att.certificates.length, 2);
    assert.deepEqual(att.signers[0].signingTime, t);
    assert.deepEqual(att.signers[0].certificate?.der, h.leaf.der);

    const det = cmsSign({ content: msg, certificate: h.leaf, key: h.lk.key, detached: true });
    assert.equal(cmsVerify(det, { content: msg }).ok, true);
    assert.throws(() => cmsVerify(det), (e: unknown) => code(e) === 'PKI_ERR_CMS');
    const other = cmsVerify(det, { content: utf8ToBytes('something else') });
    assert.equal(other.ok, false);
    assert.equal(other.signers[0].code, 'PKI_ERR_CMS_DIGEST');

    const bare = cmsSign({ content: msg, certificate: h.leaf, key: h.lk.key, signedAttributes: false });
    assert.equal(cmsVerify(bare).ok, true);
  });

  test('GM/T 0010 content-type OIDs are written on request and accepted on input', () => {
    const h = hierarchy();
    const p7 = cmsSign({ content: msg, certificate: h.leaf, key: h.lk.key, oids: 'gm' });
    const r = cmsVerify(cmsToPem(p7));
    assert.equal(r.ok, true);
    assert.equal(r.contentType, OID.gmData);
    // The outer ContentInfo carries 1.2.156.10197.6.1.4.2.2.
    assert.ok(Buffer.from(p7).includes(Buffer.from([0x06, 0x0a, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x06, 0x01, 0x04, 0x02, 0x02])));
    // …and names the signer's algorithm sm2-1 (1.2.156.10197.1.301.1) as GM/T 0010 does.
    assert.ok(Buffer.from(p7).includes(Buffer.from([0x06, 0x09, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d, 0x01])));
  });

  test('a tampered signature or a signer certificate that is missing', () => {
    const h = hierarchy();
    const p7 = cmsSign({ content: msg, certificate: h.leaf, key: h.lk.key });
    const bad = p7.slice();
    bad[bad.length - 3] ^= 1; // inside the SM2 signature's s
    const r = cmsVerify(bad);
    assert.equal(r.ok, false);
    assert.equal(r.signers[0].code, 'PKI_ERR_BAD_SIGNATURE');
    assert.throws(() => cmsSign({ content: msg, certificate: h.ica, key: h.lk.key }), (e: unknown) => code(e) === 'PKI_ERR_KEY_MISMATCH');
  });

  test('openssl cms -verify 3.0 accepts SM2 SignedData made here with its (empty) SM2 ID: attached and detached', () => {
    const { dir, cleanup } = tempDir();
    try {
      const h = hierarchy(signerLeaf as never);
      const root = put(dir, 'root.pem', h.root.toPem());
      const ica = put(dir, 'ica.pem', h.ica.toPem());
      const content = put(dir, 'msg.txt', msg);
      const att = put(dir, 'att.p7', cmsSign({ content: msg, certificate: h.leaf, key: h.lk.key, sm2Id: SM2_OPENSSL_EMPTY_ID }));
      assert.match(opensslOk(['cms', '-verify', '-inform', 'DER', '-in', att, '-noverify', '-binary', '-out', join(dir, 'out.txt')]), /Verification successful/);
      assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'out.txt'))), msg);
      const det = put(dir, 'det.p7', cmsSign({ content: msg, certificate: h.leaf, key: h.lk.key, detached: true, sm2Id: SM2_OPENSSL_EMPTY_ID }));
      assert.match(opensslOk(['cms', '-verify', '-inform', 'DER', '-in', det, '-content', content, '-noverify', '-binary', '-out', join(dir, 'o2')]), /Verification successful/);
      // The signature chain to the root: openssl checks the certificates themselves with the empty ID, so
      // only the signature is checked here (-noverify); see README for what OpenSSL 3.0 does with SM2 IDs.
      void root;
      void ica;
      // And the same message verifies here when told the ID.
      assert.equal(cmsVerify(readFileSync(att), { sm2Id: SM2_OPENSSL_EMPTY_ID }).ok, true);
      assert.equal(cmsVerify(readFileSync(att)).ok, false);
    } finally {
      cleanup();
    }
  });

  test('SignedData made by openssl (BER, -stream) verifies here: ECDSA P-256 and RSA', () => {
    const { dir, cleanup } = tempDir();
    try {
      const content = put(dir, 'msg.txt', msg);
      opensslOk(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ec.key', '-subj', '/CN=ec', '-days', '2', '-out', 'ec.pem'], { cwd: dir });
      opensslOk(['cms', '-sign', '-in', content, '-signer', 'ec.pem', '-inkey', 'ec.key', '-binary', '-nodetach', '-stream', '-outform', 'DER', '-out', 'ec.p7'], { cwd: dir });
      const ec = readFileSync(join(dir, 'ec.p7'));
      assert.equal(ec[1], 0x80, 'openssl wrote indefinite-length BER');
      const r = cmsVerify(new Uint8Array(ec));
      assert.equal(r.ok, true);
      assert.deepEqual(r.content, msg);
      opensslOk(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rsa.key', '-subj', '/CN=rsa', '-days', '2', '-out', 'rsa.pem'], { cwd: dir });
      opensslOk(['cms', '-sign', '-in', content, '-signer', 'rsa.pem', '-inkey', 'rsa.key', '-binary', '-outform', 'PEM', '-out', 'rsa.p7'], { cwd: dir });
      assert.equal(cmsVerify(readFileSync(join(dir, 'rsa.p7'), 'utf8'), { content: msg }).ok, true);
    } finally {
      cleanup();
    }
  });
});

describe('EnvelopedData (SM2 key transport, SM4-CBC)', () => {
  test('two recipients each decrypt; a stranger has no recipient info; corruption is a typed error', () => {
    const a = hierarchy({ leaf: { keyUsage: ['keyEncipherment', 'dataEncipherment'] } });
    const b = hierarchy({ leaf: { subject: '/C=CN/CN=第二收件人' } });
    const p7 = cmsEncrypt({ content: msg, recipients: [a.leaf, b.leaf] });
    assert.deepEqual(cmsDecrypt(p7, { certificate: a.leaf, key: a.lk.key }), msg);
    assert.deepEqual(cmsDecrypt(cmsToPem(p7), { certificate: b.leaf, key: b.lk.key }), msg);
    assert.deepEqual(cmsDecrypt(cmsEncrypt({ content: msg, recipients: [a.leaf], oids: 'gm' }), { certificate: a.leaf, key: a.lk.key }), msg);
    const c = hierarchy();
    assert.throws(() => cmsDecrypt(p7, { certificate: c.leaf, key: c.lk.key }), (e: unknown) => code(e) === 'PKI_ERR_CMS_NO_RECIPIENT');
    // Right certificate, wrong key: SM2 decryption's C3 check fails.
    assert.throws(() => cmsDecrypt(p7, { certificate: a.leaf, key: c.lk.key }), (e: unknown) => code(e) === 'PKI_ERR_CMS_DECRYPT');
    const bad = p7.slice();
    bad[bad.length - 20] ^= 0xff; // inside the SM4-CBC ciphertext
    assert.throws(() => {
      const out = cmsDecrypt(bad, { certificate: a.leaf, key: a.lk.key });
      // CBC without a MAC may decrypt to garbage with valid padding: then it must differ.
      if (Buffer.compare(Buffer.from(out), Buffer.from(msg)) !== 0) throw new PkiError('PKI_ERR_CMS_DECRYPT', 'garbage');
    }, (e: unknown) => code(e) === 'PKI_ERR_CMS_DECRYPT');
    assert.throws(() => cmsDecrypt(cmsSign({ content: msg, certificate: a.leaf, key: a.lk.key }), { certificate: a.leaf, key: a.lk.key }), (e: unknown) => code(e) === 'PKI_ERR_CMS');
  });

  test('openssl cms -decrypt 3.0 opens EnvelopedData made here', () => {
    const { dir, cleanup } = tempDir();
    try {
      const h = hierarchy({ leaf: { keyUsage: ['keyEncipherment', 'dataEncipherment', 'keyAgreement'] } });
      const p7 = put(dir, 'env.p7', cmsEncrypt({ content: msg, recipients: [h.leaf] }));
      const cert = put(dir, 'enc.pem', h.leaf.toPem());
      const key = put(dir, 'enc.key', sm2PrivateKeyToPem(h.lk.key));
      const r = openssl(['cms', '-decrypt', '-inform', 'DER', '-in', p7, '-recip', cert, '-inkey', key, '-binary']);
      assert.equal(r.status, 0, r.out);
      assert.deepEqual(new Uint8Array(r.stdout), msg);
      const text = opensslOk(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', p7]);
      assert.match(text, /1\.2\.156\.10197\.1\.104\.2|SM4-CBC/i);
    } finally {
      cleanup();
    }
  });
});

test('GM/T 0010 signer OIDs on input: sm2-1 (1.2.156.10197.1.301.1) as the SignerInfo signature algorithm', () => {
  const h = hierarchy();
  const ci = AsnConvert.parse(cmsSign({ content: msg, certificate: h.leaf, key: h.lk.key, oids: 'gm' }), ContentInfo);
  const sd = AsnConvert.parse(ci.content, SignedData);
  // The signature does not cover SignerInfo.signatureAlgorithm, so rewriting the OID keeps it valid.
  sd.signerInfos[0].signatureAlgorithm = new SignatureAlgorithmIdentifier({ algorithm: '1.2.156.10197.1.301.1' });
  const p7 = new Uint8Array(AsnConvert.serialize(new ContentInfo({ contentType: ci.contentType, content: AsnConvert.serialize(sd) })));
  assert.ok(Buffer.from(p7).includes(Buffer.from([0x06, 0x09, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d, 0x01])));
  const r = cmsVerify(p7);
  assert.equal(r.ok, true);
  assert.equal(r.contentType, OID.gmData);
});
