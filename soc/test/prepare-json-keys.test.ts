// JsonBytes remembers each key at its place in the documents' structure with its bytes and writes
// a key found there by 8-byte stores (src/buffer/json-bytes.ts, `KeyNode`). Whatever the shapes,
// their number, the keys' characters or where in the buffer a key falls, the text must stay
// byte for byte JSON.stringify's, one writer reused over many documents as the prepare worker does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JsonBytes } from '../src/buffer/json-bytes.js';

/** Writes `values` one after another with `t` and checks each against JSON.stringify. */
function same(t: JsonBytes, values: unknown[]): void {
  for (const v of values) {
    const start = t.pos;
    t.json(v);
    assert.equal(t.text(start, t.pos), JSON.stringify(v));
  }
}

test('keys of many shapes at one place, more places than the writer remembers, and the first shapes again', () => {
  const t = new JsonBytes();
  const docs: unknown[] = [];
  for (let i = 0; i < 40; i++) docs.push({ id: `e${i}`, [`k${i % 12}`]: { a: i, [`b${i % 3}`]: [{ x: 1 }, { [`y${i % 5}`]: 2, x: 3 }] }, z: i % 2 ? undefined : 'z' });
  same(t, docs);
  // 10,000 distinct keys: past the writer's node bound, written uncached.
  same(t, Array.from({ length: 100 }, (_, i) => Object.fromEntries(Array.from({ length: 100 }, (_, j) => [`key-${i}-${j}`, { inner: j }]))));
  same(t, docs);
  same(t, [{ id: 'after', nested: { deeper: { k0: 1 } } }]);
  // What it remembers is bounded (MAX_KEY_NODES).
  assert.ok((t as unknown as { keyNodes: number }).keyNodes <= 4096);
});

test('keys that need escapes or are not ASCII, empty, integer-like, __proto__, and of every length around 8 bytes', () => {
  const t = new JsonBytes();
  const odd = JSON.parse('{"__proto__":1,"":2,"a\\"b":3,"c\\\\d":4,"e\\nf":5,"é":6,"中文":7,"\\ud800":8,"😀":9,"10":10,"2":11}') as object;
  same(t, [odd, { x: odd }, [odd, odd]]);
  for (let n = 0; n <= 20; n++) same(t, [{ ['k'.repeat(n)]: n, ['j'.repeat(n)]: { ['k'.repeat(n)]: n } }]);
  // A key whose bytes would be the same double as another's: both kept apart by the key itself.
  same(t, [{ abcd: 1, abce: 2 }, { abce: 1, abcd: 2 }]);
  // Values skipped (undefined, functions, symbols) do not shift the next key's place.
  same(t, [{ a: undefined, b: 1 }, { a: 1, b: undefined, c: () => 1, d: Symbol('s'), e: 2 }, { b: 1 }]);
});

test('a key written where the buffer grows, as the first key of an object and after a comma', () => {
  for (let gap = 0; gap < 24; gap++) {
    const t = new JsonBytes();
    // Warm the key's place so it is cached, then fill the 1 MiB buffer up to a few bytes short.
    t.json({ abcdefghijklmnop: 1, q: 2 });
    const fill = (1 << 20) - t.pos - 2 - gap;
    t.json('x'.repeat(fill));
    const start = t.pos;
    t.json({ abcdefghijklmnop: 1, q: 2 });
    assert.equal(t.text(start, t.pos), '{"abcdefghijklmnop":1,"q":2}', `gap ${gap}`);
    assert.equal(t.read(), `{"abcdefghijklmnop":1,"q":2}"${'x'.repeat(fill)}"{"abcdefghijklmnop":1,"q":2}`);
  }
});

test('long keys (from input: SD-IDs, PARAM-NAMEs) are written but not remembered', () => {
  const t = new JsonBytes(true);
  same(t, [{ id: 'a', log: { syslog: { structured_data: { short: { k: '1' } } } } }]);
  const nodes = (t as unknown as { keyNodes: number }).keyNodes;
  const docs = Array.from({ length: 50 }, (_, i) => ({ id: 'a', log: { syslog: { structured_data: { [`sd${i}`.padEnd(2_000, 'x')]: { [`p${i}`.padEnd(65, 'y')]: 'v' } } } } }));
  same(t, docs);
  assert.equal((t as unknown as { keyNodes: number }).keyNodes, nodes);
  // A key of 64 characters still is.
  same(t, [{ id: 'a', ['k'.repeat(64)]: 1 }]);
  assert.equal((t as unknown as { keyNodes: number }).keyNodes, nodes + 1);
});

test("the Buffer binding writes JsonBytes calls exist and write what Buffer#write writes (undocumented: a Node that changes them fails here)", () => {
  type Raw = { utf8Write(s: string, o: number, n: number): number; latin1Write(s: string, o: number, n: number): number };
  for (const s of ['', 'plain', 'é中😀', 'x'.repeat(100), '\ud800']) {
    for (const [room, enc] of [[64, 'utf8'], [3, 'utf8'], [64, 'latin1'], [2, 'latin1']] as const) {
      const a = Buffer.alloc(80);
      const b = Buffer.alloc(80);
      const raw = a as Buffer & Raw;
      assert.equal(typeof raw.utf8Write, 'function');
      assert.equal(typeof raw.latin1Write, 'function');
      const n = enc === 'utf8' ? raw.utf8Write(s, 5, room) : raw.latin1Write(s, 5, room);
      assert.equal(n, b.write(s, 5, room, enc));
      assert.deepEqual(a, b);
      const slice = enc === 'utf8' ? (a as Buffer & { utf8Slice(s: number, e: number): string }).utf8Slice(5, 5 + n) : (a as Buffer & { latin1Slice(s: number, e: number): string }).latin1Slice(5, 5 + n);
      assert.equal(slice, b.toString(enc, 5, 5 + n));
    }
  }
});

test('generated documents from a small key alphabet (shapes repeat) through one writer equal JSON.stringify', () => {
  const t = new JsonBytes();
  const key = fc.constantFrom('id', 'a', 'b', 'event', 'original', 'x.y', 'é', 'q"', '', 'longer_key_name_here');
  const leaf = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined));
  const tree = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('obj'), tie('arr')),
    obj: fc.dictionary(key, tie('node'), { maxKeys: 6 }),
    arr: fc.array(tie('node'), { maxLength: 4 }),
  }));
  fc.assert(
    fc.property(fc.array(tree.obj, { minLength: 1, maxLength: 8 }), (docs) => {
      same(t, docs);
    }),
    { numRuns: 400 },
  );
});
