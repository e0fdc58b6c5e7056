// RuleEngine.writeSnapshot / snapshotJson: the pieces joined are JSON.stringify(engine.snapshot())
// byte for byte, for every correlation type (sliding and tumbling event_count, value_count with
// small and large sets, temporal, temporal_ordered; one and two group-by fields), generated
// event streams (fast-check: out-of-order times, quotes, controls, non-BMP and lone surrogates in
// values) and restored snapshots; and the text restores to the same state.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { builtinPipeline, compileRules, type LoadedRule, type RuleEngine } from '../src/index.js';

const P = builtinPipeline('ecs');

function det(name: string, outcome: string): LoadedRule {
  return {
    source: `${name}.yml`,
    doc: { title: name, id: `d-${name}`, name, logsource: { category: 'authentication' }, detection: { sel: { 'event.action': 'ssh_login', 'event.outcome': outcome }, condition: 'sel' } },
  };
}
function corr(id: string, c: Record<string, unknown>): LoadedRule {
  return { source: `${id}.yml`, doc: { title: id, id, name: id, level: 'high', correlation: c } };
}
const RULES: LoadedRule[] = [
  det('fail', 'failure'),
  det('ok', 'success'),
  corr('brute', { type: 'event_count', rules: ['fail'], 'group-by': ['source.ip'], timespan: '1m', condition: { gte: 4 } }),
  corr('quiet', { type: 'event_count', rules: ['ok'], 'group-by': ['source.ip', 'user.name'], timespan: '30s', condition: { lt: 2 } }),
  corr('spray', { type: 'value_count', rules: ['fail'], 'group-by': ['source.ip'], timespan: '2m', condition: { field: 'user.name', gte: 30 } }),
  corr('both', { type: 'temporal', rules: ['fail', 'ok'], 'group-by': ['user.name'], timespan: '1m' }),
  corr('then', { type: 'temporal_ordered', rules: ['fail', 'ok'], 'group-by': ['source.ip', 'user.name'], timespan: '1m' }),
];

const t0 = Date.UTC(2026, 10, 30, 0, 0, 0);
interface Ev {
  sec: number;
  ok: boolean;
  ip: number;
  user: string;
}
function event(e: Ev, i: number): Record<string, unknown> {
  return {
    id: `e${i}`,
    '@timestamp': new Date(t0 + e.sec * 1000).toISOString(),
    event: { category: ['authentication'], action: 'ssh_login', outcome: e.ok ? 'success' : 'failure' },
    source: { ip: `203.0.113.${e.ip}` },
    user: { name: e.user },
  };
}

function joined(engine: RuleEngine): string {
  const parts: string[] = [];
  engine.writeSnapshot((s) => parts.push(s));
  return parts.join('');
}

/** Users: plain, and ones JSON must escape or encode as multi-byte UTF-8 (the value sets grow past 16). */
const user = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('root', 'admin', 'oracle', 'u"q', 'back\\slash', 'tab\there', '张三', '😀', 'lone\ud800', '\u001f') },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 40 }).map((n) => `user${n}`) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
);
const stream = fc.array(
  fc.record({ sec: fc.integer({ min: 0, max: 400 }), ok: fc.boolean(), ip: fc.integer({ min: 1, max: 6 }), user }),
  { maxLength: 300 },
);

describe('writeSnapshot', () => {
  test('an engine without groups', () => {
    const e = compileRules(RULES, P);
    assert.equal(joined(e), JSON.stringify(e.snapshot()));
    assert.equal(e.snapshotJson(), '{"version":1,"groups":[]}');
  });

  test('equals JSON.stringify(snapshot()) over generated streams, and restores to the same state', () => {
    fc.assert(
      fc.property(stream, fc.boolean(), fc.integer({ min: 1, max: 50 }), (evs, sorted, maxGroups) => {
        const list = sorted ? [...evs].sort((a, b) => a.sec - b.sec) : evs;
        const e = compileRules(RULES, P, { maxGroups });
        list.forEach((x, i) => e.match(event(x, i)));
        const want = JSON.stringify(e.snapshot());
        assert.equal(joined(e), want);
        assert.equal(e.snapshotJson(), want);
        assert.equal([...e.snapshotPieces()].join(''), want);
        // The text read back: the same groups in the same order, and the same text again.
        const back = compileRules(RULES, P, { maxGroups });
        back.restore(JSON.parse(want));
        assert.deepStrictEqual(back.snapshot(), e.snapshot());
        assert.equal(back.snapshotJson(), want);
      }),
      { numRuns: 150 },
    );
  });

  test('a restored snapshot whose temporal pairs carry more than two items is written as snapshot() trims it', () => {
    const e = compileRules(RULES, P);
    e.restore({ version: 1, groups: [['both', 'root', { ts: [], vals: [['0', t0, 'extra']], chain: [], ids: ['x'], group: { 'user.name': 'root' }, start: t0, count: 0, last: t0 }]] });
    const want = JSON.stringify(e.snapshot());
    assert.ok(want.includes(`[["0",${t0}]]`), want);
    assert.equal(e.snapshotJson(), want);
  });

  test('snapshotPieces: one piece per group, made when asked for; taken in parts it is the same text', () => {
    const e = compileRules(RULES, P);
    for (let i = 0; i < 40; i++) e.match(event({ sec: i, ok: i % 3 === 0, ip: 1 + (i % 6), user: `user${i % 7}` }, i));
    const want = e.snapshotJson();
    const n = e.stats().groups;
    assert.ok(n > 6, `groups ${n}`);
    const it = e.snapshotPieces();
    const head: string[] = [];
    for (let k = 0; k < 3; k++) head.push(it.next().value as string);
    assert.equal(head[0], '{"version":1,"groups":[');
    // Only the groups asked for so far were written: the rest are made on the next calls.
    assert.ok(want.startsWith(head.join('')) && head.join('').length < want.length / 2);
    const rest = [...it];
    assert.equal(rest.length, n - 2 + 1, 'one piece per group, then the closing one');
    assert.equal(head.join('') + rest.join(''), want);
  });
});
