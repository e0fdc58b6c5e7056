// The floor under the pipeline workers' old-generation limit (src/pipeline/runtime.ts
// workerOldFloorMb, applied with src/detection/heap.ts floorWorkerOldGeneration): a worker made after
// the call runs no mark-compact while its old generation stays under the floor; one made without it
// runs several for the same garbage; the calling thread keeps its own limits. Each case in a child
// process of its own (the flag is process-wide), started as `npm start` starts the server. Counted
// by the isolates' own GC entries (kind 4 = mark-compact), read once the work is done: counts of
// collections, not times.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { workerOldFloorMb } from '../src/pipeline/runtime.js';
import { runHeapChild } from './heap-child.js';

/**
 * Makes ~50 MB of old-space garbage (arrays of 16,384 small objects, each held across a few
 * scavenges, so promoted, then dropped) with a small live heap; resolves to its mark-compacts.
 */
const CHURN = `(async () => {
const { PerformanceObserver } = require('node:perf_hooks');
let full = 0;
const obs = new PerformanceObserver((l) => { for (const e of l.getEntries()) if (e.detail.kind === 4) full++; });
obs.observe({ entryTypes: ['gc'] });
const held = [];
for (let i = 0; i < 80; i++) {
  const a = new Array(16384);
  for (let j = 0; j < a.length; j++) a[j] = { i, j };
  held.push(a);
  if (held.length > 4) held.shift();
  for (let k = 0; k < 2e5; k++) ({ k });
}
held.length = 0;
for (let t = 0; t < 3; t++) await new Promise((r) => setImmediate(r));
obs.disconnect();
return full;
})()`;

/** Mark-compacts of the main thread and of a worker made after `floorWorkerOldGeneration(mb)` (none: no call). */
function run(mb: number | undefined): { main: number; worker: number } {
  return runHeapChild(mb === undefined ? '' : `floorWorkerOldGeneration(${mb})`, CHURN, { maxOldGenerationSizeMb: 256 });
}

test('without detection the workers get a 48 MiB floor, with it 32', () => {
  assert.equal(workerOldFloorMb(false), 48);
  assert.equal(workerOldFloorMb(true), 32);
});

test('a worker made after the floor skips mark-compacts below it; the main thread keeps collecting', () => {
  const floored = run(96);
  assert.equal(floored.worker, 0);
  assert.ok(floored.main >= 1, `main thread mark-compacts ${floored.main}`);
});

test('without the floor (or with 0) the same worker runs mark-compacts', () => {
  assert.ok(run(undefined).worker >= 1);
  assert.ok(run(0).worker >= 1);
});

test('floorWorkerOldGeneration takes a whole number of MiB', async () => {
  const { floorWorkerOldGeneration } = await import('../src/detection/heap.js');
  assert.throws(() => floorWorkerOldGeneration(-1), RangeError);
  assert.throws(() => floorWorkerOldGeneration(2.5), RangeError);
});
