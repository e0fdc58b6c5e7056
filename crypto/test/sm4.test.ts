import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { makeSm4, type Sm4Suite } from '../src/sm4/modes.js';
import { sm4RefKernel } from '../src/sm4/ref.js';
import { sm4WasmKernel, sm4Module } from '../src/sm4/wasm.js';
import type { Sm4Kernel } from '../src/sm4/kernel.js';
import { bytesToHex, hexToBytes } from '../src/bytes.js';
import { CryptoError } from '../src/errors.js';

const shared = process.env.XIANGAN_SHARED ?? resolve(fileURLToPath(import.meta.url), '../../../../../shared');
const load = <T>(name: string): { vectors: T[] } => JSON.parse(readFileSync(join(shared, 'vectors', name), 'utf8')) as { vectors: T[] };

interface BlockV { id: string; key: string; plaintext: string; ciphertext: string; iterations?: number; round_keys?: string[] }
interface ModeV {
  id: string; mode: string; key: string; iv?: string; aad?: string; plaintext?: string; ciphertext: string; tag?: string;
  padding?: 'none' | 'pkcs7'; xts_variant?: 'GB' | 'IEEE'; tag_bits?: number; expect?: 'accept' | 'reject' | 'either';
}
const blockFile = load<BlockV>('sm4.json');
const modeFiles = ['sm4-modes.json', 'sm4-gcm-wycheproof.json', 'sm4-ccm-wycheproof.json'].map((f) => ({ f, vectors: load<ModeV>(f).vectors }));

const h = hexToBytes;
const hex = bytesToHex;

/** Rejection must be a typed error (CryptoError) or a misuse error for invalid parameters. */
function assertRejects(fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => e instanceof CryptoError || e instanceof RangeError);
}

function encryptV(s: Sm4Suite, v: ModeV): Uint8Array {
  const key = h(v.key), iv = h(v.iv ?? ''), pt = h(v.plaintext ?? ''), aad = h(v.aad ?? '');
  const padding = v.padding ?? 'none';
  const tagLength = v.tag ? v.tag.length / 2 : 16;
  switch (v.mode) {
    case 'ecb': return s.unsafeSm4EcbEncrypt(key, pt, { padding });
    case 'cbc': return s.sm4CbcEncrypt(key, iv, pt, { padding });
    case 'ctr': return s.sm4CtrEncrypt(key, iv, pt);
    case 'cfb': return s.sm4CfbEncrypt(key, iv, pt);
    case 'ofb': return s.sm4OfbEncrypt(key, iv, pt);
    case 'gcm': return s.sm4GcmEncrypt(key, iv, pt, { aad, tagLength });
    case 'ccm': return s.sm4CcmEncrypt(key, iv, pt, { aad, tagLength });
    case 'xts': return s.sm4XtsEncrypt(key, iv, pt, { variant: v.xts_variant === 'IEEE' ? 'ieee' : 'gb' });
    default: throw new Error(`unknown mode ${v.mode}`);
  }
}
function decryptV(s: Sm4Suite, v: ModeV): Uint8Array {
  const key = h(v.key), iv = h(v.iv ?? ''), aad = h(v.aad ?? '');
  const ct = h(v.ciphertext + (v.tag ?? ''));
  const padding = v.padding ?? 'none';
  const tagLength = v.tag ? v.tag.length / 2 : 16;
  switch (v.mode) {
    case 'ecb': return s.unsafeSm4EcbDecrypt(key, ct, { padding });
    case 'cbc': return s.sm4CbcDecrypt(key, iv, ct, { padding });
    case 'ctr': return s.sm4CtrDecrypt(key, iv, ct);
    case 'cfb': return s.sm4CfbDecrypt(key, iv, ct);
    case 'ofb': return s.sm4OfbDecrypt(key, iv, ct);
    case 'gcm': return s.sm4GcmDecrypt(key, iv, ct, { aad, tagLength });
    case 'ccm': return s.sm4CcmDecrypt(key, iv, ct, { aad, tagLength });
    case 'xts': return s.sm4XtsDecrypt(key, iv, ct, { variant: v.xts_variant === 'IEEE' ? 'ieee' : 'gb' });
    default: throw new Error(`unknown mode ${v.mode}`);
  }
}

const kernels: Sm4Kernel[] = [sm4WasmKernel, sm4RefKernel];

for (const k of kernels) {
  const s = makeSm4(k);
  describe(`SM4 block vectors (${k.name} kernel)`, () => {
    for (const v of blockFile.vectors) {
      test(v.id, () => {
        const key = h(v.key);
        if (v.round_keys) assert.deepEqual([...k.expandKey(key, false)].map((x) => x.toString(16).padStart(8, '0')), v.round_keys);
        const rk = k.expandKey(key, false);
        let b = h(v.plaintext);
        // GB/T 32907 example 2 encrypts the same block 1,000,000 times.
        const n = Number(v.iterations ?? 1);
        for (let i = 0; i < n; i++) b = k.ecb(rk, b);
        assert.equal(hex(b), v.ciphertext);
        if (n === 1) assert.equal(hex(k.ecb(k.expandKey(key, true), b)), v.plaintext);
      });
    }
  });
  for (const { f, vectors } of modeFiles) {
    describe(`${f} (${k.name} kernel)`, () => {
      for (const v of vectors) {
        const expect = v.expect ?? 'accept';
        test(`${v.id} (${expect})`, () => {
          if (expect === 'accept') {
            assert.equal(hex(encryptV(s, v)), v.ciphertext + (v.tag ?? ''));
            assert.equal(hex(decryptV(s, v)), v.plaintext ?? '');
          } else if (expect === 'reject') {
            assertRejects(() => decryptV(s, v));
          } else {
            // 'either': accepting or refusing are both fine, but only with the right output or a typed error.
            try {
              assert.equal(hex(decryptV(s, v)), v.plaintext ?? '');
            } catch (e) {
              assert.ok(e instanceof CryptoError || e instanceof RangeError, String(e));
            }
          }
        });
      }
    });
  }
}

const [W, R] = kernels.map((k) => makeSm4(k));
const key16 = fc.uint8Array({ minLength: 16, maxLength: 16 });
const data300 = fc.uint8Array({ maxLength: 300 });

describe('SM4: wasm kernel = reference kernel (fast-check, 0..300 bytes)', () => {
  test('ECB/CBC/CTR/CFB/OFB/GCM/CCM/XTS', () => {
    fc.assert(
      fc.property(key16, key16, data300, fc.uint8Array({ maxLength: 40 }), (key, iv, data, aad) => {
        const whole = data.subarray(0, data.length & ~15);
        const same = (f: (s: Sm4Suite) => Uint8Array): void => assert.equal(hex(f(W)), hex(f(R)));
        same((s) => s.unsafeSm4EcbEncrypt(key, data, { padding: 'pkcs7' }));
        same((s) => s.unsafeSm4EcbDecrypt(key, whole, { padding: 'none' }));
        same((s) => s.sm4CbcEncrypt(key, iv, data, { padding: 'pkcs7' }));
        same((s) => s.sm4CbcDecrypt(key, iv, whole, { padding: 'none' }));
        same((s) => s.sm4CtrEncrypt(key, iv, data));
        same((s) => s.sm4CfbEncrypt(key, iv, data));
        same((s) => s.sm4CfbDecrypt(key, iv, data));
        same((s) => s.sm4OfbEncrypt(key, iv, data));
        same((s) => s.sm4GcmEncrypt(key, iv.subarray(0, 12), data, { aad }));
        same((s) => s.sm4GcmEncrypt(key, iv.subarray(0, 1 + (data.length % 16)), data, { aad, tagLength: 12 }));
        same((s) => s.sm4CcmEncrypt(key, iv.subarray(0, 7 + (data.length % 7)), data, { aad, tagLength: 4 + 2 * (data.length % 7) }));
        if (data.length >= 16) same((s) => s.sm4XtsEncrypt(Uint8Array.from([...key, ...iv]), iv, data, { variant: data.length % 2 ? 'gb' : 'ieee' }));
      }),
      { numRuns: 250 },
    );
  });
  test('round trips, including across the 64 KiB wasm I/O region', () => {
    const key = new Uint8Array(16).fill(3), iv = new Uint8Array(16).fill(0xfe);
    for (const n of [0, 1, 15, 16, 17, 127, 128, 129, 65535, 65536, 65537, 200_003]) {
      const d = new Uint8Array(n).map((_, i) => (i * 13) & 0xff);
      assert.deepEqual(W.sm4CbcDecrypt(key, iv, W.sm4CbcEncrypt(key, iv, d, { padding: 'pkcs7' }), { padding: 'pkcs7' }), d);
      assert.deepEqual(W.sm4CtrDecrypt(key, iv, W.sm4CtrEncrypt(key, iv, d)), d);
      assert.deepEqual(W.sm4CfbDecrypt(key, iv, W.sm4CfbEncrypt(key, iv, d)), d);
      assert.deepEqual(W.sm4OfbDecrypt(key, iv, W.sm4OfbEncrypt(key, iv, d)), d);
      assert.deepEqual(W.sm4GcmDecrypt(key, iv.subarray(0, 12), W.sm4GcmEncrypt(key, iv.subarray(0, 12), d)), d);
      assert.deepEqual(W.sm4CcmDecrypt(key, iv.subarray(0, 12), W.sm4CcmEncrypt(key, iv.subarray(0, 12), d)), d);
      if (n >= 16) assert.deepEqual(W.sm4XtsDecrypt(new Uint8Array(32).fill(9).fill(1, 16), iv, W.sm4XtsEncrypt(new Uint8Array(32).fill(9).fill(1, 16), iv, d)), d);
      if (n > 100_000) {
        assert.equal(hex(W.sm4CtrEncrypt(key, iv, d)), hex(R.sm4CtrEncrypt(key, iv, d)));
        assert.equal(hex(W.sm4GcmEncrypt(key, iv.subarray(0, 12), d)), hex(R.sm4GcmEncrypt(key, iv.subarray(0, 12), d)));
        assert.equal(hex(W.sm4CfbEncrypt(key, iv, d)), hex(R.sm4CfbEncrypt(key, iv, d)));
      }
    }
  });
});

describe('SM4 against node:crypto (OpenSSL)', () => {
  test('ECB/CBC/CTR/CFB/OFB, random cases', () => {
    const node = (alg: string, key: Uint8Array, iv: Uint8Array | null, d: Uint8Array, pad: boolean): string => {
      const c = createCipheriv(alg, key, iv);
      c.setAutoPadding(pad);
      return Buffer.concat([c.update(d), c.final()]).toString('hex');
    };
    fc.assert(
      fc.property(key16, key16, data300, (key, iv, data) => {
        const whole = data.subarray(0, data.length & ~15);
        assert.equal(hex(W.unsafeSm4EcbEncrypt(key, data, { padding: 'pkcs7' })), node('sm4-ecb', key, null, data, true));
        assert.equal(hex(W.sm4CbcEncrypt(key, iv, data, { padding: 'pkcs7' })), node('sm4-cbc', key, iv, data, true));
        assert.equal(hex(W.sm4CbcEncrypt(key, iv, whole, { padding: 'none' })), node('sm4-cbc', key, iv, whole, false));
        assert.equal(hex(W.sm4CtrEncrypt(key, iv, data)), node('sm4-ctr', key, iv, data, false));
        assert.equal(hex(W.sm4CfbEncrypt(key, iv, data)), node('sm4-cfb', key, iv, data, false));
        assert.equal(hex(W.sm4OfbEncrypt(key, iv, data)), node('sm4-ofb', key, iv, data, false));
        const ct = createCipheriv('sm4-cbc', key, iv);
        const enc = Buffer.concat([ct.update(data), ct.final()]);
        assert.equal(hex(W.sm4CbcDecrypt(key, iv, enc, { padding: 'pkcs7' })), hex(data));
        const d = createDecipheriv('sm4-cbc', key, iv);
        assert.equal(Buffer.concat([d.update(W.sm4CbcEncrypt(key, iv, data, { padding: 'pkcs7' })), d.final()]).toString('hex'), hex(data));
      }),
      { numRuns: 250 },
    );
  });
});

describe('SM4 streaming = one-shot', () => {
  const concat = (parts: Uint8Array[]): string => parts.map(hex).join('');
  test('CTR, CBC, GCM with random chunking', () => {
    fc.assert(
      fc.property(key16, key16, data300, fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 12 }), fc.uint8Array({ maxLength: 20 }), (key, iv, data, cuts, aad) => {
        const split = (d: Uint8Array): Uint8Array[] => {
          const out: Uint8Array[] = [];
          let off = 0;
          for (const c of cuts) { out.push(d.subarray(off, off + c)); off += c; }
          out.push(d.subarray(Math.min(off, d.length)));
          return out;
        };
        const run = (c: { update(d: Uint8Array): Uint8Array; final(): Uint8Array }, d: Uint8Array): string => concat([...split(d).map((p) => c.update(p)), c.final()]);
        assert.equal(run(W.createSm4CtrCipher(key, iv), data), hex(W.sm4CtrEncrypt(key, iv, data)));
        const cbc = W.sm4CbcEncrypt(key, iv, data, { padding: 'pkcs7' });
        assert.equal(run(W.createSm4CbcEncrypt(key, iv, { padding: 'pkcs7' }), data), hex(cbc));
        assert.equal(run(W.createSm4CbcDecrypt(key, iv, { padding: 'pkcs7' }), cbc), hex(data));
        const whole = data.subarray(0, data.length & ~15);
        assert.equal(run(R.createSm4CbcDecrypt(key, iv, { padding: 'none' }), W.sm4CbcEncrypt(key, iv, whole, { padding: 'none' })), hex(whole));
        const nonce = iv.subarray(0, 12);
        const sealed = W.sm4GcmEncrypt(key, nonce, data, { aad });
        assert.equal(run(W.createSm4GcmEncrypt(key, nonce, { aad }), data), hex(sealed));
        assert.equal(run(R.createSm4GcmDecrypt(key, nonce, { aad }), sealed), hex(data));
      }),
      { numRuns: 150 },
    );
  });
  test('a finished stream refuses more input (no silent output under a wiped key)', () => {
    const key = new Uint8Array(16), iv = new Uint8Array(16);
    for (const c of [W.createSm4CtrCipher(key, iv), W.createSm4CbcEncrypt(key, iv, { padding: 'pkcs7' }), W.createSm4CbcDecrypt(key, iv, { padding: 'none' }), W.createSm4GcmEncrypt(key, iv.subarray(0, 12))]) {
      c.final();
      assert.throws(() => c.update(new Uint8Array(16)), /finished/);
      assert.throws(() => c.final(), /finished/);
    }
  });
  test('GCM streaming decrypt with a bad tag releases nothing', () => {
    const key = new Uint8Array(16), nonce = new Uint8Array(12);
    const sealed = W.sm4GcmEncrypt(key, nonce, new Uint8Array(40).fill(1));
    sealed[sealed.length - 1] ^= 1;
    const d = W.createSm4GcmDecrypt(key, nonce);
    assert.equal(d.update(sealed).length, 0);
    assert.throws(() => d.final(), (e: unknown) => e instanceof CryptoError && e.code === 'CRYPTO_ERR_AUTH_TAG');
  });
});

describe('SM4 kernel memory after use (round keys wiped, README rule 6)', () => {
  // The round keys GB/T 32907-2016 Appendix A lists for its example key (shared/vectors/sm4.json).
  const ex1 = blockFile.vectors.find((v) => v.round_keys !== undefined)!;
  const words = ex1.round_keys!.map((w) => parseInt(w, 16));
  /** Every 4-byte form a round key can take in the module: as stored (little-endian words) or
   * big-endian, plain or with the public S-box offset 0x4f4f4f4f folded in (sm4.c, RK_OFFSET). */
  const patterns = words.flatMap((w) => [w, (w ^ 0x4f4f4f4f) >>> 0]).flatMap((w) => {
    const be = Uint8Array.of(w >>> 24, (w >>> 16) & 0xff, (w >>> 8) & 0xff, w & 0xff);
    return [be, be.slice().reverse()];
  });
  const found = (mem: Uint8Array): string[] => {
    const hits: string[] = [];
    for (const p of patterns) {
      for (let i = mem.indexOf(p[0]); i !== -1 && i + 4 <= mem.length; i = mem.indexOf(p[0], i + 1)) {
        if (mem[i + 1] === p[1] && mem[i + 2] === p[2] && mem[i + 3] === p[3]) hits.push(`${hex(p)} at ${i}`);
      }
    }
    return hits;
  };
  test('no round key is left in the module after CTR, CBC, ECB and GCM (one chunk and streamed)', () => {
    const key = h(ex1.key);
    const iv = new Uint8Array(16).fill(1);
    // All-zero data: outputs are keystream, which is wiped too; nothing in them can match by chance
    // in a way that differs between runs.
    for (const n of [64, 70_000]) {
      const data = new Uint8Array(n);
      W.sm4CtrEncrypt(key, iv, data);
      W.sm4CbcDecrypt(key, iv, W.sm4CbcEncrypt(key, iv, data, { padding: 'none' }), { padding: 'none' });
      W.unsafeSm4EcbEncrypt(key, data, { padding: 'none' });
      W.sm4GcmDecrypt(key, iv.subarray(0, 12), W.sm4GcmEncrypt(key, iv.subarray(0, 12), data));
      assert.deepEqual(found(new Uint8Array(sm4Module.exports().memory.buffer)), [], `after ${n} bytes`);
    }
  });
});

describe('SM4-GCM longer than the wasm I/O region (streamed begin/update/end kernel)', () => {
  // The reference kernel has no one-call GCM, so R takes the general path (TS GHASH over the
  // reference SM4): an independent computation of the same standard.
  const key = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
  const nonce = Uint8Array.from({ length: 12 }, (_, i) => 200 - i);
  const cases: [number, number][] = [[65536 - 16, 0], [65536 - 15, 13], [65536, 0], [65537, 40], [65536 * 2 + 7, 16], [200_000, 1]];
  test('ciphertext and tag equal the reference; decrypt round-trips', () => {
    for (const [n, a] of cases) {
      const pt = Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff);
      const aad = Uint8Array.from({ length: a }, (_, i) => i);
      const w = W.sm4GcmEncrypt(key, nonce, pt, { aad });
      assert.equal(hex(w), hex(R.sm4GcmEncrypt(key, nonce, pt, { aad })), `length ${n}, aad ${a}`);
      assert.equal(hex(W.sm4GcmDecrypt(key, nonce, w, { aad })), hex(pt));
    }
  });
  test('equal to sm-crypto-v2 (an independent implementation) at 1 B, 64 KiB + 1 and 140,000 B', () => {
    const v2 = createRequire(import.meta.url)('sm-crypto-v2') as {
      sm4: { encrypt(d: Uint8Array, k: Uint8Array, o: object): { output: number[] | Uint8Array; tag: number[] | Uint8Array } };
    };
    for (const n of [1, 65537, 140_000]) {
      const pt = Uint8Array.from({ length: n }, (_, i) => (i * 13) & 0xff);
      const aad = new Uint8Array(7).fill(n & 0xff);
      const r = v2.sm4.encrypt(pt, key, { mode: 'gcm', iv: nonce, associatedData: aad, output: 'array', outputTag: true });
      assert.equal(hex(W.sm4GcmEncrypt(key, nonce, pt, { aad })), hex(Uint8Array.from([...r.output, ...r.tag])), `length ${n}`);
    }
  });
  test('a flipped bit anywhere (first chunk, second chunk, tag) → CRYPTO_ERR_AUTH_TAG', () => {
    const pt = new Uint8Array(150_000).fill(9);
    const sealed = W.sm4GcmEncrypt(key, nonce, pt);
    for (const i of [0, 65536 + 3, sealed.length - 1]) {
      const t = Uint8Array.from(sealed);
      t[i] ^= 1;
      assert.throws(() => W.sm4GcmDecrypt(key, nonce, t), (e: unknown) => e instanceof CryptoError && e.code === 'CRYPTO_ERR_AUTH_TAG');
    }
  });
});

describe('SM4 errors', () => {
  const key = new Uint8Array(16), iv = new Uint8Array(16);
  test('tampered GCM/CCM tag or ciphertext → CRYPTO_ERR_AUTH_TAG', () => {
    for (const s of [W, R]) {
      for (const [enc, dec] of [[s.sm4GcmEncrypt, s.sm4GcmDecrypt], [s.sm4CcmEncrypt, s.sm4CcmDecrypt]] as const) {
        const sealed = enc(key, iv.subarray(0, 12), new Uint8Array(33).fill(5), { aad: new Uint8Array(3) });
        for (const i of [0, 20, sealed.length - 1]) {
          const t = Uint8Array.from(sealed);
          t[i] ^= 0x80;
          assert.throws(() => dec(key, iv.subarray(0, 12), t, { aad: new Uint8Array(3) }), (e: unknown) => e instanceof CryptoError && e.code === 'CRYPTO_ERR_AUTH_TAG');
        }
        assert.throws(() => dec(key, iv.subarray(0, 12), sealed, { aad: new Uint8Array(4) }), (e: unknown) => e instanceof CryptoError && e.code === 'CRYPTO_ERR_AUTH_TAG');
        assert.throws(() => dec(key, iv.subarray(0, 12), sealed.subarray(0, 5)), (e: unknown) => e instanceof CryptoError && e.code === 'CRYPTO_ERR_AUTH_TAG');
      }
    }
  });
  test('bad PKCS#7 padding → CRYPTO_ERR_INVALID_PADDING (every bad last byte)', () => {
    for (let last = 0; last < 256; last++) {
      const pt = new Uint8Array(32).fill(last);
      pt[16] = 0x33; // breaks any pad longer than 15
      const ct = W.sm4CbcEncrypt(key, iv, pt, { padding: 'none' });
      const ok = last >= 1 && last <= 15;
      if (ok) assert.equal(W.sm4CbcDecrypt(key, iv, ct, { padding: 'pkcs7' }).length, 32 - last);
      else assert.throws(() => W.sm4CbcDecrypt(key, iv, ct, { padding: 'pkcs7' }), (e: unknown) => e instanceof CryptoError && e.code === 'CRYPTO_ERR_INVALID_PADDING');
    }
    assert.throws(() => W.sm4CbcDecrypt(key, iv, new Uint8Array(17), { padding: 'pkcs7' }), CryptoError);
    assert.throws(() => W.sm4CbcDecrypt(key, iv, new Uint8Array(0), { padding: 'pkcs7' }), CryptoError);
  });
  test('misuse → TypeError / RangeError', () => {
    assert.throws(() => W.sm4CbcEncrypt(new Uint8Array(15), iv, new Uint8Array(0), { padding: 'pkcs7' }), RangeError);
    assert.throws(() => W.sm4CbcEncrypt(key, iv, new Uint8Array(5), { padding: 'none' }), RangeError);
    assert.throws(() => W.sm4CbcEncrypt(key, iv, new Uint8Array(5), {} as never), TypeError);
    assert.throws(() => W.sm4CtrEncrypt(key, new Uint8Array(12), new Uint8Array(5)), RangeError);
    assert.throws(() => W.sm4GcmEncrypt(key, new Uint8Array(0), new Uint8Array(5)), RangeError);
    assert.throws(() => W.sm4GcmEncrypt(key, new Uint8Array(12), new Uint8Array(5), { tagLength: 11 }), RangeError);
    assert.throws(() => W.sm4CcmEncrypt(key, new Uint8Array(6), new Uint8Array(5)), RangeError);
    assert.throws(() => W.sm4CcmEncrypt(key, new Uint8Array(12), new Uint8Array(5), { tagLength: 5 }), RangeError);
    assert.throws(() => W.sm4XtsEncrypt(new Uint8Array(32), iv, new Uint8Array(15)), RangeError);
    assert.throws(() => W.sm4XtsEncrypt(new Uint8Array(32), iv, new Uint8Array(16), { variant: 'x' as never }), TypeError);
    assert.throws(() => W.sm4CtrEncrypt(key, iv, 'abc' as unknown as Uint8Array), TypeError);
  });
  test('CTR counter blocks near every wrap point (64-bit lane, 128-bit, inc32) equal the reference across batches', () => {
    // The kernel builds counters with 64-bit lane adds and switches to a carrying scalar loop for a
    // batch (128 blocks) in which the incremented part would wrap: start 0..300 blocks before each
    // wrap so that both paths and the switch are taken.
    const rk = sm4WasmKernel.expandKey(Uint8Array.from({ length: 16 }, (_, i) => i), false);
    const data = Uint8Array.from({ length: 16 * 300 + 5 }, (_, i) => i & 0xff);
    const starts = (before: number): Uint8Array[] => {
      const b = BigInt(before);
      const at = (v: bigint): Uint8Array => hexToBytes(((v + (1n << 128n)) % (1n << 128n)).toString(16).padStart(32, '0'));
      return [at((1n << 64n) - b), at((1n << 128n) - b), at((0x1234n << 64n) + (1n << 32n) - b)];
    };
    for (const before of [1, 2, 127, 128, 129, 200, 256, 300]) {
      for (const c0 of starts(before)) {
        for (const inc32 of [false, true]) {
          const cw = Uint8Array.from(c0), cr = Uint8Array.from(c0);
          assert.equal(hex(sm4WasmKernel.ctr(rk, cw, data, inc32)), hex(sm4RefKernel.ctr(rk, cr, data, inc32)), `${hex(c0)} inc32=${inc32}`);
          assert.equal(hex(cw), hex(cr), 'counter state after the call');
        }
      }
    }
  });
  test('CTR counter wraps at 2^128; GCM inc32 wraps within the low 32 bits', () => {
    const ffff = new Uint8Array(16).fill(0xff);
    const two = W.sm4CtrEncrypt(key, ffff, new Uint8Array(32));
    assert.equal(hex(two.subarray(16)), hex(W.unsafeSm4EcbEncrypt(key, new Uint8Array(16), { padding: 'none' })));
    // A 1-byte nonce hashes to J0 whose low word may be anything; force wrap through a 12-byte nonce
    // is impossible, so compare wasm and reference across a counter starting at 0xfffffffe instead.
    const c0 = Uint8Array.from([...new Uint8Array(12).fill(7), 0xff, 0xff, 0xff, 0xfe]);
    const rk = sm4WasmKernel.expandKey(key, false);
    assert.equal(hex(sm4WasmKernel.ctr(rk, Uint8Array.from(c0), new Uint8Array(200), true)), hex(sm4RefKernel.ctr(rk, Uint8Array.from(c0), new Uint8Array(200), true)));
    assert.equal(hex(sm4WasmKernel.ctr(rk, Uint8Array.from(c0), new Uint8Array(200), false)), hex(sm4RefKernel.ctr(rk, Uint8Array.from(c0), new Uint8Array(200), false)));
  });
});
