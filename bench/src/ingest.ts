/**
 * `npm run bench:ingest` (issue 3, "Speed"): 1,000,000 realistic mixed syslog lines over TCP on
 * loopback into the real server process (`xiangan soc start`), measured from the first byte sent
 * to the last event committed in SQLite; parse-only throughput on one core; p99 receipt → stored
 * latency (the server's own histogram); the server's peak RSS (VmHWM). In the same run, rsyslog
 * (Debian) receives the same stream over TCP into a file as a native reference.
 *
 * After the flat-out stream, the same server gets 20 s of lines at a steady 80 % of its measured
 * capacity (`paced`): the lower of the flat-out stream's average rate (reading and storing at
 * once) and the rate at which it committed the last 30 % of it (when the day's table was as large
 * as during the paced phase: the store's cost grows with it). The p99 receipt → stored of that
 * phase is the pipeline's own delay, whereas the flat-out p99 measures how long the sender's
 * backlog waited in the buffer. `paced.drainMs` (from the last paced line sent to its commit)
 * tells whether the server kept up; when it did not (over 2 s: a backlog built up, so the p99
 * measured that backlog again), the phase is run once more at 80 % of the rate it did sustain,
 * and both tries are reported (`paced.tries`, the last one in `paced`).
 *
 * CPU time per event, per thread of the server (main thread: sockets, framing, buffer
 * appends, detection; the prepare and store workers; V8's helper threads, mostly GC), is read from
 * /proc at the start and end of the stream: unlike wall time it is barely disturbed by other
 * processes on the machine, and `cpuCapacityEventsPerSec` (1e6 / max(total / 2 cores, busiest
 * thread)) is what that CPU cost allows on two idle cores.
 *
 * Environment: `XIANGAN_BENCH_LINES` (default 1,000,000) to run a smaller stream;
 * `XIANGAN_BENCH_INTEGRITY` `both` (default: a second server run with tamper-evidence chaining off,
 * for its overhead), `on` or `off`; `XIANGAN_BENCH_ALERTS` `on` (default, detection as configured
 * by default) or `off`; `XIANGAN_BENCH_PACED_RATE` events/s of the steady phase (default 80 % of
 * the measured capacity; 0 skips it); `XIANGAN_BENCH_RSYSLOG=off` skips the rsyslog reference; `XIANGAN_BENCH_PIPELINE_ONLY=off` skips
 * the third server run (detection and chaining off: the pipeline alone);
 * `XIANGAN_BENCH_SERVER_NODE_ARGS` adds node options to the server (profiling; after `npm start`'s own,
 * so they can override them); the server gets `MALLOC_ARENA_MAX=2`, `MALLOC_MMAP_THRESHOLD_=131072`
 * and `--max-semi-space-size=4` as `npm start` sets them, unless the environment sets the first two. A run with any
 * of these variables set writes `bench/results/ingest-short.json` (`resultsName`), so a quick look
 * does not replace the full run's `ingest.json`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, openSync, readSync, closeSync, existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createProcessor, eventIds, newSourceMetrics, normalise } from '@xiangan/collectors';
import { benchSetting, formatTable, fmtOps, fmtRatio, resultsName, writeResults } from './harness.js';
import { makeLine } from './syslog-mix.js';

const N = Number(benchSetting('XIANGAN_BENCH_LINES') ?? 1_000_000);
const INTEGRITY = benchSetting('XIANGAN_BENCH_INTEGRITY') ?? 'both';
const ALERTS = benchSetting('XIANGAN_BENCH_ALERTS') ?? 'on';
const PACED = benchSetting('XIANGAN_BENCH_PACED_RATE');
const PACED_RATE = PACED === undefined ? undefined : Number(PACED);
const RSYSLOG = benchSetting('XIANGAN_BENCH_RSYSLOG') ?? 'on';
const PIPELINE_ONLY = benchSetting('XIANGAN_BENCH_PIPELINE_ONLY') ?? 'on';
const BIN = fileURLToPath(new URL('../../../bin/xiangan.js', import.meta.url));
/** Extra node options of the server process (e.g. `--cpu-prof --cpu-prof-dir=DIR`: its worker threads inherit them). */
const SERVER_NODE_ARGS = (benchSetting('XIANGAN_BENCH_SERVER_NODE_ARGS') ?? '').split(' ').filter((a) => a !== '');
// The server's environment and node options as `npm start` gives them (package.json), unless the
// caller chose otherwise: glibc's malloc arenas capped at two (soc/README.md "Memory, session 7"),
// its mmap threshold fixed at 128 KiB and the main thread's semi-space at 4 MiB (the workers' by the configuration,
// src/pipeline/runtime.ts workerSemiSpaceMb; "Memory, session 13").
const SERVER_ENV = { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2', MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ ?? '131072' };
const START_NODE_ARGS = ['--max-semi-space-size=4'];

/** Lines 0 … n - 1 in chunks of ~256 KiB. */
function* chunks(n: number): Generator<Buffer> {
  let parts: string[] = [];
  let size = 0;
  for (let i = 0; i < n; i++) {
    const l = makeLine(i) + '\n';
    parts.push(l);
    size += l.length;
    if (size >= 256 * 1024) {
      yield Buffer.from(parts.join(''));
      parts = [];
      size = 0;
    }
  }
  if (parts.length) yield Buffer.from(parts.join(''));
}

/**
 * The flat-out stream, made once before the first server starts (~160 MB for 1M lines in the
 * bench process, not the server). Made on the fly, its lines cost the sender 1.1–1.8 CPU-µs each
 * on the two cores the server measures on (~4 % of the server's own cost per event); a network
 * node's log lines are made on that node. What the sender still spends in the window (the socket
 * writes) is reported as `senderCpuMicrosPerLine`.
 */
let flatOut: Buffer[] | undefined;
const flatOutStream = (): Buffer[] => (flatOut ??= [...chunks(N)]);

/** Sends the flat-out stream; returns when its first byte was sent and the sender's CPU µs per line. */
async function send(port: number): Promise<{ t0: number; senderCpuMicrosPerLine: number }> {
  const stream = flatOutStream();
  const sock = net.connect(port, '127.0.0.1');
  await new Promise<void>((r, j) => {
    sock.once('connect', () => r());
    sock.once('error', j);
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const c of stream) {
    if (!sock.write(c)) await new Promise((r) => sock.once('drain', r));
  }
  await new Promise<void>((r) => sock.end(() => r()));
  const cpu = process.cpuUsage(cpu0);
  return { t0, senderCpuMicrosPerLine: (cpu.user + cpu.system) / N };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Parse + normalise + ids (batch SM3 per 1,000 lines, as the prepare worker derives them per buffered row) on this one thread: lines/s per core. */
function parseOnly(): number {
  const metrics = newSourceMetrics('bench');
  const proc = createProcessor({ charset: 'auto', timezone: 'Asia/Shanghai', metrics, normalise });
  const lines = Array.from({ length: 20_000 }, (_, i) => Buffer.from(makeLine(i)));
  const run = (k: number) => {
    for (let start = 0; start < k; start += 1000) {
      const n = Math.min(1000, k - start);
      const ids = eventIds(
        Array.from({ length: n }, (_, j) => {
          const i = start + j;
          return { kind: 'network' as const, sourceId: 'bench', peerAddress: '127.0.0.1', peerPort: 1, receivedAt: 0, connection: 'c', seq: i, bytes: lines[i % lines.length]! };
        }),
      );
      for (let j = 0; j < n; j++) {
        proc(lines[(start + j) % lines.length]!, { sourceId: 'bench', transport: 'tcp', receivedAt: 1_795_000_000_000, timezone: 'Asia/Shanghai', eventId: ids[j]! });
      }
    }
  };
  run(20_000);
  const count = 200_000;
  const t0 = performance.now();
  run(count);
  return (count * 1000) / (performance.now() - t0);
}

interface Started {
  child: ChildProcess;
  tcpPort: number;
  apiPort: number;
}

async function startXiangan(dir: string, integrity: boolean, alerts: boolean): Promise<Started> {
  const config = join(dir, 'xiangan.yaml');
  writeFileSync(
    config,
    `data: ${JSON.stringify(join(dir, 'data'))}\nlog: { level: info }\napi: { port: 0 }\nsyslog: { host: 127.0.0.1, udpPort: 0, tcpPort: 0 }\n` +
      `integrity: { enabled: ${integrity} }\n${alerts ? '' : 'alerts: { enabled: false }\n'}`,
  );
  const child = spawn(process.execPath, [...START_NODE_ARGS, ...SERVER_NODE_ARGS, BIN, 'soc', 'start', '--config', config], { stdio: ['ignore', 'pipe', 'inherit'], env: SERVER_ENV });
  const rl = createInterface({ input: child.stdout! });
  return new Promise((resolve, reject) => {
    child.once('exit', (c) => reject(new Error(`server exited ${c}`)));
    rl.on('line', (line) => {
      try {
        const rec = JSON.parse(line) as { msg?: string; api?: { port: number }; sources?: Array<{ id: string; port?: number }> };
        if (rec.msg === 'Xiangan SOC started.') resolve({ child, tcpPort: rec.sources!.find((s) => s.id === 'syslog-tcp')!.port!, apiPort: rec.api!.port });
      } catch {
        /* not a JSON log line */
      }
    });
  });
}

function metric(text: string, name: string, labels = ''): number {
  const m = new RegExp(`^${name}${labels.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** The cumulative buckets of a Prometheus histogram; with `since`, only what was counted after that scrape. */
function histogramBuckets(text: string, name: string, since?: string): Array<{ le: number; c: number }> {
  const read = (t: string) => [...t.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, 'gm'))].map((m) => ({ le: m[1] === '+Inf' ? Infinity : Number(m[1]), c: Number(m[2]) }));
  const now = read(text);
  const before = since === undefined ? [] : read(since);
  return now.map((b, i) => ({ le: b.le, c: b.c - (before[i]?.c ?? 0) }));
}

/** A quantile from a Prometheus histogram, linear within the bucket. */
function histogramQuantile(text: string, name: string, q: number, since?: string): number {
  const buckets = histogramBuckets(text, name, since);
  const total = buckets.at(-1)?.c ?? 0;
  const rank = q * total;
  let prevLe = 0;
  let prevC = 0;
  for (const b of buckets) {
    if (b.c >= rank) return b.le === Infinity ? prevLe : prevLe + ((b.le - prevLe) * (rank - prevC)) / Math.max(1, b.c - prevC);
    prevLe = b.le;
    prevC = b.c;
  }
  return NaN;
}

function peakRssMb(pid: number): number {
  return procStatusMb(pid, 'VmHWM');
}

/** A `… kB` field of /proc/PID/status in MB (`RssAnon`: heaps and malloc, `RssFile`: mapped files and code). */
function procStatusMb(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** CPU seconds (user + system) of each thread of a process, by thread id. */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      out.set(t, (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

/** The machine's CPU times (/proc/stat, all cores: user nice system idle iowait irq softirq steal), in ticks. */
function machineTicks(): number[] {
  return readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
}

/**
 * Shares of the machine's time between two `machineTicks()` reads, in %: `steal` is time the
 * hypervisor gave this VM's virtual cores to others, `idle` (with iowait) time no thread wanted a
 * core. Little steal does not make a fast phase: in session 19 the same build ran 1.6× slower than
 * in session 17 at 0.1–1.3 % steal (the host's cores themselves were slower).
 */
function machineShares(before: number[], after: number[]): { stealPercent: number; idlePercent: number } {
  const d = after.map((v, i) => v - before[i]!);
  const total = d.reduce((a, b) => a + b, 0) || 1;
  return { stealPercent: (100 * d[7]!) / total, idlePercent: (100 * (d[3]! + d[4]!)) / total };
}

/** Per-thread CPU µs per event between two snapshots: the main thread, the two busiest others (the prepare and store workers), the rest. */
function cpuPerEvent(pid: number, before: Map<string, number>, after: Map<string, number>, events: number): Record<string, number> {
  const d = [...after].map(([t, c]) => ({ t, us: ((c - (before.get(t) ?? 0)) * 1e6) / events }));
  const main = d.find((x) => x.t === String(pid))?.us ?? 0;
  const others = d.filter((x) => x.t !== String(pid)).sort((a, b) => b.us - a.us);
  const total = d.reduce((a, x) => a + x.us, 0);
  const w1 = others[0]?.us ?? 0;
  const w2 = others[1]?.us ?? 0;
  return {
    mainThread: main,
    busiestWorker: w1,
    secondWorker: w2,
    otherThreads: total - main - w1 - w2,
    total,
    cpuCapacityEventsPerSec: 1e6 / Math.max(total / 2, main, w1),
  };
}

/**
 * Scrape /metrics until the store has committed `target` events, or nothing moved for 60 s
 * (reported as is). Every 100 ms: a scrape costs the server's main thread about 1 ms of CPU
 * (measured under load), which at every 20 ms added over 10 µs per event to the main thread’s share
 * of a 100k-line run at 2.5k events/s; the end time is late by at most one interval.
 */
async function waitStored(base: string, target: number): Promise<{ stored: number; metricsText: string; samples: Array<{ t: number; stored: number }> }> {
  const samples: Array<{ t: number; stored: number }> = [];
  let stored = 0;
  let metricsText = '';
  let last = -1;
  let lastChange = performance.now();
  for (;;) {
    metricsText = await (await fetch(`${base}/metrics`)).text();
    stored = metric(metricsText, 'xiangan_store_events_total', '{result="written"}') + metric(metricsText, 'xiangan_store_events_total', '{result="duplicate"}');
    samples.push({ t: performance.now(), stored });
    if (stored >= target) break;
    if (stored !== last) {
      last = stored;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > 60_000) break;
    await sleep(100);
  }
  return { stored, metricsText, samples };
}

/**
 * Events/s committed over the last `share` of a stream's events (from the scrapes of
 * {@link waitStored}); the whole stream's rate when too few scrapes fall in it.
 */
function tailRate(samples: ReadonlyArray<{ t: number; stored: number }>, share: number, t0: number): number {
  const last = samples.at(-1);
  if (!last) return 0;
  const start = samples.find((s) => s.stored >= (1 - share) * last.stored);
  if (start && last.t - start.t >= 1000 && last.stored > start.stored) return ((last.stored - start.stored) * 1000) / (last.t - start.t);
  return (last.stored * 1000) / Math.max(1, last.t - t0);
}

/** Lines `from` … `from + n - 1` at a steady `rate` per second, in 50 ms ticks, over a new connection. */
async function sendPaced(port: number, from: number, n: number, rate: number): Promise<void> {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise<void>((r, j) => {
    sock.once('connect', () => r());
    sock.once('error', j);
  });
  const t0 = performance.now();
  let sent = 0;
  while (sent < n) {
    const due = Math.min(n, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
    if (due > sent) {
      const parts: string[] = [];
      for (let i = sent; i < due; i++) parts.push(makeLine(from + i) + '\n');
      sent = due;
      if (!sock.write(parts.join(''))) await new Promise((r) => sock.once('drain', r));
    }
    await sleep(50);
  }
  await new Promise<void>((r) => sock.end(() => r()));
}

async function benchXiangan(integrity: boolean, alerts = ALERTS !== 'off'): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'xa-bench-'));
  const s = await startXiangan(dir, integrity, alerts);
  // Peak anonymous memory (V8 heaps of the three threads, SQLite caches, malloc), sampled: VmHWM
  // alone does not tell it from mapped files.
  let peakAnonMb = 0;
  const sampler = setInterval(() => {
    try {
      peakAnonMb = Math.max(peakAnonMb, procStatusMb(s.child.pid!, 'RssAnon'));
    } catch {
      /* the server is exiting */
    }
  }, 100);
  try {
    const base = `http://127.0.0.1:${s.apiPort}`;
    // Let start-up work (rule compilation, first checkpoint) finish before the CPU snapshot.
    await sleep(1000);
    const cpu0 = threadCpu(s.child.pid!);
    const ticks0 = machineTicks();
    const load0 = loadavg()[0]!;
    const { t0, senderCpuMicrosPerLine } = await send(s.tcpPort);
    const { stored, metricsText, samples } = await waitStored(base, N);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuPerEvent(s.child.pid!, cpu0, threadCpu(s.child.pid!), N);
    const machine = machineShares(ticks0, machineTicks());
    const load1 = loadavg()[0]!;
    // Latency at a steady rate the server keeps up with (80 % of its capacity at the end of the
    // stream, 20 s): the flat-out run above measures how long its own backlog waited, not the
    // pipeline's delay.
    const capacity = Math.min(stored / seconds, tailRate(samples, 0.3, t0));
    let pacedRate = PACED_RATE ?? Math.max(100, Math.round(0.8 * capacity));
    let paced: Record<string, unknown> = { skipped: 'XIANGAN_BENCH_PACED_RATE=0' };
    const tries: Array<Record<string, unknown>> = [];
    let sentLines = 0;
    let storedBefore = stored;
    let metricsBefore = metricsText;
    while (pacedRate > 0 && tries.length < (PACED_RATE === undefined ? 2 : 1)) {
      const pacedLines = Math.min(N, pacedRate * 20);
      const startedAt = performance.now();
      await sendPaced(s.tcpPort, N + sentLines, pacedLines, pacedRate);
      const sentAt = performance.now();
      const after = await waitStored(base, storedBefore + pacedLines);
      const drainMs = performance.now() - sentAt;
      // Where the latency goes: a step's events wait about two to three store cycles (read while
      // the step before is stored, prepared, then stored), so the step size at this rate and the
      // store transaction's wall time are what set the p50/p99 (soc/README.md "Benchmark").
      const delta = (name: string, labels = '') => metric(after.metricsText, name, labels) - metric(metricsBefore, name, labels);
      const steps = delta('xiangan_sink_latency_seconds_count');
      paced = {
        eventsPerSec: pacedRate,
        capacityEventsPerSec: capacity,
        lines: pacedLines,
        drainMs,
        p50ReceiptToStoredMs: histogramQuantile(after.metricsText, 'xiangan_receipt_to_store_seconds', 0.5, metricsBefore) * 1000,
        p99ReceiptToStoredMs: histogramQuantile(after.metricsText, 'xiangan_receipt_to_store_seconds', 0.99, metricsBefore) * 1000,
        // Per step, its oldest event from the buffer append to the acknowledgement, which waits
        // for the commit to be durable (the WAL sync runs beside the next step: soc/README.md).
        p99BufferToAckedMs: histogramQuantile(after.metricsText, 'xiangan_buffer_to_store_seconds', 0.99, metricsBefore) * 1000,
        storeSteps: steps,
        meanStepEvents: steps > 0 ? (delta('xiangan_store_events_total', '{result="written"}') + delta('xiangan_store_events_total', '{result="duplicate"}')) / steps : NaN,
        meanStoreTransactionMs: steps > 0 ? (delta('xiangan_sink_latency_seconds_sum') * 1000) / steps : NaN,
        loadAverage1m: loadavg()[0]!,
      };
      tries.push(paced);
      sentLines += pacedLines;
      storedBefore = after.stored;
      metricsBefore = after.metricsText;
      if (drainMs <= 2000) break;
      pacedRate = Math.max(100, Math.round((0.8 * pacedLines * 1000) / (performance.now() - startedAt)));
    }
    if (tries.length > 1) paced = { ...paced, tries };
    return {
      integrity,
      alerts,
      loadAverage1m: [load0, load1],
      machine,
      cpuMicrosPerEvent: cpu,
      senderCpuMicrosPerLine,
      events: N,
      // Rows the store committed for the flat-out stream (the search API wants a login since the
      // console got one); duplicates are replays of rows already there.
      stored: metric(metricsText, 'xiangan_store_events_total', '{result="written"}'),
      duplicates: metric(metricsText, 'xiangan_store_events_total', '{result="duplicate"}'),
      seconds,
      eventsPerSec: stored / seconds,
      p99ReceiptToStoredMs: histogramQuantile(metricsText, 'xiangan_receipt_to_store_seconds', 0.99) * 1000,
      p50ReceiptToStoredMs: histogramQuantile(metricsText, 'xiangan_receipt_to_store_seconds', 0.5) * 1000,
      peakRssMb: peakRssMb(s.child.pid!),
      peakRssAnonMb: peakAnonMb,
      parseFailures: metric(metricsText, 'xiangan_parse_failures_total', '{source="syslog-tcp"}'),
      paced,
    };
  } finally {
    clearInterval(sampler);
    const exit = new Promise((r) => s.child.once('exit', r));
    s.child.kill('SIGTERM');
    await exit;
    rmSync(dir, { recursive: true, force: true });
  }
}

function countNewlines(path: string, state: { pos: number; lines: number }): number {
  if (!existsSync(path)) return 0;
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(1 << 20);
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, state.pos);
      if (n === 0) break;
      for (let i = 0; i < n; i++) if (buf[i] === 10) state.lines++;
      state.pos += n;
    }
  } finally {
    closeSync(fd);
  }
  return state.lines;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function benchRsyslog(): Promise<Record<string, number> | { skipped: string }> {
  const which = spawnSync('sh', ['-c', 'command -v rsyslogd']);
  if (which.status !== 0) return { skipped: 'rsyslogd not installed' };
  const dir = mkdtempSync(join(tmpdir(), 'xa-rsyslog-'));
  const port = await freePort();
  const out = join(dir, 'out.log');
  const conf = join(dir, 'rsyslog.conf');
  writeFileSync(
    conf,
    [
      `global(workDirectory="${dir}")`,
      'module(load="imtcp")',
      `input(type="imtcp" port="${port}" address="127.0.0.1")`,
      'template(name="raw" type="string" string="%rawmsg%\\n")',
      `action(type="omfile" file="${out}" template="raw" asyncWriting="on" ioBufferSize="256k" flushInterval="1")`,
      '',
    ].join('\n'),
  );
  const child = spawn('rsyslogd', ['-n', '-f', conf, '-i', join(dir, 'rsyslog.pid')], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    for (let i = 0; i < 100; i++) {
      const ok = await new Promise<boolean>((r) => {
        const c = net.connect(port, '127.0.0.1', () => {
          c.destroy();
          r(true);
        });
        c.once('error', () => r(false));
      });
      if (ok) break;
      await sleep(50);
    }
    const { t0, senderCpuMicrosPerLine } = await send(port);
    const state = { pos: 0, lines: 0 };
    const deadline = Date.now() + 300_000;
    while (countNewlines(out, state) < N && Date.now() < deadline) await sleep(20);
    const seconds = (performance.now() - t0) / 1000;
    return { events: N, written: state.lines, seconds, eventsPerSec: N / seconds, peakRssMb: peakRssMb(child.pid!), senderCpuMicrosPerLine };
  } finally {
    const exit = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exit;
    rmSync(dir, { recursive: true, force: true });
  }
}

const parseRate = parseOnly();
flatOutStream();
const ours = await benchXiangan(INTEGRITY !== 'off');
const chainOff = INTEGRITY === 'both' ? await benchXiangan(false) : undefined;
// The pipeline alone (what issue 3 measures: TCP → committed in SQLite), without detection (the
// rules engine's own benchmark is bench:rules) and without tamper-evidence chaining.
const pipelineOnly = PIPELINE_ONLY !== 'off' && (ALERTS !== 'off' || INTEGRITY !== 'off') ? await benchXiangan(false, false) : undefined;
const rsyslog = RSYSLOG === 'off' ? { skipped: 'XIANGAN_BENCH_RSYSLOG=off' } : await benchRsyslog();
const rs = 'eventsPerSec' in rsyslog ? rsyslog : undefined;

/** The paced phase's results, unless it was skipped. */
function pacedOf(r: Record<string, unknown>): { eventsPerSec: number; p99ReceiptToStoredMs: number } | undefined {
  const p = r.paced as { eventsPerSec?: number; p99ReceiptToStoredMs?: number };
  return p.eventsPerSec === undefined ? undefined : (p as { eventsPerSec: number; p99ReceiptToStoredMs: number });
}

const targets = { eventsPerSec: 50_000, parseLinesPerSecPerCore: 200_000, p99Ms: 500, rssMb: 300 };
process.stdout.write(
  formatTable(
    ['measure', 'Xiangan', 'target', 'rsyslog (file)', 'Xiangan / rsyslog'],
    [
      ['end to end events/s (TCP → committed)', fmtOps(ours.eventsPerSec as number), fmtOps(targets.eventsPerSec), rs ? fmtOps(rs.eventsPerSec!) : 'n/a', fmtRatio(ours.eventsPerSec as number, rs?.eventsPerSec)],
      ['parse + normalise lines/s, one core', fmtOps(parseRate), fmtOps(targets.parseLinesPerSecPerCore), '', ''],
      ['p99 receipt → stored (ms), flat out (the sender\'s backlog)', (ours.p99ReceiptToStoredMs as number).toFixed(0), '', '', ''],
      ...(pacedOf(ours)
        ? [[`p99 receipt → stored (ms) at a steady ${fmtOps(pacedOf(ours)!.eventsPerSec)}/s (80 % of capacity)`, pacedOf(ours)!.p99ReceiptToStoredMs.toFixed(0), String(targets.p99Ms), '', '']]
        : []),
      ['peak RSS (MB)', (ours.peakRssMb as number).toFixed(0), String(targets.rssMb), rs ? rs.peakRssMb!.toFixed(0) : 'n/a', ''],
      ['peak anonymous RSS (MB: heaps, caches)', (ours.peakRssAnonMb as number).toFixed(0), '', '', ''],
      ['CPU µs/event (all threads)', (ours.cpuMicrosPerEvent as Record<string, number>).total!.toFixed(1), '', '', ''],
      ['events/s the CPU cost allows on 2 idle cores', fmtOps((ours.cpuMicrosPerEvent as Record<string, number>).cpuCapacityEventsPerSec!), fmtOps(targets.eventsPerSec), '', ''],
      ...(chainOff
        ? [
            ['end to end events/s, integrity chaining off', fmtOps(chainOff.eventsPerSec as number), '', '', ''],
            ['CPU µs/event, integrity chaining off', (chainOff.cpuMicrosPerEvent as Record<string, number>).total!.toFixed(1), '', '', ''],
          ]
        : []),
      ...(pipelineOnly
        ? [
            ['pipeline only (detection and chaining off): events/s', fmtOps(pipelineOnly.eventsPerSec as number), fmtOps(targets.eventsPerSec), rs ? fmtOps(rs.eventsPerSec!) : 'n/a', fmtRatio(pipelineOnly.eventsPerSec as number, rs?.eventsPerSec)],
            ['pipeline only: CPU µs/event (all threads)', (pipelineOnly.cpuMicrosPerEvent as Record<string, number>).total!.toFixed(1), '', '', ''],
            ['pipeline only: events/s the CPU cost allows on 2 idle cores', fmtOps((pipelineOnly.cpuMicrosPerEvent as Record<string, number>).cpuCapacityEventsPerSec!), fmtOps(targets.eventsPerSec), '', ''],
            ...(pacedOf(pipelineOnly)
              ? [[`pipeline only: p99 receipt → stored (ms) at a steady ${fmtOps(pacedOf(pipelineOnly)!.eventsPerSec)}/s`, pacedOf(pipelineOnly)!.p99ReceiptToStoredMs.toFixed(0), String(targets.p99Ms), '', '']]
              : []),
            ['pipeline only: peak RSS (MB)', (pipelineOnly.peakRssMb as number).toFixed(0), String(targets.rssMb), '', ''],
          ]
        : []),
    ],
  ),
);
const path = writeResults(resultsName('ingest'), {
  lines: N,
  targets,
  serverEnv: { MALLOC_ARENA_MAX: SERVER_ENV.MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_: SERVER_ENV.MALLOC_MMAP_THRESHOLD_, nodeArgs: [...START_NODE_ARGS, ...SERVER_NODE_ARGS] },
  xiangan: { ...ours, parseLinesPerSecPerCore: parseRate },
  ...(chainOff ? { xianganChainingOff: chainOff } : {}),
  ...(pipelineOnly ? { xianganPipelineOnly: pipelineOnly } : {}),
  rsyslog,
  notes:
    'Xiangan: real `xiangan soc start` process with its default configuration (detection on unless XIANGAN_BENCH_ALERTS=off), RFC 6587 LF framing; the main thread frames and appends raw frames (bytes, connection, sequence) to the durable SQLite buffer (WAL, synchronous=NORMAL); the prepare worker derives their SM3 ids in batches, parses + ECS-normalises them, serialises each event once and computes store columns and integrity leaf hashes; the store worker inserts (WAL, 16 KiB pages, FTS5, indexes; synchronous=NORMAL, the main thread fsyncs the WAL beside the next step and the buffer forgets a step only after that, which is storage.synchronous=full) while the next step is prepared; detection: the stateless half of the rules (prematch) runs in the prepare worker on the parsed events, the main thread applies only the matched events (correlations, alerts). Time from first byte sent to xiangan_store_events_total reaching the line count. cpuMicrosPerEvent: per-thread CPU time from /proc over the stream (loadAverage1m at its start and end; machine: the shares of the time of all cores stolen by the hypervisor and idle over the stream, from /proc/stat). p99 from the server histogram xiangan_receipt_to_store_seconds (linear within buckets). rsyslog: imtcp → omfile of the raw message, no parsing or indexing; time until the file holds every line.',
});
process.stdout.write(`results: ${path}\n`);
