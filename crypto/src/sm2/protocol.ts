/**
 * The SM2 protocols (GB/T 32918.2 signatures, .3 key exchange, .4 encryption) over raw
 * bytes and an {@link Sm2Engine}, so the same code runs on the wasm kernel, on the BigInt
 * reference, and on the standard's example curve. The public API in `index.ts` wraps these
 * with key objects, encodings and argument checks.
 * @internal
 */
import { CryptoError } from '../errors.js';
import { concatBytes, equalBytes, randomBytes, wipe } from '../bytes.js';
import { sm3 } from '../sm3.js';
import { hmacSm3 } from '../hmac.js';
import { sm2Kdf } from '../kdf.js';
import { bigToBytes, scalarInRange } from './curve.js';
import { derSequence, derUnsignedInteger } from '../der.js';
import type { Sm2Engine } from './engine.js';

/**
 * Default distinguishing ID (GB/T 32918.5 Annex A; GM/T 0009 §10): UTF-8 "1234567812345678".
 * Module-private: a Uint8Array cannot be frozen, so it is never handed out.
 */
export const SM2_DEFAULT_ID: Uint8Array = Uint8Array.of(
  0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38,
);

/** ENTL is two bytes holding the ID length in bits (GB/T 32918.2 §5.5), so at most 8191 bytes. */
export const SM2_MAX_ID_BYTES = 8191;

/** Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA) (GB/T 32918.2 §5.5). */
export function za(engine: Sm2Engine, pubXY: Uint8Array, id: Uint8Array): Uint8Array {
  if (id.length > SM2_MAX_ID_BYTES) throw new RangeError(`SM2 ID longer than ${SM2_MAX_ID_BYTES} bytes (ENTL limit)`);
  const c = engine.curve;
  const bits = id.length * 8;
  return sm3(
    concatBytes(
      Uint8Array.of(bits >>> 8, bits & 0xff),
      id,
      bigToBytes(c.a, 32),
      bigToBytes(c.b, 32),
      bigToBytes(c.gx, 32),
      bigToBytes(c.gy, 32),
      pubXY,
    ),
  );
}

/**
 * Hedged nonce candidate `counter` (in the spirit of RFC 6979 §3.6, "additional data"):
 * k = HMAC-SM3 keyed with the private key d over (32 fresh CSPRNG bytes R ‖ e ‖ counter), kept
 * by the caller when it lies in [1, n-1]. With a working RNG k is uniformly random; with a broken
 * or repeating RNG k is still a secret pseudo-random function of (d, e), so equal nonces can
 * only come with equal digests and a weak RNG cannot leak the key. The wasm kernel computes
 * the same function (crypto/wasm/sm2.c, sm2_sign_hedged); this is its readable reference.
 */
export function hedgedNonce(d: Uint8Array, random: Uint8Array, e: Uint8Array, counter: number): Uint8Array {
  const input = new Uint8Array(32 + 32 + 1);
  input.set(random, 0);
  input.set(e, 32);
  input[64] = counter;
  const k = hmacSm3(d, input);
  wipe(input);
  return k;
}

/**
 * The reference of {@link Sm2Engine.signHedged}: candidates k_c = {@link hedgedNonce}(d, R, e, c)
 * for c = 0, 1, … until one is in [1, n-1] and A5/A6 accept it; r ‖ s (64 bytes).
 */
export function signHedgedRef(engine: Sm2Engine, d: Uint8Array, dInv: Uint8Array, e: Uint8Array, random: Uint8Array): Uint8Array {
  // A5/A6 retries (r = 0, r + k = n, s = 0) take the next candidate; each has
  // probability ~2^-256, so the counter bound is never reached in practice.
  for (let c = 0; c < 256; c++) {
    const k = hedgedNonce(d, random, e, c);
    const rs = scalarInRange(k, engine.curve.n) ? engine.signWithK(dInv, k, e) : null;
    wipe(k);
    if (rs !== null) return rs;
  }
  throw new CryptoError('CRYPTO_ERR_RNG', 'sm2: no valid signature after 256 nonces');
}

/** DER `SEQUENCE { r INTEGER, s INTEGER }` (GM/T 0009 §7.2) of a raw r ‖ s. */
export function derSignature(rs: Uint8Array): Uint8Array {
  return derSequence(derUnsignedInteger(rs.subarray(0, 32)), derUnsignedInteger(rs.subarray(32)));
}

/** A uniformly random scalar in [1, n - 1 - below] by rejection sampling (keys, encryption k). */
export function randomScalar(n: bigint, below = 0n): Uint8Array {
  for (;;) {
    const k = randomBytes(32);
    if (scalarInRange(k, n, below)) return k;
    wipe(k);
  }
}

/**
 * GB/T 32918.2 §6.1 A3–A7 for a digest e: r ‖ s (64 bytes). `unsafeK` fixes the nonce
 * (standard vectors only); without it the nonce is hedged ({@link Sm2Engine.signHedged}).
 */
export function signDigest(
  engine: Sm2Engine,
  d: Uint8Array,
  dInv: Uint8Array,
  e: Uint8Array,
  unsafeK?: Uint8Array,
): Uint8Array {
  if (unsafeK !== undefined) {
    const rs = engine.signWithK(dInv, unsafeK, e);
    if (rs === null) throw new RangeError('sm2: the fixed k gives r = 0, r + k = n or s = 0');
    return rs;
  }
  const state = engine.signSetup(d);
  const rs = engine.signHedged(state, e, false);
  wipe(state);
  return rs;
}

/** C1 (x1 ‖ y1), C3 and C2 of an SM2 ciphertext (GB/T 32918.4 §6.1). */
export interface Sm2CipherParts {
  c1: Uint8Array;
  c3: Uint8Array;
  c2: Uint8Array;
}

function allZero(b: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < b.length; i++) acc |= b[i];
  return acc === 0;
}

/** GB/T 32918.4 §6.1 A1–A8. `unsafeK` fixes k (standard vectors only). */
export function encryptParts(engine: Sm2Engine, pubXY: Uint8Array, msg: Uint8Array, unsafeK?: Uint8Array): Sm2CipherParts {
  for (;;) {
    // A1: k ∈ [1, n-1]; A2: C1 = [k]G; A3: S = [h]P_B ≠ O holds as h = 1 and P_B is valid.
    const k = unsafeK ?? randomScalar(engine.curve.n);
    const c1 = engine.mulG(k);
    // A4: (x2, y2) = [k]P_B.
    const x2y2 = engine.mulKey(k, pubXY);
    if (unsafeK === undefined) wipe(k);
    // A5: t = KDF(x2 ‖ y2, klen); all-zero t means a new k (A5 "return to A1").
    const t = sm2Kdf(x2y2, msg.length);
    if (allZero(t)) {
      wipe(x2y2, t);
      if (unsafeK !== undefined) throw new RangeError('sm2: the fixed k gives an all-zero KDF output');
      continue;
    }
    // A6: C2 = M ⊕ t; A7: C3 = SM3(x2 ‖ M ‖ y2).
    const c2 = new Uint8Array(msg.length);
    for (let i = 0; i < msg.length; i++) c2[i] = msg[i] ^ t[i];
    const c3 = sm3(concatBytes(x2y2.subarray(0, 32), msg, x2y2.subarray(32)));
    wipe(x2y2, t);
    return { c1, c3, c2 };
  }
}

function decryptFail(why: string): never {
  throw new CryptoError('CRYPTO_ERR_SM2_DECRYPT', `SM2 decryption failed: ${why}`);
}

/**
 * GB/T 32918.4 §7.1 B1–B7. C1 must already be a valid point (B1 is the caller's parse).
 * All-zero t (which includes an empty C2, B4) and a C3 mismatch (B6, compared in
 * constant time) throw CRYPTO_ERR_SM2_DECRYPT; no plaintext is released.
 */
export function decryptParts(engine: Sm2Engine, d: Uint8Array, parts: Sm2CipherParts): Uint8Array {
  const { c1, c3, c2 } = parts;
  if (!engine.validPoint(c1)) decryptFail('C1 is not a valid curve point');
  // B3: (x2, y2) = [d]C1.
  const x2y2 = engine.mul(d, c1);
  // B4: t = KDF(x2 ‖ y2, klen) must not be all zero.
  const t = sm2Kdf(x2y2, c2.length);
  if (c2.length === 0 || allZero(t)) {
    wipe(x2y2, t);
    decryptFail('KDF output is all zero');
  }
  // B5: M' = C2 ⊕ t; B6: u = SM3(x2 ‖ M' ‖ y2) must equal C3.
  const m = new Uint8Array(c2.length);
  for (let i = 0; i < c2.length; i++) m[i] = c2[i] ^ t[i];
  const u = sm3(concatBytes(x2y2.subarray(0, 32), m, x2y2.subarray(32)));
  wipe(x2y2, t);
  if (!equalBytes(u, c3)) {
    wipe(m);
    decryptFail('C3 does not match');
  }
  return m;
}

/** x̄ = 2^w + (x mod 2^w) with w = ⌈⌈log2 n⌉/2⌉ − 1 = 127 (GB/T 32918.3 §6.1 A4/B3). */
export function xBar(xy: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  out.set(xy.subarray(16, 32), 16);
  out[16] |= 0x80;
  return out;
}

const ONE = bigToBytes(1n, 32);

/** Inputs of one side of GB/T 32918.3 §6.1 key agreement. */
export interface KxSide {
  d: Uint8Array;
  pub: Uint8Array;
  r: Uint8Array;
  rPub: Uint8Array;
  z: Uint8Array;
}

/** What one side gets: the shared key, the hash it sends (S_B or S_A) and the one it expects. */
export interface KxResult {
  key: Uint8Array;
  confirmation: Uint8Array;
  expectedPeerConfirmation: Uint8Array;
}

/**
 * GB/T 32918.3 §6.1 key agreement for either role. The peer's points must be valid
 * (A6/B5 check R on the curve; the caller's parse does). U/V = [t](P + [x̄]R) with
 * t = (d + x̄·r) mod n; K = KDF(xU ‖ yU ‖ Z_A ‖ Z_B, klen);
 * S_B = S_1 = SM3(02 ‖ yV ‖ SM3(xV ‖ Z_A ‖ Z_B ‖ x1 ‖ y1 ‖ x2 ‖ y2)), S_A = S_2 with 03.
 */
export function kxDerive(
  engine: Sm2Engine,
  role: 'initiator' | 'responder',
  self: KxSide,
  peer: { pub: Uint8Array; rPub: Uint8Array; z: Uint8Array },
  klen: number,
): KxResult {
  const fail = (why: string): never => {
    throw new CryptoError('CRYPTO_ERR_SM2_KEY_EXCHANGE', `SM2 key exchange failed: ${why}`);
  };
  if (!engine.validPoint(peer.rPub)) fail('peer ephemeral point is not a valid curve point');
  if (!engine.validPoint(peer.pub)) fail('peer public key is not a valid curve point');
  const t = engine.mulAddN(self.d, xBar(self.rPub), self.r);
  const sum = engine.mulAdd(ONE, peer.pub, xBar(peer.rPub), peer.rPub);
  if (sum === null) {
    wipe(t);
    return fail('P + [x̄]R is the point at infinity');
  }
  // t ≡ 0 would give O; it happens with negligible probability and is refused rather than used.
  if (allZero(t)) fail('t is zero');
  const uv = engine.mul(t, sum);
  wipe(t);
  const [zA, zB] = role === 'initiator' ? [self.z, peer.z] : [peer.z, self.z];
  const [rA, rB] = role === 'initiator' ? [self.rPub, peer.rPub] : [peer.rPub, self.rPub];
  const x = uv.subarray(0, 32);
  const y = uv.subarray(32);
  const key = sm2Kdf(concatBytes(x, y, zA, zB), klen);
  const inner = sm3(concatBytes(x, zA, zB, rA, rB));
  const s02 = sm3(concatBytes(Uint8Array.of(0x02), y, inner));
  const s03 = sm3(concatBytes(Uint8Array.of(0x03), y, inner));
  wipe(uv);
  return role === 'initiator'
    ? { key, confirmation: s03, expectedPeerConfirmation: s02 }
    : { key, confirmation: s02, expectedPeerConfirmation: s03 };
}
