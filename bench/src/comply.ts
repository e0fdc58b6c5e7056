/**
 * Compliance benchmark (`npm run bench:comply`): a level-3 self-assessment of one system with 200
 * assets over 30 days of stored events on SQLite — time to evidence (the run) and to the rendered
 * HTML + PDF report. Size: `XIANGAN_BENCH_COMPLY_EVENTS` (default 10 000 000, the size).
 *
 * The generated store is cached (default under the OS temp directory, or `XIANGAN_BENCH_COMPLY_CACHE`)
 * and reused by later runs of the same size: loading 10 M events takes minutes on a 2-core machine,
 * the assessment is what is measured. A reused store is assessed at the time it was generated
 * (`now` of the run), so its 24-hour and 30-day windows hold what they held then.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EcsEvent } from '@xiangan/collectors';
import { loadOrCreateIdentity, runAssessment, SqliteEventStore, writeReports, type Inventory } from '@xiangan/soc';
import { formatTable, machineInfo, writeResults, benchSetting, resultsName } from './harness.js';

const EVENTS = Number(benchSetting('XIANGAN_BENCH_COMPLY_EVENTS') ?? 10_000_000);
const ASSETS = 200;
const DAYS = 30;
const BATCH = 20_000;
const cacheRoot = process.env.XIANGAN_BENCH_COMPLY_CACHE ?? join(tmpdir(), 'xiangan-bench-cache');
const dir = join(cacheRoot, `comply-${EVENTS}`);
const marker = join(dir, 'complete.json');

const inv: Inventory = { systems: [{ id: 'S1', name: 'bench', level: 3 }], assets: [] };
for (let i = 0; i < ASSETS; i++) {
  const type = (['network', 'security', 'server', 'database', 'application'] as const)[i % 5]!;
  inv.assets.push({ id: `a${i}`, systemId: 'S1', type, name: `asset ${i}`, hostNames: [`h${i}`], ips: [`10.2.${i >> 8}.${i & 255}`], importance: 2 });
}

/** One synthetic event: logins mostly, with lockouts, NTP, IDS and anti-malware records mixed in. */
function event(i: number, now: number): EcsEvent {
  const a = i % ASSETS;
  const kind = i % 1000;
  const base = {
    id: `b${i}`,
    '@timestamp': new Date(now - Math.floor((i / EVENTS) * DAYS * 86_400_000) - 1000).toISOString(),
    message: 'bench',
    host: { name: `h${a}` },
    user: { name: `u${i % 50}` },
    destination: { ip: `10.2.${a >> 8}.${a & 255}`, port: 22 },
  };
  if (kind === 1) return { ...base, process: { name: 'chronyd' }, event: { category: ['host'], action: 'time-sync', outcome: 'success' } } as EcsEvent;
  if (kind === 2) return { ...base, event: { category: ['intrusion_detection'], module: 'suricata', action: 'alert', outcome: 'success' } } as EcsEvent;
  if (kind === 3) return { ...base, event: { category: ['malware'], module: 'clamav', action: 'scan', outcome: 'success' } } as EcsEvent;
  return { ...base, event: { category: ['authentication'], action: i % 997 === 0 ? 'account-locked' : 'login', outcome: i % 7 === 0 ? 'failure' : 'success' } } as EcsEvent;
}

let loadMs = 0;
let reused = true;
let now: number;
if (existsSync(marker)) {
  now = (JSON.parse(readFileSync(marker, 'utf8')) as { now: number }).now;
} else {
  reused = false;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  now = Date.now();
  const store = new SqliteEventStore({ dir, synchronous: 'normal' });
  const t0 = performance.now();
  const batch: EcsEvent[] = [];
  // Newest first, so each day's table is filled in one stretch.
  for (let i = 0; i < EVENTS; i++) {
    batch.push(event(i, now));
    if (batch.length === BATCH) store.writeSync(batch.splice(0));
  }
  if (batch.length) store.writeSync(batch.splice(0));
  await store.close();
  loadMs = performance.now() - t0;
  writeFileSync(marker, JSON.stringify({ now, events: EVENTS, assets: ASSETS, days: DAYS, loadMs: Math.round(loadMs) }));
}

const work = mkdtempSync(join(tmpdir(), 'xa-bench-comply-'));
try {
  const store = new SqliteEventStore({ dir, synchronous: 'normal' });
  const t1 = performance.now();
  const a = await runAssessment({ store, dataDir: work, inventory: inv, systemId: 'S1', level: 3, socConfig: { level: 3, storage: { retentionDays: 180 } }, now: new Date(now) });
  const runMs = performance.now() - t1;
  await store.close();
  const t2 = performance.now();
  await writeReports(a, { outDir: join(work, 'out'), formats: ['html', 'pdf'] });
  const renderMs = performance.now() - t2;
  const identity = loadOrCreateIdentity({ dir: work, passphrase: 'bench passphrase', kdfIterations: 1000 });
  const t3 = performance.now();
  await writeReports(a, { outDir: join(work, 'signed'), formats: ['html', 'json'], identity });
  const signedMs = performance.now() - t3;
  const result = {
    events: EVENTS,
    assets: ASSETS,
    days: DAYS,
    items: a.items.length,
    storeReused: reused,
    loadMs: reused ? (JSON.parse(readFileSync(marker, 'utf8')) as { loadMs: number }).loadMs : Math.round(loadMs),
    runMs: Math.round(runMs),
    renderHtmlPdfMs: Math.round(renderMs),
    htmlJsonSignedMs: Math.round(signedMs),
    overall: a.overall,
    checks: Object.fromEntries(a.checkResults.map((r) => [r.check, r.status])),
    targets: { runMs: 60_000, renderHtmlPdfMs: 10_000 },
    machine: machineInfo(),
  };
  process.stdout.write(
    formatTable(
      ['events', 'assets', 'load', 'run (evidence)', 'HTML+PDF', 'HTML+JSON+sign'],
      [[String(EVENTS), String(ASSETS), `${result.loadMs} ms${reused ? ' (cached)' : ''}`, `${result.runMs} ms`, `${result.renderHtmlPdfMs} ms`, `${result.htmlJsonSignedMs} ms`]],
    ) + '\n',
  );
  process.stdout.write(`wrote ${writeResults(resultsName('comply'), result)}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
