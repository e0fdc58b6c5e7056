// The query parser: the tree for each syntax form, errors with positions, and IP/CIDR handling
// checked against node's own address parser and BlockList (an independent implementation).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fc from 'fast-check';
import { parseQuery, parseCidr, ipToBytes, bytesToIp, MAX_QUERY_DEPTH } from '../src/query/parse.js';
import { parseDuration } from '../src/query/time.js';
import { SocError } from '../src/errors.js';

describe('parseQuery', () => {
  const cases: Array<[string, unknown]> = [
    ['', { kind: 'all' }],
    ['   ', { kind: 'all' }],
    ['sshd', { kind: 'text', value: 'sshd' }],
    ['fail*', { kind: 'text', value: 'fail', prefix: true }],
    ['"failed password"', { kind: 'phrase', value: 'failed password' }],
    ['user.name:root', { kind: 'term', field: 'user.name', value: 'root' }],
    ['user.name:"a \\"b\\" c"', { kind: 'phrase', field: 'user.name', value: 'a "b" c' }],
    ['user.name:adm*', { kind: 'wildcard', field: 'user.name', pattern: 'adm*' }],
    ['user.name:a\\*b', { kind: 'term', field: 'user.name', value: 'a*b' }],
    ['process.pid:*', { kind: 'exists', field: 'process.pid' }],
    ['source.ip:10.1.2.3/8', { kind: 'cidr', field: 'source.ip', family: 4, prefix: '10.0.0.0', bits: 8 }],
    ['source.ip:10.1.2.3', { kind: 'term', field: 'source.ip', value: '10.1.2.3' }],
    ['destination.port:[1 TO 1024]', { kind: 'range', field: 'destination.port', gte: '1', lte: '1024' }],
    ['destination.port:{1 TO *]', { kind: 'range', field: 'destination.port', gt: '1' }],
    ['event.severity:>=4', { kind: 'range', field: 'event.severity', gte: '4' }],
    ['event.severity<4', { kind: 'range', field: 'event.severity', lt: '4' }],
    ['a b', { kind: 'and', children: [{ kind: 'text', value: 'a' }, { kind: 'text', value: 'b' }] }],
    ['a OR b AND c', { kind: 'or', children: [{ kind: 'text', value: 'a' }, { kind: 'and', children: [{ kind: 'text', value: 'b' }, { kind: 'text', value: 'c' }] }] }],
    ['(a OR b) AND c', { kind: 'and', children: [{ kind: 'or', children: [{ kind: 'text', value: 'a' }, { kind: 'text', value: 'b' }] }, { kind: 'text', value: 'c' }] }],
    ['NOT a', { kind: 'not', child: { kind: 'text', value: 'a' } }],
    ['-user.name:root', { kind: 'not', child: { kind: 'term', field: 'user.name', value: 'root' } }],
    ['user.name:(root OR admin)', { kind: 'or', children: [{ kind: 'term', field: 'user.name', value: 'root' }, { kind: 'term', field: 'user.name', value: 'admin' }] }],
    ['@timestamp:[2026-11-28T00:00:00Z TO 2026-11-29T00:00:00Z}', { kind: 'range', field: '@timestamp', gte: '2026-11-28T00:00:00Z', lt: '2026-11-29T00:00:00Z' }],
    ['登录失败', { kind: 'text', value: '登录失败' }],
  ];
  for (const [q, tree] of cases) {
    test(JSON.stringify(q), () => assert.deepEqual(parseQuery(q), tree));
  }

  test('errors are SOC_ERR_QUERY with the position', () => {
    const bad: Array<[string, RegExp]> = [
      ['(a', /expected '\)'/],
      ['a)', /unexpected '\)'/],
      ['"open', /unterminated/],
      ['user.name:', /expected a value/],
      ['port:[1 TO', /range/],
      ['port:[1 2]', /expected 'TO'/],
      ['OR a', /needs a term/],
      ['source.ip:10.0.0.0/40', /prefix \/40/],
    ];
    for (const [q, re] of bad) {
      assert.throws(
        () => parseQuery(q),
        (e: unknown) => e instanceof SocError && e.code === 'SOC_ERR_QUERY' && re.test(e.message),
        q,
      );
    }
    assert.throws(() => parseQuery('('.repeat(MAX_QUERY_DEPTH + 5) + 'a'), (e: unknown) => e instanceof SocError && /too deep/.test(e.message));
    assert.throws(() => parseQuery('a'.repeat(10_000)), SocError);
    assert.throws(() => parseQuery(42 as unknown as string), TypeError);
  });

  test('never throws anything but SocError on arbitrary text, and terminates', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        try {
          parseQuery(s);
        } catch (e) {
          assert.ok(e instanceof SocError, String(e));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('IP addresses and CIDR', () => {
  const v4 = fc.ipV4();
  const v6 = fc.ipV6();

  test('ipToBytes agrees with node:net and bytesToIp round-trips', () => {
    fc.assert(
      fc.property(fc.oneof(v4, v6), (ip) => {
        const b = ipToBytes(ip)!;
        assert.equal(b.length, 16);
        const back = bytesToIp(b);
        assert.equal(net.isIP(back) !== 0, true);
        assert.deepEqual(ipToBytes(back), b);
        if (net.isIPv4(ip)) assert.equal(back, ip.split('.').map(Number).join('.'));
        else if (net.isIPv6(back)) {
          // WHATWG URL serialises IPv6 in the RFC 5952 canonical form: an independent oracle.
          assert.equal(back, new URL(`http://[${ip}]/`).hostname.slice(1, -1), ip);
        }
      }),
      { numRuns: 2000 },
    );
    assert.equal(ipToBytes('not an ip'), undefined);
    assert.equal(bytesToIp(ipToBytes('::')!), '::');
    assert.equal(bytesToIp(ipToBytes('2001:db8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1');
  });

  test('CIDR membership by key range equals node BlockList.checkSubnet', () => {
    const key = (ip: string) => Buffer.from(ipToBytes(ip)!).toString('hex');
    fc.assert(
      fc.property(v4, fc.integer({ min: 0, max: 32 }), v4, (net4, bits, probe) => {
        const c = parseCidr(`${net4}/${bits}`)!;
        const bl = new net.BlockList();
        bl.addSubnet(c.prefix, bits, 'ipv4');
        const lo = ipToBytes(c.prefix)!;
        const hi = Uint8Array.from(lo);
        for (let bit = 96 + bits; bit < 128; bit++) hi[bit >> 3]! |= 0x80 >> (bit & 7);
        const k = key(probe);
        const inRange = k >= Buffer.from(lo).toString('hex') && k <= Buffer.from(hi).toString('hex');
        assert.equal(inRange, bl.check(probe, 'ipv4'));
        assert.ok(bl.check(net4, 'ipv4'), 'the written address lies in its own network');
      }),
      { numRuns: 2000 },
    );
    assert.deepEqual(parseCidr('2001:db8:abcd::1/33'), { family: 6, prefix: '2001:db8:8000::', bits: 33 });
    assert.equal(parseCidr('10.0.0.1'), undefined);
    assert.equal(parseCidr('host/8'), undefined);
  });
});

test('durations', () => {
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('15m'), 900_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('7d'), 604_800_000);
  assert.equal(parseDuration('2w'), 1_209_600_000);
  for (const bad of ['', 'h', '1y', '-1h', '1.5h']) assert.equal(parseDuration(bad), undefined);
});
