// Correlation groups' event-id and chain lists, made at the size they use (groups.ts, engine.ts
// pushId / temporal_ordered): ids stay bounded by maxEventIds (0, 1, 2 and the default) in the
// order they came, a fresh window starts its list again, and temporal_ordered chains fire as
// before; a snapshot restores the same lists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinPipeline, compileRules, type LoadedRule, type RuleMatch } from '../src/index.js';

const P = builtinPipeline('ecs');

function det(name: string, outcome: string): LoadedRule {
  return {
    source: `${name}.yml`,
    doc: { title: name, id: name, name, logsource: { category: 'authentication' }, detection: { sel: { 'event.action': 'ssh_login', 'event.outcome': outcome }, condition: 'sel' } },
  };
}
const corr = (id: string, c: Record<string, unknown>): LoadedRule => ({ source: `${id}.yml`, doc: { title: id, id, name: id, level: 'high', correlation: c } });
const ev = (sec: number, outcome: string, ip = '203.0.113.5') => ({
  id: `e${sec}-${outcome}`,
  '@timestamp': new Date(Date.UTC(2026, 10, 30, 0, 0, sec)).toISOString(),
  event: { category: ['authentication'], action: 'ssh_login', outcome },
  source: { ip },
});

test('event ids of a group: bounded by maxEventIds, newest kept, in order', () => {
  const rules = [det('fail', 'failure'), corr('brute', { type: 'event_count', rules: ['fail'], 'group-by': ['source.ip'], timespan: '1m', condition: { gte: 4 } })];
  const ids = ['e0-failure', 'e10-failure', 'e20-failure', 'e30-failure'];
  for (const max of [0, 1, 2, 3, undefined]) {
    const e = compileRules(rules, P, max === undefined ? {} : { maxEventIds: max });
    const open = (): unknown[] => (e.snapshot().groups as [string, string, { ids: string[] }][]).map((g) => g[2].ids);
    const keep = (n: number) => ids.slice(0, n).slice(Math.max(0, n - (max ?? 100)));
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(e.match(ev(10 * i, 'failure')).filter((m) => m.ruleId === 'brute'), []);
      assert.deepEqual(open(), [keep(i + 1)], `maxEventIds ${max}, after ${i + 1}`);
    }
    const again = compileRules(rules, P, max === undefined ? {} : { maxEventIds: max });
    again.restore(JSON.parse(JSON.stringify(e.snapshot())));
    const fired = e.match(ev(30, 'failure')).filter((m) => m.ruleId === 'brute');
    assert.deepEqual(fired.map((m) => m.eventIds), [keep(4)]);
    assert.deepEqual(again.match(ev(30, 'failure')).filter((m) => m.ruleId === 'brute').map((m) => m.eventIds), [keep(4)], 'the same after a restore');
  }
});

test('a "fewer than" window starts its id list again; temporal_ordered chains fire in order only', () => {
  const quiet = corr('quiet', { type: 'event_count', rules: ['fail'], 'group-by': ['source.ip'], timespan: '1m', condition: { lt: 3 } });
  const e = compileRules([det('fail', 'failure'), quiet], P);
  const fired: RuleMatch[] = [];
  for (const s of [0, 10, 70, 80, 200]) fired.push(...e.match(ev(s, 'failure')).filter((m) => m.ruleId === 'quiet'));
  assert.deepEqual(fired.map((m) => m.eventIds), [['e0-failure', 'e10-failure'], ['e70-failure', 'e80-failure']]);

  const chain = corr('chain', { type: 'temporal_ordered', rules: ['fail', 'ok'], 'group-by': ['source.ip'], timespan: '1m' });
  const t = compileRules([det('fail', 'failure'), det('ok', 'success'), chain], P);
  const hits = (x: Record<string, unknown>) => t.match(x).filter((m) => m.ruleId === 'chain').length;
  assert.equal(hits(ev(0, 'success')), 0, 'the second step first: nothing');
  assert.equal(hits(ev(5, 'failure')), 0);
  assert.equal(hits(ev(9, 'success')), 1, 'failure then success within the minute');
  assert.equal(hits(ev(100, 'success')), 0, 'its start has left the window');
  const again = compileRules([det('fail', 'failure'), det('ok', 'success'), chain], P);
  again.restore(JSON.parse(JSON.stringify(t.snapshot())));
  assert.deepEqual(again.snapshot(), t.snapshot());
});
