/**
 * Key derivation with SM3: the SM2 KDF (GB/T 32918.4-2016 §5.4.3), PBKDF2-HMAC-SM3 (RFC 8018 §5.2)
 * and HKDF-SM3 (RFC 5869, as RFC 8998 uses it).
 */
import { sm3, defaultSm3Kernel, type Sm3Hash } from './sm3.js';
import type { Sm3Kernel } from './sm3-ref.js';
import { HmacSm3 } from './hmac.js';

function abytes(b: unknown, what: string): asserts b is Uint8Array {
  if (!(b instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
}
function aint(n: unknown, what: string, min: number, max: number): asserts n is number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new TypeError(`${what} must be an integer`);
  if (n < min || n > max) throw new RangeError(`${what} must be in [${min}, ${max}], got ${n}`);
}

/** @internal The KDFs over a given SM3 and its kernel (tests loop over kernels). @example makeKdfs(makeSm3(sm3RefKernel), sm3RefKernel).sm2Kdf(z, 16) */
export function makeKdfs(hash: Sm3Hash, kernel: Sm3Kernel): {
  sm2Kdf: (z: Uint8Array, klenBytes: number) => Uint8Array;
  pbkdf2HmacSm3: (password: Uint8Array, salt: Uint8Array, iterations: number, dkLen: number) => Uint8Array;
  hkdfSm3: (ikm: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array | undefined, length: number) => Uint8Array;
} {
  const hmac = (k: Uint8Array, m: Uint8Array): Uint8Array => new HmacSm3(hash, k).update(m).digest();

  function sm2Kdf(z: Uint8Array, klenBytes: number): Uint8Array {
    abytes(z, 'sm2Kdf z');
    // §5.4.3: klen < (2^32 - 1)·v bits; bounded far lower here to keep memory sane.
    aint(klenBytes, 'sm2Kdf klenBytes', 0, 0x7fffffff);
    const out = new Uint8Array(klenBytes);
    const base = hash.create().update(z);
    const ct = new Uint8Array(4);
    for (let counter = 1, off = 0; off < klenBytes; counter++, off += 32) {
      // Ha_i = SM3(Z ‖ ct), ct a 32-bit big-endian counter from 1.
      new DataView(ct.buffer).setUint32(0, counter);
      const h = base.clone().update(ct).digest();
      out.set(h.subarray(0, Math.min(32, klenBytes - off)), off);
      h.fill(0);
    }
    base.destroy();
    return out;
  }

  function pbkdf2HmacSm3(password: Uint8Array, salt: Uint8Array, iterations: number, dkLen: number): Uint8Array {
    abytes(password, 'pbkdf2 password');
    abytes(salt, 'pbkdf2 salt');
    aint(iterations, 'pbkdf2 iterations', 1, 0x7fffffff);
    aint(dkLen, 'pbkdf2 dkLen', 1, 32 * 0xffff);
    // The HMAC key block: the password, hashed first if longer than the block (RFC 2104 §2).
    const keyBlock = new Uint8Array(64);
    if (password.length > 64) {
      const hk = hash(password);
      keyBlock.set(hk);
      hk.fill(0);
    } else keyBlock.set(password);
    const out = new Uint8Array(dkLen);
    const idx = new Uint8Array(4);
    for (let i = 1, off = 0; off < dkLen; i++, off += 32) {
      // T_i = U_1 ^ … ^ U_c, U_1 = PRF(P, S ‖ INT(i)), U_j = PRF(P, U_{j-1}) (RFC 8018 §5.2);
      // the kernel runs the c - 1 further HMACs in one call.
      new DataView(idx.buffer).setUint32(0, i);
      const u1 = new HmacSm3(hash, password).update(salt).update(idx).digest();
      const t = kernel.pbkdf2Iterate(keyBlock, u1, iterations);
      u1.fill(0);
      out.set(t.subarray(0, Math.min(32, dkLen - off)), off);
      t.fill(0);
    }
    keyBlock.fill(0);
    return out;
  }

  function hkdfSm3(ikm: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array | undefined, length: number): Uint8Array {
    abytes(ikm, 'hkdf ikm');
    const s = salt ?? new Uint8Array(0);
    const inf = info ?? new Uint8Array(0);
    abytes(s, 'hkdf salt');
    abytes(inf, 'hkdf info');
    // RFC 5869 §2.3: L <= 255·HashLen.
    aint(length, 'hkdf length', 0, 255 * 32);
    // §2.2: an absent salt is HashLen zeros; HMAC's zero-padding makes the empty salt the same.
    const prk = hmac(s.length ? s : new Uint8Array(32), ikm);
    const out = new Uint8Array(length);
    let t: Uint8Array = new Uint8Array(0);
    for (let i = 1, off = 0; off < length; i++, off += 32) {
      const h = new HmacSm3(hash, prk).update(t).update(inf).update(Uint8Array.of(i)).digest();
      t.fill(0);
      t = h;
      out.set(t.subarray(0, Math.min(32, length - off)), off);
    }
    t.fill(0);
    prk.fill(0);
    return out;
  }

  return { sm2Kdf, pbkdf2HmacSm3, hkdfSm3 };
}

const kdfs = makeKdfs(sm3, defaultSm3Kernel);

/**
 * The SM2 key derivation function (GB/T 32918.4-2016 §5.4.3): SM3(Z ‖ ct) for ct = 1, 2, … as
 * 32-bit big-endian counters, truncated to `klenBytes` (equal to ANSI X9.63 KDF with SM3).
 *
 * @example
 * const k = sm2Kdf(x2y2, 16);
 */
export function sm2Kdf(z: Uint8Array, klenBytes: number): Uint8Array {
  return kdfs.sm2Kdf(z, klenBytes);
}

/**
 * PBKDF2 (RFC 8018 §5.2) with HMAC-SM3 as the PRF.
 *
 * @example
 * const dk = pbkdf2HmacSm3(utf8ToBytes('password'), salt, 10000, 16);
 */
export function pbkdf2HmacSm3(password: Uint8Array, salt: Uint8Array, iterations: number, dkLen: number): Uint8Array {
  return kdfs.pbkdf2HmacSm3(password, salt, iterations, dkLen);
}

/**
 * HKDF (RFC 5869) with HMAC-SM3: extract then expand to `length` bytes (≤ 8160). An empty or
 * absent salt means 32 zero bytes (§2.2).
 *
 * @example
 * const okm = hkdfSm3(sharedSecret, salt, utf8ToBytes('tls13 key'), 16);
 */
export function hkdfSm3(ikm: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array | undefined, length: number): Uint8Array {
  return kdfs.hkdfSm3(ikm, salt, info, length);
}
