import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { makeSm3 } from '../src/sm3.js';
import { sm3RefKernel } from '../src/sm3-ref.js';
import { sm3WasmKernel } from '../src/sm3-wasm.js';
import { makeHmacSm3, hmacSm3, createHmacSm3 } from '../src/hmac.js';
import { bytesToHex, hexToBytes } from '../src/bytes.js';

const shared = process.env.XIANGAN_SHARED ?? resolve(fileURLToPath(import.meta.url), '../../../../../shared');
const file = JSON.parse(readFileSync(join(shared, 'vectors', 'hmac-sm3.json'), 'utf8')) as {
  vectors: { id: string; key: string; msg: string; mac: string; mac_bits: number; expect: 'accept' | 'reject' | 'either' }[];
};

for (const kernel of [sm3WasmKernel, sm3RefKernel]) {
  const { hmac, create } = makeHmacSm3(makeSm3(kernel));
  describe(`HMAC-SM3 Wycheproof vectors (${kernel.name} kernel)`, () => {
    assert.ok(file.vectors.length >= 174);
    for (const v of file.vectors) {
      test(`${v.id} (${v.expect})`, () => {
        const key = hexToBytes(v.key);
        const msg = hexToBytes(v.msg);
        // Truncated tags are the leftmost mac_bits of the full MAC.
        const full = bytesToHex(hmac(key, msg));
        const got = full.slice(0, Number(v.mac_bits) / 4);
        if (v.expect === 'accept') assert.equal(got, v.mac);
        else if (v.expect === 'reject') assert.notEqual(got, v.mac);
        const s = create(key);
        for (let i = 0; i < msg.length; i += 5) s.update(msg.subarray(i, i + 5));
        assert.equal(bytesToHex(s.digest()), full);
      });
    }
  });
}

describe('HMAC-SM3 against node:crypto', () => {
  test('random keys 0..200 bytes (block-size boundaries) and messages 0..300 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 300 }), (key, msg) => {
        const want = createHmac('sm3', key).update(msg).digest('hex');
        assert.equal(bytesToHex(hmacSm3(key, msg)), want);
        const h = createHmacSm3(key);
        h.update(msg.subarray(0, 17));
        const c = h.clone();
        h.update(msg.subarray(17));
        c.update(msg.subarray(17));
        assert.equal(bytesToHex(h.digest()), want);
        assert.equal(bytesToHex(c.digest()), want);
      }),
      { numRuns: 250 },
    );
  });
  test('misuse', () => {
    assert.throws(() => hmacSm3('k' as unknown as Uint8Array, new Uint8Array(0)), TypeError);
    const h = createHmacSm3(new Uint8Array(3));
    h.digest();
    assert.throws(() => h.digest(), /already/);
  });
});
