/**
 * `npm run bench:alerts` (issue 4, "Speed"): alert latency through the real pipeline — durable
 * buffer, the store writer thread, detection with the rule packs enabled, the alert store — at a
 * steady 20,000 events/s. Events are syslog lines shaped by the collectors' parser and
 * normaliser (SSH failures and successes, sudo, firewall drops, web access), appended to the
 * buffer as a source would, 1 % of them raising alerts (root logins, brute-force windows).
 *
 * Reports p50/p99 of "event stored → alert stored" (the store commit of the batch → the alert
 * transaction committed) and, for context, "receipt → alert stored" (`event.ingested` → alert
 * committed, which includes buffering and the store write). Writes bench/results/alerts.json and
 * merges the same numbers into bench/results/rules.json under `alertLatency`, keeping what the
 * rules benchmark wrote there.
 *
 * Environment: `XIANGAN_BENCH_SECONDS` (default 20), `XIANGAN_BENCH_RATE` (default 20,000).
 * The same stream is then sent for 10 s with detection off, as the baseline rate the pipeline
 * sustains on this machine without it (the 2 cores are shared, so both rates matter).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalise, parseSyslog, type EcsEvent } from '@xiangan/collectors';
import { startRuntime, validateConfig, type AlertLatencySample } from '@xiangan/soc';
import { formatTable, mergeResults, writeResults } from './harness.js';

const SECONDS = Number(process.env.XIANGAN_BENCH_SECONDS ?? 20);
const RATE = Number(process.env.XIANGAN_BENCH_RATE ?? 20_000);
const TICK_MS = 50;

const enc = new TextEncoder();

/** Event time: a Monday 10:00 Beijing time onwards (working hours, so login rules stay quiet). */
const EVENT_BASE = Date.UTC(2026, 10, 30, 2, 0, 0);
const POOL = 40_000;

/** One event as the syslog source would append it (`t` event time; receipt is set at append). */
function event(i: number, t: number): EcsEvent {
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const ts = new Date(t).toISOString();
  let line: string;
  if (i % 100 === 0) line = `<38>1 ${ts} web${i % 7} sshd 811 - - Accepted password for root from 203.0.113.${i % 250} port 51000 ssh2`;
  else if (i % 100 < 4) line = `<38>1 ${ts} web1 sshd 812 - - Failed password for admin from 198.51.100.${(i >> 8) % 50} port 40022 ssh2`;
  else
    switch (i % 4) {
      case 0:
        line = `<38>1 ${ts} bastion sshd 900 - - Accepted publickey for alice from ${ip} port 51000 ssh2`;
        break;
      case 1:
        line = `<85>1 ${ts} web01 sudo - - - alice : TTY=pts/1 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx`;
        break;
      case 2:
        line = `<4>1 ${ts} fw01 kernel - - - IPTABLES-DROP: IN=eth0 OUT= SRC=${ip} DST=192.168.1.10 LEN=60 PROTO=TCP SPT=${1024 + (i % 60000)} DPT=443`;
        break;
      default:
        line = `<190>1 ${ts} web01 nginx - - - ${ip} - - [30/Nov/2026:10:00:04 +0800] "GET /api/v1/items?id=${i} HTTP/1.1" 200 512 "-" "Mozilla/5.0"`;
    }
  const ctx = { sourceId: 'bench', transport: 'tcp' as const, receivedAt: t, timezone: 'Asia/Shanghai', eventId: `pool-${i}`, peer: { address: '192.0.2.10', port: 514 } };
  return normalise(parseSyslog(enc.encode(line), { receivedAt: t, timezone: 'Asia/Shanghai' }), ctx);
}

function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** Send the stream at RATE for `seconds`; resolves when the buffer is drained. */
async function run(detection: boolean, seconds: number, pool: EcsEvent[]) {
  const dir = mkdtempSync(join(tmpdir(), 'xiangan-bench-alerts-'));
  const log = { info() {}, warn() {}, error() {}, debug() {}, child() { return log; } } as never;
  const cfg = validateConfig({ data: dir, log: { level: 'silent' }, syslog: { enabled: false }, alerts: { enabled: detection } });
  const rt = await startRuntime(cfg, { logger: log });
  const stored: number[] = [];
  const receipt: number[] = [];
  if (rt.detection)
    rt.detection.onLatency = (s: AlertLatencySample) => {
      // One sample per raising event: each waited for the same alert transaction.
      for (const r of s.receiptToAlertMs) {
        stored.push(s.storedToAlertMs);
        receipt.push(r);
      }
    };
  const perTick = Math.round((RATE * TICK_MS) / 1000);
  const ticks = Math.round((seconds * 1000) / TICK_MS);
  let i = 0;
  let behind = 0;
  const t0 = Date.now();
  for (let k = 0; k < ticks; k++) {
    const due = t0 + k * TICK_MS;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    else behind++;
    const now = Date.now();
    const received = new Date(now).toISOString();
    const batch: EcsEvent[] = [];
    for (let j = 0; j < perTick; j++, i++) {
      const tpl = pool[i % POOL]!;
      batch.push({ ...tpl, id: `al-${i}`, '@timestamp': new Date(EVENT_BASE + i * (1000 / RATE)).toISOString(), event: { ...tpl.event, ingested: received } });
    }
    await rt.buffer.append(batch);
  }
  const sentMs = Date.now() - t0;
  while (rt.buffer.depth > 0) await new Promise((r) => setTimeout(r, 20));
  const drainedMs = Date.now() - t0;
  const det = rt.detection?.detector.stats();
  const eng = rt.detection?.detector.engine.stats();
  const alerts = (await rt.detection?.alerts.list({ size: 0 })) ?? { total: 0 };
  await rt.stop();
  rmSync(dir, { recursive: true, force: true });
  return { i, sentMs, drainedMs, behind, det, eng, alerts, stored, receipt };
}

async function main(): Promise<void> {
  // Parsing and normalising happen in the sources, on another path: build a pool up front and
  // stamp each appended copy with its own id, event time and receipt time.
  const pool: EcsEvent[] = [];
  for (let p = 0; p < POOL; p++) pool.push(event(p, EVENT_BASE + p));
  const { i, sentMs, drainedMs, behind, det, eng, alerts, stored, receipt } = await run(true, SECONDS, pool);
  const base = await run(false, Math.min(SECONDS, 10), pool);

  const result = {
    events: i,
    targetRate: RATE,
    achievedRate: Math.round((i * 1000) / sentMs),
    ticksBehind: behind,
    drainedAfterMs: drainedMs - sentMs,
    rules: 'rules/packs (built-in)',
    alertsStored: alerts.total,
    alertCandidates: det ? det.alertsCreated + det.alertsUpdated + det.suppressed : 0,
    correlationGroups: eng?.groups ?? 0,
    /** The same stream with detection off: what the pipeline sustains here without it. */
    withoutDetection: { events: base.i, achievedRate: Math.round((base.i * 1000) / base.sentMs), drainedAfterMs: base.drainedMs - base.sentMs },
    samples: stored.length,
    storedToAlertMs: { p50: pct(stored, 50), p99: pct(stored, 99), max: pct(stored, 100) },
    receiptToAlertMs: { p50: pct(receipt, 50), p99: pct(receipt, 99), max: pct(receipt, 100) },
    targetP99Ms: 1000,
    /** Other work on the machine during the run (1-minute load average at the end). */
    loadAverage1m: loadavg()[0],
    measuredAt: new Date().toISOString(),
  };
  process.stdout.write(
    formatTable(
      ['latency', 'p50 ms', 'p99 ms', 'max ms'],
      [
        ['event stored → alert stored', ...[result.storedToAlertMs.p50, result.storedToAlertMs.p99, result.storedToAlertMs.max].map((x) => x.toFixed(1))],
        ['receipt → alert stored', ...[result.receiptToAlertMs.p50, result.receiptToAlertMs.p99, result.receiptToAlertMs.max].map((x) => x.toFixed(1))],
      ],
    ),
  );
  process.stdout.write(`detector ${JSON.stringify(det)} engine ${JSON.stringify(eng)}\n`);
  process.stdout.write(`${i} events at ${result.achievedRate}/s (target ${RATE}/s), ${alerts.total} alerts, ${stored.length} raising events; without detection ${result.withoutDetection.achievedRate}/s\n`);

  process.stdout.write(`wrote ${writeResults('alerts', { alertLatency: result })}\n`);
  process.stdout.write(`wrote ${mergeResults('rules', 'alertLatency', result)}\n`);
}

await main();
