import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import iconv from 'iconv-lite';
import { startSource } from '../src/pipeline.js';
import { MemorySink } from '../src/sources/memory-sink.js';
import { eventId, eventIds } from '../src/id.js';
import { sm3 } from '@xiangan/crypto';
import type { EcsEvent, Normalise, SourceContext } from '../src/types.js';
import { baselineNormalise } from '../src/syslog/normalise.js';
import { CollectorError } from '../src/errors.js';

async function send(port: number, data: Buffer): Promise<void> {
  const s = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => s.once('connect', () => r()));
  await new Promise<void>((r) => s.end(data, () => r()));
}

describe('pipeline', () => {
  test('a GBK line is stored decoded; an invalid-byte line is kept losslessly', { timeout: 60_000 }, async () => {
    const sink = new MemorySink();
    const src = await startSource({ id: 'cs', type: 'tcp', host: '127.0.0.1', port: 0, charset: 'auto' }, { sink });
    const zh = '管理员 admin 从 10.0.0.5 登录失败';
    const gbk = Buffer.concat([Buffer.from('<38>Nov 29 10:00:00 fw01 login: '), iconv.encode(zh, 'gbk'), Buffer.from('\n')]);
    const badBody = Buffer.from([0x62, 0x61, 0x64, 0x20, 0xff, 0xfe, 0x80, 0x81]);
    const bad = Buffer.concat([Buffer.from('<38>Nov 29 10:00:01 fw01 login: '), badBody, Buffer.from('\n')]);
    await send(src.address!.port, Buffer.concat([gbk, bad]));
    await sink.waitFor(2);
    await src.stop();
    const [a, b] = sink.events;
    assert.equal(a!.message, zh);
    assert.equal(a!.labels?.['xiangan.charset'], 'gb18030');
    assert.equal(b!.tags?.includes('_charset_lossy'), true);
    assert.deepEqual(Buffer.from(b!.labels!['xiangan.original_base64']!, 'base64'), bad.subarray(0, bad.length - 1));
    assert.match(b!.event.original!, /\\xFF/);
    assert.equal(src.metrics.charsetLossy, 1);
  });

  test('the normaliser hook is used; a throwing one falls back to the baseline', { timeout: 60_000 }, async () => {
    const sink = new MemorySink();
    let calls = 0;
    const normalise: Normalise = (m, ctx) => {
      calls++;
      if (m.msg.includes('boom')) throw new Error('vendor parser bug');
      const ev = baselineNormalise(m, ctx);
      ev.event.module = 'custom';
      return ev;
    };
    const src = await startSource({ id: 'hook', type: 'tcp', host: '127.0.0.1', port: 0 }, { sink, normalise });
    await send(src.address!.port, Buffer.from('<13>Nov 29 10:00:00 h a: fine\n<13>Nov 29 10:00:00 h a: boom\n'));
    await sink.waitFor(2);
    await src.stop();
    assert.equal(calls, 2);
    assert.equal(sink.events[0]!.event.module, 'custom');
    assert.ok(sink.events[1]!.tags?.includes('_normalise_error'));
    assert.equal(sink.events[1]!.message, 'boom');
  });

  test('parse failures, truncations and the injected clock reach metrics and events', { timeout: 60_000 }, async () => {
    const sink = new MemorySink();
    const now = () => Date.UTC(2026, 0, 1, 0, 0, 0);
    const codes: string[] = [];
    const rec = (o: object): void => {
      const code = (o as { errorCode?: string }).errorCode;
      if (code !== undefined) codes.push(code);
    };
    const logger = { debug: rec, info: rec, warn: rec, error: rec };
    const src = await startSource({ id: 'm', type: 'tcp', host: '127.0.0.1', port: 0, maxMessageSize: 64 }, { sink, now, logger });
    await send(src.address!.port, Buffer.from(`not syslog at all\n<13>Dec 31 23:59:00 h a: ${'x'.repeat(100)}\n`));
    await sink.waitFor(2);
    await src.stop();
    assert.equal(src.metrics.parseFailures, 1);
    assert.equal(src.metrics.truncations, 1);
    assert.equal(src.metrics.eventsIn, 2);
    assert.equal(src.metrics.eventsOut, 2);
    assert.equal(sink.events[0]!.event.ingested, '2026-01-01T00:00:00.000Z');
    // Dec 31 23:59 in Asia/Shanghai, received Jan 1 08:00 local: the previous year.
    assert.equal(sink.events[1]!['@timestamp'], '2025-12-31T15:59:00.000Z');
    assert.ok(sink.events[1]!.tags?.includes('_truncated'));
    assert.deepEqual(codes.sort(), ['COL_ERR_FRAME_TOO_LARGE', 'COL_ERR_PARSE']);
  });

  test('deferIds: messages carry their connection and sequence, and eventIds derives the documented ids from them', { timeout: 60_000 }, async () => {
    const sink = new MemorySink();
    const got: Array<{ bytes: Buffer; ctx: SourceContext; seq: number | undefined }> = [];
    const processor = () => (bytes: Uint8Array, ctx: SourceContext, seq?: number) => {
      got.push({ bytes: Buffer.from(bytes), ctx: { ...ctx }, seq });
      return { id: `m${got.length}` } as unknown as EcsEvent;
    };
    await assert.rejects(startSource({ id: 'd', type: 'tcp', host: '127.0.0.1', port: 0 }, { sink, deferIds: true }), TypeError, 'the built-in processor would store empty ids');
    const src = await startSource({ id: 'd', type: 'tcp', host: '127.0.0.1', port: 0, maxMessageSize: 64 }, { sink, processor, deferIds: true });
    await send(src.address!.port, Buffer.from(`<13>Nov 29 10:00:00 h a: one\n<13>Nov 29 10:00:00 h a: one\n${'x'.repeat(100)}\n`));
    await sink.waitFor(3);
    await src.stop();
    assert.deepEqual(got.map((g) => g.seq), [0, 1, 2]);
    assert.ok(got.every((g) => g.ctx.eventId === '' && typeof g.ctx.connection === 'string' && g.ctx.connection === got[0]!.ctx.connection));
    assert.deepEqual(got.map((g) => g.ctx.truncated === true), [false, false, true]);
    const ids = eventIds(
      got.map((g) => ({ kind: 'network' as const, sourceId: 'd', peerAddress: g.ctx.peer!.address, peerPort: g.ctx.peer!.port, receivedAt: g.ctx.receivedAt, connection: g.ctx.connection!, seq: g.seq!, bytes: g.bytes })),
    );
    // The documented encoding (module comment of id.ts), hashed here independently.
    const f = (v: string | number): string => `${String(v).length}:${v}`;
    got.forEach((g, i) => {
      const head = [f('network'), f('d'), f(g.ctx.peer!.address), f(g.ctx.peer!.port), f(g.ctx.receivedAt), f(g.ctx.connection!), f(g.seq!), `${g.bytes.length}:`].join('');
      assert.equal(ids[i], Buffer.from(sm3(Buffer.concat([Buffer.from(head), g.bytes]))).subarray(0, 16).toString('hex'));
    });
    assert.notEqual(ids[0], ids[1], 'identical lines differ by sequence');
  });

  test('configuration misuse fails fast', { timeout: 60_000 }, async () => {
    const sink = new MemorySink();
    await assert.rejects(startSource({ id: 'x', type: 'udp', port: 0, timezone: 'Mars/Olympus' }, { sink }), RangeError);
    await assert.rejects(startSource({ id: 'x', type: 'udp', port: 0, charset: 'ebcdic' }, { sink }), (e: unknown) => e instanceof CollectorError && e.code === 'COL_ERR_CHARSET');
    await assert.rejects(startSource({ id: 'x', type: 'file', paths: ['/tmp/x'] }, { sink }), TypeError);
    await assert.rejects(startSource({ id: 'x', type: 'tls', port: 0 }, { sink }), TypeError);
  });

  test('a port in use is a typed error', { timeout: 60_000 }, async () => {
    const sink = new MemorySink();
    const a = await startSource({ id: 'p1', type: 'tcp', host: '127.0.0.1', port: 0 }, { sink });
    await assert.rejects(startSource({ id: 'p2', type: 'tcp', host: '127.0.0.1', port: a.address!.port }, { sink }), (e: unknown) => e instanceof CollectorError && e.code === 'COL_ERR_SOURCE_IO');
    await a.stop();
  });
});

describe('eventId', () => {
  const bytes = Buffer.from('<13>x');
  const net1 = { kind: 'network' as const, sourceId: 's', peerAddress: '10.0.0.1', peerPort: 514, receivedAt: 1, connection: 'c', seq: 0, bytes };
  test('deterministic, 32 hex chars, sensitive to every field', () => {
    assert.equal(eventId(net1), eventId({ ...net1 }));
    assert.match(eventId(net1), /^[0-9a-f]{32}$/);
    const variants = [{ seq: 1 }, { connection: 'd' }, { peerPort: 515 }, { receivedAt: 2 }, { sourceId: 't' }, { bytes: Buffer.from('<13>y') }];
    const ids = new Set([eventId(net1), ...variants.map((v) => eventId({ ...net1, ...v }))]);
    assert.equal(ids.size, variants.length + 1);
    const f = { kind: 'file' as const, sourceId: 's', fileKey: '1:2', offset: 10, bytes };
    assert.notEqual(eventId(f), eventId({ ...f, offset: 11 }));
    // The documented encoding, hashed independently of eventId's own buffer handling.
    const doc = (h: string, b: Buffer): string => Buffer.from(sm3(Buffer.concat([Buffer.from(h, 'utf8'), b]))).subarray(0, 16).toString('hex');
    assert.equal(eventId(net1), doc(`7:network1:s8:10.0.0.13:5141:11:c1:0${bytes.length}:`, bytes));
    const big = Buffer.alloc(70_000, 0x41);
    assert.equal(eventId({ ...f, sourceId: '源', bytes: big }), doc(`4:file1:源3:1:22:1070000:`, big));
    assert.equal(eventId(net1), doc(`7:network1:s8:10.0.0.13:5141:11:c1:0${bytes.length}:`, bytes), 'after the scratch buffer grew');
    // The batch form gives exactly the single ids, across its chunk bound and for big and non-ASCII inputs.
    const many = Array.from({ length: 3000 }, (_, i) =>
      i % 3 === 0 ? { ...f, sourceId: '源', offset: i, bytes: i === 300 ? big : Buffer.from(`line ${i} ${'y'.repeat(i % 200)}`) } : { ...net1, seq: i, bytes: Buffer.from(`<13>x ${i}`) },
    );
    assert.deepEqual(eventIds(many), many.map(eventId));
    assert.deepEqual(eventIds([]), []);
    // Length-prefixed fields: moving a character between fields changes the id.
    assert.notEqual(eventId({ ...f, sourceId: 's1', fileKey: ':2' }), eventId({ ...f, sourceId: 's', fileKey: '1:2' }));
  });
});

describe('parse failures are lines nothing could read', () => {
  test('a header-less line a vendor parser reads is no failure; text nothing reads is one, with either normaliser', async () => {
    const { createProcessor } = await import('../src/syslog/processor.js');
    const { newSourceMetrics } = await import('../src/sources/common.js');
    const { normalise } = await import('../src/parsers/index.js');
    const ctx = (offset: number): SourceContext => ({
      sourceId: 'f',
      transport: 'file',
      receivedAt: Date.UTC(2026, 10, 29),
      timezone: 'Asia/Shanghai',
      eventId: `e${offset}`,
      file: { path: '/var/log/nginx/access.log', offset },
    });
    const lines = [
      '10.0.0.5 - - [29/Nov/2026:08:04:00 +0800] "GET / HTTP/1.1" 200 5 "-" "curl/8" "203.0.113.70"',
      'type=USER_LOGIN msg=audit(1700000000.123:456): pid=1 uid=0 auid=4294967295 ses=4294967295 msg=\'op=login acct="root" exe="/usr/sbin/sshd" hostname=? addr=203.0.113.9 terminal=ssh res=failed\'',
      'nothing any parser knows',
    ];
    const vendor = newSourceMetrics('f');
    const proc = createProcessor({ charset: 'auto', timezone: 'Asia/Shanghai', metrics: vendor, normalise });
    const events = lines.map((l, i) => proc(Buffer.from(l), ctx(i)));
    assert.equal(vendor.parseFailures, 1, 'only the line no parser read');
    assert.equal(events[0]!.event.dataset, 'web.access', 'no program name in a file: the server is not told');
    assert.equal(events[0]!.tags, undefined, 'parsed: no _syslog_unparsed');
    assert.equal(events[0]!.labels?.['xiangan.parse_error'], undefined);
    assert.equal(events[1]!.event.outcome, 'failure');
    assert.ok(!events[1]!.tags?.includes('_syslog_unparsed'));
    assert.ok(events[2]!.tags?.includes('_syslog_unparsed') && events[2]!.tags.includes('unparsed'));
    assert.equal(events[2]!.labels?.['xiangan.parse_error'], 'PRI missing; no syslog header');
    // The baseline normaliser reads no vendor format: every header-less line is a failure.
    const base = newSourceMetrics('f');
    const baseProc = createProcessor({ charset: 'auto', timezone: 'Asia/Shanghai', metrics: base });
    for (const [i, l] of lines.entries()) assert.ok(baseProc(Buffer.from(l), ctx(i)).tags?.includes('_syslog_unparsed'));
    assert.equal(base.parseFailures, 3);
  });
});
