/**
 * The verified-token memo of KmsService.authenticate: a remembered token stops working the moment
 * its application is revoked or its row is replaced (restore with replace), and unknown tokens
 * are never remembered.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KmsService, KmsError } from '../src/kms/index.js';

const unauthenticated = (e: unknown): boolean => e instanceof KmsError && e.code === 'SOC_ERR_KMS_UNAUTHENTICATED';

describe('KMS: verified bearer tokens', () => {
  test('revocation and a replacing restore end a remembered token at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xiangan-kms-auth-'));
    const a = KmsService.open({ dir: join(dir, 'a'), masterSecret: 'auth cache secret A', iterations: 1000 });
    const b = KmsService.open({ dir: join(dir, 'b'), masterSecret: 'auth cache secret B', iterations: 1000 });
    try {
      const { token: ta } = a.createApp('orders', { keys: ['*'], ops: ['digest'] });
      const { token: other } = a.createApp('billing', { keys: ['*'], ops: ['digest'] });
      // Twice: the second answer comes from the memo.
      assert.deepEqual(a.authenticate(ta, '127.0.0.1'), { app: 'orders', ip: '127.0.0.1' });
      assert.deepEqual(a.authenticate(ta), { app: 'orders' });
      assert.throws(() => a.authenticate(`${ta}x`), unauthenticated);
      a.revokeApp('orders');
      assert.throws(() => a.authenticate(ta), unauthenticated);
      assert.deepEqual(a.authenticate(other), { app: 'billing' });

      // Store B has its own 'billing' with its own token, remembered; a restore of A's backup with
      // replace puts A's row (and token) in its place.
      const { token: tb } = b.createApp('billing', { keys: ['*'], ops: ['digest'] });
      assert.deepEqual(b.authenticate(tb), { app: 'billing' });
      b.restore(b.root, a.backup(a.root), 'auth cache secret A', { replace: true });
      assert.throws(() => b.authenticate(tb), unauthenticated);
      assert.deepEqual(b.authenticate(other), { app: 'billing' });
    } finally {
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
