// Detection in the pipeline: the rule packs over stored events, correlation windows that stay
// open across a restart (checkpoint → new store, new engine → the window continues), replayed
// batches skipped, switched-off rules persisted, and a failed alert write rolled back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EcsEvent } from '@xiangan/collectors';
import { BUILTIN_PACKS_DIR, loadRules } from '@xiangan/rules';
import { openSqliteAlertStore } from '../src/alerts/sqlite.js';
import { Detector, loadDetectionEngine } from '../src/detection/detector.js';
import type { RawBatch } from '../src/buffer/durable.js';

const BRUTE = '8f9c03e0-dcbf-5469-9624-e35c029e1c5c';

/** The positive sample of the SSH brute-force pack rule: ten failures from one source in 3 minutes. */
function bruteForceSample(): EcsEvent[] {
  const r = loadRules(join(BUILTIN_PACKS_DIR, 'linux', 'ssh_brute_force.yml')).rules[0]!;
  const samples = (r.doc['x-xiangan'] as { samples: { match: EcsEvent[][] } }).samples.match[0]!;
  assert.equal(samples.length, 10);
  return samples;
}

function batch(seq: number, events: EcsEvent[]): RawBatch {
  return { seq, appendedAt: 0, count: events.length, data: events.map((e) => JSON.stringify(e)).join('\n') };
}

async function open(dir: string) {
  const alerts = await openSqliteAlertStore({ dir });
  const { engine, rejected } = loadDetectionEngine();
  assert.deepEqual(rejected, [], 'every pack rule compiles');
  const detector = await Detector.open({ engine, alerts });
  return { alerts, detector };
}

test('a correlation window open at shutdown continues after a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiangan-det-'));
  const fresh = mkdtempSync(join(tmpdir(), 'xiangan-det-'));
  try {
    const ev = bruteForceSample();
    const a = await open(dir);
    await a.detector.afterWrite([batch(1, ev.slice(0, 6))]);
    assert.equal((await a.alerts.list({ ruleId: BRUTE })).total, 0, 'six failures are below the threshold');
    await a.alerts.close();

    const b = await open(dir);
    await b.detector.afterWrite([batch(2, ev.slice(6))]);
    const page = await b.alerts.list({ ruleId: BRUTE });
    assert.equal(page.total, 1, 'the tenth failure after the restart fires the correlation');
    const alert = page.alerts[0]!;
    assert.equal(alert.kind, 'correlation');
    assert.equal(alert.severity, 'high');
    assert.deepEqual(alert.group, { 'source.ip': '203.0.113.5' });
    assert.deepEqual(alert.eventIds, ev.map((e) => e.id));
    await b.alerts.close();

    // Control: the last four alone, without the saved window, raise nothing.
    const c = await open(fresh);
    await c.detector.afterWrite([batch(2, ev.slice(6))]);
    assert.equal((await c.alerts.list({ ruleId: BRUTE })).total, 0);
    await c.alerts.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(fresh, { recursive: true, force: true });
  }
});

test('batches at or below the checkpoint are skipped on replay; switched-off rules stay off', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiangan-det-'));
  try {
    const ev = bruteForceSample();
    const a = await open(dir);
    await a.detector.afterWrite([batch(1, ev)]);
    assert.equal((await a.alerts.list()).total, 1);
    // The consumer crashed before acknowledging: the same batch comes again.
    await a.detector.afterWrite([batch(1, ev)]);
    assert.equal(a.detector.stats().replayedBatches, 1);
    assert.equal((await a.alerts.list()).alerts[0]!.count, 1);
    await a.detector.setRuleEnabled(BRUTE, false, 'alice');
    await a.alerts.close();

    const b = await open(dir);
    assert.equal(b.detector.isRuleEnabled(BRUTE), false);
    const later = ev.map((e, i) => ({ ...e, id: `later-${i}`, '@timestamp': new Date(Date.parse(String(e['@timestamp'])) + 86_400_000).toISOString() }));
    await b.detector.afterWrite([batch(2, later as EcsEvent[])]);
    assert.equal((await b.alerts.list()).total, 1, 'no new alert from a switched-off rule');
    // Off in the engine itself: the rule is not evaluated, so it feeds no correlation either.
    assert.equal(b.detector.engine.isRuleEnabled(BRUTE), false);
    assert.equal(b.detector.stats().disabled, 0);
    await b.alerts.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Five failures of the brute-force sample, then the next four with the alert store broken by
 * `breakSql` (the write fails `failures` times), repaired by `fixSql`, retried, then the tenth:
 * the windows must count the retried four once, so only the tenth raises the alert.
 */
async function failedWriteRetried(breakSql: string, fixSql: string, failures: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'xiangan-det-'));
  try {
    const ev = bruteForceSample();
    const a = await open(dir);
    await a.detector.afterWrite([batch(1, ev.slice(0, 5))]);
    a.alerts.db.exec(breakSql);
    await assert.rejects(a.detector.afterWrite([batch(2, ev.slice(5, 9))]), (e: unknown) => (e as { code?: string }).code === 'SOC_ERR_STORE_WRITE');
    for (let i = 1; i < failures; i++) await assert.rejects(a.detector.afterWrite([batch(2, ev.slice(5, 9))]));
    a.alerts.db.exec(fixSql);
    await a.detector.afterWrite([batch(2, ev.slice(5, 9))]);
    assert.equal((await a.alerts.list()).total, 0, 'nine distinct failures, not thirteen or more');
    await a.detector.afterWrite([batch(3, ev.slice(9))]);
    const page = await a.alerts.list();
    assert.equal(page.total, 1);
    assert.equal(page.alerts[0]!.ruleId, BRUTE);
    await a.alerts.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a failed alert write rolls the windows back, so the retried batch counts once', async () => {
  // Make the transaction fail for real: a trigger that aborts updates of checkpoints.
  await failedWriteRetried("CREATE TRIGGER fail_cp BEFORE UPDATE ON checkpoints BEGIN SELECT RAISE(ABORT, 'disk says no'); END;", 'DROP TRIGGER fail_cp', 1);
});

test('a failed alert write whose windows cannot be read back either: the next pass reads them first', async () => {
  // The checkpoint table out of reach: the alert transaction fails, and so does reading the
  // saved windows back, also on the first retry.
  await failedWriteRetried('ALTER TABLE checkpoints RENAME TO checkpoints_away', 'ALTER TABLE checkpoints_away RENAME TO checkpoints', 2);
});
