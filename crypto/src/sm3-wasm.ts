/**
 * SM3 backed by the WebAssembly kernel `crypto/wasm/sm3.c` (ABI in crypto/wasm/README.md).
 */
import { defineKernel, type KernelExports } from './wasm/load.js';
import { wasmBase64 } from './wasm/sm3.generated.js';
import type { Sm3Kernel } from './sm3-ref.js';

interface Sm3Exports extends KernelExports {
  state_ptr(): number;
  sm3_init(): void;
  sm3_blocks(n: number): void;
  sm3_finish(len: number, totalHi: number, totalLo: number, fresh: number): void;
  sm3_pbkdf2(iterations: number): void;
  /** Batch SM3 (sm3-many.ts): lengths at many_len_ptr(), messages back to back in io, digests to many_out_ptr(). */
  many_len_ptr(): number;
  many_out_ptr(): number;
  many_max(): number;
  sm3_many(count: number): void;
}

/** The lazily instantiated `sm3` module. @example await sm3Module.ready(); */
export const sm3Module = defineKernel<Sm3Exports>('sm3', wasmBase64);

interface View { ex: Sm3Exports; mem: Uint8Array; state: Uint32Array; io: number; ioSize: number }
let view: View | undefined;
function v(): View {
  // The cached view is the whole hot path for short messages: no export lookup per call.
  // Memory never grows (static buffers only); a grown memory would detach the old view (length 0).
  if (view !== undefined && view.mem.byteLength !== 0) return view;
  const ex = sm3Module.exports();
  view = { ex, mem: new Uint8Array(ex.memory.buffer), state: new Uint32Array(ex.memory.buffer, ex.state_ptr(), 8), io: ex.io_ptr(), ioSize: ex.io_size() };
  return view;
}

/** The WebAssembly kernel. @example sm3WasmKernel.digest(new Uint8Array(3)) */
export const sm3WasmKernel: Sm3Kernel = {
  name: 'wasm',
  blocks(state: Uint32Array, data: Uint8Array, offset: number, nblocks: number): void {
    const { ex, mem, state: st, io, ioSize } = v();
    st.set(state);
    const per = ioSize / 64;
    const used = Math.min(nblocks, per) * 64;
    while (nblocks > 0) {
      const n = Math.min(nblocks, per);
      mem.set(data.subarray(offset, offset + 64 * n), io);
      ex.sm3_blocks(n);
      offset += 64 * n;
      nblocks -= n;
    }
    state.set(st);
    // The blocks may be HMAC pads or PBKDF2 state: leave no copy in the module (README rule 6).
    mem.fill(0, io, io + used);
    st.fill(0);
  },
  digest(data: Uint8Array): Uint8Array {
    const { ex, mem, io, ioSize } = v();
    const total = data.length;
    if (total <= ioSize) {
      // Short message: one call (init, pad, digest, wipe of the input in the module).
      mem.set(data, io);
      ex.sm3_finish(total, 0, total, 1);
      return mem.slice(io, io + 32);
    }
    ex.sm3_init();
    let off = 0;
    // Whole chunks through sm3_blocks, the remainder (≤ ioSize bytes) through sm3_finish.
    while (total - off > ioSize) {
      mem.set(data.subarray(off, off + ioSize), io);
      ex.sm3_blocks(ioSize / 64);
      off += ioSize;
    }
    mem.set(data.subarray(off), io);
    ex.sm3_finish(total - off, Math.floor(total / 0x100000000), total >>> 0, 0);
    return mem.slice(io, io + 32);
  },
  pbkdf2Iterate(keyBlock: Uint8Array, u1: Uint8Array, iterations: number): Uint8Array {
    const { ex, mem, io } = v();
    mem.set(keyBlock, io);
    mem.set(u1, io + 64);
    // The whole loop runs in the module; it zeroes io[0..96) except the result.
    ex.sm3_pbkdf2(iterations);
    const t = mem.slice(io, io + 32);
    mem.fill(0, io, io + 32);
    return t;
  },
};
