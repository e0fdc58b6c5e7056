// GET /api/v1/keys/overview with the crypto service in the process: its keys (metadata only) and the
// certificate of each SM2 key version beside the SOC's own certificates, on a real Fastify over HTTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { CertificateAuthority } from '@xiangan/pki';
import { KmsService } from '../src/kms/index.js';
import { keysRoutes } from '../src/routes/keys.js';

test('keys overview lists the crypto service keys and their SM2 certificates, never key material', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xa-keys-overview-'));
  const ca = CertificateAuthority.init(join(dir, 'ca'), { passphrase: 'overview ca passphrase', kdfIterations: 1000 });
  const kms = KmsService.open({ dir: join(dir, 'kms'), masterSecret: 'overview master secret', iterations: 1000, ca });
  const app = Fastify();
  try {
    kms.createKey(kms.root, 'invoices', 'sm2-sign', { certificateSubject: '/C=CN/O=Xiangan/CN=invoice signer' });
    kms.rotateKey(kms.root, 'invoices');
    kms.createKey(kms.root, 'records', 'sm4');
    await app.register(keysRoutes, { dataDir: dir, kms, now: Date.now });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const r = await fetch(`${base}/api/v1/keys/overview`);
    assert.equal(r.status, 200);
    const text = await r.text();
    const b = JSON.parse(text) as {
      certificates: { source: string; subject: string; daysLeft: number }[];
      kms: { keys: { name: string; type: string; latestVersion: number; versions: number; disabled: boolean; destroyAt: string | null }[] };
    };
    assert.deepEqual(
      b.kms.keys.map((k) => [k.name, k.type, k.latestVersion, k.versions, k.disabled, k.destroyAt]),
      [
        ['invoices', 'sm2-sign', 2, 2, false, null],
        ['records', 'sm4', 1, 1, false, null],
      ],
    );
    // Both versions of the SM2 key were certified by the CA (re-certified on rotation).
    const kc = b.certificates.filter((c) => c.source.startsWith('kms.key:invoices@v'));
    assert.deepEqual(kc.map((c) => c.source).sort(), ['kms.key:invoices@v1', 'kms.key:invoices@v2']);
    assert.ok(kc.every((c) => /invoice signer/.test(c.subject) && c.daysLeft > 30));
    assert.ok(!/PRIVATE KEY|"priv|"secret/i.test(text), 'no key material in the answer');
  } finally {
    await app.close();
    await kms.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
