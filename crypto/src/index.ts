/**
 * `@xiangan/crypto`: SM2, SM3, SM4, HMAC-SM3 and KDFs. Bytes in, bytes out.
 * @packageDocumentation
 */
export * from './errors.js';
export * from './bytes.js';
export * from './der.js';
export * from './pem.js';
export { sm3, Sm3, type Sm3Hash } from './sm3.js';
export { sm3Many, sm3ManyInto, sm3ManyPackedInto, sm3ManyRef } from './sm3-many.js';
export { hmacSm3, createHmacSm3, HmacSm3 } from './hmac.js';
export { sm2Kdf, pbkdf2HmacSm3, hkdfSm3 } from './kdf.js';
export * from './sm4/index.js';
export { ready } from './wasm/load.js';
export * from './keys/index.js';
export {
  Sm2PrivateKey, Sm2PublicKey, Sm2KeyExchange, sm2Za, sm2Sign, sm2Verify, sm2SignDigest, sm2VerifyDigest, sm2Encrypt, sm2Decrypt,
  SM2_MAX_ID_BYTES,
  type Sm2SignOptions, type Sm2SignDigestOptions, type Sm2SignatureFormat, type Sm2EncryptOptions, type Sm2DecryptOptions,
  type Sm2CipherOrder, type Sm2KeyExchangeOptions, type Sm2KeyExchangePeer, type Sm2KeyExchangeResult,
} from './sm2/index.js';
