/**
 * Errors of `@xiangan/collectors`.
 *
 * Misuse (a wrong option type, a negative limit) throws `TypeError`/`RangeError`.
 * Failures of data or environment (a malformed frame, a full buffer, an unreadable
 * file) throw {@link CollectorError} with a stable `code` listed in `docs/errors.md`.
 *
 * Parsers never throw on malformed messages: they return the message marked as
 * unparsed so nothing is lost (issue 3). The codes below are for the cases where
 * a caller must react (push back, count a drop, log and go on).
 *
 * @example
 * try { await sink.append(events); }
 * catch (e) { if (e instanceof CollectorError && e.code === 'COL_ERR_BUFFER_FULL') pause(); }
 */
export class CollectorError extends Error {
  override readonly name = 'CollectorError';
  /** Stable machine-readable code, e.g. `COL_ERR_BUFFER_FULL`. */
  readonly code: CollectorErrorCode;
  constructor(code: CollectorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Every code `CollectorError` can carry, with its meaning. `docs/errors.md` is kept
 * in sync with this table by a test: add a code here and document it there.
 */
export const COLLECTOR_ERROR_CODES = {
  COL_ERR_BUFFER_FULL: 'the event buffer is at its bound; the source must push back (TCP/HTTP) or count a drop (UDP)',
  COL_ERR_FRAME_INVALID: 'an RFC 6587 octet-counted frame header is malformed (non-digit or over-long length)',
  COL_ERR_FRAME_TOO_LARGE: 'a frame exceeded the maximum message size and was truncated',
  COL_ERR_PARSE: 'a syslog message could not be parsed; it is kept as unparsed with its original bytes',
  COL_ERR_CHARSET: 'a charset name is unknown or the bytes could not be decoded; the bytes are kept escaped',
  COL_ERR_CONNECTION_LIMIT: 'a TCP/TLS connection was refused because the source is at its connection limit',
  COL_ERR_TLS: 'a TLS handshake failed or a client certificate was rejected',
  COL_ERR_SOURCE_IO: 'a source could not bind, read or stat (address in use, permission denied, file vanished)',
  COL_ERR_CHECKPOINT: 'a file-tail checkpoint could not be read or written',
  COL_ERR_SINK: 'the sink rejected a batch for a reason other than being full',
} as const;

/** A code `CollectorError` can carry. */
export type CollectorErrorCode = keyof typeof COLLECTOR_ERROR_CODES;
