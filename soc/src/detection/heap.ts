/**
 * V8 heap settings of a server process: how far heaps grow with detection on ({@link limitHeapGrowth}),
 * the pipeline workers' young generation ({@link sizeWorkerYoungGeneration}) and the floor under their
 * old generation's limit ({@link floorWorkerOldGeneration}).
 */
import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets a heap grow past its live size before the next full collection, in percent.
 * With detection on, the main thread holds ~100 MB live (correlation groups up to `maxGroups`,
 * the live stream's ring, the code) and turns over the documents of every matched event; V8's
 * default factor (up to 4× the live size, V8 src/heap/heap-controller.cc) let that heap reach
 * 350–410 MB before a full collection, most of the server's RSS beyond the pipeline's
 * (bench:ingest, 300k lines, load 4–12; before: main-thread heap at most 411 MB, peak RSS 641–674).
 * At 30 %: heap 224–228 MB, peak RSS 421–516, but the V8 helper threads' CPU 19 → 26 µs/event in
 * one run; at 60 %: heap 191 MB, peak RSS 523, helpers 19.0 and all threads 121 against 114–117
 * (within this machine's noise). Session 9, with the smaller SQLite caches and the main thread's
 * 8 MiB semi-space (soc/README.md "Memory, session 9"), the peak came right before the main
 * thread's full collections (old space 123–133 MB for ~65–85 MB live: every windows snapshot
 * promotes its object graph), so 45 (300k-line probes, load 3–6, alternating with 60): peak RSS
 * 339 / 325 against 344 / 370 MB, mean of the run's second half 290 / 292 against 306 / 312 MB,
 * all threads 122.1 / 101.0 against 113.9 / 110.4 CPU-µs/event (within noise); at 35: 336 / 329
 * against 373 / 360 MB but 116.9 / 117.6 against 106.8 / 112.2 µs (+5–10 %, more full
 * collections in every thread: the flag is process-wide).
 */
const HEAP_GROWING_PERCENT = 45;

/**
 * Set {@link HEAP_GROWING_PERCENT} for this process. V8 reads the flag at every full collection,
 * so setting it after start-up takes effect from the next one (and for every isolate: the workers
 * as well); it changes when memory is reclaimed, never what a program computes. Process-wide, so
 * only the server's entry (`xiangan soc start`) calls it, when detection is on; a program that
 * embeds the pipeline keeps its own heap settings.
 */
export function limitHeapGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

/**
 * Give the isolates made from now on (the pipeline's workers) semi-spaces of `semiMb` MiB (their
 * young generation is twice it). V8 applies `--max-semi-space-size` to every isolate made while it
 * is set, over a Worker's own `resourceLimits` (src/heap/heap.cc, ConfigureHeap), and rounds it up
 * to a power of two; the calling thread's young generation stays as the process started it
 * (`npm start`: 4). Process-wide: called by the server's runtime before it makes its workers.
 */
export function sizeWorkerYoungGeneration(semiMb: number): void {
  if (!Number.isInteger(semiMb) || semiMb < 1) throw new RangeError('sizeWorkerYoungGeneration: semiMb must be a positive integer');
  setFlagsFromString(`--max-semi-space-size=${semiMb}`);
}

/**
 * Let every isolate made from now on skip full collections while its old generation, with the
 * external memory it took since the last one, is under `mb` MiB; 0 gives V8's default back (no
 * floor). V8 reads `--initial-old-space-size` when an isolate starts and keeps it as the least
 * allocation limit its heap controller may set (src/heap/heap.cc, ConfigureHeap:
 * `min_old_generation_size_`); without it a worker's limit follows its ~9 MB live heap plus an 8 MB
 * step, and the step buffers it receives (~8 MB each, transferred ArrayBuffers counted as external
 * memory) start a mark-compact every second step or so (soc/README.md "GC, session 17"). A limit,
 * not a reservation: memory is taken only as garbage accumulates. The calling thread's heap keeps
 * the limits it started with. Process-wide and not per worker (a Worker's `resourceLimits` has no
 * initial size, and its isolate is made on its own thread, so setting and resetting the flag around
 * `new Worker` would race): the pipeline's workers, and the KMS signing and integrity digest workers
 * if made later, each up to `mb` of garbage; V8 clamps it to half an isolate's maximum (the
 * checkpoint thread's 16 MB: 8). Called by the server's runtime before it makes its workers.
 */
export function floorWorkerOldGeneration(mb: number): void {
  if (!Number.isInteger(mb) || mb < 0) throw new RangeError('floorWorkerOldGeneration: mb must be a whole number >= 0');
  setFlagsFromString(`--initial-old-space-size=${mb}`);
}
