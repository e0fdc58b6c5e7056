/**
 * JSON Web Keys for SM2 (RFC 7517, EC key type of RFC 7518 §6.2 with `crv: "SM2"`):
 * `x`, `y` and `d` are base64url without padding, each exactly 32 bytes (RFC 7518 §6.2.1.2
 * requires the full coordinate length, so leading zeros are kept).
 * @example
 * const { x, y, d } = parseSm2Jwk({ kty: 'EC', crv: 'SM2', x: '…', y: '…' });
 */
import { CryptoError } from '../errors.js';
import { base64ToBytes, bytesToBase64, concatBytes } from '../bytes.js';

/** An SM2 JWK. Other members (`kid`, `use`, `key_ops`, …) pass through untouched. */
export interface Sm2Jwk {
  kty: 'EC';
  crv: 'SM2';
  x: string;
  y: string;
  d?: string;
  [member: string]: unknown;
}

function jwkError(msg: string): never {
  throw new CryptoError('CRYPTO_ERR_KEY_FORMAT', `JWK: ${msg}`);
}

/** Strict unpadded base64url (RFC 7515 §2 / RFC 4648 §5) of exactly `len` bytes. */
function b64urlField(jwk: Record<string, unknown>, name: string, len: number): Uint8Array {
  const v = jwk[name];
  if (typeof v !== 'string') jwkError(`'${name}' is not a string`);
  if (!/^[A-Za-z0-9_-]*$/.test(v)) jwkError(`'${name}' is not unpadded base64url`);
  if (v.length !== Math.ceil((len * 4) / 3)) jwkError(`'${name}' does not encode ${len} bytes`);
  const bytes = base64ToBytes(v);
  // Reject non-canonical encodings (non-zero pad bits) by re-encoding.
  if (bytesToBase64(bytes, true) !== v) jwkError(`'${name}' is not canonical base64url`);
  return bytes;
}

/**
 * Parse an SM2 JWK (object or JSON text). Returns the uncompressed point `04‖x‖y` and,
 * for a private JWK, `d`. The point is not checked here; key import does that.
 * @example const { publicKey, d } = parseSm2Jwk(jwkJson);
 */
export function parseSm2Jwk(input: unknown): { publicKey: Uint8Array; d?: Uint8Array } {
  let jwk: unknown = input;
  if (typeof input === 'string') {
    try {
      jwk = JSON.parse(input);
    } catch {
      jwkError('not valid JSON');
    }
  }
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) jwkError('not a JSON object');
  const o = jwk as Record<string, unknown>;
  if (o.kty !== 'EC') {
    if (typeof o.kty === 'string') throw new CryptoError('CRYPTO_ERR_UNSUPPORTED', `JWK kty '${o.kty}' is not EC`);
    jwkError("missing 'kty'");
  }
  if (o.crv !== 'SM2') {
    if (typeof o.crv === 'string') throw new CryptoError('CRYPTO_ERR_UNSUPPORTED', `JWK crv '${o.crv}' is not SM2`);
    jwkError("missing 'crv'");
  }
  const x = b64urlField(o, 'x', 32);
  const y = b64urlField(o, 'y', 32);
  const publicKey = concatBytes(Uint8Array.of(4), x, y);
  if (o.d === undefined) return { publicKey };
  return { publicKey, d: b64urlField(o, 'd', 32) };
}

/**
 * Build an SM2 JWK from an uncompressed point and optionally `d` (32 bytes each).
 * @example encodeSm2Jwk(pub65) // { kty: 'EC', crv: 'SM2', x, y }
 */
export function encodeSm2Jwk(publicKey: Uint8Array, d?: Uint8Array): Sm2Jwk {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 65 || publicKey[0] !== 4) {
    throw new RangeError('encodeSm2Jwk: expected a 65-byte uncompressed point');
  }
  const jwk: Sm2Jwk = {
    kty: 'EC',
    crv: 'SM2',
    x: bytesToBase64(publicKey.subarray(1, 33), true),
    y: bytesToBase64(publicKey.subarray(33), true),
  };
  if (d !== undefined) {
    if (!(d instanceof Uint8Array) || d.length !== 32) throw new RangeError('encodeSm2Jwk: d must be 32 bytes');
    jwk.d = bytesToBase64(d, true);
  }
  return jwk;
}
