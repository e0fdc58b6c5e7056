// One alert-store suite (alert-store-suite.ts) over SQLite and over real Elasticsearch and
// OpenSearch nodes: the engine alert store keeps the SQLite store's dedup, suppression and
// lifecycle rules.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteAlertStore } from '../src/alerts/sqlite.js';
import { openEngineAlertStore } from '../src/alerts/engine.js';
import { alertStoreSuite } from './alert-store-suite.js';
import { openEngineStore } from './engine-env.js';

alertStoreSuite('sqlite', async (opts) => {
  const dir = mkdtempSync(join(tmpdir(), 'xa-alerts-'));
  const store = await openSqliteAlertStore({ dir, ...opts });
  return {
    store,
    dispose: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

for (const kind of ['es', 'os'] as const) {
  alertStoreSuite(kind === 'es' ? 'elasticsearch' : 'opensearch', async (opts) => {
    const events = await openEngineStore(kind);
    const store = await openEngineAlertStore(events.store, opts);
    return {
      store,
      dispose: async () => {
        await store.close();
        await events.dispose();
      },
    };
  });
}
