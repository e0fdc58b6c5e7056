/**
 * Import and export of SM2 keys in every common format: PKCS#8 (PEM/DER, plain or
 * encrypted with PBES2 = PBKDF2-HMAC-SM3 + SM4-CBC), SubjectPublicKeyInfo, SEC 1
 * `EC PRIVATE KEY` / `SM2 PRIVATE KEY`, raw bytes or hex, and JWK (`kty: "EC"`, `crv: "SM2"`).
 *
 * Imports detect the format, validate the whole structure, load the key through
 * `Sm2PrivateKey.fromBytes` / `Sm2PublicKey.fromBytes` (range check of d, full point
 * validation) and, when a private-key file also carries a public key, check it matches
 * [d]G. Exports write what OpenSSL 3 writes, so `openssl pkey` reads them.
 *
 * @example
 * const key = importSm2PrivateKey(fs.readFileSync('key.pem', 'utf8'));
 * const pubPem = sm2PublicKeyToPem(key.publicKey);
 */
import { CryptoError } from '../errors.js';
import { bytesToUtf8, hexToBytes, wipe } from '../bytes.js';
import { derDecode, derChildren, DER_TAG } from '../der.js';
import { isPem, pemDecode, pemEncode } from '../pem.js';
import { Sm2PrivateKey, Sm2PublicKey } from '../sm2/index.js';
import { encodePkcs8, encodeSec1, encodeSpki, parsePkcs8, parseSec1, parseSpki, type Sm2KeyBytes } from './asn1.js';
import { decryptPkcs8, encryptPkcs8, type EncryptKeyOptions } from './encrypted.js';
import { encodeSm2Jwk, parseSm2Jwk, type Sm2Jwk } from './jwk.js';

export { KEY_OIDS, PBKDF2_MAX_ITERATIONS, parsePkcs8, parseSec1, parseSpki, parseEncryptedPkcs8, encodePkcs8, encodeSec1, encodeSpki, encodeEncryptedPkcs8 } from './asn1.js';
export type { Sm2KeyBytes, Pbes2Params } from './asn1.js';
export { parseSm2Jwk, encodeSm2Jwk } from './jwk.js';
export type { Sm2Jwk } from './jwk.js';
export { decryptPkcs8, encryptPkcs8, PBKDF2_DEFAULT_ITERATIONS } from './encrypted.js';
export type { EncryptKeyOptions } from './encrypted.js';

/** Key input accepted by the importers: PEM or hex text, DER or raw bytes, or a JWK object. */
export type Sm2KeyInput = string | Uint8Array | Sm2Jwk | Record<string, unknown>;

/** Options of {@link importSm2PrivateKey}. */
export interface ImportPrivateKeyOptions {
  /** Passphrase of an encrypted PKCS#8 key; a string is taken as UTF-8 (RFC 8018 §3). */
  passphrase?: string | Uint8Array;
}

/** PEM labels of private keys we read. OpenSSL 3 writes SEC 1 SM2 keys as `SM2 PRIVATE KEY`. */
const PRIVATE_LABELS = ['PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'EC PRIVATE KEY', 'SM2 PRIVATE KEY'] as const;

function keyFormat(msg: string): never {
  throw new CryptoError('CRYPTO_ERR_KEY_FORMAT', msg);
}

/** Bytes that are the text of a PEM or JSON file rather than DER (DER keys start with 0x30). */
function textOf(b: Uint8Array): string | undefined {
  const first = b.findIndex((c) => c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d);
  if (first < 0 || (b[first] !== 0x2d && b[first] !== 0x7b)) return undefined; // '-' or '{'
  try {
    return bytesToUtf8(b);
  } catch {
    return keyFormat('key file is neither DER nor UTF-8 text');
  }
}

type PrivateDerKind = 'pkcs8' | 'encrypted' | 'sec1';

/** Tell the three private-key DER structures apart by their first elements. */
function privateDerKind(der: Uint8Array): PrivateDerKind {
  const top = derDecode(der);
  if (top.tag !== DER_TAG.SEQUENCE) keyFormat('private key DER is not a SEQUENCE');
  const kids = derChildren(top);
  if (kids.length === 2 && kids[0].tag === DER_TAG.SEQUENCE) return 'encrypted';
  if (kids.length >= 2 && kids[0].tag === DER_TAG.INTEGER && kids[1].tag === DER_TAG.SEQUENCE) return 'pkcs8';
  if (kids.length >= 2 && kids[0].tag === DER_TAG.INTEGER && kids[1].tag === DER_TAG.OCTET_STRING) return 'sec1';
  return keyFormat('DER is not PKCS#8, encrypted PKCS#8 or SEC 1');
}

function fromDer(der: Uint8Array, kind: PrivateDerKind, opts: ImportPrivateKeyOptions): Sm2KeyBytes {
  if (kind === 'sec1') return parseSec1(der);
  if (kind === 'pkcs8') return parsePkcs8(der);
  if (opts.passphrase === undefined) throw new CryptoError('CRYPTO_ERR_KEY_DECRYPT', 'the key is encrypted and no passphrase was given');
  const plain = decryptPkcs8(der, opts.passphrase);
  try {
    return parsePkcs8(plain);
  } finally {
    wipe(plain);
  }
}

function loadPrivate(kb: Sm2KeyBytes): Sm2PrivateKey {
  try {
    const key = Sm2PrivateKey.fromBytes(kb.d);
    if (kb.publicKey) {
      // A file whose stored public key differs from [d]G is corrupt or forged.
      let matches = false;
      try {
        matches = Sm2PublicKey.fromBytes(kb.publicKey).equals(key.publicKey);
      } finally {
        if (!matches) key.destroy();
      }
      if (!matches) keyFormat('the public key in the file does not match the private key');
    }
    return key;
  } finally {
    wipe(kb.d);
  }
}

/**
 * Import an SM2 private key from PKCS#8 (PEM `PRIVATE KEY` or DER), encrypted PKCS#8
 * (`ENCRYPTED PRIVATE KEY`, needs `passphrase`), SEC 1 (`EC PRIVATE KEY` / `SM2 PRIVATE KEY`
 * or DER), a JWK with `d`, 32 raw bytes or 64 hex digits.
 * @example
 * const key = importSm2PrivateKey(pemText, { passphrase: process.env.KEY_PASS });
 */
export function importSm2PrivateKey(input: Sm2KeyInput, opts: ImportPrivateKeyOptions = {}): Sm2PrivateKey {
  if (opts.passphrase !== undefined && typeof opts.passphrase !== 'string' && !(opts.passphrase instanceof Uint8Array)) {
    throw new TypeError('importSm2PrivateKey: passphrase must be a string or Uint8Array');
  }
  if (input instanceof Uint8Array) {
    // Length first: a raw scalar may well start with the byte of '-' or '{'.
    if (input.length === 32) return Sm2PrivateKey.fromBytes(input);
    const text = textOf(input);
    if (text !== undefined) return importSm2PrivateKey(text, opts);
    return loadPrivate(fromDer(input, privateDerKind(input), opts));
  }
  if (typeof input === 'string') {
    const t = input.trim();
    if (isPem(t)) {
      const { label, der } = pemDecode(t, PRIVATE_LABELS);
      const kind: PrivateDerKind = label === 'PRIVATE KEY' ? 'pkcs8' : label === 'ENCRYPTED PRIVATE KEY' ? 'encrypted' : 'sec1';
      try {
        return loadPrivate(fromDer(der, kind, opts));
      } finally {
        wipe(der);
      }
    }
    if (t.startsWith('{')) return importSm2PrivateKey(parseJsonObject(t), opts);
    if (/^[0-9a-fA-F]{64}$/.test(t)) {
      const d = hexToBytes(t);
      try {
        return Sm2PrivateKey.fromBytes(d);
      } finally {
        wipe(d);
      }
    }
    return keyFormat('private key text is not PEM, JWK or 64 hex digits');
  }
  if (typeof input === 'object' && input !== null) {
    const { publicKey, d } = parseSm2Jwk(input);
    if (!d) keyFormat("JWK has no 'd': it is a public key");
    return loadPrivate({ d, publicKey });
  }
  throw new TypeError('importSm2PrivateKey: expected a string, Uint8Array or JWK object');
}

function parseJsonObject(t: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return keyFormat('key text starting with { is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return keyFormat('JWK is not a JSON object');
  return v as Record<string, unknown>;
}

/**
 * Import an SM2 public key from SPKI (PEM `PUBLIC KEY` or DER), a JWK, SEC 1 point bytes
 * (65 uncompressed or 33 compressed) or their hex. The point is fully validated.
 * @example
 * const pub = importSm2PublicKey(fs.readFileSync('pub.pem', 'utf8'));
 */
export function importSm2PublicKey(input: Sm2KeyInput): Sm2PublicKey {
  if (input instanceof Uint8Array) {
    if (input.length === 65 || input.length === 33) return Sm2PublicKey.fromBytes(input);
    const text = textOf(input);
    if (text !== undefined) return importSm2PublicKey(text);
    return Sm2PublicKey.fromBytes(parseSpki(input));
  }
  if (typeof input === 'string') {
    const t = input.trim();
    if (isPem(t)) return Sm2PublicKey.fromBytes(parseSpki(pemDecode(t, 'PUBLIC KEY').der));
    if (t.startsWith('{')) return importSm2PublicKey(parseJsonObject(t));
    if (/^(04[0-9a-fA-F]{128}|0[23][0-9a-fA-F]{64})$/.test(t)) return Sm2PublicKey.fromBytes(hexToBytes(t));
    return keyFormat('public key text is not PEM, JWK or SEC 1 hex');
  }
  if (typeof input === 'object' && input !== null) return Sm2PublicKey.fromBytes(parseSm2Jwk(input).publicKey);
  throw new TypeError('importSm2PublicKey: expected a string, Uint8Array or JWK object');
}

function checkPrivate(key: unknown, what: string): asserts key is Sm2PrivateKey {
  if (!(key instanceof Sm2PrivateKey)) throw new TypeError(`${what}: expected an Sm2PrivateKey`);
}
function checkPublic(key: unknown, what: string): asserts key is Sm2PublicKey {
  if (!(key instanceof Sm2PublicKey)) throw new TypeError(`${what}: expected an Sm2PublicKey`);
}

/**
 * PKCS#8 PrivateKeyInfo DER, as `openssl pkcs8 -topk8 -nocrypt -outform DER` writes.
 * @example fs.writeFileSync('key.der', sm2PrivateKeyToPkcs8(key));
 */
export function sm2PrivateKeyToPkcs8(key: Sm2PrivateKey): Uint8Array {
  return withScalar(key, 'sm2PrivateKeyToPkcs8', encodePkcs8);
}

/** Run `f` over a copy of the private scalar and the uncompressed public key, wiping the copy after. */
function withScalar<T>(key: Sm2PrivateKey, what: string, f: (d: Uint8Array, pub: Uint8Array) => T): T {
  checkPrivate(key, what);
  const d = key.toBytes();
  try {
    return f(d, key.publicKey.toBytes());
  } finally {
    wipe(d);
  }
}

/**
 * SEC 1 ECPrivateKey DER with the sm2 curve and public key, as `openssl ec -outform DER` writes.
 * @example sm2PrivateKeyToSec1(key)
 */
export function sm2PrivateKeyToSec1(key: Sm2PrivateKey): Uint8Array {
  return withScalar(key, 'sm2PrivateKeyToSec1', encodeSec1);
}

/**
 * Encrypted PKCS#8 DER (PBES2: PBKDF2-HMAC-SM3 + SM4-CBC).
 * @example sm2PrivateKeyToEncryptedPkcs8(key, 'correct horse', { iterations: 100_000 })
 */
export function sm2PrivateKeyToEncryptedPkcs8(key: Sm2PrivateKey, passphrase: string | Uint8Array, opts: EncryptKeyOptions = {}): Uint8Array {
  const plain = sm2PrivateKeyToPkcs8(key);
  try {
    return encryptPkcs8(plain, passphrase, opts);
  } finally {
    wipe(plain);
  }
}

/** Options of {@link sm2PrivateKeyToPem}. */
export interface PrivateKeyPemOptions extends EncryptKeyOptions {
  /** `'pkcs8'` (default, `PRIVATE KEY`) or `'sec1'` (`EC PRIVATE KEY`). */
  format?: 'pkcs8' | 'sec1';
  /** When given, write `ENCRYPTED PRIVATE KEY` (PKCS#8 only). */
  passphrase?: string | Uint8Array;
}

/**
 * PEM text of a private key: PKCS#8 by default, encrypted PKCS#8 with a passphrase, or SEC 1.
 * @example sm2PrivateKeyToPem(key, { passphrase: 'pw' }) // '-----BEGIN ENCRYPTED PRIVATE KEY-----…'
 */
export function sm2PrivateKeyToPem(key: Sm2PrivateKey, opts: PrivateKeyPemOptions = {}): string {
  const format = opts.format ?? 'pkcs8';
  if (format !== 'pkcs8' && format !== 'sec1') throw new TypeError("sm2PrivateKeyToPem: format must be 'pkcs8' or 'sec1'");
  if (opts.passphrase !== undefined) {
    if (format !== 'pkcs8') throw new TypeError('sm2PrivateKeyToPem: only PKCS#8 keys can be encrypted');
    return pemEncode('ENCRYPTED PRIVATE KEY', sm2PrivateKeyToEncryptedPkcs8(key, opts.passphrase, opts));
  }
  const der = format === 'pkcs8' ? sm2PrivateKeyToPkcs8(key) : sm2PrivateKeyToSec1(key);
  try {
    return pemEncode(format === 'pkcs8' ? 'PRIVATE KEY' : 'EC PRIVATE KEY', der);
  } finally {
    wipe(der);
  }
}

/**
 * SubjectPublicKeyInfo DER (uncompressed point), as `openssl pkey -pubout -outform DER` writes.
 * @example sm2PublicKeyToSpki(key.publicKey)
 */
export function sm2PublicKeyToSpki(pub: Sm2PublicKey): Uint8Array {
  checkPublic(pub, 'sm2PublicKeyToSpki');
  return encodeSpki(pub.toBytes());
}

/** `PUBLIC KEY` PEM text. @example sm2PublicKeyToPem(key.publicKey) */
export function sm2PublicKeyToPem(pub: Sm2PublicKey): string {
  return pemEncode('PUBLIC KEY', sm2PublicKeyToSpki(pub));
}

/** Public JWK `{ kty: 'EC', crv: 'SM2', x, y }`. @example sm2PublicKeyToJwk(key.publicKey) */
export function sm2PublicKeyToJwk(pub: Sm2PublicKey): Sm2Jwk {
  checkPublic(pub, 'sm2PublicKeyToJwk');
  return encodeSm2Jwk(pub.toBytes());
}

/** Private JWK with `d`. Treat the result as a secret. @example sm2PrivateKeyToJwk(key) */
export function sm2PrivateKeyToJwk(key: Sm2PrivateKey): Sm2Jwk {
  return withScalar(key, 'sm2PrivateKeyToJwk', (d, pub) => encodeSm2Jwk(pub, d));
}
