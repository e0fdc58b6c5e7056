/**
 * The "Migrating from sm-crypto" table of crypto/README.md, executed: each row's sm-crypto
 * 0.5 call and our replacement must agree (in both directions where there is data to pass).
 * sm-crypto is slow (tens of SM2 operations per second), so each row runs a few cases; the
 * ≥ 200-case SM2 cross-checks against sm-crypto-v2 live in sm2-interop.test.ts.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import {
  bytesToHex,
  hexToBytes,
  utf8ToBytes,
  bytesToUtf8,
  randomBytes,
  Sm2PrivateKey,
  importSm2PrivateKey,
  importSm2PublicKey,
  sm2Sign,
  sm2SignDigest,
  sm2Verify,
  sm2Encrypt,
  sm2Decrypt,
  sm3,
  hmacSm3,
  unsafeSm4EcbEncrypt,
  unsafeSm4EcbDecrypt,
  sm4CbcEncrypt,
  sm4CbcDecrypt,
} from '../src/index.js';

/** The parts of sm-crypto 0.5 (untyped CommonJS) the migration table names. */
interface SmCrypto {
  sm2: {
    generateKeyPairHex(): { privateKey: string; publicKey: string };
    getPublicKeyFromPrivateKey(priv: string): string;
    compressPublicKeyHex(pub: string): string;
    verifyPublicKey(pub: string): boolean;
    comparePublicKeyHex(a: string, b: string): boolean;
    doEncrypt(msg: string | number[], pub: string, mode?: number): string;
    doDecrypt(ct: string, priv: string, mode?: number, opts?: { output: 'array' | 'string' }): string | number[];
    doSignature(msg: string | number[], priv: string, opts?: { hash?: boolean; der?: boolean; userId?: string; publicKey?: string }): string;
    doVerifySignature(msg: string | number[], sig: string, pub: string, opts?: { hash?: boolean; der?: boolean; userId?: string }): boolean;
  };
  sm3(input: string | number[], opts?: { key: string; mode: 'hmac' }): string;
  sm4: {
    encrypt(input: string | number[], key: string, opts?: { mode?: 'cbc'; iv?: string; padding?: string; output?: 'array' | 'string' }): string | number[];
    decrypt(input: string | number[], key: string, opts?: { mode?: 'cbc'; iv?: string; padding?: string; output?: 'array' | 'string' }): string | number[];
  };
}
const sc = createRequire(import.meta.url)('sm-crypto') as SmCrypto;
const N = 4;

describe('migration table: SM2 keys', () => {
  test('generateKeyPairHex / getPublicKeyFromPrivateKey / compress / verify / compare', () => {
    for (let i = 0; i < N; i++) {
      const theirs = sc.sm2.generateKeyPairHex();
      const key = importSm2PrivateKey(theirs.privateKey.padStart(64, '0'));
      assert.equal(bytesToHex(key.publicKey.toBytes()), theirs.publicKey);
      const ours = Sm2PrivateKey.generate();
      assert.equal(sc.sm2.getPublicKeyFromPrivateKey(bytesToHex(ours.toBytes())), bytesToHex(ours.publicKey.toBytes()));
      assert.equal(bytesToHex(importSm2PublicKey(theirs.publicKey).toBytes('compressed')), sc.sm2.compressPublicKeyHex(theirs.publicKey));
      assert.ok(sc.sm2.verifyPublicKey(bytesToHex(ours.publicKey.toBytes())));
      assert.equal(
        importSm2PublicKey(theirs.publicKey).equals(importSm2PublicKey(sc.sm2.compressPublicKeyHex(theirs.publicKey))),
        sc.sm2.comparePublicKeyHex(theirs.publicKey, sc.sm2.compressPublicKeyHex(theirs.publicKey)),
      );
    }
  });
});

describe('migration table: SM2 encryption (C1 without 04 there, with 04 here)', () => {
  const key = Sm2PrivateKey.generate();
  const privHex = bytesToHex(key.toBytes());
  const pubHex = bytesToHex(key.publicKey.toBytes());
  for (const [mode, order] of [
    [1, 'c1c3c2'],
    [0, 'c1c2c3'],
  ] as const) {
    test(`cipherMode ${mode} ↔ order '${order}'`, () => {
      for (let i = 0; i < N; i++) {
        const msg = `消息 ${i} ${bytesToHex(randomBytes(8))}`;
        const theirs = sc.sm2.doEncrypt(msg, pubHex, mode);
        assert.equal(bytesToUtf8(sm2Decrypt(key, hexToBytes('04' + theirs), { order })), msg);
        const ours = sm2Encrypt(key.publicKey, utf8ToBytes(msg), { order });
        assert.equal(sc.sm2.doDecrypt(bytesToHex(ours).slice(2), privHex, mode), msg);
        assert.deepEqual(sc.sm2.doDecrypt(bytesToHex(ours).slice(2), privHex, mode, { output: 'array' }), [...utf8ToBytes(msg)]);
      }
    });
  }
});

describe('migration table: SM2 signatures (raw unless der there, DER unless raw here)', () => {
  const key = Sm2PrivateKey.generate();
  const privHex = bytesToHex(key.toBytes());
  const pubHex = bytesToHex(key.publicKey.toBytes());

  test('hash: true, der: true ↔ sm2Sign / sm2Verify (default ID and userId)', () => {
    for (let i = 0; i < N; i++) {
      const msg = randomBytes(40);
      const userId = i % 2 ? 'alice@example.cn' : undefined;
      const opts = userId ? { id: utf8ToBytes(userId) } : {};
      const theirs = sc.sm2.doSignature([...msg], privHex, { hash: true, der: true, ...(userId ? { userId } : {}) });
      assert.ok(sm2Verify(key.publicKey, msg, hexToBytes(theirs), opts));
      const ours = bytesToHex(sm2Sign(key, msg, opts));
      assert.ok(sc.sm2.doVerifySignature([...msg], ours, pubHex, { hash: true, der: true, ...(userId ? { userId } : {}) }));
    }
  });

  test("hash: true (raw r‖s) ↔ format: 'raw'", () => {
    const msg = utf8ToBytes('raw signature');
    const theirs = sc.sm2.doSignature('raw signature', privHex, { hash: true });
    assert.equal(theirs.length, 128);
    assert.ok(sm2Verify(key.publicKey, msg, hexToBytes(theirs), { format: 'raw' }));
    assert.ok(sc.sm2.doVerifySignature('raw signature', bytesToHex(sm2Sign(key, msg, { format: 'raw' })), pubHex, { hash: true }));
  });

  test('hash: false signs the input as the digest e ↔ sm2SignDigest', () => {
    const e = randomBytes(32);
    const ours = sm2SignDigest(key, e, { format: 'raw' });
    assert.ok(sc.sm2.doVerifySignature([...e], bytesToHex(ours), pubHex, { hash: false }));
  });
});

describe('migration table: SM3, HMAC and SM4', () => {
  test('sm3(str) and sm3(msg, { key, mode: "hmac" })', () => {
    assert.equal(bytesToHex(sm3(utf8ToBytes('abc'))), sc.sm3('abc'));
    const key = randomBytes(20);
    const msg = randomBytes(100);
    assert.equal(bytesToHex(hmacSm3(key, msg)), sc.sm3([...msg], { key: bytesToHex(key), mode: 'hmac' }));
  });

  test('sm4 ECB (their default) and CBC, with and without padding', () => {
    const key = randomBytes(16);
    const iv = randomBytes(16);
    const k = bytesToHex(key);
    for (const len of [0, 5, 16, 33]) {
      const data = randomBytes(len);
      assert.equal(sc.sm4.encrypt([...data], k), bytesToHex(unsafeSm4EcbEncrypt(key, data, { padding: 'pkcs7' })));
      const cbc = sc.sm4.encrypt([...data], k, { mode: 'cbc', iv: bytesToHex(iv) }) as string;
      assert.equal(cbc, bytesToHex(sm4CbcEncrypt(key, iv, data, { padding: 'pkcs7' })));
      assert.deepEqual(sm4CbcDecrypt(key, iv, hexToBytes(cbc), { padding: 'pkcs7' }), data);
      assert.deepEqual(sc.sm4.decrypt(cbc, k, { mode: 'cbc', iv: bytesToHex(iv), output: 'array' }), [...data]);
      assert.deepEqual(unsafeSm4EcbDecrypt(key, hexToBytes(sc.sm4.encrypt([...data], k) as string), { padding: 'pkcs7' }), data);
    }
    const blocks = randomBytes(32);
    assert.equal(
      sc.sm4.encrypt([...blocks], k, { mode: 'cbc', iv: bytesToHex(iv), padding: 'none' }),
      bytesToHex(sm4CbcEncrypt(key, iv, blocks, { padding: 'none' })),
    );
  });
});
