// Shared by the heap-flag suites (heap-young, gc-old-floor): the flags heap.ts sets are process-wide,
// so each case runs in a child process of its own, started as `npm start` starts the server.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { ResourceLimits } from 'node:worker_threads';

const HEAP = new URL('../src/detection/heap.js', import.meta.url).href;

/**
 * Evaluates `churn` (script code whose value is a number, or a promise of one; `require` is in
 * scope) in a worker made after `call` (a call of heap.ts's exports, e.g.
 * `floorWorkerOldGeneration(48)`; '' for none), then in the main thread, in a child process with
 * `--max-semi-space-size=4`. Resolves to both values.
 */
export function runHeapChild(call: string, churn: string, resourceLimits: ResourceLimits): { main: number; worker: number } {
  const script = `
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import * as heap from ${JSON.stringify(HEAP)};
const require = createRequire(import.meta.url);
const churn = ${JSON.stringify(churn)};
${call === '' ? '' : `heap.${call};`}
const worker = await new Promise((resolve, reject) => {
  const code = 'Promise.resolve(eval(' + JSON.stringify(churn) + ')).then((n) => require("node:worker_threads").parentPort.postMessage(n))';
  const w = new Worker(code, { eval: true, execArgv: [], resourceLimits: ${JSON.stringify(resourceLimits)} });
  w.once('message', resolve);
  w.once('error', reject);
});
const main = await eval(churn);
console.log(JSON.stringify({ main, worker }));
`;
  const r = spawnSync(process.execPath, ['--max-semi-space-size=4', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { main: number; worker: number };
}
