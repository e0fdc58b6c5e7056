/**
 * `@xiangan/crypto`: SM2, SM3, SM4, HMAC-SM3 and KDFs. Bytes in, bytes out.
 * @packageDocumentation
 */
export * from './errors.js';
export * from './bytes.js';
export * from './der.js';
export * from './pem.js';
export { sm3, Sm3, type Sm3Hash } from './sm3.js';
export { hmacSm3, createHmacSm3, HmacSm3 } from './hmac.js';
export { sm2Kdf, pbkdf2HmacSm3, hkdfSm3 } from './kdf.js';
export * from './sm4/index.js';
export { ready } from './wasm/load.js';
export * from './keys/index.js';
