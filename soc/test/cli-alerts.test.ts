// End to end on loopback: a syslog line over TCP → stored → a pack rule fires → alert stored →
// signed webhook received; then the alert through the API and `xiangan alerts list|ack|resolve`
// against both `--api` and `--data`.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToHex, hmacSm3, utf8ToBytes } from '@xiangan/crypto';
import { validateConfig } from '../src/config/load.js';
import { startServer, type RunningServer } from '../src/server.js';
import { createLogger } from '../src/logger.js';
import { runCli } from './cli-run.js';

const TOKEN = 'alerts-token-0123456789abcdef';
const ROOT_LOGIN = 'efdd0f95-004a-5f65-a0f3-33bc37c13d37';

const cli = runCli;

async function waitFor(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('syslog → alert → webhook, and the alerts CLI', () => {
  let dir: string;
  let hook: Server;
  let srv: RunningServer;
  const got: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xa-e2e-'));
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        got.push({ headers: req.headers, body });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const cfg = validateConfig({
      data: join(dir, 'data'),
      log: { level: 'silent' },
      storage: { synchronous: 'normal' },
      api: { port: 0, tokens: [TOKEN] },
      syslog: { host: '127.0.0.1', udpPort: 0, tcpPort: 0 },
      notify: {
        channels: [{ id: 'soc-hook', type: 'webhook', url: `http://127.0.0.1:${(hook.address() as net.AddressInfo).port}/alerts`, secret: 'e2e-secret' }],
        routes: [{ channels: ['soc-hook'], minSeverity: 'medium' }],
        pollMs: 100,
      },
    });
    srv = await startServer(cfg, { logger: createLogger({ level: 'silent' }) });
  });

  after(async () => {
    await srv?.stop();
    await new Promise<void>((r) => hook.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('a root SSH login over TCP syslog raises an alert and a signed webhook', async () => {
    const port = srv.runtime.sources.find((s) => s.id === 'syslog-tcp')!.address!.port;
    const line = '<38>1 2026-11-30T02:00:00.000Z web1 sshd 123 - - Accepted password for root from 203.0.113.5 port 52100 ssh2\n';
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.end(line));
      s.on('close', () => resolve());
      s.on('error', reject);
    });
    await waitFor(() => got.length > 0, 'the webhook');
    const { headers, body } = got[0]!;
    const alert = JSON.parse(body).alert;
    assert.equal(alert.ruleId, ROOT_LOGIN);
    assert.equal(alert.status, 'new');
    assert.equal(alert.group['source.ip'], '203.0.113.5');
    const mac = bytesToHex(hmacSm3(utf8ToBytes('e2e-secret'), utf8ToBytes(`${headers['x-xiangan-timestamp']}.${body}`)));
    assert.equal(headers['x-xiangan-signature'], `sm3=${mac}`);

    const res = await fetch(`http://127.0.0.1:${srv.api.port}/api/v1/alerts/${alert.id}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    const one = (await res.json()) as { events: { message: string }[]; history: { action: string }[] };
    assert.equal(one.events.length, 1);
    assert.match(one.events[0]!.message, /Accepted password for root/);
    assert.deepEqual(one.history.map((h) => h.action), ['created']);
    const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const rules = (await (await fetch(`http://127.0.0.1:${srv.api.port}/api/v1/detection/rules`, { headers: auth })).json()) as { rules: { id: string; enabled: boolean }[]; rejected: unknown[] };
    assert.ok(rules.rules.length >= 40 && rules.rules.every((r) => r.enabled));
    assert.deepEqual(rules.rejected, []);
    const off = await fetch(`http://127.0.0.1:${srv.api.port}/api/v1/detection/rules/${ROOT_LOGIN}`, { method: 'PUT', headers: auth, body: JSON.stringify({ enabled: false }) });
    assert.deepEqual(await off.json(), { id: ROOT_LOGIN, enabled: false });
    assert.equal((await fetch(`http://127.0.0.1:${srv.api.port}/api/v1/detection/rules/no-such-rule`, { method: 'PUT', headers: auth, body: '{"enabled":false}' })).status, 404);
    await fetch(`http://127.0.0.1:${srv.api.port}/api/v1/detection/rules/${ROOT_LOGIN}`, { method: 'PUT', headers: auth, body: JSON.stringify({ enabled: true }) });
    // The notifier marks the entry sent once the receiver's answer is in: poll briefly.
    let outbox: { entries: { alertId: string; channel: string }[] } = { entries: [] };
    for (let i = 0; i < 200 && outbox.entries.length === 0; i++) {
      outbox = (await (await fetch(`http://127.0.0.1:${srv.api.port}/api/v1/notify/outbox?status=sent`, { headers: auth })).json()) as typeof outbox;
      if (!outbox.entries.length) await new Promise((r) => setTimeout(r, 25));
    }
    assert.deepEqual(outbox.entries.map((e) => [e.alertId, e.channel]), [[alert.id, 'soc-hook']]);
    const metrics = await (await fetch(`http://127.0.0.1:${srv.api.port}/metrics`)).text();
    assert.match(metrics, /xiangan_alerts_total\{result="created"\} 1/);
    assert.match(metrics, /^xiangan_correlation_groups \d+$/m);
    assert.match(metrics, /^xiangan_correlation_evictions_total 0$/m);
  });

  test('xiangan alerts list/ack over --api, resolve over --data; refused moves exit 1', async () => {
    const api = ['--api', `http://127.0.0.1:${srv.api.port}`];
    const env = { XIANGAN_TOKEN: TOKEN, USER: 'duty' };
    const list = await cli(['alerts', 'list', '--status', 'new', '--json', ...api], dir, env);
    assert.equal(list.code, 0, list.err);
    const alerts = list.out.trim().split('\n').map((l) => JSON.parse(l) as { id: string; ruleId: string });
    const id = alerts.find((a) => a.ruleId === ROOT_LOGIN)!.id;

    const early = await cli(['alerts', 'resolve', id, ...api], dir, env);
    assert.equal(early.code, 1);
    assert.match(early.err, /SOC_ERR_ALERT_TRANSITION/);

    const ack = await cli(['alerts', 'ack', id, ...api], dir, env);
    assert.equal(ack.code, 0, ack.err);
    assert.match(ack.out, /acknowledged/);

    const fp = await cli(['alerts', 'resolve', id, '--false-positive', '--actor', 'lead', '--data', 'data'], dir);
    assert.equal(fp.code, 0, fp.err);
    assert.match(fp.out, /false_positive/);

    const h = (await (await fetch(`http://127.0.0.1:${srv.api.port}/api/v1/alerts/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
      history: { actor: string; to: string }[];
    };
    assert.deepEqual(h.history.map((x) => x.to), ['new', 'acknowledged', 'false_positive']);
    // Over the API the actor is the authenticated principal (the server's security layer); over --data it is --actor.
    assert.equal(h.history[0]!.actor, 'detector');
    assert.ok(h.history[1]!.actor.length > 0);
    assert.equal(h.history[2]!.actor, 'lead');

    const text = await cli(['alerts', 'list', '--data', 'data'], dir);
    assert.equal(text.code, 0);
    assert.match(text.out, new RegExp(`^${id}\\s+false_positive`, 'm'));
    assert.equal((await cli(['alerts', 'list', '--status', 'nope', '--data', 'data'], dir)).code, 2);
    assert.equal((await cli(['alerts', 'ack', '--data', 'data'], dir)).code, 2);
    const missing = await cli(['alerts', 'ack', 'no-such-id', '--data', 'data'], dir);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /SOC_ERR_ALERT_NOT_FOUND/);
  });
});

test('a route naming an unknown channel is a configuration error at start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xa-cfg-'));
  try {
    const cfg = validateConfig({
      data: dir,
      log: { level: 'silent' },
      api: { port: 0 },
      syslog: { enabled: false },
      notify: { channels: [{ id: 'a', type: 'wecom', url: 'http://127.0.0.1:9/x' }], routes: [{ channels: ['b'] }] },
    });
    await assert.rejects(startServer(cfg, { logger: createLogger({ level: 'silent' }) }), (e: unknown) => (e as { code?: string }).code === 'SOC_ERR_CONFIG' && /unknown channel b/.test((e as Error).message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
