import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import {
  CryptoError,
  bytesToHex,
  hexToBytes,
  derDecode,
  derReadElement,
  derReadSequence,
  derReadInteger,
  derReadUnsignedInteger,
  derReadUnsignedFixed,
  derReadOctetString,
  derReadBitString,
  derReadOid,
  derReadNull,
  derReadBoolean,
  derReadUtf8String,
  derReadPrintableString,
  derReadExplicit,
  derReadImplicit,
  derChildren,
  derSequence,
  derInteger,
  derUnsignedInteger,
  derOctetString,
  derBitString,
  derOid,
  derNull,
  derBoolean,
  derUtf8String,
  derPrintableString,
  derExplicit,
  derImplicit,
  derTlv,
  DER_TAG,
} from '../src/index.js';

function isAsn1Error(e: unknown): boolean {
  return e instanceof CryptoError && e.code === 'CRYPTO_ERR_ASN1';
}

const rejects = (hex: string, why: string): void => {
  assert.throws(() => derDecode(hexToBytes(hex)), isAsn1Error, why);
};

describe('DER writer and reader', () => {
  test('integers: minimal two\'s complement, known encodings from X.690 §8.3', () => {
    const cases: [bigint, string][] = [
      [0n, '020100'],
      [127n, '02017f'],
      [128n, '02020080'],
      [256n, '02020100'],
      [-1n, '0201ff'],
      [-128n, '020180'],
      [-129n, '0202ff7f'],
    ];
    for (const [v, hex] of cases) {
      assert.equal(bytesToHex(derInteger(v)), hex);
      assert.equal(derReadInteger(derDecode(hexToBytes(hex))), v);
    }
  });

  test('unsigned integers keep leading-zero correctness for 32-byte scalars', () => {
    const r = hexToBytes('000589' + '11'.repeat(29));
    const enc = derUnsignedInteger(r);
    assert.equal(bytesToHex(enc).slice(0, 8), '021f0589'); // leading 0x00 byte dropped
    assert.deepEqual(derReadUnsignedFixed(derDecode(enc), 32), r);
    const high = hexToBytes('ff'.repeat(32));
    const encHigh = derUnsignedInteger(high);
    assert.equal(bytesToHex(encHigh).slice(0, 6), '022100'); // sign byte added
    assert.deepEqual(derReadUnsignedFixed(derDecode(encHigh), 32), high);
    assert.deepEqual(derReadUnsignedInteger(derDecode(derUnsignedInteger(new Uint8Array(32)))), Uint8Array.of(0));
    assert.throws(() => derReadUnsignedFixed(derDecode(derUnsignedInteger(new Uint8Array(33).fill(1))), 32), isAsn1Error);
    assert.throws(() => derReadUnsignedInteger(derDecode(derInteger(-5n))), isAsn1Error);
  });

  test('OIDs round-trip and match known encodings', () => {
    assert.equal(bytesToHex(derOid('1.2.840.10045.2.1')), '06072a8648ce3d0201');
    assert.equal(bytesToHex(derOid('1.2.156.10197.1.301')), '06082a811ccf5501822d');
    for (const oid of ['2.999.3', '0.0', '1.3.6.1.4.1.311.21.20', '2.5.4.3', '1.2.156.10197.1.401.3.1']) {
      assert.equal(derReadOid(derDecode(derOid(oid))), oid);
    }
    assert.throws(() => derOid('1.40.1'), RangeError);
    assert.throws(() => derOid('3.1'), TypeError);
    assert.throws(() => derOid('1.02.3'), TypeError);
  });

  test('other universal types', () => {
    assert.equal(derReadBoolean(derDecode(derBoolean(true))), true);
    assert.equal(derReadBoolean(derDecode(derBoolean(false))), false);
    assert.equal(derReadNull(derDecode(derNull())), null);
    assert.deepEqual(derReadOctetString(derDecode(derOctetString(Uint8Array.of(1, 2)))), Uint8Array.of(1, 2));
    assert.deepEqual(derReadBitString(derDecode(derBitString(Uint8Array.of(4, 5)))), { bytes: Uint8Array.of(4, 5), unusedBits: 0 });
    assert.deepEqual(derReadBitString(derDecode(derBitString(Uint8Array.of(0x80), 7)), true), { bytes: Uint8Array.of(0x80), unusedBits: 7 });
    assert.throws(() => derReadBitString(derDecode(derBitString(Uint8Array.of(0x80), 7))), isAsn1Error);
    assert.equal(derReadUtf8String(derDecode(derUtf8String('湘安 SOC'))), '湘安 SOC');
    assert.equal(derReadPrintableString(derDecode(derPrintableString('CN'))), 'CN');
    assert.throws(() => derPrintableString('a*b'), RangeError);
  });

  test('context tags: explicit and implicit', () => {
    const ex = derDecode(derExplicit(0, derOid('1.2.156.10197.1.301')));
    assert.equal(ex.tag, 0xa0);
    assert.equal(derReadOid(derReadExplicit(ex, 0)), '1.2.156.10197.1.301');
    assert.throws(() => derReadExplicit(ex, 1), isAsn1Error);
    const im = derDecode(derImplicit(1, derBitString(Uint8Array.of(9))));
    assert.equal(im.tag, 0x81);
    assert.deepEqual(derReadBitString(derReadImplicit(im, 1, DER_TAG.BIT_STRING)).bytes, Uint8Array.of(9));
    const imSeq = derDecode(derImplicit(2, derSequence(derNull())));
    assert.equal(imSeq.tag, 0xa2);
    assert.equal(derReadSequence(derReadImplicit(imSeq, 2, DER_TAG.SEQUENCE), 1).length, 1);
  });

  test('long lengths use the minimal long form', () => {
    for (const n of [127, 128, 255, 256, 65535, 65536]) {
      const enc = derOctetString(new Uint8Array(n));
      const el = derDecode(enc);
      assert.equal(el.content.length, n);
    }
    assert.equal(bytesToHex(derOctetString(new Uint8Array(128)).subarray(0, 3)), '048180');
  });

  test('sequence element counts are checked', () => {
    const seq = derDecode(derSequence(derInteger(1), derInteger(2)));
    assert.equal(derReadSequence(seq, 2).length, 2);
    assert.equal(derReadSequence(seq, [1, 3]).length, 2);
    assert.throws(() => derReadSequence(seq, 3), isAsn1Error);
    assert.throws(() => derReadSequence(derDecode(derNull())), isAsn1Error);
  });
});

describe('DER strictness: BER-isms and malformed input are CRYPTO_ERR_ASN1', () => {
  test('negative cases', () => {
    rejects('3080020101' + '0000', 'indefinite length');
    rejects('04810100', 'long form for a short length');
    rejects('0482000100', 'leading zero in long length');
    rejects('0485000000000100', 'length of length > 4');
    rejects('02020001', 'non-minimal positive integer');
    rejects('0202ff80', 'non-minimal negative integer');
    rejects('0200', 'empty integer');
    rejects('010101', 'BOOLEAN not 0x00/0xFF');
    rejects('050100', 'NULL with content');
    rejects('03020101', 'BIT STRING unused bits not zero');
    rejects('030108', 'BIT STRING with 8 unused bits');
    rejects('0301', 'truncated');
    rejects('0603808001', 'OID with 0x80 leading subidentifier');
    rejects('06022a86', 'OID truncated');
    rejects('0600', 'empty OID');
    rejects('020101ff', 'trailing byte');
    rejects('1f2001ff', 'multi-byte tag');
    rejects('2403040100', 'constructed OCTET STRING (BER)');
    rejects('1000', 'primitive SEQUENCE');
    rejects('0000', 'end-of-contents');
    rejects('3003020201', 'child overruns parent');
    rejects('', 'empty input');
  });

  test('nesting depth is bounded', () => {
    let deep = derNull();
    for (let i = 0; i < 40; i++) deep = derSequence(deep);
    assert.throws(() => derDecode(deep), isAsn1Error);
    assert.doesNotThrow(() => derDecode(deep, 64));
  });

  test('misuse is TypeError/RangeError', () => {
    assert.throws(() => derDecode('30' as unknown as Uint8Array), TypeError);
    assert.throws(() => derTlv(0x1f, new Uint8Array()), RangeError);
    assert.throws(() => derExplicit(31, derNull()), RangeError);
    assert.throws(() => derInteger(1.5), RangeError);
    assert.throws(() => derBitString(Uint8Array.of(1), 1), RangeError);
  });
});

describe('DER property tests', () => {
  test('integers round-trip', () => {
    fc.assert(fc.property(fc.bigInt({ min: -(1n << 300n), max: 1n << 300n }), (v) => derReadInteger(derDecode(derInteger(v))) === v));
  });

  test('unsigned fixed-width values round-trip with leading zeros', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat(32), (b, zeros) => {
        const v = b.slice();
        v.fill(0, 0, zeros);
        assert.deepEqual(derReadUnsignedFixed(derDecode(derUnsignedInteger(v)), 32), v);
      }),
    );
  });

  test('OIDs round-trip', () => {
    const oid = fc
      .tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 39 }), fc.array(fc.bigInt({ min: 0n, max: 1n << 70n }), { maxLength: 8 }))
      .map(([a, b, rest]) => [a, b, ...rest].join('.'));
    fc.assert(fc.property(oid, (s) => derReadOid(derDecode(derOid(s))) === s));
  });

  test('a re-encoded decoded tree equals its input (DER is canonical)', () => {
    const leaf = fc.oneof(
      fc.bigInt().map((v) => derInteger(v)),
      fc.uint8Array({ maxLength: 300 }).map((b) => derOctetString(b)),
      fc.boolean().map((b) => derBoolean(b)),
      fc.constant(derNull()),
    );
    const tree = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('node') as fc.Arbitrary<Uint8Array>, { maxLength: 4 }).map((k) => derSequence(...k))),
    })).node as fc.Arbitrary<Uint8Array>;
    fc.assert(
      fc.property(tree, (enc) => {
        const el = derDecode(enc);
        const rebuild = (e: ReturnType<typeof derDecode>): Uint8Array =>
          e.constructed ? derTlv(e.tag, new Uint8Array(derChildren(e).flatMap((c) => [...rebuild(c)]))) : derTlv(e.tag, e.content);
        assert.deepEqual(rebuild(el), enc);
      }),
    );
  });

  test('random and mutated bytes give only CRYPTO_ERR_ASN1', () => {
    const valid = derSequence(derInteger(0), derSequence(derOid('1.2.840.10045.2.1'), derOid('1.2.156.10197.1.301')), derOctetString(new Uint8Array(40).fill(7)));
    const inputs = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })).map(([i, b]) => {
        const m = valid.slice();
        m[i] = b;
        return m;
      }),
      fc.nat(valid.length).map((n) => valid.slice(0, n)),
    );
    fc.assert(
      fc.property(inputs, (b) => {
        try {
          const el = derDecode(b);
          if (el.constructed) derChildren(el);
        } catch (e) {
          if (!isAsn1Error(e)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('DER interoperability with openssl asn1parse', () => {
  test('openssl reads what we write', () => {
    const der = derSequence(
      derInteger(-129n),
      derUnsignedInteger(hexToBytes('ff'.repeat(32))),
      derOid('1.2.156.10197.1.301'),
      derBoolean(true),
      derNull(),
      derOctetString(new Uint8Array(200)),
      derBitString(Uint8Array.of(0xa0), 5),
      derUtf8String('湘安'),
      derPrintableString('CN'),
      derExplicit(3, derInteger(7)),
    );
    const out = execFileSync('openssl', ['asn1parse', '-inform', 'DER'], { input: der }).toString();
    assert.match(out, /INTEGER\s+:-81/i);
    assert.match(out, /INTEGER\s+:(FF){32}\n/);
    assert.match(out, /OBJECT\s+:sm2/);
    assert.match(out, /BOOLEAN\s+:255/);
    assert.match(out, /NULL/);
    assert.match(out, /l= 200 prim: OCTET STRING/);
    assert.match(out, /UTF8STRING\s+:/);
    assert.match(out, /PRINTABLESTRING\s+:CN/);
    assert.match(out, /cont \[ 3 \]/);
    assert.doesNotThrow(() => derDecode(der));
  });

  test('we read what openssl writes (its DER of an SM2 key)', () => {
    const pem = execFileSync('openssl', ['genpkey', '-algorithm', 'SM2']).toString();
    const der = execFileSync('openssl', ['pkcs8', '-topk8', '-nocrypt', '-outform', 'DER'], { input: pem });
    const top = derDecode(new Uint8Array(der));
    const [ver, alg] = derReadSequence(top, 3);
    assert.equal(derReadInteger(ver), 0n);
    const [a, c] = derReadSequence(alg, 2);
    assert.equal(derReadOid(a), '1.2.840.10045.2.1');
    assert.equal(derReadOid(c), '1.2.156.10197.1.301');
    assert.equal(derReadElement(new Uint8Array(der), 0).next, der.length);
  });
});
