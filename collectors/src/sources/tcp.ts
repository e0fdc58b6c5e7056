/**
 * Syslog over TCP (RFC 6587) and TLS (RFC 5425). Framing is detected per connection
 * from its first byte. Back-pressure: a connection's socket is paused while the sink is
 * full or while more than `appendWindow` batches of it are waiting for the sink, and
 * resumed after — TCP flow control then slows the sender, and nothing read is dropped.
 * Connection limits and idle timeouts bound what one peer can hold.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { EcsEvent, Logger, SourceContext, Transport } from '../types.js';
import { CollectorError } from '../errors.js';
import { StreamFramer, type Frame } from '../syslog/framing.js';
import { eventId } from '../id.js';
import { appendWithRetry, newSourceMetrics, silentLogger, waitWhileFull, type NetworkSourceOptions, type SourceMetrics } from './common.js';

/** TLS settings (RFC 5425). PEM text or bytes, as node:tls takes them. */
export interface TlsOptions {
  key: string | Buffer;
  cert: string | Buffer;
  /** CA bundle for client certificates; with `requestClientCert` the peer must chain to it. */
  ca?: string | Buffer;
  /** Ask for and verify a client certificate (RFC 5425 §5.3 mutual authentication). */
  requestClientCert?: boolean;
}

/** Options of {@link TcpSource}. */
export interface TcpSourceOptions extends NetworkSourceOptions {
  /** When set, the source speaks TLS (RFC 5425). */
  tls?: TlsOptions;
  /** Default 65,536 bytes; longer messages are truncated and counted. */
  maxMessageSize?: number;
  /** Default 1000 concurrent connections; more are refused and counted. */
  maxConnections?: number;
  /** Close connections idle this long (ms); default 10 minutes, 0 = never. */
  idleTimeoutMs?: number;
  /** Batches of one connection that may wait for the sink before its socket pauses; default 2. */
  appendWindow?: number;
}

interface Conn {
  id: string;
  socket: net.Socket;
  /** Read at accept: after a reset the socket no longer knows its peer, and the last frame still needs it. */
  peer: { address: string; port: number };
  framer: StreamFramer;
  seq: number;
  pending: number;
  chain: Promise<void>;
  open: boolean;
  paused: boolean;
  warnedTruncation: boolean;
  tls?: { authorized: boolean; peerSubject?: string };
}

/**
 * A TCP or TLS syslog listener.
 *
 * @example
 * const src = new TcpSource({ sourceId: 'syslog-tcp', port: 5514, sink, process, timezone: 'Asia/Shanghai' });
 * const { port } = await src.start();
 */
export class TcpSource {
  readonly metrics: SourceMetrics;
  private readonly o: TcpSourceOptions;
  private readonly logger: Logger;
  private readonly now: () => number;
  private server: net.Server | undefined;
  private readonly conns = new Set<Conn>();
  private counter = 0;
  private readonly transport: Transport;

  constructor(opts: TcpSourceOptions) {
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new RangeError('port must be 0..65535');
    this.o = opts;
    this.metrics = opts.metrics ?? newSourceMetrics(opts.sourceId);
    this.logger = opts.logger ?? silentLogger;
    this.now = opts.now ?? Date.now;
    this.transport = opts.tls !== undefined ? 'tls' : 'tcp';
  }

  /** Listens; resolves with the bound address (port 0 → an ephemeral port). */
  start(): Promise<{ address: string; port: number }> {
    const host = this.o.host ?? '0.0.0.0';
    let server: net.Server;
    if (this.o.tls !== undefined) {
      const t = this.o.tls;
      const ts = tls.createServer({
        key: t.key,
        cert: t.cert,
        ...(t.ca !== undefined ? { ca: t.ca } : {}),
        requestCert: t.requestClientCert === true,
        rejectUnauthorized: t.requestClientCert === true,
        minVersion: 'TLSv1.2',
      });
      ts.on('secureConnection', (s) => this.onConnection(s));
      ts.on('tlsClientError', (e) => {
        this.metrics.tlsFailures++;
        this.logger.warn({ sourceId: this.o.sourceId, errorCode: 'COL_ERR_TLS', err: e.message }, 'TLS handshake failed.');
      });
      server = ts;
    } else {
      server = net.createServer((s) => this.onConnection(s));
    }
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', (e) => reject(new CollectorError('COL_ERR_SOURCE_IO', `listen ${host}:${this.o.port} failed: ${e.message}`, { cause: e })));
      server.listen(this.o.port, host, () => {
        server.on('error', (e) => this.logger.error({ sourceId: this.o.sourceId, errorCode: 'COL_ERR_SOURCE_IO', err: e }, 'Listener error.'));
        const a = server.address() as net.AddressInfo;
        this.logger.info({ sourceId: this.o.sourceId, transport: this.transport, address: a.address, port: a.port }, 'Syslog stream source listening.');
        resolve({ address: a.address, port: a.port });
      });
    });
  }

  private onConnection(socket: net.Socket): void {
    const max = this.o.maxConnections ?? 1000;
    if (this.conns.size >= max) {
      this.metrics.drops.connection_limit++;
      this.logger.warn({ sourceId: this.o.sourceId, errorCode: 'COL_ERR_CONNECTION_LIMIT', peer: socket.remoteAddress }, 'Connection refused: limit reached.');
      socket.destroy();
      return;
    }
    this.metrics.connectionsOpen++;
    this.metrics.connectionsTotal++;
    const c: Conn = {
      id: `${this.now()}-${this.counter++}`,
      socket,
      peer: { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
      framer: new StreamFramer({
        maxMessageSize: this.o.maxMessageSize ?? 65536,
        onInvalid: () => {
          this.metrics.invalidFrames++;
        },
      }),
      seq: 0,
      pending: 0,
      chain: Promise.resolve(),
      open: true,
      paused: false,
      warnedTruncation: false,
    };
    if (socket instanceof tls.TLSSocket) {
      const cert = socket.getPeerCertificate();
      // The subject DN as "K=V, K=V" (ECS tls.client.subject); empty when no certificate was sent.
      const subject =
        cert?.subject !== undefined ? Object.entries(cert.subject).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`).join(', ') : '';
      c.tls = { authorized: socket.authorized, ...(subject !== '' ? { peerSubject: subject } : {}) };
    }
    this.conns.add(c);
    const idle = this.o.idleTimeoutMs ?? 600_000;
    if (idle > 0) {
      const onIdle = (): void => {
        // A connection we paused for back-pressure is quiet because of us: re-arm, don't cut it.
        if (c.paused || c.pending > 0) {
          socket.setTimeout(idle, onIdle);
          return;
        }
        this.metrics.connectionsIdleClosed++;
        socket.destroy();
      };
      socket.setTimeout(idle, onIdle);
    }
    socket.on('data', (chunk: Buffer) => this.onData(c, c.framer.push(chunk)));
    socket.on('end', () => this.onData(c, c.framer.end()));
    socket.on('error', (e) => this.logger.debug({ sourceId: this.o.sourceId, err: e.message }, 'Connection error.'));
    socket.on('close', () => {
      // A reset without FIN still delivers the bytes of a last, unterminated message.
      this.onData(c, c.framer.end());
      c.open = false;
      this.metrics.connectionsOpen--;
      this.conns.delete(c);
    });
  }

  private onData(c: Conn, frames: Frame[]): void {
    if (frames.length === 0) return;
    const receivedAt = this.now();
    const peer = c.peer;
    const events: EcsEvent[] = [];
    const defer = this.o.deferIds === true;
    // With deferred ids the messages of one read share one context (the id inputs that differ
    // per message, sequence and bytes, travel beside it).
    const shared: SourceContext = {
      sourceId: this.o.sourceId,
      transport: this.transport,
      peer,
      receivedAt,
      timezone: this.o.timezone,
      eventId: '',
      ...(c.tls !== undefined ? { tls: c.tls } : {}),
      ...(defer ? { connection: c.id } : {}),
    };
    for (const f of frames) {
      if (f.truncated && !c.warnedTruncation) {
        // Once per connection: a sender with oversized messages should not flood the log.
        c.warnedTruncation = true;
        this.logger.warn({ sourceId: this.o.sourceId, errorCode: 'COL_ERR_FRAME_TOO_LARGE', peer: peer.address, max: c.framer.maxMessageSize }, 'Message truncated at the maximum size.');
      }
      const seq = c.seq++;
      if (defer) {
        events.push(this.o.process(f.bytes, f.truncated ? { ...shared, truncated: true } : shared, seq));
        continue;
      }
      const id = eventId({ kind: 'network', sourceId: this.o.sourceId, peerAddress: peer.address, peerPort: peer.port, receivedAt, connection: c.id, seq, bytes: f.bytes });
      // An object literal, not a spread of `shared`: a spread copy was measured to make normalisation about twice as slow (bench/src/parse.ts).
      events.push(
        this.o.process(f.bytes, {
          sourceId: this.o.sourceId,
          transport: this.transport,
          peer,
          receivedAt,
          timezone: this.o.timezone,
          eventId: id,
          ...(c.tls !== undefined ? { tls: c.tls } : {}),
          ...(f.truncated ? { truncated: true } : {}),
        }),
      );
    }
    c.pending++;
    this.updatePause(c);
    // Appends of one connection are chained to keep its order.
    c.chain = c.chain.then(async () => {
      await waitWhileFull(this.o.sink, () => this.server !== undefined);
      await appendWithRetry(this.o.sink, events, this.metrics, this.logger, { alive: () => this.server !== undefined });
      c.pending--;
      this.updatePause(c);
    });
  }

  private updatePause(c: Conn): void {
    const shouldPause = c.pending > (this.o.appendWindow ?? 2) || (c.pending > 0 && this.o.sink.full);
    if (shouldPause && !c.paused) {
      c.paused = true;
      this.metrics.paused = 1;
      c.socket.pause();
    } else if (!shouldPause && c.paused) {
      c.paused = false;
      c.socket.resume();
      if (![...this.conns].some((x) => x.paused)) this.metrics.paused = 0;
    }
  }

  /**
   * Stops accepting, gives connections' pending batches `graceMs` to reach the sink, then
   * closes them; batches still waiting after that are counted as `drops.source_stopped`.
   */
  async stop(graceMs = 5000): Promise<void> {
    const s = this.server;
    if (s === undefined) return;
    const closed = new Promise<void>((r) => s.close(() => r()));
    const chains = [...this.conns].map((c) => c.chain);
    for (const c of this.conns) c.socket.end();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(chains), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    this.server = undefined;
    // With the source marked stopped the chains finish promptly, counting what they could not store.
    await Promise.allSettled([...this.conns].map((c) => c.chain).concat(chains));
    for (const c of this.conns) c.socket.destroy();
    await closed;
  }
}
