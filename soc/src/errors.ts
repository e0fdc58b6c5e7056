/**
 * Errors of `@xiangan/soc`.
 *
 * Misuse (a wrong option type, a negative size) throws `TypeError`/`RangeError`.
 * Failures of data or environment (a bad config file, an unparsable query, a store that
 * cannot write) throw {@link SocError} with a stable `code` listed in `docs/errors.md`.
 * At the HTTP edge each code maps to a status ({@link SOC_ERROR_STATUS}) and the body
 * `{ "code": …, "message": … }`.
 *
 * @example
 * try { parseQuery('user.name:(root'); }
 * catch (e) { if (e instanceof SocError && e.code === 'SOC_ERR_QUERY') reply.code(400); }
 */
export class SocError extends Error {
  override readonly name = 'SocError';
  /** Stable machine-readable code, e.g. `SOC_ERR_QUERY`. */
  readonly code: SocErrorCode;
  /** Extra machine-readable detail (a config path, a query position). */
  readonly details?: Record<string, unknown>;
  constructor(code: SocErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options?.details) this.details = options.details;
  }
}

/**
 * Every code `SocError` can carry, with its meaning. `docs/errors.md` is kept in sync with
 * this table by a test: add a code here and document it there.
 */
export const SOC_ERROR_CODES = {
  SOC_ERR_CONFIG: 'the configuration file is unreadable, not YAML, or fails the schema (the message names the path of the bad key)',
  SOC_ERR_QUERY: 'a search query does not parse or uses a value the field cannot hold (the message names the position)',
  SOC_ERR_CURSOR: 'a search or alert-list cursor is malformed, belongs to another sort order, or was made under other filters (HTTP 400)',
  SOC_ERR_STORE_OPEN: 'the event store could not be opened (unwritable directory, corrupt database, newer schema)',
  SOC_ERR_STORE_WRITE: 'the event store failed to commit a batch (disk full, I/O error); the batch stays buffered and is retried',
  SOC_ERR_STORE_CLOSED: 'the event store or buffer was used after close',
  SOC_ERR_BUFFER_IO: 'the durable buffer could not read or write its database (disk full, I/O error)',
  SOC_ERR_UNAUTHORIZED: 'an API request carried no valid bearer token',
  SOC_ERR_INGEST_INVALID: 'an HTTP ingest body is not NDJSON or a JSON array of objects, or an event fails the schema',
  SOC_ERR_PAYLOAD_TOO_LARGE: 'an HTTP ingest body exceeds the configured maximum size',
  SOC_ERR_BACKPRESSURE: 'the durable buffer is full; the client should retry later (HTTP 429)',
  SOC_ERR_UNAVAILABLE: 'the server is starting or shutting down, or the buffer cannot be written (HTTP 503)',
  SOC_ERR_ALERT_NOT_FOUND: 'no alert, suppression or rule with the given id (HTTP 404)',
  SOC_ERR_ALERT_TRANSITION: 'the alert lifecycle does not allow this status change (HTTP 409)',
  SOC_ERR_NOTIFY: 'a notification channel refused or failed a delivery; the outbox retries it with back-off',
  SOC_ERR_INTEGRITY: 'tamper evidence cannot work: the signing key or certificate cannot be loaded, the checkpoint database cannot be written, or an event has no inclusion proof yet',
  SOC_ERR_FORBIDDEN: "the caller's role or API token lacks the permission the route needs (HTTP 403)",
  SOC_ERR_LOGIN_FAILED: 'wrong user name, password, TOTP code or SM2 signature (never says which; HTTP 401)',
  SOC_ERR_LOCKED: 'the user is locked after repeated login failures or disabled (HTTP 423)',
  SOC_ERR_TOTP_REQUIRED: 'the password was right but a TOTP code is required; post again with `totp` (HTTP 401)',
  SOC_ERR_SESSION_EXPIRED: 'the session passed its idle or absolute timeout, or was ended (HTTP 401)',
  SOC_ERR_CSRF: 'a cookie-authenticated state-changing request lacked the matching `x-csrf-token` header (HTTP 403)',
  SOC_ERR_PASSWORD_CHANGE_REQUIRED: 'the user must change a one-time password before using other routes (HTTP 403)',
  SOC_ERR_TOTP_ENROLMENT_REQUIRED: 'TOTP is required (level 3) and the user has not enrolled yet (HTTP 403)',
  SOC_ERR_PASSWORD_POLICY: 'a new password is too short, too simple or equal to the old one (HTTP 400)',
  SOC_ERR_USER_NOT_FOUND: 'no user, API token or session with the given name or id (HTTP 404)',
  SOC_ERR_USER_EXISTS: 'a user with this name exists already (HTTP 409)',
  SOC_ERR_RATE_LIMITED: 'too many requests from this client; retry after the time in `retry-after` (HTTP 429)',
  SOC_ERR_RULE_INSTALL: 'a rule chosen for installation is not among the pasted rules, clashes with a built-in or configured rule, or does not compile in the running engine; nothing was installed (HTTP 400)',
  SOC_ERR_WINDOWS_CHECKPOINT: "the detector's saved correlation windows cannot be read or do not parse (`detector.windows.json` unreadable, truncated or corrupt); at start-up detection goes on with empty windows and logs this code",
} as const;

/** A code `SocError` can carry. */
export type SocErrorCode = keyof typeof SOC_ERROR_CODES;

/** HTTP status for each code that can reach the API edge. */
export const SOC_ERROR_STATUS: Record<SocErrorCode, number> = {
  SOC_ERR_CONFIG: 500,
  SOC_ERR_QUERY: 400,
  SOC_ERR_CURSOR: 400,
  SOC_ERR_STORE_OPEN: 503,
  SOC_ERR_STORE_WRITE: 503,
  SOC_ERR_STORE_CLOSED: 503,
  SOC_ERR_BUFFER_IO: 503,
  SOC_ERR_UNAUTHORIZED: 401,
  SOC_ERR_INGEST_INVALID: 400,
  SOC_ERR_PAYLOAD_TOO_LARGE: 413,
  SOC_ERR_BACKPRESSURE: 429,
  SOC_ERR_UNAVAILABLE: 503,
  SOC_ERR_ALERT_NOT_FOUND: 404,
  SOC_ERR_ALERT_TRANSITION: 409,
  SOC_ERR_NOTIFY: 502,
  SOC_ERR_INTEGRITY: 500,
  SOC_ERR_FORBIDDEN: 403,
  SOC_ERR_LOGIN_FAILED: 401,
  SOC_ERR_LOCKED: 423,
  SOC_ERR_TOTP_REQUIRED: 401,
  SOC_ERR_SESSION_EXPIRED: 401,
  SOC_ERR_CSRF: 403,
  SOC_ERR_PASSWORD_CHANGE_REQUIRED: 403,
  SOC_ERR_TOTP_ENROLMENT_REQUIRED: 403,
  SOC_ERR_PASSWORD_POLICY: 400,
  SOC_ERR_USER_NOT_FOUND: 404,
  SOC_ERR_USER_EXISTS: 409,
  SOC_ERR_RATE_LIMITED: 429,
  SOC_ERR_RULE_INSTALL: 400,
  SOC_ERR_WINDOWS_CHECKPOINT: 500,
};
