/**
 * The crypto service (KMS): managed SM2/SM4/HMAC-SM3 keys over HTTP.
 * @packageDocumentation
 */
export { KmsError, KMS_ERROR_CODES, KMS_ERROR_STATUS, type KmsErrorCode } from './errors.js';
export { KmsStore, KMS_KEY_TYPES, deriveKek, type KmsKeyType, type KmsKeyMeta, type KmsStoreOptions, type MasterSecret } from './store.js';
export {
  KmsService, KMS_OPERATIONS, envelope, parseEnvelope, verifyResult, verifyResultAsync,
  type KmsOperation, type KmsCaller, type KmsPolicy, type KmsAuditRecord, type KmsServiceOptions, type KmsKeyInfo, type KmsSignOptions, type KmsIssuer, type KmsValidateRequest, type KmsValidateResult,
} from './service.js';
export { kmsRoutes, type KmsRoutesOptions } from './routes.js';
export { Sm2Pool, defaultKmsWorkers } from './pool.js';
export { fetchOcspForPath, type OcspFetchReport } from './ocsp-fetch.js';
