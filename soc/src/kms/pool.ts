/**
 * A pool of worker threads for the crypto service's SM2 signatures and verifications and its
 * SM4-GCM encryptions and data keys, so that on a multi-core machine the HTTP thread parses,
 * authenticates and audits while another core does the cryptography.
 *
 * Jobs travel through a ring of fixed-size slots in a SharedArrayBuffer per worker, not through
 * `postMessage`: a profile of the sign route under load showed the HTTP thread spending about a
 * third of its busy time cloning and posting job messages, because with an idle worker every job
 * went alone. Here the HTTP thread copies the message bytes into a slot and bumps a counter; the
 * worker sleeps in `Atomics.wait` only when the ring is empty (and is woken only then), answers
 * each job in its own slot, and the HTTP thread collects every answer that is ready whenever one
 * `Atomics.waitAsync` fires, so answers are gathered in batches under load without waiting for
 * one. Key material, which changes rarely, still goes by message on a dedicated port, which the
 * worker reads synchronously (`receiveMessageOnPort`) before the jobs that need it.
 *
 * A job whose input or answer does not fit in a slot ({@link Sm2Pool.slotCapacity}) is computed
 * on the calling thread instead: hashing or encrypting a large message costs about as much as
 * copying it to a worker.
 *
 * SM4 keys reach a worker only when a job needs them; the worker keeps its copy in memory until
 * the key version is forgotten (destruction, replacement) or the pool closes, and wipes it then.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { CryptoError, concatBytes, Sm2PrivateKey, Sm2PublicKey, sm2Sign, sm2Verify, sm4GcmEncrypt, sm4GcmDecrypt, type CryptoErrorCode, type Sm2SignatureFormat } from '@xiangan/crypto';
import { KmsError } from './errors.js';
import { RandomSource } from './codec.js';

/** Slots per worker ring (a power of two, so a wrapped 32-bit counter still indexes it). */
export const RING_SLOTS = 256;
/** Bytes per slot: a 32-byte header, then message ‖ ID ‖ signature, or the answer. */
export const SLOT_BYTES = 2048;
/** Bytes of a slot's header (eight 32-bit fields, see `H_*`). */
export const SLOT_HEADER = 32;

// Control words at the start of the shared buffer (Int32 indices).
/** Jobs published by the HTTP thread (wrapping counter). */
export const C_PUBLISHED = 0;
/** Jobs answered by the worker (wrapping counter). */
export const C_DONE = 1;
/** 1 while the worker sleeps in `Atomics.wait`, so that only then a publish needs a notify. */
export const C_SLEEPING = 2;
/** 1 when the pool closes. */
export const C_CLOSING = 3;
/** Bytes of the control area before slot 0. */
export const CONTROL_BYTES = 64;

// Slot header fields (Int32 indices relative to the slot).
/** Operation: 0 sign, 1 verify (+2 for the raw r ‖ s signature format), {@link OP_GCM}, {@link OP_GCM_OPEN}. */
export const H_OP = 0;
/** Key index given by {@link Sm2Pool.setKey}. */
export const H_KEY = 1;
/** Message length. */
export const H_MSG = 2;
/** ID length (sign/verify) or AAD length (SM4-GCM), or -1 for none. */
export const H_ID = 3;
/** Signature length (verify). */
export const H_SIG = 4;
/** Answer status, see `S_*`. */
export const H_STATUS = 5;
/** Answer length in bytes after the header. */
export const H_LEN = 6;

/** Operation: SM4-GCM encryption of the message under a fresh 96-bit nonce; answer nonce ‖ ciphertext ‖ tag. */
export const OP_GCM = 4;
/** Operation: SM4-GCM decryption of nonce ‖ ciphertext ‖ tag; answer the plaintext, or `S_CRYPTO` when it fails authentication. */
export const OP_GCM_OPEN = 5;
/** Bytes SM4-GCM adds to a plaintext here: the 96-bit nonce and the 128-bit tag (NIST SP 800-38D). */
export const GCM_OVERHEAD = 12 + 16;

/** Answer: signature bytes follow. */
export const S_SIGNED = 1;
/** Answer: the signature verified. */
export const S_VALID = 2;
/** Answer: the signature did not verify. */
export const S_INVALID = 3;
/** Answer: the key index is unknown to the worker. */
export const S_UNKNOWN_KEY = 4;
/** Answer: a CryptoError; its code follows as UTF-8. */
export const S_CRYPTO = 5;
/** Answer: a RangeError/TypeError (bad options); its message follows as UTF-8. */
export const S_RANGE = 6;
/** Answer: another failure. */
export const S_FAILED = 7;
/** Answer: SM4-GCM output follows (see {@link OP_GCM}, {@link OP_GCM_OPEN}). */
export const S_SEALED = 8;

/** Messages to a worker on its key port (internal wire format). */
export type PoolKeyMessage =
  | { type: 'key'; index: number; material?: Uint8Array; publicKey: Uint8Array }
  | { type: 'sm4'; index: number; material: Uint8Array }
  | { type: 'forget'; index: number };

/** What a worker is started with (internal). */
export interface PoolWorkerData {
  ring: SharedArrayBuffer;
  keys: MessagePort;
}

const MASK = RING_SLOTS - 1;

/** `Atomics.waitAsync` (ES2024, in Node since 16), typed here because the project's lib is older. */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: false; value: string } | { async: true; value: Promise<string> } }).waitAsync;

interface Pending {
  resolve(r: PoolAnswer): void;
  reject(e: Error): void;
}

/** A job waiting for a free slot. */
interface Queued {
  job: Job;
  pending: Pending;
}

/** A job; every field always present, so that jobs share one object shape on the hot path. */
interface Job {
  op: 'sign' | 'verify' | 'gcm' | 'open';
  index: number;
  msg: Uint8Array;
  /** SM2 signer ID, or the GCM additional authenticated data. */
  id: Uint8Array | undefined;
  sig: Uint8Array | undefined;
  format: Sm2SignatureFormat;
}

/** A job's answer as read from its slot (internal). */
export interface PoolAnswer {
  /** One of `S_*`. */
  status: number;
  bytes: Uint8Array;
}

interface Slot {
  worker: Worker;
  port: MessagePort;
  ctrl: Int32Array;
  bytes: Uint8Array;
  /** Key indices this worker has been sent. */
  known: Set<number>;
  /** Next sequence number to publish, and the next one to collect. */
  published: number;
  collected: number;
  /** Resolvers by ring position. */
  pending: Array<Pending | undefined>;
  /** Jobs waiting for the ring to have room. */
  overflow: Queued[];
  /** An `Atomics.waitAsync` on the done counter is outstanding. */
  armed: boolean;
}

interface PoolKey {
  index: number;
  /** SM2 private key or SM4 key bytes. */
  material?: Uint8Array;
  /** Empty for an SM4 key. */
  publicKey: Uint8Array;
  sm4: boolean;
  /** Calling-thread key objects for jobs too large for a slot, made on first need. */
  priv?: Sm2PrivateKey;
  pub?: Sm2PublicKey;
}

/**
 * SM2 sign/verify and SM4-GCM encryption on `size` worker threads.
 *
 * @example
 * const pool = new Sm2Pool(1);
 * pool.setKey('orders@1', privateKeyBytes, publicKeyBytes);
 * const sig = await pool.sign('orders@1', msg, { format: 'der' });
 * await pool.close();
 */
export class Sm2Pool {
  /** Largest message + ID + signature, in bytes, that a worker computes; larger jobs run on the calling thread. */
  static readonly slotCapacity = SLOT_BYTES - SLOT_HEADER;
  private readonly slots: Slot[] = [];
  private readonly keys = new Map<string, PoolKey>();
  private nextIndex = 1;
  private closed = false;
  /** Nonces and data keys of jobs computed on the calling thread. */
  private readonly random = new RandomSource();

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError('Sm2Pool: size must be a positive integer');
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const ring = new SharedArrayBuffer(CONTROL_BYTES + RING_SLOTS * SLOT_BYTES);
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(new URL('./pool-worker.js', import.meta.url), { workerData: { ring, keys: port2 } satisfies PoolWorkerData, transferList: [port2] });
    const slot: Slot = { worker, port: port1, ctrl: new Int32Array(ring), bytes: new Uint8Array(ring), known: new Set(), published: 0, collected: 0, pending: new Array<Pending | undefined>(RING_SLOTS), overflow: [], armed: false };
    worker.unref();
    port1.unref();
    const fail = (why: string): void => {
      const err = new KmsError('SOC_ERR_KMS_STORE', `a crypto worker ${why}`);
      this.abandon(slot, err);
      const i = this.slots.indexOf(slot);
      if (i >= 0 && !this.closed) this.slots[i] = this.spawn();
    };
    worker.on('error', (e) => fail(`failed: ${e.message}`));
    worker.on('exit', (code) => {
      if (!this.closed) fail(`exited with code ${code}`);
    });
    return slot;
  }

  /** Reject everything a slot holds and stop listening to it. */
  private abandon(slot: Slot, err: Error): void {
    Atomics.store(slot.ctrl, C_CLOSING, 1);
    for (let s = slot.collected; s !== slot.published; s = (s + 1) | 0) {
      slot.pending[s & MASK]?.reject(err);
      slot.pending[s & MASK] = undefined;
    }
    for (const q of slot.overflow) q.pending.reject(err);
    slot.overflow = [];
    slot.collected = slot.published;
    // Wake our own outstanding waitAsync, so that it does not hold on to the slot.
    Atomics.notify(slot.ctrl, C_DONE);
    slot.port.close();
  }

  /** Make a key version known (the private part only for signing keys). The pool keeps references, not copies. */
  setKey(key: string, material: Uint8Array | undefined, publicKey: Uint8Array): void {
    const old = this.keys.get(key);
    if (old) this.forgetKey(key);
    this.keys.set(key, { index: this.nextIndex++, ...(material ? { material } : {}), publicKey, sm4: false });
  }

  /** Make an SM4 key version known for {@link gcmEncrypt} and {@link gcmDecrypt}. The pool keeps a reference, not a copy. */
  setSymmetricKey(key: string, material: Uint8Array): void {
    if (this.keys.has(key)) this.forgetKey(key);
    this.keys.set(key, { index: this.nextIndex++, material, publicKey: new Uint8Array(0), sm4: true });
  }

  /** Forget a key version in every worker (its copy there is wiped). */
  forgetKey(key: string): void {
    const k = this.keys.get(key);
    if (!k) return;
    this.keys.delete(key);
    k.priv?.destroy();
    for (const s of this.slots) {
      if (!s.known.delete(k.index)) continue;
      s.port.postMessage({ type: 'forget', index: k.index } satisfies PoolKeyMessage);
      // Wake a sleeping worker so that the copy is wiped now, not at its next job.
      if (Atomics.load(s.ctrl, C_SLEEPING) === 1) Atomics.notify(s.ctrl, C_PUBLISHED);
    }
  }

  /** Sign `msg` with a key given to {@link setKey}; the signature bytes. */
  async sign(key: string, msg: Uint8Array, o: { id?: Uint8Array; format: Sm2SignatureFormat }): Promise<Uint8Array> {
    const a = await this.submit(key, 'sign', msg, o.id, undefined, o.format);
    return a.bytes;
  }

  /** Verify a signature with a key given to {@link setKey}. */
  async verify(key: string, msg: Uint8Array, sig: Uint8Array, o: { id?: Uint8Array; format: Sm2SignatureFormat }): Promise<boolean> {
    const a = await this.submit(key, 'verify', msg, o.id, sig, o.format);
    return a.status === S_VALID;
  }

  /** SM4-GCM encryption under a fresh random 96-bit nonce: nonce ‖ ciphertext ‖ tag. */
  async gcmEncrypt(key: string, plaintext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> {
    return (await this.submit(key, 'gcm', plaintext, aad, undefined, 'der')).bytes;
  }

  /** SM4-GCM decryption of nonce ‖ ciphertext ‖ tag (at least 28 bytes); a `CryptoError` when it fails authentication. */
  async gcmDecrypt(key: string, sealed: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> {
    if (sealed.length < GCM_OVERHEAD) throw new RangeError('SM4-GCM input shorter than nonce and tag');
    return (await this.submit(key, 'open', sealed, aad, undefined, 'der')).bytes;
  }

  private submit(key: string, op: Job['op'], msg: Uint8Array, id: Uint8Array | undefined, sig: Uint8Array | undefined, format: Sm2SignatureFormat): Promise<PoolAnswer> {
    if (this.closed) return Promise.reject(new KmsError('SOC_ERR_KMS_STORE', 'the crypto worker pool is closed'));
    const k = this.keys.get(key);
    if (!k) return Promise.reject(new KmsError('SOC_ERR_KMS_KEY_NOT_FOUND', 'key version not loaded in the worker pool'));
    if (k.sm4 !== isSm4(op)) return Promise.reject(new KmsError('SOC_ERR_KMS_KEY_TYPE', `${op}: not a key of that type`));
    const job: Job = { op, index: k.index, msg, id, sig, format };
    if (jobBytes(job) > Sm2Pool.slotCapacity) return Promise.resolve().then(() => answer(job, this.inline(k, job)));
    // Least-loaded worker: jobs in its ring plus those waiting for room.
    let slot = this.slots[0]!;
    for (const s of this.slots) if (load(s) < load(slot)) slot = s;
    if (!slot.known.has(k.index)) {
      const m: PoolKeyMessage = k.sm4 ? { type: 'sm4', index: k.index, material: k.material!.slice() } : { type: 'key', index: k.index, ...(k.material ? { material: k.material.slice() } : {}), publicKey: k.publicKey };
      slot.port.postMessage(m);
      slot.known.add(k.index);
    }
    return new Promise<PoolAnswer>((resolve, reject) => {
      const pending = { resolve, reject };
      if (((slot.published - slot.collected) | 0) < RING_SLOTS) this.publish(slot, job, pending);
      else slot.overflow.push({ job, pending });
      slot.worker.ref();
      this.arm(slot);
    }).then((a) => answer(job, a));
  }

  /** Copy a job into the next free slot and make it visible to the worker. */
  private publish(slot: Slot, job: Job, pending: Pending): void {
    const seq = slot.published;
    const base = CONTROL_BYTES + (seq & MASK) * SLOT_BYTES;
    const h = base >> 2;
    const c = slot.ctrl;
    c[h + H_OP] = isSm4(job.op) ? sm4Op(job.op) : (job.op === 'sign' ? 0 : 1) + (job.format === 'raw' ? 2 : 0);
    c[h + H_KEY] = job.index;
    c[h + H_MSG] = job.msg.length;
    c[h + H_ID] = job.id ? job.id.length : -1;
    c[h + H_SIG] = job.sig ? job.sig.length : 0;
    let at = base + SLOT_HEADER;
    slot.bytes.set(job.msg, at);
    at += job.msg.length;
    if (job.id) {
      slot.bytes.set(job.id, at);
      at += job.id.length;
    }
    if (job.sig) slot.bytes.set(job.sig, at);
    slot.pending[seq & MASK] = pending;
    slot.published = (seq + 1) | 0;
    // The store is sequentially consistent: the worker that reads the new count also reads the slot.
    Atomics.store(c, C_PUBLISHED, slot.published);
    if (Atomics.load(c, C_SLEEPING) === 1) Atomics.notify(c, C_PUBLISHED);
  }

  /** Wait (asynchronously) for the worker to answer more jobs, unless a wait is already outstanding. */
  private arm(slot: Slot): void {
    if (slot.armed || slot.collected === slot.published) return;
    const w = waitAsync(slot.ctrl, C_DONE, slot.collected);
    if (!w.async) {
      // Already answered: collect on the next microtask, not inside the caller's stack.
      slot.armed = true;
      queueMicrotask(() => this.collect(slot));
      return;
    }
    slot.armed = true;
    void w.value.then(() => this.collect(slot));
  }

  /** Hand every answered job to its caller, refill the ring from the overflow and wait again. */
  private collect(slot: Slot): void {
    slot.armed = false;
    const done = Atomics.load(slot.ctrl, C_DONE);
    while (slot.collected !== done && slot.collected !== slot.published) {
      const i = slot.collected & MASK;
      const h = (CONTROL_BYTES + i * SLOT_BYTES) >> 2;
      const status = slot.ctrl[h + H_STATUS]!;
      const start = CONTROL_BYTES + i * SLOT_BYTES + SLOT_HEADER;
      const a: PoolAnswer = { status, bytes: slot.bytes.slice(start, start + slot.ctrl[h + H_LEN]!) };
      const p = slot.pending[i];
      slot.pending[i] = undefined;
      slot.collected = (slot.collected + 1) | 0;
      p?.resolve(a);
    }
    while (slot.overflow.length > 0 && ((slot.published - slot.collected) | 0) < RING_SLOTS) {
      const q = slot.overflow.shift()!;
      this.publish(slot, q.job, q.pending);
    }
    if (slot.collected === slot.published) slot.worker.unref();
    else this.arm(slot);
  }

  /** Compute a job too large for a slot here. */
  private inline(k: PoolKey, job: Job): PoolAnswer {
    const opts = { ...(job.id ? { id: job.id } : {}), format: job.format };
    try {
      if (isSm4(job.op)) return sm4Job(sm4Op(job.op), k.material!, job.msg, job.id, this.random);
      if (job.op === 'sign') {
        if (!k.material) return { status: S_UNKNOWN_KEY, bytes: new Uint8Array(0) };
        k.priv ??= Sm2PrivateKey.fromBytes(k.material);
        return { status: S_SIGNED, bytes: sm2Sign(k.priv, job.msg, opts) };
      }
      k.pub ??= Sm2PublicKey.fromBytes(k.publicKey);
      return { status: sm2Verify(k.pub, job.msg, job.sig!, opts) ? S_VALID : S_INVALID, bytes: new Uint8Array(0) };
    } catch (e) {
      return failure(e);
    }
  }

  /** Stop the workers (pending jobs fail). */
  async close(): Promise<void> {
    this.closed = true;
    const err = new KmsError('SOC_ERR_KMS_STORE', 'the crypto worker pool is closed');
    for (const s of this.slots) {
      this.abandon(s, err);
      Atomics.notify(s.ctrl, C_PUBLISHED);
    }
    // A woken worker leaves its loop, wipes its SM4 key copies and exits by itself; it is only
    // terminated (memory released unwiped) when that takes longer than CLOSE_WAIT_MS.
    await Promise.all(this.slots.map((s) => exited(s.worker, CLOSE_WAIT_MS).then((gone) => (gone ? undefined : s.worker.terminate()))));
    for (const k of this.keys.values()) k.priv?.destroy();
  }
}

/** The larger of a job's input and its answer, which share the slot. */
function jobBytes(j: Job): number {
  const input = j.msg.length + (j.id?.length ?? 0) + (j.sig?.length ?? 0);
  if (j.op === 'gcm') return Math.max(input, j.msg.length + GCM_OVERHEAD);
  return input;
}

function isSm4(op: Job['op']): boolean {
  return op === 'gcm' || op === 'open';
}

function sm4Op(op: Job['op']): number {
  return op === 'gcm' ? OP_GCM : OP_GCM_OPEN;
}

/**
 * The SM4 jobs, shared by the worker and the calling thread: {@link OP_GCM} seals `msg` (with
 * `aad`) under a fresh nonce; {@link OP_GCM_OPEN} opens nonce ‖ ciphertext ‖ tag (throwing
 * `CryptoError` when it fails authentication).
 * @example sm4Job(OP_GCM, key16, plaintext, undefined, new RandomSource())
 */
export function sm4Job(op: number, key: Uint8Array, msg: Uint8Array, aad: Uint8Array | undefined, random: RandomSource): PoolAnswer {
  const o = aad ? { aad } : {};
  if (op === OP_GCM_OPEN) return { status: S_SEALED, bytes: sm4GcmDecrypt(key, msg.subarray(0, 12), msg.subarray(12), o) };
  const nonce = random.bytes(12);
  return { status: S_SEALED, bytes: concatBytes(nonce, sm4GcmEncrypt(key, nonce, msg, o)) };
}

/** How long {@link Sm2Pool.close} lets a worker exit on its own (ms). */
const CLOSE_WAIT_MS = 500;

/** Resolves true when the worker exits within `ms`, false otherwise. */
function exited(w: Worker, ms: number): Promise<boolean> {
  if (w.threadId === -1) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      w.off('exit', done);
      resolve(false);
    }, ms);
    const done = (): void => {
      clearTimeout(t);
      resolve(true);
    };
    w.once('exit', done);
  });
}

function load(s: Slot): number {
  return ((s.published - s.collected) | 0) + s.overflow.length;
}

const utf8 = new TextEncoder();
const text = new TextDecoder();

/**
 * Encode a failure as an answer (shared with the worker, which writes the same shape into a slot).
 * @example failure(new RangeError('bad id')) // { status: S_RANGE, bytes: utf8('bad id') }
 */
export function failure(e: unknown): PoolAnswer {
  if (e instanceof CryptoError) return { status: S_CRYPTO, bytes: utf8.encode(e.code) };
  if (e instanceof RangeError || e instanceof TypeError) return { status: S_RANGE, bytes: utf8.encode(e.message) };
  return { status: S_FAILED, bytes: new Uint8Array(0) };
}

/** Turn an answer into a result or the typed error the service audits. */
function answer(job: Job, a: PoolAnswer): PoolAnswer {
  if (a.status === S_SIGNED || a.status === S_VALID || a.status === S_INVALID || a.status === S_SEALED) return a;
  if (a.status === S_RANGE) throw new KmsError('SOC_ERR_KMS_REQUEST', text.decode(a.bytes));
  const what = isSm4(job.op) ? `SM4 ${job.op}` : `SM2 ${job.op}`;
  if (a.status === S_CRYPTO) throw new CryptoError(text.decode(a.bytes) as CryptoErrorCode, `${what} failed in a crypto worker`);
  if (a.status === S_UNKNOWN_KEY) throw new KmsError('SOC_ERR_KMS_KEY_NOT_FOUND', `${what} failed: unknown key`);
  throw new KmsError('SOC_ERR_KMS_REQUEST', `${what} failed`);
}

/**
 * Worker threads a server should give the pool: every core but the one serving HTTP (at most 4;
 * 0 on a single core, where a worker would only add message passing).
 * @example KmsService.open({ dir, masterSecret, workers: defaultKmsWorkers() })
 */
export function defaultKmsWorkers(): number {
  return Math.max(0, Math.min(4, availableParallelism() - 1));
}
