/**
 * Encrypted PKCS#8 (RFC 5958 §3 EncryptedPrivateKeyInfo) with PBES2 (RFC 8018 §6.2):
 * the key is PBKDF2-HMAC-SM3 of the passphrase (RFC 8018 §5.2) and the PrivateKeyInfo is
 * encrypted with SM4-CBC and PKCS#7 padding (RFC 8018 §6.2.1 step 4 / RFC 5652 §6.3).
 *
 * A wrong passphrase normally shows as bad padding or a plaintext that is not a
 * PrivateKeyInfo; both are reported the same way, `CRYPTO_ERR_KEY_DECRYPT`, so the error
 * does not say which (a padding oracle is of no use against a key file, but there is no
 * reason to offer one).
 * @example
 * const enc = encryptPkcs8(pkcs8Der, 'passphrase');
 * const plain = decryptPkcs8(enc, 'passphrase');
 */
import { CryptoError } from '../errors.js';
import { abytes, randomBytes, utf8ToBytes, wipe } from '../bytes.js';
import { derDecode } from '../der.js';
import { pbkdf2HmacSm3 } from '../kdf.js';
import { sm4CbcDecrypt, sm4CbcEncrypt } from '../sm4/index.js';
import { encodeEncryptedPkcs8, parseEncryptedPkcs8, PBKDF2_MAX_ITERATIONS } from './asn1.js';

/**
 * Default PBKDF2 iteration count for keys we write. OpenSSL 3.0 defaults to 2048, far below
 * current advice (OWASP suggests ≥ 600 000 for HMAC-SHA-256); 100 000 HMAC-SM3 iterations
 * cost an attacker 50× more per guess while loading a key stays an interactive-speed,
 * once-per-process cost. Callers with stricter needs pass `iterations`.
 */
export const PBKDF2_DEFAULT_ITERATIONS = 100_000;

/** Options for writing an encrypted key. */
export interface EncryptKeyOptions {
  /** PBKDF2 iterations, 1 … {@link PBKDF2_MAX_ITERATIONS}; default {@link PBKDF2_DEFAULT_ITERATIONS}. */
  iterations?: number;
  /** Salt (8–64 bytes); random 16 bytes by default. For tests only. */
  salt?: Uint8Array;
  /** IV (16 bytes); random by default. For tests only. */
  iv?: Uint8Array;
}

function passBytes(passphrase: string | Uint8Array, what: string): Uint8Array {
  if (typeof passphrase === 'string') return utf8ToBytes(passphrase);
  abytes(passphrase, `${what}: passphrase`);
  return passphrase.slice();
}

/**
 * Encrypt a PKCS#8 PrivateKeyInfo DER into an EncryptedPrivateKeyInfo DER.
 * @example encryptPkcs8(sm2PrivateKeyToPkcs8(key), 'pw', { iterations: 200_000 })
 */
export function encryptPkcs8(pkcs8: Uint8Array, passphrase: string | Uint8Array, opts: EncryptKeyOptions = {}): Uint8Array {
  abytes(pkcs8, 'encryptPkcs8');
  const iterations = opts.iterations ?? PBKDF2_DEFAULT_ITERATIONS;
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > PBKDF2_MAX_ITERATIONS) {
    throw new RangeError(`encryptPkcs8: iterations must be 1..${PBKDF2_MAX_ITERATIONS}`);
  }
  const salt = opts.salt ?? randomBytes(16);
  abytes(salt, 'encryptPkcs8: salt');
  if (salt.length < 8 || salt.length > 64) throw new RangeError('encryptPkcs8: salt must be 8..64 bytes (RFC 8018 §4.1: at least 8)');
  const iv = opts.iv ?? randomBytes(16);
  abytes(iv, 'encryptPkcs8: iv', 16);
  const pw = passBytes(passphrase, 'encryptPkcs8');
  const key = pbkdf2HmacSm3(pw, salt, iterations, 16);
  try {
    const ciphertext = sm4CbcEncrypt(key, iv, pkcs8, { padding: 'pkcs7' });
    return encodeEncryptedPkcs8({ salt, iterations, iv, ciphertext });
  } finally {
    wipe(pw, key);
  }
}

/**
 * Decrypt an EncryptedPrivateKeyInfo DER to the PrivateKeyInfo DER inside. A wrong
 * passphrase or corrupt ciphertext is `CRYPTO_ERR_KEY_DECRYPT`; another scheme than
 * PBES2/PBKDF2-HMAC-SM3/SM4-CBC is `CRYPTO_ERR_UNSUPPORTED`.
 * @example const pkcs8 = decryptPkcs8(der, 'pw');
 */
export function decryptPkcs8(encrypted: Uint8Array, passphrase: string | Uint8Array): Uint8Array {
  abytes(encrypted, 'decryptPkcs8');
  const p = parseEncryptedPkcs8(encrypted);
  const pw = passBytes(passphrase, 'decryptPkcs8');
  const key = pbkdf2HmacSm3(pw, p.salt, p.iterations, 16);
  let plain: Uint8Array;
  try {
    plain = sm4CbcDecrypt(key, p.iv, p.ciphertext, { padding: 'pkcs7' });
  } catch (e) {
    throw new CryptoError('CRYPTO_ERR_KEY_DECRYPT', 'could not decrypt the private key (wrong passphrase or corrupt data)', { cause: e });
  } finally {
    wipe(pw, key);
  }
  try {
    derDecode(plain);
  } catch (e) {
    wipe(plain);
    throw new CryptoError('CRYPTO_ERR_KEY_DECRYPT', 'could not decrypt the private key (wrong passphrase or corrupt data)', { cause: e });
  }
  return plain;
}
