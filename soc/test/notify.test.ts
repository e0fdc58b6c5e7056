// Notifications to real receivers on loopback: a webhook whose HMAC-SM3 signature the openssl
// CLI checks, DingTalk and Feishu robots whose signatures the receiver checks with node:crypto
// as those services do, WeCom, e-mail through Postfix's smtp-sink, CEF over UDP and TCP syslog;
// routes by severity and tags; per-channel rate limits; the outbox surviving a restart and
// retrying with exponential back-off.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createSocket } from 'node:dgram';
import net from 'node:net';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RuleMatch } from '@xiangan/rules';
import { openSqliteAlertStore, type SqliteAlertStore } from '../src/alerts/sqlite.js';
import type { Alert, AlertCandidate } from '../src/alerts/types.js';
import { Notifier } from '../src/notify/notifier.js';
import type { ChannelConfig, NotifyConfig } from '../src/notify/config.js';

interface Received {
  path: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let base = '';
const received: Received[] = [];
/** Path → how many more requests answer 500. */
const failures = new Map<string, number>();

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const left = failures.get(url.pathname) ?? 0;
      if (left > 0) {
        failures.set(url.pathname, left - 1);
        res.writeHead(500).end('try later');
        return;
      }
      received.push({ path: url.pathname, url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json' }).end(url.pathname === '/ding-bad' ? '{"errcode":310000,"errmsg":"sign not match"}' : '{"errcode":0,"code":0}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});

after(() => new Promise<void>((r) => server.close(() => r())));

function cand(ruleId: string, level: RuleMatch['level'], tags: string[], n = 0): AlertCandidate {
  const match: RuleMatch = { ruleId, title: `测试规则 ${ruleId}`, level, tags, kind: 'detection', alert: true, eventIds: [`ev-${ruleId}-${n}`], time: `2026-11-30T02:00:0${n}.000Z` };
  const group = { 'source.ip': '203.0.113.5', 'user.name': 'root', 'host.name': 'web1' };
  return { match, groupKey: `${ruleId}-${n}`, group, field: (f) => (group[f as keyof typeof group] ? [group[f as keyof typeof group]] : []) };
}

const RETRY = { baseMs: 1000, maxMs: 60_000, maxAttempts: 5 };

async function setup(channels: ChannelConfig[], routes: NotifyConfig['routes'], clock: { t: number }, dir = mkdtempSync(join(tmpdir(), 'xiangan-notify-'))) {
  const alerts = await openSqliteAlertStore({ dir, now: () => clock.t });
  const notifier = new Notifier({ db: alerts.db, config: { channels, routes, retry: RETRY }, now: () => clock.t });
  const raise = async (cs: AlertCandidate[]): Promise<Alert[]> => (await alerts.record(cs, { onCreated: (a) => notifier.enqueue(a) })).created;
  return { dir, alerts, notifier, raise };
}

function ch<T extends ChannelConfig['type']>(type: T, extra: Record<string, unknown>): ChannelConfig {
  return { id: type, type, ratePerMinute: 60, timeoutMs: 5000, ...extra } as ChannelConfig;
}

describe('HTTP channels', () => {
  test('webhook: JSON body signed with HMAC-SM3 over timestamp.body (checked by openssl)', async () => {
    received.length = 0;
    const clock = { t: Date.parse('2026-11-30T03:00:00Z') };
    const { alerts, notifier, raise, dir } = await setup([ch('webhook', { url: `${base}/hook`, secret: 'webhook-secret-key' })], [{ channels: ['webhook'], minSeverity: 'medium' }], clock);
    try {
      const [a] = await raise([cand('r-high', 'high', ['attack.t1110']), cand('r-low', 'low', [])]);
      assert.equal(await notifier.runOnce(), 1, 'the low alert is below the route');
      const r = received.find((x) => x.path === '/hook')!;
      assert.equal(JSON.parse(r.body).alert.id, a!.id);
      const ts = String(r.headers['x-xiangan-timestamp']);
      assert.equal(ts, String(clock.t));
      const file = join(dir, 'signed.txt');
      writeFileSync(file, `${ts}.${r.body}`);
      const mac = execFileSync('openssl', ['mac', '-digest', 'SM3', '-macopt', 'key:webhook-secret-key', '-in', file, 'HMAC']).toString().trim().toLowerCase();
      assert.equal(r.headers['x-xiangan-signature'], `sm3=${mac}`);
    } finally {
      await notifier.stop();
      await alerts.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('DingTalk signed URL, Feishu signed body, WeCom; tag routes', async () => {
    received.length = 0;
    const clock = { t: Date.parse('2026-11-30T03:00:00Z') };
    const channels = [
      ch('dingtalk', { url: `${base}/ding?access_token=abc`, secret: 'SECding' }),
      ch('feishu', { url: `${base}/feishu`, secret: 'feishu-secret' }),
      ch('wecom', { url: `${base}/wecom?key=k1` }),
    ];
    const { alerts, notifier, raise, dir } = await setup(channels, [{ channels: ['dingtalk', 'feishu'], minSeverity: 'informational', tags: ['attack.credential'] }, { channels: ['wecom'], minSeverity: 'critical' }], clock);
    try {
      await raise([cand('brute', 'high', ['attack.credential_access', 'attack.t1110']), cand('other', 'high', ['attack.discovery'])]);
      assert.equal(await notifier.runOnce(), 2);
      const ding = received.find((x) => x.path === '/ding')!;
      const ts = ding.url.searchParams.get('timestamp')!;
      assert.equal(ts, String(clock.t));
      // DingTalk: base64(HmacSHA256(secret, timestamp + "\n" + secret)).
      assert.equal(ding.url.searchParams.get('sign'), createHmac('sha256', 'SECding').update(`${ts}\nSECding`).digest('base64'));
      assert.equal(ding.url.searchParams.get('access_token'), 'abc');
      assert.match(JSON.parse(ding.body).text.content, /湘安告警/);
      const fs = JSON.parse(received.find((x) => x.path === '/feishu')!.body);
      // Feishu: base64(HmacSHA256(key = timestamp + "\n" + secret, message = "")), timestamp in seconds.
      assert.equal(fs.timestamp, String(clock.t / 1000));
      assert.equal(fs.sign, createHmac('sha256', `${fs.timestamp}\nfeishu-secret`).digest('base64'));
      assert.equal(fs.msg_type, 'text');
      assert.equal(received.filter((x) => x.path === '/wecom').length, 0, 'no critical alert');
      await raise([cand('crit', 'critical', [])]);
      await notifier.runOnce();
      assert.equal(JSON.parse(received.find((x) => x.path === '/wecom')!.body).msgtype, 'text');
    } finally {
      await notifier.stop();
      await alerts.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a robot answering HTTP 200 with an error code is a failure and is retried', async () => {
    const clock = { t: Date.parse('2026-11-30T03:00:00Z') };
    const { alerts, notifier, raise, dir } = await setup([ch('dingtalk', { url: `${base}/ding-bad`, secret: 's' })], [{ channels: ['dingtalk'], minSeverity: 'low' }], clock);
    try {
      await raise([cand('x', 'high', [])]);
      await notifier.runOnce();
      const [e] = await notifier.entries();
      assert.equal(e?.status, 'pending');
      assert.equal(e?.attempts, 1);
      assert.match(e?.lastError ?? '', /310000/);
    } finally {
      await alerts.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('outbox', () => {
  test('retries with exponential back-off and survives a restart', async () => {
    received.length = 0;
    failures.set('/flaky', 3);
    const clock = { t: Date.parse('2026-11-30T03:00:00Z') };
    const channels = [ch('webhook', { url: `${base}/flaky` })];
    const routes: NotifyConfig['routes'] = [{ channels: ['webhook'], minSeverity: 'low' }];
    const first = await setup(channels, routes, clock);
    const dir = first.dir;
    try {
      await first.raise([cand('flaky', 'high', [])]);
      const t0 = clock.t;
      await first.notifier.runOnce();
      assert.deepEqual((await first.notifier.entries()).map((e) => [e.status, e.attempts, e.nextAt - t0]), [['pending', 1, 1000]]);
      assert.equal(await first.notifier.runOnce(), 0, 'not due yet');
      clock.t += 1000;
      await first.notifier.runOnce();
      assert.deepEqual((await first.notifier.entries()).map((e) => [e.attempts, e.nextAt - clock.t]), [[2, 2000]]);
      await first.alerts.close();

      // A new process: the pending entry is still there and keeps its schedule.
      const second = await setup(channels, routes, clock, dir);
      clock.t += 2000;
      await second.notifier.runOnce();
      assert.deepEqual((await second.notifier.entries()).map((e) => [e.attempts, e.nextAt - clock.t]), [[3, 4000]]);
      clock.t += 4000;
      await second.notifier.runOnce();
      const [e] = await second.notifier.entries();
      assert.equal(e?.status, 'sent');
      assert.equal(e?.attempts, 4);
      assert.equal(received.filter((x) => x.path === '/flaky').length, 1);
      // A week later the delivered entry is pruned.
      clock.t += 7 * 86_400_000 + 1;
      await second.notifier.runOnce();
      assert.deepEqual(await second.notifier.entries(), []);
      await second.alerts.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('after maxAttempts an entry is dead, kept and counted', async () => {
    failures.set('/down', 100);
    const clock = { t: Date.parse('2026-11-30T03:00:00Z') };
    const { alerts, notifier, raise, dir } = await setup([ch('webhook', { url: `${base}/down` })], [{ channels: ['webhook'], minSeverity: 'low' }], clock);
    try {
      await raise([cand('down', 'high', [])]);
      for (let i = 0; i < RETRY.maxAttempts; i++) {
        await notifier.runOnce();
        clock.t += RETRY.maxMs;
      }
      const [e] = await notifier.entries();
      assert.equal(e?.status, 'dead');
      assert.equal(e?.attempts, RETRY.maxAttempts);
      assert.equal(notifier.stats().dead, 1);
      assert.equal(await notifier.runOnce(), 0);
    } finally {
      failures.delete('/down');
      await alerts.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('per-channel rate limit postpones, never drops', async () => {
    received.length = 0;
    const clock = { t: Date.parse('2026-11-30T03:00:00Z') };
    const { alerts, notifier, raise, dir } = await setup([{ ...ch('webhook', { url: `${base}/rate` }), ratePerMinute: 2 } as ChannelConfig], [{ channels: ['webhook'], minSeverity: 'low' }], clock);
    try {
      await raise([cand('a', 'high', [], 1), cand('b', 'high', [], 2), cand('c', 'high', [], 3)]);
      assert.equal(await notifier.runOnce(), 2);
      assert.equal(notifier.stats().rateLimited, 1);
      assert.equal(received.filter((x) => x.path === '/rate').length, 2);
      clock.t += 30_000;
      assert.equal(await notifier.runOnce(), 1);
      assert.equal(received.filter((x) => x.path === '/rate').length, 3);
    } finally {
      await alerts.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('e-mail and syslog', () => {
  let sink: ChildProcess | undefined;
  let sinkDir = '';
  let sinkPort = 0;

  before(async () => {
    sinkDir = mkdtempSync(join(tmpdir(), 'xiangan-smtp-'));
    chmodSync(sinkDir, 0o777);
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    sinkPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    // smtp-sink (Postfix) drops root privileges to nobody after binding; it dumps each message to a file.
    sink = spawn('smtp-sink', ['-u', 'nobody', '-d', join(sinkDir, 'msg.'), `127.0.0.1:${sinkPort}`, '10'], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((r) => {
        const s = net.connect(sinkPort, '127.0.0.1', () => {
          s.destroy();
          r(true);
        });
        s.on('error', () => r(false));
      });
      if (up) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail('smtp-sink did not start');
  });

  after(() => {
    sink?.kill();
    rmSync(sinkDir, { recursive: true, force: true });
  });

  test('e-mail over SMTP reaches a real server', async () => {
    const clock = { t: Date.parse('2026-11-30T03:00:00Z') };
    const { alerts, notifier, raise, dir } = await setup(
      [ch('email', { host: '127.0.0.1', port: sinkPort, secure: false, from: 'soc@xiangan.test', to: ['duty@xiangan.test', 'lead@xiangan.test'] })],
      [{ channels: ['email'], minSeverity: 'high' }],
      clock,
    );
    try {
      const [a] = await raise([cand('mail', 'critical', ['attack.t1110'])]);
      await notifier.runOnce();
      const [sent] = await notifier.entries();
      assert.equal(sent?.status, 'sent', sent?.lastError ?? '');
      let files: string[] = [];
      for (let i = 0; i < 100 && files.length === 0; i++) {
        files = readdirSync(sinkDir);
        if (!files.length) await new Promise((r) => setTimeout(r, 20));
      }
      const msg = readFileSync(join(sinkDir, files[0]!), 'utf8');
      assert.match(msg, /X-Rcpt-Args: <duty@xiangan\.test>/);
      assert.match(msg, /X-Rcpt-Args: <lead@xiangan\.test>/);
      assert.match(msg, /From: soc@xiangan\.test/);
      assert.match(msg, new RegExp(`X-Xiangan-Alert: ${a!.id}`));
    } finally {
      await alerts.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('SMTP server down: the entry stays pending with the error', async () => {
    const clock = { t: Date.parse('2026-11-30T03:00:00Z') };
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const closed = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const { alerts, notifier, raise, dir } = await setup([ch('email', { host: '127.0.0.1', port: closed, secure: false, from: 'a@b.cn', to: ['c@d.cn'] })], [{ channels: ['email'], minSeverity: 'low' }], clock);
    try {
      await raise([cand('mail2', 'high', [])]);
      await notifier.runOnce();
      const [e] = await notifier.entries();
      assert.equal(e?.status, 'pending');
      assert.match(e?.lastError ?? '', /ECONNREFUSED/);
    } finally {
      await alerts.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('CEF over UDP and over TCP (octet-counted) syslog', async () => {
    const udp = createSocket('udp4');
    const udpGot: string[] = [];
    udp.on('message', (m) => udpGot.push(m.toString('utf8')));
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    const tcpGot: string[] = [];
    const tcp = net.createServer((s) => {
      const parts: Buffer[] = [];
      s.on('data', (d: Buffer) => parts.push(d));
      s.on('end', () => tcpGot.push(Buffer.concat(parts).toString('utf8')));
    });
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    const clock = { t: Date.parse('2026-11-30T03:00:00Z') };
    const { alerts, notifier, raise, dir } = await setup(
      [
        { id: 'cef-udp', type: 'syslog', host: '127.0.0.1', port: (udp.address() as net.AddressInfo).port, protocol: 'udp', ratePerMinute: 60, timeoutMs: 5000 },
        { id: 'cef-tcp', type: 'syslog', host: '127.0.0.1', port: (tcp.address() as net.AddressInfo).port, protocol: 'tcp', ratePerMinute: 60, timeoutMs: 5000 },
      ],
      [{ channels: ['cef-udp', 'cef-tcp'], minSeverity: 'low' }],
      clock,
    );
    try {
      const c = cand('rule|with=bars', 'high', ['attack.t1110']);
      const [a] = await raise([c]);
      await notifier.runOnce();
      for (let i = 0; i < 100 && (udpGot.length < 1 || tcpGot.length < 1); i++) await new Promise((r) => setTimeout(r, 20));
      const line = udpGot[0]!;
      // RFC 5424 header, local0 (16) · 8 + error (3) for high.
      assert.match(line, /^<131>1 2026-11-30T03:00:00\.000Z \S+ xiangan - alert - CEF:0\|Xiangan\|SOC\|0\.1\.0\|/);
      const cef = line.slice(line.indexOf('CEF:0|'));
      // Header pipes escaped; '=' needs no escape in the header.
      assert.ok(cef.startsWith('CEF:0|Xiangan|SOC|0.1.0|rule\\|with=bars|测试规则 rule\\|with=bars|8|'), cef);
      assert.match(cef, new RegExp(`cs1=${a!.id}`));
      assert.match(cef, / src=203\.0\.113\.5 suser=root dhost=web1$/);
      const framed = tcpGot[0]!;
      const sp = framed.indexOf(' ');
      assert.equal(Number(framed.slice(0, sp)), Buffer.byteLength(framed.slice(sp + 1)));
      assert.equal(framed.slice(sp + 1), line);
    } finally {
      await alerts.close();
      udp.close();
      tcp.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
