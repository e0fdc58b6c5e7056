import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createCertificate,
  createOcspRequest,
  createOcspResponder,
  ocspErrorResponse,
  parseOcspRequest,
  parseOcspResponse,
  PkiError,
  sm2Signer,
  SM2_OPENSSL_EMPTY_ID,
  validatePath,
  verifyOcspResponse,
  type OcspCertStatus,
  X509Certificate,
} from '../src/index.js';
import { DAY, hierarchy, opensslOk, put, sm2Pair, tempDir } from './helpers.js';

function setup(revokedSerial?: string) {
  const h = hierarchy();
  const lookup = (s: string): OcspCertStatus =>
    s === revokedSerial ? { status: 'revoked', revocationTime: new Date('2026-03-01T00:00:00Z'), reason: 'keyCompromise' } : s === h.leaf.serialHex ? { status: 'good' } : { status: 'unknown' };
  return { h, lookup };
}

describe('OCSP (RFC 6960)', () => {
  test('request → responder → response, good and revoked, with nonce; SHA-1 and SM3 CertIDs', () => {
    const { h, lookup } = setup();
    const respond = createOcspResponder({ issuer: h.ica, responder: h.ica, signer: h.ik.signer, lookup, now: () => new Date('2026-05-01T00:00:00Z') });
    for (const hash of ['sha1', 'sm3'] as const) {
      const nonce = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
      const req = createOcspRequest(h.leaf, h.ica, { hash, nonce });
      assert.deepEqual(parseOcspRequest(req).nonce, nonce);
      const resp = parseOcspResponse(respond(req));
      assert.equal(resp.status, 'successful');
      const st = verifyOcspResponse(resp, h.leaf, h.ica, { nonce });
      assert.equal(st.status, 'good');
      assert.deepEqual(st.thisUpdate, new Date('2026-05-01T00:00:00Z'));
      assert.deepEqual(st.nextUpdate, new Date('2026-05-01T01:00:00Z'));
      assert.throws(() => verifyOcspResponse(resp, h.leaf, h.ica, { nonce: Uint8Array.of(9) }), (e: unknown) => e instanceof PkiError && e.code === 'PKI_ERR_OCSP');
    }
    const revoked = setup();
    const r2 = createOcspResponder({ issuer: revoked.h.ica, responder: revoked.h.ica, signer: revoked.h.ik.signer, lookup: () => ({ status: 'revoked', revocationTime: new Date('2026-03-01T00:00:00Z'), reason: 'keyCompromise' }) });
    const st = verifyOcspResponse(parseOcspResponse(r2(createOcspRequest(revoked.h.leaf, revoked.h.ica))), revoked.h.leaf, revoked.h.ica);
    assert.deepEqual(st.status === 'revoked' && [st.revocationTime, st.reason], [new Date('2026-03-01T00:00:00Z'), 'keyCompromise']);
  });

  test('delegated responder with EKU OCSPSigning; an unauthorised signer is refused', () => {
    const { h, lookup } = setup();
    const rk = sm2Pair();
    const responder = createCertificate({
      subject: '/C=CN/CN=OCSP 响应者',
      publicKey: rk.signer.publicKey,
      issuer: h.ica,
      signer: h.ik.signer,
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + DAY),
      keyUsage: ['digitalSignature'],
      extKeyUsage: ['ocspSigning'],
    });
    const ok = createOcspResponder({ issuer: h.ica, responder, signer: rk.signer, lookup });
    assert.equal(verifyOcspResponse(parseOcspResponse(ok(createOcspRequest(h.leaf, h.ica))), h.leaf, h.ica).status, 'good');
    // Same key but a certificate without OCSPSigning.
    const plain = createCertificate({ subject: '/CN=not a responder', publicKey: rk.signer.publicKey, issuer: h.ica, signer: h.ik.signer, notBefore: new Date(), notAfter: new Date(Date.now() + DAY) });
    const bad = createOcspResponder({ issuer: h.ica, responder: plain, signer: rk.signer, lookup });
    assert.throws(() => verifyOcspResponse(parseOcspResponse(bad(createOcspRequest(h.leaf, h.ica))), h.leaf, h.ica), (e: unknown) => e instanceof PkiError && e.code === 'PKI_ERR_OCSP');
  });

  test('malformed requests get malformedRequest; another issuer gets unknown', () => {
    const { h, lookup } = setup();
    const respond = createOcspResponder({ issuer: h.ica, responder: h.ica, signer: h.ik.signer, lookup });
    assert.equal(parseOcspResponse(respond(Uint8Array.of(0x30, 0x03, 0x02, 0x01))).status, 'malformedRequest');
    assert.deepEqual(respond(Uint8Array.of(1, 2, 3)), ocspErrorResponse('malformedRequest'));
    const other = hierarchy();
    const st = parseOcspResponse(respond(createOcspRequest(other.leaf, other.ica)));
    assert.equal(st.responses[0].status, 'unknown');
  });

  test('openssl ocsp reads requests and responses made here, and its own request is answered here', () => {
    const { dir, cleanup } = tempDir();
    try {
      const { h, lookup } = setup();
      const ica = put(dir, 'ica.pem', h.ica.toPem());
      const leaf = put(dir, 'leaf.pem', h.leaf.toPem());
      const req = put(dir, 'req.der', createOcspRequest(h.leaf, h.ica));
      assert.match(opensslOk(['ocsp', '-reqin', req, '-req_text', '-noverify']), new RegExp(`Serial Number: ${h.leaf.serialHex.toUpperCase()}`));
      // OpenSSL checks SM2 response signatures with its empty ID, so sign this one that way.
      const respond = createOcspResponder({ issuer: h.ica, responder: h.ica, signer: sm2Signer(h.ik.key, { sm2Id: SM2_OPENSSL_EMPTY_ID }), lookup });
      opensslOk(['ocsp', '-issuer', ica, '-cert', leaf, '-no_nonce', '-reqout', join(dir, 'oreq.der')]);
      const respPath = put(dir, 'resp.der', respond(new Uint8Array(readFileSync(join(dir, 'oreq.der')))));
      const out = opensslOk(['ocsp', '-respin', respPath, '-issuer', ica, '-cert', leaf, '-VAfile', ica, '-no_nonce', '-resp_text']);
      assert.match(out, /Response verify OK/);
      assert.match(out, /leaf\.pem: good/);
    } finally {
      cleanup();
    }
  });
});

test('validatePath takes verified OCSP responses: revoked fails, good satisfies required revocation checking', () => {
  const h = hierarchy();
  const now = new Date();
  const revoked = createOcspResponder({ issuer: h.ica, responder: h.ica, signer: h.ik.signer, lookup: () => ({ status: 'revoked', revocationTime: new Date(Date.now() - DAY), reason: 'keyCompromise' }) });
  const good = createOcspResponder({ issuer: h.ica, responder: h.ica, signer: h.ik.signer, lookup: () => ({ status: 'good' }) });
  const rootGood = createOcspResponder({ issuer: h.root, responder: h.root, signer: h.rk.signer, lookup: () => ({ status: 'good' }) });
  const base = { trustAnchors: [h.root], intermediates: [h.ica], time: now };
  const r1 = validatePath(h.leaf, { ...base, ocsp: [parseOcspResponse(revoked(createOcspRequest(h.leaf, h.ica)))] });
  assert.deepEqual(r1.ok ? 'ok' : [r1.code, r1.depth], ['PKI_ERR_REVOKED', 0]);
  const answers = [parseOcspResponse(good(createOcspRequest(h.leaf, h.ica))), parseOcspResponse(rootGood(createOcspRequest(h.ica, h.root)))];
  assert.equal(validatePath(h.leaf, { ...base, revocation: 'required', ocsp: answers }).ok, true);
  // A response signed by someone else is not an answer: revocation stays unknown.
  const other = hierarchy();
  const forged = createOcspResponder({ issuer: h.ica, responder: other.ica, signer: other.ik.signer, lookup: () => ({ status: 'good' }) });
  const r3 = validatePath(h.leaf, { ...base, revocation: 'required', ocsp: [parseOcspResponse(forged(createOcspRequest(h.leaf, h.ica))), answers[1]] });
  assert.equal(r3.ok ? 'ok' : r3.code, 'PKI_ERR_REVOCATION_UNKNOWN');
});

test('an SM2 OCSP response made by openssl ocsp (-rsigopt distid) for a request made here verifies here', () => {
  const { dir, cleanup } = tempDir();
  try {
    opensslOk(['genpkey', '-algorithm', 'sm2', '-out', 'ca.key'], { cwd: dir });
    opensslOk(['req', '-x509', '-new', '-key', 'ca.key', '-sm3', '-sigopt', 'distid:1234567812345678', '-subj', '/CN=OpenSSL OCSP CA', '-days', '5', '-out', 'ca.pem',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'], { cwd: dir });
    opensslOk(['genpkey', '-algorithm', 'sm2', '-out', 'l.key'], { cwd: dir });
    opensslOk(['req', '-new', '-key', 'l.key', '-sm3', '-sigopt', 'distid:1234567812345678', '-subj', '/CN=ocsp leaf', '-out', 'l.csr'], { cwd: dir });
    opensslOk(['x509', '-req', '-in', 'l.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-sm3', '-sigopt', 'distid:1234567812345678', '-vfyopt', 'distid:1234567812345678', '-days', '2', '-set_serial', '0x5a5a', '-out', 'l.pem'], { cwd: dir });
    put(dir, 'index.txt', '');
    put(dir, 'ca.cnf', '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\ndefault_md=sm3\n');
    opensslOk(['ca', '-config', 'ca.cnf', '-revoke', 'l.pem', '-crl_reason', 'keyCompromise', '-keyfile', 'ca.key', '-cert', 'ca.pem'], { cwd: dir });
    const ca = X509Certificate.parse(readFileSync(join(dir, 'ca.pem')));
    const leaf = X509Certificate.parse(readFileSync(join(dir, 'l.pem')));
    const nonce = Uint8Array.of(9, 8, 7, 6, 5, 4, 3, 2);
    put(dir, 'req.der', createOcspRequest(leaf, ca, { nonce }));
    opensslOk(['ocsp', '-index', 'index.txt', '-CA', 'ca.pem', '-rsigner', 'ca.pem', '-rkey', 'ca.key', '-rsigopt', 'distid:1234567812345678', '-reqin', 'req.der', '-respout', 'resp.der', '-ndays', '1'], { cwd: dir });
    const st = verifyOcspResponse(parseOcspResponse(new Uint8Array(readFileSync(join(dir, 'resp.der')))), leaf, ca, { nonce });
    assert.equal(st.status, 'revoked');
    assert.equal(st.status === 'revoked' && st.reason, 'keyCompromise');
  } finally {
    cleanup();
  }
});
