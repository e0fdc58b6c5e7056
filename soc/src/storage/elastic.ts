/**
 * Elasticsearch 8/9 adapter of {@link SearchEngineEventStore}, through the official
 * `@elastic/elasticsearch` client (which refuses to talk to OpenSearch: see `./opensearch.ts`).
 */
import type { ConnectionOptions } from 'node:tls';
import { openEngine, type EngineTransport, type SearchEngineEventStore, type SearchEngineStoreOptions } from './search-engine.js';

/** Where the cluster is and how to authenticate; plus the store options. */
export interface ElasticStoreOptions extends SearchEngineStoreOptions {
  /** One URL or several (the client round-robins and retries on another node). */
  node: string | string[];
  /** Basic auth, or an API key (`id:key` base64, as Kibana shows it). */
  auth?: { username: string; password: string } | { apiKey: string };
  /** TLS options of Node's `tls.connect` (`ca`, `cert`, `key`, `rejectUnauthorized`). */
  tls?: ConnectionOptions;
  /** Per-request timeout in ms; default 30,000. */
  requestTimeoutMs?: number;
  /** Retention of the lifecycle policy when the cluster has ILM; default 180 days. */
  retentionDays?: number;
}

// The v9 client asks for `compatible-with=9` media types, which an 8.x node refuses; plain JSON
// works with both (the bodies we send and read are the same in 8 and 9).
const JSON_HEADERS = { accept: 'application/json', 'content-type': 'application/json' };
const NDJSON_HEADERS = { accept: 'application/json', 'content-type': 'application/x-ndjson' };

/**
 * Open an Elasticsearch-backed event store: installs the index template and, where ILM exists,
 * the retention policy.
 *
 * @example
 * ```ts
 * const store = await openElasticStore({ node: 'https://es1:9200', auth: { apiKey: process.env.ES_KEY! }, prefix: 'xiangan' });
 * ```
 */
export async function openElasticStore(opts: ElasticStoreOptions): Promise<SearchEngineEventStore> {
  // Loaded here, not at start-up: the client is ~20–40 MB resident and the SQLite default never uses it.
  const { Client } = await import('@elastic/elasticsearch');
  if (!opts || (typeof opts.node !== 'string' && !Array.isArray(opts.node))) throw new TypeError('openElasticStore: node must be a URL or a list of URLs');
  const client = new Client({
    node: opts.node,
    ...(opts.auth ? { auth: opts.auth } : {}),
    ...(opts.tls ? { tls: opts.tls } : {}),
    requestTimeout: opts.requestTimeoutMs ?? 30_000,
    // Our store retries item by item with backoff; the client's own retries would hide a down cluster.
    maxRetries: 1,
  });
  const request: EngineTransport['request'] = async (method, path, body, ndjson) => {
    const r = await client.transport.request(
      { method, path, ...(ndjson !== undefined ? { bulkBody: ndjson } : body !== undefined ? { body: body as Record<string, unknown> } : {}) },
      { meta: true, ignore: [400, 401, 403, 404, 409, 429, 500, 502, 503, 504], headers: ndjson !== undefined ? NDJSON_HEADERS : JSON_HEADERS },
    );
    return { status: r.statusCode ?? 0, body: r.body };
  };
  return openEngine('elasticsearch', opts.node, request, () => client.close(), opts);
}
