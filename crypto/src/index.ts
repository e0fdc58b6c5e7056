/**
 * `@xiangan/crypto`: SM2, SM3, SM4, HMAC-SM3 and KDFs. Bytes in, bytes out.
 * @packageDocumentation
 */
export * from './errors.js';
export * from './bytes.js';
export * from './der.js';
export * from './pem.js';
