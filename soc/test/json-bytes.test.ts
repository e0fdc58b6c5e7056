// JsonBytes (src/buffer/json-bytes.ts) writes exactly the UTF-8 bytes of JSON.stringify: checked
// against JSON.stringify itself over hand-picked edge values, generated values (fast-check), and
// the events collectors' processor makes from every parser sample and a 20k-line syslog mix,
// through the real Preparer (documents, ids and integrity leaves).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { createProcessor, newSourceMetrics, normalise, type EcsEvent, type SourceContext } from '@xiangan/collectors';
import { JsonBytes, PackedReader, releaseBuffers, type PackedTexts } from '../src/buffer/json-bytes.js';
import { RawFrame, encodeFrames } from '../src/buffer/raw.js';
import { Preparer } from '../src/pipeline/prepare.js';
import { leafHashText } from '../src/integrity/merkle.js';

const FIXTURES = fileURLToPath(new URL('../../../collectors/test/fixtures/parsers/', import.meta.url));

/** The bytes JsonBytes writes for `v`, and as text. */
function written(t: JsonBytes, v: unknown): Buffer {
  t.reset();
  t.json(v);
  return Buffer.from(t.bytes(0, t.pos));
}

function assertSame(t: JsonBytes, v: unknown): void {
  const want = Buffer.from(JSON.stringify(v), 'utf8');
  const got = written(t, v);
  assert.ok(got.equals(want), `${JSON.stringify(v)}: got ${got.toString('utf8')}`);
  assert.equal(t.read(), JSON.stringify(v));
}

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

describe('JsonBytes', () => {
  test('edge values give the bytes of JSON.stringify', () => {
    const t = new JsonBytes();
    const nullProto = Object.create(null) as Record<string, unknown>;
    nullProto.b = 1;
    nullProto.a = 'x';
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100; i++) deep = i % 2 ? { d: deep } : [deep];
    const sparse: unknown[] = [1];
    sparse[3] = 2;
    const values: unknown[] = [
      'plain',
      '',
      'quote " backslash \\ slash /',
      '\u0000\u0001\b\t\n\u000b\f\r\u000e\u001f \u007f',
      '中文 财务部核心交换机 ščř é',
      'emoji 😀 and 𝄞',
      'lone high \ud800 end',
      'lone low \udc00 and reversed \udc00\ud800 and trailing \ud83d',
      '\u2028\u2029',
      0,
      -0,
      1,
      -1,
      123456789,
      999999999,
      1e9,
      1.5,
      -2.25e-7,
      1e21,
      Number.MAX_SAFE_INTEGER,
      Number.MIN_VALUE,
      NaN,
      Infinity,
      -Infinity,
      true,
      false,
      null,
      [],
      {},
      [undefined, () => 1, Symbol('s'), null, NaN],
      sparse,
      { u: undefined, f: () => 1, s: Symbol('s'), n: null, k: 'v' },
      { u: undefined },
      { 2: 'two', b: 'b', 1: 'one', a: 'a', '-1': 'minus', '01': 'lead' },
      { 'k"e\\y\n': 'v', 中文: '值', '😀': '\ud800' },
      nullProto,
      { d: new Date(Date.UTC(2026, 10, 28)), p: new Point(1, 2) },
      { j: { toJSON: () => 'custom' }, gone: { toJSON: () => undefined } },
      [{ toJSON: () => undefined }, new Date(NaN)],
      { s: new String('boxed'), n: new Number(3), b: new Boolean(false) },
      { toJSON: 'not callable', x: 1 },
      deep,
      new Map([[1, 2]]),
      new Uint8Array([1, 2]),
    ];
    for (const v of values) assertSame(t, v);
  });

  test('strings and keys around the native-copy length, with every escape class at each end and in the middle', () => {
    const t = new JsonBytes();
    // One of each kind of code unit QuoteJSONString treats apart, plus ASCII it leaves alone
    // (DEL included) and UTF-8 of each length.
    const specials = ['"', '\\', '\b', '\t', '\n', '\f', '\r', '\u0000', '\u000b', '\u001f', '\u007f', 'é', '\u07ff', '中', '\uffff', '😀', '\ud800', '\udfff', '\udc00\ud800'];
    for (const n of [1, 38, 39, 40, 41, 63, 64, 100, 5000]) {
      const plain = 'abcdefghij0123456789 ~!#$%&()*+,-./:;<=>?@[]^_`{|}'.repeat(Math.ceil(n / 50) + 1).slice(0, n);
      const values: string[] = [plain];
      for (const sp of specials) values.push(sp + plain.slice(sp.length), plain.slice(sp.length) + sp, plain.slice(0, n >> 1) + sp + plain.slice((n >> 1) + sp.length));
      for (const v of values) {
        assertSame(t, v);
        assertSame(t, { [v]: v, k: [v, 1] });
      }
    }
  });

  test('generated long strings, mostly ASCII with the odd escape or non-ASCII code unit', () => {
    const t = new JsonBytes();
    const unit = fc.oneof(
      { weight: 20, arbitrary: fc.integer({ min: 0x20, max: 0x7f }).map((c) => String.fromCharCode(c)) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
      { weight: 1, arbitrary: fc.constantFrom('"', '\\', '\n', '\u0000', 'é', '中', '😀', '\ud800') },
    );
    const long = fc.array(unit, { minLength: 30, maxLength: 300 }).map((a) => a.join(''));
    fc.assert(
      fc.property(fc.dictionary(long, fc.oneof(long, fc.array(long, { maxLength: 3 }))), long, (o, s) => {
        assertSame(t, o);
        assertSame(t, s);
      }),
      { numRuns: 1000 },
    );
  });

  test('what JSON.stringify rejects is rejected, and the buffer is left as it was', () => {
    const t = new JsonBytes();
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    t.json({ before: 1 });
    const pos = t.pos;
    assert.throws(() => JSON.stringify(cyclic), TypeError);
    assert.throws(() => t.json(cyclic), TypeError);
    assert.throws(() => t.json({ big: 1n }), TypeError);
    assert.throws(() => t.json(undefined), TypeError);
    assert.equal(t.pos, pos);
    assert.equal(t.read(), '{"before":1}');
  });

  test('generated values (any code unit in strings and keys)', () => {
    const t = new JsonBytes();
    const unit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
    const str = fc.oneof(fc.string({ unit }), fc.string({ unit: 'binary' }), fc.string());
    fc.assert(
      fc.property(fc.anything({ key: str, values: [str, fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined)], withNullPrototype: true, maxDepth: 4 }), (v) => {
        if (JSON.stringify(v) === undefined) return;
        assertSame(t, v);
      }),
      { numRuns: 2000 },
    );
  });

  test('documents appended one after another read back as one text (ASCII, then not)', () => {
    const t = new JsonBytes();
    t.json({ a: 'x' });
    t.newline();
    const start = t.pos;
    t.json(['é']);
    assert.equal(t.text(start, t.pos), '["é"]');
    assert.equal(t.read(), '{"a":"x"}\n["é"]');
    t.reset();
    t.json('ascii');
    assert.equal(t.read(), '"ascii"');
  });

  test('packed texts read back by position, ASCII and not, empty ones, chunks joined; a copy keeps the other text\'s encoding', () => {
    const t = new JsonBytes();
    const at: number[] = [];
    const put = (s: string): void => {
      at.push(t.pos);
      t.append(s);
      at.push(t.pos);
      t.newline();
    };
    ['ascii', '', 'NUL \u0000 tab \t', 'x'.repeat(70_000)].forEach(put);
    const a = t.pack(Uint32Array.from(at));
    assert.equal(a.ascii, true);
    t.reset();
    at.length = 0;
    ['用户 张伟', '\u{1f512}', ''].forEach(put);
    const b = t.pack(Uint32Array.from(at));
    assert.equal(b.ascii, false);
    const all = (p: PackedTexts): Array<string | undefined> => {
      const r = new PackedReader(p);
      return Array.from({ length: r.length }, (_, i) => r.at(i));
    };
    assert.deepEqual(all(a), ['ascii', '', 'NUL \u0000 tab \t', 'x'.repeat(70_000)]);
    // Chunks read as one, in order and out of it.
    const ab = new PackedReader([a, b]);
    assert.deepEqual(Array.from({ length: ab.length }, (_, i) => ab.at(i)), ['ascii', '', 'NUL \u0000 tab \t', 'x'.repeat(70_000), '用户 张伟', '\u{1f512}', '']);
    assert.deepEqual([ab.at(5), ab.at(0), ab.at(6), ab.at(3)!.length, ab.at(7), ab.at(-1)], ['\u{1f512}', 'ascii', '', 70_000, undefined, undefined]);
    assert.equal(new PackedReader(a).at(4), undefined);
    // The same strings as UTF-8 byte views, in and out of order.
    const texts = ['ascii', '', 'NUL \u0000 tab \t', 'x'.repeat(70_000), '用户 张伟', '\u{1f512}', ''];
    for (const i of [4, 0, 6, 3, 5, 1, 2]) assert.deepEqual(ab.bytesAt(i), Buffer.from(texts[i]!, 'utf8'), `bytes of string ${i}`);
    assert.deepEqual([ab.bytesAt(7), ab.bytesAt(-1)], [undefined, undefined]);
    assert.throws(() => new PackedReader({ ...a, at: new Uint32Array(3) }), RangeError);
    const c = new JsonBytes();
    c.append('ab');
    c.copy(t, 0, t.pos);
    assert.equal(c.read(), 'ab用户 张伟\n\u{1f512}\n\n');
  });

  test('handing over: pack gives the buffer itself and writes on into a new one; released buffers are left detached', () => {
    const t = new JsonBytes(true);
    t.append('first');
    const a = t.pack(Uint32Array.from([0, 5]));
    assert.equal(a.bytes.byteLength, 5);
    assert.equal(a.bytes.buffer.byteLength, 1 << 20, 'the buffer itself, not a copy');
    assert.equal(t.pos, 0);
    t.append('second é');
    const b = t.pack(Uint32Array.from([0, 9]));
    assert.notEqual(b.bytes.buffer, a.bytes.buffer);
    assert.deepEqual([new PackedReader(a).at(0), new PackedReader(b).at(0)], ['first', 'second é']);
    const copied = new JsonBytes();
    copied.append('x');
    const c = copied.pack(Uint32Array.from([0, 1]));
    assert.equal(c.bytes.buffer.byteLength, 1, 'without handing over: a copy of the text');
    releaseBuffers([a.bytes.buffer, b.bytes.buffer, a.bytes.buffer, new ArrayBuffer(0)]);
    assert.deepEqual([a.bytes.buffer.byteLength, b.bytes.buffer.byteLength, c.bytes.buffer.byteLength], [0, 0, 1]);
  });

  test('reserve: one allocation of exactly the room asked for, the text written so far kept; room already there is not reallocated', () => {
    const t = new JsonBytes();
    const piece = 'éééééééééé'; // 20 bytes; append makes room for 3 bytes per code unit (30)
    const pieces = 70_000; // 1.4 MB: past the first 1 MiB buffer
    const room = pieces * 20 + 10;
    t.append('head ');
    t.reserve(room);
    const buf = t.bytes(0, 0).buffer;
    assert.equal(buf.byteLength, 5 + room);
    for (let i = 0; i < pieces; i++) t.append(piece);
    t.newline();
    // Identity checked with ok(): a failing equal() would print the 1.4 MB buffer.
    assert.ok(t.bytes(0, 0).buffer === buf, 'no growth while writing what was reserved');
    assert.ok(t.read() === `head ${piece.repeat(pieces)}\n`, 'the text before and after the reserve');
    t.reset();
    t.reserve(10);
    assert.ok(t.bytes(0, 0).buffer === buf, 'enough room: kept');
    // The method's own error, not one Buffer.allocUnsafeSlow would also throw.
    for (const n of [-1, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => t.reserve(n), { name: 'RangeError', message: /^JsonBytes\.reserve:/ });
  });

  test('nesting around the depth where JSON.stringify takes over, objects and arrays alternating', () => {
    const t = new JsonBytes();
    for (const depth of [1, 62, 63, 64, 65, 66, 100]) {
      let v: unknown = { leaf: 'x', n: 1, d: new Date(0), j: { toJSON: () => 'j' } };
      for (let i = 0; i < depth; i++) v = i % 2 === 0 ? { k: v, s: 's', gone: { toJSON: () => undefined } } : [v, 'a', { toJSON: () => undefined }];
      assertSame(t, v);
    }
  });

  test('separator bytes are written and overwritten in place; put outside the text is a RangeError', () => {
    const t = new JsonBytes();
    t.byte(0x00);
    t.json({ a: 1 });
    t.byte(0x00);
    const second = t.pos;
    t.json([2]);
    assert.deepEqual([...t.bytes(0, t.pos)], [...Buffer.from('\u0000{"a":1}\u0000[2]')]);
    t.put(second - 1, 0x0a);
    assert.equal(t.text(1, t.pos), '{"a":1}\n[2]');
    assert.throws(() => t.put(t.pos, 0x0a), RangeError);
    assert.throws(() => t.put(-1, 0x0a), RangeError);
  });
});

/** Lines of every parser sample (and the Chinese ones as GB18030 bytes), plus a synthetic mix. */
function inputs(): Buffer[] {
  const out: Buffer[] = [];
  for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort()) {
    for (const c of (JSON.parse(readFileSync(FIXTURES + file, 'utf8')) as { cases: Array<{ line?: string }> }).cases) {
      if (c.line !== undefined) out.push(Buffer.from(c.line, 'utf8'));
    }
  }
  // GB18030 (中文 = D6 D0 CE C4, 财务 = B2 C6 CE F1), undecodable bytes, escapes and controls.
  out.push(Buffer.concat([Buffer.from('<190>Nov 29 2026 08:00:00 CORE-SW01 %%01SHELL/5/CMDRECORD(s)[0]:User '), Buffer.from([0xd6, 0xd0, 0xce, 0xc4, 0xb2, 0xc6, 0xce, 0xf1]), Buffer.from(' login.')]));
  out.push(Buffer.concat([Buffer.from('<38>Nov 28 10:00:01 host app: bad '), Buffer.from([0xff, 0xfe, 0x80]), Buffer.from(' bytes')]));
  out.push(Buffer.from('<38>Nov 28 10:00:01 host app: tab\there "quoted" back\\slash \u0001 ctl 😀 emoji é'));
  const users = ['root', 'admin', '张伟', 'bob"q', 'c\\d'];
  for (let i = 0; i < 20_000; i++) {
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const user = users[i % users.length];
    switch (i % 5) {
      case 0:
        out.push(Buffer.from(`<38>Nov 28 10:00:01 bastion sshd[${i}]: Failed password for ${user} from ${ip} port ${20000 + i} ssh2`));
        break;
      case 1:
        out.push(Buffer.from(`<85>1 2026-11-28T02:00:00.${String(i % 1000).padStart(3, '0')}Z web01 sudo - - - ${user} : TTY=pts/1 ; PWD=/home/x ; USER=root ; COMMAND=/usr/bin/id`));
        break;
      case 2:
        out.push(Buffer.from(`<4>Nov 28 10:00:03 fw01 kernel: IPTABLES-DROP: IN=eth0 OUT= SRC=${ip} DST=192.168.1.10 LEN=60 PROTO=TCP SPT=${1024 + i} DPT=22 SYN`));
        break;
      case 3:
        out.push(Buffer.from(`<190>1 2026-11-28T02:00:00Z web01 nginx - - - ${ip} - - [28/Nov/2026:10:00:04 +0800] "GET /a?q=${user} HTTP/1.1" 200 ${i} "-" "Mozilla/5.0"`));
        break;
      default:
        out.push(Buffer.from(`<189>date=2026-11-28 time=10:00:06 devname="FGT60F" type="traffic" srcip=${ip} dstip=8.8.8.8 action="accept" user="${user}" msg="中文 ${i}"`));
    }
  }
  return out;
}

test('Preparer: documents, ids and integrity leaves are JSON.stringify of the processor\'s events', () => {
  const lines = inputs();
  const peer = { address: '127.0.0.1', port: 40000 };
  const receivedAt = Date.UTC(2026, 10, 28, 2, 0, 5);
  const ctx = (i: number): SourceContext => ({ sourceId: 'syslog-tcp', transport: 'tcp', peer, receivedAt, timezone: 'Asia/Shanghai', eventId: `id-${i}` });
  const proc = createProcessor({ charset: 'auto', timezone: 'Asia/Shanghai', metrics: newSourceMetrics('syslog-tcp'), normalise });
  const expected: EcsEvent[] = lines.map((b, i) => proc(b, ctx(i)));
  const preparer = new Preparer('vendor', () => receivedAt, true);
  const STEP = 4096;
  for (let s = 0; s < lines.length; s += STEP) {
    const frames = lines.slice(s, s + STEP).map((b, k) => new RawFrame(b, ctx(s + k), 'auto'));
    const { data, meta } = encodeFrames(frames);
    const step = preparer.prepare([{ seq: 1 + s / STEP, appendedAt: receivedAt, count: frames.length, data: '', kind: 'frames', frames: data, meta }])!;
    const docs = expected.slice(s, s + STEP).map((e) => JSON.stringify(e));
    assert.equal(step.batches[0]!.data, docs.join('\n'));
    assert.deepEqual(step.ids, expected.slice(s, s + STEP).map((e) => e.id));
    const leaves = Buffer.concat(docs.map((d) => leafHashText(d)));
    assert.ok(Buffer.from(step.leafHashes!).equals(leaves), `leaves of step ${s / STEP}`);
  }
});
