import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createCertificate, createCrl, SignatureCache, validatePath, type ValidationResult, X509Certificate } from '../src/index.js';
import { DAY, hierarchy, sm2Pair } from './helpers.js';

function failure(r: ValidationResult): { code: string; who: string; depth: number } {
  assert.equal(r.ok, false, 'validation should fail');
  if (r.ok) throw new Error('unreachable');
  return { code: r.code, who: r.certificate.subjectName, depth: r.depth };
}



describe('root → intermediate → leaf', () => {
  test('a good chain validates for its purpose, with a CRL that does not list it', () => {
    const h = hierarchy();
    const window = { thisUpdate: new Date(Date.now() - DAY), nextUpdate: new Date(Date.now() + DAY), revoked: [] };
    const crl = createCrl({ ...window, issuer: h.ica, signer: h.ik.signer, crlNumber: 1n });
    const rootCrl = createCrl({ ...window, issuer: h.root, signer: h.rk.signer, crlNumber: 1n });
    const r = validatePath(h.leaf, { trustAnchors: [h.root], intermediates: [h.ica], time: new Date(), purpose: 'serverAuth', crls: [crl, rootCrl], revocation: 'required' });
    assert.equal(r.ok, true, r.ok ? '' : r.message);
    if (r.ok) assert.deepEqual(r.path.map((c) => c.subjectName.split(',')[0]), ['CN=server.example', 'CN=测试中级 CA', 'CN=测试根 CA']);
  });

  test('expired leaf', () => {
    const h = hierarchy({ leaf: { notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) } });
    assert.deepEqual(failure(validatePath(h.leaf, { trustAnchors: [h.root], intermediates: [h.ica], time: new Date() })), {
      code: 'PKI_ERR_EXPIRED',
      who: h.leaf.subjectName,
      depth: 0,
    });
  });

  test('expired intermediate is reported before anything below it', () => {
    const h = hierarchy({ ica: { notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) } });
    assert.deepEqual(failure(validatePath(h.leaf, { trustAnchors: [h.root], intermediates: [h.ica], time: new Date() })), {
      code: 'PKI_ERR_EXPIRED',
      who: h.ica.subjectName,
      depth: 1,
    });
  });

  test('not yet valid', () => {
    const h = hierarchy();
    assert.equal(failure(validatePath(h.leaf, { trustAnchors: [h.root], intermediates: [h.ica], time: new Date(Date.now() - 2 * DAY) })).code, 'PKI_ERR_NOT_YET_VALID');
  });

  test('wrong key usage for the purpose (encryption certificate used to sign)', () => {
    const h = hierarchy({ leaf: { keyUsage: ['keyEncipherment', 'dataEncipherment'], extKeyUsage: undefined } });
    assert.equal(validatePath(h.leaf, { trustAnchors: [h.root], intermediates: [h.ica], time: new Date(), purpose: 'enc' }).ok, true);
    assert.deepEqual(failure(validatePath(h.leaf, { trustAnchors: [h.root], intermediates: [h.ica], time: new Date(), purpose: 'sign' })), {
      code: 'PKI_ERR_KEY_USAGE',
      who: h.leaf.subjectName,
      depth: 0,
    });
  });

  test('wrong extended key usage', () => {
    const h = hierarchy({ leaf: { extKeyUsage: ['clientAuth'] } });
    assert.equal(failure(validatePath(h.leaf, { trustAnchors: [h.root], intermediates: [h.ica], time: new Date(), purpose: 'serverAuth' })).code, 'PKI_ERR_EXT_KEY_USAGE');
  });

  test('CA without keyCertSign', () => {
    const h = hierarchy({ ica: { keyUsage: ['digitalSignature', 'cRLSign'] } });
    assert.deepEqual(failure(validatePath(h.leaf, { trustAnchors: [h.root], intermediates: [h.ica], time: new Date() })), {
      code: 'PKI_ERR_KEY_USAGE',
      who: h.ica.subjectName,
      depth: 1,
    });
  });

  test('issuer that is not a CA', () => {
    const h = hierarchy({ ica: { basicConstraints: { ca: false } } });
    assert.equal(failure(validatePath(h.leaf, { trustAnchors: [h.root], intermediates: [h.ica], time: new Date() })).code, 'PKI_ERR_NOT_CA');
  });

  test('pathLen exceeded: a second intermediate under pathLen 0', () => {
    const h = hierarchy();
    const k = sm2Pair();
    const sub = createCertificate({
      subject: '/C=CN/CN=二级中级 CA',
      publicKey: k.signer.publicKey,
      issuer: h.ica,
      signer: h.ik.signer,
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + DAY),
      basicConstraints: { ca: true },
      keyUsage: ['keyCertSign'],
    });
    const leaf = createCertificate({
      subject: '/CN=deep leaf',
      publicKey: sm2Pair().signer.publicKey,
      issuer: sub,
      signer: k.signer,
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + DAY),
    });
    assert.deepEqual(failure(validatePath(leaf, { trustAnchors: [h.root], intermediates: [h.ica, sub], time: new Date() })), {
      code: 'PKI_ERR_PATH_LEN',
      who: h.ica.subjectName,
      depth: 2,
    });
  });

  test('revoked leaf (and the reason is reported)', () => {
    const h = hierarchy();
    const crl = createCrl({
      issuer: h.ica,
      signer: h.ik.signer,
      thisUpdate: new Date(Date.now() - DAY),
      nextUpdate: new Date(Date.now() + DAY),
      crlNumber: 7n,
      revoked: [{ serialNumber: h.leaf.serialNumber, revocationDate: new Date(Date.now() - 1000), reason: 'keyCompromise' }],
    });
    const r = validatePath(h.leaf, { trustAnchors: [h.root], intermediates: [h.ica], time: new Date(), crls: [crl] });
    assert.deepEqual(failure(r), { code: 'PKI_ERR_REVOKED', who: h.leaf.subjectName, depth: 0 });
    assert.match(r.ok ? '' : r.message, /keyCompromise/);
  });

  test('revoked intermediate (CRL of the root)', () => {
    const h = hierarchy();
    const crl = createCrl({
      issuer: h.root,
      signer: h.rk.signer,
      thisUpdate: new Date(Date.now() - DAY),
      nextUpdate: new Date(Date.now() + DAY),
      crlNumber: 1n,
      revoked: [{ serialNumber: h.ica.serialNumber, revocationDate: new Date(Date.now() - 1000), reason: 'cACompromise' }],
    });
    assert.deepEqual(failure(validatePath(h.leaf, { trustAnchors: [h.root], intermediates: [h.ica], time: new Date(), crls: [crl] })), {
      code: 'PKI_ERR_REVOKED',
      who: h.ica.subjectName,
      depth: 1,
    });
  });

  test('a forged CRL (wrong signer) and a stale CRL are refused', () => {
    const h = hierarchy();
    const forger = sm2Pair();
    const fake = createCertificate({
      subject: '/C=CN/O=湘安测试/CN=测试中级 CA',
      publicKey: forger.signer.publicKey,
      signer: forger.signer,
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + DAY),
      basicConstraints: { ca: true },
      // Claims the real intermediate's key identifier, so its CRL names that key as signer.
      subjectKeyIdentifier: h.ica.extensions.subjectKeyIdentifier,
    });
    const forged = createCrl({ issuer: fake, signer: forger.signer, thisUpdate: new Date(Date.now() - DAY), nextUpdate: new Date(Date.now() + DAY), crlNumber: 1n, revoked: [] });
    assert.equal(failure(validatePath(h.leaf, { trustAnchors: [h.root], intermediates: [h.ica], time: new Date(), crls: [forged] })).code, 'PKI_ERR_CRL_INVALID');
    // A same-name CA with its own key identifier issues CRLs for its own certificates: not consulted here.
    const rekeyed = createCertificate({ subject: '/C=CN/O=湘安测试/CN=测试中级 CA', publicKey: forger.signer.publicKey, signer: forger.signer, notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + DAY), basicConstraints: { ca: true } });
    const other = createCrl({ issuer: rekeyed, signer: forger.signer, thisUpdate: new Date(Date.now() - DAY), nextUpdate: new Date(Date.now() + DAY), crlNumber: 1n, revoked: [{ serialNumber: h.leaf.serialNumber, revocationDate: new Date(Date.now() - DAY) }] });
    assert.equal(validatePath(h.leaf, { trustAnchors: [h.root], intermediates: [h.ica], time: new Date(), crls: [other] }).ok, true);
    const stale = createCrl({ issuer: h.ica, signer: h.ik.signer, thisUpdate: new Date(Date.now() - 3 * DAY), nextUpdate: new Date(Date.now() - DAY), crlNumber: 1n, revoked: [] });
    assert.equal(failure(validatePath(h.leaf, { trustAnchors: [h.root], intermediates: [h.ica], time: new Date(), crls: [stale] })).code, 'PKI_ERR_CRL_INVALID');
    // A current CRL beside the stale one answers; a forged one beside it still fails closed.
    const fresh = createCrl({ issuer: h.ica, signer: h.ik.signer, thisUpdate: new Date(Date.now() - DAY), nextUpdate: new Date(Date.now() + DAY), crlNumber: 2n, revoked: [] });
    assert.equal(validatePath(h.leaf, { trustAnchors: [h.root], intermediates: [h.ica], time: new Date(), crls: [stale, fresh] }).ok, true);
  });

  test('revocation required but no CRL', () => {
    const h = hierarchy();
    assert.equal(failure(validatePath(h.leaf, { trustAnchors: [h.root], intermediates: [h.ica], time: new Date(), revocation: 'required' })).code, 'PKI_ERR_REVOCATION_UNKNOWN');
  });

  test('bad signature: the leaf bytes tampered after signing', () => {
    const h = hierarchy();
    const der = h.leaf.der.slice();
    // Flip a bit inside the subject CN "server.example" (still valid DER, different TBS).
    const at = Buffer.from(der).indexOf(Buffer.from('server.example'));
    der[at] ^= 0x20;
    const tampered = X509Certificate.fromDer(der);
    assert.deepEqual(failure(validatePath(tampered, { trustAnchors: [h.root], intermediates: [h.ica], time: new Date() })), {
      code: 'PKI_ERR_BAD_SIGNATURE',
      who: tampered.subjectName,
      depth: 0,
    });
  });

  test('bad signature: an intermediate with the right name but another key', () => {
    const h = hierarchy();
    const other = hierarchy();
    // other.ica has the same subject name but was signed by another root key.
    assert.deepEqual(failure(validatePath(h.leaf, { trustAnchors: [h.root], intermediates: [other.ica], time: new Date() })), {
      code: 'PKI_ERR_BAD_SIGNATURE',
      who: other.ica.subjectName,
      depth: 1,
    });
  });

  test('unknown issuer: intermediate missing, or another root', () => {
    const h = hierarchy();
    assert.deepEqual(failure(validatePath(h.leaf, { trustAnchors: [h.root], time: new Date() })), { code: 'PKI_ERR_UNKNOWN_ISSUER', who: h.leaf.subjectName, depth: 0 });
    const k = sm2Pair();
    const other = createCertificate({ subject: '/CN=Some Other Root', publicKey: k.signer.publicKey, signer: k.signer, notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + DAY), basicConstraints: { ca: true } });
    assert.deepEqual(failure(validatePath(h.leaf, { trustAnchors: [other], intermediates: [h.ica], time: new Date() })), { code: 'PKI_ERR_UNKNOWN_ISSUER', who: h.ica.subjectName, depth: 1 });
  });
});

test('a SignatureCache gives the same answers as verifying every time', () => {
  const h = hierarchy();
  const other = hierarchy();
  const cache = new SignatureCache();
  const crl = createCrl({ issuer: h.ica, signer: h.ik.signer, thisUpdate: new Date(Date.now() - DAY), nextUpdate: new Date(Date.now() + DAY), crlNumber: 1n, revoked: [] });
  for (let i = 0; i < 3; i++) {
    const good = validatePath(h.leaf, { trustAnchors: [h.root], intermediates: [h.ica], crls: [crl], time: new Date(), cache });
    assert.equal(good.ok, true);
    const bad = validatePath(h.leaf, { trustAnchors: [h.root], intermediates: [other.ica], time: new Date(), cache });
    assert.equal(bad.ok ? 'ok' : bad.code, 'PKI_ERR_BAD_SIGNATURE');
  }
});
