/**
 * Strict DER on input. `@peculiar/asn1-schema` (through asn1js) parses BER, so every
 * structure we accept is first walked here at the byte level (X.690 §10 and §11: definite
 * minimal lengths, primitive strings, BOOLEAN as 00/FF, minimal INTEGERs, sorted SET OF)
 * and then re-encoded and compared, which also rejects encoded DEFAULT values (§11.5).
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { PkiError } from './errors.js';

const MAX_DEPTH = 64;

function fail(msg: string): never {
  throw new PkiError('PKI_ERR_NOT_DER', msg);
}
function bad(msg: string): never {
  throw new PkiError('PKI_ERR_ASN1', msg);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Walk one TLV at `pos`; returns the offset after it. */
function walk(b: Uint8Array, pos: number, end: number, depth: number): number {
  if (depth > MAX_DEPTH) bad('ASN.1 nesting too deep');
  if (pos >= end) bad('truncated ASN.1 tag');
  const t0 = b[pos++];
  const constructed = (t0 & 0x20) !== 0;
  const cls = t0 >> 6;
  let tagNum = t0 & 0x1f;
  if (tagNum === 0x1f) {
    // X.690 §8.1.2.4: high tag numbers, minimal base-128 and only for numbers ≥ 31.
    if (pos >= end) bad('truncated ASN.1 tag');
    if (b[pos] === 0x80) fail('non-minimal high tag number');
    tagNum = 0;
    for (;;) {
      if (pos >= end) bad('truncated ASN.1 tag');
      const c = b[pos++];
      tagNum = tagNum * 128 + (c & 0x7f);
      if (tagNum > 0xffffff) bad('tag number too large');
      if ((c & 0x80) === 0) break;
    }
    if (tagNum < 31) fail('high-form tag for a low tag number');
  }
  if (pos >= end) bad('truncated ASN.1 length');
  const l0 = b[pos++];
  let len: number;
  if (l0 < 0x80) len = l0;
  else if (l0 === 0x80) fail('indefinite length (BER only, X.690 §10.1)');
  else {
    const n = l0 & 0x7f;
    if (n > 4) bad('length too large');
    if (pos + n > end) bad('truncated ASN.1 length');
    if (b[pos] === 0) fail('non-minimal length encoding (X.690 §10.1)');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[pos++];
    if (len < 0x80) fail('long-form length for a short length (X.690 §10.1)');
  }
  const vEnd = pos + len;
  if (vEnd > end) bad('ASN.1 length exceeds the available data');
  if (cls === 0) {
    // Universal types whose DER form is primitive (X.690 §10.2).
    const primitiveOnly = [1, 2, 3, 4, 5, 6, 10, 12, 19, 20, 22, 23, 24, 26, 28, 30];
    if (constructed && primitiveOnly.includes(tagNum)) fail(`constructed encoding of universal type ${tagNum}`);
    if (!constructed && (tagNum === 16 || tagNum === 17)) bad('primitive SEQUENCE/SET');
    if (tagNum === 1 && (len !== 1 || (b[pos] !== 0 && b[pos] !== 0xff))) fail('BOOLEAN not encoded as 00 or FF (X.690 §11.1)');
    if (tagNum === 2 || tagNum === 10) {
      if (len === 0) bad('empty INTEGER');
      if (len > 1 && ((b[pos] === 0 && b[pos + 1] < 0x80) || (b[pos] === 0xff && b[pos + 1] >= 0x80))) {
        fail('non-minimal INTEGER (X.690 §8.3.2)');
      }
    }
    if (tagNum === 3) {
      if (len === 0 || b[pos] > 7 || (len === 1 && b[pos] !== 0)) bad('malformed BIT STRING');
      // X.690 §11.2.1: unused bits must be zero.
      if (b[pos] !== 0 && (b[vEnd - 1] & ((1 << b[pos]) - 1)) !== 0) fail('BIT STRING unused bits not zero');
    }
    if (tagNum === 5 && len !== 0) bad('NULL with content');
  }
  if (constructed) {
    let p = pos;
    let prev: Uint8Array | undefined;
    while (p < vEnd) {
      const q = walk(b, p, vEnd, depth + 1);
      if (cls === 0 && tagNum === 17) {
        // X.690 §11.6: SET OF components in ascending order of their encodings.
        const cur = b.subarray(p, q);
        if (prev && compareBytes(prev, cur) > 0) fail('SET OF elements not sorted (X.690 §11.6)');
        prev = cur;
      }
      p = q;
    }
  }
  return vEnd;
}

/**
 * Check that `der` is exactly one DER-encoded TLV with no trailing bytes.
 * Throws `PKI_ERR_NOT_DER` for BER-only encodings and `PKI_ERR_ASN1` for garbage.
 *
 * @example
 * assertDer(new Uint8Array([0x30, 0x00])); // ok
 */
export function assertDer(der: Uint8Array): void {
  if (!(der instanceof Uint8Array)) throw new TypeError('expected DER bytes as a Uint8Array');
  const end = walk(der, 0, der.length, 0);
  if (end !== der.length) bad(`${der.length - end} trailing bytes after the DER value`);
}

/** Constructor of a `@peculiar/asn1-schema` class. */
export type AsnType<T> = new () => T;

/**
 * Parse `der` strictly into an `@peculiar/asn1-*` schema class: DER checked, parse errors
 * mapped to `PKI_ERR_ASN1`, and (unless `roundTrip: false`) the value re-encoded and
 * compared, rejecting encoded DEFAULTs and anything the schema would not round-trip.
 *
 * @example
 * const cert = parseDer(der, Certificate, 'certificate');
 */
export function parseDer<T>(der: Uint8Array, type: AsnType<T>, what: string, o: { roundTrip?: boolean } = {}): T {
  assertDer(der);
  let value: T;
  try {
    value = AsnConvert.parse(der, type);
  } catch (e) {
    throw new PkiError('PKI_ERR_ASN1', `${what}: ${(e as Error).message}`, { cause: e });
  }
  // Callers that check DEFAULTs and field order themselves skip the (costly) re-encoding.
  if (o.roundTrip === false) return value;
  let again: Uint8Array;
  try {
    again = new Uint8Array(AsnConvert.serialize(value));
  } catch (e) {
    throw new PkiError('PKI_ERR_ASN1', `${what}: ${(e as Error).message}`, { cause: e });
  }
  if (compareBytes(again, der) !== 0) {
    throw new PkiError('PKI_ERR_NOT_DER', `${what}: not the DER encoding of its value (X.690 §11)`);
  }
  return value;
}

/**
 * Serialize a schema value to DER bytes. A value that cannot be encoded (it came from bad
 * input, e.g. a malformed OID inside a BER structure) is `PKI_ERR_ASN1`.
 * @example toDer(new Certificate(...))
 */
export function toDer(value: unknown): Uint8Array {
  try {
    return new Uint8Array(AsnConvert.serialize(value));
  } catch (e) {
    throw new PkiError('PKI_ERR_ASN1', `cannot encode value: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * View an ArrayBuffer (or a view) as a Uint8Array without copying.
 * @example u8(cert.asn.signatureValue)
 */
export function u8(b: ArrayBuffer | ArrayBufferView): Uint8Array {
  return b instanceof Uint8Array
    ? b
    : ArrayBuffer.isView(b)
      ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
      : new Uint8Array(b);
}

/**
 * Copy bytes into a fresh ArrayBuffer (what the schema classes store).
 * @example new OctetString(ab(bytes))
 */
export function ab(b: Uint8Array): ArrayBuffer {
  return b.slice().buffer as ArrayBuffer;
}

/**
 * Byte equality.
 * @example bytesEqual(a.spki, b.spki)
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareBytes(a, b) === 0;
}

/**
 * Sort DER encodings for a SET OF (X.690 §11.6).
 * @example derTlv(0x31, concatBytes(...sortDer(attrs)))
 */
export function sortDer(items: Uint8Array[]): Uint8Array[] {
  return [...items].sort(compareBytes);
}

function encodeLength(len: number): number[] {
  if (len < 0x80) return [len];
  const out: number[] = [];
  for (let l = len; l > 0; l = Math.floor(l / 256)) out.unshift(l & 0xff);
  return [0x80 | out.length, ...out];
}

// Universal string types that BER may split into constructed segments (X.690 §8.7, §8.23).
const STRING_TAGS = new Set([4, 12, 18, 19, 20, 22, 26, 27, 28, 30]);

interface Tlv {
  /** Identifier octets. */
  tag: Uint8Array;
  constructed: boolean;
  universal: number;
  content: Uint8Array[];
  next: number;
}

function readBer(b: Uint8Array, pos: number, end: number, depth: number): Tlv {
  if (depth > MAX_DEPTH) bad('ASN.1 nesting too deep');
  if (pos >= end) bad('truncated ASN.1 tag');
  const start = pos;
  const t0 = b[pos++];
  if ((t0 & 0x1f) === 0x1f) {
    while (pos < end && b[pos] & 0x80) pos++;
    pos++;
  }
  if (pos >= end) bad('truncated ASN.1 length');
  const tag = b.subarray(start, pos);
  const constructed = (t0 & 0x20) !== 0;
  const universal = t0 >> 6 === 0 ? t0 & 0x1f : -1;
  const l0 = b[pos++];
  let contentEnd: number | undefined;
  if (l0 === 0x80) {
    if (!constructed) bad('indefinite length on a primitive value');
  } else if (l0 < 0x80) contentEnd = pos + l0;
  else {
    const n = l0 & 0x7f;
    if (n > 4 || pos + n > end) bad('bad ASN.1 length');
    let len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[pos++];
    contentEnd = pos + len;
  }
  if (contentEnd !== undefined && contentEnd > end) bad('ASN.1 length exceeds the available data');
  if (!constructed) return { tag, constructed, universal, content: [b.subarray(pos, contentEnd)], next: contentEnd! };
  const kids: Uint8Array[] = [];
  const limit = contentEnd ?? end;
  for (;;) {
    if (contentEnd === undefined) {
      if (pos + 1 < limit && b[pos] === 0 && b[pos + 1] === 0) {
        pos += 2;
        break;
      }
    } else if (pos >= contentEnd) break;
    if (pos >= limit) bad('unterminated indefinite-length value');
    const kid = readBer(b, pos, limit, depth + 1);
    if (universal >= 0 && STRING_TAGS.has(universal)) {
      // A constructed string: its segments must be strings of the same type, concatenated.
      if (kid.universal !== universal) bad('constructed string with a segment of another type');
      kids.push(...kid.content);
    } else kids.push(encodeTlv(kid));
    pos = kid.next;
  }
  if (universal >= 0 && STRING_TAGS.has(universal)) return { tag: Uint8Array.of(t0 & ~0x20), constructed: false, universal, content: kids, next: pos };
  if (universal === 3) bad('constructed BIT STRING is not supported');
  return { tag, constructed, universal, content: kids, next: pos };
}

function encodeTlv(t: Tlv): Uint8Array {
  const len = t.content.reduce((n, c) => n + c.length, 0);
  const head = [...t.tag, ...encodeLength(len)];
  const out = new Uint8Array(head.length + len);
  out.set(head);
  let off = head.length;
  for (const c of t.content) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/**
 * Re-encode BER with definite lengths and primitive strings (X.690 §10.1, §10.2), for
 * structures that may legitimately arrive as BER (CMS, RFC 5652 §1.2: e.g. `openssl cms
 * -stream` output). Everything inside that must be DER is still checked as DER afterwards.
 *
 * @example berToDefinite(streamedCms)
 */
export function berToDefinite(ber: Uint8Array): Uint8Array {
  if (!(ber instanceof Uint8Array)) throw new TypeError('expected BER bytes as a Uint8Array');
  const t = readBer(ber, 0, ber.length, 0);
  if (t.next !== ber.length) bad(`${ber.length - t.next} trailing bytes after the BER value`);
  return encodeTlv(t);
}
