// SM4-GCM encryption and data keys on the crypto service's worker ring, and the Node codecs of its
// hot paths. The ciphertext part of every ring-made GCM output is checked against OpenSSL's
// SM4-CTR (through node:crypto, an independent implementation): GCM encrypts with CTR from
// inc32(J0), J0 = nonce ‖ 0^31 ‖ 1 for a 96-bit nonce (NIST SP 800-38D §7.1). The tag is checked
// by decrypting with the SDK.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { ready, sm4GcmDecrypt, sm4GcmEncrypt, randomBytes, utf8ToBytes, Sm2PrivateKey, CryptoError } from '@xiangan/crypto';
import type { EcsEvent, EventSink } from '@xiangan/collectors';
import { Sm2Pool, KmsService, KmsError, kmsRoutes, parseEnvelope } from '../src/kms/index.js';
import { RING_SLOTS } from '../src/kms/pool.js';
import { fromBase64, toBase64, RandomSource } from '../src/kms/codec.js';

await ready();

const isKmsError = (code: string) => (e: unknown): boolean => e instanceof KmsError && e.code === code;

/** SM4-CTR of `pt` from counter block nonce ‖ 00000002, by OpenSSL. */
function opensslCtr(key: Uint8Array, nonce: Uint8Array, pt: Uint8Array): Uint8Array {
  const iv = Buffer.concat([nonce, Buffer.from([0, 0, 0, 2])]);
  const c = createCipheriv('sm4-ctr', key, iv);
  return new Uint8Array(Buffer.concat([c.update(pt), c.final()]));
}

/** Check one nonce ‖ ciphertext ‖ tag against OpenSSL's CTR and the SDK's GCM decryption. */
function checkSealed(key: Uint8Array, pt: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): void {
  assert.equal(sealed.length, 12 + pt.length + 16);
  const nonce = sealed.subarray(0, 12);
  assert.deepEqual(sealed.subarray(12, 12 + pt.length), opensslCtr(key, nonce, pt));
  assert.deepEqual(sm4GcmDecrypt(key, nonce, sealed.subarray(12), aad ? { aad } : {}), pt);
}

/** A pool of `workers` with one SM4 key `box@1`, closed after `fn`. */
async function withSm4Pool(workers: number, fn: (pool: Sm2Pool, key: Uint8Array) => Promise<void>): Promise<void> {
  const pool = new Sm2Pool(workers);
  const key = randomBytes(16);
  try {
    pool.setSymmetricKey('box@1', key);
    await fn(pool, key);
  } finally {
    await pool.close();
  }
}

describe('KMS: SM4 jobs on the worker ring', () => {
  test('more concurrent encryptions than ring slots, with and without AAD, and one too large for a slot', async () => {
    await withSm4Pool(2, async (pool, key) => {
      const n = RING_SLOTS * 2 + 5;
      const aad = utf8ToBytes('context');
      const pts = Array.from({ length: n }, (_, i) => randomBytes(i % 97 === 0 ? 0 : 1 + (i % 1500)));
      const sealed = await Promise.all(pts.map((p, i) => pool.gcmEncrypt('box@1', p, i % 2 ? aad : undefined)));
      pts.forEach((p, i) => checkSealed(key, p, sealed[i]!, i % 2 ? aad : undefined));
      // Nonces are fresh for every job.
      assert.equal(new Set(sealed.map((s) => toBase64(s.subarray(0, 12)))).size, n);
      // Too large for a slot: computed on the calling thread, same format.
      const big = randomBytes(Sm2Pool.slotCapacity);
      checkSealed(key, big, await pool.gcmEncrypt('box@1', big));
    });
  });

  test('decryption on the ring: SDK-sealed inputs open, altered ones and a wrong AAD fail authentication', async () => {
    await withSm4Pool(1, async (pool, key) => {
      const aad = utf8ToBytes('header');
      const pts = Array.from({ length: 50 }, (_, i) => randomBytes(i * 31));
      const sealed = pts.map((p) => {
        const nonce = randomBytes(12);
        return new Uint8Array([...nonce, ...sm4GcmEncrypt(key, nonce, p, { aad })]);
      });
      assert.deepEqual(await Promise.all(sealed.map((s) => pool.gcmDecrypt('box@1', s, aad))), pts);
      const altered = sealed[7]!.slice();
      altered[20]! ^= 1;
      await assert.rejects(pool.gcmDecrypt('box@1', altered, aad), (e: unknown) => e instanceof CryptoError);
      await assert.rejects(pool.gcmDecrypt('box@1', sealed[7]!, utf8ToBytes('other')), (e: unknown) => e instanceof CryptoError);
      await assert.rejects(pool.gcmDecrypt('box@1', sealed[0]!.subarray(0, 27)), RangeError);
    });
  });

  test('a forgotten SM4 key is refused, and a key is only used for its own kind of job', async () => {
    const pool = new Sm2Pool(1);
    const sm2 = Sm2PrivateKey.generate();
    try {
      pool.setSymmetricKey('box@1', randomBytes(16));
      pool.setKey('sig@1', sm2.toBytes(), sm2.publicKey.toBytes());
      await pool.gcmEncrypt('box@1', utf8ToBytes('known to the worker'));
      pool.forgetKey('box@1');
      await assert.rejects(pool.gcmEncrypt('box@1', utf8ToBytes('after forget')), isKmsError('SOC_ERR_KMS_KEY_NOT_FOUND'));
      await assert.rejects(pool.gcmEncrypt('sig@1', utf8ToBytes('x')), isKmsError('SOC_ERR_KMS_KEY_TYPE'));
      pool.setSymmetricKey('box@2', randomBytes(16));
      await assert.rejects(pool.sign('box@2', utf8ToBytes('x'), { format: 'der' }), isKmsError('SOC_ERR_KMS_KEY_TYPE'));
    } finally {
      await pool.close();
      sm2.destroy();
    }
  });
});

describe('KMS: encrypt, decrypt and data-key routes with the worker ring', () => {
  test('answers decrypt, each answer leaves after its audit event is committed, a rotation and a destruction take effect', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xiangan-kms-sm4-'));
    const committed: EcsEvent[] = [];
    // A slow disk: each append lands 20 ms late, so an answer that did not wait for it would
    // arrive before its event.
    const sink = { full: false, append: (events: EcsEvent[]) => new Promise<void>((r) => setTimeout(r, 20)).then(() => void committed.push(...events)) } as unknown as EventSink;
    const kms = KmsService.open({ dir, masterSecret: 'sm4 ring master secret', iterations: 1000, sink, workers: 1 });
    const app = Fastify({ logger: false });
    try {
      await app.register(kmsRoutes, { service: kms });
      const { token } = kms.createApp('app', { keys: ['box'], ops: ['encrypt', 'decrypt', 'datakey'] });
      kms.createKey(kms.root, 'box', 'sm4');
      const ask = (url: string, payload: object) => app.inject({ method: 'POST', url: `/api/v1/kms/${url}`, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload });
      const count = (op: string): number => committed.filter((e) => (e as Record<string, any>).xiangan.kms.operation === op && (e as Record<string, any>).event.outcome === 'success').length;
      let answered = 0;
      // 0 to 1,443 bytes: computed on the HTTP thread below 512 bytes, on the ring from there.
      const pts = Array.from({ length: 40 }, (_, i) => randomBytes(i * 37));
      const aad = utf8ToBytes('row 7');
      await Promise.all(
        pts.map(async (pt, i) => {
          const r = await ask('encrypt/box', { plaintext: toBase64(pt), ...(i % 3 === 0 ? { aad: toBase64(aad) } : {}) });
          assert.equal(r.statusCode, 200, r.body);
          answered++;
          assert.ok(count('encrypt') >= answered, 'an answer left before its audit event was committed');
          const { version, bytes } = parseEnvelope(r.json().ciphertext);
          assert.equal(version, 1);
          assert.deepEqual(kms.decrypt(kms.root, 'box', r.json().ciphertext, i % 3 === 0 ? { aad } : {}).plaintext, pt);
          assert.equal(bytes.length, 12 + pt.length + 16);
        }),
      );
      // Decryption over HTTP (on the ring): the answers open; altered and wrong-AAD ones are refused and audited.
      // 600 bytes: above the size from which the service sends SM4-GCM to the ring.
      const long = randomBytes(600);
      const sealedOne = (await ask('encrypt/box', { plaintext: toBase64(long), aad: toBase64(aad) })).json().ciphertext as string;
      const ok = await ask('decrypt/box', { ciphertext: sealedOne, aad: toBase64(aad) });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.deepEqual(fromBase64(ok.json().plaintext), long);
      const raw = parseEnvelope(sealedOne).bytes;
      raw[13]! ^= 1;
      const bad = await ask('decrypt/box', { ciphertext: `xiangan:v1:${toBase64(raw)}`, aad: toBase64(aad) });
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().code, 'SOC_ERR_KMS_CIPHERTEXT');
      assert.equal((await ask('decrypt/box', { ciphertext: sealedOne })).json().code, 'SOC_ERR_KMS_CIPHERTEXT');
      assert.ok(committed.some((e) => (e as Record<string, any>).xiangan.kms.operation === 'decrypt' && (e as Record<string, any>).event.reason === 'SOC_ERR_KMS_CIPHERTEXT'));
      const dk = await ask('datakey/box', { bytes: 32 });
      assert.equal(dk.statusCode, 200, dk.body);
      assert.equal(count('datakey'), 1);
      assert.deepEqual(kms.decrypt(kms.root, 'box', dk.json().ciphertext).plaintext, fromBase64(dk.json().plaintext));
      assert.equal(fromBase64(dk.json().plaintext).length, 32);
      assert.equal((await ask('datakey/box', { bytes: 8 })).json().code, 'SOC_ERR_KMS_REQUEST');
      // After a rotation the ring encrypts under the new version.
      kms.rotateKey(kms.root, 'box');
      const v2 = await ask('encrypt/box', { plaintext: toBase64(utf8ToBytes('v2')) });
      assert.equal(v2.json().version, 2);
      assert.deepEqual(kms.decrypt(kms.root, 'box', v2.json().ciphertext).plaintext, utf8ToBytes('v2'));
      // Below the minimum decryption version, the ring is not asked to open v1 ciphertexts.
      kms.configureKey(kms.root, 'box', { minDecryptionVersion: 2 });
      assert.equal((await ask('decrypt/box', { ciphertext: sealedOne, aad: toBase64(aad) })).json().code, 'SOC_ERR_KMS_KEY_STATE');
      // Destroyed: refused, and audited as a failure.
      kms.configureKey(kms.root, 'box', { destroyAfterMs: 0 });
      const gone = await ask('encrypt/box', { plaintext: toBase64(utf8ToBytes('late')) });
      assert.equal(gone.statusCode, 404);
      assert.equal(gone.json().code, 'SOC_ERR_KMS_KEY_NOT_FOUND');
      assert.ok(committed.some((e) => (e as Record<string, any>).event.outcome === 'failure' && (e as Record<string, any>).xiangan.kms.operation === 'encrypt'));
      // Audit ids stay unique.
      assert.equal(new Set(committed.map((e) => e.id)).size, committed.length);
    } finally {
      await app.close();
      await kms.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('KMS: Node codecs of the hot paths', () => {
  test('base64 per RFC 4648 §10, and the strict decoder for anything non-canonical', () => {
    const vectors: Array<[string, string]> = [['', ''], ['f', 'Zg=='], ['fo', 'Zm8='], ['foo', 'Zm9v'], ['foob', 'Zm9vYg=='], ['fooba', 'Zm9vYmE='], ['foobar', 'Zm9vYmFy']];
    for (const [plain, enc] of vectors) {
      assert.equal(toBase64(utf8ToBytes(plain)), enc);
      assert.deepEqual(fromBase64(enc), utf8ToBytes(plain));
    }
    // Unpadded, URL alphabet and wrapped input are still accepted, as by the portable decoder.
    assert.deepEqual(fromBase64('Zm9vYg'), utf8ToBytes('foob'));
    assert.deepEqual(fromBase64('-_8='), new Uint8Array([0xfb, 0xff]));
    assert.deepEqual(fromBase64('Zm9v\nYmFy'), utf8ToBytes('foobar'));
    // Characters outside the alphabet are refused, not skipped.
    for (const bad of ['Zm9v!mFy', 'Zm9vYmF*', 'Zg=a']) assert.throws(() => fromBase64(bad), (e: unknown) => e instanceof CryptoError && e.code === 'CRYPTO_ERR_INVALID_ENCODING', bad);
    // A decoded value is a copy, not a view of Node's shared buffer pool.
    assert.equal(fromBase64('Zm9v').buffer.byteLength, 3);
  });

  test('random bytes: asked lengths, distinct draws, large draws', () => {
    const r = new RandomSource();
    const draws = Array.from({ length: 600 }, () => r.bytes(12));
    assert.ok(draws.every((d) => d.length === 12));
    assert.equal(new Set(draws.map(toBase64)).size, 600);
    assert.equal(r.bytes(0).length, 0);
    const big = r.bytes(5000);
    assert.equal(big.length, 5000);
    assert.ok(big.some((b) => b !== 0));
    assert.throws(() => r.bytes(-1), RangeError);
  });
});
