/**
 * `npm run bench:es` (issue 6, "Speed"), two parts:
 *
 * 1. **Sink vs ceiling.** Events from the durable buffer into one local Elasticsearch node through
 *    Xiangan's sink (StoreConsumer + the pipelined engine writer: read buffer, `_bulk` create of
 *    the buffer's JSON documents, item checks), against the ceiling measured in the same run by a
 *    minimal raw writer that POSTs NDJSON `_bulk` bodies built before its clock starts, over the
 *    same number of connections (requests in flight) and into indices with the same template
 *    (settings and mappings). Each writer gets fresh indices, deleted before the other runs, so
 *    neither pays for the other's background merges; a short raw warm-up precedes both.
 * 2. **Search over 10M events.** The events are loaded fast (raw `_bulk` of generated NDJSON,
 *    several requests in flight, 0 replicas, refresh off, then on) into indices made by the store's
 *    template with index sorting on `@timestamp`; then searches with a one-day range and two
 *    keyword filters through `store.search` (filter context, sorted newest first, size 50):
 *    p50/p95 with exact totals and with totals counted up to 10,000.
 *
 * Environment: `XIANGAN_BENCH_ES_EVENTS` (sink events, default 1,000,000),
 * `XIANGAN_BENCH_ES_SEARCH_EVENTS` (default 10,000,000), `XIANGAN_BENCH_ES_CONNECTIONS` (default 2),
 * `XIANGAN_BENCH_ES_PARTS` (`sink,search`), `XIANGAN_BENCH_ES_REUSE=1` (keep the loaded search
 * indices between runs and reuse them when they hold the expected count), `XIANGAN_ES_URL` (default
 * http://127.0.0.1:19200; started with scripts/engines.sh when down).
 */
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EcsEvent } from '@xiangan/collectors';
import { DurableBuffer, StoreConsumer, engineIndexNames, engineWriter, openElasticStore, parseQuery } from '@xiangan/soc';
import { formatTable, fmtOps, writeResults, benchSetting, resultsName } from './harness.js';

const N = Number(benchSetting('XIANGAN_BENCH_ES_EVENTS') ?? 1_000_000);
const S = Number(benchSetting('XIANGAN_BENCH_ES_SEARCH_EVENTS') ?? 10_000_000);
const CONN = Number(benchSetting('XIANGAN_BENCH_ES_CONNECTIONS') ?? 2);
const PARTS = new Set((benchSetting('XIANGAN_BENCH_ES_PARTS') ?? 'sink,search').split(','));
const REUSE = process.env['XIANGAN_BENCH_ES_REUSE'] === '1';
const URL_ES = process.env['XIANGAN_ES_URL'] ?? 'http://127.0.0.1:19200';
const BATCH = 5000;
const DAYS = 10;
const USERS = ['root', 'admin', 'alice', 'bob', 'zhangwei', 'oracle', 'www-data'];
const T0 = Date.UTC(2026, 10, 18);
// The sink's indices: 30 s refresh while ingesting (both writers get the same template).
const SINK_REFRESH = '30s';

/** A deterministic ECS event of the sshd / firewall kind the SOC stores most (`total` spreads them over DAYS). */
function makeEvent(i: number, total: number): EcsEvent {
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const user = USERS[i % USERS.length]!;
  const fail = i % 3 === 0;
  return {
    id: `b${i.toString(36)}`,
    '@timestamp': new Date(T0 + Math.floor((i / total) * DAYS * 86_400_000)).toISOString(),
    message: `${fail ? 'Failed' : 'Accepted'} password for ${user} from ${ip} port ${20000 + (i % 40000)} ssh2`,
    event: { category: ['authentication'], outcome: fail ? 'failure' : 'success', action: 'ssh_login', severity: i % 8, ingested: new Date(T0).toISOString() },
    source: { ip, port: 20000 + (i % 40000) },
    destination: { ip: '192.168.1.10', port: 22 },
    user: { name: user },
    host: { name: `bastion-${i % 4}` },
    log: { syslog: { appname: 'sshd', hostname: `bastion-${i % 4}` } },
  };
}

/** NDJSON `_bulk` body of events [from, to) into the daily indices of `prefix`. */
function bulkBody(prefix: string, from: number, to: number, total: number): Buffer {
  const names = engineIndexNames(prefix);
  let body = '';
  for (let k = from; k < to; k++) {
    const ev = makeEvent(k, total);
    body += `{"create":{"_index":"${names.events(ev['@timestamp'].slice(0, 10))}","_id":"${ev.id}"}}\n${JSON.stringify(ev)}\n`;
  }
  return Buffer.from(body);
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

async function ensureEs(): Promise<void> {
  const up = async () => fetch(`${URL_ES}/_cluster/health`).then((r) => r.ok, () => false);
  if (await up()) return;
  const script = fileURLToPath(new URL('../../../scripts/engines.sh', import.meta.url));
  spawnSync('bash', [script, 'start', 'es'], { stdio: 'inherit', env: { ...process.env, XIANGAN_ENGINE_HEAP: process.env['XIANGAN_ENGINE_HEAP'] ?? '768m' } });
  if (!(await up())) throw new Error(`Elasticsearch is not reachable at ${URL_ES}`);
}

async function esJson(method: string, path: string, body?: unknown): Promise<any> {
  const r = await fetch(`${URL_ES}${path}`, { method, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
  return r.json();
}

/** Delete a prefix's indices by name (Elasticsearch 8 refuses wildcard deletes: action.destructive_requires_name). */
async function dropPrefix(prefix: string): Promise<void> {
  const list = (await esJson('GET', `/_cat/indices/${prefix}-*?format=json&h=index&expand_wildcards=all`)) as Array<{ index: string }>;
  for (let i = 0; i < list.length; i += 50) await fetch(`${URL_ES}/${list.slice(i, i + 50).map((x) => x.index).join(',')}`, { method: 'DELETE' });
  await fetch(`${URL_ES}/_index_template/${prefix}-events`, { method: 'DELETE' });
}

/** One POST of a ready body on a keep-alive agent; rejects on any item error. */
function rawPost(agent: http.Agent, body: Buffer): Promise<void> {
  const u = new URL('/_bulk', URL_ES);
  return new Promise((ok, fail) => {
    const req = http.request(u, { method: 'POST', agent, headers: { 'content-type': 'application/x-ndjson', 'content-length': body.length } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        if (res.statusCode !== 200 || text.includes('"errors":true')) fail(new Error(`raw _bulk: ${res.statusCode} ${text.slice(0, 300)}`));
        else ok();
      });
    });
    req.on('error', fail);
    req.end(body);
  });
}

/** `conn` workers take bodies in order; returns per-request ms. `next` yields the k-th body or undefined. */
async function rawWriter(conn: number, next: (k: number) => Buffer | undefined): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: conn });
  const ms: number[] = [];
  let k = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const body = next(k++);
      if (!body) return;
      const s = performance.now();
      await rawPost(agent, body);
      ms.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: conn }, worker));
  agent.destroy();
  return ms;
}

/** Template of the sink's store, copied to another prefix (same settings and mappings). */
async function copyTemplate(fromPrefix: string, toPrefix: string): Promise<void> {
  const t = (await esJson('GET', `/_index_template/${fromPrefix}-events`)).index_templates[0].index_template;
  await esJson('PUT', `/_index_template/${toPrefix}-events`, { index_patterns: [`${toPrefix}-events-*`], priority: 100, template: t.template });
}

async function sinkPart(): Promise<Record<string, unknown>> {
  for (const p of ['bench-sink', 'bench-raw', 'bench-warm']) await dropPrefix(p);
  const dir = mkdtempSync(join(tmpdir(), 'xa-bench-es-'));
  // The store installs the template; raw writers copy it.
  const store = await openElasticStore({ node: URL_ES, prefix: 'bench-sink', refresh: false, refreshInterval: SINK_REFRESH });
  await copyTemplate('bench-sink', 'bench-raw');
  await copyTemplate('bench-sink', 'bench-warm');

  // Warm-up of the node's indexing path (JIT), not timed.
  await rawWriter(CONN, (k) => (k < 10 ? bulkBody('bench-warm', k * BATCH, (k + 1) * BATCH, N) : undefined));
  await dropPrefix('bench-warm');

  // 1. The ceiling: bodies built before the clock starts, CONN requests in flight.
  const bodies: Buffer[] = [];
  for (let i = 0; i < N; i += BATCH) bodies.push(bulkBody('bench-raw', i, Math.min(N, i + BATCH), N));
  const r0 = performance.now();
  const rawMs = await rawWriter(CONN, (k) => bodies[k]);
  const rawS = (performance.now() - r0) / 1000;
  bodies.length = 0;
  await fetch(`${URL_ES}/bench-raw-events-*/_refresh`, { method: 'POST' });
  const rawStored = (await esJson('GET', '/bench-raw-events-*/_count')).count as number;
  await dropPrefix('bench-raw');

  // 2. Xiangan's sink: the buffer is filled first (not timed), then drained into the node.
  const buffer = new DurableBuffer({ dir, maxEvents: N + 1, maxBytes: 4 * 1024 ** 3 });
  for (let i = 0; i < N; i += BATCH) await buffer.append(Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => makeEvent(i + k, N)));
  const bulkMs: number[] = [];
  const consumer = new StoreConsumer({ buffer, writer: engineWriter(buffer, store, Date.now, { inFlight: CONN }), batchEvents: BATCH, onStored: (info) => bulkMs.push(info.ms) });
  const t0 = performance.now();
  consumer.start();
  await consumer.drain();
  const sinkS = (performance.now() - t0) / 1000;
  await consumer.stop();
  buffer.close();
  const stored = (await store.stats()).events;
  await store.close();
  await dropPrefix('bench-sink');
  rmSync(dir, { recursive: true, force: true });

  const sinkRate = N / sinkS;
  const rawRate = N / rawS;
  process.stdout.write(
    formatTable(
      ['writer', 'events/s', 'bulk p99 ms'],
      [
        [`Xiangan sink (buffer → _bulk create, ${CONN} in flight)`, fmtOps(sinkRate), quantile(bulkMs, 0.99).toFixed(0)],
        [`raw _bulk of ready NDJSON (ceiling, ${CONN} in flight)`, fmtOps(rawRate), quantile(rawMs, 0.99).toFixed(0)],
      ],
    ),
  );
  process.stdout.write(`sink / ceiling: ${((sinkRate / rawRate) * 100).toFixed(1)} %  (target ≥ 80 %)\n`);
  if (stored !== N || rawStored !== N) throw new Error(`stored ${stored} (sink) and ${rawStored} (raw) of ${N}`);
  return {
    events: N,
    batchEvents: BATCH,
    connections: CONN,
    refreshInterval: SINK_REFRESH,
    sink: { eventsPerSec: Math.round(sinkRate), seconds: sinkS, bulkP99Ms: quantile(bulkMs, 0.99), stored },
    rawCeiling: { eventsPerSec: Math.round(rawRate), seconds: rawS, bulkP99Ms: quantile(rawMs, 0.99), stored: rawStored },
    sinkOverCeiling: sinkRate / rawRate,
  };
}

async function searchPart(): Promise<Record<string, unknown>> {
  const prefix = 'bench-search';
  const pattern = `${prefix}-events-*`;
  const have = ((await esJson('GET', `/${pattern}/_count?ignore_unavailable=true&allow_no_indices=true`)).count as number | undefined) ?? 0;
  let loadS: number | undefined;
  if (!(REUSE && have === S)) {
    await dropPrefix(prefix);
    // The store's own template (index sorting on @timestamp), refresh off while loading.
    const init = await openElasticStore({ node: URL_ES, prefix, refresh: false, refreshInterval: '-1', indexSort: true });
    await init.close();
    const L = 10_000;
    const t0 = performance.now();
    let done = 0;
    await rawWriter(Math.max(CONN, 3), (k) => {
      const from = k * L;
      if (from >= S) return undefined;
      done = Math.min(S, from + L);
      if (done % 1_000_000 === 0) process.stdout.write(`  loaded ${done / 1e6}M\n`);
      return bulkBody(prefix, from, Math.min(S, from + L), S);
    });
    loadS = (performance.now() - t0) / 1000;
    await esJson('PUT', `/${pattern}/_settings`, { index: { refresh_interval: '1s' } });
    await fetch(`${URL_ES}/${pattern}/_refresh`, { method: 'POST' });
    process.stdout.write(`  ${S} events loaded in ${loadS.toFixed(0)} s (${fmtOps(S / loadS)} events/s)\n`);
  }
  const indexed = (await esJson('GET', `/${pattern}/_count`)).count as number;
  if (indexed !== S) throw new Error(`search indices hold ${indexed} events, expected ${S}`);
  const segments = (await esJson('GET', `/_cat/segments/${pattern}?format=json&h=index`)).length as number;

  const run = async (track: true | number): Promise<{ p50: number; p95: number; max: number; queries: number; total: number }> => {
    const store = await openElasticStore({ node: URL_ES, prefix, refresh: false, refreshInterval: '1s', indexSort: true, trackTotalHits: track });
    const ms: number[] = [];
    let total = 0;
    for (let k = 0; k < 110; k++) {
      const from = new Date(T0 + (k % DAYS) * 86_400_000 + (k % 7) * 3_600_000 + (k % 13) * 60_000).toISOString();
      const to = new Date(Date.parse(from) + 86_400_000).toISOString();
      const q = parseQuery(`user.name:${USERS[k % USERS.length]} AND event.outcome:${k % 2 ? 'failure' : 'success'}`);
      const s = performance.now();
      const r = await store.search({ query: q, from, to, size: 50 });
      if (k >= 10) ms.push(performance.now() - s);
      if (r.events.length !== 50) throw new Error(`search returned ${r.events.length} events`);
      total = r.total;
    }
    await store.close();
    return { p50: quantile(ms, 0.5), p95: quantile(ms, 0.95), max: Math.max(...ms), queries: ms.length, total };
  };
  const exact = await run(true);
  const bounded = await run(10_000);
  if (!REUSE) await dropPrefix(prefix);
  process.stdout.write(`search (1-day range + 2 keyword filters, newest 50) over ${indexed} events, ${segments} segments:\n`);
  process.stdout.write(`  exact totals:            p50 ${exact.p50.toFixed(1)} ms, p95 ${exact.p95.toFixed(1)} ms  (target p95 ≤ 500 ms)\n`);
  process.stdout.write(`  totals counted to 10000: p50 ${bounded.p50.toFixed(1)} ms, p95 ${bounded.p95.toFixed(1)} ms\n`);
  return {
    indexedEvents: indexed,
    days: DAYS,
    segments,
    ...(loadS !== undefined ? { loadSeconds: loadS, loadEventsPerSec: Math.round(S / loadS) } : { loadSeconds: null }),
    query: 'user.name:X AND event.outcome:Y, 1-day range (two daily indices), sort @timestamp desc then id, size 50',
    exactTotals: exact,
    totalsTo10000: bounded,
  };
}

async function main(): Promise<void> {
  await ensureEs();
  const node = Object.values((await esJson('GET', '/_nodes/stats/jvm')).nodes as Record<string, any>)[0];
  const out: Record<string, unknown> = {
    engine: 'Elasticsearch 8.19.0 (integ-test distribution, single node, 1 shard per daily index, 0 replicas)',
    heapMiB: Math.round(node.jvm.mem.heap_max_in_bytes / 1024 ** 2),
  };
  if (PARTS.has('sink')) out['sinkPart'] = await sinkPart();
  if (PARTS.has('search')) out['search'] = await searchPart();
  out['notes'] =
    'Both writers share the 2 cores with the node. The ceiling builds its bodies before its clock starts; the sink is wall-clock from the buffer (read, bulk body, item checks), so the ratio is conservative. The search indices are sorted by @timestamp desc, id desc (index sorting), loaded by raw _bulk and not force-merged.';
  const file = writeResults(resultsName('es'), out);
  process.stdout.write(`results: ${file}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:es failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
