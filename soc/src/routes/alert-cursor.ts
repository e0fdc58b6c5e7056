/**
 * Opaque keyset cursors of `GET /api/v1/alerts`. A cursor names the last alert of a page by its
 * position in the list order (`lastSeen` descending, `id` ascending) and a fingerprint of the
 * filter it was made under, so the next page starts right after that alert however many alerts
 * arrived meanwhile (offset paging would repeat rows then), and a cursor replayed under another
 * filter is refused instead of silently skipping alerts.
 *
 * Format: base64url (RFC 4648 §5) of the JSON `[1, lastSeen, id, fingerprint]`. It is not a
 * secret: it only says where a page ends, and every alert it could reach is readable anyway.
 */
import { createHash } from 'node:crypto';
import type { AlertKey } from '../alerts/types.js';
import { SocError } from '../errors.js';

/** The list filters a cursor is bound to (the query string without size, offset and cursor). */
export interface AlertCursorFilter {
  status?: readonly string[];
  severity?: string;
  rule?: string;
  assignee?: string;
  from?: string;
  to?: string;
}

const VERSION = 1;
/** Longest cursor accepted: two bounded strings and a fingerprint, base64url-encoded. */
export const MAX_ALERT_CURSOR_LENGTH = 1024;

function fingerprint(f: AlertCursorFilter): string {
  const canonical = JSON.stringify([[...new Set(f.status ?? [])].sort(), f.severity ?? null, f.rule ?? null, f.assignee ?? null, f.from ?? null, f.to ?? null]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}

/**
 * The cursor of the page after `last` under `filter`.
 *
 * @example
 * const next = encodeAlertCursor(page.alerts.at(-1)!, { status: ['new'] });
 */
export function encodeAlertCursor(last: AlertKey, filter: AlertCursorFilter): string {
  return Buffer.from(JSON.stringify([VERSION, last.lastSeen, last.id, fingerprint(filter)])).toString('base64url');
}

/**
 * Inverse of {@link encodeAlertCursor}: `SOC_ERR_CURSOR` (HTTP 400) when the cursor is malformed,
 * of another version, or was made under another filter.
 *
 * @example
 * const after = decodeAlertCursor(req.query.cursor, { status: ['new'] });
 */
export function decodeAlertCursor(cursor: string, filter: AlertCursorFilter): AlertKey {
  let v: unknown;
  try {
    if (cursor.length > MAX_ALERT_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('not base64url');
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new SocError('SOC_ERR_CURSOR', 'alerts: malformed cursor');
  }
  if (!Array.isArray(v) || v.length !== 4 || v[0] !== VERSION || typeof v[1] !== 'string' || typeof v[2] !== 'string' || typeof v[3] !== 'string' || !v[1] || !v[2]) {
    throw new SocError('SOC_ERR_CURSOR', 'alerts: malformed cursor');
  }
  if (v[3] !== fingerprint(filter)) throw new SocError('SOC_ERR_CURSOR', 'alerts: cursor was made under other filters; start again from the first page');
  return { lastSeen: v[1], id: v[2] };
}
