// The server end to end on loopback: real syslog clients (util-linux `logger`) over UDP and TCP,
// HTTP ingest with auth, schema validation, 413 and 429, the search API, /metrics, and
// back-pressure with a tiny buffer (TCP pushes back and loses nothing, UDP drops are counted).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { validateConfig } from '../src/config/load.js';
import { startServer, type RunningServer } from '../src/server.js';
import { createLogger } from '../src/logger.js';

const TOKEN = 'test-token-0123456789abcdef';
const silent = createLogger({ level: 'silent' });

function cfgFor(dir: string, extra: Record<string, unknown> = {}) {
  return validateConfig({
    data: dir,
    log: { level: 'silent' },
    storage: { synchronous: 'normal' },
    api: { port: 0, tokens: [TOKEN], maxBodyBytes: 64 * 1024 },
    syslog: { host: '127.0.0.1', udpPort: 0, tcpPort: 0 },
    ...extra,
  });
}

function portOf(srv: RunningServer, id: string): number {
  const s = srv.runtime.sources.find((x) => x.id === id);
  assert.ok(s?.address, `source ${id} not running`);
  return s.address.port;
}

async function waitFor(cond: () => Promise<boolean> | boolean, what: string, ms = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function api(srv: RunningServer, path: string, init: RequestInit = {}, token: string | null = TOKEN) {
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  const res = await fetch(`http://127.0.0.1:${srv.api.port}${path}`, { ...init, headers });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers };
}

function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return NaN;
}

describe('SOC server', () => {
  let dir: string;
  let srv: RunningServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xa-srv-'));
    srv = await startServer(cfgFor(dir), { logger: silent });
  });
  after(async () => {
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('logger over UDP and TCP, RFC 5424 and RFC 3164, reaches storage with its fields', async () => {
    const udp = String(portOf(srv, 'syslog-udp'));
    const tcp = String(portOf(srv, 'syslog-tcp'));
    execFileSync('logger', ['-n', '127.0.0.1', '-P', tcp, '-T', '--rfc5424', '-t', 'sshd', '-p', 'auth.info', 'Failed password for invalid user admin from 10.9.8.7 port 50022 ssh2']);
    execFileSync('logger', ['-n', '127.0.0.1', '-P', udp, '-d', '--rfc3164', '-t', 'sshd', '-p', 'auth.info', 'Accepted password for alice from 192.168.1.20 port 40000 ssh2']);
    execFileSync('logger', ['-n', '127.0.0.1', '-P', udp, '-d', '--rfc5424', '-t', 'su', 'pam_unix(su:session): session opened for user root by alice(uid=1000)']);
    await waitFor(async () => (await api(srv, '/api/v1/events?size=0')).body.total >= 3, 'three events stored');
    const fail = await api(srv, `/api/v1/events?q=${encodeURIComponent('source.ip:10.0.0.0/8 AND event.outcome:failure')}`);
    assert.equal(fail.status, 200);
    assert.equal(fail.body.total, 1);
    const ev = fail.body.events[0];
    assert.equal(ev.source.ip, '10.9.8.7');
    assert.equal(ev.log.syslog.appname, 'sshd');
    assert.match(ev.event.original, /Failed password/);
    assert.equal(ev.labels['xiangan.source'], 'syslog-tcp');
    const ok = await api(srv, `/api/v1/events?q=${encodeURIComponent('user.name:alice AND "accepted password"')}`);
    assert.equal(ok.body.total, 1);
    assert.equal(ok.body.events[0].labels['xiangan.source'], 'syslog-udp');
  });

  test('HTTP ingest: NDJSON and JSON arrays, 2xx after the durable append, ids dedupe retries', async () => {
    const lines = [
      { '@timestamp': '2026-11-28T01:00:00Z', message: 'ingest one', event: { action: 'http-test' }, user: { name: 'carol' } },
      { '@timestamp': '2026-11-28T01:00:01Z', message: 'ingest two', event: { action: 'http-test' }, user: { name: 'dave' } },
    ];
    const body = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
    const r = await api(srv, '/api/v1/ingest', { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { accepted: 2 });
    const again = await api(srv, '/api/v1/ingest', { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
    assert.equal(again.status, 200);
    const arr = await api(srv, '/api/v1/ingest', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ '@timestamp': '2026-11-28T01:00:02Z', message: 'ingest three', event: { action: 'http-test' } }]),
    });
    assert.deepEqual(arr.body, { accepted: 1 });
    await waitFor(async () => (await api(srv, '/api/v1/events?q=event.action:http-test&size=0&from=2026-11-28T00:00:00Z')).body.total === 3, 'http events stored');
    await srv.runtime.consumer.drain();
    const res = await api(srv, '/api/v1/events?q=event.action:http-test&from=2026-11-28T00:00:00Z&sort=asc&facets=user.name');
    assert.deepEqual(res.body.events.map((e: any) => e.message), ['ingest one', 'ingest two', 'ingest three']);
    assert.deepEqual(res.body.facets['user.name'], [{ value: 'carol', count: 1 }, { value: 'dave', count: 1 }]);
  });

  test('HTTP ingest refuses missing or wrong tokens, bad JSON, schema violations and oversize bodies', async () => {
    const post = (body: string, token: string | null = TOKEN, type = 'application/x-ndjson') =>
      api(srv, '/api/v1/ingest', { method: 'POST', headers: { 'content-type': type }, body }, token);
    let r = await post('{"message":"x"}', null);
    assert.equal(r.status, 401);
    assert.equal(r.body.code, 'SOC_ERR_UNAUTHORIZED');
    r = await post('{"message":"x"}', 'wrong-token-0123456789abcdef');
    assert.equal(r.status, 401);
    r = await post('{"message":"ok"}\n{"message": broken}\n');
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'SOC_ERR_INGEST_INVALID');
    assert.match(r.body.message, /line 2/);
    r = await post('{"message":"ok"}\n[1,2]\n');
    assert.equal(r.status, 400);
    assert.match(r.body.message, /line 2: an event must be a JSON object/);
    r = await post('{"@timestamp":"yesterday"}');
    assert.equal(r.status, 400);
    assert.match(r.body.message, /@timestamp/);
    r = await post('{"source":{"port":70000}}');
    assert.equal(r.status, 400);
    r = await post('{"message":"' + 'x'.repeat(70 * 1024) + '"}');
    assert.equal(r.status, 413);
    assert.equal(r.body.code, 'SOC_ERR_PAYLOAD_TOO_LARGE');
    const m = await api(srv, '/metrics');
    assert.equal(metric(m.body, 'xiangan_http_ingest_rejected_total', { reason: 'too_large' }), 1);
  });

  test('search API validates its query string and pages with cursors', async () => {
    let r = await api(srv, '/api/v1/events?q=' + encodeURIComponent('user.name:(root'));
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'SOC_ERR_QUERY');
    r = await api(srv, '/api/v1/events?size=100000');
    assert.equal(r.status, 400);
    r = await api(srv, '/api/v1/events?bogus=1');
    assert.equal(r.status, 400);
    r = await api(srv, '/api/v1/events', {}, null);
    assert.equal(r.status, 401);
    const all = (await api(srv, '/api/v1/events?size=1000&sort=asc')).body.events.map((e: any) => e.id);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await api(srv, `/api/v1/events?size=2&sort=asc${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.events.map((e: any) => e.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, all);
    const one = await api(srv, `/api/v1/events/${all[0]}`);
    assert.equal(one.body.id, all[0]);
    assert.equal((await api(srv, '/api/v1/events/nope')).status, 404);
  });

  test('/metrics speaks the Prometheus text format', async () => {
    const r = await api(srv, '/metrics', {}, null);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    for (const line of (r.body as string).trim().split('\n')) {
      assert.match(line, /^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\{([a-z_]+="[^"]*",?)+\})? [-+0-9.eE]+(Inf)?|NaN)$/, line);
    }
    assert.ok(metric(r.body, 'xiangan_events_in_total', { source: 'syslog-udp' }) >= 2);
    assert.ok(metric(r.body, 'xiangan_events_in_total', { source: 'syslog-tcp' }) >= 1);
    assert.equal(metric(r.body, 'xiangan_buffer_depth_events'), srv.runtime.buffer.depth);
    assert.ok(metric(r.body, 'xiangan_sink_latency_seconds_count') >= 1);
  });
});

describe('TLS syslog from the configuration', () => {
  test('syslog.tls starts an RFC 5425 listener with the configured certificate', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'xa-tls-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const srv = await startServer(cfgFor(dir, { syslog: { host: '127.0.0.1', udpPort: 0, tcpPort: 0, tls: { port: 0, cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') } } }), { logger: silent });
    try {
      const port = portOf(srv, 'syslog-tls');
      const msg = 'Failed password for invalid user oracle from 172.16.5.4 port 50000 ssh2';
      // RFC 5425 §4.3: octet-counted frames over TLS.
      const frame = `<38>1 2026-11-28T03:00:00Z bastion sshd 99 - - ${msg}`;
      const { connect } = await import('node:tls');
      const sock = connect({ port, host: '127.0.0.1', ca: readFileSync(join(dir, 'cert.pem')), servername: 'localhost' });
      await new Promise((r, j) => sock.once('secureConnect', r).once('error', j));
      sock.end(`${Buffer.byteLength(frame)} ${frame}`);
      await waitFor(async () => (await api(srv, '/api/v1/events?q=source.ip:172.16.5.4&size=0&from=2026-11-28T00:00:00Z')).body.total === 1, 'TLS event stored');
      const r = await api(srv, '/api/v1/events?q=source.ip:172.16.5.4&from=2026-11-28T00:00:00Z');
      assert.equal(r.body.events[0].labels['xiangan.source'], 'syslog-tls');
      assert.equal(r.body.events[0].user.name, 'oracle');
    } finally {
      await srv.stop();
    }
  });
});

describe('tailed files from the configuration', () => {
  test('files[].format names the parser: nginx access and error lines stored as nginx, one auto-detected beside them', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'xa-files-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(
      join(dir, 'nginx.log'),
      '10.0.0.5 - - [28/Nov/2026:09:00:00 +0800] "GET /wp-login.php HTTP/1.1" 404 5 "-" "curl/8" "203.0.113.70"\n' +
        '2026/11/28 09:00:01 [error] 12#12: *5 user "admin": password mismatch, client: 203.0.113.72, server: a.cn, request: "GET /admin HTTP/1.1", host: "a.cn"\n',
    );
    writeFileSync(join(dir, 'other.log'), '10.0.0.6 - - [28/Nov/2026:09:00:02 +0800] "GET / HTTP/1.1" 200 5 "-" "curl/8"\n');
    const srv = await startServer(
      cfgFor(dir, {
        syslog: { enabled: false },
        files: [
          { id: 'nginx', paths: [join(dir, 'nginx.log')], format: 'nginx' },
          { id: 'other', paths: [join(dir, 'other.log')] },
        ],
      }),
      { logger: silent },
    );
    try {
      const q = (query: string) => api(srv, `/api/v1/events?q=${encodeURIComponent(query)}&from=2026-11-28T00:00:00Z&sort=asc`);
      await waitFor(async () => (await q('event.module:nginx OR event.module:web')).body.total === 3, 'three file lines stored');
      const nginx = (await q('labels.xiangan.source:nginx')).body.events;
      assert.deepEqual(nginx.map((e: any) => e.event.dataset), ['nginx.access', 'nginx.error']);
      assert.equal(nginx[0].network.forwarded_ip, '203.0.113.70');
      assert.equal(nginx[1].user.name, 'admin');
      assert.equal((await q('labels.xiangan.source:other')).body.events[0].event.dataset, 'web.access');
      const m = (await api(srv, '/metrics')).body as string;
      assert.equal(metric(m, 'xiangan_parse_failures_total', { source: 'nginx' }), 0, 'header-less lines a parser read are no failures');
    } finally {
      await srv.stop();
    }
  });
});

describe('back-pressure with a tiny buffer', () => {
  let dir: string;
  let srv: RunningServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xa-bp-'));
    srv = await startServer(cfgFor(dir, { buffer: { maxEvents: 50, groupCommitMs: 1 } }), { logger: silent });
  });
  after(async () => {
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('full buffer: HTTP answers 429, UDP drops are counted, TCP pauses and loses nothing', async (t) => {
    // Stop the consumer (as a stalled store would) and fill the buffer to its bound.
    await srv.runtime.consumer.stop();
    const fill = Array.from({ length: 50 }, (_, i) => JSON.stringify({ '@timestamp': '2026-11-28T02:00:00Z', message: `fill ${i}` })).join('\n');
    assert.equal((await api(srv, '/api/v1/ingest', { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: fill })).status, 200);
    assert.equal(srv.runtime.buffer.full, true);

    const r = await api(srv, '/api/v1/ingest', { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: '{"message":"one more"}' });
    assert.equal(r.status, 429);
    assert.equal(r.body.code, 'SOC_ERR_BACKPRESSURE');
    assert.equal(r.headers.get('retry-after'), '1');

    const udp = String(portOf(srv, 'syslog-udp'));
    for (let i = 0; i < 5; i++) execFileSync('logger', ['-n', '127.0.0.1', '-P', udp, '-d', '-t', 'bp', `udp while full ${i}`]);
    await waitFor(async () => metric((await api(srv, '/metrics')).body, 'xiangan_events_dropped_total', { source: 'syslog-udp', reason: 'buffer_full' }) === 5, 'udp drops counted');

    // TCP: 200 lines while full. The source pauses and retries; none may be lost.
    const tcpPort = portOf(srv, 'syslog-tcp');
    const sock = net.connect(tcpPort, '127.0.0.1');
    t.after(() => sock.destroy());
    await new Promise((res) => sock.once('connect', res));
    for (let i = 0; i < 200; i++) sock.write(`<13>Nov 28 10:00:00 h tcpbp: tcp while full ${i}\n`);
    try {
      await waitFor(async () => metric((await api(srv, '/metrics')).body, 'xiangan_source_paused', { source: 'syslog-tcp' }) === 1, 'tcp source paused');
      const m = await api(srv, '/metrics');
      assert.equal(metric(m.body, 'xiangan_buffer_full'), 1);
    } finally {
      srv.runtime.consumer.start();
    }
    await waitFor(async () => (await api(srv, '/api/v1/events?q=log.syslog.appname:tcpbp&size=0&last=7d')).body.total === 200, 'all 200 tcp lines stored', 30_000);
    sock.end();
    const after = await api(srv, '/api/v1/ingest', { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: '{"message":"room again"}' });
    assert.equal(after.status, 200);
  });
});
