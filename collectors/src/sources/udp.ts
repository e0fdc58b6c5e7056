/**
 * Syslog over UDP (RFC 5426): one message per datagram. UDP has no back-pressure, so
 * when the sink is full a datagram is dropped and counted (`drops.buffer_full`) — never
 * hidden (issue 3). Datagrams arriving in one event-loop turn are appended as one batch.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { EcsEvent, Logger, SourceContext } from '../types.js';
import { CollectorError } from '../errors.js';
import { datagramFrame } from '../syslog/framing.js';
import { eventId } from '../id.js';
import { appendWithRetry, newSourceMetrics, silentLogger, type NetworkSourceOptions, type SourceMetrics } from './common.js';

/** Options of {@link UdpSource}. */
export interface UdpSourceOptions extends NetworkSourceOptions {
  /** Default 65,507 (the largest UDP/IPv4 payload). */
  maxMessageSize?: number;
  /** Largest batch handed to the sink at once; default 1000. */
  maxBatch?: number;
  /**
   * SO_RCVBUF in bytes; default 4 MiB. Bursts beyond it are dropped by the kernel before we
   * can count them, so a generous buffer matters more for UDP than for any other source.
   */
  receiveBufferBytes?: number;
  /** Batches awaiting the sink before further datagrams are dropped (counted as buffer_full); default 64. */
  maxInflightBatches?: number;
}

/**
 * A UDP syslog listener.
 *
 * @example
 * const src = new UdpSource({ sourceId: 'syslog-udp', port: 5514, sink, process, timezone: 'Asia/Shanghai' });
 * const { port } = await src.start();
 * await src.stop();
 */
export class UdpSource {
  readonly metrics: SourceMetrics;
  private readonly o: UdpSourceOptions;
  private readonly logger: Logger;
  private readonly now: () => number;
  private sock: dgram.Socket | undefined;
  private batch: EcsEvent[] = [];
  private scheduled = false;
  private seq = 0;
  private readonly startedAt: string;
  private running = false;
  private inflight = new Set<Promise<unknown>>();

  constructor(opts: UdpSourceOptions) {
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new RangeError('port must be 0..65535');
    this.o = opts;
    this.metrics = opts.metrics ?? newSourceMetrics(opts.sourceId);
    this.logger = opts.logger ?? silentLogger;
    this.now = opts.now ?? Date.now;
    this.startedAt = String(this.now());
  }

  /** Binds the socket; resolves with the bound address (port 0 → an ephemeral port). */
  start(): Promise<{ address: string; port: number }> {
    const host = this.o.host ?? '0.0.0.0';
    const sock = dgram.createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false, recvBufferSize: this.o.receiveBufferBytes ?? 4 * 1024 * 1024 });
    this.sock = sock;
    sock.on('message', (b, rinfo) => this.onMessage(b, rinfo));
    return new Promise((resolve, reject) => {
      sock.once('error', (e) => reject(new CollectorError('COL_ERR_SOURCE_IO', `UDP bind ${host}:${this.o.port} failed: ${e.message}`, { cause: e })));
      sock.bind(this.o.port, host, () => {
        this.running = true;
        sock.on('error', (e) => this.logger.error({ sourceId: this.o.sourceId, errorCode: 'COL_ERR_SOURCE_IO', err: e }, 'UDP socket error.'));
        const a = sock.address();
        this.logger.info({ sourceId: this.o.sourceId, address: a.address, port: a.port }, 'UDP syslog source listening.');
        resolve({ address: a.address, port: a.port });
      });
    });
  }

  private onMessage(b: Buffer, rinfo: dgram.RemoteInfo): void {
    // A sink that is slow but not yet full must not let in-flight batches grow without bound.
    if (this.o.sink.full || this.inflight.size >= (this.o.maxInflightBatches ?? 64)) {
      this.metrics.drops.buffer_full++;
      return;
    }
    const receivedAt = this.now();
    const frame = datagramFrame(b, this.o.maxMessageSize ?? 65507);
    if (frame.bytes.length === 0) return;
    const seq = this.seq++;
    const ctx: SourceContext = {
      sourceId: this.o.sourceId,
      transport: 'udp',
      peer: { address: rinfo.address, port: rinfo.port },
      receivedAt,
      timezone: this.o.timezone,
      eventId: '',
      ...(frame.truncated ? { truncated: true } : {}),
    };
    if (this.o.deferIds === true) {
      ctx.connection = this.startedAt;
      this.batch.push(this.o.process(frame.bytes, ctx, seq));
    } else {
      ctx.eventId = eventId({ kind: 'network', sourceId: this.o.sourceId, peerAddress: rinfo.address, peerPort: rinfo.port, receivedAt, connection: this.startedAt, seq, bytes: frame.bytes });
      this.batch.push(this.o.process(frame.bytes, ctx));
    }
    if (this.batch.length >= (this.o.maxBatch ?? 1000)) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.batch.length === 0) return;
    const events = this.batch;
    this.batch = [];
    // UDP cannot push back: a full buffer is not retried but counted (maxErrorRetries applies to other errors).
    const p = this.o.sink.append(events).then(
      () => {
        this.metrics.eventsOut += events.length;
      },
      (e: unknown) => {
        if (e instanceof CollectorError && e.code === 'COL_ERR_BUFFER_FULL') {
          this.metrics.drops.buffer_full += events.length;
          return;
        }
        return appendWithRetry(this.o.sink, events, this.metrics, this.logger, { alive: () => this.running });
      },
    );
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** Closes the socket and waits for batches in flight to settle. */
  async stop(): Promise<void> {
    this.flush();
    const s = this.sock;
    this.sock = undefined;
    if (s !== undefined) await new Promise<void>((r) => s.close(() => r()));
    await Promise.allSettled([...this.inflight]);
    this.running = false;
  }
}
