/**
 * PEM input for PKI objects, through `@xiangan/crypto`'s strict RFC 7468 reader, with its
 * errors mapped to `PKI_ERR_PEM`.
 */
import { CryptoError, pemDecode } from '@xiangan/crypto';
import { PkiError } from './errors.js';

/**
 * The DER bytes of the single PEM block labelled one of `labels`.
 * @example decodePem(text, 'CERTIFICATE')
 */
export function decodePem(text: string, labels: string | readonly string[]): Uint8Array {
  if (typeof text !== 'string') throw new TypeError('PEM input must be a string');
  try {
    return pemDecode(text, labels).der;
  } catch (e) {
    if (e instanceof CryptoError) throw new PkiError('PKI_ERR_PEM', e.message, { cause: e });
    throw e;
  }
}

/**
 * Accept DER bytes or PEM text (file contents) for an object with the given PEM label(s).
 * @example derOrPem(fs.readFileSync(path), 'CERTIFICATE REQUEST')
 */
export function derOrPem(input: Uint8Array | string, labels: string | readonly string[]): Uint8Array {
  if (typeof input === 'string') return decodePem(input, labels);
  if (!(input instanceof Uint8Array)) throw new TypeError('expected DER bytes or PEM text');
  // A file read as bytes may hold PEM: "-----BEGIN" starts with 0x2d.
  if (input.length > 10 && input[0] === 0x2d && input[5] === 0x42) return decodePem(new TextDecoder().decode(input), labels);
  return input;
}
