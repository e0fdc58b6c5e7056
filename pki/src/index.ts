/**
 * `@xiangan/pki`: X.509 certificates, PKCS#10 requests, CRLs, path validation, OCSP and
 * CMS with SM2/SM3/SM4, plus a small CA kept in a directory. Bytes in, bytes out.
 *
 * @example
 * import { X509Certificate, validatePath } from '@xiangan/pki';
 * const r = validatePath(X509Certificate.fromPem(leafPem), { trustAnchors: [root], intermediates: [ica], time: new Date() });
 * @packageDocumentation
 */
export * from './errors.js';
export { assertDer } from './der.js';
export { OID, NAME_ATTRS } from './oids.js';
export { buildName, nameAttributes, nameToString, namesEqual, type NameAttribute, type NameInput } from './name.js';
export {
  buildExtensions,
  parseExtensions,
  EKU,
  type AltNames,
  type ExtensionOptions,
  type KeyUsageName,
  type ParsedExtensions,
} from './extensions.js';
export {
  keyIdentifier,
  nodeSigner,
  parsePublicKey,
  sm2Signer,
  sm2Spki,
  SM2_DEFAULT_ID,
  SM2_OPENSSL_EMPTY_ID,
  verifySignature,
  type PublicKeyInfo,
  type PublicKeyKind,
  type SignatureOptions,
  type Signer,
} from './sigalg.js';
export { X509Certificate, createCertificate, parseCertificates, randomSerial, type CertificateOptions } from './x509.js';
export { CertificateRequest, createCsr, type CsrOptions } from './csr.js';
export { CertificateRevocationList, createCrl, REVOCATION_REASONS, type CrlOptions, type RevocationReason, type RevokedEntry } from './crl.js';
export { SignatureCache, validatePath, type Purpose, type ValidationOptions, type ValidationResult } from './validate.js';
export * from './ocsp.js';
export * from './cms.js';
export { CertificateAuthority, PROFILES, writeFileAtomic, type CaInitOptions, type Profile } from './ca.js';
export { decodePem, derOrPem } from './pem.js';
