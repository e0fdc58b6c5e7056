import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { pbkdf2Sync, hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { makeSm3 } from '../src/sm3.js';
import { sm3RefKernel } from '../src/sm3-ref.js';
import { sm3WasmKernel } from '../src/sm3-wasm.js';
import { makeKdfs, hkdfSm3, pbkdf2HmacSm3, sm2Kdf } from '../src/kdf.js';
import { bytesToHex, hexToBytes } from '../src/bytes.js';

const shared = process.env.XIANGAN_SHARED ?? resolve(fileURLToPath(import.meta.url), '../../../../../shared');
interface V {
  id: string; kdf: 'sm2-kdf' | 'pbkdf2-hmac-sm3' | 'hkdf-sm3'; expect: string; output: string;
  z?: string; klen_bytes?: number; password?: string; salt?: string; iterations?: number; dklen_bytes?: number;
  ikm?: string; info?: string; length_bytes?: number;
}
const file = JSON.parse(readFileSync(join(shared, 'vectors', 'kdf.json'), 'utf8')) as { vectors: V[] };

for (const kernel of [sm3WasmKernel, sm3RefKernel]) {
  const k = makeKdfs(makeSm3(kernel), kernel);
  describe(`KDF vectors (${kernel.name} kernel)`, () => {
    assert.ok(file.vectors.length >= 151);
    for (const v of file.vectors) {
      test(`${v.id} (${v.kdf})`, () => {
        const run = (): Uint8Array => {
          if (v.kdf === 'sm2-kdf') return k.sm2Kdf(hexToBytes(v.z!), Number(v.klen_bytes));
          if (v.kdf === 'pbkdf2-hmac-sm3') return k.pbkdf2HmacSm3(hexToBytes(v.password!), hexToBytes(v.salt!), Number(v.iterations), Number(v.dklen_bytes));
          return k.hkdfSm3(hexToBytes(v.ikm!), hexToBytes(v.salt!), hexToBytes(v.info!), Number(v.length_bytes));
        };
        if (v.expect === 'reject') {
          let out: Uint8Array | undefined;
          try { out = run(); } catch { return; }
          assert.notEqual(bytesToHex(out), v.output);
        } else {
          assert.equal(bytesToHex(run()), v.output);
        }
      });
    }
  });
}

describe('KDFs against node:crypto', () => {
  test('PBKDF2-HMAC-SM3 = pbkdf2Sync(sm3), random inputs', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 100 }), (p, s, it, len) => {
        assert.equal(bytesToHex(pbkdf2HmacSm3(p, s, it, len)), pbkdf2Sync(p, s, it, len, 'sm3').toString('hex'));
      }),
      { numRuns: 200 },
    );
  });
  test('HKDF-SM3 = hkdfSync(sm3), random inputs', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 60 }), fc.integer({ min: 1, max: 300 }), (ikm, salt, info, len) => {
        const want = Buffer.from(hkdfSync('sm3', ikm, salt, info, len)).toString('hex');
        assert.equal(bytesToHex(hkdfSm3(ikm, salt, info, len)), want);
      }),
      { numRuns: 200 },
    );
  });
  test('SM2 KDF is SM3(Z ‖ ct) with a big-endian counter from 1', () => {
    const z = new Uint8Array(64).fill(7);
    const out = sm2Kdf(z, 70);
    assert.equal(out.length, 70);
    assert.deepEqual(out.subarray(0, 32), makeSm3(sm3RefKernel)(Uint8Array.from([...z, 0, 0, 0, 1])));
    assert.deepEqual(out.subarray(64), makeSm3(sm3RefKernel)(Uint8Array.from([...z, 0, 0, 0, 3])).subarray(0, 6));
    assert.equal(sm2Kdf(z, 0).length, 0);
  });
  test('misuse: RangeError / TypeError', () => {
    assert.throws(() => sm2Kdf(new Uint8Array(1), -1), RangeError);
    assert.throws(() => sm2Kdf(new Uint8Array(1), 1.5), TypeError);
    assert.throws(() => pbkdf2HmacSm3(new Uint8Array(1), new Uint8Array(1), 0, 16), RangeError);
    assert.throws(() => hkdfSm3(new Uint8Array(1), undefined, undefined, 255 * 32 + 1), RangeError);
    assert.equal(hkdfSm3(new Uint8Array(1), undefined, undefined, 255 * 32).length, 8160);
  });
});
