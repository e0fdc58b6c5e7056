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
