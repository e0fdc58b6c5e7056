// The running server chains what it stores: events ingested over HTTP on loopback and audit
// records, checkpoints signed by the server's own key (created at first start from a real CA),
// a clean verification after a stop and again after a restart with more events.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../src/config/load.js';
import { startServer } from '../src/server.js';
import { createLogger } from '../src/logger.js';
import { AuditStore, auditLog } from '../src/audit/index.js';
import { openIntegrity, verifyIntegrity, identityFiles } from '../src/integrity/index.js';

const TOKEN = 'integrity-token-0123456789abcdef';
const silent = createLogger({ level: 'silent' });

const cfgFor = (dir: string) =>
  validateConfig({
    data: dir,
    log: { level: 'silent' },
    storage: { synchronous: 'normal' },
    api: { port: 0, tokens: [TOKEN] },
    syslog: { enabled: false },
    integrity: { passphrase: 'server integrity passphrase', checkpointSeconds: 1 },
  });

async function ingestAndWait(port: number, day: string, from: number, n: number, total: number, srv: Awaited<ReturnType<typeof startServer>>): Promise<void> {
  const body = Array.from({ length: n }, (_, i) => JSON.stringify({ '@timestamp': `${day}T01:00:${String(from + i).padStart(2, '0')}Z`, message: `chained ${from + i}`, event: { action: 'chain-test' } })).join('\n') + '\n';
  const r = await fetch(`http://127.0.0.1:${port}/api/v1/ingest`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' }, body });
  assert.equal(r.status, 200);
  const t0 = Date.now();
  while ((await srv.runtime.store.stats()).events < total) {
    if (Date.now() - t0 > 15_000) assert.fail('events not stored in time');
    await new Promise((res) => setTimeout(res, 25));
  }
}

async function verify(dir: string) {
  const o = openIntegrity(dir);
  try {
    return await verifyIntegrity(o);
  } finally {
    o.close();
  }
}

describe('tamper evidence in the running server', () => {
  test('events and audit records are chained and signed; clean after stop and after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xa-integrity-server-'));
    try {
      let srv = await startServer(cfgFor(dir), { logger: silent });
      assert.ok(existsSync(identityFiles(dir).key), 'signing key created at first start');
      await ingestAndWait(srv.api.port, '2026-11-28', 0, 5, 5, srv);
      auditLog.record({ actor: 'tester', action: 'config.change', target: 'integrity', outcome: 'success' });
      await srv.stop();
      let r = await verify(dir);
      assert.deepEqual(r.findings, []);
      assert.equal(r.unanchored, 0);
      assert.ok(r.records >= 6, `records ${r.records}`);
      assert.ok(r.checkpoints >= 2);
      const trail = AuditStore.open({ dir, readonly: true });
      assert.deepEqual(trail.list().map((a) => a.action), ['key.create', 'config.change']);
      trail.close();

      srv = await startServer(cfgFor(dir), { logger: silent });
      await ingestAndWait(srv.api.port, '2026-11-28', 10, 3, 8, srv);
      await srv.stop();
      r = await verify(dir);
      assert.deepEqual(r.findings, []);
      assert.equal(r.unanchored, 0);
      assert.ok(r.records >= 9);
    } finally {
      auditLog.detach();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
