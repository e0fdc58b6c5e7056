import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { sm3 } from '../src/sm3.js';
import { sm3Many, sm3ManyInto, sm3ManyPackedInto, sm3ManyRef } from '../src/sm3-many.js';
import { bytesToHex, utf8ToBytes } from '../src/bytes.js';

// Node's OpenSSL SM3 is an independent implementation: the expected values come from it.
const node = (m: Uint8Array): string => createHash('sm3').update(m).digest('hex');

function check(messages: Uint8Array[]): void {
  const got = sm3Many(messages).map(bytesToHex);
  assert.equal(got.length, messages.length);
  assert.deepEqual(got, messages.map(node));
  assert.deepEqual(got, messages.map((m) => bytesToHex(sm3(m))));
  assert.deepEqual(sm3ManyRef(messages).map(bytesToHex), got);
  const into = new Uint8Array(32 * messages.length + 5).fill(0xee);
  sm3ManyInto(messages, into);
  assert.equal(bytesToHex(into.subarray(0, 32 * messages.length)), got.join(''));
  assert.equal(bytesToHex(into.subarray(32 * messages.length)), 'eeeeeeeeee');
  // The same messages back to back in one buffer (a view into a larger one, with bytes after).
  const ends: number[] = [];
  let at = 0;
  for (const m of messages) ends.push((at += m.length));
  const data = new Uint8Array(at + 10).fill(0x5a).subarray(3, 3 + at);
  at = 0;
  for (const m of messages) {
    data.set(m, at);
    at += m.length;
  }
  const packed = new Uint8Array(32 * messages.length + 3).fill(0xee);
  sm3ManyPackedInto(data, Uint32Array.from(ends), packed);
  assert.equal(bytesToHex(packed.subarray(0, 32 * messages.length)), got.join(''));
  assert.equal(bytesToHex(packed.subarray(32 * messages.length)), 'eeeeee');
}

const filled = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 17 + 7) & 0xff);

describe('sm3Many', () => {
  test('GB/T 32905 example "abc" in every lane', () => {
    const d = sm3Many([utf8ToBytes('abc'), utf8ToBytes('abc'), utf8ToBytes('abc'), utf8ToBytes('abc'), utf8ToBytes('abc')]);
    for (const x of d) assert.equal(bytesToHex(x), '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0');
  });
  test('empty batch', () => {
    assert.deepEqual(sm3Many([]), []);
    assert.deepEqual(sm3ManyRef([]), []);
  });
  test('1..9 messages (not a multiple of 4), mixed lengths', () => {
    for (let n = 1; n <= 9; n++) check(Array.from({ length: n }, (_, i) => filled((i * 37) % 150, n + i)));
  });
  test('sizes around the padding and block boundaries, in every lane position', () => {
    const sizes = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 121, 127, 128, 129, 183, 184, 300];
    check(sizes.map((s, i) => filled(s, i)));
    // Each size once per lane, beside lanes of a different block count.
    for (const s of sizes) for (let lane = 0; lane < 4; lane++) check([0, 1, 2, 3].map((l) => filled(l === lane ? s : 300 - s, l)));
  });
  test('random batches of 0..300-byte messages', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { maxLength: 40 }), (ms) => check(ms)),
      { numRuns: 200 },
    );
  });
  test('batches that do not fit one kernel call: more messages than slots, more bytes than io, a message above 64 KiB', () => {
    check(Array.from({ length: 4100 }, (_, i) => filled(i % 70, i)));
    check(Array.from({ length: 300 }, (_, i) => filled(250 + (i % 7), i)));
    check([filled(10, 1), filled(65536, 2), filled(65537, 3), filled(200, 4), filled(70000, 5)]);
  });
  test('subarray views and the input untouched', () => {
    const buf = filled(400, 9);
    const ms = [buf.subarray(3, 70), buf.subarray(100, 100), buf.subarray(1, 399)];
    const before = bytesToHex(buf);
    check(ms);
    assert.equal(bytesToHex(buf), before);
  });
  test('misuse throws TypeError', () => {
    assert.throws(() => sm3Many('abc' as unknown as Uint8Array[]), TypeError);
    assert.throws(() => sm3Many([new Uint8Array(1), [1, 2] as unknown as Uint8Array]), TypeError);
    assert.throws(() => sm3ManyRef([null as unknown as Uint8Array]), TypeError);
    assert.throws(() => sm3ManyInto([new Uint8Array(1), new Uint8Array(2)], new Uint8Array(63)), RangeError);
    assert.throws(() => sm3ManyInto([], [] as unknown as Uint8Array), TypeError);
    assert.throws(() => sm3ManyPackedInto(new Uint8Array(4), [2, 1], new Uint8Array(64)), RangeError);
    assert.throws(() => sm3ManyPackedInto(new Uint8Array(4), [2, 5], new Uint8Array(64)), RangeError);
    assert.throws(() => sm3ManyPackedInto(new Uint8Array(4), [1.5], new Uint8Array(32)), RangeError);
    assert.throws(() => sm3ManyPackedInto(new Uint8Array(4), [2, 4], new Uint8Array(63)), RangeError);
    assert.throws(() => sm3ManyPackedInto([1, 2] as unknown as Uint8Array, [1], new Uint8Array(32)), TypeError);
  });
});
