// Real engines for the Elasticsearch/OpenSearch suites: where they are (XIANGAN_ES_URL,
// XIANGAN_OS_URL), and a check that FAILS in CI when one is down (CI starts both through
// .ci/services/engines.sh); outside CI an unreachable engine is started with scripts/engines.sh.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openElasticStore } from '../src/storage/elastic.js';
import { openOpenSearchStore } from '../src/storage/opensearch.js';
import type { SearchEngineEventStore, SearchEngineStoreOptions } from '../src/storage/search-engine.js';

export type EngineKind = 'es' | 'os';
const REPO = resolve(import.meta.dirname, '../../..');

/** Base URL of an engine under test. */
export function engineUrl(kind: EngineKind): string {
  return kind === 'es' ? (process.env['XIANGAN_ES_URL'] ?? 'http://127.0.0.1:19200') : (process.env['XIANGAN_OS_URL'] ?? 'http://127.0.0.1:19201');
}

async function healthy(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/_cluster/health?wait_for_status=yellow&timeout=5s`, { signal: AbortSignal.timeout(10_000) });
    return r.ok;
  } catch {
    return false;
  }
}

/** Resolves when the engine answers; throws (never skips) when it cannot be had. */
export async function ensureEngine(kind: EngineKind): Promise<string> {
  const url = engineUrl(kind);
  if (await healthy(url)) return url;
  if (process.env['CI'] === 'true') throw new Error(`${kind} is not reachable at ${url}: .ci/services/engines.sh must start it`);
  const r = spawnSync('bash', [resolve(REPO, 'scripts/engines.sh'), 'start', kind], { stdio: 'inherit', env: { ...process.env, XIANGAN_ENGINE_HEAP: process.env['XIANGAN_ENGINE_HEAP'] ?? '512m' } });
  if (r.status !== 0 || !(await healthy(url))) throw new Error(`${kind} could not be started at ${url}`);
  return url;
}

/**
 * Delete the indices matching a pattern by name: Elasticsearch 8 refuses wildcard deletes
 * (`action.destructive_requires_name` defaults to true), which left test indices behind.
 */
export async function deleteIndices(url: string, pattern: string): Promise<void> {
  const r = await fetch(`${url}/_cat/indices/${pattern}?format=json&h=index&expand_wildcards=all`);
  if (!r.ok) return;
  const names = ((await r.json()) as Array<{ index: string }>).map((x) => x.index);
  for (let i = 0; i < names.length; i += 50) await fetch(`${url}/${names.slice(i, i + 50).join(',')}`, { method: 'DELETE' });
}

/** A fresh, empty store with a unique index prefix, and how to remove its indices again. */
export async function openEngineStore(kind: EngineKind, opts: SearchEngineStoreOptions = {}): Promise<{ store: SearchEngineEventStore; prefix: string; dispose: () => Promise<void> }> {
  const url = await ensureEngine(kind);
  const prefix = opts.prefix ?? `xt-${randomBytes(4).toString('hex')}`;
  const store = kind === 'es' ? await openElasticStore({ node: url, ...opts, prefix }) : await openOpenSearchStore({ node: url, ...opts, prefix });
  return {
    store,
    prefix,
    dispose: async () => {
      await store.close();
      await deleteIndices(url, `${prefix}-*`);
      await fetch(`${url}/_index_template/${prefix}-events`, { method: 'DELETE' });
    },
  };
}

/**
 * Start an extra engine node through scripts/engines.sh (its own config and data dir); throws when
 * it does not come up. `seeds`/`masters` make it a member of a multi-node cluster.
 */
export function startNode(kind: EngineKind, name: string, http: number, transport: number, seeds?: string, masters?: string): void {
  const args = [resolve(REPO, 'scripts/engines.sh'), 'node', kind, name, String(http), String(transport), ...(seeds && masters ? [seeds, masters] : [])];
  const r = spawnSync('bash', args, { stdio: 'inherit', env: { ...process.env, XIANGAN_ENGINE_HEAP: process.env['XIANGAN_ENGINE_HEAP'] ?? '512m' } });
  if (r.status !== 0) throw new Error(`engine node ${name} did not start`);
}

/** SIGTERM an extra node (`rm: true` also deletes its data). */
export function stopNode(name: string, rm = false): void {
  spawnSync('bash', [resolve(REPO, 'scripts/engines.sh'), rm ? 'rm-node' : 'stop-node', name], { stdio: 'inherit' });
}

/** Start a node in the background; the promise settles when scripts/engines.sh returns. */
export function startNodeAsync(kind: EngineKind, name: string, http: number, transport: number, seeds?: string, masters?: string): Promise<void> {
  return new Promise((ok, fail) => {
    import('node:child_process').then(({ spawn }) => {
      const args = [resolve(REPO, 'scripts/engines.sh'), 'node', kind, name, String(http), String(transport), ...(seeds && masters ? [seeds, masters] : [])];
      const p = spawn('bash', args, { stdio: 'inherit', env: { ...process.env, XIANGAN_ENGINE_HEAP: process.env['XIANGAN_ENGINE_HEAP'] ?? '512m' } });
      p.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`engine node ${name} did not start`))));
    }, fail);
  });
}
