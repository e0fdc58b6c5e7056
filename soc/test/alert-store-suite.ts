// The AlertStore contract (soc/src/alerts/types.ts) as one suite for every backend: SQLite,
// Elasticsearch and OpenSearch run the same checks (engine-alerts.test.ts). Dedup within the
// window, replay naming the same alert, counted suppressions and exceptions, the lifecycle with
// history and comments, list filters and paging, checkpoints and switched-off rules.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { RuleMatch } from '@xiangan/rules';
import { MAX_ALERT_EVENT_IDS, type AlertCandidate, type AlertStore } from '../src/alerts/types.js';
import { SocError } from '../src/errors.js';

/** Opens a fresh, empty store with this clock, suppression ids and dedup window. */
export type AlertStoreFactory = (opts: { now: () => number; newId: () => string; dedupWindowMs: number }) => Promise<{ store: AlertStore; dispose: () => Promise<void> }>;

export function cand(over: Partial<RuleMatch> & { groupKey?: string; fields?: Record<string, string> } = {}): AlertCandidate {
  const { groupKey = 'web1\u001f203.0.113.5', fields = { 'host.name': 'web1', 'source.ip': '203.0.113.5' }, ...m } = over;
  const match: RuleMatch = { ruleId: 'rule-a', title: 'SSH root login', level: 'high', tags: ['attack.t1078'], kind: 'detection', alert: true, eventIds: ['e1'], time: '2026-11-30T02:00:00.000Z', ...m };
  return { match, groupKey, group: fields, field: (n) => (fields[n] !== undefined ? [fields[n]!] : []) };
}

export function alertStoreSuite(name: string, open: AlertStoreFactory): void {
  const withStore = async (fn: (s: AlertStore) => Promise<void>): Promise<void> => {
    let t = Date.parse('2026-11-30T03:00:00Z');
    let n = 0;
    const { store, dispose } = await open({ now: () => (t += 1000), newId: () => `sup-${++n}`, dedupWindowMs: 3_600_000 });
    try {
      await fn(store);
    } finally {
      await dispose();
    }
  };

  describe(`${name}: alert store contract`, () => {
    test('dedup within the window, new alerts past it or for another group/rule, replay creates nothing', () =>
      withStore(async (s) => {
        const r1 = await s.record([cand()]);
        assert.equal(r1.created.length, 1);
        const r2 = await s.record([cand({ eventIds: ['e2'], time: '2026-11-30T02:30:00.000Z' }), cand({ eventIds: ['e3'], time: '2026-11-30T02:40:00.000Z' })]);
        assert.deepEqual([r2.created.length, r2.updated.length], [0, 1]);
        const a = await s.get(r1.created[0]!.id);
        assert.deepEqual([a?.count, a?.firstSeen, a?.lastSeen, a?.riskScore], [3, '2026-11-30T02:00:00.000Z', '2026-11-30T02:40:00.000Z', 73]);
        assert.deepEqual(a?.eventIds, ['e1', 'e2', 'e3']);
        const later = await s.record([cand({ eventIds: ['e9'], time: '2026-11-30T03:40:01.000Z' })]);
        assert.equal(later.created.length, 1, 'an hour after the last match is outside the window');
        assert.equal((await s.record([cand({ groupKey: 'web2', fields: { 'host.name': 'web2' } }), cand({ ruleId: 'rule-b' })])).created.length, 2);
        assert.equal((await s.record([cand()])).created.length, 0, 'the very first match replayed names the same alert');
        assert.equal((await s.list()).total, 4);
      }));

    test('an alert storm: a batch of many candidates folds into one alert, ids capped, first-seen order kept', () =>
      withStore(async (s) => {
        // The plain definition of an alert's ids: every id once, in the order first seen, the newest MAX_ALERT_EVENT_IDS.
        let expected: string[] = [];
        const fold = (ids: string[]): void => {
          expected = [...new Set([...expected, ...ids])].slice(-MAX_ALERT_EVENT_IDS);
        };
        let id = '';
        let count = 0;
        let k = 0;
        for (const [batch, size] of [[0, 1], [1, 700], [2, 700], [3, 5]] as const) {
          const cands: AlertCandidate[] = [];
          for (let i = 0; i < size; i++, k++) {
            // Some ids come again: one from this batch, one from long ago (since dropped past the cap).
            const ids = k % 7 === 3 ? [`e${k - 1}`] : k % 11 === 5 ? ['e0', `e${k}`] : [`e${k}`, `e${k}b`];
            cands.push(cand({ eventIds: ids, time: new Date(Date.parse('2026-11-30T02:00:00.000Z') + k * 1000).toISOString() }));
            fold(ids);
            count++;
          }
          const r = await s.record(cands);
          if (batch === 0) id = r.created[0]!.id;
          else assert.deepEqual([r.created.length, r.updated.map((a) => a.id)], [0, [id]]);
          const a = await s.get(id);
          assert.equal(a?.count, count);
          assert.deepEqual(a?.eventIds, expected, `batch ${batch}`);
        }
        assert.equal(expected.length, MAX_ALERT_EVENT_IDS);
        const sup = await s.addSuppression({ kind: 'exception', ruleId: 'rule-a', match: { 'source.ip': ['203.0.113.5'] }, reason: 'scanner', createdBy: 'bob' });
        assert.equal((await s.record(Array.from({ length: 40 }, () => cand()))).suppressed, 40);
        assert.equal((await s.listSuppressions()).find((x) => x.id === sup.id)?.hits, 40);
        assert.equal((await s.get(id))?.count, count, 'suppressed candidates leave the alert as it was');
      }));

    test('a closed alert absorbs nothing; exceptions and suppression windows mute and count', () =>
      withStore(async (s) => {
        const id = (await s.record([cand()])).created[0]!.id;
        await s.transition(id, 'false_positive', 'alice');
        assert.equal((await s.record([cand({ eventIds: ['e5'], time: '2026-11-30T02:05:00.000Z' })])).created.length, 1);
        const ex = await s.addSuppression({ kind: 'exception', ruleId: 'rule-a', match: { 'source.ip': ['203.0.113.5'] }, reason: 'scanner', createdBy: 'bob' });
        assert.equal(ex.id, 'sup-1');
        const r = await s.record([cand({ eventIds: ['e6'], time: '2026-11-30T05:00:00.000Z' }), cand({ groupKey: 'x', fields: { 'source.ip': '192.0.2.77' } }), cand({ ruleId: 'rule-c' })]);
        assert.deepEqual([r.suppressed, r.created.length], [1, 2]);
        assert.equal((await s.listSuppressions())[0]?.hits, 1);
        assert.equal(await s.deleteSuppression(ex.id), true);
        assert.equal(await s.deleteSuppression(ex.id), false);
        await s.addSuppression({ kind: 'suppression', ruleId: null, expiresAt: '2026-11-30T06:10:00.000Z', reason: 'maintenance', createdBy: 'ops' });
        const inside = await s.record([cand({ ruleId: 'rule-d', time: '2026-11-30T06:09:59.999Z' })]);
        assert.deepEqual([inside.suppressed, inside.created.length], [1, 0]);
        const after = await s.record([cand({ ruleId: 'rule-d', time: '2026-11-30T06:10:00.000Z' })]);
        assert.deepEqual([after.suppressed, after.created.length], [0, 1]);
        await assert.rejects(s.addSuppression({ kind: 'suppression', reason: 'r', createdBy: 'x' }), RangeError);
      }));

    test('lifecycle with history, assignee and comments; refused moves change nothing', () =>
      withStore(async (s) => {
        const id = (await s.record([cand()])).created[0]!.id;
        for (const to of ['in_progress', 'resolved'] as const) {
          await assert.rejects(s.transition(id, to, 'alice'), (e: unknown) => e instanceof SocError && e.code === 'SOC_ERR_ALERT_TRANSITION');
        }
        assert.equal((await s.transition(id, 'acknowledged', 'alice')).status, 'acknowledged');
        assert.equal((await s.assign(id, 'carol', 'alice')).assignee, 'carol');
        assert.equal((await s.transition(id, 'in_progress', 'carol', 'looking')).status, 'in_progress');
        await s.comment(id, 'carol', '来源是内部扫描器');
        assert.equal((await s.transition(id, 'resolved', 'carol')).status, 'resolved');
        assert.deepEqual(
          (await s.history(id)).map((e) => [e.action, e.actor, e.from ?? null, e.to ?? null]),
          [
            ['created', 'detector', null, 'new'],
            ['transition', 'alice', 'new', 'acknowledged'],
            ['assign', 'alice', null, 'carol'],
            ['transition', 'carol', 'acknowledged', 'in_progress'],
            ['comment', 'carol', null, null],
            ['transition', 'carol', 'in_progress', 'resolved'],
          ],
        );
        assert.deepEqual((await s.comments(id)).map((c) => c.text), ['来源是内部扫描器']);
        assert.equal((await s.get(id))?.assignee, 'carol');
        await assert.rejects(s.transition('nope', 'acknowledged', 'a'), (e: unknown) => e instanceof SocError && e.code === 'SOC_ERR_ALERT_NOT_FOUND');
        assert.equal(await s.get('nope'), undefined);
      }));

    test('list filters by status, severity, rule and time and pages newest first', () =>
      withStore(async (s) => {
        const cs: AlertCandidate[] = [];
        for (let i = 0; i < 7; i++) cs.push(cand({ ruleId: `r${i}`, level: i % 2 ? 'low' : 'critical', time: `2026-11-30T02:0${i}:00.000Z` }));
        await s.record(cs);
        const p1 = await s.list({ size: 3 });
        assert.equal(p1.total, 7);
        assert.deepEqual(p1.alerts.map((a) => a.ruleId), ['r6', 'r5', 'r4']);
        assert.deepEqual((await s.list({ size: 3, offset: 6 })).alerts.map((a) => a.ruleId), ['r0']);
        assert.equal((await s.list({ minSeverity: 'high' })).total, 4);
        assert.equal((await s.list({ ruleId: 'r3' })).total, 1);
        assert.equal((await s.list({ from: '2026-11-30T02:05:00.000Z' })).total, 2);
        await s.transition(p1.alerts[0]!.id, 'acknowledged', 'a');
        assert.equal((await s.list({ status: ['acknowledged'] })).total, 1);
        assert.equal((await s.list({ status: ['new'] })).total, 6);
      }));

    test('checkpoints (also saved by record) and switched-off rules persist', () =>
      withStore(async (s) => {
        assert.equal(await s.loadCheckpoint('detector'), undefined);
        await s.record([cand()], { checkpoints: [{ name: 'detector', value: '{"seq":7}' }] });
        assert.equal(await s.loadCheckpoint('detector'), '{"seq":7}');
        await s.saveCheckpoint('detector', '{"seq":8}');
        assert.equal(await s.loadCheckpoint('detector'), '{"seq":8}');
        // The detector's windows (non-ASCII group values, escapes) read back as the same text.
        const text = JSON.stringify({ snapshot: { version: 1, groups: [['c', '张三\u001f😀', { ids: ['e"1\\'] }]] }, maxTime: 1 });
        await s.saveCheckpoint('detector.windows', text);
        assert.equal(await s.loadCheckpoint('detector.windows'), text);
        await s.setRuleEnabled('rule-x', false, 'alice');
        await s.setRuleEnabled('rule-y', false, 'alice');
        await s.setRuleEnabled('rule-y', true, 'alice');
        assert.deepEqual([...(await s.disabledRules())], ['rule-x']);
      }));
  });
}
