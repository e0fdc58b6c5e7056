/**
 * A strict, minimal, dependency-free DER reader and writer (ITU-T X.690 §10, the
 * Distinguished Encoding Rules) — just what SM2 signatures, ciphertexts and key files need.
 *
 * Reading is strict: definite lengths in minimal form only (X.690 §10.1), no indefinite
 * (BER) lengths, no trailing bytes, single-byte tags only (tag numbers 0–30), minimal
 * INTEGER contents (§8.3.2), BOOLEAN as 0x00/0xFF (§11.1), BIT STRING unused bits zero
 * (§11.2.1), primitive encodings for string types (§10.2) and a bounded nesting depth.
 * Every failure throws `CryptoError('CRYPTO_ERR_ASN1')`; misuse of the writer (a bad
 * argument) throws `TypeError`/`RangeError`.
 *
 * @example
 * const der = derSequence(derUnsignedInteger(r), derUnsignedInteger(s));
 * const [rEl, sEl] = derReadSequence(derDecode(der), 2);
 * const r32 = derReadUnsignedFixed(rEl, 32);
 */
import { CryptoError } from './errors.js';
import { abytes, bytesToUtf8, concatBytes, utf8ToBytes } from './bytes.js';

/** Universal tag bytes used here (identifier octets with the constructed bit where DER requires it). */
export const DER_TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Default bound on nesting depth when a whole element tree is validated. */
export const DER_MAX_DEPTH = 32;

/** One decoded TLV. `content` and `encoded` are views into the input, not copies. */
export interface DerElement {
  /** The whole identifier octet, e.g. 0x30 for SEQUENCE, 0xa0 for `[0]` constructed. */
  readonly tag: number;
  /** Tag class from the two high bits of the identifier (X.690 §8.1.2.2). */
  readonly tagClass: 'universal' | 'application' | 'context' | 'private';
  /** Whether the constructed bit (0x20) is set. */
  readonly constructed: boolean;
  /** Tag number 0–30. */
  readonly tagNumber: number;
  /** The contents octets. */
  readonly content: Uint8Array;
  /** The full TLV encoding (identifier, length, contents). */
  readonly encoded: Uint8Array;
}

function fail(msg: string): never {
  throw new CryptoError('CRYPTO_ERR_ASN1', `DER: ${msg}`);
}

const CLASSES = ['universal', 'application', 'context', 'private'] as const;

/** Universal tags whose DER encoding must be primitive (X.690 §10.2) and those that must be constructed. */
const PRIMITIVE_ONLY = new Set([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0a, 0x0c, 0x12, 0x13, 0x14, 0x16, 0x17, 0x18, 0x1a, 0x1e]);
const CONSTRUCTED_ONLY = new Set([0x10, 0x11]);

/**
 * Read one TLV at `offset`. Returns the element and the offset just past it.
 * @example const { element, next } = derReadElement(bytes, 0);
 */
export function derReadElement(input: Uint8Array, offset = 0): { element: DerElement; next: number } {
  abytes(input, 'derReadElement');
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError('derReadElement: bad offset');
  let p = offset;
  if (p >= input.length) fail('unexpected end of input (identifier)');
  const tag = input[p++];
  const tagNumber = tag & 0x1f;
  // High-tag-number form (X.690 §8.1.2.4) never occurs in the structures we read.
  if (tagNumber === 0x1f) fail('multi-byte tag numbers are not supported');
  const constructed = (tag & 0x20) !== 0;
  const tagClass = CLASSES[tag >>> 6];
  if (tagClass === 'universal') {
    if (tagNumber === 0) fail('end-of-contents / tag 0 is not DER');
    if (constructed && PRIMITIVE_ONLY.has(tagNumber)) fail(`universal tag ${tagNumber} must be primitive in DER`);
    if (!constructed && CONSTRUCTED_ONLY.has(tagNumber)) fail(`universal tag ${tagNumber} must be constructed`);
  }
  if (p >= input.length) fail('unexpected end of input (length)');
  const first = input[p++];
  let len: number;
  if (first < 0x80) {
    len = first;
  } else {
    const n = first & 0x7f;
    if (n === 0) fail('indefinite length is not DER'); // X.690 §10.1
    if (n > 4) fail('length too large');
    if (p + n > input.length) fail('unexpected end of input (long length)');
    if (input[p] === 0) fail('length not minimal (leading zero)');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + input[p++];
    if (len < 0x80) fail('length not minimal (long form for short length)');
  }
  if (len > input.length - p) fail('length exceeds input');
  const content = input.subarray(p, p + len);
  const element: DerElement = {
    tag,
    tagClass,
    constructed,
    tagNumber,
    content,
    encoded: input.subarray(offset, p + len),
  };
  return { element, next: p + len };
}

function validateTree(el: DerElement, depth: number, maxDepth: number): void {
  checkPrimitiveContent(el);
  if (!el.constructed) return;
  if (depth >= maxDepth) fail(`nesting deeper than ${maxDepth}`);
  let p = 0;
  while (p < el.content.length) {
    const { element, next } = derReadElement(el.content, p);
    validateTree(element, depth + 1, maxDepth);
    p = next;
  }
}

/** Per-type content rules for universal primitives, so a validated tree is DER throughout. */
function checkPrimitiveContent(el: DerElement): void {
  if (el.tagClass !== 'universal' || el.constructed) return;
  const c = el.content;
  switch (el.tag) {
    case DER_TAG.BOOLEAN:
      if (c.length !== 1 || (c[0] !== 0 && c[0] !== 0xff)) fail('BOOLEAN must be one byte 0x00 or 0xFF');
      return;
    case DER_TAG.INTEGER:
      checkIntegerContent(c);
      return;
    case DER_TAG.NULL:
      if (c.length !== 0) fail('NULL must be empty');
      return;
    case DER_TAG.BIT_STRING:
      checkBitStringContent(c);
      return;
    case DER_TAG.OID:
      decodeOid(c);
      return;
    default:
      return;
  }
}

/**
 * Decode exactly one DER element filling all of `input` (no trailing bytes) and validate
 * the whole tree beneath it, to at most `maxDepth` levels of nesting.
 * @example const seq = derDecode(pkcs8Der); // throws CRYPTO_ERR_ASN1 on any BER-ism
 */
export function derDecode(input: Uint8Array, maxDepth = DER_MAX_DEPTH): DerElement {
  abytes(input, 'derDecode');
  const { element, next } = derReadElement(input, 0);
  if (next !== input.length) fail(`${input.length - next} trailing byte(s)`);
  validateTree(element, 0, maxDepth);
  return element;
}

/**
 * The child elements of a constructed element, in order.
 * @example const kids = derChildren(seq);
 */
export function derChildren(el: DerElement): DerElement[] {
  if (!el.constructed) fail('expected a constructed element');
  const out: DerElement[] = [];
  let p = 0;
  while (p < el.content.length) {
    const { element, next } = derReadElement(el.content, p);
    out.push(element);
    p = next;
  }
  return out;
}

function expectTag(el: DerElement, tag: number, what: string): void {
  if (el.tag !== tag) fail(`expected ${what} (tag 0x${tag.toString(16)}), got tag 0x${el.tag.toString(16)}`);
}

/**
 * Children of a SEQUENCE; when `count` is given (a number or `[min, max]`) the number of
 * children is checked too.
 * @example const [alg, key] = derReadSequence(el, 2);
 */
export function derReadSequence(el: DerElement, count?: number | readonly [number, number]): DerElement[] {
  expectTag(el, DER_TAG.SEQUENCE, 'SEQUENCE');
  const kids = derChildren(el);
  if (count !== undefined) {
    const [min, max] = typeof count === 'number' ? [count, count] : count;
    if (kids.length < min || kids.length > max) fail(`SEQUENCE has ${kids.length} elements, expected ${min === max ? min : `${min}..${max}`}`);
  }
  return kids;
}

function checkIntegerContent(c: Uint8Array): void {
  if (c.length === 0) fail('INTEGER has no content');
  // X.690 §8.3.2: the first nine bits must not be all zeros or all ones.
  if (c.length > 1 && ((c[0] === 0x00 && c[1] < 0x80) || (c[0] === 0xff && c[1] >= 0x80))) fail('INTEGER not minimally encoded');
}

/**
 * A (signed) INTEGER as a bigint.
 * @example derReadInteger(derDecode(derInteger(-5n))) // -5n
 */
export function derReadInteger(el: DerElement): bigint {
  expectTag(el, DER_TAG.INTEGER, 'INTEGER');
  const c = el.content;
  checkIntegerContent(c);
  let v = 0n;
  for (const b of c) v = (v << 8n) | BigInt(b);
  if (c[0] & 0x80) v -= 1n << BigInt(8 * c.length);
  return v;
}

/**
 * A small non-negative INTEGER (e.g. a version or iteration count) as a number; values
 * above `max` are rejected as CRYPTO_ERR_ASN1.
 * @example derReadSmallInteger(el, 2) // 0 | 1 | 2
 */
export function derReadSmallInteger(el: DerElement, max = Number.MAX_SAFE_INTEGER): number {
  const v = derReadInteger(el);
  if (v < 0n || v > BigInt(max)) fail(`INTEGER ${v} out of range 0..${max}`);
  return Number(v);
}

/**
 * The magnitude of a non-negative INTEGER as minimal big-endian bytes (no sign byte;
 * zero is a single 0x00 byte). Negative values are rejected.
 * @example derReadUnsignedInteger(el) // Uint8Array
 */
export function derReadUnsignedInteger(el: DerElement): Uint8Array {
  expectTag(el, DER_TAG.INTEGER, 'INTEGER');
  const c = el.content;
  checkIntegerContent(c);
  if (c[0] & 0x80) fail('INTEGER is negative');
  return c.length > 1 && c[0] === 0 ? c.slice(1) : c.slice();
}

/**
 * A non-negative INTEGER left-padded to exactly `len` bytes — the form SM2 scalars and
 * coordinates take (GB/T 32918.1 §4.2.2), so leading zeros are kept. Too large → CRYPTO_ERR_ASN1.
 * @example const r = derReadUnsignedFixed(rEl, 32);
 */
export function derReadUnsignedFixed(el: DerElement, len: number): Uint8Array {
  if (!Number.isSafeInteger(len) || len < 1) throw new RangeError('derReadUnsignedFixed: bad length');
  const mag = derReadUnsignedInteger(el);
  const start = mag.length === 1 && mag[0] === 0 ? 1 : 0;
  const n = mag.length - start;
  if (n > len) fail(`INTEGER longer than ${len} bytes`);
  const out = new Uint8Array(len);
  out.set(mag.subarray(start), len - n);
  return out;
}

/** The contents of an OCTET STRING (a copy). @example derReadOctetString(el) */
export function derReadOctetString(el: DerElement): Uint8Array {
  expectTag(el, DER_TAG.OCTET_STRING, 'OCTET STRING');
  return el.content.slice();
}

function checkBitStringContent(c: Uint8Array): void {
  if (c.length === 0) fail('BIT STRING has no content');
  const unused = c[0];
  if (unused > 7) fail('BIT STRING unused-bits count > 7');
  if (c.length === 1 && unused !== 0) fail('empty BIT STRING with unused bits');
  // X.690 §11.2.1: unused bits are zero in DER.
  if (unused !== 0 && (c[c.length - 1] & ((1 << unused) - 1)) !== 0) fail('BIT STRING unused bits not zero');
}

/**
 * The bits of a BIT STRING. Key and signature fields are whole bytes, so by default a
 * non-zero unused-bits count is rejected; pass `allowPartial` to get it instead.
 * @example const spk = derReadBitString(el).bytes;
 */
export function derReadBitString(el: DerElement, allowPartial = false): { bytes: Uint8Array; unusedBits: number } {
  expectTag(el, DER_TAG.BIT_STRING, 'BIT STRING');
  const c = el.content;
  checkBitStringContent(c);
  if (!allowPartial && c[0] !== 0) fail('BIT STRING is not a whole number of bytes');
  return { bytes: c.slice(1), unusedBits: c[0] };
}

function decodeOid(c: Uint8Array): string {
  if (c.length === 0) fail('OBJECT IDENTIFIER is empty');
  const arcs: bigint[] = [];
  let v = 0n;
  let fresh = true;
  for (let i = 0; i < c.length; i++) {
    const b = c[i];
    // X.690 §8.19.2: subidentifiers use the fewest octets, so 0x80 never leads.
    if (fresh && b === 0x80) fail('OBJECT IDENTIFIER subidentifier not minimal');
    v = (v << 7n) | BigInt(b & 0x7f);
    fresh = (b & 0x80) === 0;
    if (fresh) {
      arcs.push(v);
      v = 0n;
    }
  }
  if (!fresh) fail('OBJECT IDENTIFIER truncated');
  // §8.19.4: the first subidentifier packs the first two arcs as 40·X + Y.
  const first = arcs[0];
  const x = first < 40n ? 0n : first < 80n ? 1n : 2n;
  return [x, first - 40n * x, ...arcs.slice(1)].join('.');
}

/**
 * An OBJECT IDENTIFIER in dotted form.
 * @example derReadOid(el) // '1.2.156.10197.1.301'
 */
export function derReadOid(el: DerElement): string {
  expectTag(el, DER_TAG.OID, 'OBJECT IDENTIFIER');
  return decodeOid(el.content);
}

/** Check a NULL. @example derReadNull(el) */
export function derReadNull(el: DerElement): null {
  expectTag(el, DER_TAG.NULL, 'NULL');
  if (el.content.length !== 0) fail('NULL must be empty');
  return null;
}

/** A BOOLEAN (DER: 0x00 or 0xFF only). @example derReadBoolean(el) */
export function derReadBoolean(el: DerElement): boolean {
  expectTag(el, DER_TAG.BOOLEAN, 'BOOLEAN');
  const c = el.content;
  if (c.length !== 1 || (c[0] !== 0 && c[0] !== 0xff)) fail('BOOLEAN must be one byte 0x00 or 0xFF');
  return c[0] === 0xff;
}

/** A UTF8String. @example derReadUtf8String(el) */
export function derReadUtf8String(el: DerElement): string {
  expectTag(el, DER_TAG.UTF8_STRING, 'UTF8String');
  try {
    return bytesToUtf8(el.content);
  } catch {
    return fail('UTF8String is not valid UTF-8');
  }
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** A PrintableString (X.680 §41.4 character set). @example derReadPrintableString(el) */
export function derReadPrintableString(el: DerElement): string {
  expectTag(el, DER_TAG.PRINTABLE_STRING, 'PrintableString');
  let s = '';
  for (const b of el.content) s += String.fromCharCode(b);
  if (!PRINTABLE.test(s)) fail('PrintableString has a character outside its set');
  return s;
}

/** Whether `el` is the context-specific tag `[n]` (either form). @example derIsContext(el, 0) */
export function derIsContext(el: DerElement, n: number): boolean {
  return el.tagClass === 'context' && el.tagNumber === n;
}

/**
 * The single element inside an EXPLICIT `[n]` tag.
 * @example const params = derReadExplicit(kids[1], 0);
 */
export function derReadExplicit(el: DerElement, n: number): DerElement {
  if (!derIsContext(el, n) || !el.constructed) fail(`expected explicit [${n}]`);
  const kids = derChildren(el);
  if (kids.length !== 1) fail(`explicit [${n}] must hold exactly one element`);
  return kids[0];
}

/**
 * Re-read an IMPLICIT `[n]` element as if it carried the universal tag `universalTag`,
 * so the typed readers above apply to it.
 * @example derReadOctetString(derReadImplicit(el, 1, DER_TAG.OCTET_STRING))
 */
export function derReadImplicit(el: DerElement, n: number, universalTag: number): DerElement {
  if (!derIsContext(el, n)) fail(`expected implicit [${n}]`);
  const wantConstructed = (universalTag & 0x20) !== 0;
  if (el.constructed !== wantConstructed) fail(`implicit [${n}] has the wrong form`);
  const retagged: DerElement = { ...el, tag: universalTag, tagClass: 'universal', tagNumber: universalTag & 0x1f };
  checkPrimitiveContent(retagged);
  return retagged;
}

// ---------------------------------------------------------------------------------------
// Writer

function encodeLength(len: number): Uint8Array {
  if (len < 0x80) return Uint8Array.of(len);
  const bytes: number[] = [];
  for (let v = len; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/**
 * Encode one TLV with a single-byte identifier octet.
 * @example derTlv(0x04, data) // OCTET STRING
 */
export function derTlv(tag: number, content: Uint8Array): Uint8Array {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) throw new RangeError('derTlv: bad tag');
  abytes(content, 'derTlv');
  if (content.length > 0xffffffff) throw new RangeError('derTlv: content too long');
  return concatBytes(Uint8Array.of(tag), encodeLength(content.length), content);
}

/** A SEQUENCE of already-encoded elements. @example derSequence(derInteger(1n), derNull()) */
export function derSequence(...elements: Uint8Array[]): Uint8Array {
  return derTlv(DER_TAG.SEQUENCE, concatBytes(...elements));
}

/** A signed INTEGER in minimal two's complement. @example derInteger(0n) // 02 01 00 */
export function derInteger(value: bigint | number): Uint8Array {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError('derInteger: not a safe integer');
    value = BigInt(value);
  }
  if (typeof value !== 'bigint') throw new TypeError('derInteger expects a bigint or number');
  const bytes: number[] = [];
  let v = value;
  // Emit bytes until the remaining value is pure sign extension of the last byte's top bit.
  for (;;) {
    const b = Number(v & 0xffn);
    bytes.unshift(b);
    v >>= 8n;
    if ((v === 0n && (b & 0x80) === 0) || (v === -1n && (b & 0x80) !== 0)) break;
  }
  return derTlv(DER_TAG.INTEGER, Uint8Array.from(bytes));
}

/**
 * A non-negative INTEGER from unsigned big-endian bytes of any length (leading zeros are
 * dropped, a 0x00 sign byte added when the top bit is set).
 * @example derUnsignedInteger(r32)
 */
export function derUnsignedInteger(bytes: Uint8Array): Uint8Array {
  abytes(bytes, 'derUnsignedInteger');
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const mag = bytes.length === 0 ? Uint8Array.of(0) : bytes.subarray(i);
  return derTlv(DER_TAG.INTEGER, mag[0] & 0x80 ? concatBytes(Uint8Array.of(0), mag) : mag);
}

/** An OCTET STRING. @example derOctetString(privateKey32) */
export function derOctetString(bytes: Uint8Array): Uint8Array {
  return derTlv(DER_TAG.OCTET_STRING, bytes);
}

/**
 * A BIT STRING of whole bytes (or with `unusedBits` trailing bits, which must be zero).
 * @example derBitString(publicKey65)
 */
export function derBitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  abytes(bytes, 'derBitString');
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7) throw new RangeError('derBitString: unusedBits must be 0..7');
  if (unusedBits && (bytes.length === 0 || (bytes[bytes.length - 1] & ((1 << unusedBits) - 1)) !== 0)) {
    throw new RangeError('derBitString: unused bits must be zero');
  }
  return derTlv(DER_TAG.BIT_STRING, concatBytes(Uint8Array.of(unusedBits), bytes));
}

/**
 * An OBJECT IDENTIFIER from dotted form.
 * @example derOid('1.2.840.10045.2.1')
 */
export function derOid(dotted: string): Uint8Array {
  if (typeof dotted !== 'string' || !/^[0-2](\.(0|[1-9][0-9]*))+$/.test(dotted)) throw new TypeError(`derOid: bad OID '${String(dotted)}'`);
  const arcs = dotted.split('.').map((a) => BigInt(a));
  if (arcs[0] < 2n && arcs[1] > 39n) throw new RangeError('derOid: second arc must be < 40 under arcs 0 and 1');
  const subs = [arcs[0] * 40n + arcs[1], ...arcs.slice(2)];
  const out: number[] = [];
  for (const s of subs) {
    const group: number[] = [Number(s & 0x7fn)];
    for (let v = s >> 7n; v > 0n; v >>= 7n) group.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...group);
  }
  return derTlv(DER_TAG.OID, Uint8Array.from(out));
}

/** NULL. @example derNull() // 05 00 */
export function derNull(): Uint8Array {
  return Uint8Array.of(DER_TAG.NULL, 0);
}

/** BOOLEAN. @example derBoolean(true) // 01 01 ff */
export function derBoolean(v: boolean): Uint8Array {
  if (typeof v !== 'boolean') throw new TypeError('derBoolean expects a boolean');
  return Uint8Array.of(DER_TAG.BOOLEAN, 1, v ? 0xff : 0);
}

/** UTF8String. @example derUtf8String('湘安') */
export function derUtf8String(s: string): Uint8Array {
  return derTlv(DER_TAG.UTF8_STRING, utf8ToBytes(s));
}

/** PrintableString; characters outside its set are a RangeError. @example derPrintableString('CN') */
export function derPrintableString(s: string): Uint8Array {
  if (typeof s !== 'string') throw new TypeError('derPrintableString expects a string');
  if (!PRINTABLE.test(s)) throw new RangeError('derPrintableString: character outside the PrintableString set');
  return derTlv(DER_TAG.PRINTABLE_STRING, Uint8Array.from(s, (ch) => ch.charCodeAt(0)));
}

/**
 * EXPLICIT `[n]`: a constructed context tag wrapping one encoded element.
 * @example derExplicit(0, derOid(SM2_CURVE_OID))
 */
export function derExplicit(n: number, inner: Uint8Array): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 30) throw new RangeError('derExplicit: tag number must be 0..30');
  return derTlv(0xa0 | n, inner);
}

/**
 * IMPLICIT `[n]`: replace the identifier of an encoded element with a context tag,
 * keeping its primitive/constructed form (X.690 §8.14.3).
 * @example derImplicit(1, derOctetString(x))
 */
export function derImplicit(n: number, encoded: Uint8Array): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 30) throw new RangeError('derImplicit: tag number must be 0..30');
  abytes(encoded, 'derImplicit');
  if (encoded.length < 2) throw new RangeError('derImplicit: not an encoded element');
  const out = encoded.slice();
  out[0] = 0x80 | (encoded[0] & 0x20) | n;
  return out;
}
