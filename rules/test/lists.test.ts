import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { builtinPipeline, compileRules, listFromCsv, listFromStix, RuleError, ThreatList } from '../src/index.js';

describe('threat-intel lists', () => {
  test('CSV with a header picks the indicator column; IPs, CIDRs, domains, other values', () => {
    const l = listFromCsv('x', 'comment,indicator\n"a, quoted",198.51.100.66\nb,203.0.113.0/28\n# skipped\nc,evil.example\nd,2001:DB8::1\ne,d41d8cd98f00b204e9800998ecf8427e\n');
    assert.equal(l.size, 5);
    assert.equal(l.has('198.51.100.66'), true);
    assert.equal(l.has('198.51.100.67'), false);
    assert.equal(l.has('203.0.113.15'), true);
    assert.equal(l.has('203.0.113.16'), false);
    assert.equal(l.has('a.b.EVIL.example'), true);
    assert.equal(l.has('notevil.example'), false);
    assert.equal(l.has('2001:db8:0::1'), true);
    assert.equal(l.has('D41D8CD98F00B204E9800998ECF8427E'), true);
  });
  test('CSV without a header uses the first column', () => {
    const l = listFromCsv('x', '10.0.0.1\n10.0.0.2,core\n');
    assert.equal(l.has('10.0.0.2'), true);
    assert.throws(() => listFromCsv('x', '"unterminated\n'), (e: unknown) => e instanceof RuleError && e.code === 'RULE_ERR_LIST');
  });
  test('STIX 2.1: equality patterns joined by OR are taken; others, revoked and expired are reported', () => {
    const ind = (id: string, pattern: string, extra: Record<string, unknown> = {}) => ({ type: 'indicator', spec_version: '2.1', id, pattern, pattern_type: 'stix', valid_from: '2026-01-01T00:00:00Z', ...extra });
    const bundle = {
      type: 'bundle',
      id: 'bundle--1',
      objects: [
        ind('indicator--1', "[ipv4-addr:value = '198.51.100.1' OR domain-name:value = 'c2.example']"),
        ind('indicator--2', "[url:value = 'http://x.example/a\\'b']"),
        ind('indicator--3', "[ipv4-addr:value = '198.51.100.2' AND network-traffic:dst_port = 443]"),
        ind('indicator--4', "[ipv4-addr:value = '198.51.100.3']", { revoked: true }),
        ind('indicator--5', "[ipv4-addr:value = '198.51.100.4']", { valid_until: '2026-06-01T00:00:00Z' }),
        ind('indicator--6', "[file:name MATCHES '^x']"),
        { type: 'malware', id: 'malware--1', name: 'm' },
      ],
    };
    const { list, skipped } = listFromStix('b', JSON.stringify(bundle), '2026-11-30T00:00:00Z');
    assert.equal(list.has('198.51.100.1'), true);
    assert.equal(list.has('www.c2.example'), true);
    assert.equal(list.has("http://x.example/a'b"), true);
    assert.equal(list.has('198.51.100.2'), false);
    assert.equal(list.has('198.51.100.3'), false);
    assert.equal(list.has('198.51.100.4'), false);
    assert.deepEqual(skipped.map((s) => s.id).sort(), ['indicator--3', 'indicator--4', 'indicator--5', 'indicator--6']);
    assert.throws(() => listFromStix('b', '{"type":"x"}'), (e: unknown) => e instanceof RuleError && e.code === 'RULE_ERR_LIST');
    assert.throws(() => listFromStix('b', 'not json'), (e: unknown) => e instanceof RuleError && e.code === 'RULE_ERR_LIST');
  });
  test('a rule references a list with |xiangan-list; unknown lists are RULE_ERR_LIST', () => {
    const l = new ThreatList('bad');
    l.add('203.0.113.0/24');
    const doc = { title: 't', id: 'x', logsource: { product: 'p' }, detection: { sel: { 'dst|xiangan-list': 'bad' }, condition: 'sel' } };
    const e = compileRules([{ doc, source: 'r' }], builtinPipeline('identity'), { lists: new Map([['bad', l]]) });
    assert.equal(e.match({ dst: '203.0.113.200' }).length, 1);
    assert.equal(e.match({ dst: '203.0.114.1' }).length, 0);
    assert.throws(() => compileRules([{ doc, source: 'r' }], builtinPipeline('identity')), (x: unknown) => x instanceof RuleError && x.code === 'RULE_ERR_LIST');
    assert.throws(() => new ThreatList('bad name!'), TypeError);
  });
});
