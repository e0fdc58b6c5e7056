/**
 * Network syslog sources that leave parsing to the pipeline's prepare worker. They are
 * collectors' own `UdpSource` and `TcpSource` (framing, ids at receipt, back-pressure, TLS,
 * connection limits — unchanged), given a processor that keeps each framed message as a
 * {@link RawFrame} instead of parsing it: the main thread frames, derives the id and appends the
 * bytes to the durable buffer; `pipeline/prepare.ts` parses them from there with the same
 * collectors processor `startSource` would have used (same charset, zone and normaliser), so the
 * stored events are the same.
 *
 * Parse counters (`parseFailures`, `charsetLossy`) are counted where parsing happens and added to
 * these sources' metrics by the runtime after each store step.
 */
import {
  assertTimeZone,
  charsetName,
  newSourceMetrics,
  TcpSource,
  UdpSource,
  type EcsEvent,
  type EventSink,
  type Logger,
  type Processor,
  type RunningSource,
  type TcpSourceConfig,
  type UdpSourceConfig,
} from '@xiangan/collectors';
import { RawFrame } from '../buffer/raw.js';

/** What {@link startRawSource} needs. */
export interface RawSourceDeps {
  sink: EventSink;
  logger?: Logger;
  now?: () => number;
}

/**
 * Start a UDP, TCP or TLS syslog source whose messages reach the buffer unparsed.
 *
 * @example
 * ```ts
 * const src = await startRawSource({ id: 'syslog-tcp', type: 'tcp', port: 5514 }, { sink: buffer });
 * ```
 */
export async function startRawSource(cfg: UdpSourceConfig | TcpSourceConfig, deps: RawSourceDeps): Promise<RunningSource> {
  const charset = charsetName(cfg.charset ?? 'auto');
  const timezone = cfg.timezone ?? 'Asia/Shanghai';
  assertTimeZone(timezone);
  const metrics = newSourceMetrics(cfg.id);
  // The counting part of collectors' processor; the rest (parse, normalise) runs in the pipeline.
  const process: Processor = (bytes, ctx) => {
    metrics.eventsIn++;
    metrics.bytesIn += bytes.length;
    if (ctx.truncated === true) metrics.truncations++;
    return new RawFrame(bytes, ctx, charset) as unknown as EcsEvent;
  };
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
  if (cfg.type === 'udp') {
    const s = new UdpSource({ ...common, port: cfg.port, ...(cfg.host !== undefined ? { host: cfg.host } : {}) });
    const address = await s.start();
    return { id: cfg.id, type: cfg.type, metrics, address, stop: () => s.stop() };
  }
  if (cfg.type === 'tls' && cfg.tls === undefined) throw new TypeError(`source ${cfg.id}: type tls needs tls.key and tls.cert`);
  const s = new TcpSource({
    ...common,
    port: cfg.port,
    ...(cfg.host !== undefined ? { host: cfg.host } : {}),
    ...(cfg.type === 'tls' ? { tls: cfg.tls! } : {}),
    ...(cfg.maxConnections !== undefined ? { maxConnections: cfg.maxConnections } : {}),
    ...(cfg.idleTimeoutMs !== undefined ? { idleTimeoutMs: cfg.idleTimeoutMs } : {}),
  });
  const address = await s.start();
  return { id: cfg.id, type: cfg.type, metrics, address, stop: (graceMs?: number) => s.stop(graceMs) };
}
