/**
 * `@xiangan/crypto/node`: Node-only helpers — SM3/HMAC-SM3 and SM4 as `node:stream` Transforms.
 * The main entry point never imports `node:*`, so it also runs in browsers.
 */
import { Transform, type TransformCallback } from 'node:stream';
import {
  createSm4CbcDecrypt,
  createSm4CbcEncrypt,
  createSm4CtrCipher,
  createSm4GcmDecrypt,
  createSm4GcmEncrypt,
  type Sm4AeadOptions,
  type Sm4PaddingOptions,
  type Sm4StreamCipher,
} from './sm4/index.js';

/** Wraps an {@link Sm4StreamCipher} as a Transform; errors (bad tag, bad padding) become stream errors. */
function cipherTransform(make: () => Sm4StreamCipher): Transform {
  let cipher: Sm4StreamCipher | undefined;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
      try {
        cipher ??= make();
        const out = cipher.update(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        cb(null, out.length ? out : undefined);
      } catch (e) {
        cb(e as Error);
      }
    },
    flush(cb: TransformCallback): void {
      try {
        cipher ??= make();
        const out = cipher.final();
        cb(null, out.length ? out : undefined);
      } catch (e) {
        cb(e as Error);
      }
    },
  });
}

/**
 * SM4-CTR as a Transform (encryption and decryption are the same).
 * @example
 * import { pipeline } from 'node:stream/promises';
 * await pipeline(createReadStream('in'), createSm4CtrStream(key, iv), createWriteStream('out'));
 */
export function createSm4CtrStream(key: Uint8Array, iv: Uint8Array): Transform {
  const c = createSm4CtrCipher(key, iv);
  return cipherTransform(() => c);
}

/** SM4-CBC encryption as a Transform. @example src.pipe(createSm4CbcEncryptStream(key, iv, { padding: 'pkcs7' })) */
export function createSm4CbcEncryptStream(key: Uint8Array, iv: Uint8Array, opts: Sm4PaddingOptions): Transform {
  const c = createSm4CbcEncrypt(key, iv, opts);
  return cipherTransform(() => c);
}

/** SM4-CBC decryption as a Transform; bad padding emits a `CRYPTO_ERR_INVALID_PADDING` error. @example src.pipe(createSm4CbcDecryptStream(key, iv, { padding: 'pkcs7' })) */
export function createSm4CbcDecryptStream(key: Uint8Array, iv: Uint8Array, opts: Sm4PaddingOptions): Transform {
  const c = createSm4CbcDecrypt(key, iv, opts);
  return cipherTransform(() => c);
}

/** SM4-GCM encryption as a Transform: emits ciphertext, then the tag at the end. @example src.pipe(createSm4GcmEncryptStream(key, nonce, { aad })) */
export function createSm4GcmEncryptStream(key: Uint8Array, nonce: Uint8Array, opts?: Sm4AeadOptions): Transform {
  const c = createSm4GcmEncrypt(key, nonce, opts);
  return cipherTransform(() => c);
}

/**
 * SM4-GCM decryption of ciphertext ‖ tag as a Transform. Emits the plaintext only at the end,
 * after the tag checked; a bad tag emits a `CRYPTO_ERR_AUTH_TAG` error and no data.
 * @example src.pipe(createSm4GcmDecryptStream(key, nonce, { aad }))
 */
export function createSm4GcmDecryptStream(key: Uint8Array, nonce: Uint8Array, opts?: Sm4AeadOptions): Transform {
  const c = createSm4GcmDecrypt(key, nonce, opts);
  return cipherTransform(() => c);
}
