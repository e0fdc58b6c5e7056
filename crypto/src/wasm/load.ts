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

/** Exports every kernel module has (crypto/wasm/README.md, "ABI"). */
export interface KernelExports {
  readonly memory: WebAssembly.Memory;
  io_ptr(): number;
  io_size(): number;
}

/** A lazily instantiated kernel module. */
export interface WasmKernel<T extends KernelExports> {
  /** Module name (the C file's base name). */
  readonly name: string;
  /** The instance's exports; instantiates synchronously on first call if `ready()` has not run. */
  exports(): T;
  /** Compiles and instantiates asynchronously (browser main thread). */
  ready(): Promise<void>;
}

const registry: WasmKernel<KernelExports>[] = [];

function decodeBase64(b64: string): Uint8Array<ArrayBuffer> {
  // atob exists in Node >= 16 and every browser; the module text is plain base64.
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

/** True when this runtime offers WebAssembly with SIMD (the kernels need v128). */
export function wasmAvailable(): boolean {
  return typeof WebAssembly === 'object' && typeof WebAssembly.Module === 'function';
}
