/**
 * Moves events from the durable buffer to the store: read in order, write, and acknowledge only
 * after the store has committed ("acknowledgements flow back", DESIGN.md). A store failure keeps
 * the batch in the buffer and retries with back-off; nothing is skipped.
 *
 * The write itself goes through a {@link BatchWriter}: in this thread ({@link inProcessWriter}) or
 * in a worker thread (`./store-worker.ts`), so that parsing and SQLite inserts of the store run on
 * the second core while this one reads sockets, parses syslog and appends to the buffer.
 */
import type { EcsEvent, Logger } from '@xiangan/collectors';
import type { DurableBuffer, RawBatch } from '../buffer/durable.js';
import type { SqliteEventStore } from '../storage/sqlite.js';
import { Preparer, type PrepareCounters, type PreparedStep } from './prepare.js';
import type { PrematchedStep } from './prematch.js';

/** What one store write reports back. */
export interface WriteInfo {
  written: number;
  duplicates: number;
  /** Duration of the store transaction. */
  ms: number;
  /** Per event: receipt (`event.ingested`) → commit, in ms; `NaN` when unknown. */
  receiptToStoredMs?: Float64Array;
}

/** One step of a writer: which batches it stored and how it went. */
export interface StepInfo extends WriteInfo {
  /** Last buffer batch stored: the consumer acknowledges up to here. */
  lastSeq: number;
  events: number;
  oldestAppendedAt: number;
  /**
   * The stored batches with their events as the documents stored (`docs` batches, buffer order),
   * when the writer has them: detection reads these instead of the buffer, whose raw frames
   * would need parsing again.
   */
  batches?: RawBatch[];
  /**
   * Instead of `batches`, when the prepare worker ran detection's stateless half: per step, the
   * events that matched and each batch's count and newest time (`./prematch.ts`).
   */
  prematched?: PrematchedStep[];
  /** Parse counters of raw frames, per source id. */
  counters?: PrepareCounters;
  /**
   * When the commit returned before it was durable (the store worker commits with
   * `synchronous = NORMAL` and the WAL is synced beside the next step, `./wal-sync.ts`): resolves
   * once it is, rejects if the sync failed. The consumer acknowledges the step only after it.
   */
  durable?: Promise<void>;
}

/**
 * Stores the buffered batches after `afterSeq` (about `maxEvents` events) and resolves after the
 * commit, or with `undefined` when there is nothing to store. Reading the batches is the writer's
 * job, so a worker thread can read them through its own connection.
 */
export type BatchWriter = (afterSeq: number, maxEvents: number) => Promise<StepInfo | undefined>;

/** Store a prepared step in one transaction; shared by this thread and the store worker. */
export function storePrepared(store: SqliteEventStore, step: PreparedStep, now: () => number): StepInfo {
  const t0 = performance.now();
  const res = store.writeColumns(step);
  const ms = performance.now() - t0;
  const t = now();
  const lat = new Float64Array(step.count);
  for (let i = 0; i < step.count; i++) lat[i] = t - step.ingested[i]!;
  return {
    ...res,
    ms,
    receiptToStoredMs: lat,
    lastSeq: step.lastSeq,
    events: step.count,
    oldestAppendedAt: step.oldestAppendedAt,
    batches: step.batches,
    counters: step.counters,
  };
}

/** Prepare (parse raw frames) and store buffered batches in one transaction, in this thread. */
export function storeBatches(store: SqliteEventStore, batches: readonly RawBatch[], now: () => number, preparer = new Preparer('vendor', now)): StepInfo {
  return storePrepared(store, preparer.prepare(batches)!, now);
}

/**
 * A writer that reads the buffer and stores in this thread.
 *
 * @example
 * ```ts
 * new StoreConsumer({ buffer, writer: inProcessWriter(buffer, store) });
 * ```
 */
export function inProcessWriter(buffer: DurableBuffer, store: SqliteEventStore, now: () => number = Date.now, preparer = new Preparer('vendor', now)): BatchWriter {
  return async (afterSeq, maxEvents) => {
    const batches = buffer.readAfter(afterSeq, maxEvents);
    return batches.length ? storeBatches(store, batches, now, preparer) : undefined;
  };
}

/** Receipt → `t` per event, from `event.ingested`. */
export function receiptLatencies(events: readonly EcsEvent[], t: number): Float64Array {
  const out = new Float64Array(events.length);
  for (let i = 0; i < events.length; i++) out[i] = t - Date.parse(String(events[i]!.event?.ingested));
  return out;
}

/** Options of {@link StoreConsumer}. */
export interface StoreConsumerOptions {
  buffer: DurableBuffer;
  /** The store to write to in this thread (ignored when `writer` is given). */
  store?: SqliteEventStore;
  /** How batches are read and written; default {@link inProcessWriter} over `store`. */
  writer?: BatchWriter;
  /** Events per store transaction; default 10,000. */
  batchEvents?: number;
  logger?: Logger;
  /** Called after each committed store write (metrics). */
  onStored?: (info: StepInfo) => void;
  /** Called when a store write fails (before the retry). */
  onError?: (error: unknown) => void;
  /** Upper bound of the retry back-off (ms); default 5,000. */
  maxBackoffMs?: number;
  /**
   * Runs after the store commit and before the buffer acknowledgement (detection reads the
   * batches after `afterSeq` up to `info.lastSeq`): a rejection keeps them buffered and retries
   * them like a failed write (the store is idempotent).
   */
  afterWrite?: (info: StepInfo, afterSeq: number) => Promise<void>;
}

/**
 * Stored steps waiting for `afterWrite` (besides those it is running on) may hold this many
 * times `batchEvents` events before the consumer waits for it: enough for the store to go on
 * committing at its own pace while detection runs a few steps as one, little enough to keep
 * their documents a few MiB.
 */
const AFTER_WRITE_STEPS_AHEAD = 2;

/**
 * The single consumer of a {@link DurableBuffer}.
 *
 * @example
 * ```ts
 * const consumer = new StoreConsumer({ buffer, store });
 * consumer.start();
 * await consumer.drain();   // tests: until the buffer is empty
 * await consumer.stop();
 * ```
 */
export class StoreConsumer {
  private running = false;
  private loop: Promise<void> | undefined;
  private backoff = 0;
  /** Last batch acknowledged (0 after a restart: the buffer only holds unacknowledged batches). */
  private acked = 0;
  /** Last batch the store committed: the next write starts after it (ahead of `acked` while `afterWrite` runs behind). */
  private stored = 0;
  /** A write started ahead of the acknowledgement (see {@link step}). */
  private next: { after: number; p: Promise<StepInfo | undefined> } | undefined;
  /** Stored steps not yet handed to `afterWrite`, in order, each with the position it was written after. */
  private waiting: Array<{ after: number; info: StepInfo }> = [];
  private waitingEvents = 0;
  /** The `afterWrite` pass in progress (it takes every step waiting when it starts). */
  private hook: Promise<void> | undefined;
  /** An `afterWrite` or durability failure not yet reported by {@link step}. */
  private hookError: { e: unknown } | undefined;
  /** Acknowledgements waiting for their step's `durable`, in step order, and how many. */
  private acks: Promise<void> = Promise.resolve();
  private pendingAcks = 0;
  /** Counts durability failures: steps stored before one are never acknowledged. */
  private epoch = 0;
  private readonly batchEvents: number;
  private readonly writer: BatchWriter;
  constructor(private readonly opts: StoreConsumerOptions) {
    this.batchEvents = opts.batchEvents ?? 10_000;
    if (!Number.isInteger(this.batchEvents) || this.batchEvents <= 0) throw new RangeError('StoreConsumer: batchEvents must be a positive integer');
    if (opts.writer) this.writer = opts.writer;
    else if (opts.store) this.writer = inProcessWriter(opts.buffer, opts.store);
    else throw new TypeError('StoreConsumer: give a store or a writer');
  }

  /** Start the loop (idempotent). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Finish the write in progress and stop. Unacknowledged events stay in the buffer. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.loop = undefined;
    // Steps already stored get their hook and acknowledgement (a failure leaves them buffered).
    await this.settleHook().catch(() => undefined);
    await this.acks;
    // A write started ahead is committed (idempotent) but not acknowledged: the next start stores it again as duplicates.
    const n = this.next;
    this.next = undefined;
    await n?.p.catch(() => undefined);
  }

  /** Resolves once the buffer is empty (or the consumer stopped). */
  async drain(): Promise<void> {
    while (this.running && (this.opts.buffer.depth > 0 || this.opts.buffer.full)) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * Move at most one read's worth of batches; returns the number of events stored. With an
   * `afterWrite` hook the store does not wait for it: the next write starts as soon as this one
   * committed, and the hook runs on the steps stored meanwhile, several at once when it falls
   * behind (at most {@link AFTER_WRITE_STEPS_AHEAD} steps' worth of events, then the store
   * waits). A steady-rate event is then stored one store step after it was buffered, whatever
   * detection's cost per call. Acknowledgements stay in order and only follow the hook, so a
   * crash or a hook failure replays from the last acknowledged batch (the store is idempotent).
   */
  async step(): Promise<number> {
    this.throwHookError();
    if (this.opts.afterWrite && this.waitingEvents >= AFTER_WRITE_STEPS_AHEAD * this.batchEvents) {
      await this.settleHook();
    }
    const pending = this.next;
    this.next = undefined;
    const info = pending && pending.after === this.stored ? await pending.p : await this.settleThenWrite(pending);
    // A hook that failed meanwhile moved the position back to the last acknowledgement: this
    // write (idempotent) is repeated from there.
    this.throwHookError();
    if (!info) return 0;
    const after = this.stored;
    this.stored = info.lastSeq;
    if (!this.opts.afterWrite) {
      this.acknowledge(info);
      return info.events;
    }
    if (this.running) {
      const p = this.writer(info.lastSeq, this.batchEvents);
      p.catch(() => undefined);
      this.next = { after: info.lastSeq, p };
    }
    this.waiting.push({ after, info });
    this.waitingEvents += info.events;
    this.hook ??= this.runHook();
    return info.events;
  }

  /** Waits for the `afterWrite` pass in progress (and what queued behind it); rethrows its failure. */
  private async settleHook(): Promise<void> {
    while (this.hook) await this.hook;
    this.throwHookError();
  }

  private throwHookError(): void {
    const f = this.hookError;
    if (!f) return;
    this.hookError = undefined;
    throw f.e;
  }

  /** Runs `afterWrite` on every waiting step (as one step), acknowledges them, and again while more wait. */
  private async runHook(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        // Consecutive steps of one kind (documents, or prematched) go as one; steps with neither
        // are passed one by one: the hook re-reads those from the buffer, one read's worth at a time.
        const kind = (i: StepInfo): number => (i.prematched ? 2 : i.batches ? 1 : 0);
        const k = kind(this.waiting[0]!.info);
        let n = 1;
        if (k !== 0) while (n < this.waiting.length && kind(this.waiting[n]!.info) === k) n++;
        const group = this.waiting.slice(0, n);
        this.waiting = this.waiting.slice(group.length);
        const merged = mergeSteps(group.map((g) => g.info));
        this.waitingEvents -= merged.events;
        const epoch = this.epoch;
        try {
          await this.opts.afterWrite!(merged, group[0]!.after);
          // A step before these failed to become durable meanwhile: they are written again.
          if (epoch !== this.epoch) continue;
          for (const g of group) this.acknowledge(g.info);
        } catch (e) {
          // Nothing after the last acknowledgement counts as done: writes start over from there.
          // Kept for step() to throw (no one may be awaiting this pass).
          this.hookError = { e };
          this.waiting = [];
          this.waitingEvents = 0;
          this.stored = this.acked;
          return;
        }
      }
    } finally {
      this.hook = undefined;
    }
  }

  /**
   * Releases the step's batches from the buffer once its commit is durable, in step order. A
   * failed sync drops every step stored so far (a later sync's success says nothing about pages
   * a failed one lost: fsync(2), ERRORS) and writes again from the last acknowledgement.
   */
  private acknowledge(info: StepInfo): void {
    const durable = info.durable;
    if (!durable && this.pendingAcks === 0) {
      this.release(info);
      return;
    }
    const epoch = this.epoch;
    this.pendingAcks++;
    this.acks = this.acks.then(async () => {
      try {
        await durable;
        if (epoch === this.epoch) this.release(info);
      } catch (e) {
        if (epoch !== this.epoch) return;
        this.epoch++;
        this.hookError ??= { e };
        this.waiting = [];
        this.waitingEvents = 0;
        this.stored = this.acked;
      } finally {
        this.pendingAcks--;
      }
    });
  }

  private release(info: StepInfo): void {
    this.opts.buffer.ack(info.lastSeq);
    this.acked = info.lastSeq;
    this.opts.onStored?.(info);
  }

  /** A write started ahead for another position is let finish (its rows are idempotent), then the write from the last stored one. */
  private async settleThenWrite(stale: { p: Promise<StepInfo | undefined> } | undefined): Promise<StepInfo | undefined> {
    if (stale) await stale.p.catch(() => undefined);
    return this.writer(this.stored, this.batchEvents);
  }

  private async run(): Promise<void> {
    const { buffer, logger } = this.opts;
    while (this.running) {
      try {
        const n = await this.step();
        this.backoff = 0;
        if (n === 0) await buffer.waitForData(200, this.stored);
        else await new Promise<void>((r) => setImmediate(r));
      } catch (e) {
        this.opts.onError?.(e);
        this.backoff = Math.min(Math.max(this.backoff * 2, 50), this.opts.maxBackoffMs ?? 5000);
        const code = (e as { code?: string }).code;
        logger?.error({ err: e, errorCode: code, stage: 'store', retryInMs: this.backoff }, 'Store write failed; the batch stays buffered and will be retried.');
        await new Promise((r) => setTimeout(r, this.backoff));
      }
    }
  }
}

/**
 * Consecutive stored steps as one, for one `afterWrite` call: their batches in order (when every
 * step has them), counts summed, the last position.
 */
function mergeSteps(steps: readonly StepInfo[]): StepInfo {
  if (steps.length === 1) return steps[0]!;
  const last = steps[steps.length - 1]!;
  const out: StepInfo = {
    written: 0,
    duplicates: 0,
    ms: 0,
    lastSeq: last.lastSeq,
    events: 0,
    oldestAppendedAt: steps[0]!.oldestAppendedAt,
  };
  const batches: RawBatch[] = [];
  const prematched: PrematchedStep[] = [];
  let all = true;
  let allPre = true;
  for (const s of steps) {
    out.written += s.written;
    out.duplicates += s.duplicates;
    out.ms += s.ms;
    out.events += s.events;
    if (s.batches) for (const b of s.batches) batches.push(b);
    else all = false;
    if (s.prematched) for (const p of s.prematched) prematched.push(p);
    else allPre = false;
  }
  if (allPre) out.prematched = prematched;
  else if (all) out.batches = batches;
  return out;
}
