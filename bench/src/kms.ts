/**
 * `npm run bench:kms` (issue 10, "Speed"): the crypto service over HTTP on loopback, through
 * per-application token auth, policy checks and audit events into the real durable buffer, with
 * autocannon: SM2 sign, SM2 verify, SM4-GCM encrypt of 1 KiB and data-key generation —
 * requests/s and p99 — beside the in-process rate of the same service calls and of the bare SDK
 * calls, measured in the same run. Targets: ≥ 10,000 signs/s over HTTP with p99 ≤ 20 ms; HTTP +
 * auth + audit overhead ≤ 50 % of the in-process rate.
 *
 * autocannon runs in a worker thread of the server's process: client and server share the
 * machine's two cores (and every other job on it), so the HTTP rates are pessimistic.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { Sm2PrivateKey, sm2Sign, sm2Verify, sm4GcmEncrypt, randomBytes, bytesToBase64, ready } from '@xiangan/crypto';
import { DurableBuffer, KmsService, kmsRoutes } from '@xiangan/soc';
import { formatTable, measure, writeResults, fmtOps } from './harness.js';

const SECONDS = Number(process.env.XIANGAN_BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.XIANGAN_BENCH_CONNECTIONS ?? 32);

async function main(): Promise<void> {
  await ready();
  const dir = mkdtempSync(join(tmpdir(), 'xiangan-bench-kms-'));
  const buffer = new DurableBuffer({ dir: join(dir, 'buffer'), maxEvents: 10_000_000 });
  // Stand in for the pipeline consumer: keep the buffer draining as the SOC would.
  const drain = setInterval(() => {
    const b = buffer.read(100_000);
    if (b.length) buffer.ack(b.at(-1)!.seq);
  }, 200);
  const kms = KmsService.open({ dir: join(dir, 'kms'), masterSecret: 'bench master secret', iterations: 10_000, sink: buffer });
  const { token } = kms.createApp('bench', { keys: ['bench-*'], ops: ['sign', 'verify', 'encrypt', 'datakey'] });
  const caller = kms.authenticate(token, '127.0.0.1');
  kms.createKey(kms.root, 'bench-sign', 'sm2-sign');
  kms.createKey(kms.root, 'bench-box', 'sm4');
  const msg = randomBytes(32);
  const kib = randomBytes(1024);
  const sig = kms.sign(caller, 'bench-sign', msg).signature;

  const sdkKey = Sm2PrivateKey.generate();
  const sdkSig = sm2Sign(sdkKey, msg);
  const sdkAes = randomBytes(16);

  const ops = [
    { name: 'sm2-sign', path: '/api/v1/kms/sign/bench-sign', body: { input: bytesToBase64(msg) }, svc: () => kms.sign(caller, 'bench-sign', msg), sdk: () => sm2Sign(sdkKey, msg) },
    { name: 'sm2-verify', path: '/api/v1/kms/verify/bench-sign', body: { input: bytesToBase64(msg), signature: sig }, svc: () => kms.verify(caller, 'bench-sign', msg, sig), sdk: () => sm2Verify(sdkKey.publicKey, msg, sdkSig) },
    { name: 'sm4-gcm-encrypt-1KiB', path: '/api/v1/kms/encrypt/bench-box', body: { plaintext: bytesToBase64(kib) }, svc: () => kms.encrypt(caller, 'bench-box', kib), sdk: () => sm4GcmEncrypt(sdkAes, randomBytes(12), kib) },
    { name: 'datakey', path: '/api/v1/kms/datakey/bench-box', body: {}, svc: () => kms.dataKey(caller, 'bench-box'), sdk: () => sm4GcmEncrypt(sdkAes, randomBytes(12), randomBytes(16)) },
  ];

  const app = Fastify({ logger: false });
  await app.register(kmsRoutes, { service: kms });
  // Baseline: the same server with no crypto, auth or audit, to show what loopback HTTP alone costs here.
  app.post('/noop', async () => ({ ok: true }));
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const rows: Array<Record<string, unknown>> = [];
  let baseline: Record<string, unknown> = {};
  try {
    const nb = await autocannon({ url: `${url}/noop`, method: 'POST', connections: CONNECTIONS, workers: 1, duration: SECONDS, headers: { 'content-type': 'application/json' }, body: '{}' });
    baseline = { reqPerSec: nb.requests.average, p50Ms: nb.latency.p50, p99Ms: nb.latency.p99, non2xx: nb.non2xx };
    for (const op of ops) {
      const sdk = measure(op.sdk, { timeMs: 1500 });
      const inProcess = measure(op.svc, { timeMs: 1500 });
      await kms.drainAudit();
      const load = { url: `${url}${op.path}`, method: 'POST' as const, connections: CONNECTIONS, workers: 1, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(op.body) };
      // Warm-up (JIT of the route, the parsers and the crypto paths), not recorded.
      await autocannon({ ...load, duration: 2 });
      await kms.drainAudit();
      const ac = await autocannon({
        url: `${url}${op.path}`,
        method: 'POST',
        connections: CONNECTIONS,
        // The load generator in its own thread, so it does not share the server's event loop.
        workers: 1,
        duration: SECONDS,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(op.body),
      });
      const httpRate = ac.requests.average;
      rows.push({
        operation: op.name,
        http: { reqPerSec: httpRate, p50Ms: ac.latency.p50, p99Ms: ac.latency.p99, maxMs: ac.latency.max, requests: ac.requests.total, non2xx: ac.non2xx, errors: ac.errors, connections: CONNECTIONS, seconds: SECONDS },
        inProcessService: { opsPerSec: inProcess.opsPerSec, spread: inProcess.spread },
        inProcessSdk: { opsPerSec: sdk.opsPerSec, spread: sdk.spread },
        httpOverheadVsService: 1 - httpRate / inProcess.opsPerSec,
      });
    }
  } finally {
    await app.close();
    clearInterval(drain);
    await kms.close();
    buffer.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const signRow = rows[0] as { http: { reqPerSec: number; p99Ms: number } };
  const targets = {
    signsPerSecHttp: { target: 10_000, measured: signRow.http.reqPerSec, met: signRow.http.reqPerSec >= 10_000 },
    signP99Ms: { target: 20, measured: signRow.http.p99Ms, met: signRow.http.p99Ms <= 20 },
    overheadMax: { target: 0.5, measured: rows.map((r) => r.httpOverheadVsService as number), met: rows.every((r) => (r.httpOverheadVsService as number) <= 0.5) },
  };
  const path = writeResults('kms', { loadAverage: loadavg(), emptyRouteBaseline: baseline, seconds: SECONDS, connections: CONNECTIONS, auditSink: 'DurableBuffer (SQLite), drained every 200 ms', autocannon: 'worker thread in the same process', results: rows, targets });
  process.stdout.write(
    formatTable(
      ['operation', 'HTTP req/s', 'p99 ms', 'service in-proc/s', 'SDK in-proc/s', 'overhead'],
      rows.map((r) => {
        const h = r.http as { reqPerSec: number; p99Ms: number };
        return [r.operation as string, fmtOps(h.reqPerSec), String(h.p99Ms), fmtOps((r.inProcessService as { opsPerSec: number }).opsPerSec), fmtOps((r.inProcessSdk as { opsPerSec: number }).opsPerSec), `${Math.round((r.httpOverheadVsService as number) * 100)}%`];
      }),
    ) + `\nempty POST route on the same server: ${fmtOps(baseline.reqPerSec as number)} req/s, p99 ${String(baseline.p99Ms)} ms; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}\nwritten ${path}\n`,
  );
}

await main();
