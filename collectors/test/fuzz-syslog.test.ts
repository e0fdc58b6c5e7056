import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StreamFramer } from '../src/syslog/framing.js';
import { parseSyslog } from '../src/syslog/parse.js';
import { baselineNormalise } from '../src/syslog/normalise.js';
import { decodeBytes } from '../src/charset.js';
import { CollectorError } from '../src/errors.js';

const RECV = Date.UTC(2026, 10, 29, 2);
const syslogish = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc
    .tuple(
      fc.constantFrom('<13>', '<191>', '<0>', '<192>', '<01>', '<', '', '<abc>', '<13'),
      fc.constantFrom('1 ', '2 ', 'Nov 29 10:00:00 ', 'Feb 29 10:00:00 ', 'Nov 29 2026 10:00:00 ', '123: *Mar  1 18:46:11.123 UTC: ', '2026-11-29T10:00:00Z ', '1 - ', ''),
      fc.string({ maxLength: 80 }),
      fc.constantFrom('', ' [a@1 x="\\"]', ' [', '[x y="', ' - \uFEFF', ' host app[1]: '),
      fc.uint8Array({ maxLength: 20 }),
    )
    .map(([a, b, c, d, e]) => Buffer.concat([Buffer.from(a + b + c + d), Buffer.from(e)])),
);

test('parsers: any bytes give a message, never a throw; text is kept', () => {
  fc.assert(
    fc.property(syslogish, fc.constantFrom('utf-8', 'gbk', 'auto', 'latin1') as fc.Arbitrary<'utf-8' | 'gbk' | 'auto' | 'latin1'>, (bytes, charset) => {
      const m = parseSyslog(bytes, { receivedAt: RECV, timezone: 'Asia/Shanghai', charset });
      assert.equal(m.raw, decodeBytes(bytes, charset).text, 'the whole message is kept decoded');
      if (m.lossy) assert.deepEqual(Buffer.from(m.rawBase64!, 'base64'), Buffer.from(bytes));
      else if (m.charset === 'utf-8') assert.deepEqual(Buffer.from(m.raw, 'utf8'), Buffer.from(bytes), 'lossless');
      if (m.format === 'unparsed') assert.ok(m.raw.endsWith(m.msg) || m.msg === m.raw);
      if (m.time.device !== undefined) assert.ok(Number.isFinite(m.time.device));
      if (m.priValid) assert.ok(m.pri! >= 0 && m.pri! <= 191);
      const ev = baselineNormalise(m, { sourceId: 'f', transport: 'tcp', receivedAt: RECV, timezone: 'Asia/Shanghai', eventId: 'id' });
      assert.equal(ev.event.original, m.raw);
      assert.ok(!Number.isNaN(Date.parse(ev['@timestamp'])));
    }),
    { numRuns: 3000 },
  );
});

/** Feeds `data` cut at the given offsets, then ends the stream; returns the frames' bytes. */
function feedAt(f: StreamFramer, data: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts.map((x) => Math.min(x, data.length)).sort((a, b) => a - b), data.length]) {
    for (const fr of f.push(data.subarray(prev, c))) out.push(Buffer.from(fr.bytes));
    prev = c;
  }
  for (const fr of f.end()) out.push(Buffer.from(fr.bytes));
  return out;
}

test('LF framer: frames equal the input split on LF/NUL (CR trimmed), for any chunking', () => {
  const noCr = fc.uint8Array({ maxLength: 400 }).map((b) => b.map((x) => (x === 0x0d ? 0x20 : x)));
  fc.assert(
    fc.property(noCr, fc.array(fc.nat(400), { maxLength: 6 }), (bytes, cuts) => {
      const data = Buffer.concat([Buffer.from('<'), Buffer.from(bytes)]);
      const out = feedAt(new StreamFramer({ maxMessageSize: 1024, mode: 'lf' }), data, cuts);
      const expected: Buffer[] = [];
      let s = 0;
      for (let i = 0; i <= data.length; i++) {
        if (i === data.length || data[i] === 0x0a || data[i] === 0x00) {
          if (i > s) expected.push(data.subarray(s, i));
          s = i + 1;
        }
      }
      assert.deepEqual(out, expected);
    }),
    { numRuns: 2000 },
  );
});

test('octet-counting framer: round trip of random messages at random chunkings', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { maxLength: 8 }), fc.array(fc.nat(2000), { maxLength: 8 }), (msgs, cuts) => {
      // Messages must not end in a trailer byte, which the framer strips by design.
      const ms = msgs.map((m) => Buffer.concat([Buffer.from(m), Buffer.from('.')]));
      const data = Buffer.concat(ms.flatMap((m) => [Buffer.from(`${m.length} `), m]));
      const out = feedAt(new StreamFramer({ maxMessageSize: 4096, mode: 'octet-counting' }), data, cuts);
      assert.deepEqual(out, ms);
    }),
    { numRuns: 1000 },
  );
});

test('framers on garbage: only typed errors, bounded frames, and every byte framed or counted', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), fc.constantFrom('auto', 'lf', 'octet-counting') as fc.Arbitrary<'auto' | 'lf' | 'octet-counting'>, (bytes, mode) => {
      const f = new StreamFramer({ maxMessageSize: 64, mode, onInvalid: (e) => assert.ok(e instanceof CollectorError) });
      const frames = [...f.push(bytes.subarray(0, 700)), ...f.push(bytes.subarray(700)), ...f.end()];
      for (const fr of frames) assert.ok(fr.bytes.length <= 64);
      const framed = frames.reduce((n, fr) => n + fr.bytes.length, 0);
      assert.ok(framed + f.stats.skippedBytes <= bytes.length);
    }),
    { numRuns: 2000 },
  );
});

test('normalised timestamps equal Date#toISOString for any representable instant', () => {
  fc.assert(
    fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), fc.integer({ min: 0, max: 5 }), (t, k) => {
      // Nearby instants share cache slots: check a small run around t.
      for (let i = 0; i < k + 1; i++) {
        const at = Math.min(8.64e15, t + i * 777);
        const ev = baselineNormalise(parseSyslog(Buffer.from('<13>x'), { receivedAt: at }), { sourceId: 'f', transport: 'tcp', receivedAt: at, timezone: 'UTC', eventId: 'id' });
        assert.equal(ev['@timestamp'], new Date(at).toISOString());
      }
    }),
    { numRuns: 3000 },
  );
});
