/**
 * The one place this package meets `@xiangan/crypto`'s SM2/SM3/SM4 API, so the rest of the
 * package deals in bytes and `Sm2Key`.
 */
import {
  CryptoError,
  Sm2PrivateKey,
  Sm2PublicKey,
  sm2Decrypt,
  sm2Encrypt,
  sm2Sign,
  sm2Verify,
  sm3,
  sm4CbcDecrypt as cbcDecrypt,
  sm4CbcEncrypt as cbcEncrypt,
} from '@xiangan/crypto';
import { PkiError } from './errors.js';

/** An SM2 private key (from `@xiangan/crypto`). */
export type Sm2Key = Sm2PrivateKey;
export { Sm2PrivateKey, Sm2PublicKey, sm3 };

/**
 * Uncompressed public point (04||x||y) of a private key.
 * @example sm2PublicPoint(key).length // 65
 */
export function sm2PublicPoint(key: Sm2Key): Uint8Array {
  if (!(key instanceof Sm2PrivateKey)) throw new TypeError('expected an Sm2PrivateKey');
  return key.publicKey.toBytes('uncompressed');
}

/**
 * SM2-with-SM3 signature, DER `SEQUENCE { r, s }`; `id` defaults to 1234567812345678 (GM/T 0009-2012 §10).
 * @example sm2SignDer(key, tbs)
 */
export function sm2SignDer(key: Sm2Key, msg: Uint8Array, id?: Uint8Array): Uint8Array {
  return sm2Sign(key, msg, { format: 'der', id });
}

/**
 * Verify an SM2-with-SM3 DER signature (default ID unless `id`); false for an invalid point or signature.
 * @example sm2VerifyDer(point, tbs, sig) // boolean
 */
export function sm2VerifyDer(point: Uint8Array, msg: Uint8Array, sig: Uint8Array, id?: Uint8Array): boolean {
  let pub: Sm2PublicKey;
  try {
    pub = Sm2PublicKey.fromBytes(point);
  } catch (e) {
    if (e instanceof CryptoError) return false;
    throw e;
  }
  return sm2Verify(pub, msg, sig, { format: 'der', id });
}

/**
 * SM2 encryption to a public point, GM/T 0009-2012 §7.2 ASN.1 form (as GM/T 0010 and OpenSSL use in CMS).
 * @example sm2EncryptDer(recipientPoint, cek)
 */
export function sm2EncryptDer(point: Uint8Array, pt: Uint8Array): Uint8Array {
  let pub: Sm2PublicKey;
  try {
    pub = Sm2PublicKey.fromBytes(point);
  } catch (e) {
    throw new PkiError('PKI_ERR_ASN1', 'recipient SM2 public key is not a valid point', { cause: e });
  }
  return sm2Encrypt(pub, pt, { encoding: 'der' });
}

/**
 * SM2 decryption of the GM/T 0009 ASN.1 form; failures are `PKI_ERR_CMS_DECRYPT`.
 * @example sm2DecryptDer(key, encryptedKey)
 */
export function sm2DecryptDer(key: Sm2Key, ct: Uint8Array): Uint8Array {
  try {
    return sm2Decrypt(key, ct, { encoding: 'der' });
  } catch (e) {
    if (e instanceof CryptoError) throw new PkiError('PKI_ERR_CMS_DECRYPT', e.message, { cause: e });
    throw e;
  }
}

/**
 * SM4-CBC with PKCS#7 padding (GM/T 0010 §8 content encryption).
 * @example sm4CbcEncrypt(cek, iv, content)
 */
export function sm4CbcEncrypt(key: Uint8Array, iv: Uint8Array, pt: Uint8Array): Uint8Array {
  return cbcEncrypt(key, iv, pt, { padding: 'pkcs7' });
}

/**
 * SM4-CBC decryption; bad padding or length is `PKI_ERR_CMS_DECRYPT`.
 * @example sm4CbcDecrypt(cek, iv, ciphertext)
 */
export function sm4CbcDecrypt(key: Uint8Array, iv: Uint8Array, ct: Uint8Array): Uint8Array {
  try {
    return cbcDecrypt(key, iv, ct, { padding: 'pkcs7' });
  } catch (e) {
    if (e instanceof CryptoError) throw new PkiError('PKI_ERR_CMS_DECRYPT', e.message, { cause: e });
    throw e;
  }
}
