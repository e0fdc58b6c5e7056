/**
 * SM3 hash (GB/T 32905-2016): one-shot and streaming, clonable state.
 *
 * `sm3` is shaped like a `@noble/hashes` `CHash` (`outputLen`, `blockLen`, `create()`), so it plugs
 * into generic constructions; this package does not need noble itself.
 */
import { SM3_IV, sm3Finish, sm3RefKernel, type Sm3Kernel } from './sm3-ref.js';
import { sm3WasmKernel } from './sm3-wasm.js';
import { wasmAvailable } from './wasm/load.js';

function abytes(b: unknown, what: string): asserts b is Uint8Array {
  if (!(b instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
}

/** Incremental SM3 state. Obtain one from `sm3.create()`. @example const h = sm3.create(); h.update(a); const d = h.digest(); */
export class Sm3 {
  readonly blockLen = 64;
  readonly outputLen = 32;
  private readonly kernel: Sm3Kernel;
  private state = Uint32Array.from(SM3_IV);
  private readonly buf = new Uint8Array(64);
  private pos = 0;
  private length = 0;
  private finished = false;

  /** @internal use `sm3.create()`. */
  constructor(kernel: Sm3Kernel) {
    this.kernel = kernel;
  }

  /** Absorbs more bytes; returns `this` for chaining. @example sm3.create().update(a).update(b).digest() */
  update(data: Uint8Array): this {
    abytes(data, 'sm3 update data');
    if (this.finished) throw new Error('sm3: digest() already called');
    let off = 0;
    const len = data.length;
    this.length += len;
    if (this.pos > 0) {
      const take = Math.min(64 - this.pos, len);
      this.buf.set(data.subarray(0, take), this.pos);
      this.pos += take;
      off = take;
      if (this.pos < 64) return this;
      this.kernel.blocks(this.state, this.buf, 0, 1);
      this.pos = 0;
    }
    const full = Math.floor((len - off) / 64);
    if (full > 0) {
      this.kernel.blocks(this.state, data, off, full);
      off += full * 64;
    }
    if (off < len) {
      this.buf.set(data.subarray(off), 0);
      this.pos = len - off;
    }
    return this;
  }

  /** Finishes and returns the 32-byte digest; the object cannot be updated afterwards. */
  digest(): Uint8Array {
    if (this.finished) throw new Error('sm3: digest() already called');
    this.finished = true;
    const out = sm3Finish(this.kernel, this.state, this.buf.subarray(0, this.pos), this.length);
    this.destroy();
    return out;
  }

  /** Writes the digest into `out` (≥ 32 bytes), as `@noble/hashes` expects. */
  digestInto(out: Uint8Array): void {
    abytes(out, 'sm3 digestInto output');
    if (out.length < 32) throw new RangeError('sm3 digestInto output must be at least 32 bytes');
    out.set(this.digest());
  }

  /** An independent copy of the current state (e.g. HMAC's precomputed pads). */
  clone(): Sm3 {
    return this._cloneInto();
  }

  /** `@noble/hashes` compatibility: copy into `to` (or a new object). */
  _cloneInto(to?: Sm3): Sm3 {
    const c = to ?? new Sm3(this.kernel);
    c.state = this.state.slice();
    c.buf.set(this.buf);
    c.pos = this.pos;
    c.length = this.length;
    c.finished = this.finished;
    return c;
  }

  /** Wipes the internal state. */
  destroy(): void {
    this.state.fill(0);
    this.buf.fill(0);
  }
}

/** The SM3 function with its `CHash` fields. @example const f: Sm3Hash = sm3; f.outputLen // 32 */
export interface Sm3Hash {
  (data: Uint8Array): Uint8Array;
  readonly outputLen: 32;
  readonly blockLen: 64;
  create(): Sm3;
}

/**
 * Builds the SM3 function over a given kernel (tests run the suite over both kernels).
 * @example const refSm3 = makeSm3(sm3RefKernel);
 * @internal
 */
export function makeSm3(kernel: Sm3Kernel, digest: (data: Uint8Array) => Uint8Array = kernel.digest): Sm3Hash {
  const fn = (data: Uint8Array): Uint8Array => {
    abytes(data, 'sm3 data');
    return digest(data);
  };
  return Object.assign(fn, { outputLen: 32 as const, blockLen: 64 as const, create: () => new Sm3(kernel) });
}

/** The kernel in use: WebAssembly when the runtime has it, else the pure-TS reference. @example defaultSm3Kernel.name // 'wasm' */
export const defaultSm3Kernel: Sm3Kernel = wasmAvailable() ? sm3WasmKernel : sm3RefKernel;

/**
 * Node's OpenSSL `sm3`, reached without a static `node:` import (the main entry must load in
 * browsers) through `process.getBuiltinModule` (Node >= 20.16). Measured faster than the wasm
 * kernel only for long one-shot inputs (about 1.2x at 1 MiB, 1.15x at 4 KiB, even at ~2 KiB: its
 * per-call overhead dominates below), so it serves one-shot inputs from {@link NODE_SM3_MIN_BYTES} up. SM3 has no
 * secret-dependent memory access in either implementation, and the tests cross-check both.
 */
type NodeHashFactory = (alg: string) => { update(d: Uint8Array): { digest(): Uint8Array } };
/**
 * Looked up on the first long one-shot input, not at import: `getBuiltinModule('crypto')` loads
 * node:crypto and its ~30 internal modules (6–8 ms), which every importer would otherwise pay.
 * `null` once looked up and absent.
 */
let nodeCreateHash: NodeHashFactory | null | undefined;
function nodeSm3(): NodeHashFactory | null {
  if (nodeCreateHash !== undefined) return nodeCreateHash;
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    const c = proc?.getBuiltinModule?.('crypto') as { createHash?: NodeHashFactory; getHashes?: () => string[] } | undefined;
    nodeCreateHash = c?.createHash && c.getHashes?.().includes('sm3') ? c.createHash : null;
  } catch {
    nodeCreateHash = null;
  }
  return nodeCreateHash;
}
/** One-shot inputs at least this long go to Node's built-in SM3 when present. @example sm3(new Uint8Array(NODE_SM3_MIN_BYTES)) */
export const NODE_SM3_MIN_BYTES = 4096;

const defaultDigest = (data: Uint8Array): Uint8Array => {
  const node = data.length >= NODE_SM3_MIN_BYTES ? nodeSm3() : null;
  return node ? new Uint8Array(node('sm3').update(data).digest()) : defaultSm3Kernel.digest(data);
};

/**
 * SM3 digest (32 bytes) of `data`. `sm3.create()` gives a streaming hash.
 *
 * @example
 * bytesToHex(sm3(utf8ToBytes('abc')))
 * // '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0'
 * const h = sm3.create(); h.update(part1); h.update(part2); h.digest();
 */
export const sm3: Sm3Hash = makeSm3(defaultSm3Kernel, defaultDigest);
