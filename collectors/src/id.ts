/**
 * Deterministic event ids (issue 3: "every event gets a deterministic id, for idempotent
 * writes after a retry"). An id is derived ONCE, at receipt, from what identifies that
 * receipt; the buffer and sinks carry it unchanged, so a retried or replayed write of the
 * same event carries the same id and sinks dedupe on it.
 *
 * - Network syslog: source id, peer, receive time, connection id, per-connection sequence
 *   and the raw bytes (two identical lines on one connection differ by sequence).
 * - Files: source id, file identity (device:inode) and the byte offset of the line, plus
 *   its bytes, so re-reading a file after a crash yields the same ids and a truncated and
 *   rewritten file does not collide with what was there before.
 *
 * The digest is SM3 (GB/T 32905-2016) over a length-prefixed encoding of the fields, so
 * no two different field tuples share an input; the first 128 bits of it, lowercase hex.
 * Encoding: each text field as `<UTF-16 length>:<text>` (UTF-8), in the order kind,
 * sourceId, then the kind's fields as listed in {@link EventIdInput} (numbers in decimal),
 * then `<byte length>:` and the raw bytes. Other implementations (e.g. a Go agent) can
 * derive the same ids from this description.
 */
import { sm3, sm3ManyPackedInto } from '@xiangan/crypto';

/** What identifies one receipt. */
export type EventIdInput =
  | {
      kind: 'network';
      sourceId: string;
      peerAddress: string;
      peerPort: number;
      /** Receive time in ms since the epoch. */
      receivedAt: number;
      /** Identifies the connection (e.g. its accept time and a counter); '' for UDP. */
      connection: string;
      /** Sequence of the message within the connection (or the UDP socket). */
      seq: number;
      bytes: Uint8Array;
    }
  | {
      kind: 'file';
      sourceId: string;
      /** File identity that survives renames: `dev:ino`. */
      fileKey: string;
      /** Byte offset of the line's first byte. */
      offset: number;
      bytes: Uint8Array;
    }
  | {
      kind: 'http';
      sourceId: string;
      /** Request identity chosen by the HTTP source (e.g. a client-supplied batch id or a hash of the body). */
      request: string;
      /** Index of the event in the request. */
      index: number;
      bytes: Uint8Array;
    };

/**
 * Derives the deterministic id of an event: 32 lowercase hex characters (128 bits of SM3).
 *
 * @example
 * eventId({ kind: 'file', sourceId: 'auth', fileKey: '2049:131', offset: 4096, bytes });
 * // 'a3c1…' — the same for every re-read of that line
 */
export function eventId(input: EventIdInput): string {
  const need = encodedBound(input);
  if (scratch.length < need) {
    scratch = Buffer.allocUnsafe(Math.max(need, scratch.length * 2));
    views.fill(undefined);
  }
  const len = encodeInto(scratch, 0, input);
  // One view of the scratch buffer per length, kept: a fresh view per id was a measurable allocation.
  let view = views[len];
  if (view === undefined) {
    view = scratch.subarray(0, len);
    if (len < 4096) views[len] = view;
  }
  return hexId(sm3(view), 0);
}

/**
 * The ids of many receipts at once, in order: exactly `inputs.map(eventId)`, but the SM3 digests
 * are computed by the batch kernel (`sm3ManyPackedInto` over the encodings back to back, four
 * messages per SIMD pass), which is what a
 * consumer that derives the ids of a whole buffered batch wants.
 *
 * @example
 * const ids = eventIds(frames.map((f, i) => ({ kind: 'network', sourceId: 's', peerAddress: '10.0.0.1', peerPort: 514, receivedAt: t, connection: 'c', seq: i, bytes: f })));
 */
export function eventIds(inputs: readonly EventIdInput[]): string[] {
  const out = new Array<string>(inputs.length);
  // Chunks of at most ARENA_BYTES of encodings (or one larger message): memory stays bounded
  // whatever the batch holds.
  let i = 0;
  while (i < inputs.length) {
    const first = i;
    const ends: number[] = [];
    let used = 0;
    do {
      // Encoded straight into the arena (no scratch copy).
      const need = encodedBound(inputs[i]!);
      if (used + need > arena.length) {
        const bigger = Buffer.allocUnsafe(Math.max(2 * arena.length, used + need));
        arena.copy(bigger, 0, 0, used);
        arena = bigger;
      }
      used = encodeInto(arena, used, inputs[i]!);
      ends.push(used);
      i++;
    } while (i < inputs.length && used < ARENA_BYTES);
    const digests = new Uint8Array(32 * ends.length);
    sm3ManyPackedInto(arena.subarray(0, used), ends, digests);
    for (let k = 0; k < ends.length; k++) out[first + k] = hexId(digests, 32 * k);
    if (arena.length > 2 * ARENA_BYTES) arena = Buffer.allocUnsafe(ARENA_BYTES);
  }
  return out;
}

/** An upper bound of the encoded length of `input`: every text field 3 bytes per UTF-16 unit, plus lengths and separators. */
function encodedBound(input: EventIdInput): number {
  const need = input.bytes.length + 64 + 3 * (input.kind.length + input.sourceId.length);
  switch (input.kind) {
    case 'network':
      return need + 3 * (input.peerAddress.length + input.connection.length) + 96;
    case 'file':
      return need + 3 * input.fileKey.length + 48;
    case 'http':
      return need + 3 * input.request.length + 48;
    default:
      throw new TypeError('eventId: unknown kind');
  }
}

/**
 * Writes the encoding of `input` (see the module comment) into `target` at `at`, which has
 * room for {@link encodedBound} bytes; returns the end. ASCII fields go byte by byte, decimal
 * numbers digit by digit, anything else through Buffer#write (UTF-8).
 */
function encodeInto(target: Buffer, at: number, input: EventIdInput): number {
  dst = target;
  // The fields before the first per-message one are the same for every message of a
  // connection and read (or file, or request): their bytes are kept from the previous call
  // and copied when they match. For network receipts that includes the receive time and
  // the connection, which the messages of one read share.
  const network = input.kind === 'network';
  const subject = network ? input.peerAddress : input.kind === 'file' ? input.fileKey : input.request;
  const port = network ? input.peerPort : 0;
  const receivedAt = network ? input.receivedAt : 0;
  const connection = network ? input.connection : '';
  let n: number;
  if (
    input.kind === prefixKind && input.sourceId === prefixSource && subject === prefixSubject &&
    Object.is(port, prefixPort) && Object.is(receivedAt, prefixAt) && connection === prefixConnection
  ) {
    target.set(prefixView, at);
    n = at + prefixView.length;
  } else {
    n = putText(at, input.kind);
    n = putText(n, input.sourceId);
    n = putText(n, subject);
    if (network) {
      n = putNumber(n, port);
      n = putNumber(n, receivedAt);
      n = putText(n, connection);
    }
    if (prefix.length < n - at) prefix = Buffer.allocUnsafe(2 * (n - at));
    target.copy(prefix, 0, at, n);
    prefixView = prefix.subarray(0, n - at);
    prefixKind = input.kind;
    prefixSource = input.sourceId;
    prefixSubject = subject;
    prefixPort = port;
    prefixAt = receivedAt;
    prefixConnection = connection;
  }
  switch (input.kind) {
    case 'network':
      n = putNumber(n, input.seq);
      break;
    case 'file':
      n = putNumber(n, input.offset);
      break;
    case 'http':
      n = putNumber(n, input.index);
      break;
  }
  const bytes = input.bytes;
  n = putDecimal(n, bytes.length);
  target[n++] = 0x3a;
  target.set(bytes, n);
  return n + bytes.length;
}

/**
 * The first 16 bytes of the digest at `d[at..]` as 32 hex digits, one flat string
 * (concatenating 16 pairs builds a rope the engine flattens later). The 32 codes go to
 * `String.fromCharCode` as arguments: spreading an array through `apply` took twice as long.
 */
function hexId(d: Uint8Array, at: number): string {
  const H = HEX_DIGITS;
  const b0 = d[at]!, b1 = d[at + 1]!, b2 = d[at + 2]!, b3 = d[at + 3]!, b4 = d[at + 4]!, b5 = d[at + 5]!, b6 = d[at + 6]!, b7 = d[at + 7]!;
  const b8 = d[at + 8]!, b9 = d[at + 9]!, b10 = d[at + 10]!, b11 = d[at + 11]!, b12 = d[at + 12]!, b13 = d[at + 13]!, b14 = d[at + 14]!, b15 = d[at + 15]!;
  return String.fromCharCode(
    H[b0 >> 4]!, H[b0 & 15]!, H[b1 >> 4]!, H[b1 & 15]!, H[b2 >> 4]!, H[b2 & 15]!, H[b3 >> 4]!, H[b3 & 15]!,
    H[b4 >> 4]!, H[b4 & 15]!, H[b5 >> 4]!, H[b5 & 15]!, H[b6 >> 4]!, H[b6 & 15]!, H[b7 >> 4]!, H[b7 & 15]!,
    H[b8 >> 4]!, H[b8 & 15]!, H[b9 >> 4]!, H[b9 & 15]!, H[b10 >> 4]!, H[b10 & 15]!, H[b11 >> 4]!, H[b11 & 15]!,
    H[b12 >> 4]!, H[b12 & 15]!, H[b13 >> 4]!, H[b13 & 15]!, H[b14 >> 4]!, H[b14 & 15]!, H[b15 >> 4]!, H[b15 & 15]!,
  );
}

const HEX_DIGITS = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
let prefixKind = '';
let prefixSource = '';
let prefixSubject = '';
let prefixPort = 0;
let prefixAt = 0;
let prefixConnection = '';
/** The encoded prefix fields of the previous call. */
let prefix = Buffer.allocUnsafe(256);
let prefixView = prefix.subarray(0, 0);
/** Where the put* functions write (set by {@link encodeInto}). */
let dst: Buffer = Buffer.allocUnsafe(0);
let scratch = Buffer.allocUnsafe(4096);
/** Encodings of a batch ({@link eventIds}), back to back. */
const ARENA_BYTES = 256 * 1024;
let arena = Buffer.allocUnsafe(ARENA_BYTES);
const views = new Array<Buffer | undefined>(4096).fill(undefined);

/** Writes `<UTF-16 length>:<text as UTF-8>` at `at`; returns the end. */
function putText(at: number, v: string): number {
  at = putDecimal(at, v.length);
  dst[at++] = 0x3a;
  const len = v.length;
  for (let i = 0; i < len; i++) {
    const c = v.charCodeAt(i);
    // Any non-ASCII text: the rest through the UTF-8 encoder.
    if (c >= 0x80) return at + dst.write(i === 0 ? v : v.slice(i), at, 'utf8');
    dst[at++] = c;
  }
  return at;
}

/** Writes a number field as `<length>:<decimal text>` (the text `String(v)` gives); returns the end. */
function putNumber(at: number, v: number): number {
  if (!(Number.isSafeInteger(v) && v >= 0)) return putText(at, String(v));
  at = putDecimal(at, digitCount(v));
  dst[at++] = 0x3a;
  return putDecimal(at, v);
}

function digitCount(v: number): number {
  let digits = 1;
  for (let p = 10; p <= v; p *= 10) digits++;
  return digits;
}

/** Writes a non-negative safe integer in decimal; returns the end. */
function putDecimal(at: number, v: number): number {
  if (v < 10) {
    dst[at] = 0x30 + v;
    return at + 1;
  }
  const end = at + digitCount(v);
  for (let i = end - 1; i >= at; i--) {
    const q = Math.floor(v / 10);
    dst[i] = 0x30 + (v - q * 10);
    v = q;
  }
  return end;
}
