/**
 * Errors of `@xiangan/crypto`.
 *
 * Misuse (wrong argument type or length) throws `TypeError`/`RangeError`.
 * Failures of data (a bad signature encoding, an off-curve point, a wrong tag)
 * throw {@link CryptoError} with a stable `code` listed in `docs/errors.md`.
 *
 * @example
 * try { sm2Decrypt(key, ct); } catch (e) { if (e instanceof CryptoError && e.code === 'CRYPTO_ERR_SM2_DECRYPT') … }
 */
export class CryptoError extends Error {
  override readonly name = 'CryptoError';
  /** Stable machine-readable code, e.g. `CRYPTO_ERR_SM2_INVALID_POINT`. */
  readonly code: CryptoErrorCode;
  constructor(code: CryptoErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Every code `CryptoError` can carry, with its meaning. `docs/errors.md` is kept
 * in sync with this table by a test: add a code here and document it there.
 */
export const CRYPTO_ERROR_CODES = {
  CRYPTO_ERR_INVALID_ENCODING: 'input text is not valid hex/base64/PEM',
  CRYPTO_ERR_INVALID_PADDING: 'PKCS#7 padding is malformed after decryption',
  CRYPTO_ERR_AUTH_TAG: 'authentication tag (GCM/CCM) or MAC does not match; no plaintext released',
  CRYPTO_ERR_SM2_INVALID_POINT: 'an SM2 public key or ciphertext point is not a valid curve point of order n',
  CRYPTO_ERR_SM2_INVALID_PRIVATE_KEY: 'an SM2 private key is not in [1, n-2]',
  CRYPTO_ERR_SM2_INVALID_SIGNATURE: 'an SM2 signature is not a well-formed DER or raw r||s value',
  CRYPTO_ERR_SM2_DECRYPT: 'SM2 decryption failed (bad C1, all-zero KDF output or C3 mismatch)',
  CRYPTO_ERR_SM2_KEY_EXCHANGE: 'SM2 key exchange failed (invalid peer point or confirmation mismatch)',
  CRYPTO_ERR_ASN1: 'DER input is malformed or not the expected structure',
  CRYPTO_ERR_KEY_FORMAT: 'a key file (PKCS#8, SEC1, SPKI, JWK, PEM) is malformed or of an unsupported type',
  CRYPTO_ERR_KEY_DECRYPT: 'an encrypted PKCS#8 key could not be decrypted (wrong passphrase or corrupt data)',
  CRYPTO_ERR_UNSUPPORTED: 'the input uses an algorithm or parameter this library does not support',
  CRYPTO_ERR_RNG: 'no cryptographically secure random source is available',
} as const;

/** A code `CryptoError` can carry. */
export type CryptoErrorCode = keyof typeof CRYPTO_ERROR_CODES;
