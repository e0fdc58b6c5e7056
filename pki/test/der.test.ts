import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { derBoolean, derChildren, derDecode, derExplicit, derInteger, derSequence, hexToBytes } from '@xiangan/crypto';
import { OctetString } from '@peculiar/asn1-schema';
import { Extension } from '@peculiar/asn1-x509';
import {
  assertDer,
  CertificateRequest,
  CertificateRevocationList,
  cmsDecrypt,
  cmsEncrypt,
  cmsSign,
  cmsVerify,
  createCrl,
  createOcspRequest,
  createOcspResponder,
  parseExtensions,
  parseOcspRequest,
  parseOcspResponse,
  PkiError,
  X509Certificate,
} from '../src/index.js';
import { DAY, hierarchy, pkiVector } from './helpers.js';

const isPki = (e: unknown): boolean => e instanceof PkiError;
const code = (e: unknown): string => (e instanceof PkiError ? e.code : `not a PkiError: ${String(e)}`);

describe('strict DER on input', () => {
  const cert = hexToBytes(pkiVector('pki-x509_certificate-selfsigned').der);

  test('the vector certificate is DER', () => {
    assertDer(cert);
  });

  test('BER tricks are PKI_ERR_NOT_DER', () => {
    // Indefinite length for the outer SEQUENCE.
    const indef = new Uint8Array([0x30, 0x80, ...cert.subarray(4), 0x00, 0x00]);
    assert.equal(code(tryParse(() => X509Certificate.fromDer(indef))), 'PKI_ERR_NOT_DER');
    // Long-form length where short form fits.
    assert.equal(code(tryParse(() => assertDer(Uint8Array.of(0x30, 0x81, 0x03, 0x02, 0x01, 0x01)))), 'PKI_ERR_NOT_DER');
    // Non-minimal length octets.
    assert.equal(code(tryParse(() => assertDer(Uint8Array.of(0x04, 0x82, 0x00, 0x01, 0xaa)))), 'PKI_ERR_NOT_DER');
    // Non-minimal INTEGER.
    assert.equal(code(tryParse(() => assertDer(Uint8Array.of(0x02, 0x02, 0x00, 0x01)))), 'PKI_ERR_NOT_DER');
    // BOOLEAN TRUE as 0x01.
    assert.equal(code(tryParse(() => assertDer(Uint8Array.of(0x01, 0x01, 0x01)))), 'PKI_ERR_NOT_DER');
    // Constructed OCTET STRING.
    assert.equal(code(tryParse(() => assertDer(Uint8Array.of(0x24, 0x03, 0x04, 0x01, 0xaa)))), 'PKI_ERR_NOT_DER');
    // Unsorted SET OF.
    assert.equal(code(tryParse(() => assertDer(Uint8Array.of(0x31, 0x06, 0x02, 0x01, 0x02, 0x02, 0x01, 0x01)))), 'PKI_ERR_NOT_DER');
    // BIT STRING with non-zero unused bits.
    assert.equal(code(tryParse(() => assertDer(Uint8Array.of(0x03, 0x02, 0x01, 0x01)))), 'PKI_ERR_NOT_DER');
    // Trailing garbage and truncation are malformed.
    assert.equal(code(tryParse(() => X509Certificate.fromDer(new Uint8Array([...cert, 0])))), 'PKI_ERR_ASN1');
    assert.equal(code(tryParse(() => X509Certificate.fromDer(cert.subarray(0, cert.length - 1)))), 'PKI_ERR_ASN1');
  });

  test('an explicitly encoded DEFAULT (basicConstraints cA FALSE) is PKI_ERR_NOT_DER', () => {
    // X.690 §11.5: a value equal to its DEFAULT must be absent. SEQUENCE { BOOLEAN FALSE } is BER, not DER.
    const ext = new Extension({ extnID: '2.5.29.19', critical: true, extnValue: new OctetString(Uint8Array.of(0x30, 0x03, 0x01, 0x01, 0x00)) });
    assert.equal(code(tryParse(() => parseExtensions([ext]))), 'PKI_ERR_NOT_DER');
    const ok = new Extension({ extnID: '2.5.29.19', critical: true, extnValue: new OctetString(Uint8Array.of(0x30, 0x00)) });
    assert.deepEqual(parseExtensions([ok]).basicConstraints, { ca: false, pathLen: undefined, critical: true });
  });
});

describe('DEFAULT values in a certificate', () => {
  test('Extension critical FALSE and version v1 spelled out are PKI_ERR_NOT_DER (X.690 §11.5)', () => {
    const { leaf } = hierarchy();
    const [tbs, alg, sig] = derChildren(derDecode(leaf.der));
    const f = derChildren(tbs);
    const rebuild = (fields: Uint8Array[]) => derSequence(derSequence(...fields), alg.encoded, sig.encoded);
    // Same certificate with every non-critical extension carrying an explicit critical FALSE.
    const extsField = f[f.length - 1];
    const exts = derChildren(derChildren(extsField)[0]).map((e) => {
      const k = derChildren(e);
      return k.length === 2 ? derSequence(k[0].encoded, derBoolean(false), k[1].encoded) : e.encoded;
    });
    const withFalse = rebuild([...f.slice(0, -1).map((e) => e.encoded), derExplicit(3, derSequence(...exts))]);
    assert.equal(code(tryParse(() => X509Certificate.fromDer(withFalse))), 'PKI_ERR_NOT_DER');
    // An explicit version 0 (v1, the DEFAULT) in place of v3, without extensions.
    const v1 = rebuild([derExplicit(0, derInteger(0)), ...f.slice(1, -1).map((e) => e.encoded)]);
    assert.equal(code(tryParse(() => X509Certificate.fromDer(v1))), 'PKI_ERR_NOT_DER');
    // An extra field after the extensions is malformed.
    const extra = rebuild([...f.map((e) => e.encoded), derInteger(1)]);
    assert.equal(code(tryParse(() => X509Certificate.fromDer(extra))), 'PKI_ERR_ASN1');
    // The untouched structure still parses.
    assert.equal(code(tryParse(() => X509Certificate.fromDer(rebuild(f.map((e) => e.encoded))))), 'not a PkiError: parsed');
  });
});

function tryParse(fn: () => unknown): unknown {
  try {
    fn();
    return 'parsed';
  } catch (e) {
    return e;
  }
}

describe('parsers fuzzed with fast-check: only typed errors', () => {
  const h = hierarchy();
  const now = Date.now();
  const crl = createCrl({ issuer: h.ica, signer: h.ik.signer, thisUpdate: new Date(now - DAY), nextUpdate: new Date(now + DAY), crlNumber: 5n, revoked: [{ serialNumber: h.leaf.serialNumber, revocationDate: new Date(now), reason: 'superseded' }] });
  const req = hexToBytes(pkiVector('pki-pkcs10_csr-selfsigned').der);
  const ocspReq = createOcspRequest(h.leaf, h.ica);
  const ocspResp = createOcspResponder({ issuer: h.ica, responder: h.ica, signer: h.ik.signer, lookup: () => ({ status: 'good' }) })(ocspReq);
  const signed = cmsSign({ content: Uint8Array.of(1, 2, 3), certificate: h.leaf, key: h.lk.key });
  const enveloped = cmsEncrypt({ content: Uint8Array.of(1, 2, 3), recipients: [h.leaf] });
  const parsers: [string, Uint8Array, (b: Uint8Array) => unknown][] = [
    ['certificate', h.leaf.der, (b) => X509Certificate.fromDer(b).verify(h.ica)],
    ['CSR', req, (b) => CertificateRequest.parse(b).verify()],
    ['CRL', crl.der, (b) => CertificateRevocationList.parse(b).verify(h.ica)],
    ['OCSP request', ocspReq, (b) => parseOcspRequest(b)],
    ['OCSP response', ocspResp, (b) => parseOcspResponse(b)],
    ['CMS SignedData', signed, (b) => cmsVerify(b)],
    ['CMS EnvelopedData', enveloped, (b) => cmsDecrypt(b, { certificate: h.leaf, key: h.lk.key })],
  ];

  // Mutations of valid encodings reach deep into the structure; random bytes test the outer layers.
  const mutation = (len: number) =>
    fc.array(fc.record({ at: fc.nat({ max: len - 1 }), kind: fc.constantFrom('set', 'xor', 'cut', 'insert'), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 });

  function mutate(src: Uint8Array, muts: { at: number; kind: string; byte: number }[]): Uint8Array {
    let b = src.slice();
    for (const m of muts) {
      const at = Math.min(m.at, b.length - 1);
      if (b.length === 0) break;
      if (m.kind === 'set') b[at] = m.byte;
      else if (m.kind === 'xor') b[at] ^= m.byte || 1;
      else if (m.kind === 'cut') b = b.subarray(0, at);
      else b = new Uint8Array([...b.subarray(0, at), m.byte, ...b.subarray(at)]);
    }
    return b;
  }

  for (const [name, valid, parse] of parsers) {
    test(`${name}: mutated and random inputs throw only PkiError`, () => {
      fc.assert(
        fc.property(mutation(valid.length), (muts) => {
          try {
            parse(mutate(valid, muts));
          } catch (e) {
            if (!isPki(e)) throw e;
          }
        }),
        { numRuns: 150 },
      );
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
          try {
            parse(b);
          } catch (e) {
            if (!isPki(e)) throw e;
          }
        }),
        { numRuns: 150 },
      );
    });
  }
});

test('PEM problems are PKI_ERR_PEM: no block, wrong label, bad base64', () => {
  const v = pkiVector('pki-x509_certificate-selfsigned');
  assert.equal(code(tryParse(() => X509Certificate.fromPem('no pem here'))), 'PKI_ERR_PEM');
  assert.equal(code(tryParse(() => X509Certificate.fromPem(v.pem.replace(/CERTIFICATE/g, 'X509 CRL')))), 'PKI_ERR_PEM');
  assert.equal(code(tryParse(() => X509Certificate.fromPem(v.pem.replace(/\nMII/, '\nM*I')))), 'PKI_ERR_PEM');
  assert.equal(code(tryParse(() => CertificateRevocationList.parse(v.pem))), 'PKI_ERR_PEM');
  assert.throws(() => X509Certificate.fromPem(42 as unknown as string), TypeError);
});
