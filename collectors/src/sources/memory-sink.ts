/**
 * A bounded in-memory `EventSink` that dedupes by event id, for tests, the CLI's dry
 * runs and as the reference of the sink contract: `append` rejects with
 * COL_ERR_BUFFER_FULL instead of growing past its capacity.
 */
import type { EcsEvent, EventSink } from '../types.js';
import { CollectorError } from '../errors.js';

/**
 * In-memory sink. `blocked = true` makes it report full (to test back-pressure).
 *
 * @example
 * const sink = new MemorySink({ capacity: 10_000 });
 * await sink.append(events); sink.events.length;
 */
export class MemorySink implements EventSink {
  /** Stored events, first write of each id wins (idempotent like the real sinks). */
  readonly events: EcsEvent[] = [];
  private readonly ids = new Set<string>();
  /** How many appended events carried an id already stored. */
  duplicates = 0;
  /** Force the sink full (tests). */
  blocked = false;
  readonly capacity: number;
  private readonly waiters: Array<{ n: number; resolve: () => void }> = [];

  constructor(opts: { capacity?: number } = {}) {
    this.capacity = opts.capacity ?? 1_000_000;
  }

  get full(): boolean {
    return this.blocked || this.events.length >= this.capacity;
  }

  async append(events: EcsEvent[]): Promise<void> {
    if (this.full || this.events.length + events.length > this.capacity) {
      throw new CollectorError('COL_ERR_BUFFER_FULL', 'memory sink is full');
    }
    for (const e of events) {
      if (this.ids.has(e.id)) {
        this.duplicates++;
        continue;
      }
      this.ids.add(e.id);
      this.events.push(e);
    }
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (this.events.length >= w.n) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  /** Resolves once at least `n` events are stored, or rejects after `timeoutMs`. */
  waitFor(n: number, timeoutMs = 10_000): Promise<void> {
    if (this.events.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${n} events (have ${this.events.length})`)), timeoutMs);
      this.waiters.push({
        n,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
      });
    });
  }
}
