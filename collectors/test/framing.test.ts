import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { StreamFramer, datagramFrame } from '../src/syslog/framing.js';

const enc = (s: string): Buffer => Buffer.from(s, 'utf8');
const texts = (frames: { bytes: Uint8Array }[]): string[] => frames.map((f) => Buffer.from(f.bytes).toString('utf8'));

function feedSplit(f: StreamFramer, data: Buffer, cuts: number[]): string[] {
  const out: string[] = [];
  let prev = 0;
  for (const c of [...cuts, data.length]) {
    out.push(...texts(f.push(data.subarray(prev, c))));
    prev = c;
  }
  out.push(...texts(f.end()));
  return out;
}

describe('RFC 6587 octet counting', () => {
  const msgs = ['<13>1 2026-11-29T10:00:00Z h a - - - hello', '<14>Nov 29 10:00:00 host app: 中文 message', '<15>x'];
  const stream = Buffer.concat(msgs.map((m) => Buffer.concat([enc(`${Buffer.byteLength(m)} `), enc(m)])));

  test('detected from the first byte and split correctly at every chunk boundary', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const f = new StreamFramer({ maxMessageSize: 1024 });
      assert.deepEqual(feedSplit(f, stream, [cut]), msgs, `cut at ${cut}`);
      assert.equal(f.framing, 'octet-counting');
    }
  });

  test('byte-by-byte feeding yields the same frames', () => {
    const f = new StreamFramer({ maxMessageSize: 1024 });
    const cuts = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
    assert.deepEqual(feedSplit(f, stream, cuts), msgs);
  });

  test('a frame longer than the maximum is truncated and counted, the next frame is intact', () => {
    const long = '<13>' + 'A'.repeat(100);
    const data = enc(`${long.length} ${long}5 <14>b`);
    const f = new StreamFramer({ maxMessageSize: 32 });
    const frames = [...f.push(data.subarray(0, 50)), ...f.push(data.subarray(50)), ...f.end()];
    assert.equal(frames.length, 2);
    assert.equal(frames[0]!.truncated, true);
    assert.equal(Buffer.from(frames[0]!.bytes).toString(), long.slice(0, 32));
    assert.equal(Buffer.from(frames[1]!.bytes).toString(), '<14>b');
    assert.equal(f.stats.truncated, 1);
    assert.equal(f.stats.skippedBytes, long.length - 32);
  });

  test('a malformed header falls back to LF framing without losing bytes', () => {
    const f = new StreamFramer({ maxMessageSize: 1024, mode: 'octet-counting' });
    let invalid = 0;
    const g = new StreamFramer({ maxMessageSize: 1024, mode: 'octet-counting', onInvalid: (e) => { assert.equal(e.code, 'COL_ERR_FRAME_INVALID'); invalid++; } });
    assert.deepEqual(feedSplit(f, enc('12x <13>hello\n<14>next\n'), []), ['12x <13>hello', '<14>next']);
    assert.deepEqual(feedSplit(g, enc('1234567890123 <13>hello\n'), []), ['1234567890123 <13>hello']);
    assert.equal(invalid, 1);
    assert.equal(f.stats.invalidHeaders, 1);
  });

  test('a stream cut inside a frame keeps the partial bytes on end()', () => {
    const f = new StreamFramer({ maxMessageSize: 1024 });
    const frames = [...f.push(enc('20 <13>short')), ...f.end()];
    assert.equal(frames.length, 1);
    assert.equal(Buffer.from(frames[0]!.bytes).toString(), '<13>short');
    assert.equal(frames[0]!.truncated, true);
  });
});

describe('RFC 6587 non-transparent framing', () => {
  test('LF, CRLF and NUL trailers, across chunk boundaries', () => {
    const data = enc('<13>one\n<13>two\r\n<13>three\0<13>four\n\n');
    for (let cut = 0; cut <= data.length; cut++) {
      const f = new StreamFramer({ maxMessageSize: 1024 });
      assert.deepEqual(feedSplit(f, data, [cut]), ['<13>one', '<13>two', '<13>three', '<13>four'], `cut at ${cut}`);
      assert.equal(f.framing, 'lf');
    }
  });

  test('a last line without LF is delivered at end of stream', () => {
    const f = new StreamFramer({ maxMessageSize: 1024 });
    assert.deepEqual(feedSplit(f, enc('<13>a\n<13>b'), []), ['<13>a', '<13>b']);
  });

  test('an over-long line is cut, memory stays bounded, the following line survives', () => {
    const f = new StreamFramer({ maxMessageSize: 64 });
    const out: { bytes: Uint8Array; truncated: boolean }[] = [];
    out.push(...f.push(enc('<13>' + 'x'.repeat(40))));
    for (let i = 0; i < 100; i++) out.push(...f.push(enc('y'.repeat(1000))));
    out.push(...f.push(enc('tail\n<14>after\n')));
    out.push(...f.end());
    assert.equal(out.length, 2);
    assert.equal(out[0]!.truncated, true);
    assert.equal(out[0]!.bytes.length, 64);
    assert.equal(Buffer.from(out[1]!.bytes).toString(), '<14>after');
    assert.equal(f.stats.truncated, 1);
  });
});

test('datagramFrame trims trailers and truncates', () => {
  assert.equal(Buffer.from(datagramFrame(enc('<13>hi\r\n'), 100).bytes).toString(), '<13>hi');
  const t = datagramFrame(enc('<13>' + 'z'.repeat(50)), 20);
  assert.equal(t.truncated, true);
  assert.equal(t.bytes.length, 20);
});

test('misuse: a tiny maximum size is a RangeError', () => {
  assert.throws(() => new StreamFramer({ maxMessageSize: 1 }), RangeError);
});
