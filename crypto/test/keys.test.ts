import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  CryptoError,
  bytesToHex,
  hexToBytes,
  bytesToBase64,
  Sm2PrivateKey,
  Sm2PublicKey,
  importSm2PrivateKey,
  importSm2PublicKey,
  sm2PrivateKeyToPkcs8,
  sm2PrivateKeyToSec1,
  sm2PrivateKeyToPem,
  sm2PrivateKeyToEncryptedPkcs8,
  sm2PrivateKeyToJwk,
  sm2PublicKeyToSpki,
  sm2PublicKeyToPem,
  sm2PublicKeyToJwk,
  parseEncryptedPkcs8,
  encodeEncryptedPkcs8,
  decryptPkcs8,
  pemEncode,
  pemDecode,
  derSequence,
  derInteger,
  derOctetString,
  derOid,
  derExplicit,
  derBitString,
  derImplicit,
  derNull,
  KEY_OIDS,
} from '../src/index.js';


const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const shared = process.env.XIANGAN_SHARED ?? join(root, '..', 'shared');

interface KeyVector {
  id: string;
  format?: string;
  der?: string;
  pem?: string;
  expected_private_key?: string;
  expected_public_key?: string;
}
const keyVectors = (JSON.parse(readFileSync(join(shared, 'vectors', 'sm2-keys-pki.json'), 'utf8')) as { vectors: KeyVector[] }).vectors.filter(
  (v) => v.id.startsWith('key-'),
);

const openssl = (args: string[], input?: Uint8Array | string): Buffer => execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] });

/** priv and pub as printed by `openssl pkey -text` (hex with colons). */
function opensslKeyText(pem: string, pubOnly = false): { priv?: bigint; pub: string } {
  const text = openssl(['pkey', ...(pubOnly ? ['-pubin'] : []), '-text', '-noout'], pem).toString();
  const grab = (label: string): string | undefined => {
    const m = new RegExp(`${label}:\\n((?:\\s+[0-9a-f:]+\\n)+)`).exec(text);
    return m ? m[1].replace(/[\s:]/g, '') : undefined;
  };
  const priv = grab('priv');
  const pub = grab('pub');
  assert.ok(pub, `no pub in openssl output:\n${text}`);
  assert.match(text, /ASN1 OID: SM2/);
  return priv === undefined ? { pub } : { priv: BigInt(`0x${priv}`), pub };
}

const codeOf = (e: unknown): string => (e instanceof CryptoError ? e.code : `not a CryptoError: ${String(e)}`);
const PARSER_CODES = new Set([
  'CRYPTO_ERR_KEY_FORMAT',
  'CRYPTO_ERR_ASN1',
  'CRYPTO_ERR_INVALID_ENCODING',
  'CRYPTO_ERR_KEY_DECRYPT',
  'CRYPTO_ERR_UNSUPPORTED',
  'CRYPTO_ERR_SM2_INVALID_POINT',
  'CRYPTO_ERR_SM2_INVALID_PRIVATE_KEY',
]);

describe('shared vectors (sm2-keys-pki.json)', () => {
  test('there are key vectors', () => assert.ok(keyVectors.length >= 4));
  for (const v of keyVectors) {
    test(v.id, () => {
      const der = hexToBytes(v.der!);
      if (v.format === 'spki') {
        for (const input of [der, ...(v.pem ? [v.pem] : [])]) {
          assert.equal(bytesToHex(importSm2PublicKey(input).toBytes()), v.expected_public_key);
        }
        assert.equal(bytesToHex(sm2PublicKeyToSpki(importSm2PublicKey(der))), v.der);
        return;
      }
      for (const input of [der, ...(v.pem ? [v.pem] : [])]) {
        const key = importSm2PrivateKey(input);
        assert.equal(bytesToHex(key.toBytes()), v.expected_private_key);
        assert.equal(bytesToHex(key.publicKey.toBytes()), v.expected_public_key);
      }
      const key = importSm2PrivateKey(der);
      // Our writers produce OpenSSL's bytes exactly (the vectors were made and checked with it).
      if (v.id === 'key-pkcs8-ecpublickey-sm2') assert.equal(bytesToHex(sm2PrivateKeyToPkcs8(key)), v.der);
      if (v.format === 'sec1') assert.equal(bytesToHex(sm2PrivateKeyToSec1(key)), v.der);
      if (v.pem && v.format === 'pkcs8') assert.equal(sm2PrivateKeyToPem(key), v.pem);
    });
  }
});

describe('OpenSSL interoperability', () => {
  test('keys from `openssl genpkey -algorithm SM2` load (PKCS#8, SEC 1 and SPKI)', () => {
    for (let i = 0; i < 5; i++) {
      const pem = openssl(['genpkey', '-algorithm', 'SM2']).toString();
      const ref = opensslKeyText(pem);
      const key = importSm2PrivateKey(pem);
      assert.equal(BigInt(`0x${bytesToHex(key.toBytes())}`), ref.priv);
      assert.equal(bytesToHex(key.publicKey.toBytes()), ref.pub);
      const sec1Pem = openssl(['ec'], pem).toString();
      assert.match(sec1Pem, /BEGIN SM2 PRIVATE KEY/);
      assert.ok(importSm2PrivateKey(sec1Pem).publicKey.equals(key.publicKey));
      const sec1Der = new Uint8Array(openssl(['pkey', '-outform', 'DER'], pem));
      assert.ok(importSm2PrivateKey(sec1Der).publicKey.equals(key.publicKey));
      const pubPem = openssl(['pkey', '-pubout'], pem).toString();
      assert.ok(importSm2PublicKey(pubPem).equals(key.publicKey));
      const pubDer = new Uint8Array(openssl(['pkey', '-pubout', '-outform', 'DER'], pem));
      assert.ok(importSm2PublicKey(pubDer).equals(key.publicKey));
      assert.equal(sm2PublicKeyToPem(key.publicKey), pubPem);
    }
  });

  test('keys written here load in `openssl pkey` (PKCS#8, SEC 1, SPKI, PEM and DER)', () => {
    for (let i = 0; i < 5; i++) {
      const key = Sm2PrivateKey.generate();
      const d = BigInt(`0x${bytesToHex(key.toBytes())}`);
      const pub = bytesToHex(key.publicKey.toBytes());
      for (const pem of [sm2PrivateKeyToPem(key), sm2PrivateKeyToPem(key, { format: 'sec1' })]) {
        const ref = opensslKeyText(pem);
        assert.equal(ref.priv, d);
        assert.equal(ref.pub, pub);
      }
      const fromDer = openssl(['pkey', '-inform', 'DER', '-pubout'], sm2PrivateKeyToPkcs8(key)).toString();
      assert.equal(fromDer, sm2PublicKeyToPem(key.publicKey));
      assert.equal(opensslKeyText(sm2PublicKeyToPem(key.publicKey), true).pub, pub);
    }
  });

  test('encrypted PKCS#8: OpenSSL primitives decrypt ours, and we decrypt theirs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xiangan-keys-'));
    try {
      const key = Sm2PrivateKey.generate();
      const pass = 'pässwörd 湘安';
      const enc = sm2PrivateKeyToEncryptedPkcs8(key, pass, { iterations: 1000 });
      const asn1 = openssl(['asn1parse', '-inform', 'DER'], enc).toString();
      assert.match(asn1, /PBES2/);
      assert.match(asn1, /PBKDF2/);
      assert.match(asn1, /sm4-cbc/);
      // Decrypt with OpenSSL's own PBKDF2-HMAC-SM3 and SM4-CBC, then load with `openssl pkey`.
      const p = parseEncryptedPkcs8(enc);
      assert.equal(p.prf, KEY_OIDS.HMAC_SM3);
      const kdfOut = openssl(['kdf', '-keylen', '16', '-kdfopt', 'digest:SM3', '-kdfopt', `pass:${pass}`, '-kdfopt', `hexsalt:${bytesToHex(p.salt)}`, '-kdfopt', `iter:${p.iterations}`, 'PBKDF2']);
      const k = kdfOut.toString().trim().replace(/:/g, '').toLowerCase();
      writeFileSync(join(dir, 'ct'), p.ciphertext);
      const plain = openssl(['enc', '-d', '-sm4-cbc', '-K', k, '-iv', bytesToHex(p.iv), '-in', join(dir, 'ct')]);
      assert.equal(openssl(['pkey', '-inform', 'DER', '-pubout'], plain).toString(), sm2PublicKeyToPem(key.publicKey));
      // The other way: OpenSSL derives and encrypts, we wrap the result and import it.
      const pkcs8 = sm2PrivateKeyToPkcs8(key);
      writeFileSync(join(dir, 'pt'), pkcs8);
      const salt = '0123456789abcdef0123456789abcdef';
      const iv = 'fedcba9876543210fedcba9876543210';
      const k2 = openssl(['kdf', '-keylen', '16', '-kdfopt', 'digest:SM3', '-kdfopt', 'pass:other', '-kdfopt', `hexsalt:${salt}`, '-kdfopt', 'iter:777', 'PBKDF2'])
        .toString()
        .trim()
        .replace(/:/g, '');
      const ct = new Uint8Array(openssl(['enc', '-e', '-sm4-cbc', '-K', k2, '-iv', iv, '-in', join(dir, 'pt')]));
      const wrapped = encodeEncryptedPkcs8({ salt: hexToBytes(salt), iterations: 777, iv: hexToBytes(iv), ciphertext: ct });
      const back = importSm2PrivateKey(pemEncode('ENCRYPTED PRIVATE KEY', wrapped), { passphrase: 'other' });
      assert.ok(back.publicKey.equals(key.publicKey));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('OpenSSL 3.0 encrypted keys (hmacWithSHA256 PRF) are refused as unsupported, not crashed on', () => {
    const pem = openssl(['genpkey', '-algorithm', 'SM2']).toString();
    const enc = openssl(['pkcs8', '-topk8', '-v2', 'sm4-cbc', '-passout', 'pass:x'], pem).toString();
    assert.throws(() => importSm2PrivateKey(enc, { passphrase: 'x' }), (e) => codeOf(e) === 'CRYPTO_ERR_UNSUPPORTED');
  });

  test('keys on other curves are refused as unsupported', () => {
    const p256 = openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']).toString();
    assert.throws(() => importSm2PrivateKey(p256), (e) => codeOf(e) === 'CRYPTO_ERR_UNSUPPORTED');
    assert.throws(() => importSm2PublicKey(openssl(['pkey', '-pubout'], p256).toString()), (e) => codeOf(e) === 'CRYPTO_ERR_UNSUPPORTED');
    const explicit = openssl(['pkey', '-pubout'], openssl(['ec', '-param_enc', 'explicit'], openssl(['genpkey', '-algorithm', 'SM2']))).toString();
    assert.throws(() => importSm2PublicKey(explicit), (e) => codeOf(e) === 'CRYPTO_ERR_UNSUPPORTED');
  });
});

describe('encrypted PKCS#8', () => {
  const key = Sm2PrivateKey.generate();

  test('round trip, PEM and DER, string and byte passphrases', () => {
    const pem = sm2PrivateKeyToPem(key, { passphrase: 'pw', iterations: 500 });
    assert.match(pem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    assert.ok(importSm2PrivateKey(pem, { passphrase: 'pw' }).publicKey.equals(key.publicKey));
    assert.ok(importSm2PrivateKey(pem, { passphrase: new TextEncoder().encode('pw') }).publicKey.equals(key.publicKey));
    const der = sm2PrivateKeyToEncryptedPkcs8(key, 'pw', { iterations: 500 });
    assert.ok(importSm2PrivateKey(der, { passphrase: 'pw' }).publicKey.equals(key.publicKey));
  });

  test('wrong or missing passphrase and corrupt data are CRYPTO_ERR_KEY_DECRYPT', () => {
    const der = sm2PrivateKeyToEncryptedPkcs8(key, 'pw', { iterations: 200 });
    assert.throws(() => importSm2PrivateKey(der, { passphrase: 'wrong' }), (e) => codeOf(e) === 'CRYPTO_ERR_KEY_DECRYPT');
    assert.throws(() => importSm2PrivateKey(der), (e) => codeOf(e) === 'CRYPTO_ERR_KEY_DECRYPT');
    const p = parseEncryptedPkcs8(der);
    for (let i = 0; i < 10; i++) {
      const ct = p.ciphertext.slice();
      ct[ct.length - 1 - i] ^= 0x40;
      const bad = encodeEncryptedPkcs8({ ...p, ciphertext: ct });
      assert.throws(() => importSm2PrivateKey(bad, { passphrase: 'pw' }), (e) => PARSER_CODES.has(codeOf(e)));
    }
    assert.throws(() => decryptPkcs8(der, 'nope'), (e) => codeOf(e) === 'CRYPTO_ERR_KEY_DECRYPT');
  });

  test('hostile iteration counts are refused before any work', () => {
    const p = parseEncryptedPkcs8(sm2PrivateKeyToEncryptedPkcs8(key, 'pw', { iterations: 1 }));
    const huge = encodeEncryptedPkcs8({ ...p, iterations: 2 ** 40 });
    assert.throws(() => importSm2PrivateKey(huge, { passphrase: 'pw' }), (e) => codeOf(e) === 'CRYPTO_ERR_UNSUPPORTED');
    assert.throws(() => sm2PrivateKeyToEncryptedPkcs8(key, 'pw', { iterations: 0 }), RangeError);
  });

  test('the GmSSL hmacWithSM3 OID (1.2.156.10197.1.401.2) is accepted too', () => {
    const p = parseEncryptedPkcs8(sm2PrivateKeyToEncryptedPkcs8(key, 'pw', { iterations: 300 }));
    assert.equal(p.prf, KEY_OIDS.HMAC_SM3);
    // Rebuild the same structure with the other PRF OID (and its parameters absent).
    const kdfParams = derSequence(derOctetString(p.salt), derInteger(p.iterations), derSequence(derOid(KEY_OIDS.HMAC_SM3_ALT)));
    const alt = derSequence(
      derSequence(
        derOid(KEY_OIDS.PBES2),
        derSequence(derSequence(derOid(KEY_OIDS.PBKDF2), kdfParams), derSequence(derOid(KEY_OIDS.SM4_CBC), derOctetString(p.iv))),
      ),
      derOctetString(p.ciphertext),
    );
    assert.ok(bytesToHex(alt).includes(bytesToHex(derOid(KEY_OIDS.HMAC_SM3_ALT))));
    assert.ok(importSm2PrivateKey(alt, { passphrase: 'pw' }).publicKey.equals(key.publicKey));
  });
});

describe('JWK, raw and hex', () => {
  test('JWK round trip keeps leading zeros (RFC 7518 §6.2.1.2)', () => {
    for (let i = 0; i < 20; i++) {
      const key = Sm2PrivateKey.generate();
      const jwk = sm2PrivateKeyToJwk(key);
      assert.equal(jwk.kty, 'EC');
      assert.equal(jwk.crv, 'SM2');
      assert.equal(jwk.x.length, 43);
      assert.equal(jwk.d!.length, 43);
      assert.deepEqual(importSm2PrivateKey(jwk).toBytes(), key.toBytes());
      assert.deepEqual(importSm2PrivateKey(JSON.stringify(jwk)).toBytes(), key.toBytes());
      const pubJwk = sm2PublicKeyToJwk(key.publicKey);
      assert.equal(pubJwk.d, undefined);
      assert.ok(importSm2PublicKey(pubJwk).equals(key.publicKey));
      assert.throws(() => importSm2PrivateKey(pubJwk), (e) => codeOf(e) === 'CRYPTO_ERR_KEY_FORMAT');
    }
  });

  test('JWK of the GB/T 32918.5 key (x starts 09f9) matches the vector coordinates', () => {
    const v = keyVectors.find((k) => k.format === 'sec1')!;
    const jwk = sm2PrivateKeyToJwk(importSm2PrivateKey(hexToBytes(v.der!)));
    const pub = hexToBytes(v.expected_public_key!);
    assert.equal(jwk.x, bytesToBase64(pub.subarray(1, 33), true));
    assert.equal(jwk.y, bytesToBase64(pub.subarray(33), true));
    assert.equal(jwk.d, bytesToBase64(hexToBytes(v.expected_private_key!), true));
  });

  test('JWK errors are typed', () => {
    const good = sm2PrivateKeyToJwk(Sm2PrivateKey.generate());
    const cases: [unknown, string][] = [
      [{ ...good, crv: 'P-256' }, 'CRYPTO_ERR_UNSUPPORTED'],
      [{ ...good, kty: 'OKP' }, 'CRYPTO_ERR_UNSUPPORTED'],
      [{ ...good, kty: undefined }, 'CRYPTO_ERR_KEY_FORMAT'],
      [{ ...good, x: good.x + '=' }, 'CRYPTO_ERR_KEY_FORMAT'],
      [{ ...good, x: good.x.slice(1) }, 'CRYPTO_ERR_KEY_FORMAT'],
      [{ ...good, x: good.y }, 'CRYPTO_ERR_SM2_INVALID_POINT'],
      [{ ...good, d: 'A'.repeat(43) }, 'CRYPTO_ERR_SM2_INVALID_PRIVATE_KEY'],
      ['{not json', 'CRYPTO_ERR_KEY_FORMAT'],
      ['[1,2]', 'CRYPTO_ERR_KEY_FORMAT'],
    ];
    for (const [input, code] of cases) {
      assert.throws(() => importSm2PrivateKey(input as string), (e) => codeOf(e) === code, `${JSON.stringify(input)} → ${code}`);
    }
  });

  test('raw bytes and hex', () => {
    const key = Sm2PrivateKey.generate();
    assert.deepEqual(importSm2PrivateKey(key.toBytes()).toBytes(), key.toBytes());
    assert.deepEqual(importSm2PrivateKey(bytesToHex(key.toBytes())).toBytes(), key.toBytes());
    assert.ok(importSm2PublicKey(key.publicKey.toBytes()).equals(key.publicKey));
    assert.ok(importSm2PublicKey(key.publicKey.toBytes('compressed')).equals(key.publicKey));
    assert.ok(importSm2PublicKey(bytesToHex(key.publicKey.toBytes('compressed'))).equals(key.publicKey));
    assert.throws(() => importSm2PrivateKey(new Uint8Array(32)), (e) => codeOf(e) === 'CRYPTO_ERR_SM2_INVALID_PRIVATE_KEY');
    // Raw scalars that begin with the bytes of '-', '{' or white space are still raw scalars.
    for (const first of [0x2d, 0x7b, 0x20, 0x0a]) {
      const d = key.toBytes();
      d[0] = first;
      assert.deepEqual(importSm2PrivateKey(d).toBytes(), d);
    }
    assert.throws(() => importSm2PrivateKey('zz'), (e) => codeOf(e) === 'CRYPTO_ERR_KEY_FORMAT');
    assert.throws(() => importSm2PrivateKey(42 as unknown as string), TypeError);
  });
});

describe('structural checks', () => {
  const key = Sm2PrivateKey.generate();
  const other = Sm2PrivateKey.generate();

  test('a file whose public key does not match d is refused', () => {
    const forged = derSequence(
      derInteger(1),
      derOctetString(key.toBytes()),
      derExplicit(0, derOid(KEY_OIDS.SM2)),
      derExplicit(1, derBitString(other.publicKey.toBytes())),
    );
    assert.throws(() => importSm2PrivateKey(forged), (e) => codeOf(e) === 'CRYPTO_ERR_KEY_FORMAT');
    assert.throws(() => importSm2PrivateKey(pemEncode('EC PRIVATE KEY', forged)), (e) => codeOf(e) === 'CRYPTO_ERR_KEY_FORMAT');
  });

  test('PKCS#8 v2 (OneAsymmetricKey, RFC 5958) with the public key in [1] loads; a mismatching one does not', () => {
    const inner = derSequence(derInteger(1), derOctetString(key.toBytes()));
    const alg = derSequence(derOid(KEY_OIDS.EC_PUBLIC_KEY), derOid(KEY_OIDS.SM2));
    const v2 = (pub: Uint8Array): Uint8Array => derSequence(derInteger(1), alg, derOctetString(inner), derImplicit(1, derBitString(pub)));
    assert.ok(importSm2PrivateKey(v2(key.publicKey.toBytes())).publicKey.equals(key.publicKey));
    assert.throws(() => importSm2PrivateKey(v2(other.publicKey.toBytes())), (e) => codeOf(e) === 'CRYPTO_ERR_KEY_FORMAT');
    // v1 may not carry [1]; version 2 is unknown.
    const v1With = derSequence(derInteger(0), alg, derOctetString(inner), derImplicit(1, derBitString(key.publicKey.toBytes())));
    assert.throws(() => importSm2PrivateKey(v1With), (e) => codeOf(e) === 'CRYPTO_ERR_KEY_FORMAT');
    assert.throws(() => importSm2PrivateKey(derSequence(derInteger(2), alg, derOctetString(inner))), (e) => codeOf(e) === 'CRYPTO_ERR_KEY_FORMAT');
    // The variant with the sm2 OID as the algorithm and NULL or no parameters.
    for (const a of [derSequence(derOid(KEY_OIDS.SM2)), derSequence(derOid(KEY_OIDS.SM2), derNull())]) {
      assert.ok(importSm2PrivateKey(derSequence(derInteger(0), a, derOctetString(inner))).publicKey.equals(key.publicKey));
    }
  });

  test('a short (leading-zero-stripped) SEC 1 private key is left-padded', () => {
    let k = Sm2PrivateKey.generate();
    while (k.toBytes()[0] !== 0) k = Sm2PrivateKey.generate();
    const d = k.toBytes();
    const stripped = derSequence(derInteger(1), derOctetString(d.subarray(1)));
    assert.deepEqual(importSm2PrivateKey(stripped).toBytes(), d);
  });

  test('off-curve and infinity points in SPKI are refused (invalid-curve attack)', () => {
    const spki = sm2PublicKeyToSpki(key.publicKey);
    const off = spki.slice();
    off[off.length - 1] ^= 1;
    assert.throws(() => importSm2PublicKey(off), (e) => codeOf(e) === 'CRYPTO_ERR_SM2_INVALID_POINT');
    const inf = derSequence(derSequence(derOid(KEY_OIDS.EC_PUBLIC_KEY), derOid(KEY_OIDS.SM2)), derBitString(Uint8Array.of(0)));
    assert.throws(() => importSm2PublicKey(inf), (e) => codeOf(e) === 'CRYPTO_ERR_SM2_INVALID_POINT');
  });

  test('PEM labels are checked', () => {
    const pub = sm2PublicKeyToPem(key.publicKey);
    assert.throws(() => importSm2PrivateKey(pub), (e) => codeOf(e) === 'CRYPTO_ERR_INVALID_ENCODING');
    assert.throws(() => importSm2PublicKey(sm2PrivateKeyToPem(key)), (e) => codeOf(e) === 'CRYPTO_ERR_INVALID_ENCODING');
    assert.deepEqual(pemDecode(sm2PrivateKeyToPem(key, { format: 'sec1' })).label, 'EC PRIVATE KEY');
  });
});

describe('round trips (fast-check over scalars)', () => {
  test('every export format imports back to the same key', () => {
    const scalar = fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((d) => d.some((b) => b !== 0) && d[0] < 0xff);
    fc.assert(
      fc.property(scalar, fc.constantFrom('pkcs8', 'sec1', 'pkcs8-pem', 'sec1-pem', 'enc-pem', 'jwk', 'jwk-json', 'hex', 'raw'), (d, format) => {
        const key = Sm2PrivateKey.fromBytes(d);
        const exported: Record<string, () => Parameters<typeof importSm2PrivateKey>[0]> = {
          pkcs8: () => sm2PrivateKeyToPkcs8(key),
          sec1: () => sm2PrivateKeyToSec1(key),
          'pkcs8-pem': () => sm2PrivateKeyToPem(key),
          'sec1-pem': () => sm2PrivateKeyToPem(key, { format: 'sec1' }),
          'enc-pem': () => sm2PrivateKeyToPem(key, { passphrase: 'p', iterations: 1 }),
          jwk: () => sm2PrivateKeyToJwk(key),
          'jwk-json': () => JSON.stringify(sm2PrivateKeyToJwk(key)),
          hex: () => bytesToHex(key.toBytes()),
          raw: () => key.toBytes(),
        };
        const back = importSm2PrivateKey(exported[format](), { passphrase: 'p' });
        assert.deepEqual(back.toBytes(), d);
        for (const pub of [sm2PublicKeyToSpki(key.publicKey), sm2PublicKeyToPem(key.publicKey), sm2PublicKeyToJwk(key.publicKey), key.publicKey.toBytes('compressed')]) {
          assert.ok(importSm2PublicKey(pub).equals(key.publicKey));
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('fuzz: every parser throws only typed errors', () => {
  const key = Sm2PrivateKey.generate();
  const samples: Uint8Array[] = [
    sm2PrivateKeyToPkcs8(key),
    sm2PrivateKeyToSec1(key),
    sm2PublicKeyToSpki(key.publicKey),
    sm2PrivateKeyToEncryptedPkcs8(key, 'pw', { iterations: 1 }),
  ];
  const mutated = fc.tuple(fc.constantFrom(...samples), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat()).map(
    ([s, edits, cut]) => {
      const m = s.slice(0, s.length - (cut % 4 === 0 ? cut % s.length : 0));
      for (const [i, b] of edits) if (m.length) m[i % m.length] = b;
      return m;
    },
  );
  const check = (f: () => unknown): void => {
    try {
      f();
    } catch (e) {
      if (!PARSER_CODES.has(codeOf(e))) throw e;
    }
  };

  test('mutated DER', () => {
    fc.assert(
      fc.property(mutated, (b) => {
        check(() => importSm2PrivateKey(b, { passphrase: 'pw' }));
        check(() => importSm2PublicKey(b));
      }),
      { numRuns: 1500 },
    );
  });

  test('mutated PEM text and random bytes', () => {
    const pems = [sm2PrivateKeyToPem(key), sm2PrivateKeyToPem(key, { format: 'sec1' }), sm2PublicKeyToPem(key.publicKey)];
    const text = fc.oneof(
      fc.tuple(fc.constantFrom(...pems), fc.nat(), fc.string({ maxLength: 3 })).map(([p, i, s]) => p.slice(0, i % p.length) + s + p.slice((i % p.length) + 1)),
      fc.string(),
    );
    fc.assert(
      fc.property(text, fc.uint8Array({ maxLength: 200 }), (t, b) => {
        check(() => importSm2PrivateKey(t));
        check(() => importSm2PublicKey(t));
        check(() => importSm2PrivateKey(b));
        check(() => importSm2PublicKey(b));
      }),
      { numRuns: 1500 },
    );
  });

  test('JWK-shaped objects', () => {
    const jwk = sm2PrivateKeyToJwk(key);
    const obj = fc.record({
      kty: fc.oneof(fc.constant('EC'), fc.string(), fc.integer()),
      crv: fc.oneof(fc.constant('SM2'), fc.string()),
      x: fc.oneof(fc.constant(jwk.x), fc.string(), fc.constant(null)),
      y: fc.oneof(fc.constant(jwk.y), fc.string()),
      d: fc.oneof(fc.constant(jwk.d), fc.string(), fc.constant(undefined)),
    });
    fc.assert(
      fc.property(obj, (o) => {
        check(() => importSm2PrivateKey(o));
        check(() => importSm2PublicKey(o));
        check(() => importSm2PrivateKey(JSON.stringify(o)));
      }),
      { numRuns: 1000 },
    );
  });

  test('public keys from raw bytes in random positions are validated', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 65, maxLength: 65 }), (b) => {
        b[0] = 4;
        check(() => Sm2PublicKey.fromBytes(b));
        check(() => importSm2PublicKey(b));
      }),
      { numRuns: 300 },
    );
  });
});
