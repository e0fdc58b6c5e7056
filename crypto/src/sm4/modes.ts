/**
 * SM4 modes of operation (GB/T 17964-2021, NIST SP 800-38A/C/D, RFC 8998, IEEE 1619), written
 * once over an {@link Sm4Kernel}. Bytes in, bytes out; one function per mode and direction.
 */
import { CryptoError } from '../errors.js';
import type { Sm4Kernel } from './kernel.js';

/** Padding of CBC and ECB: PKCS#7 (RFC 5652 §6.3) or none (input must be whole blocks). @example const p: Sm4Padding = 'pkcs7'; */
export type Sm4Padding = 'pkcs7' | 'none';
/** Options of CBC/ECB: the padding is required, there is no default. @example { padding: 'none' } */
export interface Sm4PaddingOptions { readonly padding: Sm4Padding }
/** Options of GCM/CCM. `tagLength` in bytes, default 16. @example { aad: header, tagLength: 16 } */
export interface Sm4AeadOptions { readonly aad?: Uint8Array; readonly tagLength?: number }
/** XTS tweak arithmetic: GB/T 17964-2021 (default) or IEEE 1619. @example const v: Sm4XtsVariant = 'gb'; */
export type Sm4XtsVariant = 'gb' | 'ieee';
/** Options of XTS. @example { variant: 'ieee' } */
export interface Sm4XtsOptions { readonly variant?: Sm4XtsVariant }

/** A streaming cipher: `update` returns output as it becomes available, `final` the rest. @example const out = [c.update(a), c.update(b), c.final()]; */
export interface Sm4StreamCipher {
  /** Processes more input; returns the output available so far (possibly empty). */
  update(data: Uint8Array): Uint8Array;
  /** Ends the stream: returns the remaining output (CBC: last block(s); GCM encrypt: the tag). */
  final(): Uint8Array;
}

function abytes(b: unknown, what: string, len?: number): asserts b is Uint8Array {
  if (!(b instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
  if (len !== undefined && b.length !== len) throw new RangeError(`${what} must be ${len} bytes, got ${b.length}`);
}
function apadding(opts: Sm4PaddingOptions | undefined, what: string): Sm4Padding {
  const p = opts?.padding;
  if (p !== 'pkcs7' && p !== 'none') throw new TypeError(`${what}: options.padding must be 'pkcs7' or 'none'`);
  return p;
}
function wholeBlocks(data: Uint8Array, what: string): void {
  if (data.length % 16 !== 0) throw new RangeError(`${what}: input length ${data.length} is not a multiple of 16 (padding 'none')`);
}
function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** PKCS#7 pad to a whole number of blocks (always adds 1..16 bytes). */
function pad(data: Uint8Array): Uint8Array {
  const p = 16 - (data.length % 16);
  const out = new Uint8Array(data.length + p);
  out.set(data);
  out.fill(p, data.length);
  return out;
}

/** Checks and strips PKCS#7 padding without data-dependent early exits; wipes `data` on failure. */
function unpad(data: Uint8Array): Uint8Array {
  const n = data.length;
  if (n === 0 || n % 16 !== 0) throw new CryptoError('CRYPTO_ERR_INVALID_PADDING', 'padded data is not a whole number of blocks');
  const p = data[n - 1];
  let bad = ((p - 1) >>> 31) | ((16 - p) >>> 31); // p == 0 or p > 16
  for (let i = 1; i <= 16; i++) {
    const inPad = ((i - p - 1) >>> 31) & 1; // i <= p
    bad |= inPad & ((data[n - i] ^ p) !== 0 ? 1 : 0);
  }
  if (bad) {
    data.fill(0);
    throw new CryptoError('CRYPTO_ERR_INVALID_PADDING', 'PKCS#7 padding is malformed');
  }
  return data.subarray(0, n - p);
}

/** Constant-time equality of two equal-length tags. */
function tagsEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

function xorInPlace(dst: Uint8Array, src: Uint8Array): void {
  for (let i = 0; i < dst.length; i++) dst[i] ^= src[i];
}

/** 64-bit big-endian length in bits into b[off..off+8). */
function putBitLength(b: Uint8Array, off: number, bytes: number): void {
  const bits = bytes * 8;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  dv.setUint32(off, Math.floor(bits / 0x100000000));
  dv.setUint32(off + 4, bits >>> 0);
}

/** Streaming CTR over a kernel: whole blocks in the kernel, a partial block's keystream kept. */
class CtrStream {
  private leftover: Uint8Array = new Uint8Array(16);
  private leftPos = 16;
  constructor(private readonly k: Sm4Kernel, private readonly rk: Uint32Array, private readonly counter: Uint8Array, private readonly inc32: boolean) {}
  update(data: Uint8Array): Uint8Array {
    const out = new Uint8Array(data.length);
    let off = 0;
    while (this.leftPos < 16 && off < data.length) out[off] = data[off++] ^ this.leftover[this.leftPos++];
    const whole = (data.length - off) & ~15;
    if (whole > 0) {
      out.set(this.k.ctr(this.rk, this.counter, data.subarray(off, off + whole), this.inc32), off);
      off += whole;
    }
    if (off < data.length) {
      this.leftover = this.k.ctr(this.rk, this.counter, new Uint8Array(16), this.inc32);
      this.leftPos = 0;
      while (off < data.length) out[off] = data[off++] ^ this.leftover[this.leftPos++];
    }
    return out;
  }
  wipe(): void {
    this.leftover.fill(0);
    this.rk.fill(0);
    this.counter.fill(0);
  }
}

/** Incremental GHASH with a partial-block buffer. */
class Ghash {
  readonly y = new Uint8Array(16);
  private readonly buf = new Uint8Array(16);
  private pos = 0;
  constructor(private readonly k: Sm4Kernel, private readonly h: Uint8Array) {}
  update(data: Uint8Array): void {
    let off = 0;
    if (this.pos > 0) {
      const take = Math.min(16 - this.pos, data.length);
      this.buf.set(data.subarray(0, take), this.pos);
      this.pos += take;
      off = take;
      if (this.pos < 16) return;
      this.k.ghash(this.h, this.y, this.buf);
      this.pos = 0;
    }
    const whole = (data.length - off) & ~15;
    if (whole > 0) this.k.ghash(this.h, this.y, data.subarray(off, off + whole));
    off += whole;
    if (off < data.length) {
      this.buf.set(data.subarray(off));
      this.pos = data.length - off;
    }
  }
  /** Zero-pads the pending partial block (SP 800-38D §6.4: A ‖ 0^v, C ‖ 0^u). */
  flushPadded(): void {
    if (this.pos > 0) {
      this.buf.fill(0, this.pos);
      this.k.ghash(this.h, this.y, this.buf);
      this.pos = 0;
    }
  }
  wipe(): void {
    this.y.fill(0);
    this.buf.fill(0);
    this.h.fill(0);
  }
}

/** Every SM4 operation over one kernel. @example makeSm4(sm4RefKernel).sm4CtrEncrypt(key, iv, data) @internal tests build one per kernel. */
export function makeSm4(k: Sm4Kernel) {
  const KEY = 'SM4 key';
  const enc = (key: Uint8Array): Uint32Array => { abytes(key, KEY, 16); return k.expandKey(key, false); };
  const dec = (key: Uint8Array): Uint32Array => { abytes(key, KEY, 16); return k.expandKey(key, true); };

  function ecbEncrypt(key: Uint8Array, data: Uint8Array, opts: Sm4PaddingOptions): Uint8Array {
    abytes(data, 'data');
    const padding = apadding(opts, 'unsafeSm4EcbEncrypt');
    if (padding === 'none') wholeBlocks(data, 'unsafeSm4EcbEncrypt');
    const rk = enc(key);
    try { return k.ecb(rk, padding === 'pkcs7' ? pad(data) : data); } finally { rk.fill(0); }
  }
  function ecbDecrypt(key: Uint8Array, data: Uint8Array, opts: Sm4PaddingOptions): Uint8Array {
    abytes(data, 'data');
    const padding = apadding(opts, 'unsafeSm4EcbDecrypt');
    wholeBlocks(data, 'unsafeSm4EcbDecrypt');
    const rk = dec(key);
    try {
      const out = k.ecb(rk, data);
      return padding === 'pkcs7' ? unpad(out) : out;
    } finally { rk.fill(0); }
  }
  function cbcEncrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array, opts: Sm4PaddingOptions): Uint8Array {
    abytes(iv, 'SM4-CBC iv', 16);
    abytes(data, 'data');
    const padding = apadding(opts, 'sm4CbcEncrypt');
    if (padding === 'none') wholeBlocks(data, 'sm4CbcEncrypt');
    const rk = enc(key);
    try { return k.cbcEncrypt(rk, iv.slice(), padding === 'pkcs7' ? pad(data) : data); } finally { rk.fill(0); }
  }
  function cbcDecrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array, opts: Sm4PaddingOptions): Uint8Array {
    abytes(iv, 'SM4-CBC iv', 16);
    abytes(data, 'data');
    const padding = apadding(opts, 'sm4CbcDecrypt');
    if (padding === 'none') wholeBlocks(data, 'sm4CbcDecrypt');
    else if (data.length === 0 || data.length % 16 !== 0) {
      throw new CryptoError('CRYPTO_ERR_INVALID_PADDING', `SM4-CBC ciphertext length ${data.length} is not a positive multiple of 16`);
    }
    const rk = dec(key);
    try {
      const out = k.cbcDecrypt(rk, iv.slice(), data);
      return padding === 'pkcs7' ? unpad(out) : out;
    } finally { rk.fill(0); }
  }
  function ctr(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
    abytes(iv, 'SM4-CTR initial counter block', 16);
    abytes(data, 'data');
    const rk = enc(key);
    try { return k.ctr(rk, iv.slice(), data, false); } finally { rk.fill(0); }
  }
  function ofb(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
    abytes(iv, 'SM4-OFB iv', 16);
    abytes(data, 'data');
    const rk = enc(key);
    try { return k.ofb(rk, iv, data); } finally { rk.fill(0); }
  }
  function cfbEncrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
    abytes(iv, 'SM4-CFB iv', 16);
    abytes(data, 'data');
    const rk = enc(key);
    try { return k.cfbEncrypt(rk, iv, data); } finally { rk.fill(0); }
  }
  function cfbDecrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
    abytes(iv, 'SM4-CFB iv', 16);
    abytes(data, 'data');
    const rk = enc(key);
    try { return k.cfbDecrypt(rk, iv, data); } finally { rk.fill(0); }
  }

  // ---- GCM (NIST SP 800-38D; SM4-GCM per RFC 8998 §3.1) ----
  function gcmTagLength(opts: Sm4AeadOptions | undefined): number {
    const t = opts?.tagLength ?? 16;
    // SP 800-38D §5.2.1.2: 128, 120, 112, 104, 96 bits, and 64 or 32 for special applications.
    if (!Number.isInteger(t) || !((t >= 12 && t <= 16) || t === 8 || t === 4)) {
      throw new RangeError(`SM4-GCM tagLength must be 4, 8 or 12..16 bytes, got ${String(t)}`);
    }
    return t;
  }
  function gcmAad(opts: Sm4AeadOptions | undefined): Uint8Array {
    const aad = opts?.aad ?? new Uint8Array(0);
    abytes(aad, 'aad');
    return aad;
  }
  /** H = E_K(0^128) and the pre-counter block J0 (§7.1 steps 1–2). */
  function gcmSetup(rk: Uint32Array, nonce: Uint8Array): { h: Uint8Array; j0: Uint8Array } {
    abytes(nonce, 'SM4-GCM nonce');
    if (nonce.length === 0) throw new RangeError('SM4-GCM nonce must not be empty');
    const h = k.ecb(rk, new Uint8Array(16));
    let j0: Uint8Array;
    if (nonce.length === 12) {
      j0 = new Uint8Array(16);
      j0.set(nonce);
      j0[15] = 1;
    } else {
      // J0 = GHASH_H(IV ‖ 0^(s+64) ‖ [len(IV)]_64)
      const g = new Ghash(k, h.slice());
      g.update(nonce);
      g.flushPadded();
      const lb = new Uint8Array(16);
      putBitLength(lb, 8, nonce.length);
      g.update(lb);
      j0 = g.y.slice();
      g.wipe();
    }
    return { h, j0 };
  }
  /** Final tag: MSB_t(E_K(J0) ^ GHASH(A ‖ C ‖ lengths)) (§7.1 steps 5–6). */
  function gcmTag(rk: Uint32Array, g: Ghash, j0: Uint8Array, aadLen: number, ctLen: number, t: number): Uint8Array {
    g.flushPadded();
    const lb = new Uint8Array(16);
    putBitLength(lb, 0, aadLen);
    putBitLength(lb, 8, ctLen);
    g.update(lb);
    const s = k.ecb(rk, j0);
    xorInPlace(s, g.y);
    return s.slice(0, t);
  }
  function inc32(j0: Uint8Array): Uint8Array {
    const c = j0.slice();
    const dv = new DataView(c.buffer);
    dv.setUint32(12, (dv.getUint32(12) + 1) >>> 0);
    return c;
  }

  /** S = GHASH_H(A ‖ 0^v ‖ C ‖ 0^u ‖ [len(A)]_64 ‖ [len(C)]_64) in one kernel call (§7.1 step 5). */
  function ghashAll(h: Uint8Array, aad: Uint8Array, ct: Uint8Array): Uint8Array {
    const ap = Math.ceil(aad.length / 16) * 16;
    const cp = Math.ceil(ct.length / 16) * 16;
    const buf = new Uint8Array(ap + cp + 16);
    buf.set(aad);
    buf.set(ct, ap);
    putBitLength(buf, ap + cp, aad.length);
    putBitLength(buf, ap + cp + 8, ct.length);
    const y = new Uint8Array(16);
    k.ghash(h, y, buf);
    buf.fill(0);
    return y;
  }

  function gcmEncryptGeneral(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, t: number): Uint8Array {
    const rk = enc(key);
    const { h, j0 } = gcmSetup(rk, nonce);
    try {
      // One CTR pass from J0 itself: block 0 is E_K(J0) (the tag mask), the rest GCTR(inc32(J0), P).
      const input = new Uint8Array(16 + plaintext.length);
      input.set(plaintext, 16);
      const ks = k.ctr(rk, j0, input, true);
      input.fill(0);
      const ct = ks.subarray(16);
      const s = ghashAll(h, aad, ct);
      for (let i = 0; i < t; i++) ks[i] ^= s[i];
      // Output ct ‖ tag: move the tag behind the ciphertext.
      const out = new Uint8Array(ct.length + t);
      out.set(ct);
      out.set(ks.subarray(0, t), ct.length);
      return out;
    } finally { rk.fill(0); h.fill(0); }
  }
  function gcmDecryptGeneral(key: Uint8Array, nonce: Uint8Array, data: Uint8Array, aad: Uint8Array, t: number): Uint8Array {
    const rk = enc(key);
    const { h, j0 } = gcmSetup(rk, nonce);
    try {
      const ct = data.subarray(0, data.length - t);
      // Authenticate before decrypting anything: no plaintext exists unless the tag matches.
      const s = ghashAll(h, aad, ct);
      const mask = k.ctr(rk, j0, new Uint8Array(16), true); // E_K(J0); j0 advances to inc32(J0)
      for (let i = 0; i < 16; i++) mask[i] ^= s[i];
      if (!tagsEqual(mask.subarray(0, t), data.subarray(data.length - t))) throw new CryptoError('CRYPTO_ERR_AUTH_TAG', 'SM4-GCM tag mismatch');
      return k.ctr(rk, j0, ct, true);
    } finally { rk.fill(0); h.fill(0); }
  }

  /** Checks the one-shot GCM arguments; returns the tag length and AAD. */
  function gcmArgs(key: Uint8Array, nonce: Uint8Array, data: Uint8Array, opts: Sm4AeadOptions | undefined): { t: number; aad: Uint8Array } {
    abytes(data, 'data');
    abytes(key, KEY, 16);
    abytes(nonce, 'SM4-GCM nonce');
    return { t: gcmTagLength(opts), aad: gcmAad(opts) };
  }
  function gcmEncrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, opts?: Sm4AeadOptions): Uint8Array {
    const { t, aad } = gcmArgs(key, nonce, plaintext, opts);
    const fast = nonce.length === 12 ? k.gcm12?.(key, nonce, aad, plaintext, false) : undefined;
    if (fast) return concat(fast.out, fast.tag.subarray(0, t));
    return gcmEncryptGeneral(key, nonce, plaintext, aad, t);
  }
  function gcmDecrypt(key: Uint8Array, nonce: Uint8Array, data: Uint8Array, opts?: Sm4AeadOptions): Uint8Array {
    const { t, aad } = gcmArgs(key, nonce, data, opts);
    if (data.length < t) throw new CryptoError('CRYPTO_ERR_AUTH_TAG', 'SM4-GCM input is shorter than the tag');
    const ct = data.subarray(0, data.length - t);
    const fast = nonce.length === 12 ? k.gcm12?.(key, nonce, aad, ct, true) : undefined;
    if (fast) {
      // The one-call path decrypts and authenticates together; on a mismatch the trial
      // plaintext is wiped before the error, so none is ever released.
      if (!tagsEqual(fast.tag.subarray(0, t), data.subarray(data.length - t))) {
        fast.out.fill(0);
        throw new CryptoError('CRYPTO_ERR_AUTH_TAG', 'SM4-GCM tag mismatch');
      }
      return fast.out;
    }
    return gcmDecryptGeneral(key, nonce, data, aad, t);
  }

  function createGcmEncrypt(key: Uint8Array, nonce: Uint8Array, opts?: Sm4AeadOptions): Sm4StreamCipher {
    const t = gcmTagLength(opts);
    const aad = gcmAad(opts);
    const rk = enc(key);
    const { h, j0 } = gcmSetup(rk, nonce);
    const g = new Ghash(k, h);
    g.update(aad);
    g.flushPadded();
    const c = new CtrStream(k, rk, inc32(j0), true);
    let len = 0;
    let done = false;
    return {
      update(data: Uint8Array): Uint8Array {
        abytes(data, 'plaintext');
        if (done) throw new Error('SM4-GCM stream already finished');
        const ct = c.update(data);
        g.update(ct);
        len += ct.length;
        return ct;
      },
      final(): Uint8Array {
        if (done) throw new Error('SM4-GCM stream already finished');
        done = true;
        const tag = gcmTag(rk, g, j0, aad.length, len, t);
        c.wipe();
        g.wipe();
        return tag;
      },
    };
  }
  function createGcmDecrypt(key: Uint8Array, nonce: Uint8Array, opts?: Sm4AeadOptions): Sm4StreamCipher {
    // Plaintext is released only by final(), after the tag has been checked; input is buffered.
    abytes(key, KEY, 16);
    abytes(nonce, 'SM4-GCM nonce');
    gcmTagLength(opts);
    const parts: Uint8Array[] = [];
    let done = false;
    return {
      update(data: Uint8Array): Uint8Array {
        abytes(data, 'ciphertext');
        if (done) throw new Error('SM4-GCM stream already finished');
        parts.push(data.slice());
        return new Uint8Array(0);
      },
      final(): Uint8Array {
        if (done) throw new Error('SM4-GCM stream already finished');
        done = true;
        const all = concat(...parts);
        for (const p of parts) p.fill(0);
        return gcmDecrypt(key, nonce, all, opts);
      },
    };
  }

  // ---- CCM (NIST SP 800-38C / RFC 3610; SM4-CCM per RFC 8998 §3.2) ----
  function ccmParams(nonce: Uint8Array, opts: Sm4AeadOptions | undefined): { t: number; q: number; aad: Uint8Array } {
    abytes(nonce, 'SM4-CCM nonce');
    if (nonce.length < 7 || nonce.length > 13) throw new RangeError(`SM4-CCM nonce must be 7..13 bytes, got ${nonce.length}`);
    const t = opts?.tagLength ?? 16;
    if (!Number.isInteger(t) || t < 4 || t > 16 || t % 2 !== 0) throw new RangeError(`SM4-CCM tagLength must be 4, 6, …, 16 bytes, got ${String(t)}`);
    return { t, q: 15 - nonce.length, aad: gcmAad(opts) };
  }
  /** CBC-MAC of B0 ‖ encoded AAD ‖ payload (SP 800-38C §6.1 steps 1–4, Appendix A). */
  function ccmMac(rk: Uint32Array, nonce: Uint8Array, t: number, q: number, aad: Uint8Array, payload: Uint8Array): Uint8Array {
    if (q < 8 && payload.length >= 2 ** (8 * q)) throw new RangeError(`SM4-CCM payload too long for a ${nonce.length}-byte nonce`);
    const b0 = new Uint8Array(16);
    b0[0] = (aad.length > 0 ? 0x40 : 0) | (((t - 2) / 2) << 3) | (q - 1);
    b0.set(nonce, 1);
    for (let i = 0, n = payload.length; i < q; i++, n = Math.floor(n / 256)) b0[15 - i] = n & 0xff;
    let alen: Uint8Array;
    if (aad.length === 0) alen = new Uint8Array(0);
    else if (aad.length < 0xff00) alen = Uint8Array.of(aad.length >>> 8, aad.length & 0xff);
    else alen = Uint8Array.of(0xff, 0xfe, aad.length >>> 24, (aad.length >>> 16) & 0xff, (aad.length >>> 8) & 0xff, aad.length & 0xff);
    const aPart = alen.length + aad.length;
    const aPadded = Math.ceil(aPart / 16) * 16;
    const buf = new Uint8Array(16 + aPadded + Math.ceil(payload.length / 16) * 16);
    buf.set(b0);
    buf.set(alen, 16);
    buf.set(aad, 16 + alen.length);
    buf.set(payload, 16 + aPadded);
    const c = k.cbcEncrypt(rk, new Uint8Array(16), buf);
    buf.fill(0);
    const mac = c.slice(c.length - 16, c.length - 16 + t);
    c.fill(0);
    return mac;
  }
  function ccmCounter0(nonce: Uint8Array, q: number): Uint8Array {
    const a = new Uint8Array(16);
    a[0] = q - 1;
    a.set(nonce, 1);
    return a;
  }
  function ccmEncrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, opts?: Sm4AeadOptions): Uint8Array {
    abytes(plaintext, 'plaintext');
    const { t, q, aad } = ccmParams(nonce, opts);
    const rk = enc(key);
    try {
      const mac = ccmMac(rk, nonce, t, q, aad, plaintext);
      // S0 encrypts the tag; S1, S2, … the payload (SP 800-38C §6.1 steps 5–8).
      const ctr0 = ccmCounter0(nonce, q);
      const s0 = k.ctr(rk, ctr0, new Uint8Array(16), false);
      const ct = k.ctr(rk, ctr0, plaintext, false);
      for (let i = 0; i < t; i++) mac[i] ^= s0[i];
      s0.fill(0);
      return concat(ct, mac);
    } finally { rk.fill(0); }
  }
  function ccmDecrypt(key: Uint8Array, nonce: Uint8Array, data: Uint8Array, opts?: Sm4AeadOptions): Uint8Array {
    abytes(data, 'ciphertext');
    const { t, q, aad } = ccmParams(nonce, opts);
    if (data.length < t) throw new CryptoError('CRYPTO_ERR_AUTH_TAG', 'SM4-CCM input is shorter than the tag');
    const rk = enc(key);
    try {
      const ctr0 = ccmCounter0(nonce, q);
      const s0 = k.ctr(rk, ctr0, new Uint8Array(16), false);
      const pt = k.ctr(rk, ctr0, data.subarray(0, data.length - t), false);
      const mac = ccmMac(rk, nonce, t, q, aad, pt);
      for (let i = 0; i < t; i++) mac[i] ^= s0[i];
      s0.fill(0);
      // CCM must decrypt to verify; the plaintext is wiped, never returned, on a mismatch.
      if (!tagsEqual(mac, data.subarray(data.length - t))) {
        pt.fill(0);
        throw new CryptoError('CRYPTO_ERR_AUTH_TAG', 'SM4-CCM tag mismatch');
      }
      return pt;
    } finally { rk.fill(0); }
  }

  // ---- XTS (GB/T 17964-2021 §… XTS; IEEE 1619-2018) ----
  /** Multiplies the tweak by α in place, per the variant's bit order. */
  function mulAlpha(tw: Uint8Array, variant: Sm4XtsVariant): void {
    if (variant === 'gb') {
      // GB/T 17964-2021: big-endian right shift, reduction constant 0xE1 (GCM's bit order).
      const lsb = tw[15] & 1;
      for (let i = 15; i > 0; i--) tw[i] = (tw[i] >>> 1) | ((tw[i - 1] & 1) << 7);
      tw[0] = (tw[0] >>> 1) ^ (0xe1 & -lsb);
    } else {
      // IEEE 1619 §5.2: little-endian left shift, reduction 0x87.
      const msb = tw[15] >>> 7;
      for (let i = 15; i > 0; i--) tw[i] = ((tw[i] << 1) | (tw[i - 1] >>> 7)) & 0xff;
      tw[0] = ((tw[0] << 1) & 0xff) ^ (0x87 & -msb);
    }
  }
  function xtsVariant(opts: Sm4XtsOptions | undefined): Sm4XtsVariant {
    const v = opts?.variant ?? 'gb';
    if (v !== 'gb' && v !== 'ieee') throw new TypeError(`SM4-XTS variant must be 'gb' or 'ieee'`);
    return v;
  }
  /** XEX over whole blocks: out_j = E(in_j ^ T_j) ^ T_j with T_j = tweaks[16j..]. */
  function xex(rk: Uint32Array, data: Uint8Array, tweaks: Uint8Array): Uint8Array {
    const x = data.slice();
    xorInPlace(x, tweaks);
    const y = k.ecb(rk, x);
    x.fill(0);
    xorInPlace(y, tweaks);
    return y;
  }
  function xts(key: Uint8Array, tweak: Uint8Array, data: Uint8Array, opts: Sm4XtsOptions | undefined, decrypt: boolean): Uint8Array {
    abytes(key, 'SM4-XTS key (key1 ‖ key2)', 32);
    abytes(tweak, 'SM4-XTS tweak', 16);
    abytes(data, 'data');
    const variant = xtsVariant(opts);
    if (data.length < 16) throw new RangeError('SM4-XTS input must be at least 16 bytes');
    const m = Math.floor(data.length / 16);
    const r = data.length % 16;
    const k2 = k.expandKey(key.subarray(16), false);
    const rk = k.expandKey(key.subarray(0, 16), decrypt);
    // T_j = E_K2(tweak) · α^j, one extra for ciphertext stealing.
    const tweaks = new Uint8Array(16 * (m + 1));
    const tw = k.ecb(k2, tweak);
    k2.fill(0);
    for (let j = 0; j <= m; j++) {
      tweaks.set(tw, 16 * j);
      mulAlpha(tw, variant);
    }
    tw.fill(0);
    try {
      if (r === 0) return xex(rk, data, tweaks.subarray(0, 16 * m));
      // Ciphertext stealing (IEEE 1619 §5.3.2 / §5.4.2): the last full block and the partial one.
      const out = new Uint8Array(data.length);
      const head = 16 * (m - 1);
      out.set(xex(rk, data.subarray(0, head), tweaks.subarray(0, head)));
      const tPrev = tweaks.subarray(head, head + 16);
      const tLast = tweaks.subarray(head + 16, head + 32);
      const cc = xex(rk, data.subarray(head, head + 16), decrypt ? tLast : tPrev);
      const pp = new Uint8Array(16);
      pp.set(data.subarray(head + 16));
      pp.set(cc.subarray(r), r);
      out.set(cc.subarray(0, r), head + 16);
      out.set(xex(rk, pp, decrypt ? tPrev : tLast), head);
      cc.fill(0);
      pp.fill(0);
      return out;
    } finally {
      rk.fill(0);
      tweaks.fill(0);
    }
  }

  // ---- streaming CTR / CBC ----
  function createCtr(key: Uint8Array, iv: Uint8Array): Sm4StreamCipher {
    abytes(iv, 'SM4-CTR initial counter block', 16);
    const c = new CtrStream(k, enc(key), iv.slice(), false);
    let done = false;
    return {
      update(data: Uint8Array): Uint8Array {
        abytes(data, 'data');
        if (done) throw new Error('SM4-CTR stream already finished');
        return c.update(data);
      },
      final(): Uint8Array {
        if (done) throw new Error('SM4-CTR stream already finished');
        done = true;
        c.wipe();
        return new Uint8Array(0);
      },
    };
  }
  /** Streaming CBC in either direction; whole blocks go through as they arrive. */
  function createCbc(key: Uint8Array, iv: Uint8Array, opts: Sm4PaddingOptions, decrypt: boolean): Sm4StreamCipher {
    const name = decrypt ? 'createSm4CbcDecrypt' : 'createSm4CbcEncrypt';
    abytes(iv, 'SM4-CBC iv', 16);
    const padding = apadding(opts, name);
    const rk = decrypt ? dec(key) : enc(key);
    const chain = iv.slice();
    const cbc = (d: Uint8Array): Uint8Array => (decrypt ? k.cbcDecrypt(rk, chain, d) : k.cbcEncrypt(rk, chain, d));
    let pending: Uint8Array = new Uint8Array(0);
    let done = false;
    return {
      update(data: Uint8Array): Uint8Array {
        abytes(data, 'data');
        if (done) throw new Error(`${name}: stream already finished`);
        const all = concat(pending, data);
        let whole = all.length & ~15;
        // Decrypting with PKCS#7, the last whole block may be padding: hold it back until final().
        if (decrypt && padding === 'pkcs7' && whole === all.length && whole > 0) whole -= 16;
        pending = all.slice(whole);
        const out = cbc(all.subarray(0, whole));
        all.fill(0);
        return out;
      },
      final(): Uint8Array {
        if (done) throw new Error(`${name}: stream already finished`);
        done = true;
        try {
          if (padding === 'none') {
            if (pending.length) throw new RangeError(`${name}: input is not a multiple of 16 bytes (padding none)`);
            return new Uint8Array(0);
          }
          if (!decrypt) return cbc(pad(pending));
          if (pending.length !== 16) throw new CryptoError('CRYPTO_ERR_INVALID_PADDING', 'SM4-CBC ciphertext is not a positive multiple of 16 bytes');
          return unpad(cbc(pending));
        } finally { rk.fill(0); pending.fill(0); }
      },
    };
  }

  return {
    unsafeSm4EcbEncrypt: ecbEncrypt,
    unsafeSm4EcbDecrypt: ecbDecrypt,
    sm4CbcEncrypt: cbcEncrypt,
    sm4CbcDecrypt: cbcDecrypt,
    sm4CtrEncrypt: ctr,
    sm4CtrDecrypt: ctr,
    sm4CfbEncrypt: cfbEncrypt,
    sm4CfbDecrypt: cfbDecrypt,
    sm4OfbEncrypt: ofb,
    sm4OfbDecrypt: ofb,
    sm4GcmEncrypt: gcmEncrypt,
    sm4GcmDecrypt: gcmDecrypt,
    sm4CcmEncrypt: ccmEncrypt,
    sm4CcmDecrypt: ccmDecrypt,
    sm4XtsEncrypt: (key: Uint8Array, tweak: Uint8Array, data: Uint8Array, opts?: Sm4XtsOptions) => xts(key, tweak, data, opts, false),
    sm4XtsDecrypt: (key: Uint8Array, tweak: Uint8Array, data: Uint8Array, opts?: Sm4XtsOptions) => xts(key, tweak, data, opts, true),
    createSm4CtrCipher: createCtr,
    createSm4CbcEncrypt: (key: Uint8Array, iv: Uint8Array, opts: Sm4PaddingOptions) => createCbc(key, iv, opts, false),
    createSm4CbcDecrypt: (key: Uint8Array, iv: Uint8Array, opts: Sm4PaddingOptions) => createCbc(key, iv, opts, true),
    createSm4GcmEncrypt: createGcmEncrypt,
    createSm4GcmDecrypt: createGcmDecrypt,
  };
}

/** The SM4 operations of one kernel (see {@link makeSm4}). @example const s: Sm4Suite = makeSm4(sm4WasmKernel); */
export type Sm4Suite = ReturnType<typeof makeSm4>;
