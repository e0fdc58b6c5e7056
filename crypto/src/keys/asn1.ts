/**
 * The ASN.1 structures of SM2 key files, over plain bytes (no curve arithmetic here):
 * PKCS#8 PrivateKeyInfo (RFC 5208 §5 / RFC 5958 §2), SEC 1 ECPrivateKey (RFC 5915 §3),
 * SubjectPublicKeyInfo (RFC 5480 §2) and the PBES2 EncryptedPrivateKeyInfo (RFC 8018 §6.2,
 * Appendix A.2 and A.4). `keys/index.ts` turns these bytes into key objects and checks
 * the points.
 *
 * Structure errors are `CRYPTO_ERR_KEY_FORMAT`; DER errors stay `CRYPTO_ERR_ASN1`; a key
 * for another algorithm or curve is `CRYPTO_ERR_UNSUPPORTED`.
 * @example
 * const { d, publicKey } = parsePkcs8(der);
 */
import { CryptoError } from '../errors.js';
import {
  DER_TAG,
  derBitString,
  derDecode,
  derExplicit,
  derInteger,
  derIsContext,
  derNull,
  derOctetString,
  derOid,
  derReadBitString,
  derReadExplicit,
  derReadImplicit,
  derReadOctetString,
  derReadOid,
  derReadSequence,
  derReadSmallInteger,
  derSequence,
  type DerElement,
} from '../der.js';

/** Object identifiers used by SM2 key files. */
export const KEY_OIDS = {
  /** id-ecPublicKey, RFC 5480 §2.1.1. */
  EC_PUBLIC_KEY: '1.2.840.10045.2.1',
  /** sm2p256v1 / SM2 algorithm, GB/T 33560-2017 (GM/T 0006-2012). */
  SM2: '1.2.156.10197.1.301',
  /** PBES2, RFC 8018 Appendix A.4. */
  PBES2: '1.2.840.113549.1.5.13',
  /** PBKDF2, RFC 8018 Appendix A.2. */
  PBKDF2: '1.2.840.113549.1.5.12',
  /** SM4-CBC, GB/T 33560-2017. */
  SM4_CBC: '1.2.156.10197.1.104.2',
  /** hmacWithSM3 as OpenSSL/Tongsuo register it (GM/T 0091-2020 Table A.1); written by us. */
  HMAC_SM3: '1.2.156.10197.1.401.3.1',
  /** hmacWithSM3 as GmSSL and many Chinese toolkits write it; accepted on input. */
  HMAC_SM3_ALT: '1.2.156.10197.1.401.2',
  /** hmacWithSHA1, the PBKDF2 default PRF (RFC 8018 Appendix B.1.1): recognised only to refuse clearly. */
  HMAC_SHA1: '1.2.840.113549.2.7',
} as const;

function keyFormat(msg: string): never {
  throw new CryptoError('CRYPTO_ERR_KEY_FORMAT', msg);
}

/** Run a structural reader, turning a shape mismatch (`CRYPTO_ERR_ASN1` from a typed read) into KEY_FORMAT context. */
function decodeTop(der: Uint8Array, what: string): DerElement {
  if (!(der instanceof Uint8Array)) throw new TypeError(`${what}: expected Uint8Array`);
  return derDecode(der);
}

/**
 * Check an AlgorithmIdentifier names an SM2 key: `{id-ecPublicKey, namedCurve sm2}` as
 * OpenSSL writes, or the variant `{sm2, sm2 | NULL | absent}` some older tools write.
 */
function checkSm2Algorithm(alg: DerElement): void {
  const kids = derReadSequence(alg, [1, 2]);
  const oid = derReadOid(kids[0]);
  if (oid === KEY_OIDS.EC_PUBLIC_KEY) {
    if (kids.length !== 2) keyFormat('id-ecPublicKey without curve parameters');
    checkCurveParam(kids[1]);
    return;
  }
  if (oid === KEY_OIDS.SM2) {
    if (kids.length === 2 && kids[1].tag !== DER_TAG.NULL) checkCurveParam(kids[1]);
    return;
  }
  throw new CryptoError('CRYPTO_ERR_UNSUPPORTED', `key algorithm ${oid} is not SM2`);
}

/** ECParameters must be the named curve sm2 (RFC 5480 §2.1.1: namedCurve only; explicit curves refused). */
function checkCurveParam(el: DerElement): void {
  if (el.tag !== DER_TAG.OID) throw new CryptoError('CRYPTO_ERR_UNSUPPORTED', 'explicit or implicit EC parameters are not supported');
  const curve = derReadOid(el);
  if (curve !== KEY_OIDS.SM2) throw new CryptoError('CRYPTO_ERR_UNSUPPORTED', `curve ${curve} is not sm2p256v1`);
}

function sm2AlgorithmIdentifier(): Uint8Array {
  return derSequence(derOid(KEY_OIDS.EC_PUBLIC_KEY), derOid(KEY_OIDS.SM2));
}

/** SM2 private key material as found in a key file. */
export interface Sm2KeyBytes {
  /** The private scalar, 32 bytes big-endian. */
  d: Uint8Array;
  /** The public point (SEC 1 encoding) if the file carries one. */
  publicKey?: Uint8Array;
}

/**
 * Parse a SEC 1 / RFC 5915 ECPrivateKey. `[0]` parameters, when present, must be sm2.
 * @example const { d } = parseSec1(der);
 */
export function parseSec1(der: Uint8Array): Sm2KeyBytes {
  return readEcPrivateKey(decodeTop(der, 'parseSec1'));
}

function readEcPrivateKey(top: DerElement): Sm2KeyBytes {
  if (top.tag !== DER_TAG.SEQUENCE) keyFormat('ECPrivateKey is not a SEQUENCE');
  const kids = derReadSequence(top, [2, 4]);
  // RFC 5915 §3: version is ecPrivkeyVer1 (1).
  if (derReadSmallInteger(kids[0], 255) !== 1) keyFormat('ECPrivateKey version is not 1');
  if (kids[1].tag !== DER_TAG.OCTET_STRING) keyFormat('ECPrivateKey privateKey is not an OCTET STRING');
  const raw = derReadOctetString(kids[1]);
  // RFC 5915 §3 fixes the length at ceiling(log2(n)/8) = 32; tools from before that rule
  // dropped leading zero bytes, so shorter values are left-padded rather than refused.
  if (raw.length === 0 || raw.length > 32) keyFormat(`ECPrivateKey privateKey has ${raw.length} bytes, expected 32`);
  const d = new Uint8Array(32);
  d.set(raw, 32 - raw.length);
  raw.fill(0);
  let publicKey: Uint8Array | undefined;
  let last = -1;
  for (const el of kids.slice(2)) {
    if (derIsContext(el, 0) && last < 0) {
      checkCurveParam(derReadExplicit(el, 0));
      last = 0;
    } else if (derIsContext(el, 1) && last < 1) {
      publicKey = derReadBitString(derReadExplicit(el, 1)).bytes;
      last = 1;
    } else {
      keyFormat('unexpected element in ECPrivateKey');
    }
  }
  return publicKey ? { d, publicKey } : { d };
}

/**
 * Parse an unencrypted PKCS#8 PrivateKeyInfo / OneAsymmetricKey holding an SM2 key.
 * @example const { d, publicKey } = parsePkcs8(der);
 */
export function parsePkcs8(der: Uint8Array): Sm2KeyBytes {
  const top = decodeTop(der, 'parsePkcs8');
  if (top.tag !== DER_TAG.SEQUENCE) keyFormat('PrivateKeyInfo is not a SEQUENCE');
  const kids = derReadSequence(top, [3, 5]);
  // RFC 5958 §2: v1 (0) or v2 (1, may carry the public key).
  const version = derReadSmallInteger(kids[0], 255);
  if (version > 1) keyFormat(`PrivateKeyInfo version ${version} unknown`);
  checkSm2Algorithm(kids[1]);
  if (kids[2].tag !== DER_TAG.OCTET_STRING) keyFormat('PrivateKeyInfo privateKey is not an OCTET STRING');
  const inner = readEcPrivateKey(derDecode(kids[2].content));
  let last = -1;
  for (const el of kids.slice(3)) {
    if (derIsContext(el, 0) && el.constructed && last < 0) {
      last = 0; // attributes: not needed for a bare key
    } else if (derIsContext(el, 1) && !el.constructed && last < 1 && version === 1) {
      const pub = derReadBitString(derReadImplicit(el, 1, DER_TAG.BIT_STRING)).bytes;
      if (inner.publicKey && !bytesEq(inner.publicKey, pub)) keyFormat('PKCS#8 public keys disagree');
      inner.publicKey = pub;
      last = 1;
    } else {
      keyFormat('unexpected element in PrivateKeyInfo');
    }
  }
  return inner;
}

function bytesEq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Encode a SEC 1 ECPrivateKey with the sm2 named curve and public key, as `openssl ec` writes.
 * @example encodeSec1(d, pub65)
 */
export function encodeSec1(d: Uint8Array, publicKey: Uint8Array): Uint8Array {
  return derSequence(
    derInteger(1),
    derOctetString(d),
    derExplicit(0, derOid(KEY_OIDS.SM2)),
    derExplicit(1, derBitString(publicKey)),
  );
}

/**
 * Encode a PKCS#8 v1 PrivateKeyInfo as OpenSSL writes it: id-ecPublicKey + sm2, and an
 * inner ECPrivateKey without `[0]` (the curve is already named outside) but with `[1]`.
 * @example encodePkcs8(d, pub65)
 */
export function encodePkcs8(d: Uint8Array, publicKey: Uint8Array): Uint8Array {
  const inner = derSequence(derInteger(1), derOctetString(d), derExplicit(1, derBitString(publicKey)));
  return derSequence(derInteger(0), sm2AlgorithmIdentifier(), derOctetString(inner));
}

/**
 * Parse a SubjectPublicKeyInfo with an SM2 key; returns the SEC 1 point bytes (unchecked).
 * @example const point = parseSpki(der);
 */
export function parseSpki(der: Uint8Array): Uint8Array {
  const top = decodeTop(der, 'parseSpki');
  if (top.tag !== DER_TAG.SEQUENCE) keyFormat('SubjectPublicKeyInfo is not a SEQUENCE');
  const kids = derReadSequence(top, 2);
  checkSm2Algorithm(kids[0]);
  if (kids[1].tag !== DER_TAG.BIT_STRING) keyFormat('subjectPublicKey is not a BIT STRING');
  return derReadBitString(kids[1]).bytes;
}

/**
 * Encode a SubjectPublicKeyInfo (RFC 5480) for an SM2 point.
 * @example encodeSpki(pub65)
 */
export function encodeSpki(publicKey: Uint8Array): Uint8Array {
  return derSequence(sm2AlgorithmIdentifier(), derBitString(publicKey));
}

/** The parameters of a PBES2 EncryptedPrivateKeyInfo with PBKDF2 and SM4-CBC. */
export interface Pbes2Params {
  salt: Uint8Array;
  iterations: number;
  /** Derived key length if stated; SM4 needs 16. */
  keyLength?: number;
  /** The PRF OID (one of the hmacWithSM3 OIDs). */
  prf: string;
  iv: Uint8Array;
  ciphertext: Uint8Array;
}

/** Upper bound on PBKDF2 iterations read from a file, so a hostile file cannot hang us (≈ minutes of CPU otherwise). */
export const PBKDF2_MAX_ITERATIONS = 10_000_000;

/**
 * Parse an EncryptedPrivateKeyInfo (RFC 5958 §3) using PBES2 (RFC 8018 §6.2) with PBKDF2
 * and SM4-CBC. Other schemes are `CRYPTO_ERR_UNSUPPORTED`.
 * @example const p = parseEncryptedPkcs8(der); // then derive and decrypt
 */
export function parseEncryptedPkcs8(der: Uint8Array): Pbes2Params {
  const top = decodeTop(der, 'parseEncryptedPkcs8');
  if (top.tag !== DER_TAG.SEQUENCE) keyFormat('EncryptedPrivateKeyInfo is not a SEQUENCE');
  const [alg, data] = derReadSequence(top, 2);
  const [algOid, pbes2] = derReadSequence(alg, 2);
  const scheme = derReadOid(algOid);
  if (scheme !== KEY_OIDS.PBES2) throw new CryptoError('CRYPTO_ERR_UNSUPPORTED', `encryption scheme ${scheme} is not PBES2`);
  const [kdf, enc] = derReadSequence(pbes2, 2);
  const [kdfOid, kdfParams] = derReadSequence(kdf, 2);
  const kdfName = derReadOid(kdfOid);
  if (kdfName !== KEY_OIDS.PBKDF2) throw new CryptoError('CRYPTO_ERR_UNSUPPORTED', `key derivation ${kdfName} is not PBKDF2`);
  const pk = derReadSequence(kdfParams, [2, 4]);
  if (pk[0].tag !== DER_TAG.OCTET_STRING) throw new CryptoError('CRYPTO_ERR_UNSUPPORTED', 'PBKDF2 salt from otherSource is not supported');
  const salt = derReadOctetString(pk[0]);
  const iterations = derReadSmallInteger(pk[1], Number.MAX_SAFE_INTEGER);
  if (iterations < 1) keyFormat('PBKDF2 iteration count is 0');
  if (iterations > PBKDF2_MAX_ITERATIONS) throw new CryptoError('CRYPTO_ERR_UNSUPPORTED', `PBKDF2 iteration count ${iterations} exceeds ${PBKDF2_MAX_ITERATIONS}`);
  let keyLength: number | undefined;
  let prf: string = KEY_OIDS.HMAC_SHA1;
  for (const el of pk.slice(2)) {
    if (el.tag === DER_TAG.INTEGER && keyLength === undefined && prf === KEY_OIDS.HMAC_SHA1) {
      keyLength = derReadSmallInteger(el, 1024);
    } else if (el.tag === DER_TAG.SEQUENCE && prf === KEY_OIDS.HMAC_SHA1) {
      const p = derReadSequence(el, [1, 2]);
      prf = derReadOid(p[0]);
      // derDecode already checked that a NULL is empty.
      if (p.length === 2 && p[1].tag !== DER_TAG.NULL) keyFormat('PRF parameters must be NULL');
    } else {
      keyFormat('unexpected element in PBKDF2-params');
    }
  }
  if (prf !== KEY_OIDS.HMAC_SM3 && prf !== KEY_OIDS.HMAC_SM3_ALT) {
    // OpenSSL 3.0 writes hmacWithSHA256 (1.2.840.113549.2.9) even for `-v2 sm4-cbc`.
    throw new CryptoError(
      'CRYPTO_ERR_UNSUPPORTED',
      `PBKDF2 PRF ${prf} is not hmacWithSM3 (only SM algorithms are supported); decrypt the key first, e.g. \`openssl pkcs8 -in key.pem -out plain.pem\``,
    );
  }
  if (keyLength !== undefined && keyLength !== 16) keyFormat(`PBKDF2 key length ${keyLength} does not fit SM4`);
  const [encOid, ivEl] = derReadSequence(enc, 2);
  const cipher = derReadOid(encOid);
  if (cipher !== KEY_OIDS.SM4_CBC) throw new CryptoError('CRYPTO_ERR_UNSUPPORTED', `cipher ${cipher} is not SM4-CBC`);
  if (ivEl.tag !== DER_TAG.OCTET_STRING) keyFormat('SM4-CBC parameters are not an OCTET STRING IV');
  const iv = derReadOctetString(ivEl);
  if (iv.length !== 16) keyFormat(`SM4-CBC IV has ${iv.length} bytes`);
  if (data.tag !== DER_TAG.OCTET_STRING) keyFormat('encryptedData is not an OCTET STRING');
  const ciphertext = derReadOctetString(data);
  if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) keyFormat('encryptedData is not a whole number of SM4 blocks');
  return keyLength === undefined ? { salt, iterations, prf, iv, ciphertext } : { salt, iterations, keyLength, prf, iv, ciphertext };
}

/**
 * Encode an EncryptedPrivateKeyInfo with PBES2 = PBKDF2(hmacWithSM3) + SM4-CBC.
 * @example encodeEncryptedPkcs8({ salt, iterations, iv, ciphertext })
 */
export function encodeEncryptedPkcs8(p: { salt: Uint8Array; iterations: number; iv: Uint8Array; ciphertext: Uint8Array }): Uint8Array {
  const kdf = derSequence(
    derOid(KEY_OIDS.PBKDF2),
    derSequence(derOctetString(p.salt), derInteger(p.iterations), derSequence(derOid(KEY_OIDS.HMAC_SM3), derNull())),
  );
  const enc = derSequence(derOid(KEY_OIDS.SM4_CBC), derOctetString(p.iv));
  return derSequence(derSequence(derOid(KEY_OIDS.PBES2), derSequence(kdf, enc)), derOctetString(p.ciphertext));
}
