// The log commands of the CLI, driven in-process through `main` with real files, a real SQLite
// data directory and a real server for `--api`.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../src/config/load.js';
import { startServer, type RunningServer } from '../src/server.js';
import { createLogger } from '../src/logger.js';
import { runCli } from './cli-run.js';

const cli = runCli;

const SYSLOG = [
  '<38>Nov 28 09:15:01 bastion sshd[811]: Failed password for root from 10.1.2.3 port 40022 ssh2',
  '<38>Nov 28 09:15:04 bastion sshd[811]: Failed password for root from 10.1.2.3 port 40022 ssh2',
  '<38>Nov 28 09:16:00 bastion sshd[812]: Accepted publickey for alice from 192.168.10.5 port 51000 ssh2',
  '<85>Nov 28 09:17:30 bastion sudo:    alice : TTY=pts/1 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx',
  'this line is not syslog at all',
].join('\n');

describe('xiangan search / tail / ingest', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'xa-cli-'));
    writeFileSync(join(dir, 'auth.log'), SYSLOG + '\n');
    writeFileSync(
      join(dir, 'events.ndjson'),
      [
        JSON.stringify({ '@timestamp': '2026-11-28T01:00:00Z', message: 'json one', event: { action: 'cli-json' }, user: { name: 'erin' } }),
        JSON.stringify({ '@timestamp': '2026-11-28T01:00:01Z', message: 'json two', event: { action: 'cli-json' } }),
      ].join('\n') + '\n',
    );
    writeFileSync(
      join(dir, 'evtx.ndjson'),
      JSON.stringify({
        Event: {
          System: { EventID: 4625, Channel: 'Security', Computer: 'DC01', TimeCreated: { '#attributes': { SystemTime: '2026-11-28T01:30:00.000Z' } }, EventRecordID: 77 },
          EventData: { TargetUserName: 'administrator', IpAddress: '10.20.30.40', LogonType: 3, Status: '0xc000006d' },
        },
      }) + '\n',
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('ingest a syslog file; importing it again stores nothing twice', async () => {
    const r = await cli(['ingest', 'auth.log', '--data', 'data'], dir);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /5 lines, 5 events stored, 0 already present, 1 unparsed/);
    const again = await cli(['ingest', 'auth.log', '--data', 'data'], dir);
    assert.match(again.err, /5 lines, 0 events stored, 5 already present/);
  });

  test('search prints one JSON event per line with --json', async () => {
    const r = await cli(['search', 'source.ip:10.1.2.3 AND event.outcome:failure', '--data', 'data', '--json', '--from', '2026-01-01T00:00:00Z'], dir);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    for (const ev of lines) {
      assert.equal(ev.source.ip, '10.1.2.3');
      assert.equal(ev.user.name, 'root');
    }
    const text = await cli(['search', 'user.name:alice', '--data', 'data', '--sort', 'asc'], dir);
    assert.equal(text.out.trim().split('\n').length, 2);
    assert.match(text.err, /2 of 2 events/);
    const unparsed = await cli(['search', '"not syslog at all"', '--data', 'data', '--json'], dir);
    assert.equal(unparsed.out.trim().split('\n').length, 1);
  });

  test('ingest ndjson and evtx-json go through the JSON normaliser', async () => {
    assert.equal((await cli(['ingest', 'events.ndjson', '--format', 'ndjson', '--data', 'data'], dir)).code, 0);
    const r = await cli(['ingest', 'evtx.ndjson', '--format', 'evtx-json', '--data', 'data'], dir);
    assert.equal(r.code, 0, r.err);
    const s = await cli(['search', 'event.action:cli-json', '--data', 'data', '--json'], dir);
    assert.equal(s.out.trim().split('\n').length, 2);
    const w = await cli(['search', 'winlog.event_id:4625 OR event.code:4625', '--data', 'data', '--json'], dir);
    const ev = JSON.parse(w.out.trim().split('\n')[0]!);
    assert.equal(ev.user?.name ?? ev.user?.target?.name, 'administrator');
  });

  test('ingest --parser names the parser of every line of a text file (nginx access and error logs)', async () => {
    writeFileSync(
      join(dir, 'nginx.log'),
      [
        '10.0.0.5 - - [28/Nov/2026:09:00:00 +0800] "GET /login?u=admin\' OR \'1\'=\'1 HTTP/1.1" 200 5 "-" "sqlmap/1.7" "203.0.113.70"',
        '2026/11/28 09:00:01 [error] 12#12: *5 user "admin": password mismatch, client: 203.0.113.72, server: a.cn, request: "GET /admin HTTP/1.1", host: "a.cn"',
      ].join('\n') + '\n',
    );
    const r = await cli(['ingest', 'nginx.log', '--parser', 'nginx', '--data', 'data'], dir);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /2 lines, 2 events stored, 0 already present, 0 unparsed/);
    const s = await cli(['search', 'event.dataset:nginx.access OR event.dataset:nginx.error', '--data', 'data', '--json', '--sort', 'asc', '--from', '2026-01-01T00:00:00Z'], dir);
    const got = s.out.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(got.map((e) => e.event.dataset), ['nginx.access', 'nginx.error']);
    assert.equal(got[0].network.forwarded_ip, '203.0.113.70');
    assert.equal(got[1].user.name, 'admin');
    assert.equal(got[1].event.outcome, 'failure');
    const bad = await cli(['ingest', 'nginx.log', '--parser', 'nginxx', '--data', 'data'], dir);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--parser must be auto or one of sshd/);
    assert.equal((await cli(['ingest', 'events.ndjson', '--format', 'ndjson', '--parser', 'nginx', '--data', 'data'], dir)).code, 2);
  });

  test('usage errors exit 2; a bad query exits 1 with its code', async () => {
    assert.equal((await cli(['search', 'a', 'b', '--data', 'data'], dir)).code, 2);
    assert.equal((await cli(['search', 'x', '--bogus'], dir)).code, 2);
    assert.equal((await cli(['ingest', 'auth.log', '--format', 'csv'], dir)).code, 2);
    assert.equal((await cli(['soc', 'stop'], dir)).code, 2);
    const bad = await cli(['search', 'user.name:(root', '--data', 'data'], dir);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /SOC_ERR_QUERY/);
  });

  describe('against a running server (--api)', () => {
    let srv: RunningServer;
    const token = 'cli-token-0123456789abcdef';
    before(async () => {
      srv = await startServer(
        validateConfig({ data: join(dir, 'srv'), storage: { synchronous: 'normal' }, api: { port: 0, tokens: [token] }, syslog: { enabled: false } }),
        { logger: createLogger({ level: 'silent' }) },
      );
    });
    after(async () => srv.stop());

    test('ingest and search over HTTP with a bearer token from the environment', async () => {
      const url = `http://127.0.0.1:${srv.api.port}`;
      const env = { XIANGAN_TOKEN: token };
      const denied = await cli(['ingest', 'events.ndjson', '--format', 'ndjson', '--api', url], dir);
      assert.equal(denied.code, 1);
      assert.match(denied.err, /SOC_ERR_UNAUTHORIZED/);
      const r = await cli(['ingest', 'events.ndjson', '--format', 'ndjson', '--api', url], dir, env);
      assert.equal(r.code, 0, r.err);
      await srv.runtime.consumer.drain();
      const s = await cli(['search', 'event.action:cli-json', '--api', url, '--json', '--from', '2026-11-01T00:00:00Z'], dir, env);
      assert.equal(s.code, 0, s.err);
      assert.equal(s.out.trim().split('\n').length, 2);
    });

    test('tail follows new events', async () => {
      const url = `http://127.0.0.1:${srv.api.port}`;
      const env = { XIANGAN_TOKEN: token };
      const tail = cli(['tail', 'event.action:tailed', '--api', url, '--json', '--interval', '50', '--max', '3'], dir, env);
      await new Promise((r) => setTimeout(r, 200));
      const now = Date.now();
      const body = [0, 1, 2].map((i) => JSON.stringify({ '@timestamp': new Date(now + i).toISOString(), message: `tailed ${i}`, event: { action: 'tailed' } })).join('\n');
      const res = await fetch(`${url}/api/v1/ingest`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson' }, body });
      assert.equal(res.status, 200);
      const r = await tail;
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(r.out.trim().split('\n').map((l) => JSON.parse(l).message), ['tailed 0', 'tailed 1', 'tailed 2']);
    });
  });
});
