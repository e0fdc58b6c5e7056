/**
 * Readable pure-TypeScript SM3 compression (GB/T 32905-2016 §5.3), the reference the WebAssembly
 * kernel (`crypto/wasm/sm3.c`) is tested against. SM3 has no secret-indexed tables, so this is
 * constant-time as well; it serves when WebAssembly is unavailable.
 */

/**
 * A compression kernel: absorbs `nblocks` 64-byte blocks of `data` from `offset` into `state`.
 * @example for (const k of [sm3WasmKernel, sm3RefKernel]) k.digest(msg);
 */
export interface Sm3Kernel {
  /** `'wasm'` or `'ref'`, for test names. */
  readonly name: string;
  /** Compresses whole blocks; `state` is the 8-word chaining value, updated in place. */
  blocks(state: Uint32Array, data: Uint8Array, offset: number, nblocks: number): void;
  /** One-shot digest of `data` (32 bytes). */
  digest(data: Uint8Array): Uint8Array;
  /**
   * PBKDF2's inner loop (RFC 8018 §5.2): from the HMAC key block `keyBlock` (the key, hashed
   * if longer than 64 bytes, zero-padded to 64) and U_1, returns T = U_1 ^ … ^ U_c with
   * U_j = HMAC-SM3(K, U_{j-1}).
   */
  pbkdf2Iterate(keyBlock: Uint8Array, u1: Uint8Array, iterations: number): Uint8Array;
}

/** The initial value IV (§4.1). @example const state = Uint32Array.from(SM3_IV); */
export const SM3_IV: readonly number[] = [
  0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e,
];

const rol = (x: number, n: number): number => ((x << n) | (x >>> (32 - n))) >>> 0;
const p0 = (x: number): number => x ^ rol(x, 9) ^ rol(x, 17);
const p1 = (x: number): number => x ^ rol(x, 15) ^ rol(x, 23);

// T_j <<< (j mod 32), §4.2 / §5.3.3.
const TJ = Array.from({ length: 64 }, (_, j) => rol(j < 16 ? 0x79cc4519 : 0x7a879d8a, j % 32));

const W = new Uint32Array(68);

function compressRef(v: Uint32Array, p: Uint8Array, off: number, n: number): void {
  for (let blk = 0; blk < n; blk++, off += 64) {
    for (let j = 0; j < 16; j++) {
      const o = off + 4 * j;
      W[j] = (p[o] << 24) | (p[o + 1] << 16) | (p[o + 2] << 8) | p[o + 3];
    }
    // Message expansion, §5.3.2.
    for (let j = 16; j < 68; j++) W[j] = p1(W[j - 16] ^ W[j - 9] ^ rol(W[j - 3], 15)) ^ rol(W[j - 13], 7) ^ W[j - 6];
    let a = v[0], b = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6], h = v[7];
    for (let j = 0; j < 64; j++) {
      const a12 = rol(a, 12);
      const ss1 = rol((a12 + e + TJ[j]) >>> 0, 7);
      const ss2 = ss1 ^ a12;
      // FF and GG are XOR for rounds 0..15, majority / choice afterwards (§4.3).
      const ff = j < 16 ? a ^ b ^ c : (a & b) | (a & c) | (b & c);
      const gg = j < 16 ? e ^ f ^ g : (e & f) | (~e & g);
      const tt1 = (ff + d + ss2 + (W[j] ^ W[j + 4])) >>> 0;
      const tt2 = (gg + h + ss1 + W[j]) >>> 0;
      d = c; c = rol(b, 9); b = a; a = tt1;
      h = g; g = rol(f, 19); f = e; e = p0(tt2) >>> 0;
    }
    v[0] ^= a; v[1] ^= b; v[2] ^= c; v[3] ^= d; v[4] ^= e; v[5] ^= f; v[6] ^= g; v[7] ^= h;
  }
  W.fill(0);
}

/**
 * Pads (§5.2) and finishes: `tail` is the unprocessed remainder (< 64 bytes) of a `total`-byte message.
 * @example const digest = sm3Finish(sm3RefKernel, Uint32Array.from(SM3_IV), new Uint8Array(0), 0);
 */
export function sm3Finish(kernel: Sm3Kernel, state: Uint32Array, tail: Uint8Array, total: number): Uint8Array {
  const n = tail.length < 56 ? 64 : 128;
  const blk = new Uint8Array(n);
  blk.set(tail);
  blk[tail.length] = 0x80;
  // 64-bit big-endian bit length; total < 2^53 so the split is exact.
  const bits = total * 8;
  const dv = new DataView(blk.buffer);
  dv.setUint32(n - 8, Math.floor(bits / 0x100000000));
  dv.setUint32(n - 4, bits >>> 0);
  kernel.blocks(state, blk, 0, n / 64);
  blk.fill(0);
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) ov.setUint32(4 * i, state[i]);
  return out;
}

/** {@link Sm3Kernel.pbkdf2Iterate} over any compression function. */
function pbkdf2IterateWith(blocks: Sm3Kernel['blocks'], keyBlock: Uint8Array, u1: Uint8Array, iterations: number): Uint8Array {
  const pad = new Uint8Array(64);
  const ist = Uint32Array.from(SM3_IV);
  const ost = Uint32Array.from(SM3_IV);
  for (let i = 0; i < 64; i++) pad[i] = keyBlock[i] ^ 0x36;
  blocks(ist, pad, 0, 1);
  for (let i = 0; i < 64; i++) pad[i] = keyBlock[i] ^ 0x5c;
  blocks(ost, pad, 0, 1);
  // The second block of both hashes: U ‖ 0x80 ‖ 0… ‖ [(64 + 32)·8]_64 (§5.2).
  const blk = new Uint8Array(64);
  blk.set(u1);
  blk[32] = 0x80;
  blk[62] = 0x03;
  const t = u1.slice();
  const v = new Uint32Array(8);
  const dv = new DataView(blk.buffer);
  for (let it = 1; it < iterations; it++) {
    for (const st of [ist, ost]) {
      v.set(st);
      blocks(v, blk, 0, 1);
      for (let i = 0; i < 8; i++) dv.setUint32(4 * i, v[i]);
    }
    for (let i = 0; i < 32; i++) t[i] ^= blk[i];
  }
  pad.fill(0);
  blk.fill(0);
  ist.fill(0);
  ost.fill(0);
  v.fill(0);
  return t;
}

/**
 * The reference kernel.
 *
 * @example
 * const st = Uint32Array.from(SM3_IV); sm3RefKernel.blocks(st, new Uint8Array(64), 0, 1);
 */
export const sm3RefKernel: Sm3Kernel = {
  name: 'ref',
  blocks: compressRef,
  digest(data: Uint8Array): Uint8Array {
    const st = Uint32Array.from(SM3_IV);
    const full = data.length - (data.length % 64);
    compressRef(st, data, 0, full / 64);
    return sm3Finish(sm3RefKernel, st, data.subarray(full), data.length);
  },
  pbkdf2Iterate: (keyBlock, u1, iterations) => pbkdf2IterateWith(compressRef, keyBlock, u1, iterations),
};
