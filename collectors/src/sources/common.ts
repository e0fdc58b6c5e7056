/**
 * What every source shares: its metrics object, a no-op logger, and the appender that
 * hands batches to the sink with the back-pressure rules of DESIGN.md ("everything
 * bounded, loss counted"): a full buffer is retried (TCP, files: the reader is paused
 * meanwhile, so memory stays bounded) or counted as a drop (UDP) — never hidden.
 */
import type { EcsEvent, EventSink, Logger } from '../types.js';
import type { Processor } from '../syslog/processor.js';
import { CollectorError } from '../errors.js';

/** Why an event was dropped; each reason is a separate counter. */
export type DropReason = 'buffer_full' | 'sink_error' | 'connection_limit' | 'source_stopped';

/**
 * Plain counters of one source, exported by the server as Prometheus metrics
 * (`xiangan_collector_<name>_total{source="<id>"}`). Monotonic except the gauges noted.
 *
 * @example
 * const m = newSourceMetrics('syslog-udp'); m.eventsIn++;
 */
export interface SourceMetrics {
  sourceId: string;
  /** Messages framed and turned into events. */
  eventsIn: number;
  /** Events the sink acknowledged. */
  eventsOut: number;
  bytesIn: number;
  /** Messages that did not parse as syslog (stored anyway, marked unparsed). */
  parseFailures: number;
  /** Messages cut at the maximum message size. */
  truncations: number;
  /** Octet-counting headers that were malformed (the connection fell back to LF framing). */
  invalidFrames: number;
  /** Messages with bytes undecodable in the source charset (kept escaped + base64). */
  charsetLossy: number;
  drops: Record<DropReason, number>;
  /** Append attempts rejected with COL_ERR_BUFFER_FULL and retried. */
  appendRetries: number;
  /** Gauge: open TCP/TLS connections. */
  connectionsOpen: number;
  connectionsTotal: number;
  /** Connections closed for idling past the idle timeout. */
  connectionsIdleClosed: number;
  /** TLS handshakes that failed (including rejected client certificates). */
  tlsFailures: number;
  /** Gauge: 1 while the source is paused for back-pressure. */
  paused: number;
  /** File sources: truncations and rotations detected. */
  fileTruncations: number;
  fileRotations: number;
}

/**
 * Creates a zeroed metrics object.
 *
 * @example
 * const m = newSourceMetrics('auth-log');
 */
export function newSourceMetrics(sourceId: string): SourceMetrics {
  return {
    sourceId,
    eventsIn: 0,
    eventsOut: 0,
    bytesIn: 0,
    parseFailures: 0,
    truncations: 0,
    invalidFrames: 0,
    charsetLossy: 0,
    drops: { buffer_full: 0, sink_error: 0, connection_limit: 0, source_stopped: 0 },
    appendRetries: 0,
    connectionsOpen: 0,
    connectionsTotal: 0,
    connectionsIdleClosed: 0,
    tlsFailures: 0,
    paused: 0,
    fileTruncations: 0,
    fileRotations: 0,
  };
}

/** A logger that discards everything (default when none is given). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** Options of {@link appendWithRetry}. */
export interface RetryOptions {
  /** Keep retrying a full buffer while this returns true (e.g. the connection is open). */
  alive: () => boolean;
  /** Retries for errors other than a full buffer before the batch is dropped (counted). */
  maxErrorRetries?: number;
  /** First delay between retries (ms), doubled up to 1 s. */
  delayMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Appends a batch, retrying while the buffer is full (the caller has paused its reader)
 * and a few times on other sink errors. Resolves true when stored, false when dropped;
 * every drop is counted in `metrics.drops` with its reason. Never rejects.
 *
 * @example
 * if (await appendWithRetry(sink, events, metrics, logger, { alive: () => !socket.destroyed })) commit();
 */
export async function appendWithRetry(
  sink: EventSink,
  events: EcsEvent[],
  metrics: SourceMetrics,
  logger: Logger,
  opts: RetryOptions,
): Promise<boolean> {
  let delay = opts.delayMs ?? 20;
  let errors = 0;
  const maxErrors = opts.maxErrorRetries ?? 3;
  for (;;) {
    try {
      await sink.append(events);
      metrics.eventsOut += events.length;
      return true;
    } catch (e) {
      const full = e instanceof CollectorError && e.code === 'COL_ERR_BUFFER_FULL';
      if (full) metrics.appendRetries++;
      else errors++;
      if (!opts.alive()) {
        metrics.drops.source_stopped += events.length;
        logger.warn({ sourceId: metrics.sourceId, count: events.length, stage: 'sink' }, 'Source stopped before the sink accepted a batch.');
        return false;
      }
      if (!full && errors > maxErrors) {
        metrics.drops.sink_error += events.length;
        const code = e instanceof CollectorError ? e.code : 'COL_ERR_SINK';
        logger.error({ sourceId: metrics.sourceId, count: events.length, errorCode: code, stage: 'sink', err: e }, 'Sink rejected a batch; dropped.');
        return false;
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 1000);
    }
  }
}

/** Waits until `sink.full` is false or `alive()` turns false, polling gently. */
export async function waitWhileFull(sink: EventSink, alive: () => boolean): Promise<void> {
  let delay = 10;
  while (sink.full && alive()) {
    await sleep(delay);
    delay = Math.min(delay * 2, 500);
  }
}

/** Options every network source (UDP, TCP, TLS) takes. */
export interface NetworkSourceOptions {
  sourceId: string;
  /** Address to bind; default `0.0.0.0`. */
  host?: string;
  /** Port to bind; 0 picks an ephemeral port. */
  port: number;
  sink: EventSink;
  /** Parse + normalise of one framed message (see `createProcessor`). */
  process: Processor;
  /** Zone for timestamps without an offset. */
  timezone: string;
  logger?: Logger;
  metrics?: SourceMetrics;
  /** Clock, injectable for tests; default `Date.now`. */
  now?: () => number;
  /**
   * Derive no ids at receipt: `process` gets `ctx.eventId === ''`, `ctx.connection` and the
   * message's sequence as its third argument, and must keep them so that the consumer derives
   * the same id `eventId` would have (a raw-frame buffer does it in batches, off the thread
   * that reads sockets). Messages of one read may share one `ctx` object.
   */
  deferIds?: boolean;
}
