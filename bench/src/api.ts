/**
 * `npm run bench:api` (issue 8, "Speed"): the API under load on loopback, through the real
 * security layer (API token lookup, permission hook, helmet headers, rate-limit bookkeeping).
 *
 * 1. Alert list: `GET /api/v1/alerts?size=50` with `XIANGAN_BENCH_ALERTS` (default 100,000)
 *    alerts in the SQLite alert store; autocannon, 10 connections, p99. Target ≤ 100 ms.
 *    Also the console's default queue (open statuses, 200 a page) and a keyset page reached by
 *    following `next` past 10,000 alerts.
 * 2. Event search over `XIANGAN_BENCH_EVENTS` (default 10,000,000) events in the SQLite store
 *    spread over 7 days: a one-day range + two field filters, and a one-day range + a full-text
 *    term; sequential requests, p95. Target ≤ 1 s. The event store is built once, through the
 *    store's own write path in big transactions (50,000 events each), in a cache directory
 *    (`XIANGAN_BENCH_CACHE`, default `.cache/` at the repository root) keyed by the generator's
 *    version and the event count, and reused by later runs: only the first run pays for the load.
 *    A reused store is brought to the current schema's indexes (the day-table DDL is idempotent;
 *    the time taken is reported), and rebuilt when the day-table layout itself changed.
 * 3. Live-stream fan-out: 50 SSE clients, alerts published at 1,000/s for
 *    `XIANGAN_BENCH_SECONDS` (default 10) s; per-message lag publish → client receipt, max and
 *    p99. The clients run in a process of their own (`sse-clients.ts`), as consoles would.
 *    Target: no client behind by more than 2 s.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { performance } from 'node:perf_hooks';
import { execFile, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { pino } from 'pino';
import { normalise, type EcsEvent } from '@xiangan/collectors';
import type { RuleMatch } from '@xiangan/rules';
import { buildApp, openSqliteStore, serverSecurity, socBus, startRuntime, validateConfig, type AlertCandidate } from '@xiangan/soc';
import { formatTable, writeResults, benchSetting, resultsName } from './harness.js';

const EVENTS = Number(benchSetting('XIANGAN_BENCH_EVENTS') ?? 10_000_000);
const ALERTS = Number(benchSetting('XIANGAN_BENCH_ALERTS') ?? 100_000);
const SECONDS = Number(benchSetting('XIANGAN_BENCH_SECONDS') ?? 10);
const CLIENTS = 50;
const RATE = 1000;
const DAY = 86_400_000;
const BASE = Date.UTC(2026, 10, 23, 0, 0, 0);

function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const WORDS = ['connection', 'accepted', 'closed', 'timeout', 'session', 'opened', 'request', 'denied', 'policy', 'update'];

/** A synthetic event: 50 hosts, 1,000 users, 10 % failures, a rare word in 0.1 % of messages. */
function event(i: number): EcsEvent {
  const t = BASE + Math.floor((i / EVENTS) * 7 * DAY);
  const rare = i % 1000 === 7 ? ' xianganneedle' : '';
  return {
    id: `bench-${i}`,
    '@timestamp': new Date(t).toISOString(),
    message: `${WORDS[i % 10]} ${WORDS[(i >> 3) % 10]} for user${i % 1000} from 10.0.${(i >> 8) & 255}.${i & 255}${rare}`,
    event: { kind: 'event', category: ['authentication'], outcome: i % 10 === 0 ? 'failure' : 'success', action: 'login', ingested: new Date(t).toISOString() },
    host: { name: `web${i % 50}` },
    user: { name: `user${i % 1000}` },
    source: { ip: `10.0.${(i >> 8) & 255}.${i & 255}` },
  } as EcsEvent;
}

function candidate(i: number): AlertCandidate {
  const fields = { 'host.name': `web${i % 50}`, 'source.ip': `203.0.${(i >> 8) & 255}.${i & 255}`, 'user.name': `user${i}` };
  const match: RuleMatch = {
    ruleId: `rule-${i % 20}`,
    title: `Bench rule ${i % 20}`,
    level: (['low', 'medium', 'high', 'critical'] as const)[i % 4]!,
    tags: ['attack.t1110'],
    kind: 'detection',
    alert: true,
    eventIds: [`bench-${i}`],
    time: new Date(BASE + (i % (7 * 24)) * 3_600_000).toISOString(),
  };
  const groupKey = Object.values(fields).join('\u001f');
  return { match, groupKey, group: fields, field: (n) => (fields[n as keyof typeof fields] !== undefined ? [fields[n as keyof typeof fields]] : []) };
}

interface AutocannonJson {
  requests: { total: number; average: number };
  non2xx: number;
  latency: { p50: number; p99: number; max: number };
}

/** `autocannon --json` in its own process: 10 connections for {@link SECONDS} s. */
function autocannonProcess(url: string, token: string): Promise<AutocannonJson> {
  const bin = join(dirname(createRequire(import.meta.url).resolve('autocannon/package.json')), 'autocannon.js');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [bin, '--json', '-c', '10', '-d', String(SECONDS), '-H', `authorization=Bearer ${token}`, url], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      if (err) return reject(err);
      try {
        resolve(JSON.parse(stdout) as AutocannonJson);
      } catch (e) {
        reject(e);
      }
    });
  });
}

function get(port: number, path: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Bump when {@link event} changes: the cached store is then built anew. */
const GENERATOR_VERSION = 1;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * The data directory holding the generated event store: built on the first run (the store's own
 * `write`, one transaction per 50,000 events, integrity chain off as nothing here verifies it),
 * reused afterwards. Everything but the event database is removed before a run, so alerts,
 * accounts and the buffer start empty each time.
 */
async function eventDataDir(): Promise<{ dir: string; built: boolean; seconds: number; indexSeconds: number }> {
  // The store's day-table DDL (not part of the package API; the benchmark reads it to keep the
  // cache in step with the schema).
  const schema = (await import(pathToFileURL(join(ROOT, 'soc', 'dist', 'src', 'storage', 'sqlite-schema.js')).href)) as { dayTableDdl(day: string): string[] };
  const cache = process.env.XIANGAN_BENCH_CACHE ?? join(ROOT, '.cache');
  const dir = join(cache, `bench-api-events-g${GENERATOR_VERSION}-n${EVENTS}`);
  const done = join(dir, 'COMPLETE');
  if (existsSync(done)) {
    for (const f of readdirSync(dir)) if (!/^events\.db(-wal|-shm)?$/.test(f) && f !== 'COMPLETE') rmSync(join(dir, f), { recursive: true, force: true });
    const db = new Database(join(dir, 'events.db'));
    const t0 = performance.now();
    let same = true;
    try {
      const tables = (db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name GLOB 'ev_[0-9]*'").all() as { name: string; sql: string }[]);
      for (const t of tables) {
        const day = `${t.name.slice(3, 7)}-${t.name.slice(7, 9)}-${t.name.slice(9, 11)}`;
        const ddl = schema.dayTableDdl(day);
        if (ddl[0]!.replace('IF NOT EXISTS ', '') !== t.sql) same = false;
        else for (const d of ddl) db.exec(d);
      }
    } finally {
      db.close();
    }
    if (same) return { dir, built: false, seconds: Number(readFileSync(done, 'utf8')), indexSeconds: (performance.now() - t0) / 1000 };
    process.stderr.write('the day-table layout changed: building the store anew\n');
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const store = await openSqliteStore({ dir, synchronous: 'normal', cacheMb: 256 });
  const t0 = performance.now();
  const BATCH = 50_000;
  for (let i = 0; i < EVENTS; i += BATCH) {
    const batch: EcsEvent[] = [];
    for (let j = i; j < Math.min(EVENTS, i + BATCH); j++) batch.push(event(j));
    await store.write(batch);
    if ((i / BATCH) % 20 === 19) process.stderr.write(`  ${i + BATCH} events stored, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  }
  await store.close();
  const seconds = (performance.now() - t0) / 1000;
  writeFileSync(done, seconds.toFixed(1));
  return { dir, built: true, seconds, indexSeconds: 0 };
}

async function main(): Promise<void> {
  const data = await eventDataDir();
  const dir = data.dir;
  process.stderr.write(`${data.built ? 'built' : 'reused'} the ${EVENTS}-event store in ${dir} (load took ${data.seconds.toFixed(1)} s; indexes brought up to date in ${data.indexSeconds.toFixed(1)} s)\n`);
  const config = validateConfig({
    data: dir,
    log: { level: 'silent' },
    storage: { synchronous: 'normal', worker: false, retentionDays: 36_500 },
    integrity: { enabled: false },
    syslog: { enabled: false },
    api: { port: 0 },
    auth: { ingestRateLimit: 10_000_000 },
  });
  const runtime = await startRuntime(config, { logger: pino({ level: 'silent' }), normalise });
  const out: Record<string, unknown> = {};
  try {
    const loadEventsS = data.seconds;
    const alerts = runtime.detection!.alerts;
    let t0 = performance.now();
    for (let i = 0; i < ALERTS; i += 1000) {
      const batch: AlertCandidate[] = [];
      for (let j = i; j < Math.min(ALERTS, i + 1000); j++) batch.push(candidate(j));
      await alerts.record(batch);
    }
    const loadAlertsS = (performance.now() - t0) / 1000;
    const stored = await alerts.list({ size: 1 } as never);
    process.stderr.write(`loaded ${ALERTS} alerts in ${loadAlertsS.toFixed(1)} s (store reports ${(stored as { total: number }).total})\n`);

    const sec = serverSecurity(config, runtime);
    const app = await buildApp({ runtime, security: sec.security });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const token = sec.security.auth.createToken({ name: 'bench', permissions: ['alerts:read', 'events:read', 'stream:read'] }, 'bench').token;
    try {
      // 1. Alert list.
      const first = await get(port, '/api/v1/alerts?size=50', token);
      if (first.status !== 200) throw new Error(`alert list answered ${first.status}: ${first.body.slice(0, 200)}`);
      // autocannon runs in a child process, as a browser would be, so its client work does not
      // share the server's event loop.
      const list = async (path: string) => {
        const ac = await autocannonProcess(`http://127.0.0.1:${port}${path}`, token);
        return { path, alerts: ALERTS, requests: ac.requests.total, non2xx: ac.non2xx, reqPerSec: ac.requests.average, p50Ms: ac.latency.p50, p99Ms: ac.latency.p99, maxMs: ac.latency.max, targetP99Ms: 100 };
      };
      out.alertList = await list('/api/v1/alerts?size=50');
      // The console's queue: open statuses, 200 a page.
      out.alertQueue = await list('/api/v1/alerts?size=200&status=new,acknowledged,in_progress');
      // A deep keyset page: the cursor after 10,000 alerts (200 pages of 50 followed by `next`),
      // which an index range scan reaches as fast as page one (offset paging would skip 10,000 rows).
      let cursor = '';
      for (let i = 0; i < 200; i++) {
        const r = await get(port, `/api/v1/alerts?size=50${cursor ? `&cursor=${cursor}` : ''}`, token);
        const next = (JSON.parse(r.body) as { next?: string }).next;
        if (r.status !== 200 || !next) throw new Error(`keyset walk stopped at page ${i + 1}: ${r.status} ${r.body.slice(0, 200)}`);
        cursor = next;
      }
      out.alertDeepPage = { ...(await list(`/api/v1/alerts?size=50&cursor=${cursor}`)), path: '/api/v1/alerts?size=50&cursor=<after 10,000 alerts>', position: 10_000 };

      // 2. Event search.
      const search = async (name: string, q: (day: number, i: number) => string) => {
        const lat: number[] = [];
        let hits = 0;
        for (let i = 0; i < 60; i++) {
          const day = i % 7;
          const from = new Date(BASE + day * DAY).toISOString();
          const to = new Date(BASE + (day + 1) * DAY).toISOString();
          const path = `/api/v1/events?size=50&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&q=${encodeURIComponent(q(day, i))}`;
          const s = performance.now();
          const r = await get(port, path, token);
          lat.push(performance.now() - s);
          if (r.status !== 200) throw new Error(`search answered ${r.status}: ${r.body.slice(0, 200)}`);
          hits += (JSON.parse(r.body) as { total: number }).total;
        }
        return { name, requests: lat.length, meanHits: Math.round(hits / lat.length), p50Ms: pct(lat, 50), p95Ms: pct(lat, 95), maxMs: lat.reduce((m, x) => Math.max(m, x), 0), targetP95Ms: 1000 };
      };
      out.search = {
        events: EVENTS,
        note: EVENTS < 10_000_000 ? `the issue names 10M events; ${EVENTS} were loaded (XIANGAN_BENCH_EVENTS)` : undefined,
        queries: [
          await search('1-day range + host.name + event.outcome', (_d, i) => `host.name:web${i % 50} AND event.outcome:failure`),
          await search('1-day range + full-text term', () => 'xianganneedle'),
          await search('1-day range + two fields + full-text term', (_d, i) => `user.name:user${(i * 37) % 1000} AND event.outcome:success AND accepted`),
        ],
      };

      // 3. SSE fan-out: the clients in their own process (bench/src/sse-clients.ts).
      const total = RATE * SECONDS;
      const child = spawn(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'sse-clients.js'), String(port), token, String(CLIENTS), String(total), String((SECONDS + 10) * 1000)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let childOut = '';
      child.stdout.setEncoding('utf8');
      const childDone = new Promise<void>((resolve, reject) => {
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sse clients exited with ${code}`))));
      });
      await new Promise<void>((resolve) => child.stdout.on('data', (d: string) => ((childOut += d), childOut.includes('ready\n') && resolve())));
      const tick = 10;
      const perTick = (RATE * tick) / 1000;
      let sent = 0;
      const start = performance.now();
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * RATE) + perTick);
          while (sent < due) socBus.publish('alert', { id: `fan-${sent}`, severity: 'high', title: 'fan-out', sentAt: performance.timeOrigin + performance.now(), seq: sent++ });
          if (sent >= total) {
            clearInterval(timer);
            resolve();
          }
        }, tick);
      });
      await childDone;
      const r = JSON.parse(childOut.trim().split('\n').pop()!) as { deliveredMin: number; lagP50Ms: number; lagP99Ms: number; lagMaxMs: number };
      out.fanout = { clients: CLIENTS, ratePerSec: RATE, seconds: SECONDS, published: total, ...r, clientsInOwnProcess: true, targetMaxLagMs: 2000 };
    } finally {
      await app.close();
      sec.close();
    }
    out.load = { events: EVENTS, eventsSeconds: loadEventsS, eventStoreReused: !data.built, indexUpgradeSeconds: data.indexSeconds, alerts: ALERTS, alertsSeconds: loadAlertsS };
  } finally {
    await runtime.stop();
  }

  const a = out.alertList as Record<string, number>;
  const aq = out.alertQueue as Record<string, number>;
  const ad = out.alertDeepPage as Record<string, number>;
  const s = out.search as { queries: Array<Record<string, number | string>> };
  const f = out.fanout as Record<string, number>;
  const rows = [
    ['alert list (size 50)', `${a.alerts} alerts`, `p99 ${a.p99Ms} ms`, `${Math.round(a.reqPerSec)} req/s`, '≤ 100 ms p99'],
    ['alert queue (open, size 200)', `${aq.alerts} alerts`, `p99 ${aq.p99Ms} ms`, `${Math.round(aq.reqPerSec)} req/s`, '≤ 100 ms p99'],
    ['alert list, keyset page after 10,000', `${ad.alerts} alerts`, `p99 ${ad.p99Ms} ms`, `${Math.round(ad.reqPerSec)} req/s`, '≤ 100 ms p99'],
    ...s.queries.map((q) => [String(q.name), `${EVENTS} events`, `p95 ${Number(q.p95Ms).toFixed(1)} ms`, `${q.meanHits} hits`, '≤ 1 s p95']),
    ['SSE fan-out', `${f.clients} clients × ${f.ratePerSec}/s`, `max lag ${f.lagMaxMs!.toFixed(0)} ms`, `p99 ${f.lagP99Ms!.toFixed(0)} ms, min delivered ${f.deliveredMin}/${f.published}`, '≤ 2 s'],
  ];
  process.stdout.write(formatTable(['measure', 'size', 'result', 'detail', 'target'], rows) + '\n');
  const path = writeResults(resultsName('api'), {
    description: 'API on loopback through the security layer (API token, permission hook, helmet): alert list via autocannon, event search sequential, SSE fan-out in-process clients.',
    ...out,
  });
  process.stdout.write(`wrote ${path}\n`);
}

await main();
