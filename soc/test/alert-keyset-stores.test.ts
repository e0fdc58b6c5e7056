// Keyset paging (AlertFilter.after) in every alert store backend: SQLite and real Elasticsearch
// and OpenSearch nodes walk the same list in the same order, ties on lastSeen broken by id, and
// keep the filter's total on every page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteAlertStore } from '../src/alerts/sqlite.js';
import { openEngineAlertStore } from '../src/alerts/engine.js';
import type { Alert, AlertFilter, AlertStore } from '../src/alerts/types.js';
import { cand } from './alert-store-suite.js';
import { openEngineStore } from './engine-env.js';

type Open = () => Promise<{ store: AlertStore; dispose: () => Promise<void> }>;

const backends: [string, Open][] = [
  [
    'sqlite',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'xa-keyset-'));
      const store = await openSqliteAlertStore({ dir });
      return { store, dispose: async () => (await store.close(), rmSync(dir, { recursive: true, force: true })) };
    },
  ],
  ...(['es', 'os'] as const).map((kind): [string, Open] => [
    kind === 'es' ? 'elasticsearch' : 'opensearch',
    async () => {
      const events = await openEngineStore(kind);
      const store = await openEngineAlertStore(events.store, {});
      return { store, dispose: async () => (await store.close(), await events.dispose()) };
    },
  ]),
];

/** The list order computed here: lastSeen descending, id ascending. */
const ordered = (xs: Alert[]) => [...xs].sort((a, b) => (a.lastSeen === b.lastSeen ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.lastSeen < b.lastSeen ? 1 : -1)).map((a) => a.id);

async function walk(store: AlertStore, filter: AlertFilter, size: number): Promise<{ ids: string[]; totals: Set<number> }> {
  const ids: string[] = [];
  const totals = new Set<number>();
  let after: AlertFilter['after'];
  for (;;) {
    const page = await store.list({ ...filter, size, ...(after ? { after } : {}) });
    totals.add(page.total);
    ids.push(...page.alerts.map((a) => a.id));
    const last = page.alerts.at(-1);
    if (page.alerts.length < size || !last) return { ids, totals };
    after = { lastSeen: last.lastSeen, id: last.id };
  }
}

for (const [name, open] of backends) {
  test(`${name}: keyset pages walk the list once, in order, with filters`, async () => {
    const { store, dispose } = await open();
    try {
      const made: Alert[] = [];
      for (let i = 0; i < 17; i++) {
        const r = await store.record([cand({ ruleId: i % 2 ? 'rule-odd' : 'rule-even', time: `2026-11-30T02:0${i % 5}:00.000Z`, groupKey: `k${i}`, eventIds: [`e${i}`] })]);
        made.push(...r.created);
      }
      assert.equal(made.length, 17);
      const all = await walk(store, {}, 4);
      assert.deepEqual(all.ids, ordered(made));
      assert.deepEqual([...all.totals], [17]);
      const odd = await walk(store, { ruleId: 'rule-odd' }, 3);
      assert.deepEqual(odd.ids, ordered(made.filter((a) => a.ruleId === 'rule-odd')));
      assert.deepEqual([...odd.totals], [8]);
      await store.transition(made[0]!.id, 'acknowledged', 'tester');
      const open = await walk(store, { status: ['new'] }, 5);
      assert.deepEqual(open.ids, ordered(made.slice(1)));
    } finally {
      await dispose();
    }
  });
}
