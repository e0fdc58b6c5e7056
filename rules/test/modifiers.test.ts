import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseRuleText, RuleError } from '../src/index.js';
import { engineOf, hits } from './helpers.js';

const sel = (item: Record<string, unknown>) => ({ sel: item, condition: 'sel' });
const code = (fn: () => unknown, c: string) =>
  assert.throws(fn, (e: unknown) => e instanceof RuleError && e.code === c, `expected ${c}`);

describe('plain values and wildcards (Sigma v2 §Wildcards)', () => {
  test('exact is case-insensitive by default, cased makes it exact', () => {
    assert.equal(hits(sel({ Image: 'C:\\Windows\\cmd.exe' }), { Image: 'c:\\windows\\CMD.EXE' }), true);
    assert.equal(hits(sel({ Image: 'C:\\Windows\\cmd.exe' }), { Image: 'c:\\windows\\cmd.exe.bak' }), false);
    assert.equal(hits(sel({ 'Image|cased': 'C:\\Windows\\cmd.exe' }), { Image: 'c:\\windows\\cmd.exe' }), false);
    assert.equal(hits(sel({ 'Image|cased': 'C:\\Windows\\cmd.exe' }), { Image: 'C:\\Windows\\cmd.exe' }), true);
  });
  test('* and ? wildcards, \\* and \\? escapes', () => {
    assert.equal(hits(sel({ F: 'a*c' }), { F: 'abbbc' }), true);
    assert.equal(hits(sel({ F: 'a*c' }), { F: 'abbbd' }), false);
    assert.equal(hits(sel({ F: 'a?c' }), { F: 'abc' }), true);
    assert.equal(hits(sel({ F: 'a?c' }), { F: 'abbc' }), false);
    assert.equal(hits(sel({ F: 'a\\*c' }), { F: 'a*c' }), true);
    assert.equal(hits(sel({ F: 'a\\*c' }), { F: 'abc' }), false);
    assert.equal(hits(sel({ F: 'a\\?c' }), { F: 'abc' }), false);
    assert.equal(hits(sel({ F: 'x*y*z' }), { F: 'x--y--z' }), true);
    assert.equal(hits(sel({ F: 'x*y*z' }), { F: 'x--z--y' }), false);
    // A backslash before an ordinary character is literal; `\\*` is a backslash then a wildcard.
    assert.equal(hits(sel({ F: 'C:\\Temp\\evil' }), { F: 'c:\\temp\\evil' }), true);
    assert.equal(hits(sel({ F: 'C:\\Temp\\\\*' }), { F: 'c:\\temp\\evil.exe' }), true);
    assert.equal(hits(sel({ F: 'C:\\Temp\\*' }), { F: 'c:\\temp\\evil.exe' }), false);
  });
  test('a list of values is OR; several fields are AND', () => {
    const d = sel({ A: ['x', 'y'], B: 'z' });
    assert.equal(hits(d, { A: 'y', B: 'z' }), true);
    assert.equal(hits(d, { A: 'y', B: 'q' }), false);
    assert.equal(hits(d, { A: 'w', B: 'z' }), false);
  });
  test('a list of maps is OR', () => {
    const d = { sel: [{ A: 'x' }, { B: 'y' }], condition: 'sel' };
    assert.equal(hits(d, { B: 'y' }), true);
    assert.equal(hits(d, { A: 'y' }), false);
  });
  test('numbers compare with numeric and string event values', () => {
    assert.equal(hits(sel({ EventID: 4688 }), { EventID: '4688' }), true);
    assert.equal(hits(sel({ EventID: 4688 }), { EventID: 4688 }), true);
    assert.equal(hits(sel({ EventID: 4688 }), { EventID: 46880 }), false);
  });
  test('null means absent; array fields match on any element', () => {
    assert.equal(hits(sel({ A: null }), { B: 1 }), true);
    assert.equal(hits(sel({ A: null }), { A: 'x' }), false);
    assert.equal(hits(sel({ 'tags|contains': 'ssh' }), { tags: ['a', 'b-ssh'] }), true);
  });
  test('nested and flattened dotted paths', () => {
    assert.equal(hits(sel({ 'process.name': 'sshd' }), { process: { name: 'sshd' } }), true);
    assert.equal(hits(sel({ 'process.name': 'sshd' }), { 'process.name': 'sshd' }), true);
    // Arrays of objects on the way (ECS multi-valued objects) are searched element by element.
    assert.equal(hits(sel({ 'a.b': 2 }), { a: [{ b: 1 }, { b: 2 }] }), true);
    assert.equal(hits(sel({ 'a.b.c': 'x' }), { a: { b: [{ c: 'y' }, { c: 'x' }] } }), true);
    assert.equal(hits(sel({ 'a.b.c': 'x' }), { a: [{ b: { c: 'x' } }] }), true);
    assert.equal(hits(sel({ 'a.b.c.d': 'x' }), { a: { b: { c: { d: 'X' } } } }), true);
    assert.equal(hits(sel({ 'a.b.c': 'x' }), { a: 'str' }), false);
  });
  test('keywords search string values (identity pipeline: every string)', () => {
    assert.equal(hits({ kw: ['Accepted password', 'other'], condition: 'kw' }, { message: 'sshd: accepted PASSWORD for root' }), true);
    assert.equal(hits({ kw: ['Accepted password'], condition: 'kw' }, { message: 'Failed password' }), false);
  });
});

describe('string modifiers', () => {
  test('contains / startswith / endswith', () => {
    assert.equal(hits(sel({ 'C|contains': 'Hidden' }), { C: 'ps -w hidden -c' }), true);
    assert.equal(hits(sel({ 'C|startswith': 'ps' }), { C: 'PS -c' }), true);
    assert.equal(hits(sel({ 'C|startswith': 'ps' }), { C: 'xps' }), false);
    assert.equal(hits(sel({ 'C|endswith': '\\whoami.exe' }), { C: 'C:\\Windows\\System32\\whoami.exe' }), true);
    assert.equal(hits(sel({ 'C|endswith': '\\whoami.exe' }), { C: 'C:\\x\\notwhoami.exe' }), false);
    // A value ending in a backslash keeps it literal: the added wildcard is not escaped (as in
    // pySigma; SigmaHQ's "image missing" rule filters on `Image|contains: '\\'`).
    assert.equal(hits(sel({ 'C|contains': '\\' }), { C: 'C:\\Windows\\cmd.exe' }), true);
    assert.equal(hits(sel({ 'C|contains': '\\' }), { C: 'cmd.exe' }), false);
    assert.equal(hits(sel({ 'C|contains': '\\' }), { C: 'a*b' }), false);
    assert.equal(hits(sel({ 'C|startswith': 'C:\\' }), { C: 'c:\\x' }), true);
  });
  test('contains|all needs every value', () => {
    const d = sel({ 'C|contains|all': ['-enc', 'hidden'] });
    assert.equal(hits(d, { C: 'ps -w hidden -enc AAA' }), true);
    assert.equal(hits(d, { C: 'ps -enc AAA' }), false);
  });
  test('windash matches -, /, en dash, em dash, horizontal bar', () => {
    const d = sel({ 'C|windash|contains': ' -enc ' });
    for (const dash of ['-', '/', '\u2013', '\u2014', '\u2015']) assert.equal(hits(d, { C: `powershell ${dash}enc AAA` }), true, dash);
    assert.equal(hits(d, { C: 'powershell +enc AAA' }), false);
  });
  test('re with flags i, m, s (RE2)', () => {
    assert.equal(hits(sel({ 'C|re': '^foo\\d+$' }), { C: 'foo123' }), true);
    assert.equal(hits(sel({ 'C|re': '^foo\\d+$' }), { C: 'FOO123' }), false);
    assert.equal(hits(sel({ 'C|re|i': '^foo\\d+$' }), { C: 'FOO123' }), true);
    assert.equal(hits(sel({ 'C|re': '^bar$' }), { C: 'foo\nbar' }), false);
    assert.equal(hits(sel({ 'C|re|m': '^bar$' }), { C: 'foo\nbar' }), true);
    assert.equal(hits(sel({ 'C|re': 'a.b' }), { C: 'a\nb' }), false);
    assert.equal(hits(sel({ 'C|re|s': 'a.b' }), { C: 'a\nb' }), true);
    // Unanchored search, as Sigma backends do.
    assert.equal(hits(sel({ 'C|re': 'b+c' }), { C: 'abbbcd' }), true);
  });
  test('base64 and base64offset (checked against Node Buffer encodings of the whole text)', () => {
    const b64 = (s: string, enc: BufferEncoding = 'utf8') => Buffer.from(s, enc).toString('base64');
    assert.equal(hits(sel({ 'C|base64': 'abc' }), { C: b64('abc') }), true);
    assert.equal(hits(sel({ 'C|base64|contains': 'http://' }), { C: `x ${b64('http://')} y` }), true);
    const d = sel({ 'C|base64offset|contains': 'http://' });
    for (const pre of ['', 'a', 'ab', 'abc', 'abcd']) assert.equal(hits(d, { C: b64(`${pre}http://evil.example/`) }), true, `offset ${pre.length}`);
    assert.equal(hits(d, { C: b64('https://evil.example/') }), false);
    const w = sel({ 'C|wide|base64offset|contains': 'Invoke-' });
    for (const pre of ['', 'x', 'xy']) assert.equal(hits(w, { C: b64(`${pre}Invoke-Expression`, 'utf16le') }), true, `utf16 offset ${pre.length}`);
    assert.equal(hits(w, { C: b64('Invoke-Expression') }), false);
  });
});

describe('typed modifiers', () => {
  test('cidr v4 and v6', () => {
    const d = sel({ 'ip|cidr': ['10.0.0.0/8', '2001:db8::/32'] });
    assert.equal(hits(d, { ip: '10.2.3.4' }), true);
    assert.equal(hits(d, { ip: '11.0.0.1' }), false);
    assert.equal(hits(d, { ip: '2001:db8:1::5' }), true);
    assert.equal(hits(d, { ip: '2001:db9::1' }), false);
    assert.equal(hits(d, { ip: 'not-an-ip' }), false);
    assert.equal(hits(sel({ 'ip|cidr': '192.168.1.0/25' }), { ip: '192.168.1.127' }), true);
    assert.equal(hits(sel({ 'ip|cidr': '192.168.1.0/25' }), { ip: '192.168.1.128' }), false);
  });
  test('exists', () => {
    assert.equal(hits(sel({ 'A|exists': true }), { A: '' }), true);
    assert.equal(hits(sel({ 'A|exists': true }), { B: 1 }), false);
    assert.equal(hits(sel({ 'A|exists': false }), { B: 1 }), true);
  });
  test('gt / gte / lt / lte', () => {
    assert.equal(hits(sel({ 'n|gt': 10 }), { n: 11 }), true);
    assert.equal(hits(sel({ 'n|gt': 10 }), { n: 10 }), false);
    assert.equal(hits(sel({ 'n|gte': 10 }), { n: '10' }), true);
    assert.equal(hits(sel({ 'n|lt': 10 }), { n: 9.5 }), true);
    assert.equal(hits(sel({ 'n|lte': 10 }), { n: 11 }), false);
    assert.equal(hits(sel({ 'n|lt': 10 }), { n: 'abc' }), false);
  });
  test('fieldref compares two fields of the event', () => {
    const d = sel({ 'SubjectUserName|fieldref': 'TargetUserName' });
    assert.equal(hits(d, { SubjectUserName: 'Alice', TargetUserName: 'alice' }), true);
    assert.equal(hits(d, { SubjectUserName: 'alice', TargetUserName: 'bob' }), false);
    assert.equal(hits(sel({ 'A|fieldref|startswith': 'B' }), { A: 'abc', B: 'ab' }), true);
  });
  test('xiangan-worktime: Mon-Fri 08:30-18:00 in Asia/Shanghai (UTC+8)', () => {
    const d = { login: { 'event.action': 'login' }, work: { '@timestamp|xiangan-worktime': 'Mon-Fri 08:30-18:00' }, condition: 'login and not work' };
    // 2026-11-30 is a Monday. 01:00Z = 09:00 Beijing (working); 11:00Z = 19:00 Beijing (not).
    assert.equal(hits(d, { '@timestamp': '2026-11-30T01:00:00Z', event: { action: 'login' } }), false);
    assert.equal(hits(d, { '@timestamp': '2026-11-30T11:00:00Z', event: { action: 'login' } }), true);
    // 2026-11-29 is a Sunday: 03:00Z = 11:00 Beijing but a weekend.
    assert.equal(hits(d, { '@timestamp': '2026-11-29T03:00:00Z', event: { action: 'login' } }), true);
    // Friday 23:30Z is Saturday 07:30 in Beijing.
    assert.equal(hits(d, { '@timestamp': '2026-12-04T23:30:00Z', event: { action: 'login' } }), true);
    code(() => engineOf(sel({ '@timestamp|xiangan-worktime': 'weekdays' })), 'RULE_ERR_VALUE');
  });
});

describe('conditions', () => {
  const ev = { a: '1', b: '1', c: '0' };
  const det = (condition: string) => ({ sel_a: { a: '1' }, sel_b: { b: '1' }, sel_c: { c: '1' }, _aux: { a: '2' }, condition });
  const cases: [string, boolean][] = [
    ['sel_a and sel_b', true],
    ['sel_a and sel_c', false],
    ['sel_a or sel_c', true],
    ['not sel_c', true],
    ['not sel_a', false],
    ['sel_c or sel_a and sel_b', true],
    ['(sel_c or sel_a) and sel_b', true],
    ['(sel_c or sel_a) and not sel_b', false],
    ['sel_c or sel_a and not sel_b', false],
    ['1 of sel_*', true],
    ['all of sel_*', false],
    ['all of sel_a*', true],
    ['1 of them', true],
    // `them` skips names starting with _ (Sigma v2).
    ['all of sel_a* and not 1 of _*', true],
    ['not all of them', true],
    ['2 of sel_*', true],
    ['3 of sel_*', false],
    ['NOT sel_c AND sel_a', true],
  ];
  for (const [c, want] of cases) test(`${c} → ${want}`, () => assert.equal(hits(det(c), ev), want));
  test('several conditions in a list are alternatives', () => {
    assert.equal(hits({ ...det('x'), condition: ['sel_c', 'sel_a'] }, ev), true);
  });
  test('bad conditions are typed errors', () => {
    code(() => engineOf(det('sel_a and')), 'RULE_ERR_CONDITION');
    code(() => engineOf(det('(sel_a')), 'RULE_ERR_CONDITION');
    code(() => engineOf(det('nosuch')), 'RULE_ERR_CONDITION');
    code(() => engineOf(det('1 of nothing*')), 'RULE_ERR_CONDITION');
    code(() => engineOf(det('sel_a | count() by x > 5')), 'RULE_ERR_UNSUPPORTED');
  });
});

describe('unsupported constructs are reported, never half-evaluated', () => {
  test('unknown or impossible modifiers', () => {
    code(() => engineOf(sel({ 'a|frobnicate': 'x' })), 'RULE_ERR_UNSUPPORTED_MODIFIER');
    code(() => engineOf(sel({ 'a|contains|startswith': 'x' })), 'RULE_ERR_UNSUPPORTED_MODIFIER');
    code(() => engineOf(sel({ 'a|i': 'x' })), 'RULE_ERR_UNSUPPORTED_MODIFIER');
    code(() => engineOf(sel({ 'a|cidr|contains': '10.0.0.0/8' })), 'RULE_ERR_UNSUPPORTED_MODIFIER');
    code(() => engineOf(sel({ 'a|wide|contains': 'x' })), 'RULE_ERR_UNSUPPORTED_MODIFIER');
    code(() => engineOf(sel({ 'a|expand': '%x%' })), 'RULE_ERR_UNSUPPORTED');
  });
  test('bad values', () => {
    code(() => engineOf(sel({ 'a|cidr': '10.0.0.0/33' })), 'RULE_ERR_VALUE');
    code(() => engineOf(sel({ 'a|gt': 'ten' })), 'RULE_ERR_VALUE');
    code(() => engineOf(sel({ 'a|exists': 'yes' })), 'RULE_ERR_VALUE');
  });
  test('regexes RE2 cannot run in linear time are refused', () => {
    code(() => engineOf(sel({ 'a|re': '(?<=x)y' })), 'RULE_ERR_REGEX');
    code(() => engineOf(sel({ 'a|re': '(a)\\1' })), 'RULE_ERR_REGEX');
  });
});

describe('bounds: nothing stalls the engine', () => {
  test('catastrophic-backtracking pattern runs in linear time on a hostile value', () => {
    const e = engineOf(sel({ 'a|re': '^(a+)+$' }));
    const hostile = `${'a'.repeat(60_000)}!`;
    assert.deepEqual(e.match({ a: hostile }), []);
    assert.equal(e.match({ a: 'aaaa' }).length, 1);
  });
  test('nested quantifiers in wildcards go through RE2 too', () => {
    const e = engineOf(sel({ a: '*a*a*a*a*a*a*a*a*a*a*b' }));
    assert.deepEqual(e.match({ a: 'a'.repeat(100_000) }), []);
  });
  test('a 10 MB rule value is refused with RULE_ERR_LIMIT', () => {
    code(() => engineOf(sel({ 'a|contains': 'x'.repeat(10 * 1024 * 1024) })), 'RULE_ERR_LIMIT');
    code(() => engineOf(sel({ 'a|re': `(${'a|'.repeat(3000)}b)` })), 'RULE_ERR_LIMIT');
  });
  test('a 10 MB event value is matched on a bounded prefix and counted', () => {
    const e = engineOf(sel({ 'a|contains': 'needle' }));
    const big = `${'x'.repeat(10 * 1024 * 1024)}needle`;
    assert.deepEqual(e.match({ a: big }), []);
    assert.ok(e.stats().truncatedValues >= 1);
    assert.equal(e.match({ a: `needle${'x'.repeat(10 * 1024 * 1024)}` }).length, 1);
  });
  test('a YAML alias bomb and an oversized rule file are RULE_ERR_LIMIT', () => {
    const rows = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (const [n, p] of [['b', 'a'], ['c', 'b'], ['d', 'c'], ['e', 'd'], ['f', 'e']]) rows.push(`${n}: &${n} [${new Array(9).fill(`*${p}`).join(', ')}]`);
    code(() => parseRuleText(`${rows.join('\n')}\n`, 'bomb.yml'), 'RULE_ERR_LIMIT');
    code(() => parseRuleText(`title: x\ndescription: ${'x'.repeat(10 * 1024 * 1024)}\n`, 'big.yml'), 'RULE_ERR_LIMIT');
  });
  test('too many rules is RULE_ERR_LIMIT', () => {
    code(() => engineOf(sel({ a: 1 }), { maxRules: 0 }), 'RULE_ERR_LIMIT');
  });
});
