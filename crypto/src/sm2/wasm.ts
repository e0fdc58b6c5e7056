/**
 * The SM2 engine backed by the WebAssembly kernel `crypto/wasm/sm2.c` (ABI in
 * crypto/wasm/README.md). Each method copies its inputs into the module's `io` region,
 * makes one call (a whole scalar multiplication or signature core) and copies the result
 * out; regions that held secrets are zeroed before returning (README rule 6).
 * @internal
 */
import { defineKernel, wasmAvailable, type KernelExports } from '../wasm/load.js';
import { wasmBase64 } from '../wasm/sm2.generated.js';
import { SM2P256V1 } from './curve.js';
import type { Sm2Engine } from './engine.js';
import { CryptoError } from '../errors.js';
import { concatBytes } from '../bytes.js';
import { sm3 } from '../sm3.js';

interface Sm2Exports extends KernelExports {
  sm2_init(): void;
  sm2_valid_point(): number;
  sm2_decompress(odd: number): number;
  sm2_mul_g(): number;
  sm2_mul(): number;
  sm2_mul_add(): number;
  sm2_sign_prep(): void;
  sm2_sign(): number;
  sm2_verify(slot: number): number;
  sm2_precompute(slot: number): number;
  sm2_mul_slot(slot: number): number;
  sm2_key_slots(): number;
  sm2_muladd_n(): void;
  sm2_sign_setup(): void;
  sm2_sign_hedged(hash: number, len: number, rndOff: number, der: number): number;
  rnd_ptr(): number;
  rnd_size(): number;
  msg_ptr(): number;
  msg_max(): number;
  sm2_wipe(): void;
}

/** The lazily instantiated `sm2` module. @internal */
export const sm2Module = defineKernel<Sm2Exports>('sm2', wasmBase64);

interface View {
  ex: Sm2Exports;
  mem: Uint8Array;
  io: number;
  rnd: number;
  rndSize: number;
  msg: number;
  msgMax: number;
}
let view: View | undefined;

/**
 * The module's exports and a view of its memory. The memory never grows (every buffer of the
 * kernel is static, fixed at link time, and nothing here calls `grow`), so the view made on
 * first use stays valid: the hot path skips the `memory.buffer` getter, which costs about as
 * much as the rest of the JavaScript side of a signature.
 */
function v(): View {
  if (view === undefined) {
    const ex = sm2Module.exports();
    // First use: build the fixed-base comb table for G (a few milliseconds).
    ex.sm2_init();
    view = {
      ex,
      mem: new Uint8Array(ex.memory.buffer),
      io: ex.io_ptr(),
      rnd: ex.rnd_ptr(),
      rndSize: ex.rnd_size(),
      msg: ex.msg_ptr(),
      msgMax: ex.msg_max(),
    };
  }
  return view;
}

function put(at: number, b: Uint8Array): void {
  const { mem, io } = v();
  mem.set(b, io + at);
}

function get(at: number, len: number): Uint8Array {
  const { mem, io } = v();
  return mem.slice(io + at, io + at + len);
}

/**
 * One kernel call on secret inputs: write each input at its offset, run, read `outLen`
 * bytes from io[0], then zero the whole io region. Returns the output and the status.
 */
function secretCall(inputs: [number, Uint8Array][], run: (ex: Sm2Exports) => number | void, outLen: number): { out: Uint8Array; status: number } {
  const { ex } = v();
  for (const [at, b] of inputs) put(at, b);
  const status = run(ex) ?? 1;
  const out = get(0, outLen);
  ex.sm2_wipe();
  return { out, status };
}

/**
 * Nonce randomness: the kernel's pool is filled with `crypto.getRandomValues` in one call per
 * 128 signatures; each signature takes the next 32 bytes and the kernel zeroes them as it reads
 * them, so no nonce input stays behind. `random` (tests) overwrites the slot instead.
 */
let rndOff = Infinity;
function nonceSlot(vw: View, random?: Uint8Array): number {
  const { mem, rnd, rndSize } = vw;
  if (rndOff + 32 > rndSize) {
    const c = (globalThis as { crypto?: Crypto }).crypto;
    if (!c || typeof c.getRandomValues !== 'function') throw new CryptoError('CRYPTO_ERR_RNG', 'crypto.getRandomValues is not available');
    c.getRandomValues(mem.subarray(rnd, rnd + rndSize));
    rndOff = 0;
  }
  const off = rndOff;
  rndOff += 32;
  if (random !== undefined) mem.set(random, rnd + off);
  return off;
}

/** Runs sm2_sign_hedged with the key state in io[0..96) and returns the signature it wrote. */
function signCall(vw: View, state: Uint8Array, hash: number, len: number, der: boolean, random?: Uint8Array): Uint8Array {
  const { ex, mem, io } = vw;
  const off = nonceSlot(vw, random);
  mem.set(state, io);
  const n = ex.sm2_sign_hedged(hash, len, off, der ? 1 : 0);
  // The kernel zeroed the state, the message and the pool bytes; the signature is public
  // but io is left clean as after every call.
  const sig = mem.slice(io, io + n);
  mem.fill(0, io, io + n);
  if (n === 0) throw new CryptoError('CRYPTO_ERR_RNG', 'sm2: no valid signature after 256 nonces');
  return sig;
}

function pointOrThrow(r: { out: Uint8Array; status: number }): Uint8Array {
  if (r.status !== 1) throw new RangeError('sm2: scalar multiplication gave the point at infinity');
  return r.out;
}

/**
 * Per-key comb tables for repeated verification and encryption. The kernel has a few slots; building one
 * costs about as much as 20–30 verifications and makes each later verification of that key
 * 3–5× faster. Admission is frequency-based so that many keys used in turn cannot make the
 * slots thrash: a key is promoted once it has been seen `PROMOTE_AFTER` times *and* more
 * often than the least-used slot holder; all counts are halved every `AGE_EVERY` calls so
 * the slots follow the current workload. Keys are compared by their 64 coordinate bytes.
 */
const PROMOTE_AFTER = 16;
const AGE_EVERY = 4096;
const MAX_TRACKED = 256;
const slotKeys: (string | undefined)[] = [];
const slotHits: number[] = [];
const useCount = new Map<string, number>();
let calls = 0;

function age(): void {
  for (let i = 0; i < slotHits.length; i++) slotHits[i] >>>= 1;
  for (const [k, n] of useCount) {
    if (n <= 1) useCount.delete(k);
    else useCount.set(k, n >>> 1);
  }
}

function slotFor(pub: Uint8Array): number {
  const { ex } = v();
  const slots = ex.sm2_key_slots();
  if (++calls % AGE_EVERY === 0) age();
  const key = keyString(pub);
  const found = slotKeys.indexOf(key);
  if (found >= 0) {
    slotHits[found]++;
    return found;
  }
  const n = (useCount.get(key) ?? 0) + 1;
  let victim = 0;
  for (let i = 0; i < slots; i++) {
    if (slotKeys[i] === undefined) {
      victim = i;
      break;
    }
    if (slotHits[i] < slotHits[victim]) victim = i;
  }
  const free = slotKeys[victim] === undefined;
  if (n < PROMOTE_AFTER || (!free && n <= slotHits[victim])) {
    if (!useCount.has(key) && useCount.size >= MAX_TRACKED) useCount.clear();
    useCount.set(key, n);
    return slots;
  }
  useCount.delete(key);
  put(0, pub);
  if (ex.sm2_precompute(victim) !== 1) return slots;
  slotKeys[victim] = key;
  slotHits[victim] = n;
  return victim;
}

function keyString(pub: Uint8Array): string {
  let s = '';
  for (let i = 0; i < pub.length; i++) s += String.fromCharCode(pub[i]);
  return s;
}

/** The WebAssembly engine (sm2p256v1 only). @internal */
export function wasmEngine(): Sm2Engine {
  return engine;
}

let current: Sm2Engine | undefined;

/**
 * The engine behind the public SM2 API: the wasm kernel unless a test selected the reference
 * (`_setSm2Backend` in backend.ts). Without WebAssembly there is no silent fallback to the
 * BigInt reference, which is not constant-time: SM2 then fails with `CRYPTO_ERR_UNSUPPORTED`.
 * @internal
 */
export function sm2Engine(): Sm2Engine {
  if (current === undefined) {
    if (!wasmAvailable()) throw new CryptoError('CRYPTO_ERR_UNSUPPORTED', 'SM2 needs WebAssembly, which this runtime lacks');
    current = engine;
  }
  return current;
}

/** Test-only: the engine {@link sm2Engine} returns from now on. @internal */
export function _useSm2Engine(e: Sm2Engine): void {
  current = e;
}

const engine: Sm2Engine = {
  name: 'wasm',
  curve: SM2P256V1,
  validPoint(xy) {
    if (xy.length !== 64) return false;
    put(0, xy);
    return v().ex.sm2_valid_point() === 1;
  },
  decompress(x, yOdd) {
    put(0, x);
    if (v().ex.sm2_decompress(yOdd ? 1 : 0) !== 1) return null;
    return get(0, 64);
  },
  mulG: (k) => pointOrThrow(secretCall([[0, k]], (ex) => ex.sm2_mul_g(), 64)),
  mul: (k, xy) => pointOrThrow(secretCall([[0, k], [32, xy]], (ex) => ex.sm2_mul(), 64)),
  mulKey(k, xy) {
    // A public key in hot use (repeated encryption or verification) has a comb table:
    // the masked comb over it is constant-time in k like the fixed window, and ~4× faster.
    const slot = slotFor(xy);
    if (slot < v().ex.sm2_key_slots()) return pointOrThrow(secretCall([[0, k]], (ex) => ex.sm2_mul_slot(slot), 64));
    return pointOrThrow(secretCall([[0, k], [32, xy]], (ex) => ex.sm2_mul(), 64));
  },
  mulAdd(u1, p, u2, q) {
    const { ex } = v();
    put(0, u1);
    put(32, p);
    put(96, u2);
    put(128, q);
    return ex.sm2_mul_add() === 1 ? get(0, 64) : null;
  },
  signPrep: (d) => secretCall([[0, d]], (ex) => ex.sm2_sign_prep(), 32).out,
  signWithK(dInv, k, e) {
    const r = secretCall([[0, dInv], [32, k], [64, e]], (ex) => ex.sm2_sign(), 64);
    return r.status === 1 ? r.out : null;
  },
  signSetup: (d) => secretCall([[0, d]], (ex) => ex.sm2_sign_setup(), 96).out,
  signHedged(state, e, der, random) {
    const vw = v();
    vw.mem.set(e, vw.io + 96);
    return signCall(vw, state, 0, 0, der, random);
  },
  signMessage(state, z, msg, der, random) {
    const vw = v();
    // Long messages are hashed by the SM3 kernel (Node's sm3 for the largest), then signed as e.
    if (msg.length > vw.msgMax) return engine.signHedged(state, sm3(concatBytes(z, msg)), der, random);
    vw.mem.set(z, vw.msg);
    vw.mem.set(msg, vw.msg + 32);
    return signCall(vw, state, 1, msg.length, der, random);
  },
  verify(pub, e, r, s) {
    const { ex } = v();
    const slot = slotFor(pub);
    put(0, pub);
    put(64, e);
    put(96, r);
    put(128, s);
    return ex.sm2_verify(slot) === 1;
  },
  mulAddN: (a, b, c) => secretCall([[0, a], [32, b], [64, c]], (ex) => ex.sm2_muladd_n(), 32).out,
};
