import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isoMs } from '@xiangan/collectors';
import { correlationOf } from '../src/correlate.js';
import { builtinPipeline, compileRules, type EngineOptions, type LoadedRule, type RuleMatch } from '../src/index.js';

describe('isoMs (the times correlation reads)', () => {
  test('equals Date.parse on every day 1-31 of every month (days past the month roll over alike)', () => {
    for (const y of [1000, 1600, 1899, 1900, 1970, 1999, 2000, 2024, 2026, 2100, 2400, 9999]) {
      for (let mo = 1; mo <= 12; mo++) {
        for (let d = 1; d <= 31; d++) {
          for (const hms of ['00:00:00.000', '08:30:15.250', '23:59:59.999']) {
            const s = `${y}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}T${hms}Z`;
            assert.equal(isoMs(s), Date.parse(s), s);
          }
        }
      }
    }
  });
  test('other forms and bad input go to Date.parse', () => {
    for (const s of ['2026-11-30T08:00:00Z', '2026-11-30T08:00:00.000+08:00', '2026-11-30', '2026-13-01T00:00:00.000Z', '2026-11-30T24:00:00.000Z', '2026-11-3xT00:00:00.000Z', '0999-01-01T00:00:00.000Z', 'not a time', '']) {
      assert.deepEqual(isoMs(s), Date.parse(s), s);
    }
  });
});

const P = builtinPipeline('ecs');
const fail: LoadedRule = {
  source: 'fail.yml',
  doc: { title: 'ssh failure', id: 'c0000000-0000-4000-8000-000000000001', name: 'ssh_fail', logsource: { category: 'authentication' }, detection: { sel: { 'event.action': 'ssh_login', 'event.outcome': 'failure' }, condition: 'sel' } },
};
const spray = (timespan: string, gte: number): LoadedRule => ({
  source: 'spray.yml',
  doc: { title: 'spray', id: 'spray', name: 'spray', level: 'high', correlation: { type: 'value_count', rules: ['ssh_fail'], 'group-by': ['source.ip'], timespan, condition: { field: 'user.name', gte } } },
});
const t0 = Date.UTC(2026, 10, 30, 0, 0, 0);
function ev(sec: number, user: string, ip = '203.0.113.5'): Record<string, unknown> {
  return { id: `e${sec}-${user}`, '@timestamp': new Date(t0 + sec * 1000).toISOString(), event: { category: ['authentication'], action: 'ssh_login', outcome: 'failure' }, source: { ip }, user: { name: user } };
}
function run(rules: LoadedRule[], events: Record<string, unknown>[], opts: EngineOptions = {}): RuleMatch[] {
  const e = compileRules(rules, P, opts);
  return events.flatMap((x) => e.match(x)).filter((m) => m.ruleId === 'spray');
}
const at = (sec: number) => new Date(t0 + sec * 1000).toISOString();

describe('correlationOf', () => {
  test('the same object as a spread of the context and two Date#toISOString calls', () => {
    const times = [0, 1, 999, 1796025600000, 1796025600123.5, -1, -62198755200000, 253402300799999, 253402300800000, 8.64e15 - 60_000];
    for (const start of times)
      for (const end of [start, start + 60_000]) {
        assert.deepStrictEqual(correlationOf('event_count', null, 5, start, end), { type: 'event_count', ...{ count: 5 }, windowStart: new Date(start).toISOString(), windowEnd: new Date(end).toISOString() });
        assert.deepStrictEqual(correlationOf('temporal', ['a', 'b'], undefined, start, end), { type: 'temporal', ...{ rules: ['a', 'b'] }, windowStart: new Date(start).toISOString(), windowEnd: new Date(end).toISOString() });
      }
    const noCount = correlationOf('value_count', null, undefined, 0, 0);
    assert.ok('count' in noCount && noCount.count === undefined);
    assert.throws(() => correlationOf('event_count', null, 1, NaN, 0), RangeError);
  });
});

describe('value_count sets', () => {
  test('a value seen again counts from its newest time', () => {
    // 10 s window: u1@0, u2@5, u1@9, u3@14. At 14 the window starts at 4: u1 (seen at 9), u2 and u3.
    const ms = run([fail, spray('10s', 3)], [ev(0, 'u1'), ev(5, 'u2'), ev(9, 'u1'), ev(14, 'u3')]);
    assert.equal(ms.length, 1);
    assert.equal(ms[0].correlation?.count, 3);
    assert.equal(ms[0].correlation?.windowStart, at(5));
    assert.deepEqual(ms[0].eventIds, ['e0-u1', 'e5-u2', 'e9-u1', 'e14-u3']);
  });
  test('a late event: the window starts at the earliest time kept', () => {
    const ms = run([fail, spray('10s', 3)], [ev(10, 'u1'), ev(3, 'u2'), ev(12, 'u3')]);
    assert.equal(ms.length, 1);
    assert.equal(ms[0].correlation?.windowStart, at(3));
    assert.equal(ms[0].correlation?.windowEnd, at(12));
  });
  test('many distinct values (a port-scan-sized set) fire at the threshold', () => {
    const users = Array.from({ length: 40 }, (_, i) => ev(i, `u${i}`));
    const ms = run([fail, spray('1m', 30)], users);
    assert.equal(ms.length, 1);
    assert.equal(ms[0].correlation?.count, 30);
    assert.equal(ms[0].correlation?.windowStart, at(0));
    assert.equal(ms[0].time, at(29));
    // Values older than the window are dropped: 25 users, then 25 more 2 minutes later.
    const late = [...users.slice(0, 25), ...Array.from({ length: 25 }, (_, i) => ev(120 + i, `v${i}`))];
    assert.equal(run([fail, spray('1m', 30)], late).length, 0);
  });
  test('maxPerGroup drops the oldest values and counts them', () => {
    const e = compileRules([fail, spray('1m', 100)], P, { maxPerGroup: 3 });
    for (let i = 0; i < 5; i++) e.match(ev(i, `u${i}`));
    assert.equal(e.stats().groupOverflows, 2);
    const s = e.snapshot();
    assert.deepEqual(s.groups[0][2].vals, [['u2', t0 + 2000], ['u3', t0 + 3000], ['u4', t0 + 4000]]);
  });
  test('snapshots of small and large sets round-trip in last-seen order', () => {
    const small: [string, number][] = [['b', t0 + 1000], ['a', t0 + 2000]];
    const large: [string, number][] = Array.from({ length: 20 }, (_, i) => [`p${20 - i}`, t0 + i * 1000]);
    const state = (vals: [string, number][]) => ({ ts: [], vals, chain: [], ids: ['x'], group: { 'source.ip': 'ip' }, start: vals[0][1], count: 0, last: vals[vals.length - 1][1] });
    const snap = { version: 1 as const, groups: [['spray', '198.51.100.1', { ...state(small), group: { 'source.ip': '198.51.100.1' } }], ['spray', '198.51.100.2', { ...state(large), group: { 'source.ip': '198.51.100.2' } }]] };
    const e = compileRules([fail, spray('1m', 22)], P);
    e.restore(structuredClone(snap));
    assert.deepEqual(e.snapshot(), snap);
    // The large set goes on counting: two new users make 22.
    assert.equal(e.match(ev(20, 'n1', '198.51.100.2')).filter((m) => m.ruleId === 'spray').length, 0);
    const m = e.match(ev(21, 'n2', '198.51.100.2')).filter((x) => x.ruleId === 'spray');
    assert.equal(m[0]?.correlation?.count, 22);
  });
});
