// The compliance routes on a real Fastify instance over a real SQLite store, via real HTTP.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { openSqliteStore } from '../src/storage/sqlite.js';
import { complyRoutes } from '../src/comply/index.js';

const CSV = readFileSync(fileURLToPath(new URL('../../test/fixtures/comply/assets.csv', import.meta.url)), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'xa-comply-api-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('import assets, list, run over HTTP; bad input is 400/404, no token is 401', async () => {
  const store = await openSqliteStore({ dir });
  const app = Fastify();
  await app.register(complyRoutes, { store, dataDir: dir, socConfig: { level: 3 }, auth: (req) => req.headers.authorization === 'Bearer t' });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const H = { authorization: 'Bearer t' };
  try {
    assert.equal((await fetch(`${base}/api/v1/comply/inventory`)).status, 401);
    const imp = await fetch(`${base}/api/v1/comply/assets/import`, { method: 'POST', headers: { ...H, 'content-type': 'text/csv' }, body: CSV });
    assert.equal(imp.status, 200);
    assert.deepEqual(await imp.json(), { imported: 3, systems: 1, assets: 3 });
    const inv = (await (await fetch(`${base}/api/v1/comply/inventory`, { headers: H })).json()) as { assets: unknown[] };
    assert.equal(inv.assets.length, 3);
    const run = await fetch(`${base}/api/v1/comply/runs`, { method: 'POST', headers: { ...H, 'content-type': 'application/json' }, body: JSON.stringify({ system: 'S1', level: 3 }) });
    assert.equal(run.status, 200);
    const a = (await run.json()) as { kind: string; items: { controlId: string; judgement: string }[] };
    assert.equal(a.kind, 'self-assessment');
    // Nothing stored: every asset is silent → 不符合.
    assert.equal(a.items.find((i) => i.controlId === 'djcp-3-8.1.4.3.a')!.judgement, '不符合');
    assert.equal((await fetch(`${base}/api/v1/comply/runs`, { method: 'POST', headers: { ...H, 'content-type': 'application/json' }, body: JSON.stringify({ system: 'nope' }) })).status, 404);
    assert.equal((await fetch(`${base}/api/v1/comply/runs`, { method: 'POST', headers: { ...H, 'content-type': 'application/json' }, body: JSON.stringify({ system: 'S1', level: 4 }) })).status, 400);
    const badCsv = await fetch(`${base}/api/v1/comply/assets/import`, { method: 'POST', headers: { ...H, 'content-type': 'text/csv' }, body: 'id,type\n' });
    assert.equal(badCsv.status, 400);
    assert.equal(((await badCsv.json()) as { code: string }).code, 'SOC_ERR_COMPLY_CSV');
  } finally {
    await app.close();
    await store.close();
  }
});
