/**
 * Byte helpers: the only places where text meets bytes (DESIGN.md convention 1).
 * Everything here works in Node ≥ 20 and browsers.
 */
import { CryptoError } from './errors.js';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 encode. @example utf8ToBytes('abc') // Uint8Array [97, 98, 99] */
export function utf8ToBytes(s: string): Uint8Array {
  if (typeof s !== 'string') throw new TypeError('utf8ToBytes expects a string');
  return enc.encode(s);
}

/** Strict UTF-8 decode; invalid sequences throw `CRYPTO_ERR_INVALID_ENCODING`. */
export function bytesToUtf8(b: Uint8Array): string {
  abytes(b, 'bytesToUtf8');
  try {
    return dec.decode(b);
  } catch (e) {
    throw new CryptoError('CRYPTO_ERR_INVALID_ENCODING', 'bytes are not valid UTF-8', { cause: e });
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lower-case hex. @example bytesToHex(new Uint8Array([1, 255])) // '01ff' */
export function bytesToHex(b: Uint8Array): string {
  abytes(b, 'bytesToHex');
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i]];
  return s;
}

function nibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Parse hex (either case, even length, no prefix or separators). @example hexToBytes('01ff') */
export function hexToBytes(hex: string): Uint8Array {
  if (typeof hex !== 'string') throw new TypeError('hexToBytes expects a string');
  if (hex.length % 2 !== 0) throw new CryptoError('CRYPTO_ERR_INVALID_ENCODING', 'hex string has odd length');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = nibble(hex.charCodeAt(2 * i));
    const lo = nibble(hex.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) throw new CryptoError('CRYPTO_ERR_INVALID_ENCODING', `invalid hex character at ${2 * i}`);
    out[i] = (hi << 4) | lo;
  }
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Standard base64 with padding (or base64url without padding when `url` is true). */
export function bytesToBase64(b: Uint8Array, url = false): string {
  abytes(b, 'bytesToBase64');
  const A = url ? B64URL : B64;
  let s = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    s += A[n >>> 18] + A[(n >>> 12) & 63] + A[(n >>> 6) & 63] + A[n & 63];
  }
  const rest = b.length - i;
  if (rest === 1) {
    const n = b[i] << 16;
    s += A[n >>> 18] + A[(n >>> 12) & 63] + (url ? '' : '==');
  } else if (rest === 2) {
    const n = (b[i] << 16) | (b[i + 1] << 8);
    s += A[n >>> 18] + A[(n >>> 12) & 63] + A[(n >>> 6) & 63] + (url ? '' : '=');
  }
  return s;
}

const B64_REV = (() => {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[B64.charCodeAt(i)] = i;
  t['-'.charCodeAt(0)] = 62;
  t['_'.charCodeAt(0)] = 63;
  return t;
})();

/**
 * Parse base64 or base64url; padding optional, ASCII white space ignored (so PEM bodies
 * can be passed as they are). Anything else throws `CRYPTO_ERR_INVALID_ENCODING`.
 */
export function base64ToBytes(s: string): Uint8Array {
  if (typeof s !== 'string') throw new TypeError('base64ToBytes expects a string');
  const clean = s.replace(/[\t\n\r ]/g, '');
  const body = clean.replace(/={0,2}$/, '');
  if (body.length % 4 === 1 || (clean.length !== body.length && clean.length % 4 !== 0)) {
    throw new CryptoError('CRYPTO_ERR_INVALID_ENCODING', 'base64 has an invalid length');
  }
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    const v = c < 128 ? B64_REV[c] : -1;
    if (v < 0) throw new CryptoError('CRYPTO_ERR_INVALID_ENCODING', `invalid base64 character at ${i}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  return out;
}

/** Concatenate byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) {
    abytes(p, 'concatBytes');
    len += p.length;
  }
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Constant-time equality for secrets (MACs, tags): the time depends only on the lengths.
 * @example equalBytes(tag, expected)
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  abytes(a, 'equalBytes');
  abytes(b, 'equalBytes');
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * Cryptographically secure random bytes from `crypto.getRandomValues` (Web Crypto, in
 * Node ≥ 20 and browsers). There is no fallback: without it `CRYPTO_ERR_RNG` is thrown.
 */
export function randomBytes(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('randomBytes expects a non-negative integer');
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (!c || typeof c.getRandomValues !== 'function') {
    throw new CryptoError('CRYPTO_ERR_RNG', 'crypto.getRandomValues is not available');
  }
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) c.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

/** Overwrite a temporary secret with zeros. */
export function wipe(...arrays: (Uint8Array | Uint32Array | Int32Array)[]): void {
  for (const a of arrays) a.fill(0);
}

/** Assert that `b` is a Uint8Array (optionally of one of the given lengths); else TypeError/RangeError. */
export function abytes(b: unknown, what: string, ...lengths: number[]): asserts b is Uint8Array {
  if (!(b instanceof Uint8Array)) throw new TypeError(`${what}: expected Uint8Array`);
  if (lengths.length > 0 && !lengths.includes(b.length)) {
    throw new RangeError(`${what}: expected ${lengths.join(' or ')} bytes, got ${b.length}`);
  }
}
