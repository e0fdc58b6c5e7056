/**
 * The SM2 worker pool's shared-memory job ring (soc/src/kms/pool.ts): more jobs than the ring has
 * slots, jobs too large for a slot, several workers, forgotten keys, a worker that dies with jobs
 * in its ring, and closing. Signatures are checked with the SDK and, for one, the openssl CLI.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ready, Sm2PrivateKey, sm2Sign, sm2Verify, sm2PublicKeyToPem, utf8ToBytes, randomBytes } from '@xiangan/crypto';
import { Sm2Pool, KmsError } from '../src/kms/index.js';
import { RING_SLOTS } from '../src/kms/pool.js';

await ready();

const isKmsError = (code: string) => (e: unknown): boolean => e instanceof KmsError && e.code === code;

describe('KMS: SM2 worker pool ring', () => {
  test('more concurrent jobs than ring slots: every signature verifies, every verification answers right', async () => {
    const pool = new Sm2Pool(1);
    const key = Sm2PrivateKey.generate();
    try {
      pool.setKey('k@1', key.toBytes(), key.publicKey.toBytes());
      const n = RING_SLOTS * 2 + 17;
      const msgs = Array.from({ length: n }, (_, i) => utf8ToBytes(`job ${i}`));
      const id = utf8ToBytes('bob@example');
      const sigs = await Promise.all(msgs.map((m, i) => pool.sign('k@1', m, i % 3 === 0 ? { format: 'raw', id } : { format: 'der' })));
      msgs.forEach((m, i) => assert.equal(sm2Verify(key.publicKey, m, sigs[i]!, i % 3 === 0 ? { format: 'raw', id } : {}), true, `signature ${i}`));
      // Verifications of SDK signatures through the ring: right message true, wrong message false.
      const sdk = msgs.slice(0, 40).map((m) => sm2Sign(key, m));
      const answers = await Promise.all(sdk.flatMap((s, i) => [pool.verify('k@1', msgs[i]!, s, { format: 'der' }), pool.verify('k@1', msgs[(i + 1) % 40]!, s, { format: 'der' })]));
      answers.forEach((a, i) => assert.equal(a, i % 2 === 0, `verification ${i}`));
    } finally {
      await pool.close();
      key.destroy();
    }
  });

  test('a ring-made signature verifies with the openssl CLI', async () => {
    const pool = new Sm2Pool(1);
    const key = Sm2PrivateKey.generate();
    const dir = mkdtempSync(join(tmpdir(), 'xiangan-kms-pool-'));
    try {
      pool.setKey('k@1', key.toBytes(), key.publicKey.toBytes());
      const msg = utf8ToBytes('verified by openssl');
      const sig = await pool.sign('k@1', msg, { format: 'der' });
      writeFileSync(join(dir, 'pub.pem'), sm2PublicKeyToPem(key.publicKey));
      writeFileSync(join(dir, 'msg'), msg);
      writeFileSync(join(dir, 'sig'), sig);
      const out = execFileSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', 'pub.pem', '-rawin', '-digest', 'sm3', '-in', 'msg', '-sigfile', 'sig', '-pkeyopt', 'distid:1234567812345678'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
      assert.match(out.toString(), /Signature Verified Successfully/);
    } finally {
      await pool.close();
      key.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('jobs larger than a slot are computed on the calling thread, with the same answers and errors', async () => {
    const pool = new Sm2Pool(1);
    const key = Sm2PrivateKey.generate();
    try {
      pool.setKey('k@1', key.toBytes(), key.publicKey.toBytes());
      const big = randomBytes(Sm2Pool.slotCapacity + 1);
      const sig = await pool.sign('k@1', big, { format: 'der' });
      assert.equal(sm2Verify(key.publicKey, big, sig), true);
      assert.equal(await pool.verify('k@1', big, sig, { format: 'der' }), true);
      assert.equal(await pool.verify('k@1', big.subarray(1), sig, { format: 'der' }), false);
      // An SM2 ID longer than ENTL's 16 bits of bit length allow (GB/T 32918.2 §5.5) is a request error either way.
      await assert.rejects(pool.sign('k@1', big, { format: 'der', id: new Uint8Array(9000) }), isKmsError('SOC_ERR_KMS_REQUEST'));
    } finally {
      await pool.close();
      key.destroy();
    }
  });

  test('two workers share the load; a forgotten key is refused; a key set again under the same name replaces it', async () => {
    const pool = new Sm2Pool(2);
    const a = Sm2PrivateKey.generate();
    const b = Sm2PrivateKey.generate();
    try {
      pool.setKey('k@1', a.toBytes(), a.publicKey.toBytes());
      const msgs = Array.from({ length: 100 }, (_, i) => utf8ToBytes(`two ${i}`));
      const sigs = await Promise.all(msgs.map((m) => pool.sign('k@1', m, { format: 'raw' })));
      msgs.forEach((m, i) => assert.equal(sm2Verify(a.publicKey, m, sigs[i]!, { format: 'raw' }), true));
      pool.setKey('k@1', b.toBytes(), b.publicKey.toBytes());
      const s2 = await pool.sign('k@1', msgs[0]!, { format: 'der' });
      assert.equal(sm2Verify(b.publicKey, msgs[0]!, s2), true);
      pool.forgetKey('k@1');
      await assert.rejects(pool.sign('k@1', msgs[0]!, { format: 'der' }), isKmsError('SOC_ERR_KMS_KEY_NOT_FOUND'));
      // A verification-only key (no private part) cannot sign.
      pool.setKey('pub@1', undefined, a.publicKey.toBytes());
      assert.equal(await pool.verify('pub@1', msgs[0]!, sigs[0]!, { format: 'raw' }), true);
      await assert.rejects(pool.sign('pub@1', msgs[0]!, { format: 'der' }), isKmsError('SOC_ERR_KMS_KEY_NOT_FOUND'));
    } finally {
      await pool.close();
      a.destroy();
      b.destroy();
    }
  });

  test('a key set while the worker is busy is found by its first job', async () => {
    const pool = new Sm2Pool(1);
    const keys = Array.from({ length: 8 }, () => Sm2PrivateKey.generate());
    try {
      // Keep the worker awake with background jobs, and give it a new key version before each sign.
      pool.setKey('bg@1', keys[0]!.toBytes(), keys[0]!.publicKey.toBytes());
      const results: Array<Promise<boolean>> = [];
      for (let i = 0; i < 300; i++) {
        results.push(pool.sign('bg@1', utf8ToBytes(`bg ${i}`), { format: 'der' }).then(() => true));
        const k = keys[i % keys.length]!;
        pool.setKey(`fresh@${i}`, k.toBytes(), k.publicKey.toBytes());
        const m = utf8ToBytes(`fresh ${i}`);
        results.push(pool.sign(`fresh@${i}`, m, { format: 'der' }).then((sig) => sm2Verify(k.publicKey, m, sig)));
        if (i % 16 === 0) await new Promise((r) => setImmediate(r));
      }
      assert.ok((await Promise.all(results)).every(Boolean));
    } finally {
      await pool.close();
      for (const k of keys) k.destroy();
    }
  });

  test('a worker that dies fails its jobs with a typed error and is replaced; a closed pool refuses', async () => {
    const pool = new Sm2Pool(1);
    const key = Sm2PrivateKey.generate();
    try {
      pool.setKey('k@1', key.toBytes(), key.publicKey.toBytes());
      await pool.sign('k@1', utf8ToBytes('warm'), { format: 'der' });
      // Reach the worker the way a crash would: terminate it while jobs are in its ring.
      const slots = (pool as unknown as { slots: Array<{ worker: { terminate(): Promise<number> } }> }).slots;
      const jobs = Array.from({ length: 200 }, (_, i) => pool.sign('k@1', utf8ToBytes(`doomed ${i}`), { format: 'der' }).then(() => 'signed', (e: unknown) => (e instanceof KmsError ? e.code : 'other')));
      // The pool unrefs a worker once it has answered every job (an idle pool never holds the
      // process open), and it may do so while this terminate runs, when the worker finished the
      // 200 jobs first; Node delivers a terminated worker's exit through the worker's own handle,
      // so an unref'd worker's terminate() alone does not keep the event loop alive (terminate,
      // then unref: the process ends with the promise pending; this test was cancelled so about
      // once in 200 runs). A timer holds the loop for the wait, as a server's sockets would.
      const keepAlive = setInterval(() => undefined, 1000);
      try {
        await slots[0]!.worker.terminate();
      } finally {
        clearInterval(keepAlive);
      }
      const outcomes = await Promise.all(jobs);
      assert.ok(outcomes.every((o) => o === 'signed' || o === 'SOC_ERR_KMS_STORE'), outcomes.join(','));
      // The replacement worker learns the key again and signs.
      const m = utf8ToBytes('after the crash');
      assert.equal(sm2Verify(key.publicKey, m, await pool.sign('k@1', m, { format: 'der' })), true);
      await pool.close();
      await assert.rejects(pool.sign('k@1', m, { format: 'der' }), isKmsError('SOC_ERR_KMS_STORE'));
    } finally {
      await pool.close();
      key.destroy();
    }
  });
});
