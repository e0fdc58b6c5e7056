/**
 * SM4 and GHASH backed by the WebAssembly kernel `crypto/wasm/sm4.c` (constant-time S-box as a
 * tower-field inversion over SIMD-register tables, GHASH via masked multiplications; ABI in
 * crypto/wasm/README.md).
 */
import { defineKernel, type KernelExports } from '../wasm/load.js';
import { wasmBase64 } from '../wasm/sm4.generated.js';
import type { Sm4Kernel } from './kernel.js';

interface Sm4Exports extends KernelExports {
  key_ptr(): number;
  rk_ptr(): number;
  iv_ptr(): number;
  h_ptr(): number;
  sm4_expand_key(decrypt: number): void;
  sm4_ecb(n: number): void;
  sm4_cbc_encrypt(n: number): void;
  sm4_cbc_decrypt(n: number): void;
  sm4_ctr(len: number, inc32: number): void;
  sm4_ofb(len: number): void;
  sm4_cfb_encrypt(len: number): void;
  sm4_cfb_decrypt(len: number): void;
  ghash(n: number): void;
  sm4_gcm12(aadLen: number, len: number, decrypt: number): void;
  sm4_gcm12_begin(aadLen: number): void;
  sm4_gcm12_update(off: number, len: number, decrypt: number): void;
  sm4_gcm12_end(aadLen: number, lenHi: number, lenLo: number): void;
  wipe(len: number): void;
}

/** The lazily instantiated `sm4` module. @example await sm4Module.ready(); */
export const sm4Module = defineKernel<Sm4Exports>('sm4', wasmBase64);

interface View { ex: Sm4Exports; mem: Uint8Array; rk: Uint32Array; io: number; ioSize: number; iv: number; key: number; h: number }
let view: View | undefined;
function v(): View {
  const ex = sm4Module.exports();
  // Memory never grows (static buffers only); a grown memory would detach the old view (length 0).
  if (view === undefined || view.mem.byteLength === 0) {
    view = {
      ex,
      mem: new Uint8Array(ex.memory.buffer),
      rk: new Uint32Array(ex.memory.buffer, ex.rk_ptr(), 32),
      io: ex.io_ptr(),
      ioSize: ex.io_size(),
      iv: ex.iv_ptr(),
      key: ex.key_ptr(),
      h: ex.h_ptr(),
    };
  }
  return view;
}

/**
 * Runs `op` over `data` in io-sized chunks with round keys and a 16-byte state loaded; copies the
 * state back and wipes the module's key material and used I/O afterwards (README rule 6).
 */
function run(rk: Uint32Array | undefined, state: Uint8Array | undefined, data: Uint8Array, op: (ex: Sm4Exports, len: number) => void): Uint8Array {
  const w = v();
  const { ex, mem, io, ioSize } = w;
  if (rk) w.rk.set(rk);
  if (state) mem.set(state, w.iv);
  const out = new Uint8Array(data.length);
  try {
    for (let off = 0; off < data.length; off += ioSize) {
      const n = Math.min(ioSize, data.length - off);
      mem.set(data.subarray(off, off + n), io);
      op(ex, n);
      out.set(mem.subarray(io, io + n), off);
    }
    if (state) state.set(mem.subarray(w.iv, w.iv + 16));
  } finally {
    // The kernel may write up to 7 blocks past the data (crypto/wasm/sm4.c, encrypt_many).
    mem.fill(0, io, io + Math.min(ioSize, data.length) + 128);
    ex.wipe(0);
  }
  return out;
}

/** The WebAssembly kernel. @example sm4WasmKernel.ecb(sm4WasmKernel.expandKey(key, false), block) */
export const sm4WasmKernel: Sm4Kernel = {
  name: 'wasm',
  expandKey(key: Uint8Array, decrypt: boolean): Uint32Array {
    const w = v();
    w.mem.set(key, w.key);
    w.ex.sm4_expand_key(decrypt ? 1 : 0);
    const rk = w.rk.slice();
    w.ex.wipe(0);
    return rk;
  },
  ecb: (rk, data) => run(rk, undefined, data, (ex, n) => ex.sm4_ecb(n / 16)),
  cbcEncrypt: (rk, iv, data) => run(rk, iv, data, (ex, n) => ex.sm4_cbc_encrypt(n / 16)),
  cbcDecrypt: (rk, iv, data) => run(rk, iv, data, (ex, n) => ex.sm4_cbc_decrypt(n / 16)),
  ctr: (rk, counter, data, inc32) => run(rk, counter, data, (ex, n) => ex.sm4_ctr(n, inc32 ? 1 : 0)),
  // One-shot feedback modes: the caller's IV stays untouched (the kernel advances a copy).
  ofb: (rk, iv, data) => run(rk, iv.slice(), data, (ex, n) => ex.sm4_ofb(n)),
  cfbEncrypt: (rk, iv, data) => run(rk, iv.slice(), data, (ex, n) => ex.sm4_cfb_encrypt(n)),
  cfbDecrypt: (rk, iv, data) => run(rk, iv.slice(), data, (ex, n) => ex.sm4_cfb_decrypt(n)),
  gcm12(key, nonce, aad, data, decrypt) {
    const w = v();
    const { ex, mem, io, ioSize } = w;
    const ap = Math.ceil(aad.length / 16) * 16;
    if (ap > ioSize) return undefined;
    mem.set(key, w.key);
    mem.set(nonce, w.iv);
    mem.set(aad, io);
    mem.fill(0, io + aad.length, io + ap);
    try {
      if (ap + data.length <= ioSize) {
        mem.set(data, io + ap);
        ex.sm4_gcm12(aad.length, data.length, decrypt ? 1 : 0);
        return { out: mem.slice(io + ap, io + ap + data.length), tag: mem.slice(w.h, w.h + 16) };
      }
      // Longer messages stream through io in whole-block chunks with one key schedule and one
      // GHASH state in the module: one copy in and one out per byte, no intermediate arrays.
      ex.sm4_gcm12_begin(aad.length);
      const out = new Uint8Array(data.length);
      for (let off = 0; off < data.length; off += ioSize) {
        const n = Math.min(ioSize, data.length - off);
        mem.set(data.subarray(off, off + n), io);
        ex.sm4_gcm12_update(0, n, decrypt ? 1 : 0);
        out.set(mem.subarray(io, io + n), off);
      }
      ex.sm4_gcm12_end(aad.length, Math.floor(data.length / 0x100000000), data.length >>> 0);
      return { out, tag: mem.slice(w.h, w.h + 16) };
    } finally {
      mem.fill(0, io, io + Math.min(ioSize, ap + data.length) + 128);
      ex.wipe(0);
    }
  },
  ghash(h, y, data) {
    const w = v();
    w.mem.set(h, w.h);
    run(undefined, y, data, (ex, n) => ex.ghash(n / 16));
  },
};
