import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, appendFileSync, renameSync, truncateSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSource } from '../src/pipeline.js';
import { MemorySink } from '../src/sources/memory-sink.js';
import { JsonFileCheckpointStore, MemoryCheckpointStore } from '../src/sources/checkpoint.js';
import { expandGlobs } from '../src/sources/file.js';
import { CollectorError } from '../src/errors.js';
import { normalise } from '../src/parsers/index.js';

const dir = mkdtempSync(join(tmpdir(), 'xa-tail-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const lines = (prefix: string, from: number, to: number): string => {
  let s = '';
  for (let i = from; i < to; i++) s += `Nov 29 10:00:00 web01 app[1]: ${prefix} ${i}\n`;
  return s;
};
const originals = (sink: MemorySink): string[] => sink.events.map((e) => e.event.original!);
const expected = (prefix: string, from: number, to: number): string[] => lines(prefix, from, to).split('\n').filter((l) => l !== '');

describe('file tailing', () => {
  test('write, append, rotate by rename, truncate, restart from the checkpoint: nothing lost or duplicated', { timeout: 60_000 }, async () => {
    const d = join(dir, 'rot');
    rmSync(d, { recursive: true, force: true });
    (await import('node:fs')).mkdirSync(d);
    const log = join(d, 'app.log');
    const cpPath = join(d, 'checkpoints.json');
    writeFileSync(log, lines('a', 0, 100));
    const sink = new MemorySink();
    const cfg = { id: 'tail', type: 'file' as const, paths: [join(d, '*.log')], pollIntervalMs: 50 };
    let src = await startSource(cfg, { sink, checkpoints: await JsonFileCheckpointStore.open(cpPath) });
    await sink.waitFor(100);

    appendFileSync(log, lines('b', 0, 50) + 'partial without newline');
    await sink.waitFor(150);
    assert.ok(!originals(sink).some((o) => o.includes('partial')), 'an incomplete line waits for its LF');
    appendFileSync(log, ' now complete\n');
    await sink.waitFor(151);
    assert.ok(originals(sink).some((o) => o === 'partial without newline now complete'));

    // Rotation by rename; the old writer still appends to the renamed file for a moment.
    renameSync(log, join(d, 'app.log.1'));
    appendFileSync(join(d, 'app.log.1'), lines('late', 0, 10));
    writeFileSync(log, lines('c', 0, 40));
    await sink.waitFor(201);
    // The renamed file is drained, then retired once it stays quiet.
    while (src.metrics.fileRotations < 1) await new Promise((r) => setTimeout(r, 20));

    // Rotation by truncate (copytruncate).
    truncateSync(log, 0);
    appendFileSync(log, lines('d', 0, 5));
    await sink.waitFor(206);

    await src.stop();
    appendFileSync(log, lines('e', 0, 30));
    src = await startSource(cfg, { sink, checkpoints: await JsonFileCheckpointStore.open(cpPath) });
    await sink.waitFor(236);
    await src.stop();

    const want = [
      ...expected('a', 0, 100),
      ...expected('b', 0, 50),
      'partial without newline now complete',
      ...expected('late', 0, 10),
      ...expected('c', 0, 40),
      ...expected('d', 0, 5),
      ...expected('e', 0, 30),
    ];
    assert.deepEqual([...originals(sink)].sort(), [...want].sort());
    assert.equal(sink.duplicates, 0, 'the restart did not re-read acknowledged lines');
    const cp = JSON.parse(readFileSync(cpPath, 'utf8')) as Record<string, { path: string; offset: number }>;
    assert.deepEqual(Object.values(cp).map((c) => c.path), [log], 'the rotated-away file was drained and forgotten');
    assert.equal(Object.values(cp)[0]!.offset, Buffer.byteLength(lines('d', 0, 5) + lines('e', 0, 30)));
  });

  test('offsets are committed only after the sink acknowledged (at-least-once)', { timeout: 60_000 }, async () => {
    const log = join(dir, 'ack.log');
    writeFileSync(log, lines('x', 0, 20));
    const store = new MemoryCheckpointStore();
    const blocked = new MemorySink();
    blocked.blocked = true;
    const cfg = { id: 'ack', type: 'file' as const, paths: [log], pollIntervalMs: 50 };
    const startP = startSource(cfg, { sink: blocked, checkpoints: store });
    // The first poll waits on the full sink; meanwhile no offset may be committed.
    const src1 = await Promise.race([startP, new Promise<undefined>((r) => setTimeout(() => r(undefined), 300))]);
    assert.equal(src1, undefined, 'start is held while the sink is full');
    assert.deepEqual(await store.list('ack|'), [], 'nothing committed');
    blocked.blocked = false;
    const s = await startP;
    await blocked.waitFor(20);
    await s.stop();
    const cps = await store.list('ack|');
    assert.equal(cps.length, 1);
    assert.equal(cps[0]![1].offset, Buffer.byteLength(lines('x', 0, 20)));
    // A fresh sink and the same checkpoint: nothing is re-sent.
    const sink2 = new MemorySink();
    appendFileSync(log, lines('y', 0, 3));
    const s2 = await startSource(cfg, { sink: sink2, checkpoints: store });
    await sink2.waitFor(3);
    await s2.stop();
    assert.deepEqual(originals(sink2), expected('y', 0, 3));
  });

  test('line ids are stable across re-reads (dedupe after a crash)', { timeout: 60_000 }, async () => {
    const log = join(dir, 'ids.log');
    writeFileSync(log, lines('i', 0, 5));
    const a = new MemorySink();
    const b = new MemorySink();
    const cfg = { id: 'ids', type: 'file' as const, paths: [log], pollIntervalMs: 50, watch: false };
    const s1 = await startSource(cfg, { sink: a, checkpoints: new MemoryCheckpointStore() });
    await a.waitFor(5);
    await s1.stop();
    const s2 = await startSource(cfg, { sink: b, checkpoints: new MemoryCheckpointStore() });
    await b.waitFor(5);
    await s2.stop();
    assert.deepEqual(a.events.map((e) => e.id), b.events.map((e) => e.id));
    assert.equal(new Set(a.events.map((e) => e.id)).size, 5);
    assert.equal(a.events[1]!.log?.offset, Buffer.byteLength(lines('i', 0, 1)));
  });

  test('an over-long line is cut and counted, GBK lines decode, the next line is intact', { timeout: 60_000 }, async () => {
    const log = join(dir, 'long.log');
    const iconv = (await import('iconv-lite')).default;
    writeFileSync(log, Buffer.concat([Buffer.from('L'.repeat(300_000) + '\n'), iconv.encode('设备 fw01 告警\n', 'gbk'), Buffer.from('after\n')]));
    const sink = new MemorySink();
    const src = await startSource({ id: 'long', type: 'file', paths: [log], maxMessageSize: 1000, charset: 'gbk', pollIntervalMs: 50 }, { sink, checkpoints: new MemoryCheckpointStore() });
    await sink.waitFor(3);
    await src.stop();
    assert.equal(sink.events[0]!.event.original, 'L'.repeat(1000));
    assert.ok(sink.events[0]!.tags?.includes('_truncated'));
    assert.equal(sink.events[1]!.event.original, '设备 fw01 告警');
    assert.equal(sink.events[2]!.event.original, 'after');
    assert.equal(sink.events[2]!.log?.offset, 300_001 + iconv.encode('设备 fw01 告警\n', 'gbk').length);
    assert.equal(src.metrics.truncations, 1);
  });

  test('a format hint names the parser of a file: nginx access and error lines as nginx, a foreign line kept with the reason', { timeout: 60_000 }, async () => {
    const log = join(dir, 'nginx.log');
    writeFileSync(
      log,
      [
        '10.0.0.5 - - [29/Nov/2026:08:04:00 +0800] "GET / HTTP/1.1" 200 5 "-" "curl/8" "203.0.113.70"',
        '2026/11/29 08:04:03 [error] 12#12: *5 access forbidden by rule, client: 203.0.113.72, server: a.cn, request: "GET /admin HTTP/1.1", host: "a.cn"',
        'Failed password for root from 203.0.113.9 port 22 ssh2',
        '',
      ].join('\n'),
    );
    const run = async (format?: 'nginx') => {
      const sink = new MemorySink();
      // The hint brings the vendor normaliser; without it, the source gets the one its host gives.
      const src = await startSource({ id: 'web', type: 'file', paths: [log], pollIntervalMs: 50, ...(format ? { format } : {}) }, { sink, checkpoints: new MemoryCheckpointStore(), ...(format ? {} : { normalise }) });
      await sink.waitFor(3);
      await src.stop();
      return { events: sink.events, failures: src.metrics.parseFailures };
    };
    const hinted = await run('nginx');
    assert.deepEqual(hinted.events.map((e) => e.event.dataset), ['nginx.access', 'nginx.error', 'syslog.unparsed']);
    assert.equal(hinted.events[0]!.network?.forwarded_ip, '203.0.113.70');
    assert.equal(hinted.events[1]!.source?.ip, '203.0.113.72');
    assert.equal((hinted.events[2]!.error as { message?: string } | undefined)?.message, 'not a nginx line');
    assert.ok(hinted.events[2]!.tags?.includes('unparsed'));
    assert.equal(hinted.failures, 1);
    // Detected per line without the hint: the access line's server is not named, the sshd text is not nginx's.
    const auto = await run();
    assert.deepEqual(auto.events.map((e) => e.event.dataset), ['web.access', 'nginx.error', 'syslog.unparsed']);
    await assert.rejects(startSource({ id: 'bad', type: 'file', paths: [log], format: 'nginxx' as 'nginx' }, { sink: new MemorySink(), checkpoints: new MemoryCheckpointStore() }), (e: Error) => e instanceof RangeError && /unknown format nginxx/.test(e.message));
  });

  test('a file truncated and regrown past the old offset is read again from the start, live and across a restart', { timeout: 60_000 }, async () => {
    const { FileSource } = await import('../src/sources/file.js');
    const { createProcessor } = await import('../src/syslog/processor.js');
    const { newSourceMetrics } = await import('../src/sources/common.js');
    const log = join(dir, 'regrow.log');
    writeFileSync(log, lines('a', 0, 3));
    const sink = new MemorySink();
    const store = new MemoryCheckpointStore();
    const mk = () => {
      const metrics = newSourceMetrics('regrow');
      const process = createProcessor({ charset: 'auto', timezone: 'Asia/Shanghai', metrics });
      // No timer, no watch: polls happen only when the test asks, so the regrow lands between two polls.
      return new FileSource({ sourceId: 'regrow', paths: [log], sink, process, timezone: 'Asia/Shanghai', checkpoints: store, metrics, pollIntervalMs: 3_600_000, watch: false });
    };
    let src = mk();
    await src.start();
    assert.equal(sink.events.length, 3);
    writeFileSync(log, lines('bb', 0, 10)); // same inode, truncated and rewritten, longer than before
    await src.poll();
    assert.deepEqual(originals(sink).slice(3), expected('bb', 0, 10));
    assert.equal(src.metrics.fileTruncations, 1);
    await src.stop();
    writeFileSync(log, lines('ccc', 0, 12)); // replaced again while the tailer is down
    src = mk();
    await src.start();
    await src.stop();
    assert.deepEqual(originals(sink).slice(13), expected('ccc', 0, 12));
  });

  test('a checkpoint write that fails (its directory vanished) is logged with its code; lines still flow and the next commit lands', { timeout: 60_000 }, async () => {
    const fs = await import('node:fs');
    const log = join(dir, 'cpfail.log');
    const cpDir = join(dir, 'cpfail-state');
    fs.mkdirSync(cpDir, { recursive: true });
    writeFileSync(log, lines('p', 0, 2));
    const codes: string[] = [];
    const rec = (o: object): void => {
      const c = (o as { errorCode?: string }).errorCode;
      if (c !== undefined) codes.push(c);
    };
    const sink = new MemorySink();
    const store = await JsonFileCheckpointStore.open(join(cpDir, 'cp.json'));
    const src = await startSource({ id: 'cpf', type: 'file', paths: [log], pollIntervalMs: 30 }, { sink, checkpoints: store, logger: { debug: rec, info: rec, warn: rec, error: rec } });
    await sink.waitFor(2);
    rmSync(cpDir, { recursive: true, force: true });
    appendFileSync(log, lines('p', 2, 4));
    await sink.waitFor(4);
    while (!codes.includes('COL_ERR_CHECKPOINT')) await new Promise((r) => setTimeout(r, 10));
    fs.mkdirSync(cpDir);
    appendFileSync(log, lines('p', 4, 5));
    await sink.waitFor(5);
    while (!fs.existsSync(join(cpDir, 'cp.json'))) await new Promise((r) => setTimeout(r, 10));
    await src.stop();
    const cp = Object.values(JSON.parse(readFileSync(join(cpDir, 'cp.json'), 'utf8')) as Record<string, { offset: number }>);
    assert.equal(cp[0]!.offset, Buffer.byteLength(lines('p', 0, 5)));
    assert.deepEqual(originals(sink), expected('p', 0, 5));
  });

  test('globs, and a corrupt checkpoint file is a typed error', { timeout: 60_000 }, async () => {
    writeFileSync(join(dir, 'g1.txt'), '');
    writeFileSync(join(dir, 'g2.txt'), '');
    writeFileSync(join(dir, 'g3.txt.gz'), '');
    assert.deepEqual(await expandGlobs([join(dir, 'g?.txt')]), [join(dir, 'g1.txt'), join(dir, 'g2.txt')]);
    assert.deepEqual(await expandGlobs([join(dir, 'g*')]), [join(dir, 'g1.txt'), join(dir, 'g2.txt')], 'compressed rotations skipped');
    assert.deepEqual(await expandGlobs([join(dir, 'nope', '*.log')]), []);
    writeFileSync(join(dir, 'bad.json'), '{not json');
    await assert.rejects(JsonFileCheckpointStore.open(join(dir, 'bad.json')), (e: unknown) => e instanceof CollectorError && e.code === 'COL_ERR_CHECKPOINT');
  });
});

describe('file tailing across kill -9', () => {
  test('a tailer killed mid-stream and restarted stores every line exactly once (after id dedupe)', { timeout: 60_000 }, async () => {
    const { spawn } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const d = join(dir, 'crash');
    (await import('node:fs')).mkdirSync(d, { recursive: true });
    const log = join(d, 'app.log');
    const out = join(d, 'stored.ndjson');
    const dist = fileURLToPath(new URL('../src/', import.meta.url));
    // The child tails with JSON checkpoints into a durable sink: one fsync'd NDJSON append per batch.
    const child = `
      import { appendFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
      const { startSource } = await import(${JSON.stringify(join(dist, 'pipeline.js'))});
      const { JsonFileCheckpointStore } = await import(${JSON.stringify(join(dist, 'sources/checkpoint.js'))});
      const sink = { full: false, async append(evs) {
        appendFileSync(${JSON.stringify(out)}, evs.map((e) => JSON.stringify({ id: e.id, o: e.event.original }) + '\\n').join(''));
        const fd = openSync(${JSON.stringify(out)}, 'r'); fsyncSync(fd); closeSync(fd);
      } };
      await startSource({ id: 'crash', type: 'file', paths: [${JSON.stringify(log)}], pollIntervalMs: 20 },
        { sink, checkpoints: await JsonFileCheckpointStore.open(${JSON.stringify(join(d, 'cp.json'))}) });
      process.send?.('up');
    `;
    const startChild = () => spawn(process.execPath, ['--input-type=module', '-e', child], { stdio: ['ignore', 'ignore', 'inherit'] });
    const stored = (): Array<{ id: string; o: string }> => {
      try {
        return readFileSync(out, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { id: string; o: string });
      } catch {
        return [];
      }
    };
    const total = 20_000;
    writeFileSync(log, '');
    let c = startChild();
    // Feed lines while the child runs, and kill it -9 once part of them is stored.
    for (let i = 0; i < total / 2; i += 500) appendFileSync(log, lines('k', i, i + 500));
    while (stored().length < 2000) await new Promise((r) => setTimeout(r, 10));
    c.kill('SIGKILL');
    await new Promise((r) => c.once('exit', r));
    appendFileSync(log, lines('k', total / 2, total));
    c = startChild();
    while (new Set(stored().map((s) => s.id)).size < total) await new Promise((r) => setTimeout(r, 20));
    c.kill('SIGKILL');
    await new Promise((r) => c.once('exit', r));
    const rows = stored();
    const byId = new Map<string, string>();
    for (const r of rows) {
      const prev = byId.get(r.id);
      assert.ok(prev === undefined || prev === r.o, 'a re-read line carries the same id');
      byId.set(r.id, r.o);
    }
    assert.deepEqual([...byId.values()].sort(), expected('k', 0, total).sort(), 'every line once, none lost');
  });
});
