/**
 * Readable pure-TypeScript SM4 (GB/T 32907-2016) and GHASH (NIST SP 800-38D Algorithm 1): the
 * reference the WebAssembly kernel is tested against, and the fallback when WebAssembly is
 * missing. It indexes the S-box with data and multiplies bit by bit: fine as a reference, but not
 * constant-time — the WebAssembly kernel is what runs wherever WebAssembly exists.
 */
import type { Sm4Kernel } from './kernel.js';

/** GB/T 32907-2016 §6.2. */
const SBOX = Uint8Array.from([0xd6,0x90,0xe9,0xfe,0xcc,0xe1,0x3d,0xb7,0x16,0xb6,0x14,0xc2,0x28,0xfb,0x2c,0x05,0x2b,0x67,0x9a,0x76,0x2a,0xbe,0x04,0xc3,0xaa,0x44,0x13,0x26,0x49,0x86,0x06,0x99,0x9c,0x42,0x50,0xf4,0x91,0xef,0x98,0x7a,0x33,0x54,0x0b,0x43,0xed,0xcf,0xac,0x62,0xe4,0xb3,0x1c,0xa9,0xc9,0x08,0xe8,0x95,0x80,0xdf,0x94,0xfa,0x75,0x8f,0x3f,0xa6,0x47,0x07,0xa7,0xfc,0xf3,0x73,0x17,0xba,0x83,0x59,0x3c,0x19,0xe6,0x85,0x4f,0xa8,0x68,0x6b,0x81,0xb2,0x71,0x64,0xda,0x8b,0xf8,0xeb,0x0f,0x4b,0x70,0x56,0x9d,0x35,0x1e,0x24,0x0e,0x5e,0x63,0x58,0xd1,0xa2,0x25,0x22,0x7c,0x3b,0x01,0x21,0x78,0x87,0xd4,0x00,0x46,0x57,0x9f,0xd3,0x27,0x52,0x4c,0x36,0x02,0xe7,0xa0,0xc4,0xc8,0x9e,0xea,0xbf,0x8a,0xd2,0x40,0xc7,0x38,0xb5,0xa3,0xf7,0xf2,0xce,0xf9,0x61,0x15,0xa1,0xe0,0xae,0x5d,0xa4,0x9b,0x34,0x1a,0x55,0xad,0x93,0x32,0x30,0xf5,0x8c,0xb1,0xe3,0x1d,0xf6,0xe2,0x2e,0x82,0x66,0xca,0x60,0xc0,0x29,0x23,0xab,0x0d,0x53,0x4e,0x6f,0xd5,0xdb,0x37,0x45,0xde,0xfd,0x8e,0x2f,0x03,0xff,0x6a,0x72,0x6d,0x6c,0x5b,0x51,0x8d,0x1b,0xaf,0x92,0xbb,0xdd,0xbc,0x7f,0x11,0xd9,0x5c,0x41,0x1f,0x10,0x5a,0xd8,0x0a,0xc1,0x31,0x88,0xa5,0xcd,0x7b,0xbd,0x2d,0x74,0xd0,0x12,0xb8,0xe5,0xb4,0xb0,0x89,0x69,0x97,0x4a,0x0c,0x96,0x77,0x7e,0x65,0xb9,0xf1,0x09,0xc5,0x6e,0xc6,0x84,0x18,0xf0,0x7d,0xec,0x3a,0xdc,0x4d,0x20,0x79,0xee,0x5f,0x3e,0xd7,0xcb,0x39,0x48]);
/** §7.3 system parameter FK. */
const FK = [0xa3b1bac6, 0x56aa3350, 0x677d9197, 0xb27022dc];
/** §7.3 fixed parameters CK_i: byte j of CK_i is (4i + j)·7 mod 256. */
const CK = Array.from({ length: 32 }, (_, i) => {
  let w = 0;
  for (let j = 0; j < 4; j++) w = (w << 8) | (((4 * i + j) * 7) & 0xff);
  return w >>> 0;
});

const rol = (x: number, n: number): number => (x << n) | (x >>> (32 - n));
const tau = (a: number): number =>
  (SBOX[a >>> 24] << 24) | (SBOX[(a >>> 16) & 0xff] << 16) | (SBOX[(a >>> 8) & 0xff] << 8) | SBOX[a & 0xff];
/** T (§6.2): L(B) = B ^ B<<<2 ^ B<<<10 ^ B<<<18 ^ B<<<24. */
const T = (a: number): number => {
  const b = tau(a);
  return b ^ rol(b, 2) ^ rol(b, 10) ^ rol(b, 18) ^ rol(b, 24);
};
/** T' of the key schedule (§7.3): L'(B) = B ^ B<<<13 ^ B<<<23. */
const Tk = (a: number): number => {
  const b = tau(a);
  return b ^ rol(b, 13) ^ rol(b, 23);
};

function rd32(p: Uint8Array, o: number): number {
  return ((p[o] << 24) | (p[o + 1] << 16) | (p[o + 2] << 8) | p[o + 3]) >>> 0;
}
function wr32(p: Uint8Array, o: number, v: number): void {
  p[o] = v >>> 24; p[o + 1] = v >>> 16; p[o + 2] = v >>> 8; p[o + 3] = v;
}

/** One block in place: 32 rounds (§7.1) then the reverse transform R. */
function cryptBlock(rk: Uint32Array, b: Uint8Array, o: number): void {
  let x0 = rd32(b, o), x1 = rd32(b, o + 4), x2 = rd32(b, o + 8), x3 = rd32(b, o + 12);
  for (let i = 0; i < 32; i++) {
    const x4 = (x0 ^ T(x1 ^ x2 ^ x3 ^ rk[i])) >>> 0;
    x0 = x1; x1 = x2; x2 = x3; x3 = x4;
  }
  wr32(b, o, x3); wr32(b, o + 4, x2); wr32(b, o + 8, x1); wr32(b, o + 12, x0);
}

function xorInto(dst: Uint8Array, doff: number, src: Uint8Array, soff: number, n: number): void {
  for (let i = 0; i < n; i++) dst[doff + i] ^= src[soff + i];
}

function incCounter(c: Uint8Array, inc32: boolean): void {
  const stop = inc32 ? 12 : 0;
  for (let i = 15; i >= stop; i--) {
    c[i] = (c[i] + 1) & 0xff;
    if (c[i] !== 0) break;
  }
}

/**
 * The feedback modes, one block at a time: the register is encrypted, XORed into the data, then
 * replaced by the keystream (OFB), the ciphertext out (CFB encrypt) or the ciphertext in (CFB decrypt).
 */
function feedback(rk: Uint32Array, iv: Uint8Array, data: Uint8Array, mode: 'ofb' | 'cfb-enc' | 'cfb-dec'): Uint8Array {
  const out = data.slice();
  const r = iv.slice();
  for (let o = 0; o < out.length; o += 16) {
    cryptBlock(rk, r, 0);
    const n = Math.min(16, out.length - o);
    xorInto(out, o, r, 0, n);
    if (mode === 'cfb-enc') r.set(out.subarray(o, o + n));
    else if (mode === 'cfb-dec') r.set(data.subarray(o, o + n));
  }
  r.fill(0);
  return out;
}

/** GF(2^128) multiply in GCM's bit order, SP 800-38D §6.3 Algorithm 1. */
function gmul(x: Uint8Array, y: Uint8Array): Uint8Array {
  const z = new Uint8Array(16);
  const v = y.slice();
  for (let i = 0; i < 128; i++) {
    if ((x[i >> 3] >> (7 - (i & 7))) & 1) xorInto(z, 0, v, 0, 16);
    const lsb = v[15] & 1;
    for (let j = 15; j > 0; j--) v[j] = (v[j] >>> 1) | ((v[j - 1] & 1) << 7);
    v[0] >>>= 1;
    if (lsb) v[0] ^= 0xe1; // R = 11100001 ‖ 0^120
  }
  return z;
}

/** The reference kernel. @example sm4RefKernel.ecb(sm4RefKernel.expandKey(key, false), block) */
export const sm4RefKernel: Sm4Kernel = {
  name: 'ref',
  expandKey(key: Uint8Array, decrypt: boolean): Uint32Array {
    const k = [rd32(key, 0) ^ FK[0], rd32(key, 4) ^ FK[1], rd32(key, 8) ^ FK[2], rd32(key, 12) ^ FK[3]];
    const rk = new Uint32Array(32);
    for (let i = 0; i < 32; i++) {
      // rk_i = K_{i+4} = K_i ^ T'(K_{i+1} ^ K_{i+2} ^ K_{i+3} ^ CK_i)
      k[i & 3] = (k[i & 3] ^ Tk(k[(i + 1) & 3] ^ k[(i + 2) & 3] ^ k[(i + 3) & 3] ^ CK[i])) >>> 0;
      rk[decrypt ? 31 - i : i] = k[i & 3];
    }
    k.fill(0);
    return rk;
  },
  ecb(rk, data) {
    const out = data.slice();
    for (let o = 0; o < out.length; o += 16) cryptBlock(rk, out, o);
    return out;
  },
  cbcEncrypt(rk, iv, data) {
    const out = data.slice();
    for (let o = 0; o < out.length; o += 16) {
      xorInto(out, o, o === 0 ? iv : out, o === 0 ? 0 : o - 16, 16);
      cryptBlock(rk, out, o);
    }
    if (out.length) iv.set(out.subarray(out.length - 16));
    return out;
  },
  cbcDecrypt(rk, iv, data) {
    const out = data.slice();
    for (let o = 0; o < out.length; o += 16) cryptBlock(rk, out, o);
    xorInto(out, 0, iv, 0, Math.min(16, out.length));
    for (let o = 16; o < out.length; o += 16) xorInto(out, o, data, o - 16, 16);
    if (data.length) iv.set(data.subarray(data.length - 16));
    return out;
  },
  ctr(rk, counter, data, inc32) {
    const out = data.slice();
    const ks = new Uint8Array(16);
    for (let o = 0; o < out.length; o += 16) {
      ks.set(counter);
      cryptBlock(rk, ks, 0);
      xorInto(out, o, ks, 0, Math.min(16, out.length - o));
      incCounter(counter, inc32);
    }
    ks.fill(0);
    return out;
  },
  ofb: (rk, iv, data) => feedback(rk, iv, data, 'ofb'),
  cfbEncrypt: (rk, iv, data) => feedback(rk, iv, data, 'cfb-enc'),
  cfbDecrypt: (rk, iv, data) => feedback(rk, iv, data, 'cfb-dec'),
  ghash(h, y, data) {
    for (let o = 0; o < data.length; o += 16) {
      xorInto(y, 0, data, o, 16);
      y.set(gmul(y, h));
    }
  },
};
