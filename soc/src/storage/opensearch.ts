/**
 * OpenSearch 2 adapter of {@link SearchEngineEventStore}, through the official
 * `@opensearch-project/opensearch` client.
 */
import type { ConnectionOptions } from 'node:tls';
import { openEngine, type EngineTransport, type SearchEngineEventStore, type SearchEngineStoreOptions } from './search-engine.js';

/** Where the cluster is and how to authenticate; plus the store options. */
export interface OpenSearchStoreOptions extends SearchEngineStoreOptions {
  /** One URL or several. */
  node: string | string[];
  /** Basic auth (the security plugin's internal users or LDAP). */
  auth?: { username: string; password: string };
  /** TLS options of Node's `tls.connect` (`ca`, `cert`, `key`, `rejectUnauthorized`). */
  tls?: ConnectionOptions;
  /** Per-request timeout in ms; default 30,000. */
  requestTimeoutMs?: number;
  /** Retention of the ISM policy when the cluster has the ISM plugin; default 180 days. */
  retentionDays?: number;
}

/**
 * Open an OpenSearch-backed event store: installs the index template and, where the ISM plugin
 * exists, the retention policy.
 *
 * @example
 * ```ts
 * const store = await openOpenSearchStore({ node: 'https://os1:9200', auth: { username: 'xiangan', password }, tls: { ca } });
 * ```
 */
export async function openOpenSearchStore(opts: OpenSearchStoreOptions): Promise<SearchEngineEventStore> {
  // Loaded here, not at start-up: the client is ~20–40 MB resident and the SQLite default never uses it.
  const { Client } = await import('@opensearch-project/opensearch');
  if (!opts || (typeof opts.node !== 'string' && !Array.isArray(opts.node))) throw new TypeError('openOpenSearchStore: node must be a URL or a list of URLs');
  const client = new Client({
    node: opts.node,
    ...(opts.auth ? { auth: opts.auth } : {}),
    ...(opts.tls ? { ssl: opts.tls } : {}),
    requestTimeout: opts.requestTimeoutMs ?? 30_000,
    maxRetries: 1,
  });
  const request: EngineTransport['request'] = async (method, path, body, ndjson) => {
    const r = await client.transport.request(
      { method, path, ...(ndjson !== undefined ? { bulkBody: ndjson } : body !== undefined ? { body: body as Record<string, unknown> } : {}) },
      { ignore: [400, 401, 403, 404, 409, 429, 500, 502, 503, 504] },
    );
    return { status: r.statusCode ?? 0, body: r.body };
  };
  return openEngine('opensearch', opts.node, request, () => client.close(), opts);
}
