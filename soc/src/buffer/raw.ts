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
 * Record layout (little endian): u32 byte length, u16 context index, u8 flags (bit 0: truncated,
 * bit 1: id deferred), u8 id length, then the id (ASCII) or, for a deferred id, the message's
 * sequence on its connection (f64), then the message bytes. A deferred id is derived when the
 * row is decoded, from the row's context (source, peer, receipt time, connection) and the
 * sequence, with `eventIds` (collectors' id encoding, SM3 in batches): the same id the source
 * would have derived at receipt, without an SM3 per message on the thread that reads sockets.
 */
import { eventIds, type EventIdInput, type SourceContext, type Transport } from '@xiangan/collectors';

/** One framed message as a network source hands it to the buffer (in place of an event). */
export class RawFrame {
  constructor(
    readonly bytes: Uint8Array,
    /** Receive context; `eventId` is `''` when the id is deferred (then `seq` is set). */
    readonly ctx: SourceContext,
    /** The source's configured charset (`auto`, `utf-8`, `gb18030`, …). */
    readonly charset: string,
    /** Sequence on its connection, for a deferred id (`ctx.connection` names the connection). */
    readonly seq?: number,
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
  /** connection id of deferred ids */
  k?: string;
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
    a.tls === b.tls &&
    a.connection === b.connection
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
  if (c.connection !== undefined) out.k = c.connection;
  return out;
}

/** Bytes a frame takes in a buffer row (for the buffer's byte bound). */
export function frameSize(f: RawFrame): number {
  return HEAD + (f.seq !== undefined ? 8 : f.ctx.eventId.length) + f.bytes.length;
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
    data.writeUInt32LE(f.bytes.length, pos);
    data.writeUInt16LE(contexts.length - 1, pos + 4);
    if (f.seq !== undefined) {
      data[pos + 6] = (f.ctx.truncated === true ? 1 : 0) | 2;
      data[pos + 7] = 0;
      data.writeDoubleLE(f.seq, pos + HEAD);
      pos += HEAD + 8;
    } else {
      const id = f.ctx.eventId;
      if (id.length > 255) throw new RangeError('raw frame: event id longer than 255 characters');
      data[pos + 6] = f.ctx.truncated === true ? 1 : 0;
      data[pos + 7] = id.length;
      data.write(id, pos + HEAD, 'latin1');
      pos += HEAD + id.length;
    }
    data.set(f.bytes, pos);
    pos += f.bytes.length;
  }
  if (contexts.length > 0xffff) throw new RangeError('raw frame: too many receive contexts in one row');
  return { data, meta: JSON.stringify(contexts) };
}

/**
 * Decode a buffer row written by {@link encodeFrames}; calls `each` per frame, in order, with
 * the index of its receive context in the row (frames of one context share charset and zone).
 * Deferred ids are derived for the whole row first, in one batch.
 */
export function decodeFrames(data: Uint8Array, meta: string, each: (f: DecodedFrame, context: number) => void): void {
  const stored = JSON.parse(meta) as StoredContext[];
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const frames: DecodedFrame[] = [];
  const contextOf: number[] = [];
  // One peer object per context, shared by its frames (as the source shared it).
  const peers: Array<{ address: string; port: number } | undefined> = [];
  const deferred: number[] = [];
  const inputs: EventIdInput[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const len = buf.readUInt32LE(pos);
    const cxi = buf.readUInt16LE(pos + 4);
    const c = stored[cxi]!;
    const flags = buf[pos + 6]!;
    const idLen = buf[pos + 7]!;
    let eventId = '';
    let seq = 0;
    if (flags & 2) {
      seq = buf.readDoubleLE(pos + HEAD);
      pos += HEAD + 8;
    } else {
      eventId = buf.toString('latin1', pos + HEAD, pos + HEAD + idLen);
      pos += HEAD + idLen;
    }
    const bytes = buf.subarray(pos, pos + len);
    pos += len;
    const ctx: SourceContext = { sourceId: c.s, transport: c.t, receivedAt: c.r, timezone: c.z, eventId };
    if (c.a !== undefined) ctx.peer = peers[cxi] ??= { address: c.a, port: c.p ?? 0 };
    if (c.tls !== undefined) ctx.tls = c.tls;
    if (flags & 1) ctx.truncated = true;
    if (flags & 2) {
      deferred.push(frames.length);
      inputs.push({ kind: 'network', sourceId: c.s, peerAddress: c.a ?? '', peerPort: c.p ?? 0, receivedAt: c.r, connection: c.k ?? '', seq, bytes });
    }
    frames.push({ bytes, ctx, charset: c.c });
    contextOf.push(cxi);
  }
  if (deferred.length > 0) {
    const ids = eventIds(inputs);
    for (let i = 0; i < deferred.length; i++) frames[deferred[i]!]!.ctx.eventId = ids[i]!;
  }
  for (let i = 0; i < frames.length; i++) each(frames[i]!, contextOf[i]!);
}
