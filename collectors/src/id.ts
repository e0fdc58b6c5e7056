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
import { sm3 } from '@xiangan/crypto';

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
  // Each text field as "<UTF-16 length>:<text>": an injective encoding built in one string,
  // encoded once (per-field TextEncoder calls cost more than the hash itself).
  let h = input.kind.length + ':' + input.kind + input.sourceId.length + ':' + input.sourceId;
  const add = (v: string): void => {
    h += v.length + ':' + v;
  };
  switch (input.kind) {
    case 'network':
      add(input.peerAddress);
      add(String(input.peerPort));
      add(String(input.receivedAt));
      add(input.connection);
      add(String(input.seq));
      break;
    case 'file':
      add(input.fileKey);
      add(String(input.offset));
      break;
    case 'http':
      add(input.request);
      add(String(input.index));
      break;
    default:
      throw new TypeError('eventId: unknown kind');
  }
  h += input.bytes.length + ':';
  // One reusable scratch buffer (ids are derived synchronously, one at a time).
  const need = h.length * 3 + input.bytes.length;
  if (scratch.length < need) scratch = Buffer.allocUnsafe(Math.max(need, scratch.length * 2));
  const n = scratch.write(h, 0, 'utf8');
  scratch.set(input.bytes, n);
  const d = sm3(scratch.subarray(0, n + input.bytes.length));
  let out = '';
  for (let i = 0; i < 16; i++) out += HEX[d[i]!];
  return out;
}

let scratch = Buffer.allocUnsafe(4096);
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
