/**
 * SM4 (GB/T 32907-2016) in every mode. The functions run on the WebAssembly kernel (constant-time,
 * SIMD) wherever WebAssembly exists and on the pure-TS reference otherwise.
 *
 * Keys are 16 bytes (XTS: 32 = key1 ‖ key2), IVs and counter blocks 16 bytes. No mode is a default,
 * ECB only under an `unsafe` name.
 */
import { wasmAvailable } from '../wasm/load.js';
import { makeSm4, type Sm4Suite } from './modes.js';
import { sm4RefKernel } from './ref.js';
import { sm4WasmKernel } from './wasm.js';
import type { Sm4Kernel } from './kernel.js';

export type { Sm4Padding, Sm4PaddingOptions, Sm4AeadOptions, Sm4XtsVariant, Sm4XtsOptions, Sm4StreamCipher, Sm4Suite } from './modes.js';
export type { Sm4Kernel } from './kernel.js';

/** The kernel in use: WebAssembly when available, else the reference. @example defaultSm4Kernel.name // 'wasm' */
export const defaultSm4Kernel: Sm4Kernel = wasmAvailable() ? sm4WasmKernel : sm4RefKernel;
const s: Sm4Suite = makeSm4(defaultSm4Kernel);

/**
 * ECB encryption — every block independently, so equal blocks give equal ciphertext. Only for
 * interoperability (e.g. single-block key wrapping of legacy systems).
 * @example unsafeSm4EcbEncrypt(key, data, { padding: 'pkcs7' })
 */
export const unsafeSm4EcbEncrypt: Sm4Suite['unsafeSm4EcbEncrypt'] = s.unsafeSm4EcbEncrypt;
/** ECB decryption (see {@link unsafeSm4EcbEncrypt}). @example unsafeSm4EcbDecrypt(key, ct, { padding: 'pkcs7' }) */
export const unsafeSm4EcbDecrypt: Sm4Suite['unsafeSm4EcbDecrypt'] = s.unsafeSm4EcbDecrypt;
/**
 * CBC encryption (GB/T 17964-2021). `padding: 'none'` requires whole blocks.
 * @example const ct = sm4CbcEncrypt(key, iv, utf8ToBytes('hi'), { padding: 'pkcs7' });
 */
export const sm4CbcEncrypt: Sm4Suite['sm4CbcEncrypt'] = s.sm4CbcEncrypt;
/**
 * CBC decryption; malformed PKCS#7 padding throws `CRYPTO_ERR_INVALID_PADDING`.
 * @example const pt = sm4CbcDecrypt(key, iv, ct, { padding: 'pkcs7' });
 */
export const sm4CbcDecrypt: Sm4Suite['sm4CbcDecrypt'] = s.sm4CbcDecrypt;
/**
 * CTR: `iv` is the initial counter block, incremented as a 128-bit big-endian integer (wraps).
 * Any length; encryption and decryption are the same operation.
 * @example const ct = sm4CtrEncrypt(key, counter0, data);
 */
export const sm4CtrEncrypt: Sm4Suite['sm4CtrEncrypt'] = s.sm4CtrEncrypt;
/** CTR decryption (same as {@link sm4CtrEncrypt}). @example sm4CtrDecrypt(key, counter0, ct) */
export const sm4CtrDecrypt: Sm4Suite['sm4CtrDecrypt'] = s.sm4CtrDecrypt;
/** CFB-128 encryption, any length. @example sm4CfbEncrypt(key, iv, data) */
export const sm4CfbEncrypt: Sm4Suite['sm4CfbEncrypt'] = s.sm4CfbEncrypt;
/** CFB-128 decryption. @example sm4CfbDecrypt(key, iv, ct) */
export const sm4CfbDecrypt: Sm4Suite['sm4CfbDecrypt'] = s.sm4CfbDecrypt;
/** OFB encryption, any length. @example sm4OfbEncrypt(key, iv, data) */
export const sm4OfbEncrypt: Sm4Suite['sm4OfbEncrypt'] = s.sm4OfbEncrypt;
/** OFB decryption (same as encryption). @example sm4OfbDecrypt(key, iv, ct) */
export const sm4OfbDecrypt: Sm4Suite['sm4OfbDecrypt'] = s.sm4OfbDecrypt;
/**
 * SM4-GCM (NIST SP 800-38D, RFC 8998). Returns **ciphertext ‖ tag** (tag `tagLength` bytes,
 * default 16; 4, 8, 12..16 allowed). The nonce should be 12 bytes (other lengths are hashed).
 * @example const sealed = sm4GcmEncrypt(key, nonce12, plaintext, { aad });
 */
export const sm4GcmEncrypt: Sm4Suite['sm4GcmEncrypt'] = s.sm4GcmEncrypt;
/**
 * SM4-GCM decryption of ciphertext ‖ tag. The tag is checked (constant time) before anything is
 * decrypted; a mismatch throws `CRYPTO_ERR_AUTH_TAG` and no plaintext is produced.
 * @example const pt = sm4GcmDecrypt(key, nonce12, sealed, { aad });
 */
export const sm4GcmDecrypt: Sm4Suite['sm4GcmDecrypt'] = s.sm4GcmDecrypt;
/**
 * SM4-CCM (NIST SP 800-38C, RFC 8998): nonce 7..13 bytes, tag 4..16 even bytes (default 16).
 * Returns **ciphertext ‖ tag**.
 * @example const sealed = sm4CcmEncrypt(key, nonce12, plaintext, { aad, tagLength: 16 });
 */
export const sm4CcmEncrypt: Sm4Suite['sm4CcmEncrypt'] = s.sm4CcmEncrypt;
/**
 * SM4-CCM decryption; a wrong tag throws `CRYPTO_ERR_AUTH_TAG` and the plaintext is wiped.
 * @example const pt = sm4CcmDecrypt(key, nonce12, sealed, { aad });
 */
export const sm4CcmDecrypt: Sm4Suite['sm4CcmDecrypt'] = s.sm4CcmDecrypt;
/**
 * SM4-XTS with ciphertext stealing. `key` is key1 ‖ key2 (32 bytes), `tweak` 16 bytes, data ≥ 16
 * bytes. `variant: 'gb'` (default) follows GB/T 17964-2021, `'ieee'` IEEE 1619.
 * @example const ct = sm4XtsEncrypt(key32, sectorTweak, sector, { variant: 'gb' });
 */
export const sm4XtsEncrypt: Sm4Suite['sm4XtsEncrypt'] = s.sm4XtsEncrypt;
/** SM4-XTS decryption. @example sm4XtsDecrypt(key32, sectorTweak, ct) */
export const sm4XtsDecrypt: Sm4Suite['sm4XtsDecrypt'] = s.sm4XtsDecrypt;
/**
 * Streaming CTR (encrypt = decrypt): `update` returns as many bytes as it is given.
 * @example const c = createSm4CtrCipher(key, iv); const a = c.update(p1); const b = c.update(p2); c.final();
 */
export const createSm4CtrCipher: Sm4Suite['createSm4CtrCipher'] = s.createSm4CtrCipher;
/**
 * Streaming CBC encryption: `update` returns whole blocks, `final` the padded last block.
 * @example const c = createSm4CbcEncrypt(key, iv, { padding: 'pkcs7' }); concat(c.update(a), c.final())
 */
export const createSm4CbcEncrypt: Sm4Suite['createSm4CbcEncrypt'] = s.createSm4CbcEncrypt;
/**
 * Streaming CBC decryption: with PKCS#7 the last block is held back until `final`, which checks
 * and strips the padding.
 * @example const d = createSm4CbcDecrypt(key, iv, { padding: 'pkcs7' }); concat(d.update(ct), d.final())
 */
export const createSm4CbcDecrypt: Sm4Suite['createSm4CbcDecrypt'] = s.createSm4CbcDecrypt;
/**
 * Streaming SM4-GCM encryption: `update` returns ciphertext, `final` returns the tag — so the
 * concatenated output equals `sm4GcmEncrypt`'s ciphertext ‖ tag.
 * @example const e = createSm4GcmEncrypt(key, nonce, { aad }); const ct = e.update(p); const tag = e.final();
 */
export const createSm4GcmEncrypt: Sm4Suite['createSm4GcmEncrypt'] = s.createSm4GcmEncrypt;
/**
 * Streaming SM4-GCM decryption of ciphertext ‖ tag. To release no unauthenticated plaintext,
 * `update` buffers and returns nothing; `final` checks the tag and returns all the plaintext (or
 * throws `CRYPTO_ERR_AUTH_TAG`).
 * @example const d = createSm4GcmDecrypt(key, nonce, { aad }); d.update(sealed); const pt = d.final();
 */
export const createSm4GcmDecrypt: Sm4Suite['createSm4GcmDecrypt'] = s.createSm4GcmDecrypt;
