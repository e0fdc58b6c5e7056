/**
 * `node bench/dist/src/integrity.js` (issue 7, "Speed"): the SQLite store's write rate with
 * tamper-evidence chaining off and on, in the same process and run, alternating rounds over the
 * same events (canonical JSON, SM3 leaf hash and the leaf-index insert in the store
 * transaction); then `verifyIntegrity` over the chained store (every record re-hashed, every
 * root recomputed, every checkpoint signature checked). Targets: overhead ≤ 10 % of events/s,
 * verify ≥ 200,000 records/s. The numbers go into `bench/results/ingest.json` under `integrity`
 * (harness `mergeResults`: the ingest benchmark keeps that section when it rewrites the file) and
 * into `bench/results/integrity.json`.
 *
 * Environment: `XIANGAN_BENCH_EVENTS` (default 20,000) events per round, `XIANGAN_BENCH_ROUNDS`
 * (default 8) pairs of rounds. The store runs with `synchronous = normal` so that fsync waits on a
 * shared disk do not hide the CPU cost chaining adds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EcsEvent } from '@xiangan/collectors';
import { Checkpointer, loadOrCreateIdentity, openIntegrity, SqliteEventStore, verifyIntegrity } from '@xiangan/soc';
import { fmtOps, formatTable, machineInfo, mergeResults, writeResults } from './harness.js';

const N = Number(process.env.XIANGAN_BENCH_EVENTS ?? 20_000);
const BATCH = 4000;
/** Pairs of (off, on) rounds; the machine is shared, so each pair runs back to back and the median pair ratio is reported. */
const ROUNDS = Number(process.env.XIANGAN_BENCH_ROUNDS ?? 8);

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

function writeRound(dir: string, chain: boolean, events: EcsEvent[], docs: string[]): number {
  const store = new SqliteEventStore({ dir, chain, synchronous: 'normal' });
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += BATCH) store.writeSync(events.slice(i, i + BATCH), docs.slice(i, i + BATCH));
  const s = (performance.now() - t0) / 1000;
  void store.close();
  return events.length / s;
}

const events = Array.from({ length: N }, (_, i) => makeEvent(i));
const docs = events.map((e) => JSON.stringify(e));
const rates: Record<'off' | 'on', number[]> = { off: [], on: [] };
const ratios: number[] = [];
let keep = '';
for (let r = 0; r < ROUNDS; r++) {
  const pair: Partial<Record<'off' | 'on', number>> = {};
  for (const mode of r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
    const dir = mkdtempSync(join(tmpdir(), `xa-bench-integrity-${mode}-`));
    pair[mode] = writeRound(dir, mode === 'on', events, docs);
    rates[mode].push(pair[mode]);
    if (mode === 'on' && !keep) keep = dir;
    else rmSync(dir, { recursive: true, force: true });
  }
  ratios.push(pair.on! / pair.off!);
}
const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const best = (a: number[]): number => Math.max(...a);
const off = median(rates.off);
const on = median(rates.on);
const overheadPct = (1 - median(ratios)) * 100;

// Verify speed over the kept chained store, with checkpoints signed over it.
const identity = loadOrCreateIdentity({ dir: keep, passphrase: 'bench passphrase', kdfIterations: 1000 });
const db = new Database(join(keep, 'events.db'));
const cp = new Checkpointer({ dir: keep, identity, sources: [{ stream: 'events', db }] });
const tCp = performance.now();
cp.run();
const checkpointMs = performance.now() - tCp;
cp.close();
db.close();
const verifyRates: number[] = [];
let findings = -1;
for (let r = 0; r < 3; r++) {
  const o = openIntegrity(keep);
  const t0 = performance.now();
  const rep = await verifyIntegrity(o);
  verifyRates.push(rep.records / ((performance.now() - t0) / 1000));
  findings = rep.findings.length;
  o.close();
}
rmSync(keep, { recursive: true, force: true });
const verifyRate = best(verifyRates);

process.stdout.write(
  formatTable(
    ['measure', 'value', 'target'],
    [
      ['store write, chaining off (events/s, median)', fmtOps(off), ''],
      ['store write, chaining on (events/s, median)', fmtOps(on), ''],
      ['chaining overhead (median of pairs)', `${overheadPct.toFixed(1)} %`, '≤ 10 %'],
      ['first checkpoint over all events (ms)', checkpointMs.toFixed(0), ''],
      ['audit verify (records/s)', fmtOps(verifyRate), '≥ 200,000'],
    ],
  ) + '\n',
);

const integrity = {
  machine: machineInfo(),
  events: N,
  batch: BATCH,
  rounds: ROUNDS,
  storeWriteEventsPerSec: { off, on, runs: rates },
  pairRatios: ratios,
  overheadPct,
  checkpointMs,
  verifyRecordsPerSec: verifyRate,
  verifyRuns: verifyRates,
  verifyFindings: findings,
  targets: { overheadPctMax: 10, verifyRecordsPerSecMin: 200_000 },
  note: 'store-level (SqliteEventStore.writeSync, synchronous=normal, batches of 4000) in one process; median of back-to-back off/on pairs; verify: best of 3',
};
const path = mergeResults('ingest', 'integrity', integrity);
const own = writeResults('integrity', integrity);
process.stdout.write(`results: ${path} (key "integrity") and ${own}\n`);
