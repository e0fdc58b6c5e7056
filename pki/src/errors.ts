/**
 * Errors of `@xiangan/pki`.
 *
 * Misuse (a wrong argument type or range) throws `TypeError`/`RangeError`.
 * Failures of data (malformed DER, a bad signature, an expired certificate,
 * a corrupt CA directory) throw {@link PkiError} with a stable `code` listed
 * in `docs/errors.md`.
 *
 * @example
 * try { parseCertificate(der); } catch (e) { if (e instanceof PkiError && e.code === 'PKI_ERR_NOT_DER') … }
 */
export class PkiError extends Error {
  override readonly name = 'PkiError';
  /** Stable machine-readable code, e.g. `PKI_ERR_BAD_SIGNATURE`. */
  readonly code: PkiErrorCode;
  constructor(code: PkiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Every code `PkiError` (and a failed path validation) can carry, with its meaning.
 * `docs/errors.md` is kept in sync with this table by a test.
 * @example PKI_ERROR_CODES.PKI_ERR_REVOKED // 'a certificate is listed in a valid CRL of its issuer'
 */
export const PKI_ERROR_CODES = {
  PKI_ERR_ASN1: 'input is not well-formed DER of the expected ASN.1 structure',
  PKI_ERR_NOT_DER: 'input is valid BER but not the unique DER encoding (indefinite or long-form lengths, non-minimal integers, unsorted SET OF, encoded DEFAULT values)',
  PKI_ERR_PEM: 'PEM text is malformed or has an unexpected label',
  PKI_ERR_UNSUPPORTED_ALGORITHM: 'a signature, key or content-encryption algorithm is not supported',
  PKI_ERR_BAD_SIGNATURE: 'a signature (certificate, CSR, CRL, OCSP response or CMS signer) does not verify',
  PKI_ERR_EXPIRED: 'a certificate is past its notAfter at the validation time',
  PKI_ERR_NOT_YET_VALID: 'a certificate is before its notBefore at the validation time',
  PKI_ERR_KEY_USAGE: 'keyUsage does not allow the operation (certificate signing, CRL signing or the requested purpose)',
  PKI_ERR_EXT_KEY_USAGE: 'extKeyUsage does not include the requested purpose',
  PKI_ERR_NOT_CA: 'an issuing certificate lacks basicConstraints cA=TRUE',
  PKI_ERR_PATH_LEN: 'a basicConstraints pathLenConstraint is exceeded',
  PKI_ERR_UNKNOWN_ISSUER: 'no issuer (intermediate or trust anchor) matches a certificate issuer name',
  PKI_ERR_REVOKED: 'a certificate is listed in a valid CRL of its issuer',
  PKI_ERR_CRL_INVALID: 'a CRL is badly signed, expired, not yet valid or its issuer may not sign CRLs',
  PKI_ERR_REVOCATION_UNKNOWN: 'revocation checking was required but no usable CRL covers the certificate',
  PKI_ERR_UNKNOWN_CRITICAL_EXTENSION: 'a certificate carries a critical extension this library does not process',
  PKI_ERR_CMS: 'CMS content is structurally unusable (wrong content type, missing certificate or attribute)',
  PKI_ERR_CMS_DIGEST: 'the CMS message-digest attribute does not match the content',
  PKI_ERR_CMS_NO_RECIPIENT: 'no CMS recipient matches the given certificate',
  PKI_ERR_CMS_DECRYPT: 'CMS content-encryption key or content could not be decrypted',
  PKI_ERR_OCSP: 'an OCSP request or response is structurally unusable or answers a different certificate',
  PKI_ERR_KEY_MISMATCH: 'a private key does not match the public key it is used with',
  PKI_ERR_CA_STATE: 'the CA directory is missing, incomplete or corrupt',
  PKI_ERR_CA_EXISTS: 'a CA already exists in the directory',
  PKI_ERR_CA_PASSPHRASE: 'no passphrase for the CA private key was provided, or it does not decrypt the key',
  PKI_ERR_CA_UNKNOWN_SERIAL: 'the serial number was not issued by this CA',
  PKI_ERR_CA_PROFILE: 'a request does not fit the chosen issuance profile',
} as const;

/** A code `PkiError` can carry. */
export type PkiErrorCode = keyof typeof PKI_ERROR_CODES;
