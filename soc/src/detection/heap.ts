/**
 * The V8 heap setting of a server process that runs detection (see {@link limitHeapGrowth}).
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
 * (within this machine's noise).
 */
const HEAP_GROWING_PERCENT = 60;

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
