/**
 * Syslog stream framing over TCP/TLS (RFC 6587): octet counting (§3.4.1, also the only
 * framing of RFC 5425 §4.3) and non-transparent framing with LF (§3.4.2; CRLF and NUL
 * trailers are accepted too since real senders use them).
 *
 * Pure and bounded: a framer holds at most `maxMessageSize` bytes of a partial frame.
 * An over-long message is cut at `maxMessageSize` (the frame is marked `truncated`) and
 * the rest of it is skipped, so a sender can never stall the connection or grow memory.
 */
import { CollectorError } from '../errors.js';

/** One framed message. */
export interface Frame {
  bytes: Uint8Array;
  /** True when the message was longer than `maxMessageSize` and was cut. */
  truncated: boolean;
}

/** Framing of one connection; `auto` decides from the first byte (RFC 6587 §3.4.1: MSG-LEN starts with 1–9). */
export type FramingMode = 'auto' | 'octet-counting' | 'lf';

/** Counters a framer keeps; the source adds them to its metrics. */
export interface FramerStats {
  frames: number;
  truncated: number;
  /** Octet-counting headers that were malformed; the framer fell back to LF framing. */
  invalidHeaders: number;
  /** Bytes skipped past a truncation point. */
  skippedBytes: number;
}

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const SP = 0x20;

/**
 * Incremental framer for one TCP/TLS connection. Feed chunks with `push`, get complete
 * frames back; call `end` when the connection closes to flush a trailing partial frame
 * (a last line without LF is still a message — nothing is lost).
 *
 * @example
 * const f = new StreamFramer({ maxMessageSize: 65536 });
 * f.push(Buffer.from('12 <13>1 - - -')); // [] (partial)
 * f.push(Buffer.from(' - - -'));         // [{ bytes: '<13>1 - - - - -', truncated: false }]
 */
export class StreamFramer {
  readonly maxMessageSize: number;
  private mode: FramingMode;
  private readonly onInvalid: ((err: CollectorError) => void) | undefined;
  /** Pending bytes of the current (partial) frame or header. */
  private buf: Buffer = Buffer.alloc(0);
  /** Octet counting: bytes of the current frame still expected, or -1 while reading the header. */
  private need = -1;
  /** Bytes still to discard after a truncated frame (octet counting), or Infinity until the next LF. */
  private skip = 0;
  private curTruncated = false;
  readonly stats: FramerStats = { frames: 0, truncated: 0, invalidHeaders: 0, skippedBytes: 0 };

  constructor(opts: { maxMessageSize: number; mode?: FramingMode; onInvalid?: (err: CollectorError) => void }) {
    if (!Number.isInteger(opts.maxMessageSize) || opts.maxMessageSize < 16) {
      throw new RangeError('maxMessageSize must be an integer ≥ 16');
    }
    this.maxMessageSize = opts.maxMessageSize;
    this.mode = opts.mode ?? 'auto';
    this.onInvalid = opts.onInvalid;
  }

  /** The framing in use (after `auto` detection on the first byte). */
  get framing(): FramingMode {
    return this.mode;
  }

  /** Feeds one chunk; returns the frames it completed, in order. */
  push(chunk: Uint8Array): Frame[] {
    const out: Frame[] = [];
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (data.length > 0) {
      if (this.mode === 'auto') {
        const c = data[0]!;
        this.mode = c >= 0x31 && c <= 0x39 ? 'octet-counting' : 'lf';
      }
      data = this.mode === 'lf' ? this.pushLf(data, out) : this.pushOctet(data, out);
    }
    return out;
  }

  /** Flushes a partial frame at end of stream. */
  end(): Frame[] {
    const out: Frame[] = [];
    if (this.buf.length > 0) {
      if (this.mode === 'octet-counting' && this.need === -1) {
        // A dangling header without SP: keep the bytes as a message rather than drop them.
        this.emit(out, this.buf, this.curTruncated);
      } else if (this.mode === 'octet-counting') {
        this.emit(out, this.buf, true);
      } else {
        this.emit(out, stripTrailer(this.buf), this.curTruncated);
      }
    }
    this.buf = Buffer.alloc(0);
    this.need = -1;
    this.skip = 0;
    this.curTruncated = false;
    return out;
  }

  private emit(out: Frame[], bytes: Buffer, truncated: boolean): void {
    if (bytes.length === 0) return;
    this.stats.frames++;
    if (truncated) this.stats.truncated++;
    out.push({ bytes, truncated });
  }

  private pushLf(data: Buffer, out: Frame[]): Buffer {
    let pos = 0;
    const nul = { at: data.indexOf(NUL) };
    if (this.skip > 0) {
      const e = indexOfTerminator(data, 0, nul);
      if (e === -1) {
        this.stats.skippedBytes += data.length;
        return data.subarray(data.length);
      }
      this.stats.skippedBytes += e;
      this.skip = 0;
      pos = e + 1;
    }
    for (;;) {
      const e = indexOfTerminator(data, pos, nul);
      if (e === -1) break;
      let frame = data.subarray(pos, e);
      if (this.buf.length > 0) {
        frame = Buffer.concat([this.buf, frame]);
        this.buf = Buffer.alloc(0);
      }
      const cut = frame.length > this.maxMessageSize;
      this.emit(out, stripCr(cut ? frame.subarray(0, this.maxMessageSize) : frame), cut);
      if (cut) this.stats.skippedBytes += frame.length - this.maxMessageSize;
      pos = e + 1;
    }
    const rest = data.subarray(pos);
    if (rest.length > 0) {
      const total = this.buf.length + rest.length;
      if (total > this.maxMessageSize) {
        // Bounded memory: emit the first maxMessageSize bytes now and skip to the next terminator.
        const joined = Buffer.concat([this.buf, rest]);
        this.emit(out, joined.subarray(0, this.maxMessageSize), true);
        this.stats.skippedBytes += joined.length - this.maxMessageSize;
        this.buf = Buffer.alloc(0);
        this.skip = Infinity;
      } else {
        // Copy so the caller's chunk can be reused or released.
        this.buf = this.buf.length === 0 ? Buffer.from(rest) : Buffer.concat([this.buf, rest]);
      }
    }
    return data.subarray(data.length);
  }

  private pushOctet(data: Buffer, out: Frame[]): Buffer {
    let pos = 0;
    while (pos < data.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length - pos);
        this.skip -= n;
        this.stats.skippedBytes += n;
        pos += n;
        continue;
      }
      if (this.need === -1) {
        // Header: MSG-LEN SP, MSG-LEN = NONZERO-DIGIT *DIGIT (RFC 6587 §3.4.1).
        const sp = data.indexOf(SP, pos);
        const end = sp === -1 ? data.length : sp;
        const header = this.buf.length > 0 ? Buffer.concat([this.buf, data.subarray(pos, end)]) : data.subarray(pos, end);
        const bad = !validLength(header, sp !== -1);
        if (bad) {
          this.stats.invalidHeaders++;
          this.onInvalid?.(new CollectorError('COL_ERR_FRAME_INVALID', 'malformed octet-counting header; falling back to LF framing'));
          // Recover without losing bytes: treat what we have as LF-framed text.
          this.mode = 'lf';
          const pending = Buffer.concat([header, data.subarray(end)]);
          this.buf = Buffer.alloc(0);
          return pending;
        }
        if (sp === -1) {
          this.buf = Buffer.from(header);
          return data.subarray(data.length);
        }
        this.buf = Buffer.alloc(0);
        const len = Number(header.toString('latin1'));
        this.curTruncated = len > this.maxMessageSize;
        this.need = Math.min(len, this.maxMessageSize);
        this.skip = 0;
        this.pendingSkip = len - this.need;
        pos = sp + 1;
        if (this.need === 0) this.finishOctet(out);
        continue;
      }
      const n = Math.min(this.need, data.length - pos);
      const piece = data.subarray(pos, pos + n);
      this.buf = this.buf.length === 0 ? (n === this.need ? piece : Buffer.from(piece)) : Buffer.concat([this.buf, piece]);
      this.need -= n;
      pos += n;
      if (this.need === 0) this.finishOctet(out);
    }
    return data.subarray(data.length);
  }

  private pendingSkip = 0;

  private finishOctet(out: Frame[]): void {
    // A trailing LF inside an octet-counted frame is part of the count; strip it as rsyslog does.
    this.emit(out, stripTrailer(this.buf), this.curTruncated);
    this.buf = Buffer.alloc(0);
    this.need = -1;
    this.skip = this.pendingSkip;
    this.pendingSkip = 0;
    this.curTruncated = false;
  }
}

/** MSG-LEN check: 1–9 digits (≤ 999,999,999 octets), first non-zero; a partial header may still grow. */
function validLength(h: Buffer, complete: boolean): boolean {
  if (h.length === 0) return !complete;
  if (h.length > 9) return false;
  if (h[0]! < 0x31 || h[0]! > 0x39) return false;
  for (let i = 1; i < h.length; i++) if (h[i]! < 0x30 || h[i]! > 0x39) return false;
  return true;
}

/**
 * Finds the next LF or NUL terminator. `nul` caches the next NUL position so a chunk with
 * many lines is scanned once, not once per line.
 */
function indexOfTerminator(b: Buffer, from: number, nul: { at: number }): number {
  if (nul.at !== -1 && nul.at < from) nul.at = b.indexOf(NUL, from);
  const lf = b.indexOf(LF, from);
  if (nul.at === -1) return lf;
  if (lf === -1) return nul.at;
  return Math.min(lf, nul.at);
}

function stripCr(b: Buffer): Buffer {
  return b.length > 0 && b[b.length - 1] === CR ? b.subarray(0, b.length - 1) : b;
}

function stripTrailer(b: Buffer): Buffer {
  let e = b.length;
  while (e > 0 && (b[e - 1] === LF || b[e - 1] === CR || b[e - 1] === NUL)) e--;
  return b.subarray(0, e);
}

/**
 * Splits a datagram or a file chunk that holds exactly one message (UDP, RFC 5426 §3.1:
 * one message per datagram) and trims trailing LF/CR/NUL; cuts at `maxMessageSize`.
 *
 * @example
 * datagramFrame(Buffer.from('<13>hi\n'), 2048); // { bytes: '<13>hi', truncated: false }
 */
export function datagramFrame(bytes: Uint8Array, maxMessageSize: number): Frame {
  const b = stripTrailer(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return b.length > maxMessageSize ? { bytes: b.subarray(0, maxMessageSize), truncated: true } : { bytes: b, truncated: false };
}
