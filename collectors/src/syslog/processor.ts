/**
 * The pure middle of the pipeline for one source: framed bytes + context → parse
 * (charset, RFC 5424/3164) → normalise → ECS event, counting parse failures, lossy
 * decodes and truncations in the source's metrics.
 */
import type { CharsetName, EcsEvent, Logger, Normalise, SourceContext } from '../types.js';
import type { SourceMetrics } from '../sources/common.js';
import { parseMessage } from './parse.js';
import { baselineNormalise } from './normalise.js';
import { DEFAULT_TIMEZONE } from './time.js';

/** Options of {@link createProcessor}. */
export interface ProcessorOptions {
  charset: CharsetName;
  timezone: string;
  /** Vendor-aware normaliser (collectors/src/parsers); default {@link baselineNormalise}. */
  normalise?: Normalise;
  metrics: SourceMetrics;
  /** Unparsed messages are logged at debug level with `errorCode: COL_ERR_PARSE` (they are stored anyway). */
  logger?: Logger;
}

/**
 * Turns one framed message into an ECS event. Never throws on data. `seq` is the message's
 * sequence on its connection, given by network sources started with `deferIds` (whose
 * `ctx.eventId` is empty and whose `ctx` may be shared by the messages of one read).
 */
export type Processor = (bytes: Uint8Array, ctx: SourceContext, seq?: number) => EcsEvent;

/**
 * Builds the processor of one source.
 *
 * @example
 * const toEvent = createProcessor({ charset: 'auto', timezone: 'Asia/Shanghai', metrics });
 * const ev = toEvent(frame.bytes, ctx);
 */
export function createProcessor(opts: ProcessorOptions): Processor {
  const normalise = opts.normalise ?? baselineNormalise;
  const m = opts.metrics;
  const zone = opts.timezone ?? DEFAULT_TIMEZONE;
  const charset = opts.charset ?? 'auto';
  return (bytes, ctx) => {
    m.eventsIn++;
    m.bytesIn += bytes.length;
    if (ctx.truncated === true) m.truncations++;
    const msg = parseMessage(bytes, ctx.receivedAt, zone, charset);
    if (msg.lossy) m.charsetLossy++;
    let ev: EcsEvent;
    try {
      ev = normalise(msg, ctx);
    } catch (e) {
      // A bug in a vendor normaliser must not lose the event: fall back to the baseline.
      ev = baselineNormalise(msg, ctx);
      ev.tags = [...(ev.tags ?? []), '_normalise_error'];
      (ev.labels ??= {})['xiangan.normalise_error'] = e instanceof Error ? e.message.slice(0, 200) : String(e).slice(0, 200);
    }
    // A parse failure is a line neither the syslog grammar nor a parser could read: one the
    // normaliser kept as `_syslog_unparsed` text (a line without a header that a vendor parser
    // read, such as an nginx access line from a file, is not one).
    if (msg.format === 'unparsed' && ev.tags !== undefined && ev.tags.includes('_syslog_unparsed')) {
      m.parseFailures++;
      opts.logger?.debug({ sourceId: ctx.sourceId, errorCode: 'COL_ERR_PARSE', stage: 'parse', reason: msg.parseError }, 'Message kept unparsed.');
    }
    return ev;
  };
}
