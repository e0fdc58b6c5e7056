/**
 * Raw frames in the durable buffer. The network sources (UDP, TCP, TLS) only frame messages and
 * derive their deterministic ids on the main thread; parsing and normalising happen later, in the
 * pipeline's prepare worker, from the bytes kept here. A frame carries everything the parse needs
 * (bytes, id, receive context, charset and zone of its source), so re-reading a buffered batch
 * after a crash yields exactly the same events, ids included.
 *
 * One buffer row holds one group commit of frames in a compact binary form (`data`) and the
 * distinct receive contexts of those frames as JSON (`meta`), instead of one JSON document per
 * event: appending costs a copy of the bytes, not a serialisation.
 *
 * Record layout (little endian): u32 byte length, u16 context index, u8 flags (bit 0: truncated),
 * u8 id length, the id (ASCII), the message bytes.
 */
import type { SourceContext, Transport } from '@xiangan/collectors';

/** One framed message as a network source hands it to the buffer (in place of an event). */
export class RawFrame {
  constructor(
    readonly bytes: Uint8Array,
    readonly ctx: SourceContext,
    /** The source's configured charset (`auto`, `utf-8`, `gb18030`, …). */
    readonly charset: string,
  ) {}
}

/** A receive context as stored in `meta` (shared by the frames of one receipt). */
export interface StoredContext {
  /** sourceId */
  s: string;
  /** transport */
  t: Transport;
  /** charset */
  c: string;
  /** timezone */
  z: string;
  /** receivedAt */
  r: number;
  /** peer address and port */
  a?: string;
  p?: number;
  /** TLS client-certificate state */
  tls?: { authorized: boolean; peerSubject?: string };
}

/** One decoded frame. */
export interface DecodedFrame {
  bytes: Uint8Array;
  ctx: SourceContext;
  charset: string;
}

const HEAD = 8;

function sameContext(a: SourceContext, ca: string, b: SourceContext, cb: string): boolean {
  return (
    a.receivedAt === b.receivedAt &&
    a.sourceId === b.sourceId &&
    ca === cb &&
    a.timezone === b.timezone &&
    a.transport === b.transport &&
    a.peer?.address === b.peer?.address &&
    a.peer?.port === b.peer?.port &&
    a.tls === b.tls
  );
}

function storedContext(f: RawFrame): StoredContext {
  const c = f.ctx;
  const out: StoredContext = { s: c.sourceId, t: c.transport, c: f.charset, z: c.timezone, r: c.receivedAt };
  if (c.peer) {
    out.a = c.peer.address;
    out.p = c.peer.port;
  }
  if (c.tls) out.tls = c.tls;
  return out;
}

/** Bytes a frame takes in a buffer row (for the buffer's byte bound). */
export function frameSize(f: RawFrame): number {
  return HEAD + f.ctx.eventId.length + f.bytes.length;
}

/** Encode frames (in order) as one buffer row: `data` and `meta`. */
export function encodeFrames(frames: readonly RawFrame[]): { data: Buffer; meta: string } {
  let size = 0;
  for (const f of frames) size += frameSize(f);
  const data = Buffer.allocUnsafe(size);
  const contexts: StoredContext[] = [];
  let prev: RawFrame | undefined;
  let pos = 0;
  for (const f of frames) {
    if (!prev || !sameContext(prev.ctx, prev.charset, f.ctx, f.charset)) contexts.push(storedContext(f));
    prev = f;
    const id = f.ctx.eventId;
    if (id.length > 255) throw new RangeError('raw frame: event id longer than 255 characters');
    data.writeUInt32LE(f.bytes.length, pos);
    data.writeUInt16LE(contexts.length - 1, pos + 4);
    data[pos + 6] = f.ctx.truncated === true ? 1 : 0;
    data[pos + 7] = id.length;
    data.write(id, pos + HEAD, 'latin1');
    pos += HEAD + id.length;
    data.set(f.bytes, pos);
    pos += f.bytes.length;
  }
  if (contexts.length > 0xffff) throw new RangeError('raw frame: too many receive contexts in one row');
  return { data, meta: JSON.stringify(contexts) };
}

/** Decode a buffer row written by {@link encodeFrames}; calls `each` per frame, in order. */
export function decodeFrames(data: Uint8Array, meta: string, each: (f: DecodedFrame) => void): void {
  const contexts = (JSON.parse(meta) as StoredContext[]).map((c) => ({
    charset: c.c,
    base: {
      sourceId: c.s,
      transport: c.t,
      receivedAt: c.r,
      timezone: c.z,
      ...(c.a !== undefined ? { peer: { address: c.a, port: c.p ?? 0 } } : {}),
      ...(c.tls !== undefined ? { tls: c.tls } : {}),
    },
  }));
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let pos = 0;
  while (pos < buf.length) {
    const len = buf.readUInt32LE(pos);
    const cx = contexts[buf.readUInt16LE(pos + 4)]!;
    const flags = buf[pos + 6]!;
    const idLen = buf[pos + 7]!;
    const eventId = buf.toString('latin1', pos + HEAD, pos + HEAD + idLen);
    pos += HEAD + idLen;
    const bytes = buf.subarray(pos, pos + len);
    pos += len;
    const ctx: SourceContext = { ...cx.base, eventId, ...(flags & 1 ? { truncated: true } : {}) };
    each({ bytes, ctx, charset: cx.charset });
  }
}
