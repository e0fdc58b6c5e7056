/**
 * HMAC-SM3 (RFC 2104 / GB/T 15852.2 with SM3): one-shot and streaming.
 */
import { sm3, type Sm3, type Sm3Hash } from './sm3.js';

function abytes(b: unknown, what: string): asserts b is Uint8Array {
  if (!(b instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
}

/** Streaming HMAC-SM3. Obtain one from {@link createHmacSm3}. @example createHmacSm3(key).update(msg).digest() */
export class HmacSm3 {
  readonly blockLen = 64;
  readonly outputLen = 32;
  private inner: Sm3;
  private outer: Sm3;
  private finished = false;

  /** @internal use `createHmacSm3(key)`. */
  constructor(hash: Sm3Hash, key: Uint8Array) {
    abytes(key, 'HMAC key');
    // RFC 2104 §2: keys longer than the block are hashed first, shorter ones zero-padded.
    const k = new Uint8Array(64);
    k.set(key.length > 64 ? hash(key) : key);
    for (let i = 0; i < 64; i++) k[i] ^= 0x36;
    this.inner = hash.create().update(k);
    // 0x36 ^ 0x5c = 0x6a turns ipad into opad in place.
    for (let i = 0; i < 64; i++) k[i] ^= 0x6a;
    this.outer = hash.create().update(k);
    k.fill(0);
  }

  /** Absorbs message bytes. @example createHmacSm3(key).update(a).update(b).digest() */
  update(data: Uint8Array): this {
    abytes(data, 'HMAC data');
    if (this.finished) throw new Error('hmacSm3: digest() already called');
    this.inner.update(data);
    return this;
  }

  /** The 32-byte MAC. */
  digest(): Uint8Array {
    if (this.finished) throw new Error('hmacSm3: digest() already called');
    this.finished = true;
    const ih = this.inner.digest();
    const out = this.outer.update(ih).digest();
    ih.fill(0);
    return out;
  }

  /** An independent copy (e.g. to MAC many messages under one key cheaply). */
  clone(): HmacSm3 {
    const c = Object.create(HmacSm3.prototype) as HmacSm3;
    Object.assign(c, { blockLen: 64, outputLen: 32, inner: this.inner.clone(), outer: this.outer.clone(), finished: this.finished });
    return c;
  }

  /** Wipes the keyed state. */
  destroy(): void {
    this.inner.destroy();
    this.outer.destroy();
  }
}

/**
 * One-shot HMAC as two one-shot hashes, H((K ^ opad) ‖ H((K ^ ipad) ‖ m)) (RFC 2104 §2): two kernel
 * calls instead of a streaming state's many, which matters for short messages. Very long messages
 * take the streaming path to avoid copying them.
 */
function hmacOneShot(hash: Sm3Hash, key: Uint8Array, msg: Uint8Array): Uint8Array {
  abytes(key, 'HMAC key');
  abytes(msg, 'HMAC data');
  // Up to 1 MiB the copy is cheaper than what the one-shot hash gains (Node's SM3 serves it).
  if (msg.length > 1 << 20) return new HmacSm3(hash, key).update(msg).digest();
  const k = key.length > 64 ? hash(key) : key;
  const inner = new Uint8Array(64 + msg.length);
  inner.set(k);
  for (let i = 0; i < 64; i++) inner[i] ^= 0x36;
  inner.set(msg, 64);
  const outer = new Uint8Array(96);
  outer.set(k);
  for (let i = 0; i < 64; i++) outer[i] ^= 0x5c;
  outer.set(hash(inner), 64);
  const mac = hash(outer);
  inner.fill(0, 0, 64);
  outer.fill(0);
  if (k !== key) k.fill(0);
  return mac;
}

/** @internal HMAC over a given SM3 (tests loop over kernels). @example makeHmacSm3(makeSm3(sm3RefKernel)).hmac(key, msg) */
export function makeHmacSm3(hash: Sm3Hash): { hmac: (key: Uint8Array, msg: Uint8Array) => Uint8Array; create: (key: Uint8Array) => HmacSm3 } {
  return {
    hmac: (key, msg) => hmacOneShot(hash, key, msg),
    create: (key) => new HmacSm3(hash, key),
  };
}

/**
 * HMAC-SM3 of `msg` under `key` (32 bytes).
 *
 * @example
 * const mac = hmacSm3(utf8ToBytes('key'), utf8ToBytes('message'));
 */
export function hmacSm3(key: Uint8Array, msg: Uint8Array): Uint8Array {
  return hmacOneShot(sm3, key, msg);
}

/**
 * Streaming HMAC-SM3.
 *
 * @example
 * const h = createHmacSm3(key); h.update(part1); h.update(part2); const mac = h.digest();
 */
export function createHmacSm3(key: Uint8Array): HmacSm3 {
  return new HmacSm3(sm3, key);
}
