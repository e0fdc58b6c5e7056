import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { hexToBytes } from '@xiangan/crypto';
import {
  CertificateRequest,
  createCertificate,
  createCsr,
  nodeSigner,
  PkiError,
  SM2_DEFAULT_ID,
  SM2_OPENSSL_EMPTY_ID,
  validatePath,
  X509Certificate,
} from '../src/index.js';
import { DAY, DISTID, hierarchy, openssl, opensslOk, pkiVector, put, sm2Pair, tempDir } from './helpers.js';

describe('shared vectors (GB/T 32918.5 key, made by OpenSSL 3.0.19)', () => {
  test('self-signed certificate parses and verifies with the default ID', () => {
    const v = pkiVector('pki-x509_certificate-selfsigned');
    const cert = X509Certificate.fromPem(v.pem);
    assert.deepEqual(cert.der, hexToBytes(v.der));
    assert.deepEqual(cert.tbs, hexToBytes(v.tbs));
    assert.deepEqual(cert.signature, hexToBytes(v.signature_der));
    assert.deepEqual(cert.publicKey.key, hexToBytes(v.signer_public_key));
    assert.equal(cert.signatureAlgorithm, '1.2.156.10197.1.501');
    assert.equal(cert.subjectName, 'CN=SM2 Test Root,O=Test,C=CN');
    assert.equal(cert.verify(cert), true);
    assert.equal(validatePath(cert, { trustAnchors: [cert], time: new Date('2030-01-01') }).ok, true);
    assert.deepEqual(X509Certificate.parse(hexToBytes(v.der)).der, cert.der);
    assert.deepEqual(X509Certificate.parse(new TextEncoder().encode(v.pem)).der, cert.der);
  });

  test('a flipped signature bit fails verification', () => {
    const der = hexToBytes(pkiVector('pki-x509_certificate-selfsigned').der);
    der[der.length - 5] ^= 1;
    const cert = X509Certificate.fromDer(der);
    assert.equal(cert.verify(cert), false);
  });

  test('CSR parses and its proof of possession verifies', () => {
    const v = pkiVector('pki-pkcs10_csr-selfsigned');
    const req = CertificateRequest.parse(v.pem);
    assert.deepEqual(req.tbs, hexToBytes(v.tbs));
    assert.equal(req.subjectName, 'CN=SM2 CSR,O=Test,C=CN');
    assert.equal(req.verify(), true);
    const bad = hexToBytes(v.der);
    bad[bad.length - 3] ^= 0x40;
    assert.equal(CertificateRequest.parse(bad).verify(), false);
  });
});

describe('certificates made here', () => {
  test('fields, extensions and UTF8String Chinese names round-trip', () => {
    const { root, ica, leaf } = hierarchy({
      leaf: {
        subjectAltName: { dns: ['server.example', 'www.server.example'], ip: ['127.0.0.1', '::1'], email: ['ops@example.cn'], uri: ['https://server.example/'] },
        crlDistributionPoints: ['http://ca.example/ica.crl'],
        authorityInfoAccess: { ocsp: ['http://ca.example/ocsp'], caIssuers: ['http://ca.example/ica.cer'] },
      },
    });
    assert.equal(root.subjectName, 'CN=测试根 CA,O=湘安测试,C=CN');
    assert.equal(root.selfIssued, true);
    assert.equal(ica.extensions.basicConstraints?.pathLen, 0);
    assert.deepEqual(ica.extensions.keyUsage, ['keyCertSign', 'cRLSign']);
    assert.deepEqual(leaf.extensions.keyUsage, ['digitalSignature', 'keyEncipherment']);
    assert.deepEqual(leaf.extensions.extKeyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.deepEqual(leaf.extensions.subjectAltName, {
      dns: ['server.example', 'www.server.example'],
      ip: ['127.0.0.1', '::1'],
      email: ['ops@example.cn'],
      uri: ['https://server.example/'],
    });
    assert.deepEqual(leaf.extensions.crlDistributionPoints, ['http://ca.example/ica.crl']);
    assert.deepEqual(leaf.extensions.authorityInfoAccess, { ocsp: ['http://ca.example/ocsp'], caIssuers: ['http://ca.example/ica.cer'] });
    assert.deepEqual(leaf.extensions.authorityKeyIdentifier, ica.extensions.subjectKeyIdentifier);
    assert.equal(leaf.serialNumber.length, 16);
    assert.equal(leaf.serialNumber[0] & 0x80, 0);
    assert.equal(leaf.verify(ica), true);
    assert.equal(leaf.verify(root), false);
    // What was built reads back the same through the strict parser.
    const again = X509Certificate.fromDer(leaf.der);
    assert.deepEqual(again.extensions, leaf.extensions);
    assert.deepEqual([again.subjectName, again.issuerName, again.serialHex, again.notBefore, again.notAfter], [leaf.subjectName, leaf.issuerName, leaf.serialHex, leaf.notBefore, leaf.notAfter]);
    assert.deepEqual(again.tbs, leaf.tbs);
  });

  test('openssl 3.0 parses them and verifies each link (distid on the end entity, see README)', () => {
    const { dir, cleanup } = tempDir();
    try {
      const { root, ica, leaf } = hierarchy();
      const r = put(dir, 'root.pem', root.toPem());
      const i = put(dir, 'ica.pem', ica.toPem());
      const l = put(dir, 'leaf.pem', leaf.toPem());
      assert.match(opensslOk(['verify', '-vfyopt', DISTID, '-CAfile', r, i]), /ica\.pem: OK/);
      assert.match(opensslOk(['verify', '-vfyopt', DISTID, '-partial_chain', '-CAfile', i, '-purpose', 'sslserver', l]), /leaf\.pem: OK/);
      const text = opensslOk(['x509', '-in', l, '-noout', '-text', '-nameopt', 'utf8']);
      assert.match(text, /Signature Algorithm: SM2-with-SM3/);
      assert.match(text, /ASN1 OID: SM2/);
      assert.match(text, /O=湘安测试/);
      assert.match(text, /DNS:server\.example/);
      // A wrong ID fails: the signature really uses the default ID.
      assert.notEqual(openssl(['verify', '-vfyopt', 'distid:1234567812345679', '-CAfile', r, i]).status, 0);
    } finally {
      cleanup();
    }
  });

  test('certificates and requests made by openssl parse and verify here', () => {
    const { dir, cleanup } = tempDir();
    try {
      opensslOk(['genpkey', '-algorithm', 'sm2', '-out', 'root.key'], { cwd: dir });
      opensslOk(
        ['req', '-x509', '-new', '-key', 'root.key', '-sm3', '-sigopt', DISTID, '-subj', '/C=CN/O=湘安/CN=OpenSSL Root', '-utf8', '-days', '30', '-out', 'root.pem',
          '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:1', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
        { cwd: dir },
      );
      opensslOk(['genpkey', '-algorithm', 'sm2', '-out', 'leaf.key'], { cwd: dir });
      opensslOk(['req', '-new', '-key', 'leaf.key', '-sm3', '-sigopt', DISTID, '-subj', '/CN=leaf.example', '-addext', 'subjectAltName=DNS:leaf.example', '-out', 'leaf.csr'], { cwd: dir });
      opensslOk(
        ['x509', '-req', '-in', 'leaf.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-sm3', '-sigopt', DISTID, '-vfyopt', DISTID, '-days', '10', '-set_serial', '0x7fa1',
          '-extfile', put(dir, 'ext.cnf', 'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:leaf.example\n'), '-out', 'leaf.pem'],
        { cwd: dir },
      );
      const fs = { read: (n: string) => openssl(['x509', '-in', `${dir}/${n}`]).stdout.toString() };
      const root = X509Certificate.fromPem(fs.read('root.pem'));
      const leaf = X509Certificate.fromPem(fs.read('leaf.pem'));
      assert.equal(root.subjectName, 'CN=OpenSSL Root,O=湘安,C=CN');
      assert.equal(root.extensions.basicConstraints?.pathLen, 1);
      assert.equal(root.verify(root), true);
      assert.equal(leaf.verify(root), true);
      assert.equal(leaf.serialHex, '7fa1');
      assert.deepEqual(leaf.extensions.subjectAltName?.dns, ['leaf.example']);
      const req = CertificateRequest.parse(openssl(['req', '-in', `${dir}/leaf.csr`]).stdout.toString());
      assert.equal(req.verify(), true);
      assert.deepEqual(req.requestedExtensions.subjectAltName?.dns, ['leaf.example']);
      const r = validatePath(leaf, { trustAnchors: [root], time: new Date(), purpose: 'serverAuth' });
      assert.equal(r.ok, true, r.ok ? '' : r.message);
    } finally {
      cleanup();
    }
  });

  test('requests made here pass openssl req -verify', () => {
    const { dir, cleanup } = tempDir();
    try {
      const { signer } = sm2Pair();
      const req = createCsr({ subject: '/C=CN/O=湘安/CN=终端', signer, subjectAltName: { dns: ['device.example'] }, extensions: { keyUsage: ['digitalSignature'] } });
      assert.equal(req.verify(), true);
      assert.deepEqual(req.requestedExtensions.keyUsage, ['digitalSignature']);
      const p = put(dir, 'req.pem', req.toPem());
      assert.match(opensslOk(['req', '-in', p, '-noout', '-verify', '-vfyopt', DISTID]), /verify OK/);
      assert.match(opensslOk(['req', '-in', p, '-noout', '-text', '-nameopt', 'utf8']), /DNS:device\.example/);
    } finally {
      cleanup();
    }
  });
});

describe('mixed chains: RSA, ECDSA P-256 and Ed25519 through node:crypto', () => {
  for (const [name, gen] of [
    ['RSA-2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ['ECDSA P-256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    ['Ed25519', () => generateKeyPairSync('ed25519')],
  ] as const) {
    test(`${name} root over an SM2 leaf, checked by openssl too`, () => {
      const { dir, cleanup } = tempDir();
      try {
        const rootSigner = nodeSigner(gen().privateKey);
        const now = Date.now();
        const root = createCertificate({
          subject: `/CN=${name} root`,
          publicKey: rootSigner.publicKey,
          signer: rootSigner,
          notBefore: new Date(now - DAY),
          notAfter: new Date(now + DAY),
          basicConstraints: { ca: true },
          keyUsage: ['keyCertSign', 'cRLSign'],
        });
        const { signer } = sm2Pair();
        const leaf = createCertificate({
          subject: '/CN=sm2 leaf',
          publicKey: signer.publicKey,
          issuer: root,
          signer: rootSigner,
          notBefore: new Date(now - DAY),
          notAfter: new Date(now + DAY),
          keyUsage: ['digitalSignature'],
        });
        assert.equal(root.verify(root), true);
        assert.equal(leaf.verify(root), true);
        assert.equal(validatePath(leaf, { trustAnchors: [root], time: new Date(), purpose: 'sign' }).ok, true);
        // OpenSSL checks the RSA/ECDSA/EdDSA signature over our TBS.
        const r = put(dir, 'root.pem', root.toPem());
        assert.match(opensslOk(['verify', '-check_ss_sig', '-CAfile', r, put(dir, 'leaf.pem', leaf.toPem())]), /OK/);
      } finally {
        cleanup();
      }
    });
  }

  test('an openssl-made ECDSA P-256 chain verifies here', () => {
    const { dir, cleanup } = tempDir();
    try {
      opensslOk(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-subj', '/CN=ec root', '-days', '2', '-out', 'ca.pem'], { cwd: dir });
      const root = X509Certificate.fromPem(openssl(['x509', '-in', `${dir}/ca.pem`]).stdout.toString());
      assert.equal(root.publicKey.kind, 'ec-p256');
      assert.equal(root.verify(root), true);
    } finally {
      cleanup();
    }
  });
});

describe('creation refuses misuse', () => {
  test('a signer that is not the issuer key', () => {
    const { root } = hierarchy();
    const other = sm2Pair();
    assert.throws(
      () => createCertificate({ subject: '/CN=x', publicKey: other.signer.publicKey, issuer: root, signer: other.signer, notBefore: new Date(), notAfter: new Date() }),
      (e: unknown) => e instanceof PkiError && e.code === 'PKI_ERR_KEY_MISMATCH',
    );
  });
  test('bad arguments are TypeError/RangeError', () => {
    const { signer } = sm2Pair();
    const base = { publicKey: signer.publicKey, signer, notBefore: new Date(), notAfter: new Date(Date.now() + DAY) };
    assert.throws(() => createCertificate({ ...base, subject: 'CN=no slash' }), RangeError);
    assert.throws(() => createCertificate({ ...base, subject: '/C=China/CN=x' }), RangeError);
    assert.throws(() => createCertificate({ ...base, subject: '/CN=x', basicConstraints: { ca: false, pathLen: 1 } }), RangeError);
    assert.throws(() => createCertificate({ ...base, subject: '/CN=x', serialNumber: Uint8Array.of(0x80) }), RangeError);
    assert.throws(() => X509Certificate.fromDer('x' as unknown as Uint8Array), TypeError);
  });
});

test('an ECDSA P-256 request made here passes openssl req -verify; its key is certified by an SM2 CA', () => {
  const { dir, cleanup } = tempDir();
  try {
    const signer = nodeSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const req = createCsr({ subject: '/CN=ecdsa device', signer, subjectAltName: { ip: ['10.0.0.8'] } });
    assert.equal(req.publicKey.kind, 'ec-p256');
    assert.equal(req.verify(), true);
    assert.match(opensslOk(['req', '-in', put(dir, 'ec.csr', req.toPem()), '-noout', '-verify']), /verify OK/);
    const { ica, ik } = hierarchy();
    const cert = createCertificate({ subject: req.subject, publicKey: req.spki, issuer: ica, signer: ik.signer, notBefore: new Date(), notAfter: new Date(Date.now() + DAY) });
    assert.equal(cert.subjectName, 'CN=ecdsa device');
    assert.equal(cert.verify(ica), true);
  } finally {
    cleanup();
  }
});

test('a certificate with a key algorithm we do not verify (RSA-PSS) parses; checking it is PKI_ERR_UNSUPPORTED_ALGORITHM', () => {
  const { dir, cleanup } = tempDir();
  try {
    opensslOk(['req', '-x509', '-newkey', 'rsa-pss', '-pkeyopt', 'rsa_keygen_bits:2048', '-nodes', '-keyout', 'k.pem', '-subj', '/CN=pss', '-days', '2', '-out', 'c.pem'], { cwd: dir });
    const cert = X509Certificate.fromPem(openssl(['x509', '-in', `${dir}/c.pem`]).stdout.toString());
    assert.equal(cert.publicKey.kind, 'unknown');
    assert.equal(cert.publicKey.algorithm, '1.2.840.113549.1.1.10');
    assert.throws(() => cert.verify(cert), (e: unknown) => e instanceof PkiError && e.code === 'PKI_ERR_UNSUPPORTED_ALGORITHM');
    const { leaf } = hierarchy();
    const r = validatePath(cert, { trustAnchors: [leaf], time: new Date() });
    assert.equal(r.ok ? 'ok' : r.code, 'PKI_ERR_UNKNOWN_ISSUER');
  } finally {
    cleanup();
  }
});

test('certificates OpenSSL 3.0 signed without -sigopt distid (empty SM2 ID) validate only when that ID is accepted', () => {
  const { dir, cleanup } = tempDir();
  try {
    opensslOk(['genpkey', '-algorithm', 'sm2', '-out', 'ca.key'], { cwd: dir });
    opensslOk(['req', '-x509', '-new', '-key', 'ca.key', '-sm3', '-subj', '/CN=no distid CA', '-days', '5', '-out', 'ca.pem',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { cwd: dir });
    opensslOk(['genpkey', '-algorithm', 'sm2', '-out', 'l.key'], { cwd: dir });
    opensslOk(['req', '-new', '-key', 'l.key', '-sm3', '-subj', '/CN=no distid leaf', '-out', 'l.csr'], { cwd: dir });
    opensslOk(['x509', '-req', '-in', 'l.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-sm3', '-days', '2', '-set_serial', '77', '-out', 'l.pem'], { cwd: dir });
    // OpenSSL itself accepts this chain with its defaults.
    assert.match(opensslOk(['verify', '-CAfile', `${dir}/ca.pem`, `${dir}/l.pem`]), /OK/);
    const ca = X509Certificate.parse(openssl(['x509', '-in', `${dir}/ca.pem`]).stdout.toString());
    const leaf = X509Certificate.parse(openssl(['x509', '-in', `${dir}/l.pem`]).stdout.toString());
    const strict = validatePath(leaf, { trustAnchors: [ca], time: new Date() });
    assert.equal(strict.ok ? 'ok' : strict.code, 'PKI_ERR_BAD_SIGNATURE');
    assert.equal(validatePath(leaf, { trustAnchors: [ca], time: new Date(), sm2Ids: [SM2_DEFAULT_ID, SM2_OPENSSL_EMPTY_ID] }).ok, true);
    assert.equal(leaf.verify(ca, { sm2Id: SM2_OPENSSL_EMPTY_ID }), true);
  } finally {
    cleanup();
  }
});
