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
 * Runs the batch kernel over `messages`, calling `put(i, mem, off)` with digest i at
 * `mem[off..off+32)` (module memory, valid until the next kernel call).
 */
function many(messages: readonly Uint8Array[], put: (i: number, mem: Uint8Array, off: number) => void): void {
  const ex = sm3Module.exports();
  const io = ex.io_ptr();
  const ioSize = ex.io_size();
  const max = ex.many_max();
  let i = 0;
  while (i < messages.length) {
    // Views per chunk: memory never grows, but re-reading the buffer costs nothing (ABI rule 3).
    const mem = new Uint8Array(ex.memory.buffer);
    const lens = new Uint32Array(ex.memory.buffer, ex.many_len_ptr(), max);
    const digests = ex.many_out_ptr();
    // Gather as many whole messages as fit; a message larger than io goes to the scalar path.
    const first = i;
    let count = 0;
    let used = 0;
    let big = false;
    while (i < messages.length && count < max) {
      const m = messages[i]!;
      if (m.length > ioSize) {
        big = true;
        break;
      }
      if (used + m.length > ioSize) break;
      mem.set(m, io + used);
      lens[count++] = m.length;
      used += m.length;
      i++;
    }
    if (count > 0) {
      ex.sm3_many(count);
      // The messages may be secret (ABI rule 6): leave no copy in the module.
      mem.fill(0, io, io + used);
      for (let k = 0; k < count; k++) put(first + k, mem, digests + 32 * k);
    }
    if (big) {
      const d = sm3(messages[i]!);
      put(i++, d, 0);
    }
  }
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
  many(messages, (i, mem, off) => {
    out[i] = mem.slice(off, off + 32);
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
  many(messages, (i, mem, off) => out.set(mem.subarray(off, off + 32), 32 * i));
}
