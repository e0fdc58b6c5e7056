/**
 * The running pipeline of one server, built from a validated configuration: durable buffer,
 * event store, the consumer between them, the configured sources, retention and metrics.
 * `server.ts` starts it; `app.ts` serves its API. Shutdown order keeps the at-least-once promise:
 * sources stop first (no new appends), the buffer flushes its last group, the consumer finishes
 * its write, and whatever is still buffered is stored after the next start.
 */
import { join } from 'node:path';
import { normalise as vendorNormalise, startSource, type FormatName, type Logger, type Normalise, type RunningSource, type SourceConfig } from '@xiangan/collectors';
import { DurableBuffer } from '../buffer/durable.js';
import { BufferCheckpointStore } from '../buffer/checkpoints.js';
import type { SocConfig } from '../config/schema.js';
import { Counter, Gauge, Histogram, LATENCY_BUCKETS, MetricsRegistry } from '../metrics.js';
import { openSqliteStore } from '../storage/sqlite.js';
import { engineWriter, openConfiguredEngine } from '../storage/search-engine-open.js';
import { startIntegrity, type IntegrityService } from '../integrity/service.js';
import type { SigningIdentity } from '../integrity/identity.js';
import type { EventStore } from '../storage/types.js';
import { StoreConsumer, type StepInfo } from './consumer.js';
import { WorkerWriter } from './store-worker.js';
import { releaseBuffers } from '../buffer/json-bytes.js';
import { readFileSync } from 'node:fs';
import { startDetection, type DetectionRuntime } from '../detection/wire.js';
import { startRawSource } from '../ingest/raw-sources.js';
import { inProcessWriter } from './consumer.js';
import { Preparer, type NormaliserName } from './prepare.js';
import { purgeAlerts } from '../alerts/retention.js';
import { floorWorkerOldGeneration, sizeWorkerYoungGeneration } from '../detection/heap.js';

/** What {@link startRuntime} needs besides the configuration. */
export interface RuntimeDeps {
  logger: Logger & { child?: (b: object) => Logger };
  /** Vendor-aware syslog normaliser (collectors' parsers); default: the sources' baseline. */
  normalise?: Normalise;
  now?: () => number;
}

/** A running pipeline. */
export interface Runtime {
  config: SocConfig;
  buffer: DurableBuffer;
  store: EventStore;
  consumer: StoreConsumer;
  sources: RunningSource[];
  metrics: MetricsRegistry;
  /** Counters the HTTP ingest route updates. */
  ingestCounters: { accepted: Counter; rejected: Counter };
  /** Detection, alert store and notifier (absent with `alerts.enabled: false`). */
  detection?: DetectionRuntime;
  /** The SOC's signing identity, when tamper evidence runs with a passphrase (signs compliance reports too). */
  signingIdentity?: SigningIdentity;
  /** Stop everything in the safe order; idempotent. */
  stop(): Promise<void>;
}

const DAY_MS = 86_400_000;

function child(l: RuntimeDeps['logger'], component: string): Logger {
  return l.child ? l.child({ component }) : l;
}

/**
 * Build and start the pipeline.
 *
 * @example
 * ```ts
 * const rt = await startRuntime(loadConfig({ cwd }), { logger });
 * …
 * await rt.stop();
 * ```
 */
export async function startRuntime(config: SocConfig, deps: RuntimeDeps): Promise<Runtime> {
  const now = deps.now ?? Date.now;
  const log = deps.logger;
  const buffer = new DurableBuffer({
    dir: config.data,
    maxEvents: config.buffer.maxEvents,
    maxBytes: config.buffer.maxBytes,
    whenFull: config.buffer.whenFull,
    synchronous: config.buffer.synchronous,
    groupCommitMs: config.buffer.groupCommitMs,
    groupCommitEvents: config.buffer.groupCommitEvents,
    now,
  });
  // With a writer thread this connection only searches and runs retention: a small page cache
  // keeps the process's memory bounded (the writer's connection gets the configured one).
  const mainCacheMb = config.storage.worker ? Math.min(16, config.storage.cacheMb) : config.storage.cacheMb;
  const engine = config.storage.backend === 'sqlite' ? undefined : await openConfiguredEngine(config.storage.backend, config.storage.engine, config.storage.retentionDays);
  const sqlite = engine ? undefined : await openSqliteStore({ dir: config.data, synchronous: config.storage.synchronous, cacheMb: mainCacheMb, now, chain: config.integrity.enabled });
  const store: EventStore = engine ?? sqlite!;
  let integrity: IntegrityService | undefined;
  try {
    integrity = config.integrity.enabled
      ? startIntegrity({
          dir: config.data,
          passphrase: config.integrity.passphrase,
          intervalSeconds: config.integrity.checkpointSeconds,
          ...(config.integrity.caDir ? { caDir: config.integrity.caDir } : {}),
          ...(engine ? { engine } : {}),
          logger: child(log, 'integrity'),
          now,
        })
      : undefined;
  } catch (e) {
    buffer.close();
    await store.close();
    throw e;
  }

  const metrics = new MetricsRegistry();
  const storeErrors = metrics.add(new Counter('xiangan_store_errors_total', 'Store writes that failed and were retried.'));
  const stored = metrics.add(new Counter('xiangan_store_events_total', 'Events the store committed, by result.'));
  const sinkLatency = metrics.add(new Histogram('xiangan_sink_latency_seconds', 'Duration of one store transaction.', LATENCY_BUCKETS));
  const e2eLatency = metrics.add(
    new Histogram('xiangan_buffer_to_store_seconds', 'Time from the buffer commit of the oldest batch of a store step to its acknowledgement (the store commit durable).', LATENCY_BUCKETS),
  );
  const receiptLatency = metrics.add(
    new Histogram(
      'xiangan_receipt_to_store_seconds',
      'Time from receipt by a source (event.ingested) to the store commit, per event.',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2, 5, 10, 30],
    ),
  );
  // Network syslog reaches the buffer unparsed and is parsed on the way to the SQLite store (in
  // the prepare worker): the main thread only frames and appends. The engine backends' writer
  // sends the buffer's documents as they are, so with them sources parse before the buffer; so
  // does a custom normaliser (a function cannot be handed to a worker).
  const normaliser: NormaliserName | undefined =
    deps.normalise === undefined ? 'baseline' : deps.normalise === vendorNormalise ? 'vendor' : undefined;
  const rawSyslog = !engine && normaliser !== undefined;
  if (config.storage.worker && !engine) {
    sizeWorkerYoungGeneration(workerSemiSpaceMb(config.alerts.enabled));
    floorWorkerOldGeneration(workerOldFloorMb(config.alerts.enabled));
  }
  const workerWriter = config.storage.worker && !engine
    ? new WorkerWriter({
        dir: config.data,
        synchronous: config.storage.synchronous,
        cacheMb: config.storage.cacheMb,
        mmapMb: config.storage.mmapMb,
        chain: config.integrity.enabled,
        normaliser: normaliser ?? 'vendor',
        // Only detection reads the stored documents in this thread.
        documents: config.alerts.enabled,
        // The next step's chunks are read as the buffer commits them (store-worker.ts, `Ahead`).
        waitForData: (after, ms) => buffer.waitForData(ms, after),
        // Without detection: a second step prepared ahead, and the prepare worker behind the store
        // worker for the cores, so that neither waits on the other flat out (~8 MB more resident;
        // with detection the process is nearer its memory bound: soc/README.md "Throughput,
        // session 14"); steps up to twice the consumer's while a backlog waits (fewer commits).
        ...(config.alerts.enabled ? {} : { aheadSteps: PIPELINE_AHEAD_STEPS, prepareNice: PIPELINE_PREPARE_NICE, stepGrowth: PIPELINE_STEP_GROWTH }),
        // The WAL copied by the process's checkpoint thread (with detection the same one as alerts.db's).
        checkpointThread: true,
        onCheckpointError: (e) => log.error({ stage: 'store', errorCode: e.code, reason: e.message }, 'Event store checkpoint failed.'),
      })
    : undefined;
  const detection = config.alerts.enabled ? await startDetection(config, { logger: child(log, 'detection'), metrics, now, ...(engine ? { engine } : {}) }) : undefined;
  // Detection's stateless half runs in the prepare worker, on every rule set the detector uses (./prematch.ts).
  if (detection && workerWriter) detection.detector.onRulesChanged((c) => workerWriter.setRules(c));
  const sources: RunningSource[] = [];
  const consumer = new StoreConsumer({
    buffer,
    // Detection reads the stored batches' documents from the writer's step (no re-read of the
    // buffer, whose frames are unparsed); the engine writer's steps come without them.
    ...(detection
      ? {
          afterWrite: async (info: StepInfo, from: number) => {
            const r = await detection.afterWrite(info.prematched ?? info.batches ?? buffer.readAfter(from, info.events).filter((b) => b.seq <= info.lastSeq));
            // Detected (a failure is retried with the same steps, so only then): the texts are done with.
            if (info.prematched) releaseBuffers(info.prematched.map((s) => s.hits.bytes.buffer));
            return r;
          },
        }
      : {}),
    ...(engine
      ? { writer: engineWriter(buffer, engine, now) }
      : workerWriter
        ? { writer: (after, max) => workerWriter.write(after, max) }
        : { writer: inProcessWriter(buffer, sqlite!, now, new Preparer(normaliser ?? deps.normalise!, now, config.integrity.enabled)) }),
    batchEvents: config.storage.batchEvents,
    logger: child(log, 'consumer'),
    onStored: (info) => {
      if (info.counters) {
        for (const [id, c] of Object.entries(info.counters)) {
          const src = sources.find((s) => s.id === id);
          if (!src) continue;
          src.metrics.parseFailures += c.parseFailures;
          src.metrics.charsetLossy += c.charsetLossy;
        }
      }
      stored.inc({ result: 'written' }, info.written);
      stored.inc({ result: 'duplicate' }, info.duplicates);
      sinkLatency.observe(info.ms / 1000);
      e2eLatency.observe(Math.max(0, now() - info.oldestAppendedAt) / 1000);
      for (const ms of info.receiptToStoredMs ?? []) if (Number.isFinite(ms)) receiptLatency.observe(Math.max(0, ms) / 1000);
    },
    onError: () => storeErrors.inc(),
  });
  consumer.start();

  const stopAll = async (): Promise<void> => {
    for (const s of sources.splice(0)) await s.stop().catch(() => undefined);
  };
  try {
    const srcDeps = {
      sink: buffer,
      logger: child(log, 'source'),
      checkpoints: new BufferCheckpointStore(buffer),
      now,
      ...(deps.normalise ? { normalise: deps.normalise } : {}),
    };
    const sy = config.syslog;
    const cfgs: SourceConfig[] = [];
    if (sy.enabled) {
      const common = { host: sy.host, charset: sy.charset, timezone: sy.timezone, maxMessageSize: sy.maxMessageBytes };
      cfgs.push({ id: 'syslog-udp', type: 'udp', port: sy.udpPort, ...common });
      cfgs.push({ id: 'syslog-tcp', type: 'tcp', port: sy.tcpPort, maxConnections: sy.maxConnections, ...common });
      if (sy.tls) {
        const t = sy.tls;
        cfgs.push({
          id: 'syslog-tls',
          type: 'tls',
          port: t.port,
          maxConnections: sy.maxConnections,
          tls: { cert: readFileSync(t.cert), key: readFileSync(t.key), ...(t.ca ? { ca: readFileSync(t.ca) } : {}), requestClientCert: t.requestClientCert },
          ...common,
        });
      }
    }
    for (const f of config.files) cfgs.push({ id: f.id, type: 'file', paths: f.paths, charset: f.charset, timezone: f.timezone, startAt: f.startAt, format: f.format as FormatName });
    for (const c of cfgs) {
      sources.push(rawSyslog && c.type !== 'file' ? await startRawSource(c, { sink: buffer, logger: srcDeps.logger, now }) : await startSource(c, srcDeps));
    }
  } catch (e) {
    await stopAll();
    await consumer.stop();
    await workerWriter?.close();
    await detection?.stop();
    buffer.close();
    await integrity?.close();
    await store.close();
    throw e;
  }

  const per = (pick: (s: RunningSource) => number) => () => sources.map((s) => ({ labels: { source: s.id }, value: pick(s) }));
  metrics.add(new Counter('xiangan_events_in_total', 'Events received and parsed, per source.', per((s) => s.metrics.eventsIn)));
  metrics.add(new Counter('xiangan_events_out_total', 'Events durably appended to the buffer, per source.', per((s) => s.metrics.eventsOut)));
  metrics.add(new Counter('xiangan_parse_failures_total', 'Messages that did not parse (stored as unparsed), per source.', per((s) => s.metrics.parseFailures)));
  metrics.add(
    new Counter('xiangan_events_dropped_total', 'Events dropped, per source and reason.', () =>
      sources.flatMap((s) => (Object.entries(s.metrics.drops) as Array<[string, number]>).map(([reason, value]) => ({ labels: { source: s.id, reason }, value }))),
    ),
  );
  metrics.add(new Counter('xiangan_buffer_full_retries_total', 'Appends refused because the buffer was full and retried (TCP, files).', per((s) => s.metrics.appendRetries)));
  metrics.add(new Gauge('xiangan_source_paused', '1 while a source has stopped reading for back-pressure, per source.', per((s) => s.metrics.paused)));
  metrics.add(new Gauge('xiangan_source_connections', 'Open TCP/TLS connections, per source.', per((s) => s.metrics.connectionsOpen)));
  metrics.add(new Gauge('xiangan_buffer_depth_events', 'Events in the durable buffer not yet stored.', () => [{ value: buffer.depth }]));
  metrics.add(new Gauge('xiangan_buffer_depth_bytes', 'Bytes in the durable buffer not yet stored.', () => [{ value: buffer.bytes }]));
  metrics.add(new Gauge('xiangan_buffer_oldest_age_seconds', 'Age of the oldest buffered batch.', () => [{ value: buffer.oldestAgeMs() / 1000 }]));
  metrics.add(new Gauge('xiangan_buffer_full', '1 while the buffer is at its bound.', () => [{ value: buffer.full ? 1 : 0 }]));
  const ingestCounters = {
    accepted: metrics.add(new Counter('xiangan_http_ingest_events_total', 'Events accepted by POST /api/v1/ingest.')),
    rejected: metrics.add(new Counter('xiangan_http_ingest_rejected_total', 'HTTP ingest requests refused, by reason.')),
  };

  // Retention: drop whole days older than retentionDays, at start and then hourly.
  const retention = async (): Promise<void> => {
    const cutoff = new Date(now() - config.storage.retentionDays * DAY_MS).toISOString().slice(0, 10);
    try {
      // Signed deletion records first, so lawful expiry is never mistaken for tampering.
      await integrity?.beforeRetention((await store.stats()).days.map((d) => d.day).filter((d) => d < cutoff));
      const r = await store.deleteBefore(cutoff);
      if (r.days.length) log.info({ component: 'retention', days: r.days, events: r.events }, 'Dropped days past retention.');
    } catch (e) {
      log.error({ component: 'retention', err: e, errorCode: (e as { code?: string }).code }, 'Retention failed.');
    }
    // Closed alerts past alerts.retentionDays (0 keeps them forever), apart so one failing spares the other.
    if (detection && config.alerts.retentionDays > 0) {
      try {
        const r = await purgeAlerts(detection.alerts, { olderThanDays: config.alerts.retentionDays, actor: 'system' });
        if (r.alerts) log.info({ component: 'retention', alerts: r.alerts, history: r.history, comments: r.comments }, 'Purged closed alerts past retention.');
      } catch (e) {
        log.error({ component: 'retention', err: e, errorCode: (e as { code?: string }).code }, 'Alert retention failed.');
      }
    }
  };
  await retention();
  const retentionTimer = setInterval(() => void retention(), 3_600_000);
  retentionTimer.unref();

  let stopping: Promise<void> | undefined;
  return {
    config,
    buffer,
    store,
    consumer,
    sources,
    metrics,
    ingestCounters,
    ...(detection ? { detection } : {}),
    ...(integrity?.identity ? { signingIdentity: integrity.identity } : {}),
    stop() {
      stopping ??= (async () => {
        clearInterval(retentionTimer);
        await stopAll();
        buffer.flush();
        await consumer.stop();
        await workerWriter?.close();
        await detection?.stop();
        buffer.close();
        // Before the store: a last checkpoint may read an engine's integrity index through it.
        await integrity?.close();
        await store.close();
      })();
      return stopping;
    },
  };
}

/** Where the data directory keeps its files (for docs and the CLI). */
export function dataFiles(dir: string): { buffer: string; store: string } {
  return { buffer: join(dir, 'buffer.db'), store: join(dir, 'events.db') };
}

/** Steps the prepare worker may hold prepared ahead when detection is off (store-worker.ts, `aheadSteps`). */
const PIPELINE_AHEAD_STEPS = 2;
/** Nice value of the prepare worker's thread when detection is off (store-worker.ts, `prepareNice`). */
const PIPELINE_PREPARE_NICE = 5;
/**
 * Multiple of `storage.batchEvents` a step may reach while a backlog waits, when detection is off
 * (store-worker.ts, `stepGrowth`): each commit rewrites ~170 index pages whatever its size, so
 * flat out half as many commits (soc/README.md "Steps, session 17 (S)").
 */
const PIPELINE_STEP_GROWTH = 2;

/**
 * Semi-space, MiB, of the store and prepare workers' young generations (see
 * {@link sizeWorkerYoungGeneration}). With detection the process's memory is what is tight: 4
 * (8 MB young generations) took peak RSS at 1M bench lines from 297–304 to 278–285 MB. Without it
 * the pipeline's capacity is: 4 cost it 1.06 / 1.19 / 0.97 / 1.10× the CPU per event of 8 (four
 * pairs, 300k lines, V8 helpers +0.5 to +3.1 µs/event) for 21–25 MB less, so 8 there (soc/README.md
 * "Memory, session 13").
 */
export function workerSemiSpaceMb(detection: boolean): number {
  return detection ? 4 : 8;
}

/**
 * Floor, MiB, under the store and prepare workers' old-generation limit (see
 * {@link floorWorkerOldGeneration}). Without detection 48: per 1M bench events the store worker's
 * mark-compacts 134–136 → 13–15, the prepare worker's 24 → 6–10, V8's helper threads (concurrent
 * marking most of their time) 1.4–2.0 µs/event less, for 14–26 MB more peak RSS (soc/README.md
 * "GC, session 17"). With detection, where the main thread's heap takes more of the process's
 * memory, 32: against V8's default (no floor) the store worker's mark-compacts per 300k bench
 * events 55–71 → 25–27, the prepare worker's 18–21 → 8–11, V8's helper threads 1.9–3.8 µs/event
 * less in five of six 1M-line pairs, 4–10 % less CPU per event in five, for 6–11 MB
 * more peak RSS (281–285 MB at 1M lines); 48 there reached 303–313 MB, over the 300 MB target
 * (soc/README.md "Session 26").
 */
export function workerOldFloorMb(detection: boolean): number {
  return detection ? 32 : 48;
}
