/**
 * Batch SM3: the digests of many independent short messages (event ids, integrity leaves).
 *
 * The WebAssembly kernel `sm3_many` (crypto/wasm/sm3.c) hashes four messages at once, one per
 * i32x4 lane of SIMD128; {@link sm3ManyRef} is the readable reference (one scalar `sm3` per
 * message) that the tests compare it with. Both give exactly `messages.map(sm3)`.
 */
import { sm3 } from './sm3.js';
import { sm3Module } from './sm3-wasm.js';
import { wasmAvailable } from './wasm/load.js';

function checkInput(messages: readonly Uint8Array[]): void {
  if (!Array.isArray(messages)) throw new TypeError('sm3Many messages must be an array of Uint8Array');
  for (const m of messages) if (!(m instanceof Uint8Array)) throw new TypeError('sm3Many messages must be an array of Uint8Array');
}

/**
 * Reference batch SM3: one scalar {@link sm3} call per message.
 * @example sm3ManyRef([utf8ToBytes('abc')])[0] // the SM3 of 'abc'
 */
export function sm3ManyRef(messages: readonly Uint8Array[]): Uint8Array[] {
  checkInput(messages);
  return messages.map((m) => sm3(m));
}

/**
 * A batch as the kernel driver sees it: `count` messages, the length of message k, a copy of
 * messages [from, to) back to back into `mem` at `at`, and message k itself (for one too large
 * for the kernel's I/O region).
 */
interface Batch {
  readonly count: number;
  length(k: number): number;
  copy(from: number, to: number, mem: Uint8Array, at: number): void;
  message(k: number): Uint8Array;
}

/**
 * Runs the batch kernel over `batch`, calling `put(first, n, mem, off)` once per kernel call with
 * the digests of messages [first, first + n) back to back at `mem[off..off+32n)` (module memory,
 * valid until the next kernel call).
 */
function many(batch: Batch, put: (first: number, n: number, mem: Uint8Array, off: number) => void): void {
  const ex = sm3Module.exports();
  const io = ex.io_ptr();
  const ioSize = ex.io_size();
  const max = ex.many_max();
  const total = batch.count;
  let i = 0;
  while (i < total) {
    // Views per chunk: memory never grows, but re-reading the buffer costs nothing (ABI rule 3).
    const mem = new Uint8Array(ex.memory.buffer);
    const lens = new Uint32Array(ex.memory.buffer, ex.many_len_ptr(), max);
    // Gather as many whole messages as fit; a message larger than io goes to the scalar path.
    const first = i;
    let count = 0;
    let used = 0;
    let big = false;
    while (i < total && count < max) {
      const n = batch.length(i);
      if (n > ioSize) {
        big = true;
        break;
      }
      if (used + n > ioSize) break;
      lens[count++] = n;
      used += n;
      i++;
    }
    if (count > 0) {
      batch.copy(first, i, mem, io);
      ex.sm3_many(count);
      // The messages may be secret (ABI rule 6): leave no copy in the module.
      mem.fill(0, io, io + used);
      put(first, count, mem, ex.many_out_ptr());
    }
    if (big) {
      put(i, 1, sm3(batch.message(i)), 0);
      i++;
    }
  }
}

/** An array of messages as a {@link Batch}. */
function arrayBatch(messages: readonly Uint8Array[]): Batch {
  return {
    count: messages.length,
    length: (k) => messages[k]!.length,
    copy(from, to, mem, at) {
      for (let k = from; k < to; k++) {
        const m = messages[k]!;
        mem.set(m, at);
        at += m.length;
      }
    },
    message: (k) => messages[k]!,
  };
}

/**
 * SM3 digests (32 bytes each, in input order) of many independent messages, four per SIMD
 * pass. Worth it for many short messages (tens to hundreds of bytes); messages longer than the
 * kernel's 64 KiB I/O region are hashed one by one with {@link sm3}. Throws `TypeError` for input
 * that is not an array of `Uint8Array`.
 *
 * @example
 * const ids = sm3Many(lines.map((l) => utf8ToBytes(l))); // ids[i] = sm3(utf8ToBytes(lines[i]))
 */
export function sm3Many(messages: readonly Uint8Array[]): Uint8Array[] {
  checkInput(messages);
  if (!wasmAvailable()) return messages.map((m) => sm3(m));
  const out: Uint8Array[] = new Array<Uint8Array>(messages.length);
  many(arrayBatch(messages), (first, n, mem, off) => {
    for (let k = 0; k < n; k++) out[first + k] = mem.slice(off + 32 * k, off + 32 * k + 32);
  });
  return out;
}

/**
 * Like {@link sm3Many}, but writes digest i to `out[32i..32i+32)` (no per-digest allocation,
 * e.g. for a column of leaf hashes). Throws `RangeError` when `out` is shorter than
 * `32 * messages.length`, `TypeError` for input that is not Uint8Arrays.
 *
 * @example
 * const out = new Uint8Array(32 * leaves.length); sm3ManyInto(leaves, out);
 */
export function sm3ManyInto(messages: readonly Uint8Array[], out: Uint8Array): void {
  checkInput(messages);
  if (!(out instanceof Uint8Array)) throw new TypeError('sm3ManyInto output must be a Uint8Array');
  if (out.length < 32 * messages.length) throw new RangeError('sm3ManyInto output must hold 32 bytes per message');
  if (!wasmAvailable()) {
    messages.forEach((m, i) => out.set(sm3(m), 32 * i));
    return;
  }
  many(arrayBatch(messages), (first, n, mem, off) => out.set(mem.subarray(off, off + 32 * n), 32 * first));
}

/**
 * Like {@link sm3ManyInto} for messages stored back to back in one buffer: message k is
 * `data[ends[k-1]..ends[k])` (from 0 for k = 0), and its digest goes to `out[32k..32k+32)`. Saves
 * a view per message and copies each run of messages into the kernel at once (event ids encode
 * their inputs into one arena). Throws `RangeError` when `ends` is not non-decreasing within
 * `data.length`, or `out` is shorter than `32 * ends.length`; `TypeError` for wrong types.
 *
 * @example
 * // "abc" then "de": the same digests as sm3ManyInto([abc, de], out)
 * sm3ManyPackedInto(utf8ToBytes('abcde'), [3, 5], new Uint8Array(64));
 */
export function sm3ManyPackedInto(data: Uint8Array, ends: ArrayLike<number>, out: Uint8Array): void {
  if (!(data instanceof Uint8Array) || !(out instanceof Uint8Array)) throw new TypeError('sm3ManyPackedInto data and output must be Uint8Arrays');
  const count = ends.length;
  if (out.length < 32 * count) throw new RangeError('sm3ManyPackedInto output must hold 32 bytes per message');
  for (let k = 0, prev = 0; k < count; k++) {
    const e = ends[k]!;
    if (!Number.isInteger(e) || e < prev || e > data.length) throw new RangeError('sm3ManyPackedInto ends must be non-decreasing integers within the data');
    prev = e;
  }
  const start = (k: number): number => (k === 0 ? 0 : ends[k - 1]!);
  const message = (k: number): Uint8Array => data.subarray(start(k), ends[k]!);
  if (!wasmAvailable()) {
    for (let k = 0; k < count; k++) out.set(sm3(message(k)), 32 * k);
    return;
  }
  const batch: Batch = {
    count,
    length: (k) => ends[k]! - start(k),
    copy: (from, to, mem, at) => mem.set(data.subarray(start(from), ends[to - 1]!), at),
    message,
  };
  many(batch, (first, n, mem, off) => out.set(mem.subarray(off, off + 32 * n), 32 * first));
}
