// The real server on an Elasticsearch 8 / OpenSearch 2 backend keeps its alerts on the cluster:
// a syslog line over TCP → stored in the engine → a pack rule fires → the alert, its history,
// comments, suppressions, rule switches and notification outbox live in the engine's indices (no
// alerts.db in the data directory); a signed webhook reaches a real loopback receiver; the alert's
// lifecycle goes through the unchanged API and is published to the live stream; after a restart
// with an EMPTY data directory everything is still there, and nothing is notified twice.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { bytesToHex, hmacSm3, utf8ToBytes } from '@xiangan/crypto';
import { validateConfig } from '../src/config/load.js';
import { startServer, type RunningServer } from '../src/server.js';
import { createLogger } from '../src/logger.js';
import { socBus, type BusMessage } from '../src/bus.js';
import { runCli } from './cli-run.js';
import { deleteIndices, ensureEngine, type EngineKind } from './engine-env.js';

const TOKEN = 'engine-alerts-token-0123456789';
const ROOT_LOGIN = 'efdd0f95-004a-5f65-a0f3-33bc37c13d37';
const AUTH = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

async function waitFor<T>(get: () => Promise<T | undefined> | T | undefined, what: string, ms = 60_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function sendTcp(port: number, line: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(line));
    s.on('close', () => resolve());
    s.on('error', reject);
  });
}


const rootLogin = (ip: string, sec: number): string => `<38>1 2026-11-30T02:00:${String(sec).padStart(2, '0')}.000Z web1 sshd 123 - - Accepted password for root from ${ip} port 52100 ssh2\n`;

for (const kind of ['es', 'os'] as EngineKind[]) {
  const backend = kind === 'es' ? 'elasticsearch' : 'opensearch';
  describe(`server on ${backend}: alerts, lifecycle and notifications live on the cluster`, () => {
    let url: string;
    const prefix = `xe-${randomBytes(4).toString('hex')}`;
    const dirs: string[] = [];
    let hook: Server;
    const got: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
    let srv: RunningServer | undefined;

    const start = async (): Promise<RunningServer> => {
      const dir = mkdtempSync(join(tmpdir(), 'xa-engine-srv-'));
      dirs.push(dir);
      const cfg = validateConfig({
        data: join(dir, 'data'),
        log: { level: 'silent' },
        storage: { backend, engine: { nodes: [url], prefix } },
        api: { port: 0, tokens: [TOKEN] },
        syslog: { host: '127.0.0.1', udpPort: 0, tcpPort: 0 },
        notify: {
          channels: [{ id: 'soc-hook', type: 'webhook', url: `http://127.0.0.1:${(hook.address() as net.AddressInfo).port}/alerts`, secret: 'engine-secret' }],
          routes: [{ channels: ['soc-hook'], minSeverity: 'medium' }],
          pollMs: 100,
        },
      });
      srv = await startServer(cfg, { logger: createLogger({ level: 'silent' }) });
      return srv;
    };
    const api = (path: string, init: RequestInit = {}) => fetch(`http://127.0.0.1:${srv!.api.port}${path}`, { ...init, headers: AUTH });
    const json = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
      const r = await api(path, init);
      assert.equal(r.status, 200, `${path}: ${r.status}`);
      return (await r.json()) as T;
    };

    before(async () => {
      url = await ensureEngine(kind);
      hook = createServer((req, res) => {
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
          got.push({ headers: req.headers, body });
          res.end('ok');
        });
      });
      await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    });

    after(async () => {
      await srv?.stop();
      await new Promise<void>((r) => hook.close(() => r()));
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
      await deleteIndices(url, `${prefix}-*`);
      await fetch(`${url}/_index_template/${prefix}-events`, { method: 'DELETE' });
    });

    test('syslog → engine → alert → webhook; lifecycle, comment, rule switch, suppression through the API; all of it survives a restart', async () => {
      const stream: BusMessage[] = [];
      const unsubscribe = socBus.subscribe((m) => {
        if (m.type === 'alert') stream.push(m);
      });
      try {
        let s = await start();
        const tcp = () => s.runtime.sources.find((x) => x.id === 'syslog-tcp')!.address!.port;
        await sendTcp(tcp(), rootLogin('203.0.113.5', 0));
        await waitFor(() => (got.length > 0 ? true : undefined), 'the webhook');
        const { headers, body } = got[0]!;
        const alert = JSON.parse(body).alert as { id: string; ruleId: string; status: string; group: Record<string, string> };
        assert.equal(alert.ruleId, ROOT_LOGIN);
        assert.equal(alert.group['source.ip'], '203.0.113.5');
        const mac = bytesToHex(hmacSm3(utf8ToBytes('engine-secret'), utf8ToBytes(`${headers['x-xiangan-timestamp']}.${body}`)));
        assert.equal(headers['x-xiangan-signature'], `sm3=${mac}`);

        // The alert is a document of the cluster's alert index, and no SQLite alert store exists.
        const doc = (await (await fetch(`${url}/${prefix}-alerts/_doc/${alert.id}`)).json()) as { found: boolean; _source: { status: string } };
        assert.equal(doc.found, true);
        assert.equal(doc._source.status, 'new');
        assert.equal(existsSync(join(s.runtime.config.data, 'alerts.db')), false, 'no alerts.db on an engine backend');
        // The webhook may come before the detector's batch write has returned (the entry and the
        // alert were already stored), so the stream message is waited for.
        await waitFor(() => (stream.some((m) => (m.data as { id: string }).id === alert.id) ? true : undefined), 'the new alert on the live stream');

        // The API, unchanged: the alert with its event (read back from the engine), then the lifecycle.
        const one = await json<{ alert: { status: string }; events: { message: string }[]; history: { action: string }[] }>(`/api/v1/alerts/${alert.id}`);
        assert.equal(one.events.length, 1);
        assert.match(one.events[0]!.message, /Accepted password for root/);
        assert.deepEqual(one.history.map((h) => h.action), ['created']);
        const acked = await json<{ status: string }>(`/api/v1/alerts/${alert.id}/transition`, { method: 'POST', body: JSON.stringify({ to: 'acknowledged', note: 'looking', actor: 'alice' }) });
        assert.equal(acked.status, 'acknowledged');
        assert.ok(stream.some((m) => (m.data as { id: string; status: string }).id === alert.id && (m.data as { status: string }).status === 'acknowledged'), 'the change went to the live stream');
        const bad = await api(`/api/v1/alerts/${alert.id}/transition`, { method: 'POST', body: JSON.stringify({ to: 'new' }) });
        assert.equal(bad.status, 409);
        assert.equal(((await bad.json()) as { code: string }).code, 'SOC_ERR_ALERT_TRANSITION');
        await json(`/api/v1/alerts/${alert.id}/comments`, { method: 'POST', body: JSON.stringify({ text: '值班员已联系主机负责人', actor: 'alice' }) });
        const list = await json<{ total: number; alerts: { id: string }[] }>('/api/v1/alerts?status=acknowledged');
        assert.deepEqual(list.alerts.map((a) => a.id), [alert.id]);
        assert.equal(list.total, 1);
        const sup = await json<{ id: string }>('/api/v1/suppressions', {
          method: 'POST',
          body: JSON.stringify({ kind: 'exception', ruleId: ROOT_LOGIN, match: { 'source.ip': ['198.51.100.7'] }, reason: 'jump host', actor: 'alice' }),
        });
        await json(`/api/v1/detection/rules/${ROOT_LOGIN}`, { method: 'PUT', body: JSON.stringify({ enabled: false, actor: 'alice' }) });
        const outbox = await waitFor(async () => {
          const o = await json<{ entries: { alertId: string; channel: string; status: string }[] }>('/api/v1/notify/outbox?status=sent');
          return o.entries.length ? o : undefined;
        }, 'the outbox entry marked sent');
        assert.deepEqual(outbox.entries.map((e) => [e.alertId, e.channel]), [[alert.id, 'soc-hook']]);
        await s.stop();
        srv = undefined;

        // A new server with an empty data directory: everything comes from the cluster.
        s = await start();
        const again = await json<{ alert: { status: string }; history: { action: string; to?: string | null }[]; comments: { text: string }[] }>(`/api/v1/alerts/${alert.id}`);
        assert.equal(again.alert.status, 'acknowledged');
        assert.deepEqual(again.history.map((h) => h.action), ['created', 'transition', 'comment']);
        assert.deepEqual(again.comments.map((c) => c.text), ['值班员已联系主机负责人']);
        const rules = await json<{ rules: { id: string; enabled: boolean }[] }>('/api/v1/detection/rules');
        assert.equal(rules.rules.find((r) => r.id === ROOT_LOGIN)?.enabled, false, 'the rule switch persisted');
        await json(`/api/v1/detection/rules/${ROOT_LOGIN}`, { method: 'PUT', body: JSON.stringify({ enabled: true, actor: 'alice' }) });
        const sups = await json<{ suppressions: { id: string }[] }>('/api/v1/suppressions');
        assert.deepEqual(sups.suppressions.map((x) => x.id), [sup.id]);

        // The exception mutes (and counts) a login from the jump host; another host raises a second alert.
        await sendTcp(tcp(), rootLogin('198.51.100.7', 10));
        await waitFor(async () => ((await json<{ suppressions: { hits: number }[] }>('/api/v1/suppressions')).suppressions[0]!.hits === 1 ? true : undefined), 'the exception hit');
        await sendTcp(tcp(), rootLogin('192.0.2.44', 20));
        await waitFor(() => (got.length > 1 ? true : undefined), 'the second webhook');
        assert.equal(JSON.parse(got[1]!.body).alert.group['source.ip'], '192.0.2.44');
        const all = await json<{ entries: { alertId: string; status: string }[] }>('/api/v1/notify/outbox');
        assert.equal(all.entries.length, 2, 'one entry per alert and channel, the first not re-sent after the restart');
        assert.deepEqual(new Set(got.map((g) => JSON.parse(g.body).alert.id)).size, 2);

        // `xiangan alerts --config FILE` reads and changes the same alerts on the cluster.
        const cfgDir = dirs[dirs.length - 1]!;
        const cfgFile = join(cfgDir, 'xiangan.yaml');
        writeFileSync(cfgFile, `data: ${join(cfgDir, 'data')}\nstorage:\n  backend: ${backend}\n  engine:\n    nodes: ['${url}']\n    prefix: ${prefix}\n`);
        const listed = await runCli(['alerts', 'list', '--status', 'acknowledged', '--config', cfgFile, '--json'], cfgDir);
        assert.equal(listed.code, 0, listed.err);
        assert.deepEqual(listed.out.trim().split('\n').map((l) => JSON.parse(l).id), [alert.id]);
        const resolved = await runCli(['alerts', 'resolve', alert.id, '--config', cfgFile, '--actor', 'bob', '--json'], cfgDir);
        assert.equal(resolved.code, 0, resolved.err);
        assert.equal(JSON.parse(resolved.out).status, 'resolved');
        assert.equal((await json<{ alert: { status: string } }>(`/api/v1/alerts/${alert.id}`)).alert.status, 'resolved', 'the server sees the CLI change');
        const purge = await runCli(['alerts', 'purge', '--config', cfgFile, '--dry-run', '--json'], cfgDir);
        assert.equal(purge.code, 0, purge.err);
        assert.equal(JSON.parse(purge.out).alerts, 0, 'resolved just now: within retention');
      } finally {
        unsubscribe();
      }
    });
  });
}
