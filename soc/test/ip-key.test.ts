// The store's key of an IP column (16 bytes as hex, IPv4 mapped into ::ffff:0:0/96, RFC 4291
// §2.5.5.2) has a fast path for dotted quads. Expected keys here come from node:net's own
// validation (isIPv4) and octet arithmetic, not from the store's code: canonical quads, forms
// isIPv4 refuses (leading zeros, octets over 255, hex, short forms) and near-miss strings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP, isIPv4 } from 'node:net';
import fc from 'fast-check';
import { ipKey } from '../src/storage/sqlite-schema.js';

function v4Key(s: string): string {
  return '00000000000000000000ffff' + s.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join('');
}

test('ipKey: every canonical dotted quad gives the mapped key', () => {
  fc.assert(
    fc.property(fc.ipV4(), (s) => {
      assert.equal(ipKey(s), v4Key(s));
    }),
    { numRuns: 5000 },
  );
  for (const s of ['0.0.0.0', '255.255.255.255', '10.0.0.1', '1.22.133.4']) assert.equal(ipKey(s), v4Key(s));
});

test('ipKey: what isIPv4 refuses is not read as a dotted quad', () => {
  const refused = ['01.2.3.4', '1.2.3.04', '256.1.1.1', '1.2.3', '1.2.3.4.5', '1.2.3.4 ', ' 1.2.3.4', '1..2.3', '1.2.3.', '.1.2.3', '1.2.3.1000', '0x1.2.3.4', '1.2.3.4/24', '１.2.3.4', ''];
  for (const s of refused) {
    assert.equal(isIP(s), 0, s);
    assert.equal(ipKey(s), null, s);
  }
  const chars = fc.constantFrom('0', '1', '2', '5', '9', '.', ':', 'a', 'f', ' ');
  fc.assert(
    fc.property(fc.oneof(fc.ipV4Extended(), fc.string({ unit: chars, maxLength: 18 })), (s) => {
      const k = ipKey(s);
      if (isIPv4(s)) assert.equal(k, v4Key(s), s);
      else if (isIP(s) === 0) assert.equal(k, null, s);
      else assert.match(k ?? '', /^[0-9a-f]{32}$/, s);
    }),
    { numRuns: 20000 },
  );
});

test('ipKey: IPv6 and non-strings', () => {
  assert.equal(ipKey('::1'), '00000000000000000000000000000001');
  assert.equal(ipKey('2001:db8::ff00:42:8329'), '20010db8000000000000ff0000428329');
  assert.equal(ipKey('::ffff:10.1.2.3'), v4Key('10.1.2.3'));
  assert.equal(ipKey(167772161), null);
  assert.equal(ipKey(null), null);
});
