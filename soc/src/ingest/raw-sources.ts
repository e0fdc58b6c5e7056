/**
 * Network syslog sources that leave parsing to the pipeline's prepare worker. They are
 * collectors' own `UdpSource` and `TcpSource` (framing, ids at receipt, back-pressure, TLS,
 * connection limits — unchanged), given a processor that keeps each framed message as a
 * {@link RawFrame} instead of parsing it: the main thread frames and appends the bytes with the
 * id inputs (connection, sequence) to the durable buffer, the id itself is derived on decoding; `pipeline/prepare.ts` parses them from there with the same
 * collectors processor `startSource` would have used (same charset, zone and normaliser), so the
 * stored events are the same.
 *
 * Parse counters (`parseFailures`, `charsetLossy`) are counted where parsing happens and added to
 * these sources' metrics by the runtime after each store step.
 */
import { startSource, type EcsEvent, type EventSink, type Logger, type RunningSource, type TcpSourceConfig, type UdpSourceConfig } from '@xiangan/collectors';
import { RawFrame } from '../buffer/raw.js';

/** What {@link startRawSource} needs. */
export interface RawSourceDeps {
  sink: EventSink;
  logger?: Logger;
  now?: () => number;
}

/**
 * Start a UDP, TCP or TLS syslog source whose messages reach the buffer unparsed: collectors'
 * own `startSource`, with a processor that only counts and keeps the frame.
 *
 * @example
 * ```ts
 * const src = await startRawSource({ id: 'syslog-tcp', type: 'tcp', port: 5514 }, { sink: buffer });
 * ```
 */
export function startRawSource(cfg: UdpSourceConfig | TcpSourceConfig, deps: RawSourceDeps): Promise<RunningSource> {
  return startSource(cfg, {
    ...deps,
    // Ids are derived in the prepare worker, in batches, from the context and sequence kept here.
    deferIds: true,
    // The counting part of collectors' processor; the rest (parse, normalise) runs in the pipeline.
    processor: ({ charset, metrics }) => (bytes, ctx, seq) => {
      metrics.eventsIn++;
      metrics.bytesIn += bytes.length;
      if (ctx.truncated === true) metrics.truncations++;
      return new RawFrame(bytes, ctx, charset, seq) as unknown as EcsEvent;
    },
  });
}
