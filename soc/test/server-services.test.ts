// The services `xiangan soc start` mounts beside the pipeline: the compliance routes always, and
// the crypto service when a KMS master secret is given — whose every call, refused ones too,
// arrives in the SOC's own event store as an `xiangan.kms` event.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../src/config/load.js';
import { startServer } from '../src/server.js';
import { createLogger } from '../src/logger.js';
import { parseQuery } from '../src/query/parse.js';

const TOKEN = 'test-token-0123456789abcdef';
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function config(dir: string) {
  return validateConfig({
    data: dir,
    log: { level: 'silent' },
    storage: { synchronous: 'normal' },
    api: { port: 0, tokens: [TOKEN] },
    syslog: { host: '127.0.0.1', udpPort: 0, tcpPort: 0 },
  });
}

test('compliance routes are mounted; the KMS runs only with a master secret and reports into the pipeline', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiangan-services-'));
  dirs.push(dir);
  const logger = createLogger({ level: 'silent' });

  const plain = await startServer(config(join(dir, 'a')), { logger });
  try {
    const base = `http://127.0.0.1:${plain.api.port}`;
    const inv = await fetch(`${base}/api/v1/comply/inventory`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(inv.status, 200);
    const kms = await fetch(`${base}/api/v1/kms/keys`);
    assert.equal(kms.status, 404, 'no KMS without a master secret');
    assert.equal(existsSync(join(dir, 'a', 'kms')), false);
  } finally {
    await plain.stop();
  }

  const srv = await startServer(config(join(dir, 'b')), { logger, kmsMasterSecret: 'correct horse battery staple' });
  try {
    const base = `http://127.0.0.1:${srv.api.port}`;
    const refused = await fetch(`${base}/api/v1/kms/keys`, { headers: { authorization: 'Bearer xkms_not-a-real-token' } });
    assert.equal(refused.status, 401);
    const body = (await refused.json()) as { code: string };
    assert.match(body.code, /^SOC_ERR_KMS_/);
    // The refused call is an event in the SOC's store (through the durable buffer and consumer).
    const t0 = Date.now();
    let total = 0;
    while (Date.now() - t0 < 15_000) {
      total = (await srv.runtime.store.search({ query: parseQuery('event.dataset:xiangan.kms AND event.outcome:failure'), size: 0 })).total;
      if (total > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(total >= 1, 'the refused KMS call reached the event store');
  } finally {
    await srv.stop();
  }
});
