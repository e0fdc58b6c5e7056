/**
 * `npm run bench:integrity` (issue 7, "Speed"):
 *
 * 1. Chaining overhead: the SQLite store's write rate with tamper-evidence chaining off and on, in
 *    the same process and run, alternating rounds over the same events (SM3 leaf hash of each
 *    stored document and the leaf-index insert in the store transaction). Reported as events/s
 *    (median of back-to-back off/on pairs) and as CPU time per event, which a shared machine
 *    disturbs far less than wall time.
 *    Then the ingest pipeline's split: bench:ingest's syslog lines as raw frames through the
 *    prepare step (which hashes the leaves when chaining is on) and the store step, CPU per event
 *    of each, chaining off and on; the overhead of their sum is what a CPU-bound ingest loses.
 * 2. Verification: `verifyIntegrity` over one chained store of 1,000,000 records with a signed
 *    checkpoint (every record re-hashed from its stored bytes, every root recomputed, every
 *    checkpoint signature and the certificate path checked), with the default worker threads and
 *    in the calling thread alone.
 *
 * Targets: overhead ≤ 10 % of events/s; verify ≥ 200,000 records/s on the 2-core machine. The
 * numbers go into `bench/results/ingest.json` under `integrity` (harness `mergeResults`: the
 * ingest benchmark keeps that section when it rewrites the file) and `bench/results/integrity.json`.
 *
 * Environment: `XIANGAN_BENCH_EVENTS` (default 40,000) events per overhead round,
 * `XIANGAN_BENCH_ROUNDS` (default 8) pairs of rounds, `XIANGAN_BENCH_VERIFY_RECORDS` (default
 * 1,000,000). The store runs with `synchronous = normal` so that fsync waits on a shared disk do
 * not hide the CPU cost chaining adds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { eventId, type EcsEvent } from '@xiangan/collectors';
import { Checkpointer, encodeFrames, loadOrCreateIdentity, openIntegrity, Preparer, RawFrame, SqliteEventStore, verifyIntegrity, type PreparedStep } from '@xiangan/soc';
import { fmtOps, formatTable, machineInfo, mergeResults, writeResults, benchSetting, resultsName } from './harness.js';
import { makeLine } from './syslog-mix.js';

const N = Number(benchSetting('XIANGAN_BENCH_EVENTS') ?? 40_000);
const BATCH = 4000;
/** Pairs of (off, on) rounds; the machine is shared, so each pair runs back to back and the median pair ratio is reported. */
const ROUNDS = Number(benchSetting('XIANGAN_BENCH_ROUNDS') ?? 8);
const VERIFY_N = Number(benchSetting('XIANGAN_BENCH_VERIFY_RECORDS') ?? 1_000_000);

/** Events shaped like the normalised sshd/firewall records the ingest benchmark stores. */
function makeEvent(i: number): EcsEvent {
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const user = ['root', 'admin', 'alice', 'bob', 'zhangwei', 'oracle'][i % 6]!;
  const ts = new Date(Date.UTC(2026, 10, 28, 2, 0, 0) + (i % 3_600_000)).toISOString();
  return {
    id: `bench-${i.toString(16).padStart(8, '0')}`,
    '@timestamp': ts,
    message: `Failed password for ${user} from ${ip} port ${20000 + (i % 40000)} ssh2`,
    event: { category: ['authentication'], action: 'ssh_login', outcome: 'failure', dataset: 'linux.auth', ingested: ts, original: `<38>Nov 28 10:00:01 bastion sshd[${1000 + (i % 5000)}]: Failed password for ${user} from ${ip}` },
    source: { ip, port: 20000 + (i % 40000) },
    user: { name: user },
    host: { name: 'bastion' },
    log: { syslog: { appname: 'sshd', hostname: 'bastion', priority: 38 } },
  } as EcsEvent;
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** One write round: events/s (wall) and CPU µs per event. */
function writeRound(dir: string, chain: boolean, events: EcsEvent[], docs: string[]): { rate: number; cpuUs: number } {
  const store = new SqliteEventStore({ dir, chain, synchronous: 'normal' });
  const c0 = cpuMs();
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += BATCH) store.writeSync(events.slice(i, i + BATCH), docs.slice(i, i + BATCH));
  const s = (performance.now() - t0) / 1000;
  const cpuUs = ((cpuMs() - c0) * 1000) / events.length;
  void store.close();
  return { rate: events.length / s, cpuUs };
}

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

// 1. Overhead.
const load0 = loadavg();
const events = Array.from({ length: N }, (_, i) => makeEvent(i));
const docs = events.map((e) => JSON.stringify(e));
const rates: Record<'off' | 'on', number[]> = { off: [], on: [] };
const cpu: Record<'off' | 'on', number[]> = { off: [], on: [] };
const ratios: number[] = [];
const cpuRatios: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const pair: Partial<Record<'off' | 'on', { rate: number; cpuUs: number }>> = {};
  for (const mode of r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
    const dir = mkdtempSync(join(tmpdir(), `xa-bench-integrity-${mode}-`));
    pair[mode] = writeRound(dir, mode === 'on', events, docs);
    rates[mode].push(pair[mode].rate);
    cpu[mode].push(pair[mode].cpuUs);
    rmSync(dir, { recursive: true, force: true });
  }
  ratios.push(pair.on!.rate / pair.off!.rate);
  cpuRatios.push(pair.on!.cpuUs / pair.off!.cpuUs);
}
const overheadPct = (1 - median(ratios)) * 100;
const cpuOverheadPct = (median(cpuRatios) - 1) * 100;

// 1b. The ingest pipeline's split (`soc/src/pipeline`): the prepare worker parses raw frames of
// bench:ingest's syslog mix and, with chaining on, hashes the leaves (batch SM3); the store worker
// only inserts them. CPU per event of each stage, chaining off and on, alternating rounds. Their
// sum is the work per event on a CPU-bound machine, so its growth is the events/s overhead of
// chaining when both cores are busy (the main thread's framing and detection left out, which
// would only dilute it).
const PIPE_STEP = 10_000;
function rawSteps(n: number): Array<{ seq: number; appendedAt: number; count: number; data: string; kind: 'frames'; frames: Uint8Array; meta: string }> {
  const peer = { address: '127.0.0.1', port: 40000 };
  const receivedAt = Date.UTC(2026, 10, 28, 2, 0, 5);
  const out = [];
  for (let s = 0; s < n; s += PIPE_STEP) {
    const frames: RawFrame[] = [];
    for (let i = s; i < Math.min(n, s + PIPE_STEP); i++) {
      const bytes = Buffer.from(makeLine(i));
      const id = eventId({ kind: 'network', sourceId: 'syslog-tcp', peerAddress: peer.address, peerPort: peer.port, receivedAt, connection: 'bench', seq: i, bytes });
      frames.push(new RawFrame(bytes, { sourceId: 'syslog-tcp', transport: 'tcp', peer, receivedAt: receivedAt + i, timezone: 'Asia/Shanghai', eventId: id }, 'auto'));
    }
    const { data, meta } = encodeFrames(frames);
    out.push({ seq: s + 1, appendedAt: receivedAt, count: frames.length, data: '', kind: 'frames' as const, frames: data, meta });
  }
  return out;
}
const raw = rawSteps(N);
const pipe: Record<'off' | 'on', { prepare: number[]; store: number[] }> = { off: { prepare: [], store: [] }, on: { prepare: [], store: [] } };
const pipeRatios: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const sum: Partial<Record<'off' | 'on', number>> = {};
  for (const mode of r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
    const preparer = new Preparer('vendor', Date.now, mode === 'on');
    let c0 = cpuMs();
    const steps: PreparedStep[] = raw.map((b) => preparer.prepare([b])!);
    const prepUs = ((cpuMs() - c0) * 1000) / N;
    const dir = mkdtempSync(join(tmpdir(), `xa-bench-integrity-pipe-${mode}-`));
    const store = new SqliteEventStore({ dir, chain: mode === 'on', synchronous: 'normal' });
    c0 = cpuMs();
    for (const st of steps) store.writeColumns(st);
    const storeUs = ((cpuMs() - c0) * 1000) / N;
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    pipe[mode].prepare.push(prepUs);
    pipe[mode].store.push(storeUs);
    sum[mode] = prepUs + storeUs;
  }
  pipeRatios.push(sum.on! / sum.off!);
}
const pipeOverheadPct = (median(pipeRatios) - 1) * 100;
const pipeline = {
  prepareCpuUsPerEvent: { off: median(pipe.off.prepare), on: median(pipe.on.prepare) },
  storeCpuUsPerEvent: { off: median(pipe.off.store), on: median(pipe.on.store) },
  runs: pipe,
  pairRatios: pipeRatios,
  overheadPct: pipeOverheadPct,
};

// 2. Verification over VERIFY_N records in one day, with a signed checkpoint.
const vdir = mkdtempSync(join(tmpdir(), 'xa-bench-integrity-verify-'));
{
  const store = new SqliteEventStore({ dir: vdir, chain: true, synchronous: 'normal' });
  for (let i = 0; i < VERIFY_N; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, VERIFY_N - i) }, (_, k) => makeEvent(i + k));
    store.writeSync(batch, batch.map((e) => JSON.stringify(e)));
  }
  await store.close();
}
const identity = loadOrCreateIdentity({ dir: vdir, passphrase: 'bench passphrase', kdfIterations: 1000 });
const db = new Database(join(vdir, 'events.db'));
const cp = new Checkpointer({ dir: vdir, identity, sources: [{ stream: 'events', db }] });
const tCp = performance.now();
await cp.run();
const checkpointMs = performance.now() - tCp;
await cp.close();
db.close();

async function verifyRuns(workers: number | undefined, runs: number): Promise<{ rates: number[]; cpuUsPerRecord: number[]; findings: number; records: number }> {
  const out = { rates: [] as number[], cpuUsPerRecord: [] as number[], findings: -1, records: 0 };
  for (let r = 0; r < runs; r++) {
    const o = openIntegrity(vdir, workers === undefined ? {} : { workers });
    const c0 = cpuMs();
    const t0 = performance.now();
    const rep = await verifyIntegrity(o);
    const s = (performance.now() - t0) / 1000;
    out.cpuUsPerRecord.push(((cpuMs() - c0) * 1000) / rep.records);
    out.rates.push(rep.records / s);
    out.findings = rep.findings.length;
    out.records = rep.records;
    o.close();
  }
  return out;
}
const load1 = loadavg();
const parallel = await verifyRuns(undefined, 3);
const single = await verifyRuns(0, 2);
const load2 = loadavg();
rmSync(vdir, { recursive: true, force: true });

process.stdout.write(
  formatTable(
    ['measure', 'value', 'target'],
    [
      ['store write, chaining off (events/s, median)', fmtOps(median(rates.off)), ''],
      ['store write, chaining on (events/s, median)', fmtOps(median(rates.on)), ''],
      ['chaining overhead, events/s (median of pairs)', `${overheadPct.toFixed(1)} %`, '≤ 10 %'],
      ['store write CPU µs/event off → on (median)', `${median(cpu.off).toFixed(1)} → ${median(cpu.on).toFixed(1)}`, ''],
      ['chaining overhead, CPU per event (median of pairs)', `${cpuOverheadPct.toFixed(1)} %`, ''],
      ['pipeline prepare CPU µs/event off → on', `${pipeline.prepareCpuUsPerEvent.off.toFixed(1)} → ${pipeline.prepareCpuUsPerEvent.on.toFixed(1)}`, ''],
      ['pipeline store CPU µs/event off → on', `${pipeline.storeCpuUsPerEvent.off.toFixed(1)} → ${pipeline.storeCpuUsPerEvent.on.toFixed(1)}`, ''],
      ['chaining overhead, pipeline prepare + store CPU (median of pairs)', `${pipeOverheadPct.toFixed(1)} %`, '≤ 10 %'],
      [`first checkpoint over ${fmtOps(VERIFY_N)} records (ms)`, checkpointMs.toFixed(0), ''],
      [`audit verify, ${fmtOps(parallel.records)} records (records/s, best of 3)`, fmtOps(Math.max(...parallel.rates)), '≥ 200,000'],
      ['audit verify, calling thread only (records/s, best of 2)', fmtOps(Math.max(...single.rates)), ''],
      ['audit verify CPU µs/record (all threads, median)', median(parallel.cpuUsPerRecord).toFixed(2), ''],
      ['load average before / during verify / after', [load0, load1, load2].map((l) => l[0]!.toFixed(1)).join(' / '), ''],
    ],
  ) + '\n',
);

const integrity = {
  machine: machineInfo(),
  events: N,
  batch: BATCH,
  rounds: ROUNDS,
  storeWriteEventsPerSec: { off: median(rates.off), on: median(rates.on), runs: rates },
  storeWriteCpuUsPerEvent: { off: median(cpu.off), on: median(cpu.on), runs: cpu },
  pairRatios: ratios,
  overheadPct,
  cpuOverheadPct,
  pipeline,
  checkpointMs,
  verifyRecords: parallel.records,
  verifyRecordsPerSec: Math.max(...parallel.rates),
  verifyRuns: parallel.rates,
  verifyCpuUsPerRecord: parallel.cpuUsPerRecord,
  verifySingleThreadRecordsPerSec: Math.max(...single.rates),
  verifySingleThreadRuns: single.rates,
  verifyFindings: parallel.findings,
  loadAverage: { before: load0, beforeVerify: load1, after: load2 },
  targets: { overheadPctMax: 10, verifyRecordsPerSecMin: 200_000 },
  note: 'store-level (SqliteEventStore.writeSync, synchronous=normal, batches of 4000) in one process; pipeline: bench:ingest lines as raw frames through the prepare step (steps of 10,000) and writeColumns, CPU per event of each stage, overhead by their sum; overhead: median of back-to-back off/on pairs, by events/s and by CPU time per event; verify: one day of records with a signed checkpoint, best of 3 (default worker threads) and of 2 (calling thread only)',
};
const path = mergeResults(resultsName('ingest'), 'integrity', integrity);
const own = writeResults(resultsName('integrity'), integrity);
process.stdout.write(`results: ${path} (key "integrity") and ${own}\n`);
