/**
 * Loader of the WebAssembly kernels built by `crypto/wasm/build.sh` (ABI: crypto/wasm/README.md).
 *
 * Node compiles a module synchronously on first use (`new WebAssembly.Module`), so every API
 * stays synchronous. Browsers refuse synchronous compilation of modules over 4 KB on the main
 * thread: there, `await ready()` once at start-up compiles every kernel asynchronously, after
 * which the synchronous API works as in Node.
 *
 * @example
 * import { ready, sm3 } from '@xiangan/crypto';
 * await ready();            // optional in Node, required on a browser main thread
 * sm3(new Uint8Array(0));
 */

/** Exports every kernel module has (crypto/wasm/README.md, "ABI"). @example interface Sm3Exports extends KernelExports { sm3_init(): void } */
export interface KernelExports {
  readonly memory: WebAssembly.Memory;
  io_ptr(): number;
  io_size(): number;
}

/** A lazily instantiated kernel module. @example const ex = kernel.exports(); */
export interface WasmKernel<T extends KernelExports> {
  /** Module name (the C file's base name). */
  readonly name: string;
  /** The instance's exports; instantiates synchronously on first call if `ready()` has not run. */
  exports(): T;
  /** Compiles and instantiates asynchronously (browser main thread). */
  ready(): Promise<void>;
}

const registry: WasmKernel<KernelExports>[] = [];

type NodeBufferCtor = { from(s: string, enc: 'base64'): Uint8Array };

/**
 * Decodes a generated module's base64. In Node the global `Buffer` (no `node:` import, so the
 * entry point still loads in browsers) decodes natively: the 96 KB SM2 module in ≈ 0.3 ms, where
 * Node 20's `atob` (a JavaScript loop) plus the `charCodeAt` copy took 35–40 ms on first use on
 * the loaded dev machine. Browsers have a native `atob`.
 * @example decodeBase64(wasmBase64) // the .wasm bytes
 * @internal
 */
export function decodeBase64(b64: string): Uint8Array<ArrayBuffer> {
  const NodeBuffer = (globalThis as { Buffer?: NodeBufferCtor }).Buffer;
  // A copy into a plain Uint8Array: Buffer may hand out a slice of a shared pool.
  if (NodeBuffer !== undefined) return new Uint8Array(NodeBuffer.from(b64, 'base64'));
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Declares a kernel from its generated base64 module. Nothing is compiled until first use.
 *
 * @example
 * import { wasmBase64 } from './sm3.generated.js';
 * const kernel = defineKernel<Sm3Exports>('sm3', wasmBase64);
 * kernel.exports().sm3_init();
 */
export function defineKernel<T extends KernelExports>(name: string, base64: string): WasmKernel<T> {
  let instance: T | undefined;
  let pending: Promise<void> | undefined;
  const kernel: WasmKernel<T> = {
    name,
    exports(): T {
      if (instance === undefined) {
        const mod = new WebAssembly.Module(decodeBase64(base64));
        instance = new WebAssembly.Instance(mod, {}).exports as unknown as T;
      }
      return instance;
    },
    ready(): Promise<void> {
      if (instance !== undefined) return Promise.resolve();
      pending ??= WebAssembly.instantiate(decodeBase64(base64), {}).then((r) => {
        instance ??= r.instance.exports as unknown as T;
      });
      return pending;
    },
  };
  registry.push(kernel as unknown as WasmKernel<KernelExports>);
  return kernel;
}

/**
 * Compiles every kernel asynchronously. Required once before use on a browser main thread;
 * harmless (and optional) in Node.
 *
 * @example
 * await ready();
 */
export async function ready(): Promise<void> {
  await Promise.all(registry.map((k) => k.ready()));
}

/**
 * A minimal module, `(func (result v128) (v128.const i32x4 0 0 0 0))`: it validates only where
 * WebAssembly has SIMD128, which every kernel needs.
 */
const SIMD_PROBE = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00,
  0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b,
]);

let simd: boolean | undefined;

/**
 * True when this runtime offers WebAssembly with SIMD128 (otherwise the pure-TS references serve).
 * The answer cannot change within a process, so the probe is validated once: callers on hot
 * paths (`sm3Many` asks on every call) pay a variable read instead of a validation (~4 µs).
 * @example if (!wasmAvailable()) report('SM4 runs on the slow, non-constant-time reference');
 */
export function wasmAvailable(): boolean {
  if (simd === undefined) {
    try {
      simd = typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
    } catch {
      simd = false;
    }
  }
  return simd;
}
