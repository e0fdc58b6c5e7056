/**
 * A small benchmark harness shared by every `bench/src/*.ts`: warm-up, timed batches,
 * ops/s with a spread, ratio formatting, a plain-text table and JSON results under
 * `bench/results/` with the machine they were measured on (DESIGN.md convention 11:
 * peers in the same process, results quoted as ratios, timings never gate tests).
 *
 * @example
 * const r = measure(() => sm3(data), { bytes: data.length });
 * process.stdout.write(formatTable(['op', 'ops/s'], [['sm3', fmtOps(r.opsPerSec)]]));
 * writeResults('crypto', { rows });
 */
import { cpus, totalmem, platform, arch, release, loadavg } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** Options of {@link measure}. */
export interface MeasureOptions {
  /** Warm-up time before measuring (JIT, caches, lazy tables), ms; 0 for none. Default 150. */
  warmupMs?: number;
  /** Measuring time, ms. Default 600. */
  timeMs?: number;
  /** Bytes processed per call, to report throughput. */
  bytes?: number;
  /** Upper bound on calls (for very slow operations); at least one call is always timed. */
  maxCalls?: number;
}

/** One measurement. */
export interface Measurement {
  /** Calls per second over all timed batches. */
  opsPerSec: number;
  /** Bytes per second, when `bytes` was given. */
  bytesPerSec?: number;
  /** Number of timed calls. */
  calls: number;
  /** Relative spread of the per-batch rates: (max − min) / mean, as a fraction. */
  spread: number;
}

const now = (): number => Number(process.hrtime.bigint()) / 1e6;

/**
 * The measuring schedule shared by {@link measure} and {@link measureAsync}: it yields how
 * many calls to make next and times the gap until it is resumed. Warm-up calls one at a time
 * (also estimating one call's duration), then batches sized to ~20 ms until `timeMs` passes.
 */
function* schedule(opts: MeasureOptions): Generator<number, Measurement, undefined> {
  const warmupMs = opts.warmupMs ?? 150;
  const timeMs = opts.timeMs ?? 600;
  const maxCalls = opts.maxCalls ?? Number.MAX_SAFE_INTEGER;
  let t0 = now();
  let warm = 0;
  // warmupMs 0 skips warm-up (for calls that take seconds and were warmed elsewhere); one call per batch then.
  while (now() - t0 < warmupMs && warm < maxCalls) {
    yield 1;
    warm++;
  }
  const perCall = warm > 0 ? (now() - t0) / warm : Infinity;
  const batch = Math.max(1, Math.min(maxCalls, Math.round(20 / Math.max(perCall, 1e-6))));
  const rates: number[] = [];
  let calls = 0;
  let spent = 0;
  t0 = now();
  while ((spent < timeMs || calls === 0) && calls < maxCalls) {
    const b0 = now();
    yield batch;
    rates.push((batch * 1000) / (now() - b0));
    calls += batch;
    spent = now() - t0;
  }
  return summarise(rates, calls, spent, opts.bytes);
}

/**
 * Time a synchronous function: warm up, then run it in batches sized to ~20 ms each until
 * `timeMs` has passed. The function's result is kept alive so the JIT cannot drop the call.
 * @example measure(() => sm4.encrypt(data), { bytes: data.length })
 */
export function measure(fn: () => unknown, opts: MeasureOptions = {}): Measurement {
  const plan = schedule(opts);
  for (let step = plan.next(); ; step = plan.next()) {
    if (step.done) return step.value;
    for (let i = 0; i < step.value; i++) keep(fn());
  }
}

/**
 * Time an asynchronous function the same way (each call awaited in turn).
 * @example await measureAsync(() => fetchSomething())
 */
export async function measureAsync(fn: () => Promise<unknown>, opts: MeasureOptions = {}): Promise<Measurement> {
  const plan = schedule(opts);
  for (let step = plan.next(); ; step = plan.next()) {
    if (step.done) return step.value;
    for (let i = 0; i < step.value; i++) keep(await fn());
  }
}

function summarise(rates: number[], calls: number, spentMs: number, bytes?: number): Measurement {
  const opsPerSec = (calls * 1000) / spentMs;
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
  const spread = rates.length > 1 ? (Math.max(...rates) - Math.min(...rates)) / mean : 0;
  const m: Measurement = { opsPerSec, calls, spread };
  if (bytes !== undefined) m.bytesPerSec = opsPerSec * bytes;
  return m;
}

// A module-level sink: writes to it cannot be optimised away, so neither can the calls.
let kept: unknown;
function keep(v: unknown): void {
  kept = v;
  if (kept === keep) throw new Error('unreachable');
}

/** ops/s with thousands grouping, e.g. `12,345`; small rates keep one decimal. @example fmtOps(1234.5) */
export function fmtOps(v: number): string {
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1);
}

/** Throughput in MB/s (10^6 bytes). @example fmtMBps(123456789) // '123.5 MB/s' */
export function fmtMBps(bytesPerSec: number): string {
  return `${(bytesPerSec / 1e6).toFixed(1)} MB/s`;
}

/** A ratio like `3.42×`; `n/a` when either side is missing. @example fmtRatio(10, 2) // '5.00×' */
export function fmtRatio(ours: number | undefined, peer: number | undefined): string {
  if (!ours || !peer) return 'n/a';
  const r = ours / peer;
  return `${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`;
}

/**
 * A plain-text table with columns padded to width (numbers right-aligned).
 * @example formatTable(['op', 'ops/s'], [['sign', '12,000']])
 */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = (s: string): boolean => /^[-+]?[\d,.]+( ?[×%]| MB\/s| ms| KiB| MiB)?$/.test(s);
  const line = (cells: string[]): string =>
    cells.map((c, i) => (numeric(c) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n') + '\n';
}

/** The machine a result was measured on. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  arch: string;
  kernel: string;
  node: string;
  openssl: string;
  date: string;
  /** 1, 5 and 15-minute load averages as the results are written: other work on the machine skews timings. */
  loadAverage: number[];
}

/** Describe this machine and runtime. @example machineInfo().cpu */
export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    platform: platform(),
    arch: arch(),
    kernel: release(),
    node: process.version,
    openssl: process.versions.openssl ?? 'none',
    date: new Date().toISOString(),
    loadAverage: loadavg().map((v) => Math.round(v * 100) / 100),
  };
}

/** `bench/results/` (from either `bench/src` or `bench/dist/src`). */
export function resultsDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const up = here.includes('/dist/') ? '../../results' : '../results';
  return join(here, up);
}

/** The `XIANGAN_BENCH_*` settings this run read that the environment set ({@link benchSetting}). */
const settingsSet = new Set<string>();

/**
 * A setting of this benchmark run from the environment (`XIANGAN_BENCH_…`), or undefined. A
 * benchmark reads every setting that changes what it measures through here, so that
 * {@link resultsName} knows whether the run was its full default one.
 *
 * @example const lines = Number(benchSetting('XIANGAN_BENCH_LINES') ?? 300_000);
 */
export function benchSetting(name: string): string | undefined {
  const v = process.env[name];
  if (v !== undefined) settingsSet.add(name);
  return v;
}

/**
 * The results file a run writes: `<name>` for the benchmark's full default run, `<name>-short`
 * (git-ignored) once any {@link benchSetting} was set, so a quick look at one setting never
 * replaces the committed results that the READMEs quote.
 */
export function resultsName(name: string): string {
  return settingsSet.size > 0 ? `${name}-short` : name;
}

/**
 * Write `bench/results/<name>.json` with the machine info and the given data; returns the path.
 * @example writeResults('crypto', { rows, targets })
 */
export function writeResults(name: string, data: Record<string, unknown>): string {
  if (!/^[a-z0-9-]+$/.test(name)) throw new TypeError('writeResults: name must be lower-case words and dashes');
  const path = resultsPath(name);
  // Sections other benchmarks merged into this file (see mergeResults) survive a rewrite.
  const prev = readResults(path);
  const kept: Record<string, unknown> = {};
  for (const key of (prev.merged as string[] | undefined) ?? []) kept[key] = prev[key];
  if (Object.keys(kept).length) kept.merged = Object.keys(kept);
  writeFileSync(path, JSON.stringify({ benchmark: name, machine: machineInfo(), ...data, ...kept }, null, 2) + '\n');
  return path;
}

/**
 * Put one section measured by another benchmark into `bench/results/<name>.json` under `key`
 * (e.g. the alert latency beside the rules engine numbers), keeping the rest of the file; a
 * later {@link writeResults} of that file's own benchmark keeps the section too.
 *
 * @example
 * mergeResults('rules', 'alertLatency', result);
 */
export function mergeResults(name: string, key: string, data: unknown): string {
  if (!/^[a-z0-9-]+$/.test(name)) throw new TypeError('mergeResults: name must be lower-case words and dashes');
  const path = resultsPath(name);
  const prev = readResults(path);
  const merged = new Set([...((prev.merged as string[] | undefined) ?? []), key]);
  writeFileSync(path, JSON.stringify({ benchmark: name, ...prev, [key]: data, merged: [...merged] }, null, 2) + '\n');
  return path;
}

function resultsPath(name: string): string {
  const dir = resultsDir();
  mkdirSync(dir, { recursive: true });
  return join(dir, `${name}.json`);
}

function readResults(path: string): Record<string, unknown> {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>) : {};
}
