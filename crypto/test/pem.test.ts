import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { CryptoError, pemEncode, pemDecode, pemDecodeAll, isPem, strictBase64ToBytes } from '../src/index.js';

const isEncodingError = (e: unknown): boolean => e instanceof CryptoError && e.code === 'CRYPTO_ERR_INVALID_ENCODING';

describe('PEM armour', () => {
  test('encodes 64-character lines that openssl reads back byte for byte', () => {
    const der = new Uint8Array(200).map((_, i) => i);
    const pem = pemEncode('PRIVATE KEY', der);
    const lines = pem.trimEnd().split('\n');
    assert.equal(lines[0], '-----BEGIN PRIVATE KEY-----');
    assert.equal(lines.at(-1), '-----END PRIVATE KEY-----');
    for (const l of lines.slice(1, -2)) assert.equal(l.length, 64);
    // openssl base64 -d is an independent decoder of the body.
    const body = lines.slice(1, -1).join('\n') + '\n';
    const back = execFileSync('openssl', ['base64', '-d'], { input: body });
    assert.deepEqual(new Uint8Array(back), der);
  });

  test('decodes openssl output, CRLF, surrounding text and several blocks', () => {
    const pem = execFileSync('openssl', ['genpkey', '-algorithm', 'SM2']).toString();
    const der = new Uint8Array(execFileSync('openssl', ['pkey', '-outform', 'DER'], { input: pem }));
    const block = pemDecode(pem, 'PRIVATE KEY');
    const sec1 = execFileSync('openssl', ['pkey', '-outform', 'DER'], { input: pemEncode('PRIVATE KEY', block.der) });
    assert.deepEqual(new Uint8Array(sec1), der);
    assert.deepEqual(pemDecode(pem.replace(/\n/g, '\r\n')).der, block.der);
    assert.deepEqual(pemDecode(`Bag Attributes\n  friendlyName: x\n${pem}trailing words\n`).der, block.der);
    const two = pemDecodeAll(pem + pemEncode('PUBLIC KEY', Uint8Array.of(1, 2, 3)));
    assert.deepEqual(two.map((b) => b.label), ['PRIVATE KEY', 'PUBLIC KEY']);
    assert.throws(() => pemDecode(pem + pem), isEncodingError);
    assert.ok(isPem(pem) && !isPem('hello'));
  });

  test('round-trips any bytes under any valid label', () => {
    const label = fc.constantFrom('PRIVATE KEY', 'EC PRIVATE KEY', 'SM2 PRIVATE KEY', 'X509 CRL', 'A-B');
    fc.assert(
      fc.property(label, fc.uint8Array({ maxLength: 500 }), (l, der) => {
        const b = pemDecode(pemEncode(l, der), l);
        assert.equal(b.label, l);
        assert.deepEqual(b.der, der);
      }),
    );
  });

  test('rejects malformed armour and non-strict base64', () => {
    const good = pemEncode('PUBLIC KEY', Uint8Array.of(1, 2, 3, 4));
    const bad = [
      '',
      'no pem here',
      good.replace('-----END PUBLIC KEY-----', '-----END PRIVATE KEY-----'),
      good.replace('-----END PUBLIC KEY-----\n', ''),
      good.replace('AQIDBA==', 'AQIDBA='),
      good.replace('AQIDBA==', 'AQIDBA'),
      good.replace('AQIDBA==', 'AQIDBR=='), // non-zero pad bits
      good.replace('AQIDBA==', 'AQ-DBA=='), // base64url alphabet
      good.replace('AQIDBA==', 'AQID*A=='),
      good.replace('-----BEGIN PUBLIC KEY-----', '-----BEGIN PUBLIC KEY----'),
    ];
    for (const t of bad) assert.throws(() => pemDecode(t), isEncodingError, JSON.stringify(t));
    assert.throws(() => pemDecode(good, 'PRIVATE KEY'), isEncodingError);
    assert.throws(
      () => pemDecode('-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END EC PRIVATE KEY-----\n'),
      (e: unknown) => e instanceof CryptoError && e.code === 'CRYPTO_ERR_UNSUPPORTED',
    );
    assert.throws(() => pemEncode('bad--label', Uint8Array.of(1)), TypeError);
    assert.throws(() => pemDecode(42 as unknown as string), TypeError);
    assert.throws(() => strictBase64ToBytes('AQI'), isEncodingError);
  });

  test('fuzz: arbitrary text yields blocks or typed errors only', () => {
    const good = pemEncode('PRIVATE KEY', new Uint8Array(48).fill(9));
    const text = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.tuple(fc.nat(good.length - 1), fc.string({ minLength: 1, maxLength: 3 })).map(([i, s]) => good.slice(0, i) + s + good.slice(i + 1)),
      fc.nat(good.length).map((n) => good.slice(0, n)),
    );
    fc.assert(
      fc.property(text, (t) => {
        try {
          pemDecodeAll(t);
        } catch (e) {
          if (!(e instanceof CryptoError)) throw e;
          assert.ok(['CRYPTO_ERR_INVALID_ENCODING', 'CRYPTO_ERR_UNSUPPORTED'].includes(e.code));
        }
      }),
      { numRuns: 2000 },
    );
  });
});
