// Thin client for the SOC API: session cookie + CSRF header (soc/README.md "Session and CSRF
// contract"), errors as { code, message }, and the live stream over EventSource.

/** An API failure with the server's stable code (docs/errors.md). */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

let csrfToken = '';

/** Remember the CSRF token from the login answer (also readable from the xa_csrf cookie). */
export function setCsrf(token: string): void {
  csrfToken = token;
}

function csrf(): string {
  if (csrfToken) return csrfToken;
  const m = /(?:^|;\s*)xa_csrf=([^;]+)/.exec(document.cookie);
  return m ? decodeURIComponent(m[1]!) : '';
}

/** Called when any request answers 401 outside login: the shell shows the login page. */
export let onUnauthorized: (code: string) => void = () => undefined;
export function setUnauthorizedHandler(f: (code: string) => void): void {
  onUnauthorized = f;
}

/** One JSON request; state-changing methods carry x-csrf-token. */
export async function api<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['x-csrf-token'] = csrf();
  const res = await fetch(url, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  let data: unknown = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!res.ok) throw failure(res, url, data);
  return data as T;
}

function failure(res: Response, url: string, data: unknown): ApiError {
  const e = (data ?? {}) as { code?: string; message?: string };
  const err = new ApiError(res.status, e.code ?? `HTTP_${res.status}`, e.message ?? res.statusText);
  if (res.status === 401 && !url.startsWith('/api/v1/auth/login')) onUnauthorized(err.code);
  return err;
}

/**
 * A request with a raw body (a CSV, a device configuration) or a file answer (a report): the
 * response itself on success, the same {@link ApiError} as {@link api} on failure.
 */
export async function apiRaw(method: string, url: string, body?: string | Blob, contentType?: string): Promise<Response> {
  const headers: Record<string, string> = {};
  if (contentType) headers['content-type'] = contentType;
  if (method !== 'GET' && method !== 'HEAD') headers['x-csrf-token'] = csrf();
  const res = await fetch(url, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body } : {}) });
  if (res.ok) return res;
  let data: unknown;
  try {
    data = await res.json();
  } catch {
    data = undefined;
  }
  throw failure(res, url, data);
}

/** Whether a route exists on this server (404 means the part is not installed). */
export async function available(url: string): Promise<boolean> {
  const res = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  return res.status !== 404;
}

export interface Me {
  username: string;
  displayName?: string;
  role: string;
  permissions: string[];
  mustChangePassword: boolean;
  totpEnabled: boolean;
  totpRequired: boolean;
}

export interface Alert {
  id: string;
  ruleId: string;
  title: string;
  severity: string;
  riskScore: number;
  tags: string[];
  kind: string;
  group: Record<string, string>;
  status: string;
  assignee: string | null;
  count: number;
  firstSeen: string;
  lastSeen: string;
  createdAt: string;
  updatedAt: string;
  eventIds: string[];
}

export interface AlertDetail {
  alert: Alert;
  events: Record<string, unknown>[];
  history: { at: string; actor: string; action: string; from?: string | null; to?: string | null; note?: string }[];
  comments: { id: number; at: string; actor: string; text: string }[];
}

export interface SearchResult {
  total: number;
  events: Record<string, unknown>[];
  facets: Record<string, { value: string | number | boolean; count: number }[]>;
  nextCursor?: string;
}

/** Subscribe to the live stream; returns the close function. EventSource resends Last-Event-ID. */
export function stream(handlers: { alert?: (a: Alert) => void; counts?: (c: { t: string; events: number }) => void; reset?: () => void; state?: (open: boolean) => void }): () => void {
  const es = new EventSource('/api/v1/stream', { withCredentials: true });
  const parse = (f?: (x: never) => void) => (m: MessageEvent<string>) => {
    if (!f) return;
    try {
      f(JSON.parse(m.data) as never);
    } catch {
      // A frame that is not JSON is ignored, the stream stays open.
    }
  };
  es.addEventListener('alert', parse(handlers.alert));
  es.addEventListener('counts', parse(handlers.counts));
  es.addEventListener('reset', () => handlers.reset?.());
  es.onopen = () => handlers.state?.(true);
  es.onerror = () => handlers.state?.(false);
  return () => es.close();
}
