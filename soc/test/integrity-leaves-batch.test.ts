// The batched leaf hash (four documents per SIMD pass) against the one-at-a-time leaf hash and
// against Node's own SM3 (an independent implementation) over SM3(0x00 ‖ UTF-8 document).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { leafHashDoc, leafHashDocsInto, leafHashText, leafHashTextsInto } from '../src/integrity/merkle.js';

test('leafHashTextsInto equals leafHashText and Node SM3 for any batch of documents', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 400 }), { maxLength: 13 }), (docs) => {
      const out = new Uint8Array(32 * docs.length);
      leafHashTextsInto(docs, out);
      docs.forEach((d, i) => {
        const got = out.subarray(32 * i, 32 * i + 32);
        assert.deepEqual(got, leafHashText(d));
        const node = createHash('sm3').update(Buffer.concat([Buffer.from([0]), Buffer.from(d, 'utf8')])).digest();
        assert.deepEqual(Buffer.from(got), node);
      });
    }),
    { numRuns: 150 },
  );
});

test('leafHashDocsInto takes text and bytes in one batch, as leafHashDoc does', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.string({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 })), { maxLength: 11 }), (docs) => {
      const out = new Uint8Array(32 * docs.length);
      leafHashDocsInto(docs, out);
      docs.forEach((d, i) => assert.deepEqual(out.subarray(32 * i, 32 * i + 32), leafHashDoc(d)));
    }),
    { numRuns: 100 },
  );
});

test('leafHashDocsInto over more than one buffer pass and a document bigger than the buffer matches Node SM3', () => {
  // ~3 MiB of documents in all: several passes of the 1 MiB layout buffer, one 1.5 MiB document
  // (its own buffer) between them, and multi-byte UTF-8 (Chinese, a surrogate pair) at the edges.
  const docs: Array<string | Uint8Array> = [];
  for (let i = 0; i < 1500; i++) docs.push(`{"i":${i},"message":"登录失败 ${'x'.repeat(i % 997)} 𝄞"}`);
  docs.splice(700, 0, '大'.repeat(500_000));
  docs.push(new Uint8Array(1_200_000).fill(0x41));
  const out = new Uint8Array(32 * docs.length);
  leafHashDocsInto(docs, out);
  docs.forEach((d, i) => {
    const bytes = typeof d === 'string' ? Buffer.from(d, 'utf8') : Buffer.from(d);
    const node = createHash('sm3').update(Buffer.concat([Buffer.from([0]), bytes])).digest();
    assert.deepEqual(Buffer.from(out.subarray(32 * i, 32 * i + 32)), node, `document ${i}`);
  });
});
