// The SQLite alert store: dedup by rule + group within the window, suppression windows and
// exceptions (counted, expiring), the lifecycle (allowed and refused moves), assignee,
// comments and history, and the HTTP routes over a real event store.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { RuleMatch } from '@xiangan/rules';
import { openSqliteAlertStore, type SqliteAlertStore } from '../src/alerts/sqlite.js';
import { ALERT_ROUTES, alertRoutes } from '../src/alerts/routes.js';
import type { AlertCandidate } from '../src/alerts/types.js';
import { alertId } from '../src/alerts/dedup.js';
import { SocError, SOC_ERROR_STATUS } from '../src/errors.js';
import { openSqliteStore } from '../src/storage/sqlite.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'xiangan-alerts-'));
}

function cand(over: Partial<RuleMatch> & { groupKey?: string; fields?: Record<string, string> } = {}): AlertCandidate {
  const { groupKey = 'web1\u001f203.0.113.5\u001froot', fields = { 'host.name': 'web1', 'source.ip': '203.0.113.5', 'user.name': 'root' }, ...m } = over;
  const match: RuleMatch = {
    ruleId: 'rule-a',
    title: 'SSH root login',
    level: 'high',
    tags: ['attack.t1078'],
    kind: 'detection',
    alert: true,
    eventIds: ['e1'],
    time: '2026-11-30T02:00:00.000Z',
    ...m,
  };
  return { match, groupKey, group: fields, field: (n) => (fields[n] !== undefined ? [fields[n]!] : []) };
}

test('alert ids: deterministic, the first event time in 12 hex digits then 20 of the SM3 of the match, sorting by time', () => {
  const a = cand();
  const id = alertId(a);
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal(id, alertId(cand()), 'the same match names the same alert');
  assert.equal(id.slice(0, 12), Date.parse('2026-11-30T02:00:00.000Z').toString(16).padStart(12, '0'));
  // Every input of the hash changes the id, the time its prefix too.
  const others = [cand({ ruleId: 'rule-b' }), cand({ groupKey: 'other' }), cand({ eventIds: ['e2'] }), cand({ time: '2026-11-30T02:00:00.001Z' })].map(alertId);
  assert.equal(new Set([id, ...others]).size, 5);
  for (const o of others.slice(0, 3)) assert.equal(o.slice(0, 12), id.slice(0, 12));
  // Ids sort as their alerts' times do, whatever the hash.
  const times = Array.from({ length: 200 }, (_, i) => new Date(Date.parse('2026-11-30T00:00:00Z') + i * 997_003).toISOString());
  const ids = times.map((time, i) => alertId(cand({ time, eventIds: [`e${(i * 7919) % 200}`] })));
  assert.deepEqual([...ids].sort(), ids);
  // A time that does not parse, or outside 0 … 2^48 - 1 ms, gives zeros, still deterministic.
  for (const time of ['not a time', '1969-12-31T23:59:59.999Z', '+275760-09-13T00:00:00.000Z']) {
    const x = alertId(cand({ time }));
    assert.match(x, /^0{12}[0-9a-f]{20}$/, time);
    assert.equal(x, alertId(cand({ time })));
  }
});

async function withStore(fn: (s: SqliteAlertStore, dir: string) => Promise<void>, opts: { dedupWindowMs?: number } = {}): Promise<void> {
  const dir = tmp();
  let t = Date.parse('2026-11-30T03:00:00Z');
  let n = 0;
  const s = await openSqliteAlertStore({ dir, now: () => (t += 1000), newId: () => `sup-${++n}`, ...opts });
  try {
    await fn(s, dir);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('dedup', () => {
  test('same rule and group within the window: one alert, count and last seen updated', () =>
    withStore(async (s) => {
      const r1 = await s.record([cand({ eventIds: ['e1'] })]);
      assert.equal(r1.created.length, 1);
      const r2 = await s.record([cand({ eventIds: ['e2'], time: '2026-11-30T02:30:00.000Z' }), cand({ eventIds: ['e3'], time: '2026-11-30T02:40:00.000Z' })]);
      assert.equal(r2.created.length, 0);
      assert.equal(r2.updated.length, 1);
      const a = await s.get(r1.created[0]!.id);
      assert.equal(a?.count, 3);
      assert.equal(a?.firstSeen, '2026-11-30T02:00:00.000Z');
      assert.equal(a?.lastSeen, '2026-11-30T02:40:00.000Z');
      assert.deepEqual(a?.eventIds, ['e1', 'e2', 'e3']);
      assert.equal(a?.riskScore, 73);
      assert.equal((await s.list()).total, 1);
    }, { dedupWindowMs: 3_600_000 }));

  test('past the window, another group, or another rule: new alerts', () =>
    withStore(async (s) => {
      await s.record([cand()]);
      const later = await s.record([cand({ eventIds: ['e9'], time: '2026-11-30T03:00:01.000Z' })]);
      assert.equal(later.created.length, 1, 'one hour and a second later is outside the 1 h window');
      const other = await s.record([cand({ groupKey: 'web2', fields: { 'host.name': 'web2' } }), cand({ ruleId: 'rule-b' })]);
      assert.equal(other.created.length, 2);
      assert.equal((await s.list()).total, 4);
    }, { dedupWindowMs: 3_600_000 }));

  test('a closed alert does not absorb new matches; replaying the same first match creates nothing', () =>
    withStore(async (s) => {
      const { created } = await s.record([cand()]);
      const id = created[0]!.id;
      await s.transition(id, 'false_positive', 'alice');
      const again = await s.record([cand({ eventIds: ['e5'], time: '2026-11-30T02:05:00.000Z' })]);
      assert.equal(again.created.length, 1);
      assert.notEqual(again.created[0]!.id, id);
      // The very first match replayed (a crash between record and acknowledgement) names the same id.
      const replay = await s.record([cand()]);
      assert.equal(replay.created.length, 0);
    }));
});

describe('suppression and exceptions', () => {
  test('an exception by field values mutes matching alerts only, and counts its hits', () =>
    withStore(async (s) => {
      const ex = await s.addSuppression({ kind: 'exception', ruleId: 'rule-a', match: { 'source.ip': ['203.0.113.5', '198.51.100.1'] }, reason: 'scanner', createdBy: 'bob' });
      assert.equal(ex.id, 'sup-1');
      const r = await s.record([cand(), cand({ groupKey: 'x', fields: { 'source.ip': '192.0.2.77' } }), cand({ ruleId: 'rule-b' })]);
      assert.equal(r.suppressed, 1);
      assert.equal(r.created.length, 2);
      const [sup] = await s.listSuppressions();
      assert.equal(sup?.hits, 1);
      assert.equal(sup?.createdBy, 'bob');
      assert.equal(sup?.reason, 'scanner');
      assert.equal(await s.deleteSuppression(ex.id), true);
      assert.equal((await s.record([cand()])).created.length, 1);
    }));

  test('a suppression window ends at expiresAt (event time) and needs one', () =>
    withStore(async (s) => {
      await s.addSuppression({ kind: 'suppression', ruleId: null, expiresAt: '2026-11-30T02:10:00.000Z', reason: 'maintenance', createdBy: 'ops' });
      const inside = await s.record([cand({ time: '2026-11-30T02:09:59.999Z' })]);
      assert.deepEqual([inside.suppressed, inside.created.length], [1, 0]);
      const after = await s.record([cand({ time: '2026-11-30T02:10:00.000Z' })]);
      assert.deepEqual([after.suppressed, after.created.length], [0, 1]);
      await assert.rejects(s.addSuppression({ kind: 'suppression', reason: 'r', createdBy: 'x' }), RangeError);
      await assert.rejects(s.addSuppression({ kind: 'exception', reason: '', createdBy: 'x' }), TypeError);
    }));
});

describe('lifecycle', () => {
  test('allowed path new → acknowledged → in_progress → resolved, with history and comments', () =>
    withStore(async (s) => {
      const id = (await s.record([cand()])).created[0]!.id;
      assert.equal((await s.transition(id, 'acknowledged', 'alice')).status, 'acknowledged');
      assert.equal((await s.assign(id, 'carol', 'alice')).assignee, 'carol');
      assert.equal((await s.transition(id, 'in_progress', 'carol', 'looking')).status, 'in_progress');
      await s.comment(id, 'carol', '来源是内部扫描器');
      assert.equal((await s.transition(id, 'resolved', 'carol')).status, 'resolved');
      const h = await s.history(id);
      assert.deepEqual(
        h.map((e) => [e.action, e.actor, e.from ?? null, e.to ?? null]),
        [
          ['created', 'detector', null, 'new'],
          ['transition', 'alice', 'new', 'acknowledged'],
          ['assign', 'alice', null, 'carol'],
          ['transition', 'carol', 'acknowledged', 'in_progress'],
          ['comment', 'carol', null, null],
          ['transition', 'carol', 'in_progress', 'resolved'],
        ],
      );
      assert.ok(h.every((e, i) => i === 0 || e.at > h[i - 1]!.at), 'history in time order');
      assert.deepEqual((await s.comments(id)).map((c) => c.text), ['来源是内部扫描器']);
      assert.equal((await s.list({ status: ['resolved'] })).total, 1);
      assert.equal((await s.list({ status: ['new'] })).total, 0);
    }));

  test('refused moves are typed errors and change nothing', () =>
    withStore(async (s) => {
      const id = (await s.record([cand()])).created[0]!.id;
      for (const to of ['in_progress', 'resolved', 'new'] as const) {
        await assert.rejects(s.transition(id, to, 'alice'), (e: unknown) => e instanceof SocError && e.code === 'SOC_ERR_ALERT_TRANSITION');
      }
      assert.equal((await s.get(id))?.status, 'new');
      await s.transition(id, 'false_positive', 'alice');
      await assert.rejects(s.transition(id, 'resolved', 'alice'), (e: unknown) => e instanceof SocError && e.code === 'SOC_ERR_ALERT_TRANSITION');
      assert.equal((await s.transition(id, 'in_progress', 'alice', 'reopened')).status, 'in_progress');
      await assert.rejects(s.transition('nope', 'acknowledged', 'a'), (e: unknown) => e instanceof SocError && e.code === 'SOC_ERR_ALERT_NOT_FOUND');
      await assert.rejects(s.transition(id, 'bogus' as never, 'a'), RangeError);
      assert.equal((await s.history(id)).length, 3);
    }));

  test('list filters by severity, rule and time and pages newest first', () =>
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
    }));
});

describe('HTTP routes', () => {
  test('every route has a permission; list, get with events, transition, assign, comment, suppressions', async () => {
    assert.ok(ALERT_ROUTES.every((r) => /^(alerts|rules):[a-z]+$/.test(r.permission)));
    const dir = tmp();
    const events = await openSqliteStore({ dir, synchronous: 'normal' });
    const alerts = await openSqliteAlertStore({ dir });
    const app = Fastify();
    app.setErrorHandler((err, _req, reply) => {
      const e = err as Error & { code?: string; validation?: unknown; statusCode?: number };
      if (e instanceof SocError) return reply.code(SOC_ERROR_STATUS[e.code]).send({ code: e.code, message: e.message });
      return reply.code(e.statusCode ?? 500).send({ code: e.validation ? 'SOC_ERR_QUERY' : 'ERR', message: e.message });
    });
    let allow = true;
    await app.register(alertRoutes, { alerts, events, auth: () => allow });
    try {
      await events.write([{ id: 'e1', '@timestamp': '2026-11-30T02:00:00.000Z', message: 'Accepted password for root', event: {} } as never]);
      const id = (await alerts.record([cand({ eventIds: ['e1', 'gone'] })])).created[0]!.id;
      const list = await app.inject({ url: '/api/v1/alerts?status=new,acknowledged&severity=medium' });
      assert.equal(list.statusCode, 200);
      assert.equal(list.json().total, 1);
      assert.equal((await app.inject({ url: '/api/v1/alerts?status=bogus' })).json().code, 'SOC_ERR_QUERY');
      const one = await app.inject({ url: `/api/v1/alerts/${id}` });
      assert.equal(one.statusCode, 200);
      assert.deepEqual(one.json().events.map((e: { id: string }) => e.id), ['e1']);
      assert.equal(one.json().missingEvents, 1);
      const bad = await app.inject({ method: 'POST', url: `/api/v1/alerts/${id}/transition`, payload: { to: 'resolved', actor: 'alice' } });
      assert.equal(bad.statusCode, 409);
      assert.equal(bad.json().code, 'SOC_ERR_ALERT_TRANSITION');
      const ack = await app.inject({ method: 'POST', url: `/api/v1/alerts/${id}/transition`, payload: { to: 'acknowledged', actor: 'alice' } });
      assert.equal(ack.json().status, 'acknowledged');
      assert.equal((await app.inject({ method: 'POST', url: `/api/v1/alerts/${id}/assign`, payload: { assignee: 'bob' } })).json().assignee, 'bob');
      assert.equal((await app.inject({ method: 'POST', url: `/api/v1/alerts/${id}/comments`, payload: { text: 'checked' } })).json().actor, 'api');
      assert.equal((await app.inject({ method: 'POST', url: `/api/v1/alerts/${id}/transition`, payload: { to: 'done' } })).statusCode, 400);
      assert.equal((await app.inject({ url: '/api/v1/alerts/missing' })).statusCode, 404);
      const sup = await app.inject({ method: 'POST', url: '/api/v1/suppressions', payload: { kind: 'exception', match: { 'user.name': ['root'] }, reason: 'lab', actor: 'bob' } });
      assert.equal(sup.statusCode, 200);
      assert.equal(sup.json().createdBy, 'bob');
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/suppressions', payload: { kind: 'suppression', reason: 'no end' } })).statusCode, 400);
      assert.equal((await app.inject({ url: '/api/v1/suppressions' })).json().suppressions.length, 1);
      assert.equal((await app.inject({ method: 'DELETE', url: `/api/v1/suppressions/${sup.json().id}` })).json().deleted, true);
      assert.equal((await app.inject({ method: 'DELETE', url: `/api/v1/suppressions/${sup.json().id}` })).statusCode, 404);
      allow = false;
      assert.equal((await app.inject({ url: '/api/v1/alerts' })).statusCode, 401);
    } finally {
      await app.close();
      await alerts.close();
      await events.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
