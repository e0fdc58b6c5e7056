import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { makeSm3, sm3 } from '../src/sm3.js';
import { sm3RefKernel } from '../src/sm3-ref.js';
import { sm3WasmKernel, sm3Module } from '../src/sm3-wasm.js';
import { bytesToHex, hexToBytes } from '../src/bytes.js';

const shared = process.env.XIANGAN_SHARED ?? resolve(fileURLToPath(import.meta.url), '../../../../../shared');
const file = JSON.parse(readFileSync(join(shared, 'vectors', 'sm3.json'), 'utf8')) as {
  vectors: { id: string; msg?: string; msg_repeat?: { byte?: string; repeat?: string; count: number }; digest: string }[];
};

function message(v: (typeof file.vectors)[number]): Uint8Array {
  if (v.msg_repeat) {
    const r = v.msg_repeat;
    const hex = r.byte ?? r.repeat ?? '';
    const b = hex.length === 2 ? parseInt(hex, 16) : hex.charCodeAt(0);
    return new Uint8Array(r.count).fill(b);
  }
  return hexToBytes(v.msg ?? '');
}

const impls = [makeSm3(sm3WasmKernel), makeSm3(sm3RefKernel)].map((h, i) => ({ name: i === 0 ? 'wasm' : 'ref', h }));

for (const { name, h } of impls) {
  describe(`SM3 vectors (${name} kernel)`, () => {
    assert.ok(file.vectors.length >= 17);
    for (const v of file.vectors) {
      test(v.id, () => {
        const m = message(v);
        assert.equal(bytesToHex(h(m)), v.digest);
        // Streaming in uneven pieces must agree with one-shot.
        const s = h.create();
        for (let off = 0, step = 1; off < m.length; off += step, step = (step * 7 + 3) % 1000 + 1) s.update(m.subarray(off, off + step));
        assert.equal(bytesToHex(s.digest()), v.digest);
      });
    }
  });
}

describe('SM3 API', () => {
  test('CHash shape and clone', () => {
    assert.equal(sm3.outputLen, 32);
    assert.equal(sm3.blockLen, 64);
    const a = sm3.create().update(new Uint8Array([1, 2, 3]));
    const b = a.clone();
    a.update(new Uint8Array([4]));
    assert.equal(bytesToHex(b.digest()), bytesToHex(sm3(new Uint8Array([1, 2, 3]))));
    assert.equal(bytesToHex(a.digest()), bytesToHex(sm3(new Uint8Array([1, 2, 3, 4]))));
    const out = new Uint8Array(32);
    sm3.create().digestInto(out);
    assert.deepEqual(out, sm3(new Uint8Array(0)));
  });
  test('misuse throws TypeError / Error', () => {
    assert.throws(() => sm3('abc' as unknown as Uint8Array), TypeError);
    assert.throws(() => sm3.create().update([1] as unknown as Uint8Array), TypeError);
    const s = sm3.create();
    s.digest();
    assert.throws(() => s.digest(), /already/);
    assert.throws(() => s.update(new Uint8Array(1)), /already/);
  });
  test('wasm = reference = node:crypto over random inputs 0..300 bytes, random chunking', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.array(fc.integer({ min: 1, max: 70 }), { maxLength: 10 }), (m, cuts) => {
        const want = createHash('sm3').update(m).digest('hex');
        assert.equal(bytesToHex(sm3WasmKernel.digest(m)), want);
        assert.equal(bytesToHex(sm3RefKernel.digest(m)), want);
        const s = sm3.create();
        let off = 0;
        for (const c of cuts) { s.update(m.subarray(off, off + c)); off += c; }
        s.update(m.subarray(Math.min(off, m.length)));
        assert.equal(bytesToHex(s.digest()), want);
      }),
      { numRuns: 300 },
    );
  });
  test('short-message kernel (sm3_finish): every length 0..200 and at the I/O limit matches node:crypto, ignores stale bytes past the message, wipes its input', () => {
    // sm3_finish reads whole 16-byte vectors past the message and masks them: fill io with 0xff
    // first so a masking error would show in the digest.
    const ex = sm3Module.exports();
    const io = ex.io_ptr();
    for (const n of [...Array.from({ length: 201 }, (_, i) => i), 65536 - 1, 65536]) {
      const m = new Uint8Array(n).map((_, i) => (i * 131 + n) & 0xff);
      new Uint8Array(ex.memory.buffer).fill(0xff, io, io + 65536 + 128);
      new Uint8Array(ex.memory.buffer).set(m, io);
      ex.sm3_finish(n, 0, n, 1);
      const mem = new Uint8Array(ex.memory.buffer);
      assert.equal(bytesToHex(mem.slice(io, io + 32)), createHash('sm3').update(m).digest('hex'), `length ${n}`);
      // The digest occupies io[0..32); every input byte after it is zero (crypto/wasm/README.md rule 6).
      assert.ok(mem.subarray(io + 32, io + Math.max(32, n)).every((b) => b === 0), `input wiped, length ${n}`);
    }
    new Uint8Array(ex.memory.buffer).fill(0, io, io + 65536 + 128);
  });
  test('inputs larger than the wasm I/O region (chunked) match node:crypto', () => {
    for (const n of [65535, 65536, 65537, 65536 * 2 + 63, 200_000]) {
      const m = new Uint8Array(n).map((_, i) => (i * 31 + 7) & 0xff);
      assert.equal(bytesToHex(sm3(m)), createHash('sm3').update(m).digest('hex'), `length ${n}`);
      assert.equal(bytesToHex(sm3.create().update(m.subarray(0, 1)).update(m.subarray(1)).digest()), createHash('sm3').update(m).digest('hex'));
    }
  });
});
