import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { CertificateList, Extension } from '@peculiar/asn1-x509';
import { CertificateRevocationList, createCrl, PkiError, sm2Signer, SM2_OPENSSL_EMPTY_ID, validatePath, X509Certificate } from '../src/index.js';
import { DAY, DISTID, hierarchy, openssl, opensslOk, put, tempDir } from './helpers.js';

const window = () => ({ thisUpdate: new Date(Date.now() - DAY), nextUpdate: new Date(Date.now() + 7 * DAY) });

describe('CRLs made here', () => {
  test('v2 with CRL number, AKI and reason codes; round trip', () => {
    const h = hierarchy();
    const crl = createCrl({
      ...window(),
      issuer: h.ica,
      signer: h.ik.signer,
      crlNumber: 42n,
      revoked: [
        { serialNumber: h.leaf.serialNumber, revocationDate: new Date('2026-01-02T03:04:05Z'), reason: 'keyCompromise' },
        { serialNumber: Uint8Array.of(0x01, 0x02), revocationDate: new Date('2026-01-02T03:04:05Z'), reason: 'unspecified' },
        { serialNumber: Uint8Array.of(0x03), revocationDate: new Date('2026-01-02T03:04:05Z'), reason: 'superseded' },
      ],
    });
    assert.equal(crl.asn.tbsCertList.version, 1);
    assert.equal(crl.crlNumber, 42n);
    assert.deepEqual(crl.authorityKeyIdentifier, h.ica.extensions.subjectKeyIdentifier);
    assert.equal(crl.find(h.leaf.serialNumber)?.reason, 'keyCompromise');
    // RFC 5280 §5.3.1: unspecified is expressed by leaving the reason out.
    assert.equal(crl.find(Uint8Array.of(0x01, 0x02))?.reason, undefined);
    assert.equal(crl.find(Uint8Array.of(0x03))?.reason, 'superseded');
    assert.equal(crl.find(Uint8Array.of(0x04)), undefined);
    assert.equal(crl.verify(h.ica), true);
    assert.equal(crl.verify(h.root), false);
    assert.deepEqual(CertificateRevocationList.parse(crl.toPem()).der, crl.der);
  });

  test('openssl reads them; with the OpenSSL (empty) SM2 ID, openssl crl -verify and verify -crl_check accept them', () => {
    const { dir, cleanup } = tempDir();
    try {
      const h = hierarchy();
      const crl = createCrl({
        ...window(),
        issuer: h.ica,
        signer: sm2Signer(h.ik.key, { sm2Id: SM2_OPENSSL_EMPTY_ID }),
        crlNumber: 3n,
        revoked: [{ serialNumber: h.leaf.serialNumber, revocationDate: new Date(Date.now() - 1000), reason: 'keyCompromise' }],
      });
      assert.equal(crl.verify(h.ica), false, 'not the default ID');
      assert.equal(crl.verify(h.ica, { sm2Id: SM2_OPENSSL_EMPTY_ID }), true);
      const c = put(dir, 'ica.crl', crl.toPem());
      const ica = put(dir, 'ica.pem', h.ica.toPem());
      const text = opensslOk(['crl', '-in', c, '-noout', '-text']);
      assert.match(text, /X509v3 CRL Number: \n\s+3/);
      assert.match(text, /Key Compromise/);
      assert.match(opensslOk(['crl', '-in', c, '-noout', '-verify', '-CAfile', ica]), /verify OK/);
      const r = openssl(['verify', '-vfyopt', DISTID, '-partial_chain', '-crl_check', '-CAfile', ica, '-CRLfile', c, put(dir, 'leaf.pem', h.leaf.toPem())]);
      assert.notEqual(r.status, 0);
      assert.match(r.out, /certificate revoked/);
    } finally {
      cleanup();
    }
  });
});

describe('CRLs made by openssl ca -gencrl', () => {
  test('parse and verify here, and the revoked certificate fails validation', () => {
    const { dir, cleanup } = tempDir();
    try {
      opensslOk(['genpkey', '-algorithm', 'sm2', '-out', 'ca.key'], { cwd: dir });
      opensslOk(
        ['req', '-x509', '-new', '-key', 'ca.key', '-sm3', '-sigopt', DISTID, '-subj', '/C=CN/CN=OpenSSL CA', '-days', '30', '-out', 'ca.pem',
          '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
        { cwd: dir },
      );
      opensslOk(['genpkey', '-algorithm', 'sm2', '-out', 'leaf.key'], { cwd: dir });
      opensslOk(['req', '-new', '-key', 'leaf.key', '-sm3', '-sigopt', DISTID, '-subj', '/CN=leaf', '-out', 'leaf.csr'], { cwd: dir });
      opensslOk(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-sm3', '-sigopt', DISTID, '-vfyopt', DISTID, '-days', '5', '-set_serial', '4660', '-out', 'leaf.pem'], { cwd: dir });
      put(dir, 'index.txt', '');
      put(dir, 'crlnumber', '1000\n');
      put(dir, 'ca.cnf', '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\ncrlnumber=crlnumber\ndefault_md=sm3\ndefault_crl_days=7\n');
      opensslOk(['ca', '-config', 'ca.cnf', '-revoke', 'leaf.pem', '-crl_reason', 'superseded', '-keyfile', 'ca.key', '-cert', 'ca.pem'], { cwd: dir });
      opensslOk(['ca', '-config', 'ca.cnf', '-gencrl', '-keyfile', 'ca.key', '-cert', 'ca.pem', '-sigopt', DISTID, '-out', 'crl.pem'], { cwd: dir });
      const ca = X509Certificate.fromPem(readFileSync(join(dir, 'ca.pem'), 'utf8'));
      const leaf = X509Certificate.fromPem(readFileSync(join(dir, 'leaf.pem'), 'utf8'));
      const crl = CertificateRevocationList.parse(readFileSync(join(dir, 'crl.pem'), 'utf8'));
      assert.equal(crl.verify(ca), true);
      assert.equal(crl.crlNumber, 0x1000n);
      assert.equal(crl.find(leaf.serialNumber)?.reason, 'superseded');
      const r = validatePath(leaf, { trustAnchors: [ca], time: new Date(), crls: [crl] });
      assert.equal(r.ok ? 'ok' : r.code, 'PKI_ERR_REVOKED');
    } finally {
      cleanup();
    }
  });
});

test('CRL with an unknown critical extension is refused (RFC 5280 §5.2)', () => {
  const h = hierarchy();
  const crl = createCrl({ ...window(), issuer: h.ica, signer: h.ik.signer, crlNumber: 1n, revoked: [] });
  const asn = AsnConvert.parse(crl.der, CertificateList);
  asn.tbsCertList.crlExtensions!.push(new Extension({ extnID: '1.2.3.4', critical: true, extnValue: new OctetString(Uint8Array.of(5, 0)) }));
  asn.tbsCertListRaw = undefined;
  const der = new Uint8Array(AsnConvert.serialize(asn));
  assert.throws(() => CertificateRevocationList.parse(der), (e: unknown) => e instanceof PkiError && e.code === 'PKI_ERR_CRL_INVALID');
});
