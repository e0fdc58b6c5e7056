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
      await fetch(`${url}/${prefix}-*?expand_wildcards=all`, { method: 'DELETE' });
      await fetch(`${url}/_index_template/${prefix}-events`, { method: 'DELETE' });
    },
  };
}
