/**
 * Errors of the crypto service (KMS). Bad data or a refused call throws {@link KmsError} with a
 * stable code; at the HTTP edge each code maps to a status ({@link KMS_ERROR_STATUS}).
 *
 * @example
 * try { kms.decrypt(app, 'orders', ct); }
 * catch (e) { if (e instanceof KmsError && e.code === 'SOC_ERR_KMS_CIPHERTEXT') reply.code(400); }
 */
export class KmsError extends Error {
  override readonly name = 'KmsError';
  /** Stable machine-readable code, e.g. `SOC_ERR_KMS_DENIED`. */
  readonly code: KmsErrorCode;
  constructor(code: KmsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** Every code {@link KmsError} can carry, with its meaning (documented in docs/errors.md). */
export const KMS_ERROR_CODES = {
  SOC_ERR_KMS_MASTER_SECRET: 'the master secret does not match the key-check value of the key store (the service refuses to start)',
  SOC_ERR_KMS_STORE: 'the key store cannot be opened, read or written, or a stored key fails authentication',
  SOC_ERR_KMS_UNAUTHENTICATED: 'a KMS call carried no application token or bound client certificate, an unknown one, or a revoked one (HTTP 401)',
  SOC_ERR_KMS_DENIED: "the application's policy does not allow this operation on this key (HTTP 403)",
  SOC_ERR_KMS_KEY_NOT_FOUND: 'no key, key version or application with this name (HTTP 404)',
  SOC_ERR_KMS_KEY_EXISTS: 'a key or application with this name exists already (HTTP 409)',
  SOC_ERR_KMS_KEY_STATE: 'the key is disabled, scheduled for destruction, or the version is below the minimum decryption version (HTTP 409)',
  SOC_ERR_KMS_KEY_TYPE: 'the operation does not apply to this key type, e.g. sign with an SM4 key (HTTP 400)',
  SOC_ERR_KMS_NOT_EXPORTABLE: 'export was asked for a key not marked exportable (HTTP 403)',
  SOC_ERR_KMS_CIPHERTEXT: 'a ciphertext envelope is malformed, names a wrong key version, or fails authentication (HTTP 400)',
  SOC_ERR_KMS_REQUEST: 'a request field is missing or malformed (bad base64, unknown option) (HTTP 400)',
  SOC_ERR_KMS_BACKUP: 'a backup blob is malformed or fails authentication under the master secret (HTTP 400)',
  SOC_ERR_KMS_AUDIT: "the call's audit event could not be committed to the SOC buffer (full or failing), so the answer is withheld (HTTP 503)",
} as const;

/** A code of {@link KMS_ERROR_CODES}. */
export type KmsErrorCode = keyof typeof KMS_ERROR_CODES;

/** HTTP status of each code. */
export const KMS_ERROR_STATUS: Record<KmsErrorCode, number> = {
  SOC_ERR_KMS_MASTER_SECRET: 500,
  SOC_ERR_KMS_STORE: 500,
  SOC_ERR_KMS_UNAUTHENTICATED: 401,
  SOC_ERR_KMS_DENIED: 403,
  SOC_ERR_KMS_KEY_NOT_FOUND: 404,
  SOC_ERR_KMS_KEY_EXISTS: 409,
  SOC_ERR_KMS_KEY_STATE: 409,
  SOC_ERR_KMS_KEY_TYPE: 400,
  SOC_ERR_KMS_NOT_EXPORTABLE: 403,
  SOC_ERR_KMS_CIPHERTEXT: 400,
  SOC_ERR_KMS_REQUEST: 400,
  SOC_ERR_KMS_BACKUP: 400,
  SOC_ERR_KMS_AUDIT: 503,
};
