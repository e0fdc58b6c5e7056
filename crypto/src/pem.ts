/**
 * PEM armour (RFC 7468): `-----BEGIN LABEL-----`, base64 of DER in 64-character lines,
 * `-----END LABEL-----`.
 *
 * Writing follows RFC 7468's "strict" form (§3, 64-character lines, LF endings). Reading
 * accepts CRLF or LF, text before the first and after the last block (§5.2 allows
 * explanatory text), and lines of any length, but the base64 itself must be strict: the
 * standard alphabet only (no base64url), correct `=` padding, zero pad bits. RFC 1421
 * headers (`Proc-Type: 4,ENCRYPTED` legacy encryption) are refused as unsupported.
 *
 * @example
 * const pem = pemEncode('PUBLIC KEY', spkiDer);
 * const { der } = pemDecode(pem, 'PUBLIC KEY');
 */
import { CryptoError } from './errors.js';
import { abytes, base64ToBytes, bytesToBase64 } from './bytes.js';

/** One decoded PEM block. */
export interface PemBlock {
  /** The label between `BEGIN ` and the dashes, e.g. `PRIVATE KEY`. */
  label: string;
  /** The decoded bytes. */
  der: Uint8Array;
}

// RFC 7468 §3: labels are printable ASCII without '-', single spaces or hyphens between words.
const LABEL = /^[\x21-\x2c\x2e-\x7e]+(?:[ -][\x21-\x2c\x2e-\x7e]+)*$/;
const B64_STRICT = /^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const B64_VALUE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function bad(msg: string): never {
  throw new CryptoError('CRYPTO_ERR_INVALID_ENCODING', `PEM: ${msg}`);
}

/**
 * Strict base64 (RFC 4648 §4, with padding, standard alphabet, pad bits zero per §3.5).
 * @example strictBase64ToBytes('AAE=') // Uint8Array [0, 1]
 */
export function strictBase64ToBytes(s: string): Uint8Array {
  if (typeof s !== 'string') throw new TypeError('strictBase64ToBytes expects a string');
  if (s.length % 4 !== 0 || !B64_STRICT.test(s)) bad('body is not strict base64');
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  if (pad > 0) {
    // The bits of the last data character beyond the encoded bytes must be zero.
    const last = B64_VALUE.indexOf(s[s.length - pad - 1]);
    if ((last & (pad === 2 ? 0x0f : 0x03)) !== 0) bad('non-zero pad bits in base64');
  }
  return base64ToBytes(s);
}

/**
 * Wrap bytes in PEM armour with 64-character lines and a final newline.
 * @example pemEncode('PRIVATE KEY', pkcs8Der)
 */
export function pemEncode(label: string, der: Uint8Array): string {
  if (typeof label !== 'string' || !LABEL.test(label)) throw new TypeError(`pemEncode: invalid label '${String(label)}'`);
  abytes(der, 'pemEncode');
  const b64 = bytesToBase64(der);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}${lines.length ? '\n' : ''}-----END ${label}-----\n`;
}

/**
 * Every PEM block in `text`, in order. Text outside blocks is ignored; a malformed block
 * throws `CRYPTO_ERR_INVALID_ENCODING`.
 * @example pemDecodeAll(chainPem).map((b) => b.label)
 */
export function pemDecodeAll(text: string): PemBlock[] {
  if (typeof text !== 'string') throw new TypeError('pemDecodeAll expects a string');
  const lines = text.split(/\r?\n/);
  const out: PemBlock[] = [];
  let i = 0;
  while (i < lines.length) {
    const begin = /^-----BEGIN (.*)-----[ \t]*$/.exec(lines[i]);
    i++;
    if (!begin) {
      if (lines[i - 1].includes('-----BEGIN') || lines[i - 1].includes('-----END')) bad('malformed encapsulation boundary');
      continue;
    }
    const label = begin[1];
    if (!LABEL.test(label)) bad(`invalid label '${label}'`);
    let body = '';
    let ended = false;
    for (; i < lines.length; i++) {
      const line = lines[i].replace(/[ \t]+$/, '');
      if (line.startsWith('-----END ')) {
        if (line !== `-----END ${label}-----`) bad(`END line does not match BEGIN ${label}`);
        ended = true;
        i++;
        break;
      }
      if (line.includes(':')) throw new CryptoError('CRYPTO_ERR_UNSUPPORTED', 'PEM: RFC 1421 headers (legacy PEM encryption) are not supported; use encrypted PKCS#8');
      if (line.startsWith('-----')) bad('unexpected boundary inside a block');
      body += line;
    }
    if (!ended) bad(`missing END ${label}`);
    out.push({ label, der: strictBase64ToBytes(body) });
  }
  return out;
}

/**
 * The single PEM block in `text`; with `labels` its label must be one of them.
 * No block, more than one block or another label → `CRYPTO_ERR_INVALID_ENCODING`.
 * @example const { der } = pemDecode(text, ['PRIVATE KEY', 'ENCRYPTED PRIVATE KEY']);
 */
export function pemDecode(text: string, labels?: string | readonly string[]): PemBlock {
  const blocks = pemDecodeAll(text);
  if (blocks.length === 0) bad('no PEM block found');
  if (blocks.length > 1) bad(`expected one PEM block, found ${blocks.length}`);
  const want = labels === undefined ? undefined : typeof labels === 'string' ? [labels] : labels;
  if (want && !want.includes(blocks[0].label)) bad(`label '${blocks[0].label}' is not ${want.map((l) => `'${l}'`).join(' or ')}`);
  return blocks[0];
}

/** Whether `text` looks like PEM (has a BEGIN line). @example isPem(fileText) */
export function isPem(text: string): boolean {
  return typeof text === 'string' && /(^|\n)-----BEGIN [^\n]*-----/.test(text);
}
