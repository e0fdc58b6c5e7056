/**
 * JSON text written straight as UTF-8 bytes into one reused off-heap buffer: exactly the bytes of
 * `Buffer.from(JSON.stringify(value))`, without the intermediate string.
 *
 * Why: the prepare worker serialises every event once (the stored document, what the integrity
 * chain hashes) and keeps the text as bytes anyway (`../pipeline/prepare.ts`). Writing the bytes
 * in one pass over the value skips building each document as a string and encoding it again, and
 * leaves no ~1.4 KB string per event for the worker's young generation: over bench:ingest's mix,
 * 92 instead of 136 scavenges per 200k events and 1.04–1.22× less prepare CPU (session 6, A/B in
 * one process under load). Per character a JS loop is no faster than V8's own serialiser (Node
 * 20), so that is where the gain ends: on this 2-core VM a bare `charCodeAt` loop costs ~4–7 ns a
 * code unit, `JSON.stringify` of an event as much as this class (~9–12 µs for the ~1.4 KB, ~70
 * entries of bench:ingest's mix), and one native call (a regex test, a Latin-1 write) ~60–150 ns
 * whatever its length. So strings of {@link NATIVE_MIN} code units or more with nothing to escape
 * (long originals and messages without quotes: up to a quarter of a document's bytes) are copied
 * by one native write: 1.00–1.07× less prepare CPU in the worker (median 1.02, five A/B runs
 * alternating per buffered row, 16 MB young generation, load 7–9), 0.96–1.02× on a main thread
 * (four runs): a small gain, near this load's noise (session 6 saw 0.97–1.03× with bounds of 24
 * and 48). Keys and short strings stay in the loop: a cache of encoded keys (by name,
 * or by position under the parent object; copied by loop, `set` or 32-bit DataView stores),
 * `JSON.stringify` of long strings that need escaping or of the whole event, and the native write
 * for every string all measured slower or equal (session 9, same A/Bs).
 *
 * Byte identity with `JSON.stringify` (ECMA-262 §25.5.2, SerializeJSONProperty) rests on:
 * - key order: `for … in` over a plain object (prototype `Object.prototype` or `null`, no
 *   enumerable inherited keys) lists the same keys in the same order as
 *   `EnumerableOwnProperties` (integer keys ascending, then the rest in insertion order);
 * - properties whose value is `undefined`, a function or a symbol are left out of objects and
 *   written as `null` in arrays, as are array holes;
 * - numbers: `String(n)` when finite (the spec's Number::toString; `-0` → `0`), `null` otherwise;
 * - strings (QuoteJSONString, §25.5.2.3): `"` and `\` escaped, `\b \t \n \f \r` by name, other
 *   code units below U+0020 and lone surrogates as `\u` + four lowercase hex digits; everything
 *   else verbatim, encoded as UTF-8 (surrogate pairs as one 4-byte sequence).
 * Anything else (boxed primitives, dates and other class instances, a callable `toJSON`, bigints,
 * nesting deeper than {@link MAX_DEPTH}, so also cycles) is handed to `JSON.stringify` itself,
 * which gives the same text or throws the same error.
 */

/** Nesting below which values are written here; deeper ones go through `JSON.stringify`. */
const MAX_DEPTH = 64;

/**
 * Strings at least this long are tested with {@link NEEDS_ESCAPE} and, when nothing in them needs
 * escaping, copied by one native write; shorter ones go through the loop in `string`, which is
 * cheaper than the two native calls below ~40 code units (thresholds 24, 40 and 64 measured).
 */
const NATIVE_MIN = 40;

/** A code unit QuoteJSONString escapes (below U+0020, `"`, `\\`) or that is not ASCII. */
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\u0080-\uffff]/;

/**
 * Node's own encoders, which `Buffer#write` calls after normalising its arguments (on
 * `Buffer.prototype` since Node 0.x, undocumented, not in @types/node): writing a string at a
 * position known to have room, the writer calls them directly. `Buffer#write` and the encoding
 * table under it were 3.2 % of the prepare worker's busy time in a profile of bench:ingest
 * (session 18), twice the native write they wrap. Both write what `write` would: whole
 * characters only, at most `length` bytes, and return the bytes written.
 */
interface RawWrite {
  utf8Write(s: string, offset: number, length: number): number;
  latin1Write(s: string, offset: number, length: number): number;
}

/**
 * The decoders under `Buffer#toString` (same origin as {@link RawWrite}), for readers of packed
 * texts whose ranges are known to lie in the buffer: the store worker makes several strings per
 * event from a step's cells. Unlike `toString` they throw on a range outside the buffer instead of
 * clamping it.
 */
interface RawSlice {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

/** `\uXXXX` hex digits (lowercase, as `JSON.stringify` writes them). */
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/**
 * The escape of each code unit below U+0020 after its backslash: the letter of a named escape
 * (`b t n f r`), or 0 for `\u00XX`.
 */
const CONTROL = new Uint8Array(32);
CONTROL[8] = 0x62;
CONTROL[9] = 0x74;
CONTROL[10] = 0x6e;
CONTROL[12] = 0x66;
CONTROL[13] = 0x72;

/**
 * Bytes reserved beyond a step's estimated text ({@link JsonBytes.beginStep}): room is made for a
 * string's worst case (3 bytes per UTF-16 unit, 6 when escaped) before it is written.
 */
const RESERVE_SLACK = 64 << 10;

/**
 * At most this much is reserved ahead (growth by doubling takes over beyond it): the estimate comes
 * from the last step alone, and a step of a few huge events before one of many small ones would
 * otherwise ask for hundreds of MB, handed over with the step and counted as its external memory.
 */
const RESERVE_MAX = 32 << 20;

/**
 * A key of an object at one place of the documents' structure (the path of keys from the top,
 * an array's objects at its key's place), with its bytes `,"key":` ready to store. Documents of one
 * source share a handful of shapes, so the keys of each place repeat: a key found at its place (a
 * comparison of interned strings) is written by one or two 8-byte stores instead of a loop over
 * its characters (that loop and its escape tests were ~10 % of the prepare worker's time, session
 * 18; sessions 9 and 15 cached the bytes but copied them by a byte loop, which was no faster).
 */
interface KeyNode {
  readonly key: string;
  /**
   * `,"key":` as little-endian doubles, zero-padded to a multiple of 8 bytes (exact: bytes below
   * 0x80 never form a NaN, the one double whose bits a store may change), or undefined for a key
   * that needs escapes or is not ASCII.
   */
  readonly enc: Float64Array | undefined;
  /** Bytes of `,"key":`. */
  readonly n: number;
  /** Another key at the same place (another shape), tried next. */
  readonly alt: KeyNode | undefined;
  /** The keys that followed this one in an object. */
  next: KeyNode | undefined;
  /** The first keys of the objects that were this key's value (or its array's elements). */
  sub: KeyNode | undefined;
}

/** Key nodes per writer at most (~200 bytes each with their key): documents of ever new keys are not all remembered. */
const MAX_KEY_NODES = 4096;

/**
 * Keys longer than this are not cached (nor anything under them): keys come from input (RFC 5424
 * SD-IDs and PARAM-NAMEs, key=value fields) up to a message's size, and a node keeps its key and
 * bytes for the writer's life; ECS keys are far shorter.
 */
const MAX_CACHED_KEY = 64;

/** Alternatives per place at most (each is one comparison for the keys found after them). */
const MAX_KEY_ALTS = 8;

function newKeyNode(key: string, alt: KeyNode | undefined): KeyNode {
  let enc: Float64Array | undefined;
  let plainKey = true;
  for (let i = 0; i < key.length && plainKey; i++) {
    const c = key.charCodeAt(i);
    plainKey = c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c;
  }
  if (plainKey) {
    const bytes = Buffer.alloc(Math.ceil((key.length + 4) / 8) * 8);
    bytes.write(`,"${key}":`, 'latin1');
    enc = new Float64Array(bytes.length / 8);
    for (let i = 0; i < enc.length; i++) enc[i] = bytes.readDoubleLE(8 * i);
  }
  return { key, enc, n: key.length + 4, alt, next: undefined, sub: undefined };
}

/** Where keys go once {@link MAX_KEY_NODES} are made: written by the loop, nothing remembered. */
const UNCACHED: KeyNode = { key: '', enc: undefined, n: 4, alt: undefined, next: undefined, sub: undefined };

function viewOf(b: Buffer): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * JSON text of values kept as UTF-8 in one growing off-heap buffer (outside V8's heap: a scavenge
 * never copies it), read back as one string or as views of its bytes.
 *
 * @example
 * const t = new JsonBytes();
 * const start = t.pos;
 * t.json({ a: 'é', b: [1, undefined] });
 * t.bytes(start, t.pos); // the bytes of Buffer.from('{"a":"é","b":[1,null]}')
 */
export class JsonBytes {
  private buf: Buffer;
  /** `buf` for the 8-byte stores of cached keys. */
  private view: DataView;
  /** Where the keys of top-level objects start ({@link KeyNode}). */
  private readonly root: KeyNode = newKeyNode('', undefined);
  /** Key nodes made (at most {@link MAX_KEY_NODES}). */
  private keyNodes = 0;
  /** Bytes written since the last reset. */
  pos = 0;
  /** Only ASCII written since the last reset: the text reads back as Latin-1 (a plain copy). */
  private ascii = true;

  /** Bytes per event of the last step ({@link endStep}); 0 before the first. */
  private perEvent = 0;
  /**
   * `handOver`: {@link pack} hands over the buffer itself and writes on into a new one of the size
   * the last text needed, instead of copying the text into a new one and keeping its own (a new
   * buffer's pages become resident only as they are written).
   */
  constructor(private readonly handOver = false) {
    this.buf = Buffer.allocUnsafeSlow(1 << 20);
    this.view = viewOf(this.buf);
  }

  /** Empty it; a buffer grown past 64 MiB (by very large messages) is let go. */
  reset(): void {
    this.pos = 0;
    this.ascii = true;
    if (this.buf.length > 64 << 20) this.setBuf(Buffer.allocUnsafeSlow(1 << 20));
  }

  /**
   * Append the JSON text of `value` (what `JSON.stringify(value)` returns, as UTF-8). Throws what
   * `JSON.stringify` throws, and a `TypeError` for a value it gives no text for (`undefined`).
   */
  json(value: unknown): void {
    const start = this.pos;
    try {
      this.value(value, 0);
    } catch (e) {
      this.pos = start;
      throw e;
    }
  }

  /** Append a newline. */
  newline(): void {
    this.byte(0x0a);
  }

  /** Append one byte (a separator between documents; below 0x80, so the text stays ASCII-safe). */
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Overwrite the byte at `at` (< {@link pos}) with `b` (below 0x80, as {@link byte}). */
  put(at: number, b: number): void {
    if (!(at >= 0 && at < this.pos)) throw new RangeError('JsonBytes.put: position outside the text');
    this.buf[at] = b;
  }

  /** A view of bytes `start … end` (valid until the next append or reset). */
  bytes(start: number, end: number): Uint8Array {
    return this.buf.subarray(start, end);
  }

  /** Bytes `start … end` as a string. */
  text(start: number, end: number): string {
    return this.buf.toString(this.ascii ? 'latin1' : 'utf8', start, end);
  }

  /** Everything written since the last reset, as one string. */
  read(): string {
    return this.text(0, this.pos);
  }

  /** Append text as UTF-8 (a document that is already a string). */
  append(s: string): void {
    this.utf8(s);
  }

  /** Append bytes `start … end` of `from` (another text's bytes, so its ASCII-ness comes along). */
  copy(from: JsonBytes, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    from.buf.copy(this.buf, this.pos, start, end);
    this.pos += n;
    if (!from.ascii) this.ascii = false;
  }

  /**
   * The pieces `at[2i] … at[2i + 1]` of what was written, as {@link PackedTexts} in a buffer of
   * their own (one copy of bytes 0 … {@link pos}), to be transferred to another thread.
   */
  pack(at: Uint32Array): PackedTexts {
    if (this.handOver) {
      const bytes = this.buf.subarray(0, this.pos);
      const ascii = this.ascii;
      this.setBuf(Buffer.allocUnsafeSlow(Math.max(1 << 20, this.pos + (this.pos >> 2))));
      this.reset();
      return { bytes, at, ascii };
    }
    const bytes = Buffer.allocUnsafeSlow(this.pos);
    this.buf.copy(bytes, 0, 0, this.pos);
    return { bytes, at, ascii: this.ascii };
  }

  /**
   * Starts a step of about `events` events (what {@link reset} does), with room for them at the
   * bytes per event of the last step {@link endStep} measured, in one allocation: grown by doubling
   * as it is written, a 5,000-event step after a short chunk copied 1 + 2 + 4 MiB into fresh pages
   * (~5 % of the prepare worker's time in a profile of bench:ingest).
   */
  beginStep(events: number): void {
    this.reset();
    if (events > 0 && this.perEvent > 0) this.reserve(Math.min(RESERVE_MAX, Math.ceil(events * this.perEvent * 1.1) + RESERVE_SLACK));
  }

  /** Ends a step of `events` events (before {@link pack}): its bytes per event size the next one. */
  endStep(events: number): void {
    if (events > 0) this.perEvent = this.pos / events;
  }

  /**
   * Room for `n` more bytes in one allocation of exactly that size, for a writer that knows what
   * comes (the prepare worker: a step's events × the bytes per event so far). Growth by doubling
   * copies the text at each step and leaves buffers up to twice the text's size.
   */
  reserve(n: number): void {
    if (!Number.isFinite(n) || n < 0) throw new RangeError('JsonBytes.reserve: n must be a finite non-negative number');
    if (this.pos + n <= this.buf.length) return;
    const b = Buffer.allocUnsafeSlow(this.pos + Math.ceil(n));
    this.buf.copy(b, 0, 0, this.pos);
    this.setBuf(b);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const b = Buffer.allocUnsafeSlow(Math.max(2 * this.buf.length, this.pos + n));
    this.buf.copy(b, 0, 0, this.pos);
    this.setBuf(b);
  }

  private setBuf(b: Buffer): void {
    this.buf = b;
    this.view = viewOf(b);
  }

  private value(v: unknown, depth: number): void {
    if (typeof v === 'string') this.string(v);
    else if (typeof v === 'number') this.number(v);
    else if (typeof v === 'object' && v !== null && depth < MAX_DEPTH && plain(v)) {
      if (Array.isArray(v)) this.array(v, depth + 1, this.root);
      else this.object(v as Record<string, unknown>, depth + 1, this.root);
    } else if (v === null) this.raw('null');
    else if (v === true) this.raw('true');
    else if (v === false) this.raw('false');
    else {
      const j: string | undefined = JSON.stringify(v);
      if (j === undefined) throw new TypeError('JsonBytes: the value has no JSON text');
      this.utf8(j);
    }
  }

  /** `at`: the place in the documents' structure of the key whose value `o` is ({@link KeyNode}). */
  private object(o: Record<string, unknown>, depth: number, at: KeyNode): void {
    this.ensure(1);
    this.buf[this.pos++] = 0x7b;
    let first = true;
    /** The last key written (its node). */
    let prev = at;
    for (const k in o) {
      const v = o[k];
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
      // Strings and nested objects, most of an event, are written from here rather than through
      // `value`, which would test their type (and call `plain`) a second time.
      if (typeof v === 'object' && v !== null) {
        if (depth < MAX_DEPTH && plain(v)) {
          prev = this.key(prev, first, k);
          first = false;
          if (Array.isArray(v)) this.array(v, depth + 1, prev);
          else this.object(v as Record<string, unknown>, depth + 1, prev);
          continue;
        }
        // A value JSON.stringify gives no text (a toJSON returning undefined) leaves its key out.
        const j: string | undefined = JSON.stringify(v);
        if (j === undefined) continue;
        prev = this.key(prev, first, k);
        first = false;
        this.utf8(j);
        continue;
      }
      prev = this.key(prev, first, k);
      first = false;
      if (typeof v === 'string') this.string(v);
      else this.value(v, depth);
    }
    this.ensure(1);
    this.buf[this.pos++] = 0x7d;
  }

  /** `at` as {@link object} takes it: the objects among the elements start their keys there. */
  private array(a: readonly unknown[], depth: number, at: KeyNode): void {
    this.ensure(1);
    this.buf[this.pos++] = 0x5b;
    for (let i = 0; i < a.length; i++) {
      this.separator(i === 0);
      const v = a[i];
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') this.raw('null');
      else if (typeof v === 'string') this.string(v);
      else if (typeof v === 'object' && v !== null) {
        if (!(depth < MAX_DEPTH && plain(v))) this.utf8(JSON.stringify(v) ?? 'null');
        else if (Array.isArray(v)) this.array(v, depth + 1, at);
        else this.object(v as Record<string, unknown>, depth + 1, at);
      } else this.value(v, depth);
    }
    this.ensure(1);
    this.buf[this.pos++] = 0x5d;
  }

  /**
   * Append key `k` (with the comma before it unless `first`, and the colon after it) of an object
   * whose previous key was `prev` (its first: `prev` is the node of the object's own key);
   * returns `k`'s node. A key cached as plain ASCII is written by 8-byte stores of its bytes, the
   * rest by the string loop.
   */
  private key(prev: KeyNode, first: boolean, k: string): KeyNode {
    const nd = this.keyNode(prev, first, k);
    const enc = nd.enc;
    if (enc === undefined) {
      this.separator(first);
      this.string(k);
      this.ensure(1);
      this.buf[this.pos++] = 0x3a;
      return nd;
    }
    this.ensure(8 * enc.length);
    // The first key's bytes go one byte early, over the `{` just written, which is put back.
    const start = first ? this.pos - 1 : this.pos;
    const view = this.view;
    for (let i = 0; i < enc.length; i++) view.setFloat64(start + 8 * i, enc[i]!, true);
    if (first) this.buf[start] = 0x7b;
    this.pos = start + nd.n;
    return nd;
  }

  /** The node of key `k` after `prev` (or first under it), found among the alternatives there or made. */
  private keyNode(prev: KeyNode, first: boolean, k: string): KeyNode {
    const head = first ? prev.sub : prev.next;
    let alts = 0;
    for (let n = head; n !== undefined; n = n.alt) {
      if (n.key === k) return n;
      alts++;
    }
    // Bounded: a place with many shapes, or documents of ever new keys, write the rest uncached.
    if (this.keyNodes >= MAX_KEY_NODES || alts >= MAX_KEY_ALTS || k.length > MAX_CACHED_KEY || prev === UNCACHED) return UNCACHED;
    const made = newKeyNode(k, head);
    this.keyNodes++;
    if (first) prev.sub = made;
    else prev.next = made;
    return made;
  }

  private separator(first: boolean): void {
    if (first) return;
    this.ensure(1);
    this.buf[this.pos++] = 0x2c;
  }

  private number(v: number): void {
    if (!Number.isFinite(v)) return this.raw('null');
    // Small non-negative integers digit by digit; anything else as Number::toString writes it.
    if (v >= 0 && v < 1e9 && v === Math.floor(v)) {
      let digits = 1;
      for (let p = 10; p <= v; p *= 10) digits++;
      this.ensure(digits);
      const b = this.buf;
      const end = this.pos + digits;
      for (let i = end - 1; i >= this.pos; i--) {
        const q = Math.floor(v / 10);
        b[i] = 0x30 + (v - q * 10);
        v = q;
      }
      this.pos = end;
      return;
    }
    this.raw(String(v));
  }

  /** Append ASCII text as it is. */
  private raw(s: string): void {
    this.ensure(s.length);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  /** Append any text as UTF-8 (well-formed JSON text from `JSON.stringify`). */
  private utf8(s: string): void {
    const room = 3 * s.length;
    this.ensure(room);
    const n = (this.buf as Buffer & RawWrite).utf8Write(s, this.pos, room);
    if (n !== s.length) this.ascii = false;
    this.pos += n;
  }

  /** Append a JSON string literal of `s` (QuoteJSONString), as UTF-8. */
  private string(s: string): void {
    const n = s.length;
    if (n >= NATIVE_MIN && !NEEDS_ESCAPE.test(s)) {
      // Nothing to escape and all ASCII (U+0020…U+007F but `"` and `\`): QuoteJSONString
      // leaves it as it is and its UTF-8 is its Latin-1, copied natively. The rest, long strings
      // with an escape or a non-ASCII code unit among them, go through the loop: handing them to
      // JSON.stringify and a UTF-8 write measured 2 % slower.
      this.ensure(n + 2);
      const b = this.buf;
      const p = this.pos;
      b[p] = 0x22;
      (b as Buffer & RawWrite).latin1Write(s, p + 1, n);
      b[p + n + 1] = 0x22;
      this.pos = p + n + 2;
      return;
    }
    // At most 6 bytes per code unit (`\u001f`; a surrogate pair is 4 bytes for 2 units).
    this.ensure(6 * n + 2);
    const b = this.buf;
    let p = this.pos;
    b[p++] = 0x22;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x20 && c < 0x80) {
        if (c === 0x22 || c === 0x5c) b[p++] = 0x5c;
        b[p++] = c;
      } else if (c < 0x20) {
        b[p++] = 0x5c;
        const e = CONTROL[c]!;
        if (e !== 0) b[p++] = e;
        else {
          b[p++] = 0x75;
          b[p++] = 0x30;
          b[p++] = 0x30;
          b[p++] = HEX[c >> 4]!;
          b[p++] = HEX[c & 15]!;
        }
      } else {
        this.ascii = false;
        if (c < 0x800) {
          b[p++] = 0xc0 | (c >> 6);
          b[p++] = 0x80 | (c & 63);
        } else if (c < 0xd800 || c > 0xdfff) {
          b[p++] = 0xe0 | (c >> 12);
          b[p++] = 0x80 | ((c >> 6) & 63);
          b[p++] = 0x80 | (c & 63);
        } else {
          const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
          if (c < 0xdc00 && d >= 0xdc00 && d <= 0xdfff) {
            const u = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
            b[p++] = 0xf0 | (u >> 18);
            b[p++] = 0x80 | ((u >> 12) & 63);
            b[p++] = 0x80 | ((u >> 6) & 63);
            b[p++] = 0x80 | (u & 63);
            i++;
          } else {
            // A lone surrogate: escaped (ECMA-262 §25.5.2.3, well-formed JSON.stringify).
            b[p++] = 0x5c;
            b[p++] = 0x75;
            b[p++] = HEX[c >> 12]!;
            b[p++] = HEX[(c >> 8) & 15]!;
            b[p++] = HEX[(c >> 4) & 15]!;
            b[p++] = HEX[c & 15]!;
          }
        }
      }
    }
    b[p++] = 0x22;
    this.pos = p;
  }
}

/**
 * Whether `o` is written here: an array or an object whose prototype is `Object.prototype` or
 * `null`, without a callable `toJSON` (SerializeJSONProperty step 2 would call it).
 */
function plain(o: object): boolean {
  const proto: unknown = Object.getPrototypeOf(o);
  if (proto !== Object.prototype && proto !== null && !Array.isArray(o)) return false;
  return typeof (o as { toJSON?: unknown }).toJSON !== 'function';
}

/**
 * Strings laid out as UTF-8 in one buffer (Latin-1 = the same bytes when `ascii`): string `i` is
 * bytes `at[2i] … at[2i + 1]`. Between threads it is three objects, the buffer transferred, so
 * the structured clone stays small: V8 deserialises every object of a message over 100 KiB
 * straight into old space (`kPretenureThreshold`, src/objects/value-serializer.cc), and a step's
 * documents as strings were several MB of old-space and large-object garbage in the receiving
 * thread. The receiver makes each string when it reads it ({@link PackedReader}), so it dies young.
 * Only well-formed text round-trips (a lone surrogate would come back as U+FFFD): JSON text from
 * {@link JsonBytes} or `JSON.stringify`, and text read from SQLite, are.
 */
export interface PackedTexts {
  bytes: Uint8Array;
  at: Uint32Array;
  ascii: boolean;
}

/**
 * Frees the memory of buffers that were transferred here once they are read: each is moved into a
 * new buffer nobody holds (so it is freed by the next scavenge) and itself left detached. A
 * received buffer's wrapper that lived through two scavenges (a step waits for its commit, hits
 * for detection) is in old space, and its memory, outside V8's heap, would wait for a full
 * collection: measured 70–80 MB of such mappings at a server's peaks without this.
 */
export function releaseBuffers(buffers: Iterable<ArrayBufferLike>): void {
  const live = [...new Set(buffers)].filter((b) => b.byteLength > 0) as ArrayBuffer[];
  if (live.length > 0) structuredClone(live, { transfer: live });
}

/**
 * Reads the strings of a {@link PackedTexts}, or of several one after another (chunks of a step:
 * not joined, which would copy them), each made when asked for.
 */
export class PackedReader {
  readonly length: number;
  private readonly bufs: Buffer[] = [];
  private readonly offsets: Uint32Array[] = [];
  private readonly encs: Array<'latin1' | 'utf8'> = [];
  /** Index of each part's first string, and one past the last part's last. */
  private readonly firsts: number[] = [0];
  /** The part the last read was in (reads are mostly in order). */
  private part = 0;
  constructor(p: PackedTexts | readonly PackedTexts[]) {
    for (const x of Array.isArray(p) ? (p as readonly PackedTexts[]) : [p as PackedTexts]) {
      if (x.at.length % 2 !== 0) throw new RangeError('PackedReader: start and end expected for every string');
      this.bufs.push(Buffer.from(x.bytes.buffer, x.bytes.byteOffset, x.bytes.byteLength));
      this.offsets.push(x.at);
      this.encs.push(x.ascii ? 'latin1' : 'utf8');
      this.firsts.push(this.firsts[this.firsts.length - 1]! + x.at.length / 2);
    }
    this.length = this.firsts[this.firsts.length - 1]!;
  }

  /** Byte range of the string {@link seek} found last. */
  private start = 0;
  private end = 0;

  /** String `i` (undefined outside 0 … length − 1, as `Array.prototype.at` of a non-negative index). */
  at(i: number): string | undefined {
    const k = this.seek(i);
    if (k < 0) return undefined;
    const b = this.bufs[k]! as Buffer & RawSlice;
    return this.encs[k] === 'latin1' ? b.latin1Slice(this.start, this.end) : b.utf8Slice(this.start, this.end);
  }

  /**
   * The UTF-8 bytes of string `i`, a view into the packed buffer (not a copy), for a consumer that
   * takes bytes (the store binds documents so); undefined outside 0 … length − 1.
   */
  bytesAt(i: number): Buffer | undefined {
    const k = this.seek(i);
    return k < 0 ? undefined : this.bufs[k]!.subarray(this.start, this.end);
  }

  /** The part holding string `i` (its bytes' range left in `start`/`end`), or −1 outside the strings. */
  private seek(i: number): number {
    if (!(i >= 0 && i < this.length)) return -1;
    let k = this.part;
    if (i < this.firsts[k]!) k = 0;
    while (i >= this.firsts[k + 1]!) k++;
    this.part = k;
    const j = 2 * (i - this.firsts[k]!);
    const at = this.offsets[k]!;
    this.start = at[j]!;
    this.end = at[j + 1]!;
    return k;
  }
}
