// An event's id and message reach the store worker from its document's bytes when the document
// holds them as they are (unescaped ASCII: `JsonBytes.markKeys` / `verbatim`, src/buffer/json-bytes.ts;
// `CELL_DOC` cells, src/pipeline/prepare.ts), and are written as cells of their own otherwise.
// Either way the store worker must get exactly the event's id and message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawFrame, encodeFrames } from '../src/buffer/raw.js';
import type { RawBatch } from '../src/buffer/durable.js';
import { JsonBytes } from '../src/buffer/json-bytes.js';
import { Preparer, StepPacker, packedTransfer, preparedDocs, unpackStep } from '../src/pipeline/prepare.js';

const RECEIVED = Date.UTC(2026, 10, 28, 2, 0, 5);

/** Syslog lines whose messages are plain, need escapes, are not ASCII, empty, or not syslog at all. */
const LINES: Buffer[] = [
  Buffer.from('<38>Nov 28 10:00:01 bastion sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2'),
  Buffer.from('<190>1 2026-11-28T02:00:00.004Z web01 nginx - - - 10.0.0.4 - - [28/Nov/2026:10:00:04 +0800] "GET / HTTP/1.1" 200 5 "-" "curl"'),
  Buffer.from('<38>Nov 28 10:00:01 bastion app: back\\slash and tab\there'),
  Buffer.from('<38>Nov 28 10:00:01 bastion app: 登录失败 é'),
  // 用户 in GB18030.
  Buffer.concat([Buffer.from('<38>Nov 28 10:00:01 fw '), Buffer.from([0xd3, 0xc3, 0xbb, 0xa7])]),
  Buffer.from('<38>Nov 28 10:00:01 bastion app:'),
  Buffer.from('<38>Nov 28 10:00:01 bastion app: x'),
  Buffer.from([0x6e, 0x6f, 0xff, 0x20, 0x73, 0x79, 0x73]),
];

function frames(seq: number, n: number): RawBatch {
  const peer = { address: '127.0.0.1', port: 40000 };
  const out: RawFrame[] = [];
  for (let i = 0; i < n; i++) {
    out.push(new RawFrame(LINES[i % LINES.length]!, { sourceId: 's', transport: 'tcp', peer, receivedAt: RECEIVED, timezone: 'Asia/Shanghai', eventId: '', connection: 'c', ...(i === 3 ? { truncated: true } : {}) }, 'auto', i));
  }
  const { data, meta } = encodeFrames(out);
  return { seq, appendedAt: seq, count: n, data: '', kind: 'frames', frames: data, meta };
}

test('ids and messages taken from the documents are the events\' own, after the transfer, chaining on and off', () => {
  for (const chain of [false, true]) {
    const preparer = new Preparer('vendor', () => RECEIVED, chain, undefined, true);
    for (let s = 1; s <= 3; s++) {
      const rows = [frames(2 * s, 40), { seq: 2 * s + 1, appendedAt: 0, count: 2, data: [JSON.stringify({ id: 'd-1', message: 'plain' }), JSON.stringify({ id: 'd-"2"', message: 'q "x"' })].join('\n') }];
      const step = preparer.prepare(rows)!;
      const packed = new StepPacker().pack(step);
      const got = unpackStep(structuredClone(packed, { transfer: packedTransfer(packed) }));
      const docs = preparedDocs(got);
      assert.equal(got.count, 42);
      for (let i = 0; i < got.count; i++) {
        const ev = JSON.parse(docs.at(i)!) as { id: string; message?: unknown };
        assert.equal(got.ids[i], ev.id, `id of event ${i}`);
        assert.equal(got.messages[i], typeof ev.message === 'string' ? ev.message : null, `message of event ${i}`);
      }
      assert.ok(got.messages.some((m) => typeof m === 'string' && m.includes('"GET / HTTP/1.1"')), 'an escaped message');
      assert.ok(got.messages.some((m) => m === '登录失败 é'), 'a message that is not ASCII');
    }
  }
});

test('the cells do not hold the ids and plain messages the documents hold', () => {
  const plain = Array.from({ length: 200 }, (_, i) => Buffer.from(`<38>Nov 28 10:00:01 bastion sshd[${i}]: Accepted publickey for admin from 10.0.0.${i & 255} port 22 ssh2`));
  const peer = { address: '127.0.0.1', port: 40000 };
  const { data, meta } = encodeFrames(plain.map((b, i) => new RawFrame(b, { sourceId: 's', transport: 'tcp', peer, receivedAt: RECEIVED, timezone: 'UTC', eventId: '', connection: 'c' }, 'auto', i)));
  const step = new Preparer('vendor', () => RECEIVED, false, undefined, true).prepare([{ seq: 1, appendedAt: 0, count: 200, data: '', kind: 'frames', frames: data, meta }])!;
  const packed = new StepPacker().pack(step);
  const cellText = packed.cells.at[packed.cells.at.length - 1]!;
  let idsAndMessages = 0;
  for (let i = 0; i < step.count; i++) idsAndMessages += step.ids[i]!.length + step.messages[i]!.length;
  // The remaining cells (source address keys, repeated values once) are far smaller than these.
  assert.ok(cellText < idsAndMessages / 2, `cell text ${cellText} bytes against ${idsAndMessages} of ids and messages`);
  assert.equal(unpackStep(packed).messages[199], 'Accepted publickey for admin from 10.0.0.199 port 22 ssh2');
});

test('JsonBytes.verbatim: where a marked top-level key\'s string lies as it is, and −1 when it does not', () => {
  const t = new JsonBytes();
  t.markKeys(['id', 'message']);
  const cases: Array<[unknown, [string | undefined, string | undefined]]> = [
    [{ id: 'abc', x: { message: 'nested' }, message: 'hello world' }, ['abc', 'hello world']],
    [{ message: 'say "hi"', id: 'a\\b' }, [undefined, undefined]],
    [{ id: 'é', message: 'tab\t' }, [undefined, undefined]],
    [{ id: 7, message: null }, [undefined, undefined]],
    [{ id: '', message: 'x'.repeat(100) }, ['', 'x'.repeat(100)]],
    [{ a: 1 }, [undefined, undefined]],
    [[{ id: 'in an array' }], [undefined, undefined]],
    [{ id: '\ud83d\ude00' }, [undefined, undefined]],
  ];
  for (const [value, [id, message]] of cases) {
    const start = t.pos;
    t.json(value);
    assert.equal(t.text(start, t.pos), JSON.stringify(value));
    const v = t.verbatim;
    assert.equal(v[0]! < 0 ? undefined : t.text(v[0]!, v[1]!), id, `id of ${JSON.stringify(value)}`);
    assert.equal(v[2]! < 0 ? undefined : t.text(v[2]!, v[3]!), message, `message of ${JSON.stringify(value)}`);
  }
  // Without marks nothing is recorded.
  const u = new JsonBytes();
  u.json({ id: 'abc' });
  assert.equal(u.verbatim.length, 0);
});
