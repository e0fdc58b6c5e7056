/**
 * `GET /api/v1/stream`: Server-Sent Events (WHATWG HTML §9.2) of new alerts and per-second event
 * counts from the {@link EventBus}. A client that reconnects with `Last-Event-ID` (EventSource does
 * so by itself) first gets every message it missed from the bus's ring, then the live ones; replay
 * and subscription happen in one synchronous step, so nothing published in between is lost. A
 * client too slow to keep up (more than {@link MAX_BACKLOG} bytes unsent) is disconnected and
 * resumes from its last id instead of holding the server's memory.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { BusMessage, EventBus } from '../bus.js';
import { SocError } from '../errors.js';
import { ERRORS } from './schemas.js';

/** Unsent bytes after which a client is cut off (it resumes with `Last-Event-ID`). */
export const MAX_BACKLOG = 4 * 1024 * 1024;
const HEARTBEAT_MS = 15_000;
const MAX_CLIENTS = 1000;

const StreamQuery = Type.Object({ lastEventId: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false });

/** Options of {@link streamRoutes}. */
export interface StreamRoutesOptions {
  bus: EventBus;
  /** Monotone count of stored events; when given, `counts` is published every second. */
  countEvents?: () => number;
  /**
   * Re-checked at every heartbeat: a stream whose session timed out or whose token was revoked
   * is ended (the idle timeout is not bypassed by leaving a console open).
   */
  stillValid?: (req: FastifyRequest) => boolean;
  /** Heartbeat and re-check interval (default 15 s). */
  heartbeatMs?: number;
}

const frames = new WeakMap<BusMessage, string>();

/** One SSE frame, serialised once per message however many clients receive it. */
export function sseFrame(m: BusMessage): string {
  let f = frames.get(m);
  if (f === undefined) {
    // Data is JSON on one line, so no `data:` continuation lines are needed (§9.2.6).
    f = `id: ${m.id}\nevent: ${m.type}\ndata: ${JSON.stringify(m.data)}\n\n`;
    frames.set(m, f);
  }
  return f;
}

/**
 * The live-stream route and the once-a-second `counts` publisher.
 *
 * @example
 * await app.register(streamRoutes, { bus: socBus, countEvents: () => stored });
 */
export async function streamRoutes(app: FastifyInstance, o: StreamRoutesOptions): Promise<void> {
  const { bus } = o;
  const clients = new Set<ServerResponse>();

  if (o.countEvents) {
    const count = o.countEvents;
    let last = count();
    const timer = setInterval(() => {
      const n = count();
      bus.publish('counts', { t: new Date().toISOString(), events: Math.max(0, n - last) });
      last = n;
    }, 1000);
    timer.unref();
    app.addHook('onClose', async () => clearInterval(timer));
  }
  app.addHook('preClose', async () => {
    for (const c of clients) c.end();
  });

  app.get<{ Querystring: Static<typeof StreamQuery> }>(
    '/api/v1/stream',
    {
      config: { permission: 'stream:read' },
      schema: {
        tags: ['stream'],
        querystring: StreamQuery,
        response: { 200: Type.String({ description: 'text/event-stream: events alert, counts, reset' }), ...ERRORS },
      },
    },
    async (req, reply) => {
      if (clients.size >= MAX_CLIENTS) {
        throw new SocError('SOC_ERR_UNAVAILABLE', 'too many live-stream clients');
      }
      const header = req.headers['last-event-id'];
      const lastId = (Array.isArray(header) ? header[0] : header) ?? req.query.lastEventId;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-store, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      clients.add(res);
      let off: () => void = () => undefined;
      // Frames published in one turn of the event loop go out in one write (one syscall per
      // client per turn instead of one per message).
      let pending = '';
      const flush = (): void => {
        const s = pending;
        pending = '';
        if (res.writableEnded || s === '') return;
        res.write(s);
        if (res.writableLength > MAX_BACKLOG) res.end();
      };
      const send = (s: string): void => {
        if (pending === '') setImmediate(flush);
        pending += s;
      };
      res.write(`retry: 2000\n: ${bus.lastId}\n\n`);
      if (lastId !== undefined && lastId !== '') {
        const missed = bus.since(lastId);
        if (missed === undefined) send(`id: ${bus.lastId}\nevent: reset\ndata: {}\n\n`);
        else for (const m of missed) send(sseFrame(m));
      }
      off = bus.subscribe((m) => send(sseFrame(m)));
      const beat = setInterval(() => {
        if (o.stillValid && !o.stillValid(req)) {
          flush();
          res.end();
          return;
        }
        send(': keep-alive\n\n');
      }, o.heartbeatMs ?? HEARTBEAT_MS);
      beat.unref();
      const done = (): void => {
        off();
        clearInterval(beat);
        clients.delete(res);
      };
      res.on('close', done);
      req.raw.on('close', () => {
        if (!res.writableEnded) res.end();
      });
    },
  );
}
