// The prepare worker's Preparer (hand-over) writes each event's id, message and column values
// straight into the step's packed cells as the event is made (src/pipeline/prepare.ts,
// `CellWriter`). What reaches the store worker must be what the plain Preparer's arrays, packed
// afterwards, gave: same ids, messages, values (repeats, odd strings, '' and null included),
// times, documents and leaf hashes, also for more events than the batches announced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalise, type EcsEvent, type Normalise } from '@xiangan/collectors';
import { RawFrame, encodeFrames } from '../src/buffer/raw.js';
import type { RawBatch } from '../src/buffer/durable.js';
import { Preparer, StepPacker, packedTransfer, preparedDocs, unpackStep, type PreparedStep } from '../src/pipeline/prepare.js';

const RECEIVED = Date.UTC(2026, 10, 28, 2, 0, 5);

/**
 * 700 frames over two receive contexts: 600 distinct users (more than a column's repeat memory)
 * and then users seen before, GB18030 bytes, a line that is not syslog, a truncated frame.
 */
function frameRow(seq: number): RawBatch {
  const peer = { address: '127.0.0.1', port: 40000 };
  const out: RawFrame[] = [];
  for (let i = 0; i < 700; i++) {
    const user = `u${i < 600 ? i : i % 7}`;
    let bytes: Buffer;
    // 用户 in GB18030.
    if (i % 50 === 7) bytes = Buffer.concat([Buffer.from('<38>Nov 28 10:00:01 fw '), Buffer.from([0xd3, 0xc3, 0xbb, 0xa7]), Buffer.from(` ${user} from 10.0.0.${i % 256}`)]);
    else if (i % 50 === 9) bytes = Buffer.from([0x6e, 0x6f, 0xff, 0x20, 0x73, 0x79, 0x73]);
    else bytes = Buffer.from(`<38>Nov 28 10:00:01 bastion sshd[${i}]: Failed password for ${user} from 10.${i % 3}.0.${i % 256} port ${20000 + (i % 5)} ssh2`);
    const ctx = { sourceId: 'syslog-tcp', transport: 'tcp' as const, peer, receivedAt: RECEIVED + (i < 350 ? 0 : 1), timezone: 'Asia/Shanghai', eventId: '', connection: 'c1', ...(i === 11 ? { truncated: true } : {}) };
    out.push(new RawFrame(bytes, ctx, 'auto', i));
  }
  const { data, meta } = encodeFrames(out);
  return { seq, appendedAt: seq, count: out.length, data: '', kind: 'frames', frames: data, meta };
}

/** Events as HTTP ingest buffers them: lone surrogates, NUL, '' and absent values, numbers where text is expected. */
function docsRow(seq: number, count: number): RawBatch {
  const events: EcsEvent[] = [
    { id: 'd-1', '@timestamp': '2026-11-28T02:00:06.000Z', event: { ingested: '2026-11-28T02:00:06.000Z', action: '' }, message: 'lone \ud800 here', user: { name: 'z\udc00' } as never },
    { id: 'd-2', '@timestamp': 'not a time', event: { ingested: '2026-11-28T02:00:07.000Z', action: 'login' }, message: '' },
    { id: 'd-3', '@timestamp': '2026-11-28T02:00:08.000Z', event: { ingested: 'never' }, source: { ip: '10.0.0.1', port: 22 } as never, user: { name: '' } as never },
    { id: 'd-\ud801', '@timestamp': '2026-11-28T02:00:09.000Z', event: { ingested: '2026-11-28T02:00:09.000Z', action: 'login' }, message: 'nul \u0000 é', user: { name: 7 } as never },
  ];
  return { seq, appendedAt: seq, count, data: events.map((e) => JSON.stringify(e)).join('\n') };
}

/** What the store worker gets of a step: packed, transferred, unpacked. */
function received(step: PreparedStep): PreparedStep {
  const packed = new StepPacker().pack(step);
  return unpackStep(structuredClone(packed, { transfer: packedTransfer(packed) }));
}

function columns(s: PreparedStep): unknown {
  const docs = preparedDocs(s);
  return {
    count: s.count,
    ids: [...s.ids],
    messages: [...s.messages],
    values: s.values.map((c) => [...c]),
    ts: [...s.ts],
    ingested: [...s.ingested],
    docs: Array.from({ length: docs.length }, (_, i) => docs.at(i)),
    leaves: s.leafHashes ? Buffer.from(s.leafHashes).toString('hex') : undefined,
    lastSeq: s.lastSeq,
    counters: s.counters,
  };
}

test('a hand-over Preparer writes the cells the plain one packs: same columns, documents and leaves after the transfer', () => {
  const now = () => RECEIVED;
  for (const chain of [false, true]) {
    const rows = [frameRow(1), docsRow(2, 4), frameRow(3)];
    const plain = new Preparer('vendor', now, chain).prepare(rows)!;
    const expected = columns(plain);
    const handOver = new Preparer('vendor', now, chain, undefined, true);
    const step = handOver.prepare(rows)!;
    // Read before the transfer (a caller that keeps the step), then as the store worker gets it.
    assert.deepEqual(columns(step), expected);
    assert.deepEqual(columns(received(step)), expected);
    assert.deepEqual(columns(received(plain)), expected, 'the plain step packed afterwards');
    const got = expected as { values: unknown[][]; messages: unknown[]; ids: string[] };
    assert.ok(got.values.some((c) => c[700] === 'z\udc00'), 'a lone surrogate value as it was');
    assert.ok(got.values.some((c) => c[699] === 'u6' && c[99] === 'u99'), 'a repeat after 600 distinct values');
    assert.deepEqual([got.messages[701], got.messages[702], got.ids[703]], ['', null, 'd-\ud801']);
    // The next step of the same Preparer starts clean (no cell of the last one carried over).
    assert.deepEqual(columns(received(handOver.prepare([frameRow(4)])!)), columns(received(new Preparer('vendor', now, chain).prepare([frameRow(4)])!)));
  }
});

test('a hand-over Preparer keeps every event of a batch that announced fewer', () => {
  const now = () => RECEIVED;
  const rows = [docsRow(1, 1), docsRow(2, 2)];
  const step = received(new Preparer('vendor', now, false, undefined, true).prepare(rows)!);
  assert.equal(step.count, 8);
  assert.deepEqual(columns(step), columns(new Preparer('vendor', now).prepare(rows)!));
});

test('an event whose column values threw half-way leaves nothing in the next step of the same Preparer', () => {
  const now = () => RECEIVED;
  let reads = 0;
  // Read once for the document, then the column values read it again and it throws.
  const throwing: Normalise = (msg, ctx) => {
    const ev = normalise(msg, ctx);
    const host = ev.host;
    Object.defineProperty(ev, 'host', {
      enumerable: true,
      get: () => {
        if (++reads === 2) throw new Error('boom');
        return host;
      },
    });
    return ev;
  };
  let broken = true;
  const preparer = new Preparer((msg, ctx) => (broken ? throwing(msg, ctx) : normalise(msg, ctx)), now, false, undefined, true);
  assert.throws(() => preparer.prepare([frameRow(1)]), /boom/);
  broken = false;
  assert.deepEqual(columns(received(preparer.prepare([frameRow(2)])!)), columns(new Preparer('vendor', now).prepare([frameRow(2)])!));
});

test("a step of small events after one of huge ones reserves a bounded buffer, not the last step's bytes per event", () => {
  const now = () => RECEIVED;
  const big = 'x'.repeat(200_000);
  const huge = Array.from({ length: 3 }, (_, i) => JSON.stringify({ id: `h-${i}`, '@timestamp': '2026-11-28T02:00:06.000Z', event: { ingested: '2026-11-28T02:00:06.000Z' }, message: big }));
  const small = Array.from({ length: 2_000 }, (_, i) => JSON.stringify({ id: `s-${i}`, '@timestamp': '2026-11-28T02:00:06.000Z', event: { ingested: '2026-11-28T02:00:06.000Z' }, message: 'm' }));
  const preparer = new Preparer('vendor', now, false, undefined, true);
  preparer.prepare([{ seq: 1, appendedAt: 1, count: huge.length, data: huge.join('\n') }]);
  const packed = new StepPacker().pack(preparer.prepare([{ seq: 2, appendedAt: 2, count: small.length, data: small.join('\n') }])!);
  // At the huge step's ~400 KB per event (document and cells), 2,000 events would ask for ~800 MB each.
  assert.ok(packed.docs.bytes.buffer.byteLength <= 33 << 20, `documents' buffer ${packed.docs.bytes.buffer.byteLength}`);
  assert.ok(packed.cells.bytes.buffer.byteLength <= 33 << 20, `cells' buffer ${packed.cells.bytes.buffer.byteLength}`);
  assert.equal(unpackStep(packed).ids[1_999], 's-1999');
});

test("a column's repeats are written once, values whose repeat slots collide come back as they were", () => {
  const now = () => RECEIVED;
  // 'axbyc' and 'azbwc' share length and first, middle and last code units (one repeat slot).
  const names = ['axbyc', 'azbwc', 'root', 'admin', 'axbyc'];
  const events = Array.from({ length: 3_000 }, (_, i) =>
    JSON.stringify({ id: `r-${i}`, '@timestamp': '2026-11-28T02:00:06.000Z', event: { ingested: '2026-11-28T02:00:06.000Z' }, user: { name: names[i % names.length] }, source: { ip: `10.${i >> 8}.0.${i & 255}` } }),
  );
  const rows: RawBatch[] = [{ seq: 1, appendedAt: 1, count: events.length, data: events.join('\n') }];
  const step = new Preparer('vendor', now, false, undefined, true).prepare(rows)!;
  const expected = columns(new Preparer('vendor', now).prepare(rows)!);
  assert.deepEqual(columns(received(step)), expected);
  const packed = new StepPacker().pack(step);
  // Ids, addresses (all distinct) and a few hundred names until the slot's last kept value stays: far below every name written.
  let distinct = 0;
  for (let i = 0; i < events.length; i++) distinct += `r-${i}`.length + `10.${i >> 8}.0.${i & 255}`.length;
  assert.ok(packed.cells.bytes.byteLength < distinct + 256 * 5 + 1000, `cells ${packed.cells.bytes.byteLength} bytes`);
});
