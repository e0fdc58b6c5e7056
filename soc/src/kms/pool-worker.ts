/**
 * Worker thread of {@link Sm2Pool}: SM2 sign/verify for the crypto service off the HTTP thread.
 * Keys arrive once per (key, version) and stay here until forgotten; jobs arrive in batches and
 * their results go back in one message per batch.
 */
import { parentPort } from 'node:worker_threads';
import { ready, Sm2PrivateKey, Sm2PublicKey, sm2Sign, sm2Verify, CryptoError } from '@xiangan/crypto';
import type { PoolJob, PoolReply, PoolMessage } from './pool.js';

const privs = new Map<string, Sm2PrivateKey>();
const pubs = new Map<string, Sm2PublicKey>();

function runJob(j: PoolJob): PoolReply {
  try {
    const opts = { ...(j.id ? { id: j.id } : {}), format: j.format };
    if (j.op === 'sign') {
      const key = privs.get(j.key);
      if (!key) return { seq: j.seq, error: 'unknown key' };
      return { seq: j.seq, sig: sm2Sign(key, j.msg, opts) };
    }
    const pub = pubs.get(j.key);
    if (!pub) return { seq: j.seq, error: 'unknown key' };
    return { seq: j.seq, valid: sm2Verify(pub, j.msg, j.sig!, opts) };
  } catch (e) {
    return { seq: j.seq, error: e instanceof CryptoError ? e.code : 'failed', ...(e instanceof RangeError || e instanceof TypeError ? { range: e.message } : {}) };
  }
}

await ready();
parentPort!.on('message', (m: PoolMessage) => {
  if (m.type === 'key') {
    if (m.material) privs.set(m.key, Sm2PrivateKey.fromBytes(m.material));
    pubs.set(m.key, Sm2PublicKey.fromBytes(m.publicKey));
    m.material?.fill(0);
    return;
  }
  if (m.type === 'forget') {
    privs.get(m.key)?.destroy();
    privs.delete(m.key);
    pubs.delete(m.key);
    return;
  }
  parentPort!.postMessage(m.jobs.map(runJob));
});
