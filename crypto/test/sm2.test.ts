import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  CryptoError,
  Sm2KeyExchange,
  Sm2PrivateKey,
  Sm2PublicKey,
  bytesToHex,
  concatBytes,
  hexToBytes,
  sm2Decrypt,
  sm2Encrypt,
  sm2Sign,
  sm2SignDigest,
  sm2Verify,
  sm2VerifyDigest,
  sm2Za,
  sm3,
  utf8ToBytes,
} from '../src/index.js';
import { _sm2EncryptUnsafeK } from '../src/sm2/index.js';
import { _setSm2Backend, sm2Engine } from '../src/sm2/backend.js';
import { referenceEngine, type Sm2Engine } from '../src/sm2/engine.js';
import * as wasmModule from '../src/sm2/wasm.js';
import { wasmEngine } from '../src/sm2/wasm.js';
import { SM2P256V1, bigToBytes, bytesToBig, type CurveParams } from '../src/sm2/curve.js';
import { decryptParts, encryptParts, kxDerive, signDigest, za } from '../src/sm2/protocol.js';

const shared = process.env.XIANGAN_SHARED ?? resolve(fileURLToPath(import.meta.url), '../../../../../shared');

type Hexish = string | { repeat: string; count: number };
type Vec = Record<string, unknown> & { id: string; op: string; curve: string; kind: string; expect: string };
const sm2File = JSON.parse(readFileSync(join(shared, 'vectors', 'sm2.json'), 'utf8')) as {
  curves: Record<string, Record<string, string>>;
  vectors: Vec[];
};
const keysFile = JSON.parse(readFileSync(join(shared, 'vectors', 'sm2-keys-pki.json'), 'utf8')) as { vectors: Vec[] };

/** Hex field, or `{repeat, count}` expanded (vectors README, "Byte strings"). */
function hx(v: unknown): Uint8Array {
  const h = v as Hexish;
  if (typeof h === 'string') return hexToBytes(h);
  return hexToBytes(h.repeat.repeat(h.count));
}
const s = (v: Vec, k: string): string => v[k] as string;

function curveOf(name: string): CurveParams {
  const c = sm2File.curves[name];
  const big = (k: string) => BigInt('0x' + c[k]);
  return { name, p: big('p'), a: big('a'), b: big('b'), n: big('n'), gx: big('gx'), gy: big('gy') };
}

function isCryptoError(code?: string) {
  return (e: unknown) => e instanceof CryptoError && (code === undefined || e.code === code);
}

const N = SM2P256V1.n;
const byOp = (op: string, curve = 'sm2p256v1') => sm2File.vectors.filter((v) => v.op === op && v.curve === curve);

test('the vector file has the expected SM2 operations', () => {
  const ops = new Set(sm2File.vectors.map((v) => v.op));
  for (const op of ['sign', 'verify', 'encrypt', 'decrypt', 'key_exchange', 'point_compression']) assert.ok(ops.has(op), op);
  assert.equal(sm2File.vectors.filter((v) => v.kind === 'negative').length, 22);
});

for (const backend of ['wasm', 'reference'] as const) {
  describe(`SM2 on sm2p256v1 (${backend} backend)`, () => {
    before(() => _setSm2Backend(backend));
    after(() => _setSm2Backend('wasm'));

    test('backend switch is in effect', () => assert.equal(sm2Engine().name, backend));

    for (const v of byOp('sign')) {
      test(`sign vector ${v.id}`, () => {
        const key = Sm2PrivateKey.fromBytes(hx(v.private_key));
        assert.equal(bytesToHex(key.publicKey.toBytes()), s(v, 'public_key'));
        const id = hx(v.id_hex);
        const z = sm2Za(key.publicKey, id);
        assert.equal(bytesToHex(z), s(v, 'za'));
        const msg = hx(v.msg);
        const e = sm3(concatBytes(z, msg));
        assert.equal(bytesToHex(e), s(v, 'e'));
        const raw = sm2SignDigest(key, e, { format: 'raw', unsafeK: hx(v.k) });
        assert.equal(bytesToHex(raw), s(v, 'signature_raw'));
        const der = sm2SignDigest(key, e, { unsafeK: hx(v.k) });
        assert.equal(bytesToHex(der), s(v, 'signature_der'));
        assert.equal(sm2Verify(key.publicKey, msg, hx(v.signature_der), { id }), true);
        assert.equal(sm2Verify(key.publicKey, msg, hx(v.signature_raw), { id, format: 'raw' }), true);
        // A fresh (hedged) signature verifies too and differs from the fixed-k one.
        const fresh = sm2Sign(key, msg, { id, format: 'raw' });
        assert.equal(sm2Verify(key.publicKey, msg, fresh, { id, format: 'raw' }), true);
        assert.notEqual(bytesToHex(fresh), s(v, 'signature_raw'));
      });
    }

    for (const v of byOp('verify')) {
      test(`verify vector ${v.id} (${v.expect})`, () => {
        let ok: boolean;
        try {
          const pub = Sm2PublicKey.fromBytes(hx(v.public_key));
          const sig = v.signature_der !== undefined ? hx(v.signature_der) : hx(v.signature_raw);
          const format = v.signature_der !== undefined ? 'der' : 'raw';
          ok = sm2Verify(pub, hx(v.msg), sig, { id: hx(v.id_hex), format });
        } catch (e) {
          assert.ok(isCryptoError('CRYPTO_ERR_SM2_INVALID_POINT')(e), String(e));
          ok = false;
        }
        assert.equal(ok, v.expect === 'accept');
      });
    }

    for (const v of byOp('encrypt')) {
      test(`encrypt vector ${v.id}`, () => {
        const key = Sm2PrivateKey.fromBytes(hx(v.private_key));
        const pub = Sm2PublicKey.fromBytes(hx(v.public_key));
        const k = hx(v.k);
        const msg = hx(v.msg);
        assert.equal(bytesToHex(sm2Engine().mul(k, pub.toBytes().subarray(1))), s(v, 'x2') + s(v, 'y2'));
        assert.equal(bytesToHex(_sm2EncryptUnsafeK(pub, msg, k)), s(v, 'ciphertext_c1c3c2'));
        assert.equal(bytesToHex(_sm2EncryptUnsafeK(pub, msg, k, { order: 'c1c2c3' })), s(v, 'ciphertext_c1c2c3'));
        assert.equal(bytesToHex(_sm2EncryptUnsafeK(pub, msg, k, { encoding: 'der' })), s(v, 'ciphertext_der'));
        const compressed = _sm2EncryptUnsafeK(pub, msg, k, { pointFormat: 'compressed' });
        assert.equal(compressed.length, 33 + 32 + msg.length);
        assert.deepEqual(sm2Decrypt(key, compressed), msg);
        for (const order of ['c1c3c2', 'c1c2c3'] as const) {
          for (const encoding of ['raw', 'der'] as const) {
            assert.deepEqual(sm2Decrypt(key, sm2Encrypt(pub, msg, { order, encoding }), { order, encoding }), msg);
          }
        }
      });
    }

    for (const v of byOp('decrypt')) {
      test(`decrypt vector ${v.id} (${v.expect})`, () => {
        const key = Sm2PrivateKey.fromBytes(hx(v.private_key));
        const format = s(v, 'format');
        const opts = format === 'der' ? { encoding: 'der' as const } : { order: format as 'c1c3c2' | 'c1c2c3' };
        if (v.expect === 'accept') {
          assert.equal(bytesToHex(sm2Decrypt(key, hx(v.ciphertext), opts)), s(v, 'msg'));
        } else {
          assert.throws(() => sm2Decrypt(key, hx(v.ciphertext), opts), isCryptoError('CRYPTO_ERR_SM2_DECRYPT'));
        }
      });
    }

    for (const v of byOp('key_exchange')) {
      test(`key exchange vector ${v.id}`, () => {
        const A = v.initiator_A as Record<string, string>;
        const B = v.responder_B as Record<string, string>;
        const keyA = Sm2PrivateKey.fromBytes(hexToBytes(A.private_key));
        const keyB = Sm2PrivateKey.fromBytes(hexToBytes(B.private_key));
        const idA = utf8ToBytes(A.id_ascii);
        const idB = utf8ToBytes(B.id_ascii);
        assert.equal(bytesToHex(sm2Za(keyA.publicKey, idA)), A.z);
        assert.equal(bytesToHex(sm2Za(keyB.publicKey, idB)), B.z);
        const a = new Sm2KeyExchange({ role: 'initiator', privateKey: keyA, id: idA, unsafeEphemeral: hexToBytes(A.ephemeral_private) });
        const b = new Sm2KeyExchange({ role: 'responder', privateKey: keyB, id: idB, unsafeEphemeral: hexToBytes(B.ephemeral_private) });
        assert.equal(bytesToHex(a.ephemeralPublicKey.toBytes()), A.ephemeral_public);
        assert.equal(bytesToHex(b.ephemeralPublicKey.toBytes()), B.ephemeral_public);
        const klen = v.klen_bytes as number;
        const rb = b.derive({ publicKey: keyA.publicKey, ephemeralPublicKey: a.ephemeralPublicKey, id: idA }, klen);
        const ra = a.derive({ publicKey: keyB.publicKey, ephemeralPublicKey: b.ephemeralPublicKey, id: idB }, klen);
        assert.equal(bytesToHex(ra.key), s(v, 'key'));
        assert.equal(bytesToHex(rb.key), s(v, 'key'));
        assert.equal(bytesToHex(rb.confirmation), s(v, 's_b_equals_s1'));
        assert.equal(bytesToHex(ra.confirmation), s(v, 's_a_equals_s2'));
        ra.verifyPeerConfirmation(rb.confirmation);
        rb.verifyPeerConfirmation(ra.confirmation);
        assert.throws(() => ra.verifyPeerConfirmation(ra.confirmation), isCryptoError('CRYPTO_ERR_SM2_KEY_EXCHANGE'));
        assert.throws(() => a.derive({ publicKey: keyB.publicKey, ephemeralPublicKey: b.ephemeralPublicKey, id: idB }, klen), TypeError);
      });
    }

    for (const v of byOp('point_compression')) {
      test(`point compression vector ${v.id}`, () => {
        const full = Sm2PublicKey.fromBytes(hx(v.public_key));
        assert.equal(bytesToHex(full.toBytes('compressed')), s(v, 'public_key_compressed'));
        const c = Sm2PublicKey.fromBytes(hx(v.public_key_compressed));
        assert.equal(bytesToHex(c.toBytes()), s(v, 'public_key'));
        assert.ok(c.equals(full));
      });
    }

    for (const v of keysFile.vectors) {
      if (v.op === 'parse_key' && v.expected_private_key !== undefined) {
        test(`key vector ${v.id}: [d]G is the expected public key`, () => {
          const key = Sm2PrivateKey.fromBytes(hx(v.expected_private_key));
          assert.equal(bytesToHex(key.publicKey.toBytes()), s(v, 'expected_public_key'));
        });
      } else if (v.op === 'verify_x509_certificate' || v.op === 'verify_pkcs10_csr') {
        test(`key vector ${v.id}: signature over the TBS bytes verifies`, () => {
          const pub = Sm2PublicKey.fromBytes(hx(v.signer_public_key));
          const id = utf8ToBytes(s(v, 'signer_id_ascii'));
          assert.equal(sm2Verify(pub, hx(v.tbs), hx(v.signature_der), { id }), true);
          const tampered = hx(v.tbs);
          tampered[tampered.length - 1] ^= 1;
          assert.equal(sm2Verify(pub, tampered, hx(v.signature_der), { id }), false);
        });
      }
    }

    test('random keys: sign/verify with default, empty, long and binary IDs', () => {
      for (let i = 0; i < 10; i++) {
        const key = Sm2PrivateKey.generate();
        const msg = utf8ToBytes(`message ${i}`);
        for (const id of [undefined, new Uint8Array(0), new Uint8Array(8191).fill(0x61), Uint8Array.of(0, 255, 1)]) {
          const sig = sm2Sign(key, msg, { id });
          assert.equal(sm2Verify(key.publicKey, msg, sig, { id }), true);
          assert.equal(sm2Verify(key.publicKey, utf8ToBytes(`message ${i + 1}`), sig, { id }), false);
        }
      }
    });

    test('tampered signatures are rejected (every byte of raw r || s)', () => {
      const key = Sm2PrivateKey.generate();
      const msg = utf8ToBytes('tamper');
      const sig = sm2Sign(key, msg, { format: 'raw' });
      for (let i = 0; i < 64; i++) {
        const bad = sig.slice();
        bad[i] ^= 1 << i % 8;
        assert.equal(sm2Verify(key.publicKey, msg, bad, { format: 'raw' }), false, `byte ${i}`);
      }
    });

    test('r or s out of [1, n-1] is rejected without arithmetic surprises', () => {
      const key = Sm2PrivateKey.generate();
      const msg = utf8ToBytes('range');
      const sig = sm2Sign(key, msg, { format: 'raw' });
      const r = bytesToBig(sig.subarray(0, 32));
      const sv = bytesToBig(sig.subarray(32));
      const bad: [bigint, bigint][] = [
        [0n, sv], [r, 0n], [N, sv], [r, N], [N + 1n, sv], [r + N, sv], [r, sv + N], [(1n << 256n) - 1n, sv], [r, (N - r) % N],
      ];
      for (const [rr, ss] of bad) {
        if (rr >= 1n << 256n || ss >= 1n << 256n) continue;
        const raw = concatBytes(bigToBytes(rr, 32), bigToBytes(ss, 32));
        assert.equal(sm2Verify(key.publicKey, msg, raw, { format: 'raw' }), false);
      }
    });

    test('malformed DER or raw signatures give false, never an exception', () => {
      const key = Sm2PrivateKey.generate();
      const msg = utf8ToBytes('der');
      const der = sm2Sign(key, msg);
      const cases = [
        new Uint8Array(0),
        der.subarray(0, der.length - 1),
        concatBytes(der, Uint8Array.of(0)),
        Uint8Array.of(0x30, 0x00),
        Uint8Array.of(0x30, 0x80, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00, 0x00),
        Uint8Array.of(0x30, 0x06, 0x02, 0x01, 0xff, 0x02, 0x01, 0x01),
        Uint8Array.of(0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01),
        concatBytes(Uint8Array.of(0x30, 0x45, 0x02, 0x21, 0x01), new Uint8Array(32), Uint8Array.of(0x02, 0x20), new Uint8Array(32).fill(1)),
      ];
      for (const c of cases) assert.equal(sm2Verify(key.publicKey, msg, c), false, bytesToHex(c));
      for (const len of [0, 1, 63, 65]) assert.equal(sm2Verify(key.publicKey, msg, new Uint8Array(len), { format: 'raw' }), false);
      assert.equal(sm2VerifyDigest(key.publicKey, new Uint8Array(32), der), false);
    });

    test('public-key validation: off-curve, infinity, x or y >= p, bad prefixes (invalid-curve attack)', () => {
      const good = Sm2PrivateKey.generate().publicKey.toBytes();
      const p = SM2P256V1.p;
      const x = bytesToBig(good.subarray(1, 33));
      const y = bytesToBig(good.subarray(33));
      const bad = [
        Uint8Array.of(0),
        new Uint8Array(65),
        concatBytes(Uint8Array.of(4), bigToBytes(x, 32), bigToBytes((y + 1n) % p, 32)),
        concatBytes(Uint8Array.of(4), bigToBytes(p, 32), bigToBytes(0n, 32)),
        concatBytes(Uint8Array.of(4), new Uint8Array(32).fill(0xff), new Uint8Array(32).fill(0xff)),
        concatBytes(Uint8Array.of(6), good.subarray(1)),
        concatBytes(Uint8Array.of(2), bigToBytes(p, 32)),
        good.subarray(0, 64),
        concatBytes(good, Uint8Array.of(0)),
        // a point of a different curve (b changed): x = 0 with y = 1 satisfies y^2 = x^3 - 3x + 1
        concatBytes(Uint8Array.of(4), bigToBytes(0n, 32), bigToBytes(1n, 32)),
      ];
      for (const b of bad) assert.throws(() => Sm2PublicKey.fromBytes(b), isCryptoError('CRYPTO_ERR_SM2_INVALID_POINT'), bytesToHex(b));
      // Compressed x with no square root: search a small x that is not on the curve.
      let found = 0;
      for (let xs = 1n; found < 3 && xs < 100n; xs++) {
        const c = concatBytes(Uint8Array.of(2), bigToBytes(xs, 32));
        try {
          Sm2PublicKey.fromBytes(c);
        } catch (e) {
          assert.ok(isCryptoError('CRYPTO_ERR_SM2_INVALID_POINT')(e));
          found++;
        }
      }
      assert.equal(found, 3);
      assert.throws(() => Sm2PublicKey.fromBytes('04' as unknown as Uint8Array), TypeError);
    });

    test('private keys outside [1, n-2] are refused; misuse is a TypeError/RangeError', () => {
      for (const d of [0n, N - 1n, N, (1n << 256n) - 1n]) {
        assert.throws(() => Sm2PrivateKey.fromBytes(bigToBytes(d, 32)), isCryptoError('CRYPTO_ERR_SM2_INVALID_PRIVATE_KEY'));
      }
      assert.equal(bytesToHex(Sm2PrivateKey.fromBytes(bigToBytes(N - 2n, 32)).toBytes()), (N - 2n).toString(16));
      assert.throws(() => Sm2PrivateKey.fromBytes(new Uint8Array(31)), RangeError);
      const key = Sm2PrivateKey.generate();
      assert.throws(() => sm2Sign(key, 'text' as unknown as Uint8Array), TypeError);
      assert.throws(() => sm2Sign(key.publicKey as unknown as Sm2PrivateKey, new Uint8Array(1)), TypeError);
      assert.throws(() => sm2Sign(key, new Uint8Array(1), { id: new Uint8Array(8192) }), RangeError);
      assert.throws(() => sm2Sign(key, new Uint8Array(1), { format: 'pem' as 'der' }), TypeError);
      assert.throws(() => sm2SignDigest(key, new Uint8Array(31)), RangeError);
      assert.throws(() => sm2Encrypt(key.publicKey, new Uint8Array(0)), RangeError);
      assert.throws(() => sm2Encrypt(key.publicKey, new Uint8Array(1), { order: 'c2c1c3' as 'c1c3c2' }), TypeError);
      const copy = Sm2PrivateKey.fromBytes(key.toBytes());
      copy.destroy();
      assert.throws(() => sm2Sign(copy, new Uint8Array(1)), TypeError);
      assert.equal(sm2Verify(key.publicKey, new Uint8Array(1), sm2Sign(key, new Uint8Array(1))), true);
    });

    test('ciphertexts: every truncation and every single-bit flip is a CRYPTO_ERR_SM2_DECRYPT', () => {
      const key = Sm2PrivateKey.generate();
      const msg = utf8ToBytes('attack at dawn');
      for (const opts of [{}, { order: 'c1c2c3' as const }, { encoding: 'der' as const }]) {
        const ct = sm2Encrypt(key.publicKey, msg, opts);
        for (let len = 0; len < ct.length; len++) {
          assert.throws(() => sm2Decrypt(key, ct.subarray(0, len), opts), isCryptoError('CRYPTO_ERR_SM2_DECRYPT'), `len ${len}`);
        }
        for (let i = 0; i < ct.length; i += 3) {
          const bad = ct.slice();
          bad[i] ^= 1 << i % 8;
          assert.throws(() => sm2Decrypt(key, bad, opts), isCryptoError('CRYPTO_ERR_SM2_DECRYPT'), `byte ${i}`);
        }
        assert.throws(() => sm2Decrypt(Sm2PrivateKey.generate(), ct, opts), isCryptoError('CRYPTO_ERR_SM2_DECRYPT'));
      }
      const der = sm2Encrypt(key.publicKey, msg, { encoding: 'der' });
      assert.throws(() => sm2Decrypt(key, concatBytes(der, Uint8Array.of(0)), { encoding: 'der' }), isCryptoError('CRYPTO_ERR_SM2_DECRYPT'));
    });

    test('key exchange round trip with random keys, IDs and lengths', () => {
      for (const klen of [1, 16, 48]) {
        const kA = Sm2PrivateKey.generate();
        const kB = Sm2PrivateKey.generate();
        const idA = utf8ToBytes('alice@example');
        const a = new Sm2KeyExchange({ role: 'initiator', privateKey: kA, id: idA });
        const b = new Sm2KeyExchange({ role: 'responder', privateKey: kB });
        const rb = b.derive({ publicKey: kA.publicKey, ephemeralPublicKey: a.ephemeralPublicKey, id: idA }, klen);
        const ra = a.derive({ publicKey: kB.publicKey, ephemeralPublicKey: b.ephemeralPublicKey }, klen);
        assert.equal(ra.key.length, klen);
        assert.deepEqual(ra.key, rb.key);
        ra.verifyPeerConfirmation(rb.confirmation);
        rb.verifyPeerConfirmation(ra.confirmation);
        // A man in the middle swapping R_B gets a different key and fails confirmation.
        const m = new Sm2KeyExchange({ role: 'initiator', privateKey: kA, id: idA });
        const rm = m.derive({ publicKey: kB.publicKey, ephemeralPublicKey: a.ephemeralPublicKey }, klen);
        assert.throws(() => rm.verifyPeerConfirmation(rb.confirmation), isCryptoError('CRYPTO_ERR_SM2_KEY_EXCHANGE'));
      }
    });

    test('fast-check: sign/verify and encrypt/decrypt round trips', () => {
      const key = Sm2PrivateKey.generate();
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 40 }), fc.constantFrom('der', 'raw'), (msg, id, format) => {
          const f = format as 'der' | 'raw';
          const sig = sm2Sign(key, msg, { id, format: f });
          return sm2Verify(key.publicKey, msg, sig, { id, format: f });
        }),
        { numRuns: backend === 'wasm' ? 100 : 20 },
      );
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 1, maxLength: 300 }),
          fc.constantFrom('c1c3c2', 'c1c2c3'),
          fc.constantFrom('raw', 'der'),
          fc.constantFrom('uncompressed', 'compressed'),
          (msg, order, encoding, pointFormat) => {
            const o = { order: order as 'c1c3c2', encoding: encoding as 'raw' };
            const pf = encoding === 'der' ? 'uncompressed' : (pointFormat as 'compressed');
            const ct = sm2Encrypt(key.publicKey, msg, { ...o, pointFormat: pf });
            return bytesToHex(sm2Decrypt(key, ct, o)) === bytesToHex(msg);
          },
        ),
        { numRuns: backend === 'wasm' ? 100 : 20 },
      );
    });

    test('fast-check: arbitrary bytes as signature, key or ciphertext give false or a CryptoError', () => {
      const key = Sm2PrivateKey.generate();
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 120 }), (junk) => {
          assert.equal(sm2Verify(key.publicKey, junk, junk), false);
          assert.equal(sm2Verify(key.publicKey, junk, junk, { format: 'raw' }), false);
          assert.throws(() => sm2Decrypt(key, junk), isCryptoError('CRYPTO_ERR_SM2_DECRYPT'));
          assert.throws(() => sm2Decrypt(key, junk, { encoding: 'der' }), isCryptoError('CRYPTO_ERR_SM2_DECRYPT'));
          try {
            Sm2PublicKey.fromBytes(junk);
          } catch (e) {
            assert.ok(isCryptoError('CRYPTO_ERR_SM2_INVALID_POINT')(e));
          }
        }),
        { numRuns: backend === 'wasm' ? 200 : 30 },
      );
    });
  });
}

describe('GB/T 32918 Appendix A example curve (reference implementation with curve parameters)', () => {
  const engine = referenceEngine(curveOf('gbt32918-fp256-test'));
  const xy = (sec1: string) => hexToBytes(sec1).subarray(1);

  for (const v of sm2File.vectors.filter((x) => x.curve === 'gbt32918-fp256-test')) {
    test(`${v.op} vector ${v.id}`, () => {
      if (v.op === 'sign') {
        const d = hx(v.private_key);
        const pub = engine.mulG(d);
        assert.equal(bytesToHex(pub), s(v, 'public_key').slice(2));
        const z = za(engine, pub, hx(v.id_hex));
        assert.equal(bytesToHex(z), s(v, 'za'));
        const e = sm3(concatBytes(z, hx(v.msg)));
        assert.equal(bytesToHex(e), s(v, 'e'));
        assert.equal(bytesToHex(signDigest(engine, d, engine.signPrep(d), e, hx(v.k))), s(v, 'signature_raw'));
        assert.equal(engine.verify(pub, e, hx(v.r), hx(v.s)), true);
        assert.equal(engine.verify(pub, e, hx(v.s), hx(v.r)), false);
      } else if (v.op === 'encrypt') {
        const d = hx(v.private_key);
        const pub = xy(s(v, 'public_key'));
        const parts = encryptParts(engine, pub, hx(v.msg), hx(v.k));
        assert.equal('04' + bytesToHex(parts.c1), s(v, 'c1'));
        assert.equal(bytesToHex(parts.c3), s(v, 'c3'));
        assert.equal(bytesToHex(parts.c2), s(v, 'c2'));
        assert.equal(bytesToHex(decryptParts(engine, d, parts)), s(v, 'msg'));
        parts.c3[0] ^= 1;
        assert.throws(() => decryptParts(engine, d, parts), isCryptoError('CRYPTO_ERR_SM2_DECRYPT'));
      } else if (v.op === 'key_exchange') {
        const A = v.initiator_A as Record<string, string>;
        const B = v.responder_B as Record<string, string>;
        const side = (x: Record<string, string>) => {
          const pub = xy(x.public_key);
          assert.equal(bytesToHex(engine.mulG(hexToBytes(x.private_key))), bytesToHex(pub));
          assert.equal(bytesToHex(engine.mulG(hexToBytes(x.ephemeral_private))), x.ephemeral_public.slice(2));
          const z = za(engine, pub, utf8ToBytes(x.id_ascii));
          assert.equal(bytesToHex(z), x.z);
          return { d: hexToBytes(x.private_key), pub, r: hexToBytes(x.ephemeral_private), rPub: xy(x.ephemeral_public), z };
        };
        const a = side(A);
        const b = side(B);
        const klen = v.klen_bytes as number;
        const ra = kxDerive(engine, 'initiator', a, { pub: b.pub, rPub: b.rPub, z: b.z }, klen);
        const rb = kxDerive(engine, 'responder', b, { pub: a.pub, rPub: a.rPub, z: a.z }, klen);
        assert.equal(bytesToHex(ra.key), s(v, 'key'));
        assert.equal(bytesToHex(rb.key), s(v, 'key'));
        assert.equal(bytesToHex(rb.confirmation), s(v, 's_b_equals_s1'));
        assert.equal(bytesToHex(ra.expectedPeerConfirmation), s(v, 's_b_equals_s1'));
        assert.equal(bytesToHex(ra.confirmation), s(v, 's_a_equals_s2'));
      } else {
        assert.fail(`unhandled op ${v.op}`);
      }
    });
  }
});

describe('wasm kernel against the BigInt reference (differential)', () => {
  const W: Sm2Engine = wasmEngine();
  const R: Sm2Engine = referenceEngine();
  // k' = 2d 2^252 - n (d = 9, 11, 13, 15) and n - k': the comb's top window meets the doubling case.
  const topDoubling = [9n, 11n, 13n, 15n].flatMap((d) => [2n * d * (1n << 252n) - N, N - (2n * d * (1n << 252n) - N)]);
  const edge = [1n, 2n, 3n, 31n, 32n, 33n, 63n, 64n, 65n, 1n << 128n, (1n << 255n) + 1n, N - 1n, N - 2n, N - 33n, (1n << 252n) * 16n, ...topDoubling];
  const scalars = (): bigint[] => {
    const out = [...edge];
    for (let i = 0; i < 12; i++) out.push(bytesToBig(Sm2PrivateKey.generate().toBytes()));
    return out.filter((k) => k >= 1n && k < N);
  };
  const b32 = (k: bigint) => bigToBytes(k, 32);

  test('[k]G (comb) and [k]P (fixed window) agree for edge and random scalars', () => {
    const P = R.mulG(b32(0x1234567n));
    for (const k of scalars()) {
      assert.equal(bytesToHex(W.mulG(b32(k))), bytesToHex(R.mulG(b32(k))), `mulG ${k.toString(16)}`);
      assert.equal(bytesToHex(W.mul(b32(k), P)), bytesToHex(R.mul(b32(k), P)), `mul ${k.toString(16)}`);
    }
    // [k]G where the fixed window meets the doubling case: P = G, k with equal windows.
    const G = R.mulG(b32(1n));
    for (const k of [0x11n, 0x1111n, 0x10n, 0x22n]) assert.equal(bytesToHex(W.mul(b32(k), G)), bytesToHex(R.mulG(b32(k))));
  });

  test('[u1]P + [u2]Q, (1+d)^-1, a + b·c mod n, decompression and validation agree', () => {
    const ks = scalars();
    for (let i = 0; i + 3 < ks.length; i++) {
      const P = R.mulG(b32(ks[i]));
      const Q = R.mulG(b32(ks[i + 1]));
      const a = W.mulAdd(b32(ks[i + 2]), P, b32(ks[i + 3]), Q);
      const b = R.mulAdd(b32(ks[i + 2]), P, b32(ks[i + 3]), Q);
      assert.equal(a && bytesToHex(a), b && bytesToHex(b));
      if (ks[i] <= N - 2n) assert.equal(bytesToHex(W.signPrep(b32(ks[i]))), bytesToHex(R.signPrep(b32(ks[i]))));
      assert.equal(bytesToHex(W.mulAddN(b32(ks[i]), b32(ks[i + 1]), b32(ks[i + 2]))), bytesToHex(R.mulAddN(b32(ks[i]), b32(ks[i + 1]), b32(ks[i + 2]))));
      for (const odd of [false, true]) {
        const x = P.subarray(0, 32);
        const dw = W.decompress(x, odd);
        const dr = R.decompress(x, odd);
        assert.equal(dw && bytesToHex(dw), dr && bytesToHex(dr));
      }
    }
    // P + (-P) = O and P + P (doubling inside Shamir) are handled.
    const P = R.mulG(b32(77n));
    assert.equal(W.mulAdd(b32(1n), P, b32(N - 1n), P), null);
    assert.equal(bytesToHex(W.mulAdd(b32(1n), P, b32(1n), P)!), bytesToHex(R.mulG(b32(154n))));
    for (let i = 0; i < 50; i++) {
      const junk = Sm2PrivateKey.generate().toBytes();
      const pt = concatBytes(junk, Sm2PrivateKey.generate().toBytes());
      assert.equal(W.validPoint(pt), R.validPoint(pt));
      for (const odd of [false, true]) {
        const dw = W.decompress(junk, odd);
        const dr = R.decompress(junk, odd);
        assert.equal(dw && bytesToHex(dw), dr && bytesToHex(dr));
      }
    }
  });

  test('sign cores agree for fixed k, and verify agrees (incl. the per-key table path)', () => {
    const ks = scalars();
    const d = b32(ks[ks.length - 1] % (N - 2n) || 5n);
    const pub = R.mulG(d);
    for (const k of ks) {
      const e = b32(bytesToBig(sm3(b32(k))));
      const sw = W.signWithK(W.signPrep(d), b32(k), e);
      const sr = R.signWithK(R.signPrep(d), b32(k), e);
      assert.equal(sw && bytesToHex(sw), sr && bytesToHex(sr));
      if (sw === null) continue;
      assert.equal(W.verify(pub, e, sw.subarray(0, 32), sw.subarray(32)), true);
      const bad = b32((bytesToBig(sw.subarray(32)) + 1n) % N);
      assert.equal(W.verify(pub, e, sw.subarray(0, 32), bad), R.verify(pub, e, sw.subarray(0, 32), bad));
    }
  });

  test('hedged signing in one kernel call equals the reference for the same CSPRNG bytes', () => {
    // Same d, e (or Z ‖ M) and pool bytes R: the nonce HMAC-SM3(d, R ‖ e ‖ c) and so the whole
    // signature must be identical; messages around the kernel's buffer size take both paths.
    const key = Sm2PrivateKey.generate();
    const z = key.publicKey.zDefault(W);
    const ws = W.signSetup(key.toBytes());
    const rs = R.signSetup(key.toBytes());
    for (const len of [0, 1, 31, 32, 55, 56, 64, 1000, 4064, 4095, 4096, 4097, 9000]) {
      const msg = new Uint8Array(len).map((_, i) => (i * 7 + len) & 0xff);
      const random = sm3(Uint8Array.of(len & 0xff, len >> 8));
      for (const der of [false, true]) {
        const a = W.signMessage(ws, z, msg, der, random);
        const b = R.signMessage(rs, z, msg, der, random);
        assert.equal(bytesToHex(a), bytesToHex(b), `len ${len} der ${der}`);
        assert.equal(sm2Verify(key.publicKey, msg, a, { format: der ? 'der' : 'raw' }), true);
      }
      const e = sm3(concatBytes(z, msg));
      assert.equal(bytesToHex(W.signHedged(ws, e, false, random)), bytesToHex(R.signHedged(rs, e, false, random)));
    }
    // Without injected bytes two signatures of one message differ (fresh pool bytes each time).
    const m = utf8ToBytes('twice');
    assert.notEqual(bytesToHex(W.signMessage(ws, z, m, false)), bytesToHex(W.signMessage(ws, z, m, false)));
  });

  test('per-key verification tables: promotion and eviction never change a result', () => {
    // Six keys used in turn, more often than the promotion threshold, over four slots:
    // some keys get a table, others stay on w-NAF; valid and invalid signatures alike.
    const keys = Array.from({ length: 6 }, () => Sm2PrivateKey.generate());
    const e = sm3(utf8ToBytes('tables'));
    const sigs = keys.map((k) => W.signWithK(k.dInv, sm3(k.toBytes()), e)!);
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < keys.length; i++) {
        const pub = keys[i].publicKey.toBytes().subarray(1);
        const sig = sigs[i];
        assert.equal(W.verify(pub, e, sig.subarray(0, 32), sig.subarray(32)), true);
        const other = sigs[(i + 1) % keys.length];
        assert.equal(W.verify(pub, e, other.subarray(0, 32), other.subarray(32)), false);
      }
    }
  });

  test('the whole kernel memory (comb tables, per-key slots, stack) stays within 1 MiB', () => {
    const ex = wasmModule.sm2Module.exports();
    assert.ok(ex.memory.buffer.byteLength <= 1 << 20, `${ex.memory.buffer.byteLength} bytes`);
    assert.equal(ex.sm2_key_slots(), 4);
  });

  test('secret inputs and outputs do not stay in the kernel I/O region', () => {
    const { sm2Module } = wasmModule;
    const ex = sm2Module.exports();
    const io = () => new Uint8Array(ex.memory.buffer, ex.io_ptr(), ex.io_size());
    const key = Sm2PrivateKey.generate();
    const msg = utf8ToBytes('wipe');
    const zero = (what: string) => assert.ok(io().every((b) => b === 0), what);
    sm2Sign(key, msg);
    zero('after sign');
    const ct = sm2Encrypt(key.publicKey, msg);
    zero('after encrypt');
    sm2Decrypt(key, ct);
    zero('after decrypt');
    Sm2PrivateKey.generate();
    zero('after keygen');
    const kx = new Sm2KeyExchange({ role: 'initiator', privateKey: key });
    const peerKx = new Sm2KeyExchange({ role: 'responder', privateKey: key });
    kx.derive({ publicKey: key.publicKey, ephemeralPublicKey: peerKx.ephemeralPublicKey }, 16);
    zero('after key exchange');
  });

  test('key exchange refuses off-curve peer points (invalid-curve attack) on both engines', () => {
    for (const engine of [W, R]) {
      const a = Sm2PrivateKey.generate();
      const b = Sm2PrivateKey.generate();
      const self = { d: a.toBytes(), pub: a.publicKey.toBytes().subarray(1), r: b.toBytes(), rPub: b.publicKey.toBytes().subarray(1), z: new Uint8Array(32) };
      const good = b.publicKey.toBytes().subarray(1);
      const off = good.slice();
      off[63] ^= 1;
      for (const peer of [{ pub: good, rPub: off }, { pub: off, rPub: good }]) {
        assert.throws(() => kxDerive(engine, 'initiator', self, { ...peer, z: new Uint8Array(32) }, 16), isCryptoError('CRYPTO_ERR_SM2_KEY_EXCHANGE'));
      }
    }
  });

  test('[k]P for a hot public key (per-key comb, constant-time) equals the reference', () => {
    const P = R.mulG(b32(0xabcdefn));
    // Enough uses that the key wins a table slot even against the keys of earlier tests.
    const ks = [...scalars(), ...scalars(), 1n, N - 1n, 2n];
    const expected = ks.map((k) => bytesToHex(R.mul(b32(k), P)));
    for (let round = 0; round < 5; round++) {
      ks.forEach((k, i) => assert.equal(bytesToHex(W.mulKey(b32(k), P)), expected[i], `k ${k.toString(16)}`));
    }
    // and through the public API: many encryptions to one key all decrypt
    const key = Sm2PrivateKey.generate();
    for (let i = 0; i < 40; i++) {
      const msg = utf8ToBytes(`hot ${i}`);
      assert.equal(bytesToHex(sm2Decrypt(key, sm2Encrypt(key.publicKey, msg))), bytesToHex(msg));
    }
  });
});
