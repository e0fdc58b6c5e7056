/**
 * A pool of worker threads for the crypto service's SM2 signatures and verifications, so that on
 * a multi-core machine the HTTP thread parses, authenticates and audits while another core does
 * the curve arithmetic. A worker has at most two batches in flight (one computing, one on its
 * way): jobs that arrive meanwhile wait and travel together in the next message, so under load
 * batches grow by themselves (a message costs about as much as a signature) while the worker
 * never waits for a round trip, and an idle pool still answers a lone job at once.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { CryptoError, type CryptoErrorCode, type Sm2SignatureFormat } from '@xiangan/crypto';
import { KmsError } from './errors.js';

/** A job for a worker (internal wire format). */
export interface PoolJob {
  seq: number;
  op: 'sign' | 'verify';
  key: string;
  msg: Uint8Array;
  sig?: Uint8Array;
  id?: Uint8Array;
  format: Sm2SignatureFormat;
}
/** A worker's answer to one job (internal wire format). */
export interface PoolReply {
  seq: number;
  sig?: Uint8Array;
  valid?: boolean;
  /** Error code (CryptoError) or a short reason. */
  error?: string;
  /** Message of a RangeError/TypeError (bad options), surfaced as a request error. */
  range?: string;
}
/** Messages to a worker (internal wire format). */
export type PoolMessage =
  | { type: 'key'; key: string; material?: Uint8Array; publicKey: Uint8Array }
  | { type: 'forget'; key: string }
  | { type: 'jobs'; jobs: PoolJob[] };

const MAX_BATCHES_IN_FLIGHT = 2;

interface Pending {
  resolve(r: PoolReply): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker;
  known: Set<string>;
  queue: PoolJob[];
  inFlight: Map<number, Pending>;
  /** Batches at the worker ({@link MAX_BATCHES_IN_FLIGHT} at most). */
  batches: number;
}

/**
 * SM2 sign/verify on `size` worker threads.
 *
 * @example
 * const pool = new Sm2Pool(1);
 * pool.setKey('orders@1', privateKeyBytes, publicKeyBytes);
 * const sig = await pool.sign('orders@1', msg, { format: 'der' });
 * await pool.close();
 */
export class Sm2Pool {
  private readonly slots: Slot[] = [];
  private readonly keys = new Map<string, { material?: Uint8Array; publicKey: Uint8Array }>();
  private seq = 0;
  private flushScheduled = false;
  private closed = false;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError('Sm2Pool: size must be a positive integer');
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = new Worker(new URL('./pool-worker.js', import.meta.url));
    const slot: Slot = { worker, known: new Set(), queue: [], inFlight: new Map(), batches: 0 };
    worker.unref();
    worker.on('message', (replies: PoolReply[]) => {
      for (const r of replies) {
        const p = slot.inFlight.get(r.seq);
        slot.inFlight.delete(r.seq);
        p?.resolve(r);
      }
      slot.batches--;
      if (slot.queue.length > 0) this.send(slot);
      else if (slot.inFlight.size === 0) worker.unref();
    });
    const fail = (why: string): void => {
      const err = new KmsError('SOC_ERR_KMS_STORE', `a crypto worker ${why}`);
      for (const p of slot.inFlight.values()) p.reject(err);
      slot.inFlight.clear();
      slot.queue = [];
      slot.batches = 0;
      const i = this.slots.indexOf(slot);
      if (i >= 0 && !this.closed) this.slots[i] = this.spawn();
    };
    worker.on('error', (e) => fail(`failed: ${e.message}`));
    worker.on('exit', (code) => {
      if (!this.closed) fail(`exited with code ${code}`);
    });
    return slot;
  }

  /** Make a key version known (the private part only for signing keys). The pool keeps references, not copies. */
  setKey(key: string, material: Uint8Array | undefined, publicKey: Uint8Array): void {
    this.keys.set(key, { ...(material ? { material } : {}), publicKey });
    for (const s of this.slots) s.known.delete(key);
  }

  /** Forget a key version in every worker (its copy there is wiped). */
  forgetKey(key: string): void {
    this.keys.delete(key);
    for (const s of this.slots) {
      if (s.known.delete(key)) s.worker.postMessage({ type: 'forget', key } satisfies PoolMessage);
    }
  }

  /** Sign `msg` with a key given to {@link setKey}; the signature bytes. */
  async sign(key: string, msg: Uint8Array, o: { id?: Uint8Array; format: Sm2SignatureFormat }): Promise<Uint8Array> {
    const r = await this.submit({ op: 'sign', key, msg, format: o.format, ...(o.id ? { id: o.id } : {}) });
    return r.sig!;
  }

  /** Verify a signature with a key given to {@link setKey}. */
  async verify(key: string, msg: Uint8Array, sig: Uint8Array, o: { id?: Uint8Array; format: Sm2SignatureFormat }): Promise<boolean> {
    const r = await this.submit({ op: 'verify', key, msg, sig, format: o.format, ...(o.id ? { id: o.id } : {}) });
    return r.valid === true;
  }

  private submit(job: Omit<PoolJob, 'seq'>): Promise<PoolReply> {
    if (this.closed) return Promise.reject(new KmsError('SOC_ERR_KMS_STORE', 'the crypto worker pool is closed'));
    const k = this.keys.get(job.key);
    if (!k) return Promise.reject(new KmsError('SOC_ERR_KMS_KEY_NOT_FOUND', 'key version not loaded in the worker pool'));
    // Least-loaded worker: queued plus in flight.
    let slot = this.slots[0]!;
    for (const s of this.slots) if (s.queue.length + s.inFlight.size < slot.queue.length + slot.inFlight.size) slot = s;
    if (!slot.known.has(job.key)) {
      slot.worker.postMessage({ type: 'key', key: job.key, ...(k.material ? { material: k.material.slice() } : {}), publicKey: k.publicKey } satisfies PoolMessage);
      slot.known.add(job.key);
    }
    const seq = ++this.seq;
    slot.queue.push({ ...job, seq });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return new Promise<PoolReply>((resolve, reject) => {
      slot.inFlight.set(seq, { resolve, reject });
      slot.worker.ref();
    }).then((r) => {
      if (r.range !== undefined) throw new KmsError('SOC_ERR_KMS_REQUEST', r.range);
      if (r.error?.startsWith('CRYPTO_ERR_')) throw new CryptoError(r.error as CryptoErrorCode, `SM2 ${job.op} failed in a crypto worker`);
      if (r.error !== undefined) throw new KmsError(r.error === 'unknown key' ? 'SOC_ERR_KMS_KEY_NOT_FOUND' : 'SOC_ERR_KMS_REQUEST', `SM2 ${job.op} failed: ${r.error}`);
      return r;
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const s of this.slots) if (s.batches < MAX_BATCHES_IN_FLIGHT && s.queue.length > 0) this.send(s);
  }

  private send(s: Slot): void {
    const jobs = s.queue;
    s.queue = [];
    s.batches++;
    s.worker.postMessage({ type: 'jobs', jobs } satisfies PoolMessage);
  }

  /** Stop the workers (pending jobs fail). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    for (const s of this.slots) for (const p of s.inFlight.values()) p.reject(new KmsError('SOC_ERR_KMS_STORE', 'the crypto worker pool is closed'));
  }
}

/**
 * Worker threads a server should give the pool: every core but the one serving HTTP (at most 4;
 * 0 on a single core, where a worker would only add message passing).
 * @example KmsService.open({ dir, masterSecret, workers: defaultKmsWorkers() })
 */
export function defaultKmsWorkers(): number {
  return Math.max(0, Math.min(4, availableParallelism() - 1));
}
