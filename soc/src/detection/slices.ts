/**
 * Long synchronous work of the detector cut into slices of a few milliseconds, with the event
 * loop let run between two (`setImmediate`: after the poll phase, so socket reads, buffer
 * appends and fsync callbacks waiting meanwhile go first). Run whole, a pass over a few steps'
 * events or the windows snapshot of ~50k groups held the main thread 100–300 ms at a time, and
 * every event in flight waited for it (soc/README "Detection stalls, session 11").
 *
 * @example
 * const s = new Slicer();
 * for (const x of items) { work(x); await s.maybeYield(); }
 */

/** Most of a slice, in ms, before the event loop gets a turn. */
export const SLICE_MS = 8;

export class Slicer {
  private start = performance.now();
  /** Wall time (ms, `clock`) spent yielded: other tasks' time, not this work's. */
  yieldedMs = 0;

  constructor(
    private readonly sliceMs = SLICE_MS,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Whether the slice is used up (cheap: one `performance.now()`). */
  due(): boolean {
    return performance.now() - this.start >= this.sliceMs;
  }

  /** Yield to the event loop once the slice is used up; otherwise resolve at once. */
  maybeYield(): Promise<void> | undefined {
    return this.due() ? this.yield() : undefined;
  }

  /** Let the event loop run, then start a new slice. */
  async yield(): Promise<void> {
    const t = this.clock();
    await new Promise<void>((r) => setImmediate(r));
    this.yieldedMs += this.clock() - t;
    this.start = performance.now();
  }

  /** Hand `pieces` to `write` in order, yielding between pieces when a slice is used up. */
  async drain(pieces: Iterable<string>, write: (s: string) => void): Promise<void> {
    for (const s of pieces) {
      write(s);
      if (this.due()) await this.yield();
    }
  }
}
