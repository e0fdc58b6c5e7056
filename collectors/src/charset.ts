/**
 * Per-source charset decoding with detection and a lossless fallback (issue 3).
 *
 * Devices in Chinese networks often send GBK/GB18030 rather than UTF-8, and some send
 * bytes that are neither. A collector must never stall or silently drop such input
 * (syslog-ng stops reading on it), so every byte sequence decodes: bytes that are not
 * valid in the chosen charset appear as `\xHH` and the caller keeps the original bytes
 * as base64 (see `SyslogMessage.rawBase64`).
 */
import { isAscii, isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';
import type { CharsetName } from './types.js';
import { CollectorError } from './errors.js';

/** Result of {@link decodeBytes}. */
export interface Decoded {
  text: string;
  /** The charset actually used (after `auto` detection). */
  charset: 'utf-8' | 'gb18030' | 'latin1';
  /** True when some bytes were not valid in `charset` and were escaped as `\xHH`. */
  lossy: boolean;
}

const CHARSETS: ReadonlySet<string> = new Set(['utf-8', 'gb18030', 'gbk', 'latin1', 'auto']);

/**
 * Checks a configured charset name; misuse throws, so configs fail at load time.
 *
 * @example
 * const cs = charsetName('GBK'); // 'gbk'
 */
export function charsetName(name: string): CharsetName {
  const n = name.toLowerCase().replace(/^utf8$/, 'utf-8');
  if (!CHARSETS.has(n)) {
    throw new CollectorError('COL_ERR_CHARSET', `unknown charset "${name}" (utf-8, gb18030, gbk, latin1, auto)`);
  }
  return n as CharsetName;
}

/** The bytes as a Buffer without copying (sources hand over Buffers already). */
function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function latin1(b: Uint8Array): string {
  return asBuffer(b).toString('latin1');
}

function hex2(v: number): string {
  return '\\x' + (v < 16 ? '0' : '') + v.toString(16).toUpperCase();
}

/**
 * Length of the valid UTF-8 sequence starting at `i`, or 0 if the byte there does not
 * begin one. Follows RFC 3629 §4 (no overlongs, no surrogates, max U+10FFFF).
 */
function utf8SeqLen(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const n = b.length;
  const cont = (k: number): boolean => k < n && (b[k]! & 0xc0) === 0x80;
  if (c >= 0xc2 && c <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    const c1 = b[i + 1]!;
    if (c === 0xe0 && c1 < 0xa0) return 0;
    if (c === 0xed && c1 > 0x9f) return 0;
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    const c1 = b[i + 1]!;
    if (c === 0xf0 && c1 < 0x90) return 0;
    if (c === 0xf4 && c1 > 0x8f) return 0;
    return 4;
  }
  return 0;
}

/**
 * Length of the GB18030 sequence at `i` (1, 2 or 4), or 0 if invalid. GB 18030-2005 §6:
 * single byte 0x00–0x7F (0x80 and 0xFF are not valid), two bytes 0x81–0xFE + 0x40–0x7E|0x80–0xFE,
 * four bytes 0x81–0xFE 0x30–0x39 0x81–0xFE 0x30–0x39.
 */
function gbSeqLen(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  if (c === 0x80 || c === 0xff || i + 1 >= b.length) return 0;
  const c1 = b[i + 1]!;
  if ((c1 >= 0x40 && c1 <= 0x7e) || (c1 >= 0x80 && c1 <= 0xfe)) return 2;
  if (c1 >= 0x30 && c1 <= 0x39 && i + 3 < b.length) {
    const c2 = b[i + 2]!;
    const c3 = b[i + 3]!;
    if (c2 >= 0x81 && c2 <= 0xfe && c3 >= 0x30 && c3 <= 0x39) return 4;
  }
  return 0;
}

/** Counts bytes that do not start a valid sequence (skipping valid sequences whole). */
function invalidCount(b: Uint8Array, seqLen: (b: Uint8Array, i: number) => number): number {
  let bad = 0;
  for (let i = 0; i < b.length; ) {
    const l = seqLen(b, i);
    if (l === 0) {
      bad++;
      i++;
    } else i += l;
  }
  return bad;
}

/** Decodes valid runs with `run` and escapes every invalid byte as `\xHH`. */
function decodeEscaping(
  b: Uint8Array,
  seqLen: (b: Uint8Array, i: number) => number,
  run: (s: Uint8Array) => string,
): string {
  let out = '';
  let start = 0;
  let i = 0;
  while (i < b.length) {
    const l = seqLen(b, i);
    if (l === 0) {
      if (i > start) out += run(b.subarray(start, i));
      out += hex2(b[i]!);
      i++;
      start = i;
    } else i += l;
  }
  if (start < b.length) out += run(b.subarray(start));
  return out;
}

const utf8Run = (s: Uint8Array): string => asBuffer(s).toString('utf8');
const gbRun = (s: Uint8Array): string => iconv.decode(asBuffer(s), 'gb18030');

function decodeUtf8(b: Uint8Array): Decoded {
  // isUtf8 validates in native code without the cost of a thrown decoding error.
  if (isUtf8(b)) return { text: utf8Run(b), charset: 'utf-8', lossy: false };
  return { text: decodeEscaping(b, utf8SeqLen, utf8Run), charset: 'utf-8', lossy: true };
}

function decodeGb(b: Uint8Array, invalid = invalidCount(b, gbSeqLen)): Decoded {
  // GBK is a subset of GB18030 (GB 18030-2005 §5), so one decoder serves both.
  if (invalid === 0) {
    const text = gbRun(b);
    return { text, charset: 'gb18030', lossy: text.includes('\uFFFD') };
  }
  return { text: decodeEscaping(b, gbSeqLen, gbRun), charset: 'gb18030', lossy: true };
}

/**
 * Decodes bytes in a source's charset; never throws on data and never loses a byte.
 * `auto`: valid UTF-8 → utf-8; else GB18030 if it decodes cleanly; else whichever of
 * the two leaves fewer bytes undecodable, with those bytes escaped.
 *
 * @example
 * decodeBytes(iconv.encode('登录失败', 'gbk'), 'auto'); // { text: '登录失败', charset: 'gb18030', lossy: false }
 * decodeBytes(Uint8Array.of(0x61, 0xff), 'utf-8');      // { text: 'a\\xFF', charset: 'utf-8', lossy: true }
 */
export function decodeBytes(bytes: Uint8Array, charset: CharsetName): Decoded {
  if (charset === 'auto' || charset === 'utf-8') {
    // One native call for the common case: the decoder writes U+FFFD for every invalid
    // sequence, so a text without one came from valid UTF-8 (ASCII included) — what the
    // checks below would decode it to. Otherwise (or a U+FFFD that was sent) they decide.
    const text = asBuffer(bytes).toString('utf8');
    if (text.indexOf('\uFFFD') < 0) return { text, charset: 'utf-8', lossy: false };
  }
  // Fast path for the common case, checked natively: ASCII reads the same in every charset.
  if (isAscii(bytes)) {
    return { text: latin1(bytes), charset: charset === 'gb18030' || charset === 'gbk' ? 'gb18030' : charset === 'latin1' ? 'latin1' : 'utf-8', lossy: false };
  }
  switch (charset) {
    case 'utf-8':
      return decodeUtf8(bytes);
    case 'gb18030':
    case 'gbk':
      return decodeGb(bytes);
    case 'latin1':
      return { text: latin1(bytes), charset: 'latin1', lossy: false };
    case 'auto': {
      if (isUtf8(bytes)) return { text: utf8Run(bytes), charset: 'utf-8', lossy: false };
      const badGb = invalidCount(bytes, gbSeqLen);
      if (badGb === 0) return decodeGb(bytes, 0);
      const badUtf8 = invalidCount(bytes, utf8SeqLen);
      return badGb < badUtf8 ? decodeGb(bytes, badGb) : decodeUtf8(bytes);
    }
    default:
      throw new TypeError(`unknown charset ${String(charset)}`);
  }
}

/**
 * Base64 of the bytes, kept beside a lossy decode so the original can be restored.
 *
 * @example
 * bytesToBase64(Uint8Array.of(0xff)); // '/w=='
 */
export function bytesToBase64(bytes: Uint8Array): string {
  return asBuffer(bytes).toString('base64');
}
