// Alert retention (issue 4): closed alerts whose last change is older than the retention go with
// their history and comments; younger closed alerts and open alerts of any age stay; the
// trigger-kept per-status totals match a COUNT(*) afterwards; a dry run deletes nothing and reports
// what the real run then deletes; each purge leaves an audit record; `xiangan alerts purge` end to
// end on a real data directory.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteAlertStore, type SqliteAlertStore } from '../src/alerts/sqlite.js';
import { purgeAlerts } from '../src/alerts/retention.js';
import { openEngineAlertStore } from '../src/alerts/engine.js';
import { ALERT_STATUSES, type AlertStore } from '../src/alerts/types.js';
import { openEngineStore } from './engine-env.js';
import { AuditStore } from '../src/audit/log.js';
import { validateConfig } from '../src/config/load.js';
import { startServer } from '../src/server.js';
import { createLogger } from '../src/logger.js';
import { cand } from './alert-store-suite.js';
import { runCli } from './cli-run.js';

const DAY = 86_400_000;

const cli = (args: string[], cwd: string) => runCli(args, cwd, { USER: 'carol' });

/** Per-status totals as the list reports them (trigger-kept) and as COUNT(*) finds them. */
async function totals(s: SqliteAlertStore): Promise<{ kept: Record<string, number>; counted: Record<string, number> }> {
  const kept: Record<string, number> = {};
  const counted: Record<string, number> = {};
  for (const st of ALERT_STATUSES) {
    kept[st] = (await s.list({ status: [st], size: 0 })).total;
    counted[st] = (s.db.prepare('SELECT count(*) AS n FROM alerts WHERE status = ?').get(st) as { n: number }).n;
  }
  return { kept, counted };
}

function rows(s: SqliteAlertStore, table: 'alert_history' | 'alert_comments', id: string): number {
  return (s.db.prepare(`SELECT count(*) AS n FROM ${table} WHERE alert_id = ?`).get(id) as { n: number }).n;
}

/**
 * Seven alerts at `old`: A resolved (acknowledged first, one comment), B false positive, C new,
 * D acknowledged, E in progress, G resolved and then reopened 400 days later; F raised and
 * resolved 400 days later. With 365 days' retention at `old + 400 d`, A and B go.
 */
async function seed(dir: string, old: number) {
  const clock = { t: old };
  const s = await openSqliteAlertStore({ dir, now: () => clock.t });
  return { s, ids: await seedInto(s, clock, old) };
}

async function seedInto(s: AlertStore, clock: { t: number }, old: number): Promise<Record<string, string>> {
  clock.t = old;
  const ids: Record<string, string> = {};
  for (const k of ['A', 'B', 'C', 'D', 'E', 'G']) ids[k] = (await s.record([cand({ ruleId: `rule-${k}` })])).created[0]!.id;
  await s.transition(ids.A!, 'acknowledged', 'alice');
  await s.transition(ids.A!, 'resolved', 'alice', 'patched');
  await s.comment(ids.A!, 'alice', 'root cause: weak password');
  await s.transition(ids.B!, 'false_positive', 'bob');
  await s.transition(ids.D!, 'acknowledged', 'bob');
  await s.transition(ids.E!, 'acknowledged', 'bob');
  await s.transition(ids.E!, 'in_progress', 'bob');
  await s.transition(ids.G!, 'false_positive', 'bob');
  clock.t = old + 400 * DAY;
  await s.transition(ids.G!, 'in_progress', 'alice', 'seen again');
  ids.F = (await s.record([cand({ ruleId: 'rule-F' })])).created[0]!.id;
  await s.transition(ids.F, 'false_positive', 'alice');
  return ids;
}

describe('alert retention (SQLite)', () => {
  test('closed alerts past retention go with history and comments; young closed and old open stay; dry run first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xa-ret-'));
    const audit = AuditStore.open({ dir });
    const { s, ids } = await seed(dir, Date.parse('2025-01-01T00:00:00Z'));
    try {
      assert.equal(rows(s, 'alert_history', ids.A!), 4, 'created, acknowledged, resolved, comment');
      const before = await totals(s);
      assert.deepEqual(before.kept, before.counted);
      assert.deepEqual(before.kept, { new: 1, acknowledged: 1, in_progress: 2, resolved: 1, false_positive: 2 });

      const dry = await purgeAlerts(s, { olderThanDays: 365, dryRun: true, actor: 'alice', audit });
      assert.deepEqual(
        { alerts: dry.alerts, byStatus: dry.byStatus, history: dry.history, comments: dry.comments, dryRun: dry.dryRun },
        { alerts: 2, byStatus: { resolved: 1, false_positive: 1 }, history: 6, comments: 1, dryRun: true },
      );
      assert.equal(dry.cutoff, '2025-02-05T00:00:00.000Z', '400 − 365 = 35 days after the seed');
      assert.deepEqual(await totals(s), before, 'a dry run deletes nothing');
      assert.equal(audit.list().filter((r) => r.action === 'alerts.purge').length, 0, 'a dry run is not audited');

      const real = await purgeAlerts(s, { olderThanDays: 365, actor: 'alice', audit });
      assert.deepEqual({ ...real, dryRun: true }, dry, 'the real run deletes what the dry run reported');
      for (const k of ['A', 'B']) {
        assert.equal(await s.get(ids[k]!), undefined, `${k} deleted`);
        assert.equal(rows(s, 'alert_history', ids[k]!), 0, `${k}'s history deleted`);
        assert.equal(rows(s, 'alert_comments', ids[k]!), 0, `${k}'s comments deleted`);
      }
      for (const k of ['C', 'D', 'E', 'F', 'G']) assert.ok(await s.get(ids[k]!), `${k} kept`);
      assert.equal((await s.history(ids.G!)).length, 3, 'a kept alert keeps its whole history (created, false positive, reopened)');
      const after = await totals(s);
      assert.deepEqual(after.kept, after.counted, 'trigger-kept totals match COUNT(*)');
      assert.deepEqual(after.kept, { new: 1, acknowledged: 1, in_progress: 2, resolved: 0, false_positive: 1 });

      const recs = audit.list().filter((r) => r.action === 'alerts.purge');
      assert.equal(recs.length, 1);
      assert.equal(recs[0]!.actor, 'alice');
      assert.deepEqual(recs[0]!.details, { olderThanDays: 365, cutoff: real.cutoff, alerts: 2, byStatus: { resolved: 1, false_positive: 1 }, history: 6, comments: 1 });

      // Nothing left to purge: deletes nothing, and the periodic run (auditEmpty unset) records nothing.
      assert.equal((await purgeAlerts(s, { olderThanDays: 365, actor: 'system', audit })).alerts, 0);
      assert.equal(audit.list().filter((r) => r.action === 'alerts.purge').length, 1);
      await assert.rejects(s.purgeClosed({ olderThanDays: 0 }), RangeError);
    } finally {
      audit.close();
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a purge larger than one delete batch removes every matching alert and keeps the totals exact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xa-ret-'));
    let t = Date.parse('2025-01-01T00:00:00Z');
    const s = await openSqliteAlertStore({ dir, now: () => t });
    try {
      const many = Array.from({ length: 1234 }, (_, i) => cand({ ruleId: 'rule-bulk', groupKey: `h${i}`, eventIds: [`e${i}`] }));
      const created = (await s.record(many)).created;
      assert.equal(created.length, 1234);
      for (const [i, a] of created.entries()) await s.transition(a.id, i % 3 === 0 ? 'acknowledged' : 'false_positive', 'bob');
      t += 400 * DAY;
      const r = await s.purgeClosed({ olderThanDays: 365 });
      const open = Math.ceil(1234 / 3);
      assert.equal(r.alerts, 1234 - open);
      assert.equal(r.history, 2 * (1234 - open));
      const after = await totals(s);
      assert.deepEqual(after.kept, after.counted);
      assert.deepEqual(after.kept, { new: 0, acknowledged: open, in_progress: 0, resolved: 0, false_positive: 0 });
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('config: alerts.retentionDays defaults to 365, 0 keeps forever, negative is refused', () => {
    assert.equal(validateConfig({}).alerts.retentionDays, 365);
    assert.equal(validateConfig({ alerts: { retentionDays: 0 } }).alerts.retentionDays, 0);
    assert.throws(() => validateConfig({ alerts: { retentionDays: -1 } }));
  });

  test('xiangan alerts purge on a data directory: dry run, purge, audit record', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'xa-ret-cli-'));
    const data = join(cwd, 'data');
    // Seeded 500 days back, so with the real clock A and B are past 365 days and F (closed
    // "400 days later") is within it.
    const { s, ids } = await seed(data, Date.now() - 500 * DAY);
    await s.close();
    try {
      const dry = await cli(['alerts', 'purge', '--data', 'data', '--dry-run', '--json'], cwd);
      assert.equal(dry.code, 0, dry.err);
      const d = JSON.parse(dry.out) as { alerts: number; history: number; comments: number; dryRun: boolean };
      assert.deepEqual([d.alerts, d.history, d.comments, d.dryRun], [2, 6, 1, true]);

      const real = await cli(['alerts', 'purge', '--data', 'data', '--older-than', '365'], cwd);
      assert.equal(real.code, 0, real.err);
      assert.match(real.out, /^deleted 2 closed alerts \(1 resolved, 1 false positive\) .* with 6 history entries and 1 comments\n$/);

      const listed = await cli(['alerts', 'list', '--data', 'data', '--json'], cwd);
      const left = listed.out.trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id).sort();
      assert.deepEqual(left, ['C', 'D', 'E', 'F', 'G'].map((k) => ids[k]!).sort());

      const audit = AuditStore.open({ dir: data, readonly: true });
      try {
        const recs = audit.list().filter((r) => r.action === 'alerts.purge');
        assert.equal(recs.length, 1, 'the dry run is not audited, the purge is');
        assert.equal(recs[0]!.actor, 'carol');
        assert.equal((recs[0]!.details as { alerts: number }).alerts, 2);
      } finally {
        audit.close();
      }

      assert.equal((await cli(['alerts', 'purge', '--data', 'data', '--older-than', '0'], cwd)).code, 2);
      assert.equal((await cli(['alerts', 'purge', '--api', 'http://127.0.0.1:1'], cwd)).code, 2);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

test('the server purges closed alerts past alerts.retentionDays at start, as system, audited', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xa-ret-srv-'));
  const data = join(dir, 'data');
  const { s, ids } = await seed(data, Date.now() - 500 * DAY);
  await s.close();
  const cfg = validateConfig({ data, log: { level: 'silent' }, storage: { synchronous: 'normal' }, api: { port: 0 }, syslog: { enabled: false }, alerts: { retentionDays: 365 } });
  const srv = await startServer(cfg, { logger: createLogger({ level: 'silent' }) });
  try {
    const alerts = srv.runtime.detection!.alerts;
    assert.equal(await alerts.get(ids.A!), undefined);
    assert.equal(await alerts.get(ids.B!), undefined);
    for (const k of ['C', 'D', 'E', 'F', 'G']) assert.ok(await alerts.get(ids[k]!), `${k} kept`);
  } finally {
    await srv.stop();
  }
  const audit = AuditStore.open({ dir: data, readonly: true });
  try {
    const recs = audit.list().filter((r) => r.action === 'alerts.purge');
    assert.equal(recs.length, 1);
    assert.equal(recs[0]!.actor, 'system');
    assert.deepEqual((recs[0]!.details as { byStatus: unknown }).byStatus, { resolved: 1, false_positive: 1 });
  } finally {
    audit.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

// The same scenario on real Elasticsearch and OpenSearch nodes (engine-env.ts): delete-by-query
// with the same condition, history and comments by alert id.
for (const kind of ['es', 'os'] as const) {
  test(`${kind === 'es' ? 'elasticsearch' : 'opensearch'}: closed alerts past retention go with history and comments, open and young stay`, async () => {
    const events = await openEngineStore(kind);
    const clock = { t: 0 };
    const s = await openEngineAlertStore(events.store, { now: () => clock.t });
    try {
      const ids = await seedInto(s, clock, Date.parse('2025-01-01T00:00:00Z'));
      const dry = await s.purgeClosed({ olderThanDays: 365, dryRun: true });
      assert.deepEqual(
        { alerts: dry.alerts, byStatus: dry.byStatus, history: dry.history, comments: dry.comments, cutoff: dry.cutoff },
        { alerts: 2, byStatus: { resolved: 1, false_positive: 1 }, history: 6, comments: 1, cutoff: '2025-02-05T00:00:00.000Z' },
      );
      assert.ok(await s.get(ids.A!), 'a dry run deletes nothing');
      const real = await s.purgeClosed({ olderThanDays: 365 });
      assert.deepEqual({ ...real, dryRun: true }, dry);
      assert.equal(await s.get(ids.A!), undefined);
      assert.equal(await s.get(ids.B!), undefined);
      for (const k of ['C', 'D', 'E', 'F', 'G']) assert.ok(await s.get(ids[k]!), `${k} kept`);
      assert.equal((await s.history(ids.G!)).length, 3);
      const per: Record<string, number> = {};
      for (const st of ALERT_STATUSES) per[st] = (await s.list({ status: [st], size: 0 })).total;
      assert.deepEqual(per, { new: 1, acknowledged: 1, in_progress: 2, resolved: 0, false_positive: 1 });
      assert.equal((await s.purgeClosed({ olderThanDays: 365 })).alerts, 0);
    } finally {
      await s.close();
      await events.dispose();
    }
  });
}
