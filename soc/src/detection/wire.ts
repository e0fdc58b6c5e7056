/**
 * Builds detection for a running pipeline from the configuration: the alert store on the
 * configured backend (SQLite in the data directory, or the Elasticsearch/OpenSearch cluster of
 * `storage.engine`), the compiled rules, the detector and the notifier with its outbox beside the
 * alerts. `pipeline/runtime.ts` calls {@link startDetection} and passes
 * {@link DetectionRuntime.afterWrite} to the consumer.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Logger } from '@xiangan/collectors';
import type { SocConfig } from '../config/schema.js';
import { openSqliteAlertStore } from '../alerts/sqlite.js';
import { openEngineAlertStore } from '../alerts/engine.js';
import type { AlertStore } from '../alerts/types.js';
import { Notifier, routeTargets, type NotifierOptions } from '../notify/notifier.js';
import { SqliteOutbox, type Outbox } from '../notify/outbox.js';
import { openConfiguredEngine } from '../storage/search-engine-open.js';
import type { SearchEngineEventStore } from '../storage/search-engine.js';
import type { RawBatch } from '../buffer/durable.js';
import type { PrematchedStep } from '../pipeline/prematch.js';
import { SocError } from '../errors.js';
import { Counter, Gauge, Histogram, LATENCY_BUCKETS, type MetricsRegistry } from '../metrics.js';
import { Detector, loadDetectionEngine } from './detector.js';
import { socBus } from '../bus.js';

/** One latency sample of a detection pass that raised alerts. */
export interface AlertLatencySample {
  /** Store commit of the batch → alert transaction committed, ms. */
  storedToAlertMs: number;
  /** Per raising event: receipt (`event.ingested`) → alert committed, ms. */
  receiptToAlertMs: number[];
}

/** What {@link startDetection} gives the runtime. */
export interface DetectionRuntime {
  alerts: AlertStore;
  detector: Detector;
  notifier: Notifier;
  /** The consumer hook: stored batches as documents, or as the prepare worker's matches (see {@link Detector.afterWrite}). */
  afterWrite: (input: RawBatch[] | PrematchedStep[]) => Promise<void>;
  /** Set to receive latency samples (the benchmark). */
  onLatency?: (s: AlertLatencySample) => void;
  stop(): Promise<void>;
}

/** What {@link startDetection} needs besides the configuration. */
export interface DetectionDeps {
  logger: Logger;
  metrics?: MetricsRegistry;
  now?: () => number;
  /**
   * The engine event store when `storage.backend` is an engine: the alerts share its connection.
   * Without it detection opens its own connection to the configured cluster (and closes it).
   */
  engine?: SearchEngineEventStore;
}

/**
 * Open the alert store, compile the rules, restore the detector's checkpoint and start the
 * notifier.
 *
 * @example
 * ```ts
 * const det = await startDetection(config, { logger, metrics });
 * new StoreConsumer({ buffer, store, afterWrite: det.afterWrite });
 * ```
 */
export async function startDetection(config: SocConfig, deps: DetectionDeps): Promise<DetectionRuntime> {
  const a = config.alerts;
  const { engine, rejected } = loadDetectionEngine({
    builtin: a.builtinRules,
    dirs: a.ruleDirs.map((d) => resolve(d)),
    ...(a.lists ? { lists: resolve(a.lists) } : {}),
    pipeline: a.pipeline,
    maxGroups: a.maxGroups,
    // Rules installed from the console (detector.ts importedRulesDir) load on every start.
    dataDir: config.data,
  });
  for (const r of rejected) deps.logger.warn?.({ stage: 'detection', errorCode: r.code, source: r.source, reason: r.reason }, 'Rule not loaded.');
  const clock = deps.now ? { now: deps.now } : {};
  const dedupWindowMs = a.dedupWindowSeconds * 1000;
  let alerts: AlertStore;
  let outbox: Outbox;
  let ownEngine: SearchEngineEventStore | undefined;
  let checkpointName: string | undefined;
  let windowsFile: string | undefined;
  if (config.storage.backend === 'sqlite') {
    // The WAL's checkpoint in a thread of its own, not in the detector's commit on this one.
    const s = await openSqliteAlertStore({
      dir: config.data,
      dedupWindowMs,
      ...clock,
      checkpointThread: true,
      onCheckpointError: (e) => deps.logger.error?.({ stage: 'detection', errorCode: e.code, reason: e.message }, 'Alert store checkpoint failed.'),
    });
    alerts = s;
    // Beside alerts.db, written straight from the engine's pieces (detector.ts, windows-file.ts).
    windowsFile = join(config.data, 'detector.windows.json');
    outbox = new SqliteOutbox(s.db);
  } else {
    // No transaction spans an engine's documents: the store writes the outbox entries of new
    // alerts itself, before the alerts (see notify/engine-outbox.ts).
    const engine = deps.engine ?? (ownEngine = await openConfiguredEngine(config.storage.backend, config.storage.engine, config.storage.retentionDays));
    try {
      const e = await openEngineAlertStore(engine, { dedupWindowMs, ...clock, notifyTargets: (al) => routeTargets(config.notify.routes, al) });
      alerts = e;
      outbox = e.outbox;
      checkpointName = `detector-${detectorId(config.data)}`;
    } catch (err) {
      await ownEngine?.close();
      throw err;
    }
  }
  const closeAlerts = async (): Promise<void> => {
    await alerts.close();
    await ownEngine?.close();
  };
  let notifier: Notifier;
  try {
    const nopts: NotifierOptions = { outbox, config: config.notify, logger: deps.logger, ...clock };
    notifier = new Notifier(nopts);
  } catch (e) {
    await closeAlerts();
    // A route naming an unknown channel, a channel id used twice: configuration errors.
    if (e instanceof RangeError) throw new SocError('SOC_ERR_CONFIG', `config: ${e.message}`, { cause: e });
    throw e;
  }
  const m = deps.metrics;
  const alertsTotal = m?.add(new Counter('xiangan_alerts_total', 'Alert candidates recorded, by result (created, updated, suppressed).'));
  const detector = await Detector.open({
    engine,
    alerts,
    groupBy: a.groupBy,
    logger: deps.logger,
    ...(checkpointName ? { name: checkpointName } : {}),
    ...(windowsFile ? { windowsFile } : {}),
    ...(deps.now ? { now: deps.now } : {}),
    onCreated: (al) => notifier.enqueue(al),
    onRecorded: (r) => {
      alertsTotal?.inc({ result: 'created' }, r.created.length);
      alertsTotal?.inc({ result: 'updated' }, r.updated.length);
      alertsTotal?.inc({ result: 'suppressed' }, r.suppressed);
      if (r.created.length) notifier.wake();
      // The live stream (GET /api/v1/stream): new and re-raised alerts, after their commit.
      for (const al of [...r.created, ...r.updated]) socBus.publish('alert', al);
    },
  });
  m?.add(new Counter('xiangan_detection_events_total', 'Events run through the rule engine.', () => [{ value: detector.stats().events }]));
  // The correlation state's size and what its cap cost (alerts.maxGroups): an operator who lowers
  // the cap to save memory sees here whether windows are cut short. Read from the engine in use,
  // so the counter starts again when a reload or install builds a new one (a counter reset).
  m?.add(new Gauge('xiangan_correlation_groups', 'Correlation groups held (at most alerts.maxGroups).', () => [{ value: detector.engine.stats().groups }]));
  m?.add(
    new Counter('xiangan_correlation_evictions_total', 'Correlation groups evicted, least recently used first, because alerts.maxGroups was reached (since the engine was built).', () => [
      { value: detector.engine.stats().evictions },
    ]),
  );
  m?.add(new Counter('xiangan_notify_total', 'Notification deliveries, by result.', () => Object.entries(notifier.stats()).map(([result, value]) => ({ labels: { result }, value }))));
  const storedToAlert = m?.add(new Histogram('xiangan_stored_to_alert_seconds', 'Store commit of a batch → its alerts committed (batches that raised alerts).', LATENCY_BUCKETS));
  const wall = deps.now ?? Date.now;
  notifier.start();
  const out: DetectionRuntime = {
    alerts,
    detector,
    notifier,
    afterWrite: async (b) => {
      // The consumer calls this right after the store commit: that is the "stored" instant.
      const t0 = wall();
      const r = await detector.afterWrite(b);
      if (!r || r.created.length + r.updated.length === 0) return;
      const t1 = r.recordedAt;
      storedToAlert?.observe((t1 - t0) / 1000);
      out.onLatency?.({ storedToAlertMs: t1 - t0, receiptToAlertMs: r.raisedIngestedMs.filter(Number.isFinite).map((t) => t1 - t) });
    },
    async stop() {
      await detector.checkpoint();
      await notifier.stop();
      await closeAlerts();
    },
  };
  return out;
}

/**
 * This data directory's detector name on a shared cluster. The detector's checkpoint holds a
 * sequence number of the local buffer and the correlation windows fed by it, so on an engine
 * (where several servers may share the indices, and a data directory may be replaced) it is
 * kept per data directory: a new buffer starts a new checkpoint instead of skipping its first
 * batches as "already detected".
 */
function detectorId(dataDir: string): string {
  const file = join(dataDir, 'detector-id');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(dataDir, { recursive: true });
    const id = randomUUID();
    writeFileSync(file, `${id}\n`, { flag: 'wx' });
    return id;
  }
}
