import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { builtinPipeline, compileRules, RuleError, type EngineOptions, type LoadedRule, type RuleMatch } from '../src/index.js';

const P = builtinPipeline('ecs');

const fail: LoadedRule = {
  source: 'fail.yml',
  doc: {
    title: 'ssh failure',
    id: 'b0000000-0000-4000-8000-000000000001',
    name: 'ssh_fail',
    logsource: { category: 'authentication' },
    detection: { sel: { 'event.action': 'ssh_login', 'event.outcome': 'failure' }, condition: 'sel' },
  },
};
const ok: LoadedRule = {
  source: 'ok.yml',
  doc: {
    title: 'ssh success',
    id: 'b0000000-0000-4000-8000-000000000002',
    name: 'ssh_ok',
    logsource: { category: 'authentication' },
    detection: { sel: { 'event.action': 'ssh_login', 'event.outcome': 'success' }, condition: 'sel' },
  },
};
function corr(id: string, c: Record<string, unknown>): LoadedRule {
  return { source: `${id}.yml`, doc: { title: id, id, name: id, level: 'high', correlation: c } };
}
function ev(sec: number, outcome: 'failure' | 'success', ip = '203.0.113.5', user = 'root'): Record<string, unknown> {
  return {
    id: `e${sec}-${outcome}-${ip}-${user}`,
    '@timestamp': new Date(Date.UTC(2026, 10, 30, 0, 0, sec)).toISOString(),
    event: { category: ['authentication'], action: 'ssh_login', outcome },
    source: { ip },
    user: { name: user },
  };
}
function run(rules: LoadedRule[], events: Record<string, unknown>[], opts: EngineOptions = {}): RuleMatch[] {
  const e = compileRules(rules, P, opts);
  return events.flatMap((x) => e.match(x));
}
const of = (ms: RuleMatch[], id: string) => ms.filter((m) => m.ruleId === id);

describe('event_count', () => {
  const brute = corr('brute', { type: 'event_count', rules: ['ssh_fail'], 'group-by': ['source.ip'], timespan: '1m', condition: { gte: 3 } });
  test('three failures within a minute from one source fire once, with context', () => {
    const ms = run([fail, brute], [ev(0, 'failure'), ev(20, 'failure'), ev(50, 'failure'), ev(55, 'failure')]);
    const c = of(ms, 'brute');
    assert.equal(c.length, 1);
    assert.equal(c[0].kind, 'correlation');
    assert.equal(c[0].correlation?.count, 3);
    assert.deepEqual(c[0].group, { 'source.ip': '203.0.113.5' });
    assert.deepEqual(c[0].eventIds, ['e0-failure-203.0.113.5-root', 'e20-failure-203.0.113.5-root', 'e50-failure-203.0.113.5-root']);
    assert.equal(c[0].correlation?.windowStart, '2026-11-30T00:00:00.000Z');
    // generate is false: the base rule's own matches are context, not alerts.
    assert.ok(of(ms, fail.doc.id as string).every((m) => m.alert === false));
  });
  test('the same failures spread over more than the timespan do not fire', () => {
    assert.equal(of(run([fail, brute], [ev(0, 'failure'), ev(40, 'failure'), ev(100, 'failure'), ev(170, 'failure')]), 'brute').length, 0);
  });
  test('a switched-off base rule does not feed the correlation; a switched-off correlation fires nothing', () => {
    const e = compileRules([fail, brute], P);
    assert.equal(e.setRuleEnabled(fail.doc.id as string, false), true);
    assert.equal(e.setRuleEnabled('no-such-rule', false), false);
    const burst = [ev(0, 'failure'), ev(20, 'failure'), ev(50, 'failure')];
    assert.deepEqual(burst.flatMap((x) => e.match(x)), []);
    e.setRuleEnabled(fail.doc.id as string, true);
    e.setRuleEnabled('brute', false);
    assert.equal(of(burst.flatMap((x) => e.match(x)), 'brute').length, 0);
    assert.equal(e.stats().groups, 0);
    e.setRuleEnabled('brute', true);
    assert.equal(of(burst.flatMap((x) => e.match(x)), 'brute').length, 1);
  });
  test('groups are separate', () => {
    assert.equal(of(run([fail, brute], [ev(0, 'failure', '1.1.1.1'), ev(1, 'failure', '2.2.2.2'), ev(2, 'failure', '1.1.1.1'), ev(3, 'failure', '2.2.2.2')]), 'brute').length, 0);
  });
  test('lt fires when a window closes with too few events (flush)', () => {
    const quiet = corr('quiet', { type: 'event_count', rules: ['ssh_fail'], 'group-by': ['source.ip'], timespan: '1m', condition: { lt: 2 } });
    const e = compileRules([fail, quiet], P);
    e.match(ev(0, 'failure'));
    assert.equal(of(e.flush('2026-11-30T00:00:30Z'), 'quiet').length, 0);
    const f = of(e.flush('2026-11-30T00:01:01Z'), 'quiet');
    assert.equal(f.length, 1);
    assert.equal(f[0].correlation?.count, 1);
  });
});

describe('value_count', () => {
  test('password spraying: one source, many distinct users', () => {
    const spray = corr('spray', { type: 'value_count', rules: ['ssh_fail'], 'group-by': ['source.ip'], timespan: '5m', condition: { field: 'user.name', gte: 3 } });
    const same = run([fail, spray], [ev(0, 'failure', 'a', 'u1'), ev(1, 'failure', 'a', 'u1'), ev(2, 'failure', 'a', 'u2')]);
    assert.equal(of(same, 'spray').length, 0);
    const ms = run([fail, spray], [ev(0, 'failure', 'a', 'u1'), ev(1, 'failure', 'a', 'u1'), ev(2, 'failure', 'a', 'u2'), ev(3, 'failure', 'a', 'u3')]);
    assert.equal(of(ms, 'spray').length, 1);
    assert.equal(of(ms, 'spray')[0].correlation?.count, 3);
  });
});

describe('temporal and temporal_ordered', () => {
  test('temporal: both rules in the window, any order', () => {
    const t = corr('both', { type: 'temporal', rules: ['ssh_fail', 'ssh_ok'], 'group-by': ['user.name'], timespan: '1m' });
    assert.equal(of(run([fail, ok, t], [ev(0, 'success'), ev(10, 'failure')]), 'both').length, 1);
    assert.equal(of(run([fail, ok, t], [ev(0, 'success'), ev(100, 'failure')]), 'both').length, 0);
  });
  test('temporal_ordered: success after a burst of failures (correlation over a correlation)', () => {
    const burst = corr('burst', { type: 'event_count', rules: ['ssh_fail'], 'group-by': ['source.ip'], timespan: '5m', condition: { gte: 3 } });
    const after = corr('after', { type: 'temporal_ordered', rules: ['burst', 'ssh_ok'], 'group-by': ['source.ip'], timespan: '10m' });
    const rules = [fail, ok, burst, after];
    const good = run(rules, [ev(0, 'failure'), ev(1, 'failure'), ev(2, 'failure'), ev(30, 'success')]);
    assert.equal(of(good, 'after').length, 1);
    assert.deepEqual(of(good, 'after')[0].correlation?.rules, ['burst', 'ssh_ok']);
    // Success first, failures later: wrong order.
    assert.equal(of(run(rules, [ev(0, 'success'), ev(1, 'failure'), ev(2, 'failure'), ev(3, 'failure')]), 'after').length, 0);
    // Success from another source does not complete the chain.
    assert.equal(of(run(rules, [ev(0, 'failure'), ev(1, 'failure'), ev(2, 'failure'), ev(30, 'success', '9.9.9.9')]), 'after').length, 0);
  });
});

describe('state: snapshot/restore across a restart, bounds', () => {
  const brute = corr('brute', { type: 'event_count', rules: ['ssh_fail'], 'group-by': ['source.ip'], timespan: '10m', condition: { gte: 3 } });
  test('an open window survives a restart through a JSON snapshot', () => {
    const a = compileRules([fail, brute], P);
    a.match(ev(0, 'failure'));
    a.match(ev(10, 'failure'));
    const saved = JSON.stringify(a.snapshot());
    // "Restart": a fresh engine compiled from the same rules.
    const b = compileRules([fail, brute], P);
    b.restore(JSON.parse(saved));
    assert.equal(of(b.match(ev(20, 'failure')), 'brute').length, 1);
    const c = compileRules([fail, brute], P);
    assert.equal(of(c.match(ev(20, 'failure')), 'brute').length, 0, 'without the snapshot the window is lost');
  });
  test('a snapshot written by earlier engine versions (group objects; without `last`) loads and round-trips', () => {
    // Literal state as the version-1 format has always been written; times are 2026-11-30T00:00:00Z + n s.
    const t0 = Date.UTC(2026, 10, 30, 0, 0, 0);
    const old = {
      version: 1,
      groups: [
        ['brute', '203.0.113.5', { ts: [t0, t0 + 10_000], vals: [], chain: [], ids: ['e0-failure-203.0.113.5-root', 'e10-failure-203.0.113.5-root'], group: { 'source.ip': '203.0.113.5' }, start: t0, count: 0 }],
        ['brute', '198.51.100.7', { ts: [t0 + 5_000], vals: [], chain: [], ids: ['x'], group: { 'source.ip': '198.51.100.7' }, start: t0 + 5_000, count: 0, last: t0 + 5_000 }],
      ],
    };
    const e = compileRules([fail, brute], P);
    e.restore(structuredClone(old));
    assert.equal(e.stats().groups, 2);
    // Round trip: the same groups in the same order, `last` filled in from `start` where it was absent.
    const back = e.snapshot();
    assert.deepEqual(back.groups[1], old.groups[1]);
    assert.deepEqual(back.groups[0], ['brute', '203.0.113.5', { ...(old.groups[0][2] as object), last: t0 }]);
    const c = of(e.match(ev(20, 'failure')), 'brute');
    assert.equal(c.length, 1);
    assert.equal(c[0].correlation?.count, 3);
    assert.deepEqual(c[0].eventIds, ['e0-failure-203.0.113.5-root', 'e10-failure-203.0.113.5-root', 'e20-failure-203.0.113.5-root']);
    assert.equal(c[0].correlation?.windowStart, '2026-11-30T00:00:00.000Z');
    // The fired group restarted; the other one is untouched.
    assert.deepEqual(e.snapshot().groups.map((g) => g[1]), ['198.51.100.7']);
  });
  test('a group that ends (evicted, fired) frees its slot; the next group there starts empty', () => {
    // Cap 1: every new source evicts the previous one, so groups keep taking over freed slots.
    const e = compileRules([fail, brute], P, { maxGroups: 1 });
    e.match(ev(0, 'failure', '1.1.1.1'));
    e.match(ev(1, 'failure', '1.1.1.1'));
    e.match(ev(2, 'failure', '2.2.2.2'));
    assert.deepEqual([e.stats().groups, e.stats().evictions], [1, 1]);
    e.match(ev(3, 'failure', '1.1.1.1'));
    e.match(ev(4, 'failure', '1.1.1.1'));
    const c = of(e.match(ev(5, 'failure', '1.1.1.1')), 'brute');
    assert.equal(c.length, 1);
    // Only this group's own events: none of the evicted 1.1.1.1 group's nor 2.2.2.2's.
    assert.deepEqual(c[0].eventIds, ['e3-failure-1.1.1.1-root', 'e4-failure-1.1.1.1-root', 'e5-failure-1.1.1.1-root']);
    assert.equal(c[0].correlation?.windowStart, '2026-11-30T00:00:03.000Z');
    // It fired and restarted: one event later the window holds one event.
    e.match(ev(6, 'failure', '1.1.1.1'));
    const s = e.snapshot().groups;
    assert.equal(s.length, 1);
    assert.deepEqual(s[0][2].ids, ['e6-failure-1.1.1.1-root']);
    assert.deepEqual(s[0][2].ts, [Date.UTC(2026, 10, 30, 0, 0, 6)]);
  });
  test('malformed snapshots are RULE_ERR_SNAPSHOT; groups of removed rules are dropped and counted', () => {
    const a = compileRules([fail, brute], P);
    assert.throws(() => a.restore({ version: 2, groups: [] }), (e: unknown) => e instanceof RuleError && e.code === 'RULE_ERR_SNAPSHOT');
    assert.throws(() => a.restore({ version: 1, groups: [['brute', 'x', { ts: 'no' }]] }), (e: unknown) => e instanceof RuleError && e.code === 'RULE_ERR_SNAPSHOT');
    a.match(ev(0, 'failure'));
    const snap = a.snapshot();
    const b = compileRules([fail], P);
    b.restore(snap);
    assert.equal(b.stats().restoreDropped, 1);
  });
  test('the group cap evicts the least recently used group and counts it', () => {
    const e = compileRules([fail, brute], P, { maxGroups: 2 });
    e.match(ev(0, 'failure', '1.1.1.1'));
    e.match(ev(1, 'failure', '2.2.2.2'));
    e.match(ev(2, 'failure', '3.3.3.3'));
    assert.equal(e.stats().groups, 2);
    assert.equal(e.stats().evictions, 1);
    // 1.1.1.1 was evicted: two more failures from it are not enough.
    e.match(ev(3, 'failure', '1.1.1.1'));
    assert.equal(of(e.match(ev(4, 'failure', '1.1.1.1')), 'brute').length, 0);
  });
  test('groups whose window ended are dropped as time moves on (counted), so snapshots hold open windows', () => {
    const lenient = compileRules([fail, brute], P);
    lenient.match(ev(0, 'failure', '1.1.1.1'));
    lenient.match(ev(1200, 'failure', '3.3.3.3'));
    assert.equal(lenient.stats().expired, 0, 'within the default hour of grace (clock skew between sources)');
    const e = compileRules([fail, brute], P, { expiryGraceMs: 0 });
    e.match(ev(0, 'failure', '1.1.1.1'));
    e.match(ev(1, 'failure', '2.2.2.2'));
    assert.equal(e.stats().groups, 2);
    // Twenty minutes later (timespan 10m, no grace) another source fails: the two old groups have ended.
    e.match(ev(1200, 'failure', '3.3.3.3'));
    assert.equal(e.stats().expired, 2);
    assert.equal(e.stats().groups, 1);
    assert.deepEqual(e.snapshot().groups.map((g) => g[1]), ['3.3.3.3']);
  });
  test('events without a timestamp are counted, not correlated', () => {
    const e = compileRules([fail, brute], P);
    const x = ev(0, 'failure');
    delete x['@timestamp'];
    assert.equal(e.match(x).length, 1);
    assert.equal(e.stats().noTimestamp, 1);
  });
  test('references to unknown rules are RULE_ERR_REFERENCE', () => {
    assert.throws(() => compileRules([corr('x', { type: 'event_count', rules: ['nope'], timespan: '1m', condition: { gte: 1 } })], P), (e: unknown) => e instanceof RuleError && e.code === 'RULE_ERR_REFERENCE');
  });
  test('meta filters narrow the rules they reference', () => {
    const filt: LoadedRule = { source: 'f.yml', doc: { title: 'allow scanner', id: 'f1', logsource: { category: 'authentication' }, filter: { rules: ['ssh_fail'], scanner: { 'source.ip': '10.9.9.9' }, condition: 'not scanner' } } };
    const e = compileRules([fail, filt], P);
    assert.equal(e.match(ev(0, 'failure', '10.9.9.9')).length, 0);
    assert.equal(e.match(ev(0, 'failure', '10.9.9.8')).length, 1);
    // A filter whose rules are not loaded is reported, not silently kept.
    const lone = compileRules([filt], P, { onError: 'skip' });
    assert.equal(lone.filters.length, 0);
    assert.equal(lone.rejected[0]?.code, 'RULE_ERR_REFERENCE');
    assert.throws(() => compileRules([filt], P), (x: unknown) => x instanceof RuleError && x.code === 'RULE_ERR_REFERENCE');
  });
});
