// Raw network frames through the durable buffer and the prepare/store stages, with real SQLite
// files and real worker threads: the events stored from frames are exactly the events the
// collectors' own processor makes from the same bytes at the source, ids included.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import Database from 'better-sqlite3';
import { createProcessor, eventId, newSourceMetrics, normalise, type EcsEvent, type SourceContext } from '@xiangan/collectors';
import { DurableBuffer } from '../src/buffer/durable.js';
import { RawFrame, decodeFrames, encodeFrames } from '../src/buffer/raw.js';
import { StoreConsumer, inProcessWriter } from '../src/pipeline/consumer.js';
import { Preparer, StepPacker, packedTransfer, plainBatches, preparedDocs, unpackStep } from '../src/pipeline/prepare.js';
import type { PackedTexts } from '../src/buffer/json-bytes.js';
import { WorkerWriter } from '../src/pipeline/store-worker.js';
import { openSqliteStore } from '../src/storage/sqlite.js';
import { parseQuery } from '../src/query/parse.js';
import { leafHashText } from '../src/integrity/merkle.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'xa-raw-'));

const LINES = [
  '<38>Nov 28 10:00:01 bastion sshd[1201]: Failed password for root from 10.1.2.3 port 52144 ssh2',
  '<85>1 2026-11-28T02:00:00.000Z web01 sudo - - - alice : TTY=pts/1 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id',
  '<189>date=2026-11-28 time=10:00:06 devname="FGT60F" type="traffic" srcip=10.9.8.7 dstip=8.8.8.8 action="accept"',
  'not syslog at all \u00ff',
];

/** Frames of one TCP receipt, with the ids and contexts a TcpSource would give them. */
function frames(n: number, receivedAt = Date.UTC(2026, 10, 28, 2, 0, 5)): RawFrame[] {
  const out: RawFrame[] = [];
  const peer = { address: '127.0.0.1', port: 40000 };
  for (let i = 0; i < n; i++) {
    const bytes = Buffer.from(i === 3 ? Buffer.concat([Buffer.from(LINES[3]!), Buffer.from([0xff, 0xfe])]) : LINES[i % LINES.length]!);
    const ctx: SourceContext = {
      sourceId: 'syslog-tcp',
      transport: 'tcp',
      peer,
      receivedAt: receivedAt + (i >= n / 2 ? 1 : 0),
      timezone: 'Asia/Shanghai',
      eventId: eventId({ kind: 'network', sourceId: 'syslog-tcp', peerAddress: peer.address, peerPort: peer.port, receivedAt, connection: 'c1', seq: i, bytes }),
      ...(i === 2 ? { truncated: true } : {}),
    };
    out.push(new RawFrame(bytes, ctx, 'auto'));
  }
  return out;
}

/**
 * The same receipt as a raw source started with `deferIds` hands it over: no id, one shared
 * context per receipt with the connection, the sequence beside each frame.
 */
function deferredFrames(n: number): RawFrame[] {
  return frames(n).map((f, i) => {
    const { eventId: _id, truncated, ...rest } = f.ctx;
    return new RawFrame(f.bytes, { ...rest, eventId: '', connection: 'c1', ...(truncated ? { truncated } : {}) }, f.charset, i);
  });
}

/** What the source would have stored: collectors' processor on the same bytes and context. */
function atSource(fs: RawFrame[]): EcsEvent[] {
  const proc = createProcessor({ charset: 'auto', timezone: 'Asia/Shanghai', metrics: newSourceMetrics('syslog-tcp'), normalise });
  return fs.map((f) => proc(f.bytes, f.ctx));
}

const C9_PEER = { address: '10.0.0.9', port: 5140 };
const C9_RECEIVED_AT = Date.UTC(2026, 10, 28, 2, 0, 5);

/** Frame `seq` of connection c9 as the TCP source buffers it, its id derived as at receipt. */
function c9Frame(bytes: Buffer, seq: number): RawFrame {
  const peer = C9_PEER;
  const receivedAt = C9_RECEIVED_AT;
  return new RawFrame(bytes, { sourceId: 'syslog-tcp', transport: 'tcp', peer, receivedAt, timezone: 'Asia/Shanghai', eventId: eventId({ kind: 'network', sourceId: 'syslog-tcp', peerAddress: peer.address, peerPort: peer.port, receivedAt, connection: 'c9', seq, bytes }) }, 'auto');
}

describe('raw frames', () => {
  test('encode → decode keeps bytes, ids, contexts and the truncation flag', () => {
    const fs = frames(8);
    const { data, meta } = encodeFrames(fs);
    assert.equal(JSON.parse(meta).length, 2, 'one stored context per distinct receipt');
    const back: Array<{ bytes: Uint8Array; ctx: SourceContext; charset: string }> = [];
    decodeFrames(data, meta, (f) => back.push({ bytes: Buffer.from(f.bytes), ctx: f.ctx, charset: f.charset }));
    assert.equal(back.length, fs.length);
    back.forEach((b, i) => {
      assert.deepEqual(Buffer.from(b.bytes), Buffer.from(fs[i]!.bytes));
      assert.deepEqual(b.ctx, fs[i]!.ctx);
      assert.equal(b.charset, 'auto');
    });
  });

  test('deferred ids: decoding derives the ids the source would have derived at receipt', () => {
    const fs = deferredFrames(8);
    const { data, meta } = encodeFrames(fs);
    const back: SourceContext[] = [];
    decodeFrames(data, meta, (f) => back.push(f.ctx));
    // frames() derives its ids with receivedAt of the first receipt for all eight: so do these.
    const expected = fs.map((f, i) => eventId({ kind: 'network', sourceId: 'syslog-tcp', peerAddress: '127.0.0.1', peerPort: 40000, receivedAt: f.ctx.receivedAt, connection: 'c1', seq: i, bytes: f.bytes }));
    assert.deepEqual(back.map((c) => c.eventId), expected);
    assert.deepEqual(back.map((c) => c.truncated === true), fs.map((f) => f.ctx.truncated === true));
    const step = new Preparer('vendor').prepare([{ seq: 1, appendedAt: 1, count: fs.length, data: '', kind: 'frames', frames: data, meta }])!;
    assert.deepEqual(step.ids, expected);
    const withIds = fs.map((f, i) => new RawFrame(f.bytes, { ...f.ctx, eventId: expected[i]! }, f.charset));
    assert.deepEqual(step.batches[0]!.data.split('\n').map((d) => JSON.parse(d)), JSON.parse(JSON.stringify(atSource(withIds))).map((e: EcsEvent) => e));
  });

  test('a step of several chunks: documents joined per batch in order, one leaf hash per document in order', () => {
    // 600 frames (more than two chunks of the preparer), a batch of documents, 300 more frames.
    const first = deferredFrames(600);
    const docsBatch = atSource(frames(5)).map((e) => JSON.stringify(e));
    const last = deferredFrames(300);
    const row = (fs: RawFrame[], seq: number) => ({ seq, appendedAt: 1, count: fs.length, data: '', kind: 'frames' as const, ...(({ data, meta }) => ({ frames: data, meta }))(encodeFrames(fs)) });
    const step = new Preparer('vendor', Date.now, true).prepare([row(first, 1), { seq: 2, appendedAt: 1, count: 5, data: docsBatch.join('\n') }, row(last, 3)])!;
    assert.equal(step.count, 905);
    assert.deepEqual(step.batches.map((b) => b.data.split('\n').length), [600, 5, 300]);
    const docs = step.batches.flatMap((b) => b.data.split('\n'));
    assert.deepEqual(docs.slice(600, 605), docsBatch);
    assert.deepEqual(docs.map((d) => JSON.parse(d).id), step.ids);
    const expected = Buffer.concat(docs.map((d) => leafHashText(d)));
    assert.deepEqual(Buffer.from(step.leafHashes!), expected);
  });

  test('documents of non-ASCII frames: byte for byte JSON.stringify of the source processor, leaf hashes of that text', () => {
    const lines: Buffer[] = [
      Buffer.from('<38>Nov 28 10:00:01 fw01 sshd[7]: 用户 张伟 登录失败 from 10.1.2.3 port 22 ssh2'),
      // GB18030 bytes of 用户 (GB 18030-2005 two-byte codes), decoded by the auto charset.
      Buffer.concat([Buffer.from('<38>Nov 28 10:00:02 fw01 app: '), Buffer.from([0xd3, 0xc3, 0xbb, 0xa7]), Buffer.from(' ok')]),
      Buffer.from('<38>Nov 28 10:00:03 fw01 app: emoji \u{1f512} quote " backslash \\ tab \t bell \u0007 end'),
      Buffer.from('<38>Nov 28 10:00:04 fw01 app: plain ascii'),
    ];
    const batch = (ls: Buffer[], seq: number, first: number) => {
      const fs = ls.map((bytes, i) => c9Frame(bytes, first + i));
      const { data, meta } = encodeFrames(fs);
      return { fs, row: { seq, appendedAt: 1, count: fs.length, data: '', kind: 'frames' as const, frames: data, meta } };
    };
    // An ASCII-only batch after non-ASCII ones and before another: each batch's text is read on its own.
    const a = batch(lines, 1, 0);
    const b = batch([lines[3]!, lines[3]!], 2, 10);
    const c = batch([lines[2]!, lines[0]!], 3, 20);
    const step = new Preparer('vendor', Date.now, true).prepare([a.row, b.row, c.row])!;
    const expected = [a, b, c].map((x) => atSource(x.fs).map((e) => JSON.stringify(e)).join('\n'));
    assert.deepEqual(step.batches.map((x) => x.data), expected);
    assert.ok(expected[0]!.includes('用户') && expected[0]!.includes('\\u0007') && expected[0]!.includes('\u{1f512}'));
    const docs = expected.flatMap((t) => t.split('\n'));
    assert.deepEqual(Buffer.from(step.leafHashes!), Buffer.concat(docs.map((d) => leafHashText(d))));
  });

  test('a step as the store worker gets it (packed, its buffers transferred, unpacked): columns, documents and stored rows as prepared', async () => {
    const lines: Buffer[] = [
      Buffer.from('<38>Nov 28 10:00:01 fw01 sshd[7]: 用户 张伟 登录失败 from 10.1.2.3 port 22 ssh2'),
      Buffer.concat([Buffer.from('<38>Nov 28 10:00:02 fw01 app: '), Buffer.from([0xd3, 0xc3, 0xbb, 0xa7]), Buffer.from(' ok')]),
      Buffer.from('<38>Nov 28 10:00:03 fw01 app: emoji \u{1f512} NUL \u0000 quote " end'),
      Buffer.from('<38>Nov 28 10:00:04 fw01 app: plain ascii'),
    ];
    const fs = Array.from({ length: 6000 }, (_, i) => c9Frame(lines[i % lines.length]!, i));
    const { data, meta } = encodeFrames(fs);
    // Documents as HTTP ingest buffers them: a lone surrogate (only JSON escapes make one), an
    // empty message, none, NUL, a user name that is a number.
    const posted: EcsEvent[] = [
      { id: 'p-1', '@timestamp': '2026-11-28T02:00:06.000Z', event: { ingested: '2026-11-28T02:00:06.000Z' }, message: 'lone \ud800 here', user: { name: 'z\udc00' } as never },
      { id: 'p-2', '@timestamp': '2026-11-28T02:00:07.000Z', event: { ingested: '2026-11-28T02:00:07.000Z' }, message: '' },
      { id: 'p-3', '@timestamp': '2026-11-28T02:00:08.000Z', event: { ingested: '2026-11-28T02:00:08.000Z' }, source: { ip: '10.0.0.1', port: 22 } as never },
      { id: 'p-\ud801', '@timestamp': '2026-11-28T02:00:09.000Z', event: { ingested: '2026-11-28T02:00:09.000Z' }, message: 'nul \u0000 é', user: { name: 7 } as never },
    ];
    const rows = [
      { seq: 1, appendedAt: 1, count: fs.length, data: '', kind: 'frames' as const, frames: data, meta },
      { seq: 2, appendedAt: 2, count: posted.length, data: posted.map((e) => JSON.stringify(e)).join('\n') },
      { seq: 3, appendedAt: 3, count: 0, data: '', kind: 'frames' as const, frames: encodeFrames([]).data, meta: encodeFrames([]).meta },
    ];
    const step = new Preparer('vendor', Date.now, true).prepare(rows)!;
    const texts = plainBatches(step.batches).map((b) => b.data);
    const expectedDocs = texts.filter((t, i) => rows[i]!.count > 0).flatMap((t) => t.split('\n'));
    const copy = { ids: [...step.ids], messages: [...step.messages], values: step.values.map((c) => [...c]), ts: [...step.ts], leaves: Buffer.from(step.leafHashes!) };
    const packed = new StepPacker().pack(step);
    // What is cloned beside the transferred buffers: a few hundred bytes, not MBs.
    const ser = new v8.Serializer();
    packedTransfer(packed).forEach((b, i) => ser.transferArrayBuffer(i, b));
    ser.writeHeader();
    ser.writeValue(packed);
    assert.ok(ser.releaseBuffer().length < 4096);
    const got = unpackStep(structuredClone(packed, { transfer: packedTransfer(packed) }));
    assert.equal((step.docs as PackedTexts).bytes.byteLength, 0, 'the documents moved (transferred, not copied)');
    assert.deepEqual({ ids: got.ids, messages: got.messages, values: got.values, ts: [...got.ts], leaves: Buffer.from(got.leafHashes!) }, copy);
    assert.equal(got.messages[fs.length], 'lone \ud800 here', 'a lone surrogate comes back as it was');
    assert.equal(got.ids[fs.length + 3], 'p-\ud801');
    assert.deepEqual([got.messages[fs.length + 1], got.messages[fs.length + 2]], ['', null]);
    const docs = preparedDocs(got);
    assert.equal(docs.length, fs.length + posted.length);
    assert.deepEqual(Array.from({ length: docs.length }, (_, i) => docs.at(i)), expectedDocs);
    assert.ok(expectedDocs[0]!.includes('用户') && expectedDocs[2]!.includes('\\u0000') && expectedDocs[fs.length]!.includes('\\ud800'));
    // Stored from the packed step and from the same columns with their documents as text: the same rows.
    const stored: unknown[] = [];
    for (const cols of [got, { ...got, docs: undefined, batches: [{ seq: 1, appendedAt: 1, count: expectedDocs.length, data: expectedDocs.join('\n') }] }]) {
      const dir = mkdtempSync(join(tmpdir(), 'xiangan-packed-'));
      const store = await openSqliteStore({ dir, synchronous: 'normal' });
      try {
        assert.equal(store.writeColumns(cols).written, expectedDocs.length);
        const db = new Database(join(dir, 'events.db'), { readonly: true });
        const days = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'ev\\_%' ESCAPE '\\' ORDER BY name").pluck().all() as string[];
        stored.push(days.map((t) => db.prepare(`SELECT *, typeof(doc), typeof(message) FROM ${t} ORDER BY rowid`).raw().all()));
        db.close();
      } finally {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }
    assert.equal((stored[0] as unknown[][])[0]!.length, expectedDocs.length);
    assert.deepEqual(stored[0], stored[1]);
  });

  test("an empty value before other values of its column comes back as itself (pack → transfer → unpack → store)", async () => {
    // '' takes no bytes, so it starts where the column's next new value starts.
    const names = ['', 'root', 'root', 'admin', '', 'root'];
    const posted = names.map((name, i) => JSON.stringify({ id: `e-${i}`, '@timestamp': '2026-11-28T02:00:00.000Z', event: { ingested: '2026-11-28T02:00:01.000Z' }, message: i % 2 ? '' : 'm', user: { name } }));
    const step = new Preparer('vendor', Date.now, false, undefined, true).prepare([{ seq: 1, appendedAt: 1, count: posted.length, data: posted.join('\n') }])!;
    const values = step.values.map((c) => [...c]);
    const messages = [...step.messages];
    const packed = new StepPacker().pack(step);
    const got = unpackStep(structuredClone(packed, { transfer: packedTransfer(packed) }));
    assert.deepEqual(got.values, values);
    assert.deepEqual(got.messages, messages);
    assert.ok(values.some((c) => names.every((n, i) => c[i] === n)), 'a value column holds the names');
    const dir = mkdtempSync(join(tmpdir(), 'xiangan-packed-empty-'));
    const store = await openSqliteStore({ dir, synchronous: 'normal' });
    try {
      assert.equal(store.writeColumns(got).written, names.length);
      assert.equal((await store.search({ query: parseQuery('user.name:root'), size: 10 })).total, 3);
      assert.equal((await store.search({ query: parseQuery('user.name:admin'), size: 10 })).total, 1);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the prepare step makes the events the source processor makes', () => {
    const fs = frames(8);
    const { data, meta } = encodeFrames(fs);
    const step = new Preparer('vendor').prepare([{ seq: 7, appendedAt: 1, count: fs.length, data: '', kind: 'frames', frames: data, meta }])!;
    assert.equal(step.count, 8);
    assert.equal(step.lastSeq, 7);
    const docs = step.batches[0]!.data.split('\n');
    assert.deepEqual(docs.map((d) => JSON.parse(d)), JSON.parse(JSON.stringify(atSource(fs))));
    assert.deepEqual(step.ids, fs.map((f) => f.ctx.eventId));
    assert.equal(step.counters['syslog-tcp']!.parseFailures, 2, 'the two non-syslog lines are counted where they are parsed');
  });

  test('frames and documents share a group commit, each in its own row, in order', async () => {
    const dir = tmp();
    const buf = new DurableBuffer({ dir, groupCommitMs: 50 });
    try {
      const doc: EcsEvent = { id: 'http-1', '@timestamp': '2026-11-28T02:00:00.000Z', message: 'posted', event: {} };
      await Promise.all([buf.append(frames(4) as unknown as EcsEvent[]), buf.append([doc])]);
      assert.equal(buf.depth, 5);
      const rows = buf.readAfter(0, 100);
      assert.deepEqual(rows.map((r) => [r.kind ?? 'docs', r.count]), [['docs', 1], ['frames', 4]]);
      await assert.rejects(buf.append([frames(1)[0] as unknown as EcsEvent, doc]), TypeError);
      await assert.rejects(buf.append([doc, frames(1)[0] as unknown as EcsEvent]), TypeError);
    } finally {
      buf.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const mode of ['in-process', 'worker threads'] as const) {
    test(`stored from the buffer (${mode}): same documents, searchable, idempotent on replay`, async () => {
      const dir = tmp();
      const buf = new DurableBuffer({ dir });
      const store = await openSqliteStore({ dir, synchronous: 'normal', chain: true });
      const worker = mode === 'worker threads' ? new WorkerWriter({ dir, synchronous: 'normal', chain: true }) : undefined;
      const writer = worker ? (a: number, m: number) => worker.write(a, m) : inProcessWriter(buf, store, Date.now, new Preparer('vendor', Date.now, true));
      const seen: string[] = [];
      const consumer = new StoreConsumer({ buffer: buf, writer, batchEvents: 5, afterWrite: async (info) => void seen.push(...info.batches!.flatMap((b) => b.data.split('\n'))) });
      try {
        const fs = frames(12);
        await buf.append(fs as unknown as EcsEvent[]);
        consumer.start();
        await consumer.drain();
        await consumer.stop();
        const expected = atSource(fs);
        const all = await store.search({ size: 100, sort: 'asc' });
        assert.equal(all.total, 12);
        assert.deepEqual(new Set(all.events.map((e) => e.id)), new Set(expected.map((e) => e.id)));
        for (const e of expected) assert.deepEqual(await store.get(e.id), JSON.parse(JSON.stringify(e)));
        assert.equal(seen.length, 12, 'detection saw every stored event once, as its stored document');
        const hits = await store.search({ query: parseQuery('source.ip:10.1.2.3'), size: 10 });
        assert.equal(hits.total, 3);
        // A replay of the same frames (a crash before the acknowledgement) stores nothing twice.
        await buf.append(fs as unknown as EcsEvent[]);
        const again = new StoreConsumer({ buffer: buf, writer });
        again.start();
        await again.drain();
        await again.stop();
        assert.equal((await store.search({ size: 0 })).total, 12);
      } finally {
        await worker?.close();
        buf.close();
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
