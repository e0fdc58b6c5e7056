/**
 * Worker thread of {@link Sm2Pool}: SM2 sign/verify and SM4-GCM for the crypto service
 * off the HTTP thread.
 * It runs one synchronous loop over its job ring (see pool.ts for the layout): answer every
 * published job in its slot, bump the done counter and notify, and sleep in `Atomics.wait` only
 * when the ring is empty. Keys arrive on a port that is read synchronously before each round, so a
 * key posted before a job is always there when the job is.
 */
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import { ready, Sm2PrivateKey, Sm2PublicKey, sm2Sign, sm2Verify } from '@xiangan/crypto';
import {
  C_CLOSING, C_DONE, C_PUBLISHED, C_SLEEPING, CONTROL_BYTES, H_ID, H_KEY, H_LEN, H_MSG, H_OP, H_SIG, H_STATUS, OP_GCM, RING_SLOTS, SLOT_BYTES, SLOT_HEADER,
  S_INVALID, S_SIGNED, S_UNKNOWN_KEY, S_VALID, failure, sm4Job, type PoolAnswer, type PoolKeyMessage, type PoolWorkerData,
} from './pool.js';
import { RandomSource } from './codec.js';

const privs = new Map<number, Sm2PrivateKey>();
const pubs = new Map<number, Sm2PublicKey>();
/** SM4 key bytes by index: this thread's own copies, wiped when forgotten or when the loop ends. */
const sm4s = new Map<number, Uint8Array>();
const random = new RandomSource();
const { ring, keys } = workerData as PoolWorkerData;
const ctrl = new Int32Array(ring);
const bytes = new Uint8Array(ring);
const MASK = RING_SLOTS - 1;
/** Longest sleep before the loop looks at the closing flag again (ms). */
const IDLE_CHECK_MS = 1000;
/**
 * How long an idle worker polls the ring before it naps (ms). Waking a sleeping worker is a futex
 * system call made by the HTTP thread; in profiles of the sign route under wrk it took about 16 %
 * of that thread's time. The poll catches back-to-back jobs at a cost of at most 50 µs of the
 * worker's time after each burst.
 */
const POLL_MS = 0.05;
/**
 * After the poll the worker naps: timed waits of this length, during which the HTTP thread does
 * not wake it (the nap ends by itself), so a steady stream of jobs costs the HTTP thread no system
 * call at all, and a job waits at most one nap (plus the kernel's timer slack).
 */
const NAP_MS = 0.1;
/** Naps without a job before the worker sleeps until woken (about 10 ms or more of quiet). */
const NAPS_BEFORE_SLEEP = 100;

/** Poll until a job is published or {@link POLL_MS} passed; true when one was. */
function pollFor(done: number): boolean {
  const until = performance.now() + POLL_MS;
  for (let n = 1; ; n++) {
    if (Atomics.load(ctrl, C_PUBLISHED) !== done) return true;
    // Reading the clock costs more than reading the counter: look at it every 64 rounds.
    if ((n & 63) === 0 && performance.now() >= until) return false;
  }
}

function readKeys(): void {
  for (let m = receiveMessageOnPort(keys); m; m = receiveMessageOnPort(keys)) {
    const k = m.message as PoolKeyMessage;
    if (k.type === 'key') {
      if (k.material) privs.set(k.index, Sm2PrivateKey.fromBytes(k.material));
      pubs.set(k.index, Sm2PublicKey.fromBytes(k.publicKey));
      k.material?.fill(0);
    } else if (k.type === 'sm4') {
      sm4s.set(k.index, k.material);
    } else {
      privs.get(k.index)?.destroy();
      privs.delete(k.index);
      pubs.delete(k.index);
      sm4s.get(k.index)?.fill(0);
      sm4s.delete(k.index);
    }
  }
}

/** Compute the job in ring position `i` and write the answer over it. */
function runJob(i: number): void {
  const base = CONTROL_BYTES + i * SLOT_BYTES;
  const h = base >> 2;
  const op = ctrl[h + H_OP]!;
  const index = ctrl[h + H_KEY]!;
  const msgLen = ctrl[h + H_MSG]!;
  const idLen = ctrl[h + H_ID]!;
  const sigLen = ctrl[h + H_SIG]!;
  // Copies, not views of the shared buffer: the answer overwrites the same bytes.
  let at = base + SLOT_HEADER;
  const msg = bytes.slice(at, (at += msgLen));
  const id = idLen >= 0 ? bytes.slice(at, (at += idLen)) : undefined;
  const opts = { ...(id ? { id } : {}), format: op & 2 ? ('raw' as const) : ('der' as const) };
  // A key is posted before the first job that names it, but may land after this round's readKeys():
  // an unknown index is looked up once more after reading the port.
  let a: PoolAnswer;
  try {
    if (op >= OP_GCM) {
      const key = sm4s.get(index) ?? (readKeys(), sm4s.get(index));
      a = key ? sm4Job(op, key, msg, id, random) : { status: S_UNKNOWN_KEY, bytes: new Uint8Array(0) };
    } else if ((op & 1) === 0) {
      const key = privs.get(index) ?? (readKeys(), privs.get(index));
      a = key ? { status: S_SIGNED, bytes: sm2Sign(key, msg, opts) } : { status: S_UNKNOWN_KEY, bytes: new Uint8Array(0) };
    } else {
      const pub = pubs.get(index) ?? (readKeys(), pubs.get(index));
      const sig = bytes.slice(at, at + sigLen);
      a = pub ? { status: sm2Verify(pub, msg, sig, opts) ? S_VALID : S_INVALID, bytes: new Uint8Array(0) } : { status: S_UNKNOWN_KEY, bytes: new Uint8Array(0) };
    }
  } catch (e) {
    a = failure(e);
  }
  const out = a.bytes.subarray(0, SLOT_BYTES - SLOT_HEADER);
  bytes.set(out, base + SLOT_HEADER);
  ctrl[h + H_LEN] = out.length;
  ctrl[h + H_STATUS] = a.status;
}

await ready();
let done = Atomics.load(ctrl, C_DONE);
let naps = 0;
while (Atomics.load(ctrl, C_CLOSING) === 0) {
  readKeys();
  const published = Atomics.load(ctrl, C_PUBLISHED);
  if (published === done) {
    if (naps === 0 && pollFor(done)) continue;
    if (naps < NAPS_BEFORE_SLEEP) {
      naps++;
      Atomics.wait(ctrl, C_PUBLISHED, done, NAP_MS);
      continue;
    }
    // Announce the sleep, then look once more: the publisher stores the count before it reads the
    // flag, and both are sequentially consistent, so a job is never left unnoticed, and wait()
    // returns at once when the count moved in between.
    Atomics.store(ctrl, C_SLEEPING, 1);
    // A key forgotten while we polled was not notified (we were not asleep yet): wipe it now.
    readKeys();
    if (Atomics.load(ctrl, C_PUBLISHED) === done) Atomics.wait(ctrl, C_PUBLISHED, done, IDLE_CHECK_MS);
    Atomics.store(ctrl, C_SLEEPING, 0);
    continue;
  }
  naps = 0;
  while (done !== published) {
    runJob(done & MASK);
    done = (done + 1) | 0;
    Atomics.store(ctrl, C_DONE, done);
    Atomics.notify(ctrl, C_DONE);
  }
}
for (const k of sm4s.values()) k.fill(0);
keys.close();
