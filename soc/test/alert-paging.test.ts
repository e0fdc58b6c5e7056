// Keyset (cursor) paging of GET /api/v1/alerts over the real security layer and SQLite alert
// store: pages follow `next` to the end without repeats or gaps, alerts inserted between two
// pages do not shift the next one (offset paging repeats rows then), cursors keep the filters
// they were made under, and a bad cursor is a typed 400.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Alert } from '../src/alerts/types.js';
import { as, firstLogin, harness, userOf, type Harness, type Session } from './auth-helpers.js';
import { cand } from './alert-store-suite.js';

type Page = { total: number; alerts: Alert[]; next?: string };

describe('alert list: keyset paging', () => {
  let h: Harness;
  let analyst: Session;
  /** Every alert recorded, for the order computed here rather than by the store. */
  const made: Alert[] = [];
  const record = async (i: number, time: string, ruleId: string) => {
    const r = await h.runtime.detection!.alerts.record([cand({ ruleId, time, groupKey: `g${i}`, eventIds: [`e${i}`] })]);
    assert.equal(r.created.length, 1);
    made.push(r.created[0]!);
  };
  /** The list order: lastSeen descending, id ascending. */
  const ordered = (xs: Alert[]) => [...xs].sort((a, b) => (a.lastSeen === b.lastSeen ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.lastSeen < b.lastSeen ? 1 : -1)).map((a) => a.id);
  const get = async (url: string) => {
    const r = await as(h.app, analyst, 'GET', url);
    return { status: r.statusCode, body: r.json() as Page & { code?: string } };
  };

  before(async () => {
    h = await harness({ alerts: true });
    const admin = await firstLogin(h.app, 'admin', h.admin.password);
    analyst = await userOf(h, admin, 'analyst');
    // 23 alerts over 8 distinct times: ties on lastSeen are ordered by id.
    for (let i = 0; i < 23; i++) await record(i, `2026-11-30T02:0${i % 8}:00.000Z`, i % 3 === 0 ? 'rule-b' : 'rule-a');
  });
  after(async () => h.close());

  test('following next walks the whole list once, in order, and the last page has no next', async () => {
    const seen: string[] = [];
    let url = '/api/v1/alerts?size=5';
    let pages = 0;
    for (;;) {
      const { status, body } = await get(url);
      assert.equal(status, 200);
      assert.equal(body.total, 23);
      seen.push(...body.alerts.map((a) => a.id));
      pages++;
      if (!body.next) break;
      url = `/api/v1/alerts?size=5&cursor=${body.next}`;
    }
    assert.deepEqual(seen, ordered(made));
    assert.equal(pages, 5);
  });

  test('alerts inserted between two pages do not shift the next page', async () => {
    const p1 = (await get('/api/v1/alerts?size=6&rule=rule-a')).body;
    const before = ordered(made.filter((a) => a.ruleId === 'rule-a'));
    assert.deepEqual(p1.alerts.map((a) => a.id), before.slice(0, 6));
    // Newer alerts arrive at the head of the list while the analyst reads page one.
    for (let i = 100; i < 104; i++) await record(i, '2026-11-30T03:00:00.000Z', 'rule-a');
    const p2 = (await get(`/api/v1/alerts?size=6&rule=rule-a&cursor=${p1.next!}`)).body;
    assert.deepEqual(p2.alerts.map((a) => a.id), before.slice(6, 12));
    assert.equal(p2.total, before.length + 4);
    // Offset paging shows the contrast: its page two now repeats four alerts of page one.
    const byOffset = (await get('/api/v1/alerts?size=6&rule=rule-a&offset=6')).body;
    assert.deepEqual(byOffset.alerts.map((a) => a.id).slice(0, 4), before.slice(2, 6));
  });

  test('status filters with cursors; a transition does not break the walk', async () => {
    const open = made.slice(0, 4);
    for (const a of open) {
      const r = await as(h.app, analyst, 'POST', `/api/v1/alerts/${a.id}/transition`, { to: 'acknowledged' });
      assert.equal(r.statusCode, 200, r.body);
      a.status = 'acknowledged';
    }
    const want = ordered(made.filter((a) => a.status === 'new'));
    const seen: string[] = [];
    let url = '/api/v1/alerts?size=7&status=new';
    for (;;) {
      const { body } = await get(url);
      seen.push(...body.alerts.map((a) => a.id));
      if (!body.next) break;
      url = `/api/v1/alerts?size=7&status=new&cursor=${body.next}`;
    }
    assert.deepEqual(seen, want);
    const acked = (await get('/api/v1/alerts?size=3&status=acknowledged,new')).body;
    assert.deepEqual(acked.alerts.map((a) => a.id), ordered(made).slice(0, 3));
  });

  test('a malformed cursor, a cursor of other filters, or a cursor with offset is a typed 400', async () => {
    const p1 = (await get('/api/v1/alerts?size=2&status=new')).body;
    assert.ok(p1.next);
    for (const bad of ['not-base64!', Buffer.from('[2,"x","y","z"]').toString('base64url'), Buffer.from('{}').toString('base64url'), Buffer.from('[1,"",""]').toString('base64url')]) {
      const r = await get(`/api/v1/alerts?size=2&cursor=${encodeURIComponent(bad)}`);
      assert.equal(r.status, 400, bad);
      assert.equal(r.body.code, 'SOC_ERR_CURSOR', bad);
    }
    // Longer than any cursor the server makes: refused by the query schema.
    const long = await get(`/api/v1/alerts?size=2&cursor=${'A'.repeat(2000)}`);
    assert.equal(long.status, 400);
    assert.equal(long.body.code, 'SOC_ERR_QUERY');
    const foreign = await get(`/api/v1/alerts?size=2&status=resolved&cursor=${p1.next}`);
    assert.equal(foreign.status, 400);
    assert.equal(foreign.body.code, 'SOC_ERR_CURSOR');
    const mixed = await get(`/api/v1/alerts?size=2&status=new&offset=2&cursor=${p1.next}`);
    assert.equal(mixed.status, 400);
    assert.equal(mixed.body.code, 'SOC_ERR_QUERY');
  });
});
