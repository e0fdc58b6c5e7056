/**
 * The arithmetic engine behind the SM2 protocols: a small, coarse-grained, bytes-in /
 * bytes-out interface (each call is a whole scalar multiplication or a whole signature
 * core), implemented twice — by the WebAssembly kernel for production and by the BigInt
 * reference in `curve.ts` for tests and for the standard's example curve.
 *
 * Conventions: scalars and coordinates are 32-byte big-endian (GB/T 32918.1 §4.2.2);
 * points are affine `x ‖ y` (64 bytes) and have already passed {@link Sm2Engine.validPoint}.
 * @internal
 */
import { RefCurve, SM2P256V1, bigToBytes, bytesToBig, invMod, type CurveParams } from './curve.js';
import { concatBytes, randomBytes } from '../bytes.js';
import { sm3 } from '../sm3.js';
import { derSignature, signHedgedRef } from './protocol.js';

/** Arithmetic used by the SM2 protocols; see the module comment for conventions. @internal */
export interface Sm2Engine {
  readonly name: 'wasm' | 'reference';
  readonly curve: CurveParams;
  /** GB/T 32918.1 §6.2: x, y < p, on the curve, not O (order n holds as h = 1). */
  validPoint(xy: Uint8Array): boolean;
  /** Decompression (GB/T 32918.1 Annex A.5.2); `null` when x is not the abscissa of a point. */
  decompress(x: Uint8Array, yOdd: boolean): Uint8Array | null;
  /** [k]G for k in [1, n-1]; constant-time in k. */
  mulG(k: Uint8Array): Uint8Array;
  /** [k]P for k in [1, n-1] and a valid P; constant-time in k. */
  mul(k: Uint8Array, xy: Uint8Array): Uint8Array;
  /**
   * As {@link Sm2Engine.mul} for a long-lived public key P (an encryption recipient): the
   * engine may keep a per-key table for P when it is used often. Constant-time in k.
   */
  mulKey(k: Uint8Array, xy: Uint8Array): Uint8Array;
  /** [u1]P + [u2]Q for public scalars in [0, n-1]; variable time; `null` for O. */
  mulAdd(u1: Uint8Array, p: Uint8Array, u2: Uint8Array, q: Uint8Array): Uint8Array | null;
  /** (1 + d)⁻¹ mod n for d in [1, n-2] (constant-time), precomputed once per private key. */
  signPrep(d: Uint8Array): Uint8Array;
  /**
   * GB/T 32918.2 §6.1 A4–A6 with s = (1+d)⁻¹(k + r) − r (≡ (1+d)⁻¹(k − r·d)): returns r ‖ s,
   * or `null` when r = 0, r + k = n or s = 0 and a new k is needed. `e` is any 32 bytes.
   */
  signWithK(dInv: Uint8Array, k: Uint8Array, e: Uint8Array): Uint8Array | null;
  /**
   * The secret per-key state of {@link Sm2Engine.signHedged} for d in [1, n-2], computed once
   * per key (engine-specific layout; the wasm kernel keeps (1+d)⁻¹ and the HMAC-SM3 pad states).
   */
  signSetup(d: Uint8Array): Uint8Array;
  /**
   * A whole hedged signature of digest e (GB/T 32918.2 §6.1 A3–A7, nonces as in
   * `protocol.ts` hedgedNonce): DER when `der`, else r ‖ s. `random` (32 bytes) replaces the
   * CSPRNG draw — tests only, to compare engines.
   */
  signHedged(state: Uint8Array, e: Uint8Array, der: boolean, random?: Uint8Array): Uint8Array;
  /** As {@link Sm2Engine.signHedged} for the message: e = SM3(z ‖ msg) (GB/T 32918.2 §6.1 A1–A2). */
  signMessage(state: Uint8Array, z: Uint8Array, msg: Uint8Array, der: boolean, random?: Uint8Array): Uint8Array;
  /** GB/T 32918.2 §7.1 B1–B7 for r, s (32 bytes each) against a valid public key. */
  verify(pub: Uint8Array, e: Uint8Array, r: Uint8Array, s: Uint8Array): boolean;
  /** (a + b·c) mod n, constant-time (key exchange t = d + x̄·r, GB/T 32918.3 §6.1 A5). */
  mulAddN(a: Uint8Array, b: Uint8Array, c: Uint8Array): Uint8Array;
}

export { scalarInRange } from './curve.js';

/** The BigInt reference engine over any curve (tests, and the GB/T 32918 example curve). @internal */
export function referenceEngine(params: CurveParams = SM2P256V1): Sm2Engine {
  const c = new RefCurve(params);
  const { n } = params;
  const L = c.len;
  const pt = (xy: Uint8Array) => ({ x: bytesToBig(xy.subarray(0, L)), y: bytesToBig(xy.subarray(L, 2 * L)) });
  const enc = (q: { x: bigint; y: bigint } | null): Uint8Array | null => {
    if (q === null) return null;
    const out = new Uint8Array(2 * L);
    out.set(bigToBytes(q.x, L), 0);
    out.set(bigToBytes(q.y, L), L);
    return out;
  };
  const encOrThrow = (q: { x: bigint; y: bigint } | null): Uint8Array => {
    const out = enc(q);
    if (out === null) throw new RangeError('scalar multiplication gave the point at infinity');
    return out;
  };
  const engine: Sm2Engine = {
    name: 'reference',
    curve: params,
    validPoint: (xy) => xy.length === 2 * L && c.isValid(pt(xy)),
    decompress: (x, yOdd) => enc(c.decompress(bytesToBig(x), yOdd)),
    mulG: (k) => encOrThrow(c.mul(bytesToBig(k), c.g)),
    mul: (k, xy) => encOrThrow(c.mul(bytesToBig(k), pt(xy))),
    mulKey: (k, xy) => encOrThrow(c.mul(bytesToBig(k), pt(xy))),
    mulAdd: (u1, p, u2, q) => enc(c.mulAdd(bytesToBig(u1), pt(p), bytesToBig(u2), pt(q))),
    signPrep: (d) => bigToBytes(invMod(1n + bytesToBig(d), n), L),
    signWithK(dInv, k, e) {
      const kk = bytesToBig(k);
      const q = c.mul(kk, c.g);
      if (q === null) return null;
      const r = (bytesToBig(e) + q.x) % n;
      if (r === 0n || r + kk === n) return null;
      const s = (((bytesToBig(dInv) * (kk + r)) % n) - r + n) % n;
      if (s === 0n) return null;
      const out = new Uint8Array(2 * L);
      out.set(bigToBytes(r, L), 0);
      out.set(bigToBytes(s, L), L);
      return out;
    },
    verify(pub, e, r, s) {
      const rr = bytesToBig(r);
      const ss = bytesToBig(s);
      // B1, B2: r, s ∈ [1, n-1].
      if (rr < 1n || rr >= n || ss < 1n || ss >= n) return false;
      // B5: t = (r + s) mod n ≠ 0.
      const t = (rr + ss) % n;
      if (t === 0n) return false;
      // B6: (x1, y1) = [s]G + [t]P_A; B7: R = (e + x1) mod n must equal r.
      const q = c.mulAdd(ss, c.g, t, pt(pub));
      if (q === null) return false;
      return (bytesToBig(e) + q.x) % n === rr;
    },
    mulAddN: (a, b, cc) => bigToBytes((bytesToBig(a) + bytesToBig(b) * bytesToBig(cc)) % n, L),
    // State: (1 + d)⁻¹ ‖ d.
    signSetup: (d) => concatBytes(engine.signPrep(d), d),
    signHedged(state, e, der, random) {
      const rs = signHedgedRef(engine, state.subarray(L), state.subarray(0, L), e, random ?? randomBytes(32));
      return der ? derSignature(rs) : rs;
    },
    signMessage: (state, z, msg, der, random) => engine.signHedged(state, sm3(concatBytes(z, msg)), der, random),
  };
  return engine;
}
