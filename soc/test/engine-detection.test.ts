// The detection engine unchanged on every backend: the same events (the shipped packs' samples)
// go buffer → store → detector → alert store once with SQLite for both stores, and once with
// Elasticsearch or OpenSearch for both (the pipelined engine writer and the engine alert store);
// the alerts must be the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILTIN_PACKS_DIR, loadRules } from '@xiangan/rules';
import type { EcsEvent } from '@xiangan/collectors';
import { DurableBuffer } from '../src/buffer/durable.js';
import { StoreConsumer, type BatchWriter } from '../src/pipeline/consumer.js';
import { Detector, loadDetectionEngine } from '../src/detection/detector.js';
import { openSqliteAlertStore } from '../src/alerts/sqlite.js';
import { openEngineAlertStore } from '../src/alerts/engine.js';
import type { AlertStore } from '../src/alerts/types.js';
import { openSqliteStore } from '../src/storage/sqlite.js';
import { engineWriter } from '../src/storage/search-engine-open.js';
import { openEngineStore, type EngineKind } from './engine-env.js';

function sampleEvents(): EcsEvent[] {
  const out: EcsEvent[] = [];
  let n = 0;
  for (const r of loadRules(BUILTIN_PACKS_DIR).rules) {
    const s = (r.doc['x-xiangan'] as { pipeline?: string; samples?: { match?: unknown[] } } | undefined) ?? {};
    if ((s.pipeline ?? 'ecs') !== 'ecs') continue;
    for (const sample of s.samples?.match ?? []) {
      for (const ev of (Array.isArray(sample) ? sample : [sample]) as Record<string, unknown>[]) {
        n++;
        const ts = typeof ev['@timestamp'] === 'string' ? ev['@timestamp'] : new Date(Date.UTC(2026, 10, 20) + n * 1000).toISOString();
        out.push({ ...ev, id: `d${String(n).padStart(5, '0')}`, '@timestamp': ts } as EcsEvent);
      }
    }
  }
  return out.sort((a, b) => (a['@timestamp'] < b['@timestamp'] ? -1 : a['@timestamp'] > b['@timestamp'] ? 1 : a.id < b.id ? -1 : 1));
}

/** Run the events through buffer → writer → detector → alerts; returns the alerts, comparable. */
async function run(writer: (b: DurableBuffer) => { writer?: BatchWriter; store?: Awaited<ReturnType<typeof openSqliteStore>> }, alerts: AlertStore, dir: string): Promise<string[]> {
  const buffer = new DurableBuffer({ dir: join(dir, 'buffer') });
  const { engine } = loadDetectionEngine();
  const detector = await Detector.open({ engine, alerts, checkpointIntervalMs: 0 });
  const consumer = new StoreConsumer({
    buffer,
    ...writer(buffer),
    batchEvents: 40,
    afterWrite: async (info, afterSeq) => {
      await detector.afterWrite(buffer.readAfter(afterSeq, 1_000_000).filter((b) => b.seq <= info.lastSeq));
    },
  });
  try {
    const evs = sampleEvents();
    for (let i = 0; i < evs.length; i += 25) await buffer.append(evs.slice(i, i + 25));
    consumer.start();
    await consumer.drain();
    await consumer.stop();
  } finally {
    buffer.close();
  }
  const page = await alerts.list({ size: 1000 });
  return page.alerts.map((a) => JSON.stringify([a.ruleId, a.groupKey, a.count, a.firstSeen, a.lastSeen, a.eventIds, a.severity, a.status])).sort();
}

for (const kind of ['es', 'os'] as EngineKind[]) {
  test(`${kind}: the same events raise the same alerts as on SQLite`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xa-det-'));
    const engine = await openEngineStore(kind, { refresh: 'wait_for' });
    try {
      const sqliteEvents = await openSqliteStore({ dir: join(dir, 'sq') });
      const sqliteAlerts = await openSqliteAlertStore({ dir: join(dir, 'sq') });
      const onSqlite = await run(() => ({ store: sqliteEvents }), sqliteAlerts, join(dir, 'a'));
      await sqliteAlerts.close();
      await sqliteEvents.close();
      const engineAlerts = await openEngineAlertStore(engine.store);
      const onEngine = await run((b) => ({ writer: engineWriter(b, engine.store) }), engineAlerts, join(dir, 'b'));
      assert.ok(onSqlite.length >= 20, `the samples raise alerts (${onSqlite.length})`);
      assert.deepEqual(onEngine, onSqlite);
      assert.equal((await engine.store.stats()).events, sampleEvents().length);
    } finally {
      await engine.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
