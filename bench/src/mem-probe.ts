/**
 * Memory probe for a server under a benchmark: preloaded into the server process with
 * `XIANGAN_BENCH_SERVER_NODE_ARGS="--import ./bench/dist/src/mem-probe.js"` and
 * `XIANGAN_MEM_PROBE_DIR=<dir>`. Node runs `--import` modules in worker threads started from a
 * file as well (they inherit the process's `execArgv`; the server's workers are), so each thread appends its own V8 heap figures
 * (`v8.getHeapStatistics()`, per space) to `<dir>/<pid>-<threadId>-<role>.jsonl` every 250 ms,
 * and the main thread appends the process's resident memory by kind of mapping from
 * `/proc/self/smaps` (`smaps.jsonl`, every second): the node binary and other files, glibc's
 * main arena (`[heap]`), thread arenas (anonymous mappings that start on a 64 MiB boundary,
 * glibc's HEAP_MAX_SIZE), V8's 256 KiB pages and the rest. `XIANGAN_MEM_PROBE_SNAPSHOT_S` writes
 * a heap snapshot of the main thread that many seconds after start. Each thread also appends
 * its garbage collections so far (`gc` performance entries: count and milliseconds by kind, minor
 * = scavenge, major = mark-compact) to `<dir>/<pid>-<threadId>-<role>.gc.jsonl` every second: the
 * pause time a young-generation size costs a thread, which its CPU total hides in this machine's
 * noise. `XIANGAN_MEM_PROBE_PEAK_MS` also polls the resident size that often and writes the
 * smaps line at each new maximum (see below). Nothing happens without
 * `XIANGAN_MEM_PROBE_DIR`; the timers are unref'd, so the server exits as it would.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { getHeapSpaceStatistics, getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import { isMainThread, threadId, workerData } from 'node:worker_threads';
import { PerformanceObserver, constants } from 'node:perf_hooks';

const MB = 1024 * 1024;
const dir = process.env.XIANGAN_MEM_PROBE_DIR;

/** Resident MB of `/proc/self/smaps` by kind of mapping (see the module comment). */
export function residentByKind(smaps: string): Record<string, number> {
  const out: Record<string, number> = {};
  let kind = '';
  for (const line of smaps.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (m) {
      const start = BigInt(`0x${m[1]}`);
      const size = Number(BigInt(`0x${m[2]}`) - start) / MB;
      const name = m[3]!;
      if (name === '[heap]') kind = 'mallocMainArena';
      else if (name.startsWith('/')) kind = `file:${name.slice(name.lastIndexOf('/') + 1)}`;
      else if (name !== '') kind = name;
      else if (start % (64n * BigInt(MB)) === 0n && size <= 64) kind = 'mallocThreadArenas';
      else if (size === 0.25) kind = 'v8Pages';
      else kind = 'anonOther';
      continue;
    }
    const r = /^Rss:\s+(\d+) kB/.exec(line);
    if (r && kind) out[kind] = (out[kind] ?? 0) + Number(r[1]) / 1024;
  }
  return out;
}

if (dir) {
  const role = isMainThread ? 'main' : ((workerData as { role?: string } | null)?.role ?? 'worker');
  const file = `${dir}/${process.pid}-${threadId}-${role}.jsonl`;
  setInterval(() => {
    const h = getHeapStatistics();
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, Math.round(s.space_size / MB)]));
    const m = process.memoryUsage();
    appendFileSync(file, `${JSON.stringify({ t: Date.now(), role, totalMb: h.total_heap_size / MB, usedMb: h.used_heap_size / MB, externalMb: m.external / MB, spaces })}\n`);
  }, 250).unref();
  const gcKinds: Record<number, string> = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
  };
  const gc: Record<string, { n: number; ms: number }> = {};
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const k = gcKinds[((e as unknown as { detail?: { kind?: number } }).detail)?.kind ?? -1] ?? 'other';
      const g = (gc[k] ??= { n: 0, ms: 0 });
      g.n++;
      g.ms += e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  setInterval(() => appendFileSync(file.replace(/\.jsonl$/, '.gc.jsonl'), `${JSON.stringify({ t: Date.now(), role, gc })}\n`), 1000).unref();
  if (isMainThread) {
    const smaps = (peak: boolean): void => {
      const kinds = Object.entries(residentByKind(readFileSync('/proc/self/smaps', 'utf8'))).filter(([, v]) => v >= 0.5);
      const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN) / 1024;
      appendFileSync(`${dir}/smaps.jsonl`, `${JSON.stringify({ t: Date.now(), rssMb: rss, ...(peak ? { peak } : {}), kinds: Object.fromEntries(kinds.map(([k, v]) => [k, Math.round(v)])) })}\n`);
    };
    setInterval(() => smaps(false), 1000).unref();
    // The process's peak (VmHWM) is often a moment between two samples a second apart: polled
    // every XIANGAN_MEM_PROBE_PEAK_MS, each new maximum of VmRSS (by 1 MB or more) also gets a
    // line (`peak: true`), so what made the peak shows.
    const peakMs = Number(process.env.XIANGAN_MEM_PROBE_PEAK_MS);
    if (peakMs > 0) {
      let max = 0;
      setInterval(() => {
        const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024;
        if (rss < max + 1) return;
        max = rss;
        smaps(true);
      }, peakMs).unref();
    }
    const at = Number(process.env.XIANGAN_MEM_PROBE_SNAPSHOT_S);
    if (at > 0) setTimeout(() => writeHeapSnapshot(`${dir}/main.heapsnapshot`), at * 1000).unref();
  }
}
