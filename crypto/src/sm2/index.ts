/**
 * SM2 public-key cryptography on the recommended curve sm2p256v1 (GB/T 32918.1–5-2016/2017):
 * key pairs, signatures with the distinguishing ID (Z_A), public-key encryption and the
 * key exchange protocol. Arithmetic runs in the WebAssembly kernel (crypto/wasm/sm2.c);
 * secret scalar multiplications there are constant-time.
 *
 * @example
 * const key = Sm2PrivateKey.generate();
 * const sig = sm2Sign(key, utf8ToBytes('hello'));               // DER, default ID
 * sm2Verify(key.publicKey, utf8ToBytes('hello'), sig);          // true
 * const ct = sm2Encrypt(key.publicKey, utf8ToBytes('secret'));  // C1 ‖ C3 ‖ C2
 * sm2Decrypt(key, ct);                                          // 'secret' as bytes
 */
import { CryptoError } from '../errors.js';
import { abytes, concatBytes, equalBytes, wipe } from '../bytes.js';
import { sm3 } from '../sm3.js';
import {
  derDecode,
  derOctetString,
  derReadOctetString,
  derReadSequence,
  derReadUnsignedFixed,
  derSequence,
  derUnsignedInteger,
} from '../der.js';
// The engine holder lives in wasm.ts, so the entry point does not load the BigInt reference
// engine (engine.ts) nor the test switch (backend.ts): two modules fewer at import.
import { sm2Engine } from './wasm.js';
import { scalarInRange } from './curve.js';
import type { Sm2Engine } from './engine.js';
import {
  SM2_DEFAULT_ID,
  SM2_MAX_ID_BYTES,
  decryptParts,
  derSignature,
  encryptParts,
  kxDerive,
  randomScalar,
  signDigest,
  za,
  type Sm2CipherParts,
} from './protocol.js';

export { SM2_MAX_ID_BYTES };

function invalidPoint(why: string): never {
  throw new CryptoError('CRYPTO_ERR_SM2_INVALID_POINT', `invalid SM2 point: ${why}`);
}

/**
 * Parse a SEC 1 point (GB/T 32918.1 §4.2.9: 04 ‖ x ‖ y, or 02/03 ‖ x) and validate it fully
 * (§6.2: not O, coordinates < p, on the curve; order n as the cofactor is 1).
 */
function parsePoint(engine: Sm2Engine, b: Uint8Array): Uint8Array {
  if (b.length === 65 && b[0] === 0x04) {
    const xy = b.slice(1);
    if (!engine.validPoint(xy)) invalidPoint('not a point of the curve');
    return xy;
  }
  if (b.length === 33 && (b[0] === 0x02 || b[0] === 0x03)) {
    const xy = engine.decompress(b.subarray(1), b[0] === 0x03);
    if (xy === null || !engine.validPoint(xy)) invalidPoint('x is not the abscissa of a curve point');
    return xy;
  }
  if (b.length === 1 && b[0] === 0x00) invalidPoint('the point at infinity is not a valid key');
  return invalidPoint(`expected 65 bytes (04 ‖ x ‖ y) or 33 bytes (02/03 ‖ x), got ${b.length} starting 0x${(b[0] ?? 0).toString(16)}`);
}

function encodePoint(xy: Uint8Array, format: 'uncompressed' | 'compressed'): Uint8Array {
  if (format === 'compressed') return concatBytes(Uint8Array.of(0x02 | (xy[63] & 1)), xy.subarray(0, 32));
  if (format === 'uncompressed') return concatBytes(Uint8Array.of(0x04), xy);
  throw new TypeError(`point format must be 'uncompressed' or 'compressed', got ${String(format)}`);
}

const PUB = Symbol('sm2-public');

/**
 * An SM2 public key: a validated point of sm2p256v1.
 * @example
 * const pub = Sm2PublicKey.fromBytes(hexToBytes('04' + x + y));
 * pub.toBytes('compressed'); // 33 bytes
 */
export class Sm2PublicKey {
  readonly #xy: Uint8Array;
  #zDefault: Uint8Array | undefined;

  /** @internal use {@link Sm2PublicKey.fromBytes} */
  constructor(token: typeof PUB, xy: Uint8Array) {
    if (token !== PUB) throw new TypeError('use Sm2PublicKey.fromBytes');
    this.#xy = xy;
  }

  /**
   * Import and fully validate a SEC 1 encoded point: 65 bytes uncompressed or 33 compressed.
   * Throws `CRYPTO_ERR_SM2_INVALID_POINT` for anything that is not a valid key (infinity,
   * coordinates ≥ p, off-curve points — the invalid-curve attack).
   * @example Sm2PublicKey.fromBytes(sec1Bytes)
   */
  static fromBytes(sec1: Uint8Array): Sm2PublicKey {
    abytes(sec1, 'Sm2PublicKey.fromBytes');
    return new Sm2PublicKey(PUB, parsePoint(sm2Engine(), sec1));
  }

  /** SEC 1 encoding; uncompressed (04 ‖ x ‖ y) by default. @example pub.toBytes('compressed') */
  toBytes(format: 'uncompressed' | 'compressed' = 'uncompressed'): Uint8Array {
    return encodePoint(this.#xy, format);
  }

  /** Same point. @example a.equals(b) */
  equals(other: Sm2PublicKey): boolean {
    if (!(other instanceof Sm2PublicKey)) return false;
    return equalBytes(this.#xy, other.#xy);
  }

  /** @internal affine x ‖ y (64 bytes) */
  get xy(): Uint8Array {
    return this.#xy;
  }

  /** @internal Z for the default ID, computed once per key (it is public data) */
  zDefault(engine: Sm2Engine): Uint8Array {
    this.#zDefault ??= za(engine, this.#xy, SM2_DEFAULT_ID);
    return this.#zDefault;
  }
}

const PRIV = Symbol('sm2-private');

/**
 * An SM2 private key d ∈ [1, n − 2] (GB/T 32918.1 §6.1) with its public key [d]G.
 * @example
 * const key = Sm2PrivateKey.fromBytes(hexToBytes('3945208f…c5b8'));
 * key.publicKey.toBytes();
 */
export class Sm2PrivateKey {
  #d: Uint8Array;
  #dInv: Uint8Array | undefined;
  #signState: { engine: Sm2Engine; state: Uint8Array } | undefined;
  /** The matching public key. */
  readonly publicKey: Sm2PublicKey;

  /** @internal use {@link Sm2PrivateKey.generate} or {@link Sm2PrivateKey.fromBytes} */
  constructor(token: typeof PRIV, d: Uint8Array) {
    if (token !== PRIV) throw new TypeError('use Sm2PrivateKey.generate or Sm2PrivateKey.fromBytes');
    this.#d = d;
    this.publicKey = new Sm2PublicKey(PUB, sm2Engine().mulG(d));
  }

  /** A new key from the CSPRNG (`crypto.getRandomValues`). @example Sm2PrivateKey.generate() */
  static generate(): Sm2PrivateKey {
    return new Sm2PrivateKey(PRIV, randomScalar(sm2Engine().curve.n, 1n));
  }

  /**
   * A key from its 32-byte big-endian scalar; outside [1, n − 2] throws
   * `CRYPTO_ERR_SM2_INVALID_PRIVATE_KEY`. The input is copied.
   * @example Sm2PrivateKey.fromBytes(d32)
   */
  static fromBytes(d: Uint8Array): Sm2PrivateKey {
    abytes(d, 'Sm2PrivateKey.fromBytes', 32);
    if (!scalarInRange(d, sm2Engine().curve.n, 1n)) {
      throw new CryptoError('CRYPTO_ERR_SM2_INVALID_PRIVATE_KEY', 'SM2 private key must be in [1, n-2]');
    }
    return new Sm2PrivateKey(PRIV, d.slice());
  }

  /** The 32-byte scalar (a copy). @example key.toBytes() */
  toBytes(): Uint8Array {
    return this.#d.slice();
  }

  /** Overwrite the secret scalar in memory; the key is unusable afterwards. @example key.destroy() */
  destroy(): void {
    wipe(this.#d);
    if (this.#dInv) wipe(this.#dInv);
    if (this.#signState) wipe(this.#signState.state);
    this.#d = new Uint8Array(0);
    this.#dInv = undefined;
    this.#signState = undefined;
  }

  /** @internal the scalar, not copied */
  get d(): Uint8Array {
    if (this.#d.length !== 32) throw new TypeError('this SM2 private key was destroyed');
    return this.#d;
  }

  /** @internal the engine's signing state for this key (secret), computed once per key and engine */
  signState(engine: Sm2Engine): Uint8Array {
    if (this.#signState?.engine !== engine) {
      if (this.#signState) wipe(this.#signState.state);
      this.#signState = { engine, state: engine.signSetup(this.d) };
    }
    return this.#signState.state;
  }

  /** @internal (1 + d)⁻¹ mod n, computed once per key for signing */
  get dInv(): Uint8Array {
    this.#dInv ??= sm2Engine().signPrep(this.d);
    return this.#dInv;
  }
}

function checkPriv(key: unknown, what: string): asserts key is Sm2PrivateKey {
  if (!(key instanceof Sm2PrivateKey)) throw new TypeError(`${what}: expected an Sm2PrivateKey`);
}
function checkPub(key: unknown, what: string): asserts key is Sm2PublicKey {
  if (!(key instanceof Sm2PublicKey)) throw new TypeError(`${what}: expected an Sm2PublicKey`);
}

function idOf(id: Uint8Array | undefined, what: string): Uint8Array {
  if (id === undefined) return SM2_DEFAULT_ID;
  abytes(id, `${what}: id`);
  if (id.length > SM2_MAX_ID_BYTES) throw new RangeError(`${what}: id longer than ${SM2_MAX_ID_BYTES} bytes (ENTL limit)`);
  return id;
}

/**
 * Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A) (GB/T 32918.2 §5.5); the default ID
 * is UTF-8 "1234567812345678". IDs may be up to 8191 bytes.
 * @example sm2Za(pub) // 32 bytes
 */
export function sm2Za(pub: Sm2PublicKey, id?: Uint8Array): Uint8Array {
  checkPub(pub, 'sm2Za');
  const engine = sm2Engine();
  const i = idOf(id, 'sm2Za');
  return i === SM2_DEFAULT_ID ? pub.zDefault(engine).slice() : za(engine, pub.xy, i);
}

/** Signature encodings: DER `SEQUENCE { r INTEGER, s INTEGER }` (GM/T 0009 §7.2) or raw r ‖ s. */
export type Sm2SignatureFormat = 'der' | 'raw';

/** Options of {@link sm2Sign} and {@link sm2Verify}. */
export interface Sm2SignOptions {
  /** Distinguishing ID of the signer; default UTF-8 "1234567812345678". */
  id?: Uint8Array;
  /** `'der'` (default) or `'raw'` (r ‖ s, 64 bytes). */
  format?: Sm2SignatureFormat;
}

/** Options of {@link sm2SignDigest}. */
export interface Sm2SignDigestOptions {
  format?: Sm2SignatureFormat;
  /**
   * Test-only: a fixed nonce k (32 bytes) to reproduce published vectors. Never use it to
   * sign real data — a repeated or predictable k reveals the private key.
   */
  unsafeK?: Uint8Array;
}

function formatOf(f: unknown, what: string): Sm2SignatureFormat {
  if (f === undefined) return 'der';
  if (f !== 'der' && f !== 'raw') throw new TypeError(`${what}: format must be 'der' or 'raw'`);
  return f;
}

function encodeSignature(rs: Uint8Array, format: Sm2SignatureFormat): Uint8Array {
  return format === 'raw' ? rs : derSignature(rs);
}

/** Strict decoding; `null` for anything malformed (verify then returns false). */
function decodeSignature(sig: Uint8Array, format: Sm2SignatureFormat): { r: Uint8Array; s: Uint8Array } | null {
  if (format === 'raw') return sig.length === 64 ? { r: sig.subarray(0, 32), s: sig.subarray(32) } : null;
  try {
    const [r, s] = derReadSequence(derDecode(sig), 2);
    return { r: derReadUnsignedFixed(r, 32), s: derReadUnsignedFixed(s, 32) };
  } catch (e) {
    if (e instanceof CryptoError) return null;
    throw e;
  }
}

/**
 * Sign a precomputed digest e (32 bytes, normally SM3(Z_A ‖ M)) — GB/T 32918.2 §6.1 A3–A7.
 * Nonces are hedged (CSPRNG mixed with HMAC-SM3 of key and digest).
 * @example sm2SignDigest(key, e, { format: 'raw' })
 */
export function sm2SignDigest(key: Sm2PrivateKey, e: Uint8Array, opts: Sm2SignDigestOptions = {}): Uint8Array {
  checkPriv(key, 'sm2SignDigest');
  abytes(e, 'sm2SignDigest: e', 32);
  const format = formatOf(opts.format, 'sm2SignDigest');
  const engine = sm2Engine();
  if (opts.unsafeK === undefined) return engine.signHedged(key.signState(engine), e, format === 'der');
  abytes(opts.unsafeK, 'sm2SignDigest: unsafeK', 32);
  if (!scalarInRange(opts.unsafeK, engine.curve.n)) throw new RangeError('sm2SignDigest: unsafeK must be in [1, n-1]');
  return encodeSignature(signDigest(engine, key.d, key.dInv, e, opts.unsafeK), format);
}

/**
 * Verify a signature over a precomputed digest e — every check of GB/T 32918.2 §7.1.
 * Malformed signatures give `false`.
 * @example sm2VerifyDigest(pub, e, sig)
 */
export function sm2VerifyDigest(
  key: Sm2PublicKey,
  e: Uint8Array,
  sig: Uint8Array,
  opts: { format?: Sm2SignatureFormat } = {},
): boolean {
  checkPub(key, 'sm2VerifyDigest');
  abytes(e, 'sm2VerifyDigest: e', 32);
  abytes(sig, 'sm2VerifyDigest: sig');
  const rs = decodeSignature(sig, formatOf(opts.format, 'sm2VerifyDigest'));
  if (rs === null) return false;
  return sm2Engine().verify(key.xy, e, rs.r, rs.s);
}

function digestOf(pub: Sm2PublicKey, msg: Uint8Array, id: Uint8Array): Uint8Array {
  const engine = sm2Engine();
  const z = id === SM2_DEFAULT_ID ? pub.zDefault(engine) : za(engine, pub.xy, id);
  return sm3(concatBytes(z, msg));
}

/**
 * Sign a message: e = SM3(Z_A ‖ M) then GB/T 32918.2 §6.1. DER by default.
 * @example const sig = sm2Sign(key, msg, { id: utf8ToBytes('ALICE123@YAHOO.COM') });
 */
export function sm2Sign(key: Sm2PrivateKey, msg: Uint8Array, opts: Sm2SignOptions = {}): Uint8Array {
  checkPriv(key, 'sm2Sign');
  abytes(msg, 'sm2Sign: msg');
  const id = idOf(opts.id, 'sm2Sign');
  const format = formatOf(opts.format, 'sm2Sign');
  const engine = sm2Engine();
  const z = id === SM2_DEFAULT_ID ? key.publicKey.zDefault(engine) : za(engine, key.publicKey.xy, id);
  // e = SM3(Z_A ‖ M), the nonce and the signature in one engine call (GB/T 32918.2 §6.1).
  return engine.signMessage(key.signState(engine), z, msg, format === 'der');
}

/**
 * Verify a message signature with the signer's ID (default "1234567812345678").
 * Returns `false` for a wrong or malformed signature (non-minimal DER, trailing bytes,
 * r or s out of [1, n-1], t = 0, …).
 * @example sm2Verify(pub, msg, sig) // boolean
 */
export function sm2Verify(key: Sm2PublicKey, msg: Uint8Array, sig: Uint8Array, opts: Sm2SignOptions = {}): boolean {
  checkPub(key, 'sm2Verify');
  abytes(msg, 'sm2Verify: msg');
  const id = idOf(opts.id, 'sm2Verify');
  return sm2VerifyDigest(key, digestOf(key, msg, id), sig, { format: formatOf(opts.format, 'sm2Verify') });
}

/** Component order of a raw ciphertext: C1 ‖ C3 ‖ C2 (GB/T 32918.4-2016, default) or the 2012 draft's C1 ‖ C2 ‖ C3. */
export type Sm2CipherOrder = 'c1c3c2' | 'c1c2c3';

/** Options of {@link sm2Encrypt}. */
export interface Sm2EncryptOptions {
  order?: Sm2CipherOrder;
  /** `'raw'` (default) or `'der'`: GM/T 0009 `SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING, ciphertext OCTET STRING }`. */
  encoding?: 'raw' | 'der';
  /** C1 as 04 ‖ x ‖ y (default) or 02/03 ‖ x; raw encoding only. */
  pointFormat?: 'uncompressed' | 'compressed';
}

/** Options of {@link sm2Decrypt}; must match what the sender used. */
export interface Sm2DecryptOptions {
  order?: Sm2CipherOrder;
  encoding?: 'raw' | 'der';
}

function orderOf(o: unknown, what: string): Sm2CipherOrder {
  if (o === undefined) return 'c1c3c2';
  if (o !== 'c1c3c2' && o !== 'c1c2c3') throw new TypeError(`${what}: order must be 'c1c3c2' or 'c1c2c3'`);
  return o;
}
function encodingOf(e: unknown, what: string): 'raw' | 'der' {
  if (e === undefined) return 'raw';
  if (e !== 'raw' && e !== 'der') throw new TypeError(`${what}: encoding must be 'raw' or 'der'`);
  return e;
}

/** @internal GB/T 32918.4 encryption with a fixed k, for the standard's vectors only. */
export function _sm2EncryptUnsafeK(key: Sm2PublicKey, pt: Uint8Array, k: Uint8Array, opts: Sm2EncryptOptions = {}): Uint8Array {
  checkPub(key, 'sm2Encrypt');
  abytes(k, 'unsafeK', 32);
  if (!scalarInRange(k, sm2Engine().curve.n)) throw new RangeError('unsafeK must be in [1, n-1]');
  return encryptWith(key, pt, opts, k);
}

function encryptWith(key: Sm2PublicKey, pt: Uint8Array, opts: Sm2EncryptOptions, k?: Uint8Array): Uint8Array {
  abytes(pt, 'sm2Encrypt: plaintext');
  if (pt.length === 0) throw new RangeError('sm2Encrypt: the plaintext must not be empty (GB/T 32918.4 needs klen ≥ 1)');
  const order = orderOf(opts.order, 'sm2Encrypt');
  const encoding = encodingOf(opts.encoding, 'sm2Encrypt');
  const pf = opts.pointFormat ?? 'uncompressed';
  if (pf !== 'uncompressed' && pf !== 'compressed') throw new TypeError("sm2Encrypt: pointFormat must be 'uncompressed' or 'compressed'");
  if (encoding === 'der' && pf !== 'uncompressed') throw new TypeError('sm2Encrypt: the DER encoding carries x and y; pointFormat does not apply');
  const { c1, c3, c2 } = encryptParts(sm2Engine(), key.xy, pt, k);
  if (encoding === 'der') {
    // GM/T 0009-2012 §7.2 SM2Cipher; the order option has no meaning for the SEQUENCE.
    return derSequence(derUnsignedInteger(c1.subarray(0, 32)), derUnsignedInteger(c1.subarray(32)), derOctetString(c3), derOctetString(c2));
  }
  const c1b = encodePoint(c1, pf);
  return order === 'c1c3c2' ? concatBytes(c1b, c3, c2) : concatBytes(c1b, c2, c3);
}

/**
 * Public-key encryption (GB/T 32918.4 §6.1). Default output C1 ‖ C3 ‖ C2 with C1 uncompressed.
 * @example sm2Encrypt(pub, msg, { order: 'c1c2c3' }) // for peers using the 2012 draft order
 */
export function sm2Encrypt(key: Sm2PublicKey, pt: Uint8Array, opts: Sm2EncryptOptions = {}): Uint8Array {
  checkPub(key, 'sm2Encrypt');
  return encryptWith(key, pt, opts);
}

function decryptFail(why: string): never {
  throw new CryptoError('CRYPTO_ERR_SM2_DECRYPT', `SM2 decryption failed: ${why}`);
}

function splitCiphertext(engine: Sm2Engine, ct: Uint8Array, order: Sm2CipherOrder, encoding: 'raw' | 'der'): Sm2CipherParts {
  if (encoding === 'der') {
    let parts: Sm2CipherParts;
    try {
      const [x, y, h, c] = derReadSequence(derDecode(ct), 4);
      parts = { c1: concatBytes(derReadUnsignedFixed(x, 32), derReadUnsignedFixed(y, 32)), c3: derReadOctetString(h), c2: derReadOctetString(c) };
    } catch (e) {
      if (e instanceof CryptoError) decryptFail(`malformed GM/T 0009 ciphertext (${e.message})`);
      throw e;
    }
    if (parts.c3.length !== 32) decryptFail('hash is not 32 bytes');
    return parts;
  }
  let c1: Uint8Array;
  let off: number;
  if (ct.length > 0 && ct[0] === 0x04) {
    off = 65;
    if (ct.length < off + 32) decryptFail('ciphertext too short');
    c1 = ct.slice(1, 65);
  } else if (ct.length > 0 && (ct[0] === 0x02 || ct[0] === 0x03)) {
    off = 33;
    if (ct.length < off + 32) decryptFail('ciphertext too short');
    const xy = engine.decompress(ct.subarray(1, 33), ct[0] === 0x03);
    if (xy === null) decryptFail('C1 is not a valid curve point');
    c1 = xy;
  } else {
    return decryptFail('C1 must start with 04, 02 or 03');
  }
  const rest = ct.subarray(off);
  return order === 'c1c3c2'
    ? { c1, c3: rest.slice(0, 32), c2: rest.slice(32) }
    : { c1, c3: rest.slice(rest.length - 32), c2: rest.slice(0, rest.length - 32) };
}

/**
 * Decrypt (GB/T 32918.4 §7.1). Every failure — malformed input, C1 off the curve, all-zero
 * KDF output, C3 mismatch — throws `CryptoError('CRYPTO_ERR_SM2_DECRYPT')` and releases no plaintext.
 * @example sm2Decrypt(key, ct) // plaintext
 */
export function sm2Decrypt(key: Sm2PrivateKey, ct: Uint8Array, opts: Sm2DecryptOptions = {}): Uint8Array {
  checkPriv(key, 'sm2Decrypt');
  abytes(ct, 'sm2Decrypt: ciphertext');
  const engine = sm2Engine();
  const parts = splitCiphertext(engine, ct, orderOf(opts.order, 'sm2Decrypt'), encodingOf(opts.encoding, 'sm2Decrypt'));
  return decryptParts(engine, key.d, parts);
}

/** The peer's public values in a key exchange. */
export interface Sm2KeyExchangePeer {
  /** The peer's static public key (P_A or P_B). */
  publicKey: Sm2PublicKey;
  /** The peer's ephemeral point (R_A or R_B), as received. */
  ephemeralPublicKey: Sm2PublicKey;
  /** The peer's distinguishing ID; default "1234567812345678". */
  id?: Uint8Array;
}

/** Result of {@link Sm2KeyExchange.derive}. */
export interface Sm2KeyExchangeResult {
  /** The shared key K (klen bytes). */
  key: Uint8Array;
  /** The confirmation hash to send: S_B for the responder, S_A for the initiator (GB/T 32918.3 §6.1 B8/A10). */
  confirmation: Uint8Array;
  /**
   * Check the peer's confirmation hash (S_B received by the initiator, S_A by the responder)
   * in constant time; a mismatch throws `CRYPTO_ERR_SM2_KEY_EXCHANGE`.
   */
  verifyPeerConfirmation(received: Uint8Array): void;
}

/** Options of the {@link Sm2KeyExchange} constructor. */
export interface Sm2KeyExchangeOptions {
  role: 'initiator' | 'responder';
  /** Own static key (d_A/P_A or d_B/P_B). */
  privateKey: Sm2PrivateKey;
  /** Own distinguishing ID; default "1234567812345678". */
  id?: Uint8Array;
  /** Test-only: a fixed ephemeral private key r (32 bytes) to reproduce published vectors. */
  unsafeEphemeral?: Uint8Array;
}

/**
 * One side of the SM2 key exchange (GB/T 32918.3 §6.1). Each side creates an instance,
 * sends `ephemeralPublicKey` (R_A / R_B), then calls `derive` with the peer's values. The
 * optional confirmation: the responder sends S_B with R_B; the initiator checks it and sends
 * S_A; the responder checks that.
 * @example
 * const a = new Sm2KeyExchange({ role: 'initiator', privateKey: keyA, id: idA });
 * const b = new Sm2KeyExchange({ role: 'responder', privateKey: keyB, id: idB });
 * const rb = b.derive({ publicKey: keyA.publicKey, ephemeralPublicKey: a.ephemeralPublicKey, id: idA }, 16);
 * const ra = a.derive({ publicKey: keyB.publicKey, ephemeralPublicKey: b.ephemeralPublicKey, id: idB }, 16);
 * ra.verifyPeerConfirmation(rb.confirmation); rb.verifyPeerConfirmation(ra.confirmation);
 * // ra.key equals rb.key
 */
export class Sm2KeyExchange {
  readonly role: 'initiator' | 'responder';
  /** The ephemeral point R = [r]G to send to the peer. */
  readonly ephemeralPublicKey: Sm2PublicKey;
  readonly #key: Sm2PrivateKey;
  readonly #id: Uint8Array;
  #r: Uint8Array;

  constructor(opts: Sm2KeyExchangeOptions) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('Sm2KeyExchange: options required');
    if (opts.role !== 'initiator' && opts.role !== 'responder') throw new TypeError("Sm2KeyExchange: role must be 'initiator' or 'responder'");
    checkPriv(opts.privateKey, 'Sm2KeyExchange');
    this.role = opts.role;
    this.#key = opts.privateKey;
    this.#id = idOf(opts.id, 'Sm2KeyExchange').slice();
    const engine = sm2Engine();
    if (opts.unsafeEphemeral !== undefined) {
      abytes(opts.unsafeEphemeral, 'Sm2KeyExchange: unsafeEphemeral', 32);
      if (!scalarInRange(opts.unsafeEphemeral, engine.curve.n)) throw new RangeError('Sm2KeyExchange: unsafeEphemeral must be in [1, n-1]');
      this.#r = opts.unsafeEphemeral.slice();
    } else {
      this.#r = randomScalar(engine.curve.n);
    }
    this.ephemeralPublicKey = new Sm2PublicKey(PUB, engine.mulG(this.#r));
  }

  /**
   * Compute the shared key of `klen` bytes (1 … 2^32 − 1 bytes by the KDF; capped here at
   * 1 MiB) and the confirmation hashes. Can be called once; the ephemeral secret is wiped.
   * @example const { key, confirmation } = kx.derive(peer, 16);
   */
  derive(peer: Sm2KeyExchangePeer, klen: number): Sm2KeyExchangeResult {
    if (peer === null || typeof peer !== 'object') throw new TypeError('Sm2KeyExchange.derive: peer required');
    checkPub(peer.publicKey, 'Sm2KeyExchange.derive: publicKey');
    checkPub(peer.ephemeralPublicKey, 'Sm2KeyExchange.derive: ephemeralPublicKey');
    if (!Number.isSafeInteger(klen) || klen < 1 || klen > 1 << 20) throw new RangeError('Sm2KeyExchange.derive: klen must be in [1, 2^20] bytes');
    if (this.#r.length !== 32) throw new TypeError('Sm2KeyExchange.derive: already used');
    const engine = sm2Engine();
    const own = this.#key.publicKey.xy;
    const res = kxDerive(
      engine,
      this.role,
      { d: this.#key.d, pub: own, r: this.#r, rPub: this.ephemeralPublicKey.xy, z: za(engine, own, this.#id) },
      { pub: peer.publicKey.xy, rPub: peer.ephemeralPublicKey.xy, z: za(engine, peer.publicKey.xy, idOf(peer.id, 'Sm2KeyExchange.derive')) },
      klen,
    );
    wipe(this.#r);
    this.#r = new Uint8Array(0);
    const expected = res.expectedPeerConfirmation;
    return {
      key: res.key,
      confirmation: res.confirmation,
      verifyPeerConfirmation(received: Uint8Array): void {
        abytes(received, 'verifyPeerConfirmation');
        if (!equalBytes(received, expected)) {
          throw new CryptoError('CRYPTO_ERR_SM2_KEY_EXCHANGE', 'SM2 key exchange confirmation hash does not match');
        }
      },
    };
  }
}
