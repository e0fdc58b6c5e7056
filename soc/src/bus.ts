/**
 * The in-process event bus behind the live stream: the alert store (new and changed alerts) and
 * the pipeline (event counts) publish, `GET /api/v1/stream` fans out. Every message gets an id
 * `<boot>-<seq>`; the last `ringSize` messages are kept so a client that reconnects with
 * `Last-Event-ID` gets exactly what it missed (WHATWG HTML §9.2 server-sent events), or a
 * `reset` when its id is older than the ring or from an earlier process.
 */
import { randomBytes } from 'node:crypto';

/** One published message. */
export interface BusMessage {
  /** `<boot>-<seq>`, increasing within a process. */
  id: string;
  /** SSE event name: `alert`, `counts`, … */
  type: string;
  data: unknown;
}

/** A subscriber callback. */
export type BusListener = (m: BusMessage) => void;

/**
 * A bounded publish/subscribe ring.
 *
 * @example
 * const bus = new EventBus(1000);
 * const off = bus.subscribe((m) => send(m));
 * bus.publish('alert', alert);
 * bus.since(lastId); // messages after lastId, or undefined when the gap cannot be filled
 * off();
 */
export class EventBus {
  /** Identifies this process's id space. */
  readonly boot = randomBytes(4).toString('hex');
  private readonly ring: BusMessage[] = [];
  private head = 0;
  private seq = 0;
  private readonly listeners = new Set<BusListener>();

  constructor(readonly ringSize = 10_000) {
    if (!Number.isInteger(ringSize) || ringSize < 1) throw new RangeError('EventBus: ringSize must be a positive integer');
  }

  /** Publish; listeners run synchronously and a throwing listener does not stop the others. */
  publish(type: string, data: unknown): BusMessage {
    if (typeof type !== 'string' || !/^[a-z][a-z0-9_.-]*$/.test(type)) throw new TypeError('EventBus.publish: type must be a lower-case word');
    const m: BusMessage = { id: `${this.boot}-${++this.seq}`, type, data };
    if (this.ring.length < this.ringSize) this.ring.push(m);
    else {
      this.ring[this.head] = m;
      this.head = (this.head + 1) % this.ringSize;
    }
    for (const l of this.listeners) {
      try {
        l(m);
      } catch {
        this.listeners.delete(l);
      }
    }
    return m;
  }

  /** Subscribe; returns the unsubscribe function. */
  subscribe(l: BusListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Number of subscribers. */
  get subscribers(): number {
    return this.listeners.size;
  }

  /** The id of the newest message (`<boot>-0` before any). */
  get lastId(): string {
    return `${this.boot}-${this.seq}`;
  }

  /**
   * Messages after `lastId`, oldest first; `undefined` when `lastId` is not from this process or
   * older than the ring (the client must reload instead of resuming).
   */
  since(lastId: string): BusMessage[] | undefined {
    const m = /^([0-9a-f]{8})-(\d{1,15})$/.exec(lastId);
    if (!m || m[1] !== this.boot) return undefined;
    const after = Number(m[2]);
    if (after > this.seq) return undefined;
    const oldest = this.seq - this.ring.length + 1;
    if (after + 1 < oldest) return undefined;
    const out: BusMessage[] = [];
    for (let s = after + 1; s <= this.seq; s++) out.push(this.ring[(this.head + (s - oldest)) % this.ring.length]!);
    return out;
  }
}

/**
 * The process-wide bus. The alert store publishes `alert` (the alert JSON) for new and changed
 * alerts; the server publishes `counts` once a second.
 *
 * @example
 * import { socBus } from '@xiangan/soc';
 * socBus.publish('alert', alert);
 */
export const socBus = new EventBus();
