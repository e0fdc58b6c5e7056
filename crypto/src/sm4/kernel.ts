/**
 * The SM4 kernel interface: the block-parallel core that modes are built on. Two implementations
 * exist, the WebAssembly one (`wasm.ts`, constant-time, SIMD) and the readable reference
 * (`ref.ts`); the mode layer (`modes.ts`) is written once over this interface and the test suite
 * runs over both.
 *
 * All `data` arguments are whole 16-byte blocks unless a method says otherwise; results are new
 * arrays; `iv`/`counter`/`y` arguments are 16-byte states updated in place.
 *
 * @example
 * for (const k of [sm4WasmKernel, sm4RefKernel]) k.ecb(k.expandKey(key, false), block);
 */
export interface Sm4Kernel {
  /** `'wasm'` or `'ref'`. */
  readonly name: string;
  /** Round keys rk0..rk31 (GB/T 32907-2016 §7.3); reversed for decryption (§7.2). */
  expandKey(key: Uint8Array, decrypt: boolean): Uint32Array;
  /** Each block through the cipher with `rk` (ECB core; decrypts with a decrypt schedule). */
  ecb(rk: Uint32Array, data: Uint8Array): Uint8Array;
  /** CBC encryption; `iv` becomes the last ciphertext block. */
  cbcEncrypt(rk: Uint32Array, iv: Uint8Array, data: Uint8Array): Uint8Array;
  /** CBC decryption with a decrypt schedule; `iv` becomes the last ciphertext block. */
  cbcDecrypt(rkDec: Uint32Array, iv: Uint8Array, data: Uint8Array): Uint8Array;
  /**
   * CTR keystream XOR over any length; `counter` advances by ceil(len/16) blocks: the whole
   * 128-bit block big-endian, or only its low 32 bits when `inc32` (GCM, SP 800-38D §6.2).
   */
  ctr(rk: Uint32Array, counter: Uint8Array, data: Uint8Array, inc32: boolean): Uint8Array;
  /** OFB over any length (one-shot). */
  ofb(rk: Uint32Array, iv: Uint8Array, data: Uint8Array): Uint8Array;
  /** CFB-128 encryption over any length (one-shot). */
  cfbEncrypt(rk: Uint32Array, iv: Uint8Array, data: Uint8Array): Uint8Array;
  /** CFB-128 decryption over any length (one-shot). */
  cfbDecrypt(rk: Uint32Array, iv: Uint8Array, data: Uint8Array): Uint8Array;
  /** GHASH (SP 800-38D §6.4): `y` ← (… ((y ^ X1)·H ^ X2)·H …) over whole blocks. */
  ghash(h: Uint8Array, y: Uint8Array, data: Uint8Array): void;
  /**
   * Optional fast path: all of SM4-GCM in one call for a 12-byte nonce (key schedule included).
   * Returns the output (ciphertext, or unauthenticated plaintext when `decrypt`) and the full
   * 16-byte tag (computed over the ciphertext either way), or `undefined` when the AAD is too
   * long for it; the mode layer then takes the general path. Messages of any length go through.
   */
  gcm12?(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, data: Uint8Array, decrypt: boolean): { out: Uint8Array; tag: Uint8Array } | undefined;
}
