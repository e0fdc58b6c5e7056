/**
 * `npm run bench:rules`: the detection engine (issue 4). Replays 1,000,000 mixed events (SSH,
 * firewall, Sysmon/Security, web, KMS, network-device events, shaped by the collectors' own
 * parsers) through 1,000 enabled rules — our 50 pack rules plus 950 SigmaHQ rules compiled
 * through the ECS pipeline — in one thread, and reports events/s per core, rule evaluations
 * per event after the index, correlation state (groups, snapshot size, heap), and the same
 * replay on the naive engine (`index: false`) over a sample, as a ratio and a differential
 * check (both must produce the same matches, field by field, and the same correlation snapshot).
 * Writes bench/results/rules.json.
 *
 * Alert latency (event stored → alert stored) needs the alert store in soc: `npm run
 * bench:alerts` measures it and merges it into the same file.
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { normalise, normaliseJson, parseSyslog, type SourceContext } from '@xiangan/collectors';
import { BUILTIN_LISTS_DIR, BUILTIN_PACKS_DIR, builtinPipeline, compileRules, loadLists, loadRules, type EventLike, type LoadedRule, type RuleEngine } from '@xiangan/rules';
import { formatTable, fmtOps, fmtRatio, writeResults, benchSetting, resultsName } from './harness.js';

const TOTAL = Number(benchSetting('XIANGAN_BENCH_EVENTS') ?? 1_000_000);
const DISTINCT = 250_000;
const SAMPLE = 20_000;
const RULES = 1000;

v8.setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
const shared = process.env.XIANGAN_SHARED ?? join(root, '..', 'shared');

// A deterministic generator (xorshift32) so every run replays the same stream.
let seed = 0x9e3779b9;
const rnd = (n: number): number => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};

const base = Date.UTC(2026, 10, 30, 0, 0, 0);
const ctxOf = (i: number): SourceContext => ({ sourceId: 'bench', transport: 'udp', receivedAt: base + i * 10, timezone: 'Asia/Shanghai', eventId: `b${i}`, peer: { address: '192.0.2.10', port: 514 } });
const syslog = (line: string, i: number): EventLike => {
  const ctx = ctxOf(i);
  return normalise(parseSyslog(new TextEncoder().encode(line), { receivedAt: ctx.receivedAt, timezone: ctx.timezone }), ctx) as unknown as EventLike;
};
const json = (o: unknown, i: number): EventLike => normaliseJson(o, { ...ctxOf(i), transport: 'http' }) as unknown as EventLike;

const IMAGES = ['cmd.exe', 'powershell.exe', 'whoami.exe', 'rundll32.exe', 'regsvr32.exe', 'certutil.exe', 'mshta.exe', 'wmic.exe', 'net.exe', 'net1.exe', 'schtasks.exe', 'sc.exe', 'reg.exe', 'vssadmin.exe', 'bitsadmin.exe', 'msiexec.exe', 'explorer.exe', 'svchost.exe', 'chrome.exe', 'notepad.exe', 'conhost.exe', 'taskhostw.exe', 'wevtutil.exe', 'nltest.exe', 'curl.exe'];
const ARGS = ['/c dir', '-enc SQBFAFgA', '/all', 'delete shadows /all /quiet', '-urlcache -split -f http://x', 'query', '/create /tn x /tr y', 'user /add bob', 'localgroup administrators', 'cl Security', '-nop -w hidden', '/i http://x/a.msi', '--version', 'C:\\Users\\bob\\doc.txt', 'javascript:a', '/domain_trusts'];
const PROTOS = [22, 23, 21, 80, 443, 445, 3389, 3306, 8080, 53];

/** One event of the mix (about: 25% SSH, 25% firewall, 25% Sysmon, 10% Security, 10% web, 3% KMS, 2% network devices). */
function makeEvent(i: number): EventLike {
  const r = rnd(100);
  const ip = `198.51.${rnd(20)}.${rnd(250) + 1}`;
  const t = new Date(base + i * 10 + 8 * 3600e3);
  const hh = `${String(t.getUTCHours()).padStart(2, '0')}:${String(t.getUTCMinutes()).padStart(2, '0')}:${String(t.getUTCSeconds()).padStart(2, '0')}`;
  if (r < 20) return syslog(`<38>Nov 30 ${hh} web${rnd(50)} sshd[123]: Failed password for user${rnd(200)} from ${ip} port ${1024 + rnd(60000)} ssh2`, i);
  if (r < 25) return syslog(`<38>Nov 30 ${hh} web${rnd(50)} sshd[123]: Accepted publickey for user${rnd(200)} from ${ip} port 52100 ssh2`, i);
  if (r < 40) return syslog(`<4>Nov 30 ${hh} fw1 kernel: [1.0] DROP IN=eth0 OUT= SRC=${ip} DST=10.0.${rnd(4)}.${rnd(250) + 1} LEN=60 PROTO=TCP SPT=40000 DPT=${rnd(3) ? PROTOS[rnd(PROTOS.length)] : rnd(65535) + 1} SYN`, i);
  if (r < 50) return syslog(`<4>Nov 30 ${hh} fw1 kernel: [1.0] ACCEPT IN=eth0 OUT= SRC=10.1.${rnd(4)}.${rnd(250) + 1} DST=${ip} LEN=60 PROTO=TCP SPT=40000 DPT=${PROTOS[rnd(PROTOS.length)]} SYN`, i);
  if (r < 75) {
    const img = IMAGES[rnd(IMAGES.length)];
    return json({ Event: { System: { EventID: 1, Channel: 'Microsoft-Windows-Sysmon/Operational', Computer: `PC${rnd(300)}` }, EventData: { Image: `C:\\Windows\\System32\\${img}`, CommandLine: `${img} ${ARGS[rnd(ARGS.length)]}`, ParentImage: `C:\\Windows\\${IMAGES[rnd(IMAGES.length)]}`, User: `CORP\\user${rnd(200)}` } } }, i);
  }
  if (r < 85) {
    const id = [4624, 4625, 4688, 4720, 4732, 4634][rnd(6)];
    return json({ Event: { System: { EventID: id, Channel: 'Security', Computer: 'DC1' }, EventData: { TargetUserName: `user${rnd(200)}`, IpAddress: ip, LogonType: String([2, 3, 10][rnd(3)]) } } }, i);
  }
  if (r < 95) return syslog(`<190>Nov 30 ${hh} web1 nginx: ${ip} - - [30/Nov/2026:${hh} +0800] "GET /${['index.html', 'admin/login', 'api/v1/x', 'wp-login.php', '../../etc/passwd'][rnd(5)]} HTTP/1.1" ${[200, 404, 403, 500][rnd(4)]} 512 "-" "Mozilla/5.0"`, i);
  if (r < 98) return { id: `k${i}`, '@timestamp': new Date(base + i * 10).toISOString(), event: { kind: 'event', module: 'xiangan', dataset: 'xiangan.kms', action: 'sm2-verify', outcome: rnd(4) ? 'success' : 'failure' }, client: { ip: `10.2.0.${rnd(20)}` } };
  return syslog(`<189>Nov 30 2026 ${hh} R${rnd(10)} %%01SHELL/5/CMDRECORD(s)[0]:Recorded command information. (Task=VT0, Ip=10.0.0.9, VpnName=, User=admin, AuthenticationMethod="Local-user", Command="${['display version', 'acl 3000', 'undo info-center enable'][rnd(3)]}")`, i);
}

function rulesUnderTest(): LoadedRule[] {
  const packs = loadRules(BUILTIN_PACKS_DIR).rules;
  const { rules } = loadRules(join(shared, 'sigma', 'rules'));
  const rejected = new Set(compileRules(rules, builtinPipeline('ecs'), { onError: 'skip' }).rejected.map((r) => r.source));
  const ok = rules.filter((r) => !rejected.has(r.source));
  // Every k-th accepted rule: a spread over all logsources, the same set on every run.
  const want = RULES - packs.length;
  const step = ok.length / want;
  const picked = Array.from({ length: want }, (_, i) => ok[Math.floor(i * step)]!);
  return [...packs, ...picked];
}

/**
 * CPU time (ms) of this process's main thread alone, from Linux's /proc/self/task/<pid>/stat
 * (utime + stime, fields 14 and 15, in clock ticks of 1/100 s: proc(5)); NaN elsewhere. The
 * headline figure is process CPU, which also counts V8's helper threads (parallel scavenges,
 * concurrent compilation): this shows how much of it they are.
 */
function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

/**
 * Replay `total` events. Returns wall time and this thread's CPU time: on a shared machine the
 * CPU time is the honest "per core" figure (other processes' load does not count against it).
 */
function replay(engine: RuleEngine, events: EventLike[], stamps: string[][], total: number): { ms: number; cpuMs: number; mainCpuMs: number; matches: number } {
  let matches = 0;
  const m0 = mainThreadCpuMs();
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < total; i++) {
    const ev = events[i % events.length]!;
    const pass = Math.floor(i / events.length);
    // Later passes shift time forward so correlation windows keep moving like a live stream.
    if (pass > 0) ev['@timestamp'] = stamps[pass - 1]![i % events.length]!;
    matches += engine.match(ev).length;
  }
  const c = process.cpuUsage(c0);
  const mainCpuMs = mainThreadCpuMs() - m0;
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, cpuMs: (c.user + c.system) / 1000, mainCpuMs, matches };
}

const t0 = Date.now();
const rules = rulesUnderTest();
const lists = loadLists(BUILTIN_LISTS_DIR);
const tc = Date.now();
const engine = compileRules(rules, builtinPipeline('ecs'), { lists });
const compileMs = Date.now() - tc;
const naive = compileRules(rules, builtinPipeline('ecs'), { lists, index: false });
process.stderr.write(`rules loaded in ${tc - t0} ms, compiled in ${compileMs} ms; generating ${DISTINCT} events…\n`);

const distinct = Math.min(DISTINCT, TOTAL);
const SEED0 = seed;
// As stored and replayed (JSON), the way events reach the engine from the buffer or a hunt.
const stored = (i: number): EventLike => JSON.parse(JSON.stringify(makeEvent(i))) as EventLike;
// XIANGAN_BENCH_RULES_STREAM=1: the 1M events are generated a chunk at a time (untimed) and matched
// fresh, as the detector meets them after JSON.parse, instead of 250k objects held in memory and
// replayed four times (whose strings keep their hashes from pass to pass). Same stream, same matches.
const STREAM = benchSetting('XIANGAN_BENCH_RULES_STREAM') === '1';
const events: EventLike[] = STREAM ? Array.from({ length: SAMPLE }, (_, i) => stored(i)) : Array.from({ length: distinct }, (_, i) => stored(i));
const passes = Math.ceil(TOTAL / distinct);
const span = distinct * 10;
const stamps = STREAM ? [] : Array.from({ length: passes - 1 }, (_, p) => events.map((_, i) => new Date(base + (p + 1) * span + i * 10).toISOString()));

/** The same stream as `replay`, generated a chunk at a time (untimed) and each chunk timed by `replay`. */
function replayStreamed(engine: RuleEngine, total: number, chunk: number): { ms: number; cpuMs: number; mainCpuMs: number; matches: number } {
  const sum = { ms: 0, cpuMs: 0, mainCpuMs: 0, matches: 0 };
  const buf: EventLike[] = [];
  for (let start = 0; start < total; start += chunk) {
    buf.length = 0;
    for (let i = start; i < Math.min(total, start + chunk); i++) {
      const j = i % distinct;
      if (j === 0) seed = SEED0;
      const ev = stored(j);
      const pass = Math.floor(i / distinct);
      if (pass > 0) ev['@timestamp'] = new Date(base + pass * span + j * 10).toISOString();
      buf.push(ev);
    }
    const r = replay(engine, buf, [], buf.length);
    sum.ms += r.ms;
    sum.cpuMs += r.cpuMs;
    sum.mainCpuMs += r.mainCpuMs;
    sum.matches += r.matches;
  }
  return sum;
}

/**
 * Differential check on the first SAMPLE events (fresh state for both, untimed): the indexed and
 * the naive engine must return the same matches, event by event and field by field, and end with
 * the same correlation snapshot.
 */
function differential(sample: EventLike[]): { events: number; matches: number; snapshotBytes: number } {
  const idx = compileRules(rules, builtinPipeline('ecs'), { lists });
  const nai = compileRules(rules, builtinPipeline('ecs'), { lists, index: false });
  let matches = 0;
  for (let i = 0; i < sample.length; i++) {
    // The naive engine returns detections in rule order, the index in candidate order: compare as sets.
    const key = (m: unknown) => JSON.stringify(m);
    const x = idx.match(sample[i]!).map(key).sort();
    const y = nai.match(sample[i]!).map(key).sort();
    if (x.length !== y.length || x.some((m, k) => m !== y[k])) throw new Error(`index and naive engine disagree on event ${i}: ${x.join(' ')} vs ${y.join(' ')}`);
    matches += x.length;
  }
  const sx = JSON.stringify(idx.snapshot());
  if (sx !== JSON.stringify(nai.snapshot())) throw new Error('index and naive engine end with different correlation snapshots');
  return { events: sample.length, matches, snapshotBytes: sx.length };
}

const sample = events.slice(0, SAMPLE);
const diff = differential(sample);
// Naive baseline on the same sample (fresh state for both).
const sampleIdx = compileRules(rules, builtinPipeline('ecs'), { lists });
const a = replay(sampleIdx, sample, [], sample.length);
const b = replay(naive, sample, [], sample.length);
if (a.matches !== b.matches) throw new Error(`index and naive engine disagree: ${a.matches} vs ${b.matches} matches`);
const naiveEps = (sample.length / b.cpuMs) * 1000;

gc();
const heapBefore = process.memoryUsage().heapUsed;
const run = STREAM ? replayStreamed(engine, TOTAL, Number(benchSetting('XIANGAN_BENCH_RULES_CHUNK') ?? 2000)) : replay(engine, events, stamps, TOTAL);
const eps = (TOTAL / run.cpuMs) * 1000;
const wallEps = (TOTAL / run.ms) * 1000;
const load = (await import('node:os')).loadavg()[0];
const stats = engine.stats();
const snapshotBytes = Buffer.byteLength(JSON.stringify(engine.snapshot()));
gc();
const heapWithState = process.memoryUsage().heapUsed;
engine.reset();
gc();
const heapWithout = process.memoryUsage().heapUsed;

/**
 * The two halves of `match` timed apart on the distinct events, each on a fresh engine: the
 * stateless `prematch` (logsource walk, index probes, rule tests; the part a pipeline may run in
 * other threads) and `applyPrematched` (counters, matches, correlation state; the part the thread
 * that owns the state runs).
 */
function split(sample: EventLike[]): { events: number; prematchCpuUs: number; applyCpuUs: number } {
  const pre = compileRules(rules, builtinPipeline('ecs'), { lists });
  const own = compileRules(rules, builtinPipeline('ecs'), { lists });
  const found: (number[] | null)[] = new Array<number[] | null>(sample.length);
  // Each half starts on a collected heap: the garbage of the phases before it (the 1M replay,
  // the snapshot's JSON) is not its own, and V8's collector threads count in process CPU time.
  gc();
  let c0 = process.cpuUsage();
  for (let i = 0; i < sample.length; i++) found[i] = pre.prematch(sample[i]!);
  let c = process.cpuUsage(c0);
  const prematchCpuUs = (c.user + c.system) / sample.length;
  gc();
  c0 = process.cpuUsage();
  for (let i = 0; i < sample.length; i++) own.applyPrematched(sample[i]!, found[i] ?? []);
  c = process.cpuUsage(c0);
  return { events: sample.length, prematchCpuUs, applyCpuUs: (c.user + c.system) / sample.length };
}
const halves = split(events);

const detections = engine.detections.length;
const correlations = engine.correlations.length;
const rows = [
  ['@xiangan/rules (indexed)', fmtOps(eps), (stats.evaluations / stats.events).toFixed(2), String(run.matches), '1.00 ×'],
  ['same rules, naive (index: false)', fmtOps(naiveEps), (naive.stats().evaluations / naive.stats().events).toFixed(2), `${b.matches} (first ${SAMPLE})`, fmtRatio(eps, naiveEps)],
];
process.stdout.write(`\nrules: ${rules.length} enabled (${detections} detection, ${correlations} correlation; 50 ours + ${rules.length - 50} SigmaHQ), events: ${TOTAL} (${STREAM ? 'streamed: each event fresh' : `${distinct} distinct, replayed`}), one thread\n\n`);
process.stdout.write(formatTable(['engine', 'events/s per core (CPU time)', 'evals/event', 'matches', 'indexed ÷ this'], rows));
if (Number.isFinite(run.mainCpuMs)) process.stdout.write(`main thread alone: ${fmtOps((TOTAL / run.mainCpuMs) * 1000)} events/s per core of its own CPU time (V8 helper threads: ${((1 - run.mainCpuMs / run.cpuMs) * 100).toFixed(1)} % of the process CPU above)\n`);
process.stdout.write(`wall clock: ${fmtOps(wallEps)} events/s (1-minute load average ${load.toFixed(1)} on ${(await import('node:os')).cpus().length} cores during the run)\n`);
process.stdout.write(`\ncorrelation state after the run: ${stats.groups} groups, ${stats.evictions} evictions, ${stats.expired} expired, snapshot ${(snapshotBytes / 1024).toFixed(0)} KiB, heap ${((heapWithState - heapWithout) / 1048576).toFixed(1)} MiB\n`);
process.stdout.write(`target ≥ 100,000 events/s per core through 1,000 rules: ${eps >= 100_000 ? 'met' : 'not met'} (${fmtOps(eps)})\n`);
process.stdout.write(`differential: indexed and naive engines identical on ${diff.events} events (${diff.matches} matches, every field; correlation snapshot ${(diff.snapshotBytes / 1024).toFixed(0)} KiB)\n`);
process.stdout.write(`halves of match on ${halves.events} events (fresh engines): prematch ${halves.prematchCpuUs.toFixed(2)} CPU-µs/event (stateless, may run in other threads), applyPrematched ${halves.applyCpuUs.toFixed(2)} CPU-µs/event (state owner: ${fmtOps(1e6 / halves.applyCpuUs)} events/s per core)\n`);
process.stdout.write('alert latency p50/p99 at 20k events/s: `npm run bench:alerts` (merged here under alertLatency)\n');

const path = writeResults(resultsName('rules'), {
  events: TOTAL,
  distinctEvents: distinct,
  replayMode: STREAM ? 'stream' : 'replay',
  rules: { total: rules.length, ours: 50, sigmaHQ: rules.length - 50, detection: detections, correlation: correlations },
  compileMs,
  indexed: { eventsPerSecondPerCore: Math.round(eps), cpuMs: Math.round(run.cpuMs), wallMs: Math.round(run.ms), wallEventsPerSecond: Math.round(wallEps), mainThreadCpuMs: Number.isFinite(run.mainCpuMs) ? Math.round(run.mainCpuMs) : null, loadAverage1m: load, matches: run.matches, evaluationsPerEvent: stats.evaluations / stats.events },
  naive: { sampleEvents: SAMPLE, eventsPerSecondPerCore: Math.round(naiveEps), evaluationsPerEvent: naive.stats().evaluations / naive.stats().events, sameMatches: a.matches === b.matches },
  /** Indexed vs naive on the sample: every event's matches (all fields) and the final correlation snapshot identical. */
  differential: { ...diff, identical: true },
  ratioIndexedOverNaive: eps / naiveEps,
  correlationState: { groups: stats.groups, evictions: stats.evictions, expired: stats.expired, groupOverflows: stats.groupOverflows, snapshotBytes, heapBytes: heapWithState - heapWithout, heapBeforeRun: heapBefore, maxGroups: 100_000 },
  stats,
  /** CPU time of the stateless and the stateful half of match (see `prematch`). */
  halves,
  targets: { eventsPerSecondPerCore: { target: 100_000, met: eps >= 100_000 } },
});
process.stdout.write(`wrote ${path}\n`);
