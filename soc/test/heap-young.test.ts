// The pipeline workers' young generation (src/pipeline/runtime.ts workerSemiSpaceMb, applied with
// src/detection/heap.ts sizeWorkerYoungGeneration): in a process started as `npm start` starts it
// (`--max-semi-space-size=4`), a worker made after the call gets the semi-space the rule names for
// its configuration, the main thread keeps the option's. Each case in a child process of its own
// (the flag is process-wide); each thread allocates objects that survive a scavenge or two until its
// new space has grown to its maximum (V8 grows it by the bytes that survive, not by time).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { workerSemiSpaceMb } from '../src/pipeline/runtime.js';
import { runHeapChild } from './heap-child.js';

/** Allocates until new space has grown to its maximum; evaluates to its size in MiB. */
const CHURN = `
const keep = [];
for (let i = 0; i < 4e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 2e5) keep.length = 0; }
require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576;
`;

/** New-space sizes (MiB) of the main thread and of a worker made after `sizeWorkerYoungGeneration(semiMb)` (none: no call). */
function run(semiMb: number | undefined): { main: number; worker: number } {
  return runHeapChild(semiMb === undefined ? '' : `sizeWorkerYoungGeneration(${semiMb})`, CHURN, { maxYoungGenerationSizeMb: 16 });
}

test('with detection the workers get 4 MiB semi-spaces, without it 8; the main thread keeps the option\'s 4', () => {
  assert.equal(workerSemiSpaceMb(true), 4);
  assert.equal(workerSemiSpaceMb(false), 8);
  assert.deepEqual(run(workerSemiSpaceMb(true)), { main: 8, worker: 8 });
  assert.deepEqual(run(workerSemiSpaceMb(false)), { main: 8, worker: 16 });
});

test('without the call the option sizes the workers too, over their resourceLimits (why the runtime sets it)', () => {
  assert.deepEqual(run(undefined), { main: 8, worker: 8 });
});

test('sizeWorkerYoungGeneration takes a positive whole number of MiB', async () => {
  const { sizeWorkerYoungGeneration } = await import('../src/detection/heap.js');
  assert.throws(() => sizeWorkerYoungGeneration(0), RangeError);
  assert.throws(() => sizeWorkerYoungGeneration(2.5), RangeError);
});
