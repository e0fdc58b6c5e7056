/**
 * Composes one configured source: source (I/O) → framing → decode → parse → normalise →
 * sink (DESIGN.md, "The way of one event"). The server builds one per configured input
 * and exports each `metrics` object to Prometheus.
 */
import type { CharsetName, EventSink, Logger, Normalise } from './types.js';
import { charsetName } from './charset.js';
import { assertTimeZone, DEFAULT_TIMEZONE } from './syslog/time.js';
import { createProcessor, type Processor } from './syslog/processor.js';
import { newSourceMetrics, type SourceMetrics } from './sources/common.js';
import { UdpSource } from './sources/udp.js';
import { TcpSource, type TlsOptions } from './sources/tcp.js';
import { FileSource } from './sources/file.js';
import type { CheckpointStore } from './sources/checkpoint.js';
import { createNormaliser, FORMATS, type FormatName } from './parsers/index.js';

/** Settings every source has. */
interface CommonSourceConfig {
  /** Unique id; appears in metrics, event ids and `labels['xiangan.source']`. */
  id: string;
  /** Default `auto` (UTF-8, else GB18030, lossless fallback). */
  charset?: CharsetName | string;
  /** IANA zone for timestamps without offset; default `Asia/Shanghai`. */
  timezone?: string;
  /** Maximum message size in bytes; longer ones are truncated and counted. */
  maxMessageSize?: number;
  /**
   * Parser hint (collectors/PARSERS.md, `FORMATS`): only that parser is tried, as a Wazuh
   * `log_format` or a Filebeat module names one; a line it does not read is kept unparsed with
   * `error.message`. Default `auto`: detected per line. A hint uses the vendor normaliser,
   * whatever `SourceDeps.normalise` is; a source given a `SourceDeps.processor` has none.
   */
  format?: FormatName;
}

/** A syslog UDP listener. */
export interface UdpSourceConfig extends CommonSourceConfig {
  type: 'udp';
  host?: string;
  port: number;
}

/** A syslog TCP or TLS listener. */
export interface TcpSourceConfig extends CommonSourceConfig {
  type: 'tcp' | 'tls';
  host?: string;
  port: number;
  /** Required for `tls`. */
  tls?: TlsOptions;
  maxConnections?: number;
  idleTimeoutMs?: number;
}

/** A file tailer. */
export interface FileSourceConfig extends CommonSourceConfig {
  type: 'file';
  paths: string[];
  startAt?: 'beginning' | 'end';
  pollIntervalMs?: number;
}

/** One configured source. */
export type SourceConfig = UdpSourceConfig | TcpSourceConfig | FileSourceConfig;

/** What a source needs from its host. */
export interface SourceDeps {
  sink: EventSink;
  logger?: Logger;
  /** Vendor-aware normaliser; default: the baseline syslog normaliser. */
  normalise?: Normalise;
  /** Required for file sources. */
  checkpoints?: CheckpointStore;
  now?: () => number;
  /**
   * Replaces the parsing processor (then `normalise` is unused): e.g. the SOC's raw sources keep
   * each framed message unparsed for a parsing worker. Given the source's charset, zone and metrics.
   */
  processor?: (o: { charset: CharsetName; timezone: string; metrics: SourceMetrics }) => Processor;
  /** Network sources derive no ids at receipt (see `NetworkSourceOptions.deferIds`); needs `processor`. */
  deferIds?: boolean;
}

/** A running source. */
export interface RunningSource {
  readonly id: string;
  readonly type: SourceConfig['type'];
  readonly metrics: SourceMetrics;
  /** Bound address for network sources (port 0 → the ephemeral port chosen). */
  readonly address?: { address: string; port: number };
  /** Stops the source; TCP/TLS give pending batches `graceMs` (default 5 s) to reach the sink. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Builds and starts one source with its processing pipeline.
 *
 * @example
 * const src = await startSource({ id: 'syslog-tcp', type: 'tcp', port: 5514 }, { sink, logger });
 * console.log(src.address?.port, src.metrics.eventsIn);
 * await src.stop();
 */
export async function startSource(cfg: SourceConfig, deps: SourceDeps): Promise<RunningSource> {
  const charset = charsetName(cfg.charset ?? 'auto');
  const timezone = cfg.timezone ?? DEFAULT_TIMEZONE;
  assertTimeZone(timezone);
  const format = cfg.format ?? 'auto';
  if (format !== 'auto' && !Object.hasOwn(FORMATS, format)) throw new RangeError(`source ${cfg.id}: unknown format ${String(format)} (one of auto, ${Object.keys(FORMATS).join(', ')})`);
  if (format !== 'auto' && deps.processor !== undefined) throw new TypeError(`source ${cfg.id}: a format hint needs the built-in processor`);
  const normalise = format !== 'auto' ? createNormaliser({ format }) : deps.normalise;
  const metrics = newSourceMetrics(cfg.id);
  // The built-in processor puts ctx.eventId in the event: with deferred ids it would be empty.
  if (deps.deferIds === true && deps.processor === undefined) throw new TypeError(`source ${cfg.id}: deferIds needs a processor that keeps the id inputs`);
  const process = deps.processor
    ? deps.processor({ charset, timezone, metrics })
    : createProcessor({
        charset,
        timezone,
        metrics,
        ...(normalise !== undefined ? { normalise } : {}),
        ...(deps.logger !== undefined ? { logger: deps.logger } : {}),
      });
  const common = {
    sourceId: cfg.id,
    sink: deps.sink,
    process,
    timezone,
    metrics,
    ...(deps.logger !== undefined ? { logger: deps.logger } : {}),
    ...(deps.now !== undefined ? { now: deps.now } : {}),
    ...(cfg.maxMessageSize !== undefined ? { maxMessageSize: cfg.maxMessageSize } : {}),
  };
  switch (cfg.type) {
    case 'udp': {
      const s = new UdpSource({ ...common, port: cfg.port, ...(deps.deferIds === true ? { deferIds: true } : {}), ...(cfg.host !== undefined ? { host: cfg.host } : {}) });
      const address = await s.start();
      return { id: cfg.id, type: cfg.type, metrics, address, stop: () => s.stop() };
    }
    case 'tcp':
    case 'tls': {
      if (cfg.type === 'tls' && cfg.tls === undefined) throw new TypeError(`source ${cfg.id}: type tls needs tls.key and tls.cert`);
      const s = new TcpSource({
        ...common,
        port: cfg.port,
        ...(deps.deferIds === true ? { deferIds: true } : {}),
        ...(cfg.host !== undefined ? { host: cfg.host } : {}),
        ...(cfg.type === 'tls' ? { tls: cfg.tls! } : {}),
        ...(cfg.maxConnections !== undefined ? { maxConnections: cfg.maxConnections } : {}),
        ...(cfg.idleTimeoutMs !== undefined ? { idleTimeoutMs: cfg.idleTimeoutMs } : {}),
      });
      const address = await s.start();
      return { id: cfg.id, type: cfg.type, metrics, address, stop: (graceMs?: number) => s.stop(graceMs) };
    }
    case 'file': {
      if (deps.checkpoints === undefined) throw new TypeError(`source ${cfg.id}: file sources need a CheckpointStore`);
      const s = new FileSource({
        ...common,
        paths: cfg.paths,
        checkpoints: deps.checkpoints,
        ...(cfg.startAt !== undefined ? { startAt: cfg.startAt } : {}),
        ...(cfg.pollIntervalMs !== undefined ? { pollIntervalMs: cfg.pollIntervalMs } : {}),
      });
      await s.start();
      return { id: cfg.id, type: cfg.type, metrics, stop: () => s.stop() };
    }
    default:
      throw new TypeError(`unknown source type ${String((cfg as { type: unknown }).type)}`);
  }
}
