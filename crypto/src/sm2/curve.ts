/**
 * Readable pure-TypeScript (BigInt) reference of the SM2 field, group and scalar
 * arithmetic, for any short Weierstrass curve y² = x³ + ax + b over F_p with cofactor 1.
 *
 * It is the executable specification the WebAssembly kernel (crypto/wasm/sm2.c) is tested
 * against, and the only implementation that accepts curve parameters other than
 * sm2p256v1 (the GB/T 32918 Appendix A example curve is used by the standard's vectors).
 * BigInt arithmetic is not constant-time: production code paths use the wasm backend.
 *
 * @example
 * const c = new RefCurve(SM2P256V1);
 * const q = c.mul(5n, c.g); // [5]G in affine coordinates
 * @internal
 */

/** Parameters of a curve y² = x³ + ax + b over F_p with a base point G of prime order n. */
export interface CurveParams {
  readonly name: string;
  readonly p: bigint;
  readonly a: bigint;
  readonly b: bigint;
  readonly n: bigint;
  readonly gx: bigint;
  readonly gy: bigint;
}

/** The recommended curve of GB/T 32918.5-2017 (sm2p256v1, OID 1.2.156.10197.1.301). */
export const SM2P256V1: CurveParams = Object.freeze({
  name: 'sm2p256v1',
  p: 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn,
  a: 0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffcn,
  b: 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n,
  n: 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n,
  gx: 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n,
  gy: 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n,
});

/** An affine point, or `null` for the point at infinity O. */
export type Affine = { readonly x: bigint; readonly y: bigint } | null;

/** Jacobian coordinates (X, Y, Z) for x = X/Z², y = Y/Z³; Z = 0 is O (GB/T 32918.1 Annex A.1.2.3.2). */
interface Jacobian {
  x: bigint;
  y: bigint;
  z: bigint;
}

/** Big-endian bytes → bigint. */
export function bytesToBig(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = 0; i < b.length; i++) v = (v << 8n) | BigInt(b[i]);
  return v;
}

/** bigint → big-endian bytes, left-padded to `len` (GB/T 32918.1 §4.2.2 integer-to-octets). */
export function bigToBytes(v: bigint, len: number): Uint8Array {
  if (v < 0n || v >> BigInt(8 * len) !== 0n) throw new RangeError('bigToBytes: value does not fit');
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

/** a^e mod m by square-and-multiply (e public). */
export function powMod(a: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  let b = mod(a, m);
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

/** Inverse modulo a prime by Fermat's little theorem (a^(m-2)); 0 has no inverse. */
export function invMod(a: bigint, m: bigint): bigint {
  const x = mod(a, m);
  if (x === 0n) throw new RangeError('invMod: zero has no inverse');
  return powMod(x, m - 2n, m);
}

/** Reference group arithmetic over one curve. */
export class RefCurve {
  readonly params: CurveParams;
  readonly g: Affine;
  /** Byte length of a field element / scalar (32 for the 256-bit curves). */
  readonly len: number;

  constructor(params: CurveParams) {
    this.params = params;
    this.g = { x: params.gx, y: params.gy };
    this.len = Math.ceil(params.p.toString(16).length / 2);
  }

  /** GB/T 32918.1 §6.2 public-key validation: not O, coordinates in [0, p-1], on the curve; n·Q = O. */
  isValid(q: Affine): boolean {
    if (q === null) return false;
    const { p, n } = this.params;
    if (q.x < 0n || q.x >= p || q.y < 0n || q.y >= p) return false;
    if (!this.onCurve(q)) return false;
    // Cofactor 1 makes every curve point of order n, but the check is cheap here and
    // documents the requirement of §6.2 step d.
    return this.mul(n, q) === null;
  }

  /** y² ≡ x³ + ax + b (mod p). */
  onCurve(q: { x: bigint; y: bigint }): boolean {
    const { p, a, b } = this.params;
    return mod(q.y * q.y - (q.x * q.x * q.x + a * q.x + b), p) === 0n;
  }

  /**
   * Point decompression (GB/T 32918.1 §4.2.10 / Annex A.5.2): y = (x³+ax+b)^((p+1)/4) when
   * p ≡ 3 (mod 4), choosing the root whose parity is `yOdd`. `null` if x is not on the curve.
   */
  decompress(x: bigint, yOdd: boolean): Affine {
    const { p, a, b } = this.params;
    if (x < 0n || x >= p || p % 4n !== 3n) return null;
    const rhs = mod(x * x * x + a * x + b, p);
    let y = powMod(rhs, (p + 1n) / 4n, p);
    if ((y * y) % p !== rhs) return null;
    if (((y & 1n) === 1n) !== yOdd) y = mod(-y, p);
    // y = 0 has only one root; its parity is even, so an odd request fails.
    if (((y & 1n) === 1n) !== yOdd) return null;
    return { x, y };
  }

  private toJ(q: Affine): Jacobian {
    return q === null ? { x: 1n, y: 1n, z: 0n } : { x: q.x, y: q.y, z: 1n };
  }

  private toA(q: Jacobian): Affine {
    const { p } = this.params;
    if (q.z === 0n) return null;
    const zi = invMod(q.z, p);
    const zi2 = (zi * zi) % p;
    return { x: (q.x * zi2) % p, y: (((q.y * zi2) % p) * zi) % p };
  }

  /** Jacobian doubling (general a): λ1 = 3X² + aZ⁴, λ2 = 4XY², λ3 = 8Y⁴. */
  private dbl(q: Jacobian): Jacobian {
    const { p, a } = this.params;
    if (q.z === 0n || q.y === 0n) return { x: 1n, y: 1n, z: 0n };
    const yy = (q.y * q.y) % p;
    const zz = (q.z * q.z) % p;
    const l1 = mod(3n * q.x * q.x + a * zz * zz, p);
    const l2 = (4n * q.x * yy) % p;
    const l3 = (8n * yy * yy) % p;
    const x3 = mod(l1 * l1 - 2n * l2, p);
    return { x: x3, y: mod(l1 * (l2 - x3) - l3, p), z: (2n * q.y * q.z) % p };
  }

  /** Jacobian addition with the exceptional cases (O, P = Q, P = −Q) handled explicitly. */
  private add(P: Jacobian, Q: Jacobian): Jacobian {
    const { p } = this.params;
    if (P.z === 0n) return Q;
    if (Q.z === 0n) return P;
    const z1z1 = (P.z * P.z) % p;
    const z2z2 = (Q.z * Q.z) % p;
    const u1 = (P.x * z2z2) % p;
    const u2 = (Q.x * z1z1) % p;
    const s1 = (((P.y * Q.z) % p) * z2z2) % p;
    const s2 = (((Q.y * P.z) % p) * z1z1) % p;
    const h = mod(u2 - u1, p);
    const r = mod(s2 - s1, p);
    if (h === 0n) return r === 0n ? this.dbl(P) : { x: 1n, y: 1n, z: 0n };
    const hh = (h * h) % p;
    const hhh = (hh * h) % p;
    const v = (u1 * hh) % p;
    const x3 = mod(r * r - hhh - 2n * v, p);
    const y3 = mod(r * (v - x3) - s1 * hhh, p);
    return { x: x3, y: y3, z: (((P.z * Q.z) % p) * h) % p };
  }

  /** P + Q in affine coordinates. */
  addAffine(P: Affine, Q: Affine): Affine {
    return this.toA(this.add(this.toJ(P), this.toJ(Q)));
  }

  /** −P. */
  neg(P: Affine): Affine {
    return P === null ? null : { x: P.x, y: mod(-P.y, this.params.p) };
  }

  /** [k]P by left-to-right double-and-add (k ≥ 0; variable time). */
  mul(k: bigint, P: Affine): Affine {
    if (k < 0n) throw new RangeError('RefCurve.mul: negative scalar');
    let acc = this.toJ(null);
    const base = this.toJ(P);
    for (let i = k.toString(2).length - 1; i >= 0; i--) {
      acc = this.dbl(acc);
      if ((k >> BigInt(i)) & 1n) acc = this.add(acc, base);
    }
    return this.toA(acc);
  }

  /** [u1]P + [u2]Q (Shamir's trick; variable time, public data). */
  mulAdd(u1: bigint, P: Affine, u2: bigint, Q: Affine): Affine {
    const pj = this.toJ(P);
    const qj = this.toJ(Q);
    const pq = this.add(pj, qj);
    let acc = this.toJ(null);
    const bits = Math.max(u1.toString(2).length, u2.toString(2).length);
    for (let i = bits - 1; i >= 0; i--) {
      acc = this.dbl(acc);
      const b1 = (u1 >> BigInt(i)) & 1n;
      const b2 = (u2 >> BigInt(i)) & 1n;
      if (b1 && b2) acc = this.add(acc, pq);
      else if (b1) acc = this.add(acc, pj);
      else if (b2) acc = this.add(acc, qj);
    }
    return this.toA(acc);
  }
}

/** Upper bounds as bytes (n − 1, n − 2 of each curve in use; a handful of entries). */
const bounds = new Map<bigint, Uint8Array>();

/**
 * Whether a 32-byte big-endian scalar lies in [1, n − 1 − `below`]. Constant-time in k (the
 * scalar may be a private key or a nonce): one pass of byte subtraction with borrow against
 * the public bound and an OR over all bytes, no early exit.
 */
export function scalarInRange(k: Uint8Array, n: bigint, below = 0n): boolean {
  const top = n - 1n - below;
  let bound = bounds.get(top);
  if (bound === undefined) {
    bound = bigToBytes(top, 32);
    bounds.set(top, bound);
  }
  let borrow = 0;
  let any = 0;
  for (let i = 31; i >= 0; i--) {
    const d = bound[i] - k[i] - borrow;
    borrow = (d >>> 31) & 1;
    any |= k[i];
  }
  return k.length === 32 && borrow === 0 && any !== 0;
}
