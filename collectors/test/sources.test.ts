import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import dgram from 'node:dgram';
import { startSource, type RunningSource } from '../src/pipeline.js';
import { MemorySink } from '../src/sources/memory-sink.js';
import type { EcsEvent } from '../src/types.js';

function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

const byMsg = (sink: MemorySink, text: string): EcsEvent | undefined => sink.events.find((e) => e.message === text);

describe('syslog sources with util-linux logger', () => {
  const sink = new MemorySink();
  // logger --rfc3164 writes local wall-clock time without a zone: the source must be told the sender's zone.
  const localZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  let udp: RunningSource;
  let tcp: RunningSource;
  before(async () => {
    udp = await startSource({ id: 'udp-test', type: 'udp', host: '127.0.0.1', port: 0, timezone: localZone }, { sink });
    tcp = await startSource({ id: 'tcp-test', type: 'tcp', host: '127.0.0.1', port: 0, timezone: localZone }, { sink });
  });
  after(async () => {
    await udp.stop();
    await tcp.stop();
  });

  for (const [proto, flag] of [['udp', '-d'], ['tcp', '-T']] as const) {
    for (const fmt of ['--rfc3164', '--rfc5424'] as const) {
      test(`logger ${flag} ${fmt}`, { timeout: 60_000 }, async () => {
        const port = (proto === 'udp' ? udp : tcp).address!.port;
        const text = `hello ${proto} ${fmt} 中文 ${Math.random().toString(36).slice(2)}`;
        const before = sink.events.length;
        await run('logger', [flag, fmt, '-n', '127.0.0.1', '-P', String(port), '-t', 'xatest', '-p', 'auth.err', '--', text]);
        await sink.waitFor(before + 1);
        const ev = byMsg(sink, text);
        assert.ok(ev, `event with message ${text}`);
        assert.equal(ev.log?.syslog?.appname, 'xatest');
        assert.deepEqual(ev.log?.syslog?.facility, { code: 4, name: 'auth' });
        assert.deepEqual(ev.log?.syslog?.severity, { code: 3, name: 'err' });
        assert.equal(ev.event.dataset, fmt === '--rfc5424' ? 'syslog.rfc5424' : 'syslog.rfc3164');
        assert.equal(ev.network?.transport, proto);
        assert.match(ev.id, /^[0-9a-f]{32}$/);
        assert.ok(Math.abs(Date.parse(ev['@timestamp']) - Date.now()) < 3_600_000, 'device time read in the right zone and year');
      });
    }
  }

  test('logger --octet-count over TCP', { timeout: 60_000 }, async () => {
    const text = `octet ${Math.random()}`;
    const before = sink.events.length;
    await run('logger', ['-T', '--octet-count', '--rfc5424', '-n', '127.0.0.1', '-P', String(tcp.address!.port), '-t', 'oc', '--msgid', 'M1', '--', text]);
    await sink.waitFor(before + 1);
    const ev = byMsg(sink, text);
    assert.equal(ev?.log?.syslog?.msgid, 'M1');
    assert.equal(tcp.metrics.invalidFrames, 0);
  });
});

describe('back-pressure and limits', () => {
  test('TCP pauses while the sink is full and loses nothing; resumes after', { timeout: 60_000 }, async () => {
    const sink = new MemorySink();
    sink.blocked = true;
    const src = await startSource({ id: 'bp', type: 'tcp', host: '127.0.0.1', port: 0 }, { sink });
    const n = 2000;
    const sock = net.connect(src.address!.port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const payload = Array.from({ length: n }, (_, i) => `<13>Nov 29 10:00:00 h app: line ${i}\n`).join('');
    sock.write(payload);
    // While blocked, the source must pause rather than drop or buffer without bound.
    while (src.metrics.paused !== 1) await new Promise((r) => setTimeout(r, 10));
    assert.equal(sink.events.length, 0);
    sink.blocked = false;
    await sink.waitFor(n, 20_000);
    const seen = new Set(sink.events.map((e) => e.message));
    for (let i = 0; i < n; i++) assert.ok(seen.has(`line ${i}`), `line ${i}`);
    assert.equal(src.metrics.drops.buffer_full + src.metrics.drops.sink_error, 0);
    assert.equal(sink.events.map((e) => e.message).join('|'), Array.from({ length: n }, (_, i) => `line ${i}`).join('|'), 'order kept');
    sock.end();
    await src.stop();
  });

  test('stopping with a full sink ends after the grace period and counts what was not stored', { timeout: 60_000 }, async () => {
    const sink = new MemorySink();
    sink.blocked = true;
    const src = await startSource({ id: 'stop', type: 'tcp', host: '127.0.0.1', port: 0 }, { sink });
    const sock = net.connect(src.address!.port, '127.0.0.1');
    sock.on('error', () => undefined);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write('<13>a\n<13>b\n');
    while (src.metrics.eventsIn < 2) await new Promise((r) => setTimeout(r, 10));
    await src.stop(200);
    assert.equal(sink.events.length, 0);
    assert.equal(src.metrics.drops.source_stopped, 2);
  });

  test('UDP counts drops while the sink is full', { timeout: 60_000 }, async () => {
    const sink = new MemorySink();
    sink.blocked = true;
    const src = await startSource({ id: 'udp-drop', type: 'udp', host: '127.0.0.1', port: 0 }, { sink });
    const c = dgram.createSocket('udp4');
    for (let i = 0; i < 20; i++) await new Promise<void>((r) => c.send(`<13>x ${i}`, src.address!.port, '127.0.0.1', () => r()));
    while (src.metrics.drops.buffer_full < 1) await new Promise((r) => setTimeout(r, 10));
    sink.blocked = false;
    await new Promise<void>((r) => c.send('<13>after', src.address!.port, '127.0.0.1', () => r()));
    await sink.waitFor(1);
    c.close();
    await src.stop();
    assert.equal(sink.events.length + src.metrics.drops.buffer_full, 21, 'every datagram stored or counted');
  });

  test('connection limit and idle timeout', { timeout: 60_000 }, async () => {
    const sink = new MemorySink();
    // The limit on a source whose idle timeout cannot cut the first connection before the second
    // arrives (with one source for both, a loaded machine let the first idle out first: the second
    // was then accepted).
    const src = await startSource({ id: 'lim', type: 'tcp', host: '127.0.0.1', port: 0, maxConnections: 1 }, { sink });
    const a = net.connect(src.address!.port, '127.0.0.1');
    const aClosed = new Promise<void>((r) => a.once('close', () => r()));
    await new Promise<void>((r) => a.once('connect', () => r()));
    while (src.metrics.connectionsOpen < 1) await new Promise((r) => setTimeout(r, 5));
    const b = net.connect(src.address!.port, '127.0.0.1');
    await new Promise<void>((r) => b.once('close', () => r()));
    assert.equal(src.metrics.drops.connection_limit, 1);
    a.destroy();
    await aClosed;
    await src.stop();
    assert.equal(src.metrics.connectionsIdleClosed, 0);
    // The idle timeout, on a source of its own.
    const idle = await startSource({ id: 'idle', type: 'tcp', host: '127.0.0.1', port: 0, idleTimeoutMs: 300 }, { sink });
    const c = net.connect(idle.address!.port, '127.0.0.1');
    await new Promise<void>((r) => c.once('close', () => r()));
    assert.equal(idle.metrics.connectionsIdleClosed, 1);
    assert.equal(idle.metrics.drops.connection_limit, 0);
    await idle.stop();
  });
});

describe('garbage over real sockets', () => {
  test('random bytes on TCP and UDP are stored or counted, and the source keeps serving', { timeout: 60_000 }, async () => {
    const { default: fc } = await import('fast-check');
    const sink = new MemorySink();
    const tcp = await startSource({ id: 'g-tcp', type: 'tcp', host: '127.0.0.1', port: 0, maxMessageSize: 256 }, { sink });
    const udp = await startSource({ id: 'g-udp', type: 'udp', host: '127.0.0.1', port: 0, maxMessageSize: 256 }, { sink });
    const payloads = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 3000 }), { numRuns: 60, seed: 42 });
    const u = dgram.createSocket('udp4');
    for (const p of payloads) {
      const s = net.connect(tcp.address!.port, '127.0.0.1');
      await new Promise<void>((r) => s.once('connect', () => r()));
      await new Promise<void>((r) => s.end(Buffer.from(p), () => r()));
      await new Promise<void>((r) => s.once('close', () => r()));
      await new Promise<void>((r) => u.send(Buffer.from(p.subarray(0, 1400)), udp.address!.port, '127.0.0.1', () => r()));
    }
    u.close();
    const s = net.connect(tcp.address!.port, '127.0.0.1');
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.end('<13>Nov 29 10:00:00 h app: still alive\n');
    while (!sink.events.some((e) => e.message === 'still alive')) await new Promise((r) => setTimeout(r, 10));
    for (const e of sink.events) assert.ok(e.event.original !== undefined && e.id.length === 32);
    assert.equal(tcp.metrics.eventsIn, tcp.metrics.eventsOut);
    await tcp.stop();
    await udp.stop();
  });
});

describe('rsyslog forwarding', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xa-rsyslog-'));
  const children: ChildProcess[] = [];
  after(async () => {
    // rsyslogd writes its state files into the work directory while it shuts down: wait for every
    // daemon to exit before removing it (removing first raced with those writes: ENOTEMPTY).
    await Promise.all(
      children.map((c) =>
        c.exitCode !== null || c.signalCode !== null
          ? undefined
          : new Promise<void>((resolve) => {
              const kill = setTimeout(() => c.kill('SIGKILL'), 10_000);
              c.once('exit', () => {
                clearTimeout(kill);
                resolve();
              });
              c.kill('SIGTERM');
            }),
      ),
    );
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });

  async function rsyslog(name: string, globalExtra: string, action: string, lines: string[]): Promise<void> {
    const work = join(dir, name);
    await run('mkdir', ['-p', work]);
    writeFileSync(join(work, 'in.log'), lines.map((l) => l + '\n').join(''));
    const conf = `global(workDirectory="${work}" ${globalExtra})
module(load="imfile" mode="polling" PollingInterval="1")
input(type="imfile" File="${work}/in.log" Tag="fwd" Facility="local3" Severity="notice" freshStartTail="off")
${action}
`;
    writeFileSync(join(work, 'rsyslog.conf'), conf);
    await run('rsyslogd', ['-N1', '-f', join(work, 'rsyslog.conf')]);
    const child = spawn('rsyslogd', ['-n', '-f', join(work, 'rsyslog.conf'), '-i', join(work, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
  }

  test('over TCP with octet-counted framing', { timeout: 60_000 }, async () => {
    const sink = new MemorySink();
    const src = await startSource({ id: 'rs-tcp', type: 'tcp', host: '127.0.0.1', port: 0 }, { sink });
    const lines = ['first forwarded line', '第二行 中文', 'third [with] "quotes"'];
    await rsyslog('tcp', '', `action(type="omfwd" target="127.0.0.1" port="${src.address!.port}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")`, lines);
    await sink.waitFor(3, 20_000);
    for (const l of lines) {
      const ev = byMsg(sink, l);
      assert.ok(ev, l);
      assert.equal(ev.event.dataset, 'syslog.rfc5424');
      assert.equal(ev.log?.syslog?.appname, 'fwd');
      assert.deepEqual(ev.log?.syslog?.facility, { code: 19, name: 'local3' });
      assert.deepEqual(ev.log?.syslog?.severity, { code: 5, name: 'notice' });
    }
    assert.equal(src.metrics.invalidFrames, 0);
    await src.stop();
  });

  test('over TLS (RFC 5425, gtls) with a verified client certificate', { timeout: 60_000 }, async () => {
    const d = join(dir, 'pki');
    await run('mkdir', ['-p', d]);
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    await run('openssl', ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=Xiangan Test CA', '-days', '2'], d);
    writeFileSync(join(d, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    writeFileSync(join(d, 'client.ext'), 'subjectAltName=DNS:rsyslog-client\nextendedKeyUsage=clientAuth\n');
    for (const who of ['server', 'client']) {
      await run('openssl', ['req', ...ec, '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who === 'server' ? 'localhost' : 'rsyslog-client'}`], d);
      await run('openssl', ['x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.pem`, '-days', '2', '-extfile', `${who}.ext`], d);
    }
    const sink = new MemorySink();
    const tlsOpts = { key: readFileSync(join(d, 'server.key')), cert: readFileSync(join(d, 'server.pem')), ca: readFileSync(join(d, 'ca.pem')), requestClientCert: true };
    const src = await startSource({ id: 'rs-tls', type: 'tls', host: '127.0.0.1', port: 0, tls: tlsOpts }, { sink });

    // A client without a certificate is refused and counted.
    const bad = tls.connect({ port: src.address!.port, host: '127.0.0.1', ca: tlsOpts.ca, servername: 'localhost' });
    bad.on('error', () => undefined);
    bad.write('<13>should not arrive\n');
    await new Promise<void>((r) => bad.once('close', () => r()));
    while (src.metrics.tlsFailures < 1) await new Promise((r) => setTimeout(r, 10));

    const lines = ['tls line one', 'tls 第二行'];
    await rsyslog(
      'tls',
      `DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="${d}/ca.pem" DefaultNetstreamDriverCertFile="${d}/client.pem" DefaultNetstreamDriverKeyFile="${d}/client.key"`,
      `action(type="omfwd" target="127.0.0.1" port="${src.address!.port}" protocol="tcp" StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost" template="RSYSLOG_SyslogProtocol23Format")`,
      lines,
    );
    await sink.waitFor(2, 20_000);
    for (const l of lines) {
      const ev = byMsg(sink, l);
      assert.ok(ev, l);
      assert.equal(ev.network?.transport, 'tcp');
      assert.equal(ev.log?.syslog?.appname, 'fwd');
      assert.deepEqual(ev.tls, { established: true, client: { subject: 'CN=rsyslog-client' } }, 'client certificate verified');
    }
    assert.equal(byMsg(sink, 'should not arrive'), undefined);
    await src.stop();
  });
});

