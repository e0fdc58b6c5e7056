// The notification outbox on real Elasticsearch 8 / OpenSearch 2 nodes: entries written with the
// alerts and idempotent under replays, two senders sharing one outbox deliver each entry once
// (conditional claims), entries whose alert never landed are retried and then closed as dead, and
// an alert that turns out not to be new takes back the entries written for it.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type net from 'node:net';
import type { RuleMatch } from '@xiangan/rules';
import { openEngineAlertStore, type EngineAlertStore } from '../src/alerts/engine.js';
import type { Alert, AlertCandidate } from '../src/alerts/types.js';
import { Notifier } from '../src/notify/notifier.js';
import { ORPHAN_GRACE_MS } from '../src/notify/engine-outbox.js';
import type { ChannelConfig } from '../src/notify/config.js';
import { openEngineStore, type EngineKind } from './engine-env.js';
import type { SearchEngineEventStore } from '../src/storage/search-engine.js';

function cand(n: number): AlertCandidate {
  const match: RuleMatch = { ruleId: 'r-outbox', title: 'outbox test', level: 'high', tags: [], kind: 'detection', alert: true, eventIds: [`ev-${n}`], time: `2026-11-30T02:00:0${n}.000Z` };
  const group = { 'source.ip': `203.0.113.${n}` };
  return { match, groupKey: `g${n}`, group, field: (f) => (f === 'source.ip' ? [group['source.ip']] : []) };
}

async function until(cond: () => Promise<boolean>, what: string): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > 60_000) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

for (const kind of ['es', 'os'] as EngineKind[]) {
  describe(`engine outbox on ${kind === 'es' ? 'Elasticsearch' : 'OpenSearch'}`, () => {
    let hook: Server;
    const got: string[] = [];
    let events: { store: SearchEngineEventStore; dispose: () => Promise<void> };
    const clock = { t: Date.now() };
    let a: EngineAlertStore;
    let b: EngineAlertStore;
    let channels: ChannelConfig[];
    const notifier = (s: EngineAlertStore) => new Notifier({ outbox: s.outbox, config: { channels, routes: [{ channels: ['hook'], minSeverity: 'low' }], retry: { baseMs: 1000, maxMs: 60_000, maxAttempts: 5 } }, now: () => clock.t });
    const raise = async (s: EngineAlertStore, cs: AlertCandidate[]): Promise<Alert[]> => (await s.record(cs)).created;

    before(async () => {
      hook = createServer((req, res) => {
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
          got.push(JSON.parse(body).alert.id as string);
          res.end('ok');
        });
      });
      await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
      channels = [{ id: 'hook', type: 'webhook', url: `http://127.0.0.1:${(hook.address() as net.AddressInfo).port}/h`, ratePerMinute: 600, timeoutMs: 5000 }];
      events = await openEngineStore(kind);
      const opts = { now: () => clock.t, notifyTargets: () => ['hook'] };
      a = await openEngineAlertStore(events.store, opts);
      b = await openEngineAlertStore(events.store, opts);
    });

    after(async () => {
      await events?.dispose();
      await new Promise<void>((r) => hook.close(() => r()));
    });

    test('two senders on one outbox deliver each entry exactly once', async () => {
      const created = await raise(a, [cand(1), cand(2), cand(3)]);
      assert.equal(created.length, 3);
      const na = notifier(a);
      const nb = notifier(b);
      await until(async () => {
        await Promise.all([na.runOnce(), nb.runOnce()]);
        const e = await na.entries();
        return e.length === 3 && e.every((x) => x.status === 'sent');
      }, 'three entries sent');
      assert.deepEqual([...got].sort(), created.map((x) => x.id).sort());
    });

    test('a replayed batch, and a replayed match of a closed alert, add no entries', async () => {
      const before = (await a.outbox.entries()).length;
      await raise(a, [cand(1), cand(2)]);
      const [one] = await raise(a, [cand(4)]);
      await a.transition(one!.id, 'false_positive', 'alice');
      // The entry of the closed alert is gone (as after the week of retention): the replay writes
      // it again before it learns the alert exists, then takes it back.
      await events.store.request('DELETE', `/${events.store.names.alerts}-outbox/_doc/${encodeURIComponent(`${one!.id}:hook`)}?refresh=wait_for`);
      assert.deepEqual(await raise(a, [cand(4)]), [], 'not new: the alert id exists');
      await events.store.request('POST', `/${events.store.names.alerts}-outbox/_refresh`);
      assert.equal((await a.outbox.entries()).length, before, 'only the entry of alert 4, deleted above, is missing');
    });

    test('an entry held by a sender that died is delivered by another once the lease runs out', async () => {
      const [al] = await raise(a, [cand(5)]);
      await events.store.request('POST', `/${events.store.names.alerts}-outbox/_refresh`);
      // Sender A claims the entry and dies before sending.
      const [e] = (await a.outbox.due(clock.t, 500)).filter((x) => x.alertId === al!.id);
      assert.ok(e);
      assert.equal(await a.outbox.claim(e, clock.t), true);
      await events.store.request('POST', `/${events.store.names.alerts}-outbox/_refresh`);
      const sent = got.length;
      const nb = notifier(b);
      await nb.runOnce();
      assert.equal(got.length, sent, 'held by A: B leaves it');
      clock.t += 61_000;
      await until(async () => {
        await nb.runOnce();
        return got.includes(al!.id);
      }, 'B sends after the lease');
      assert.equal(got.filter((x) => x === al!.id).length, 1);
    });

    test('an entry whose alert never landed waits, then is closed as dead with the reason', async () => {
      const ghost = { ...(await a.get((await a.list({ size: 1 })).alerts[0]!.id))!, id: 'ffffffffffffffffffffffffffffffff' };
      await a.outbox.announce([{ alert: ghost, channels: ['hook'] }]);
      await events.store.request('POST', `/${events.store.names.alerts}-outbox/_refresh`);
      const n = notifier(a);
      const sent = got.length;
      const ghostEntry = async () => {
        await events.store.request('POST', `/${events.store.names.alerts}-outbox/_refresh`);
        return (await a.outbox.entries()).find((e) => e.alertId === ghost.id)!;
      };
      await n.runOnce();
      assert.equal(got.length, sent, 'not delivered');
      const waiting = await ghostEntry();
      assert.equal(waiting.status, 'pending');
      assert.ok(waiting.nextAt > clock.t, 'rescheduled');
      clock.t += ORPHAN_GRACE_MS;
      await until(async () => {
        await n.runOnce();
        return (await ghostEntry()).status === 'dead';
      }, 'the orphan closed');
      assert.match((await ghostEntry()).lastError ?? '', /never stored/);
      assert.equal(got.length, sent);
    });
  });
}
