/**
 * Moves events from the durable buffer to the store: read in order, write, and acknowledge only
 * after the store has committed ("acknowledgements flow back", DESIGN.md). A store failure keeps
 * the batch in the buffer and retries with back-off; nothing is skipped.
 */
import type { EcsEvent, Logger } from '@xiangan/collectors';
import type { DurableBuffer } from '../buffer/durable.js';
import type { EventStore } from '../storage/types.js';

/** Options of {@link StoreConsumer}. */
export interface StoreConsumerOptions {
  buffer: DurableBuffer;
  store: EventStore;
  /** Events per store transaction; default 10,000. */
  batchEvents?: number;
  logger?: Logger;
  /** Called after each committed store write (metrics, live tail, benchmarks). */
  onStored?: (events: EcsEvent[], info: { written: number; duplicates: number; ms: number; oldestAppendedAt: number }) => void;
  /** Called when a store write fails (before the retry). */
  onError?: (error: unknown) => void;
  /** Upper bound of the retry back-off (ms); default 5,000. */
  maxBackoffMs?: number;
}

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
  private readonly batchEvents: number;
  constructor(private readonly opts: StoreConsumerOptions) {
    this.batchEvents = opts.batchEvents ?? 10_000;
    if (!Number.isInteger(this.batchEvents) || this.batchEvents <= 0) throw new RangeError('StoreConsumer: batchEvents must be a positive integer');
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
  }

  /** Resolves once the buffer is empty (or the consumer stopped). */
  async drain(): Promise<void> {
    while (this.running && (this.opts.buffer.depth > 0 || this.opts.buffer.full)) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Move at most one read's worth of batches; returns the number of events stored. */
  async step(): Promise<number> {
    const { buffer, store } = this.opts;
    const batches = buffer.read(this.batchEvents);
    if (batches.length === 0) return 0;
    const events: EcsEvent[] = [];
    for (const b of batches) for (const e of b.events) events.push(e);
    const t0 = performance.now();
    const res = await store.write(events);
    const ms = performance.now() - t0;
    buffer.ack(batches[batches.length - 1]!.seq);
    this.opts.onStored?.(events, { ...res, ms, oldestAppendedAt: batches[0]!.appendedAt });
    return events.length;
  }

  private async run(): Promise<void> {
    const { buffer, logger } = this.opts;
    while (this.running) {
      try {
        const n = await this.step();
        this.backoff = 0;
        if (n === 0) await buffer.waitForData(200);
        else await new Promise<void>((r) => setImmediate(r));
      } catch (e) {
        this.opts.onError?.(e);
        buffer.rewind();
        this.backoff = Math.min(Math.max(this.backoff * 2, 50), this.opts.maxBackoffMs ?? 5000);
        const code = (e as { code?: string }).code;
        logger?.error({ err: e, errorCode: code, stage: 'store', retryInMs: this.backoff }, 'Store write failed; the batch stays buffered and will be retried.');
        await new Promise((r) => setTimeout(r, this.backoff));
      }
    }
  }
}
