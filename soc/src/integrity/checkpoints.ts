/**
 * Signed checkpoints: at a fixed interval and at each day's end the checkpointer fixes, for every
 * chained stream (`events`, `audit`) and day, the RFC 6962 Merkle root over the day's leaves so
 * far, and signs it with the SOC's SM2 key (SM2 with SM3, DER signature, default ID
 * 1234567812345678, GB/T 32918.2-2016 / GM/T 0009-2012). Each checkpoint names the SM3 hash of
 * the one before it (`prev`) and carries a sequence number, so removing or reordering
 * checkpoints breaks the chain. Retention first signs a deletion record for each day it drops,
 * so lawful expiry is told apart from deletion.
 *
 * Checkpoints live in their own SQLite file (`<data>/integrity/checkpoints.db`), apart from the
 * events, and export as JSON with the certificate chain.
 *
 * Crash consistency: leaves commit with their records (see `leaves.ts`); a checkpoint only ever
 * covers leaves already committed, and is written in one transaction with its sequence number, so
 * a crash loses at most the checkpoint being made — the next run makes it again over the same or
 * more leaves. Records committed after the last checkpoint are "unanchored" until the next one.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { bytesToHex, hexToBytes, sm2Sign, sm3, utf8ToBytes } from '@xiangan/crypto';
import { SocError } from '../errors.js';
import { canonicalJson } from './canonical.js';
import type { SigningIdentity } from './identity.js';
import { sqliteLeafStore, type DayLeaves, type LeafStore } from './leaves.js';
import { equalBytes, MerkleFrontier } from './merkle.js';

/** What a checkpoint says (the signed bytes are its RFC 8785 canonical JSON). */
export interface CheckpointBody {
  v: 1;
  /** 1, 2, 3, … without gaps. */
  seq: number;
  /** Hex SM3 of the previous checkpoint's signed bytes; `''` for the first. */
  prev: string;
  /** `checkpoint`: a root over a day's leaves; `deletion`: the day was expired by retention. */
  type: 'checkpoint' | 'deletion';
  /** Which chained store: `events` or `audit`. */
  stream: string;
  /** UTC day `YYYY-MM-DD`. */
  day: string;
  /** Leaves covered (records of the day, in commit order). */
  size: number;
  /** Hex RFC 6962 root (SM3) over the first `size` leaves. */
  root: string;
  /** Time range the day covers (ISO 8601, `[from, to)`). */
  from: string;
  to: string;
  /** The day had ended when this was signed (a day-end checkpoint). */
  final: boolean;
  /** When it was signed (ISO 8601). */
  time: string;
}

/** A stored checkpoint. */
export interface Checkpoint {
  body: CheckpointBody;
  /** The exact signed bytes (canonical JSON text). */
  signed: string;
  /** DER SM2 signature over `signed`. */
  signature: Uint8Array;
}

/**
 * Where the checkpointer reads leaves of one stream: a SQLite database with `il_YYYYMMDD` tables
 * (`db`), or any {@link LeafStore} (`leaves`, e.g. a search engine's integrity index).
 */
export type LeafSource = { stream: string; db: Database.Database } | { stream: string; leaves: LeafStore };

/** The leaf store of a source. */
function storeOf(src: LeafSource): LeafStore {
  return 'leaves' in src ? src.leaves : sqliteLeafStore(src.db);
}

/** A value, or a promise of it when it comes from a remote store (see {@link Checkpointer}). */
type Maybe<T> = T | Promise<T>;
const isPromise = <T>(v: Maybe<T>): v is Promise<T> => typeof (v as { then?: unknown } | undefined)?.then === 'function';
/** `f(v)`, after `v` settles only if it is a promise: synchronous sources stay synchronous. */
const then = <T, U>(v: Maybe<T>, f: (t: T) => Maybe<U>): Maybe<U> => (isPromise(v) ? v.then(f) : f(v));
/** `fn` over `items` in order, waiting only for the calls that return a promise. */
function eachInOrder<T>(items: readonly T[], fn: (t: T) => Maybe<void>, from = 0): Maybe<void> {
  for (let i = from; i < items.length; i++) {
    const r = fn(items[i]!);
    if (isPromise(r)) return r.then(() => eachInOrder(items, fn, i + 1));
  }
}

/** Path of the checkpoint database under a data directory. */
export function checkpointsPath(dir: string): string {
  return join(dir, 'integrity', 'checkpoints.db');
}

/** Parse a stored row; `undefined` when it is not a well-formed checkpoint. */
export function parseCheckpoint(signed: string, signature: Uint8Array): Checkpoint | undefined {
  try {
    const body = JSON.parse(signed) as CheckpointBody;
    if (body?.v !== 1 || !Number.isInteger(body.seq) || typeof body.day !== 'string' || typeof body.root !== 'string') return undefined;
    return { body, signed, signature };
  } catch {
    return undefined;
  }
}

/** Hex SM3 of a checkpoint's signed bytes: what the next one names as `prev`. */
export function checkpointHash(c: Checkpoint): string {
  return bytesToHex(sm3(utf8ToBytes(c.signed)));
}

/**
 * Read every checkpoint of a checkpoint database in sequence order (rows that do not parse are
 * returned with `body` undefined so verification can report them).
 * @example readCheckpoints(db).filter((c) => c.checkpoint)
 */
export function readCheckpoints(db: Database.Database): Array<{ seq: number; checkpoint: Checkpoint | undefined }> {
  const rows = db.prepare('SELECT seq, body, sig FROM checkpoints ORDER BY seq').all() as Array<{ seq: number; body: string; sig: Buffer }>;
  return rows.map((r) => ({ seq: r.seq, checkpoint: parseCheckpoint(r.body, new Uint8Array(r.sig)) }));
}

const DAY_MS = 86_400_000;

/** Options of {@link Checkpointer}. */
export interface CheckpointerOptions {
  /** Data directory (the checkpoint database is `<dir>/integrity/checkpoints.db`). */
  dir: string;
  identity: SigningIdentity;
  /** Streams to checkpoint. */
  sources: LeafSource[];
  now?: () => number;
}

/**
 * Makes and stores checkpoints.
 *
 * `run`, `expire` and `close` are asynchronous because a leaf store may be remote (a search
 * engine). Over SQLite sources only, they never wait: the work is done when the promise is
 * returned. Calls are serialised (one run at a time), since each extends cached trees.
 *
 * @example
 * const cp = new Checkpointer({ dir, identity, sources: [{ stream: 'events', db: eventsDb }] });
 * await cp.run();                 // sign what is new
 * cp.start(60_000);               // and every minute
 */
export class Checkpointer {
  readonly db: Database.Database;
  private readonly now: () => number;
  private readonly sources: Array<{ stream: string; store: LeafStore }>;
  private readonly frontiers = new Map<string, MerkleFrontier>();
  private timer: NodeJS.Timeout | undefined;
  /** The run in progress, if it is waiting on a remote store. */
  private busy: Promise<unknown> | undefined;

  constructor(private readonly opts: CheckpointerOptions) {
    this.now = opts.now ?? Date.now;
    this.sources = opts.sources.map((src) => ({ stream: src.stream, store: storeOf(src) }));
    try {
      mkdirSync(join(opts.dir, 'integrity'), { recursive: true, mode: 0o700 });
      this.db = new Database(checkpointsPath(opts.dir));
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(
        'CREATE TABLE IF NOT EXISTS checkpoints (seq INTEGER PRIMARY KEY, stream TEXT NOT NULL, day TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL, sig BLOB NOT NULL)',
      );
      this.db.exec('CREATE INDEX IF NOT EXISTS checkpoints_day ON checkpoints (stream, day, seq)');
    } catch (e) {
      throw new SocError('SOC_ERR_INTEGRITY', `cannot open the checkpoint database: ${(e as Error).message}`, { cause: e });
    }
  }

  /** The latest checkpoint of a stream's day, of either type. */
  latest(stream: string, day: string): Checkpoint | undefined {
    const r = this.db.prepare('SELECT body, sig FROM checkpoints WHERE stream = ? AND day = ? ORDER BY seq DESC LIMIT 1').get(stream, day) as
      | { body: string; sig: Buffer }
      | undefined;
    return r ? parseCheckpoint(r.body, new Uint8Array(r.sig)) : undefined;
  }

  private append(fields: Omit<CheckpointBody, 'v' | 'seq' | 'prev' | 'time' | 'from' | 'to'>): Checkpoint {
    const write = this.db.transaction((): Checkpoint => {
      const last = this.db.prepare('SELECT body, sig FROM checkpoints ORDER BY seq DESC LIMIT 1').get() as { body: string; sig: Buffer } | undefined;
      const prevCp = last ? parseCheckpoint(last.body, new Uint8Array(last.sig)) : undefined;
      if (last && !prevCp) throw new SocError('SOC_ERR_INTEGRITY', 'the last checkpoint does not parse; refusing to extend the chain');
      const start = Date.parse(`${fields.day}T00:00:00Z`);
      const body: CheckpointBody = {
        v: 1,
        seq: prevCp ? prevCp.body.seq + 1 : 1,
        prev: prevCp ? checkpointHash(prevCp) : '',
        ...fields,
        from: new Date(start).toISOString(),
        to: new Date(start + DAY_MS).toISOString(),
        time: new Date(this.now()).toISOString(),
      };
      const signed = canonicalJson(body);
      // GB/T 32918.2-2016 §6.1 with Z over the default ID (GM/T 0009-2012 §10); DER r, s.
      const signature = sm2Sign(this.opts.identity.key, utf8ToBytes(signed));
      this.db
        .prepare('INSERT INTO checkpoints (seq, stream, day, type, body, sig) VALUES (?, ?, ?, ?, ?, ?)')
        .run(body.seq, body.stream, body.day, body.type, signed, signature);
      return { body, signed, signature };
    });
    return write.immediate();
  }

  /**
   * Run `fn` after the run in progress, if one is waiting on a remote store; otherwise at once,
   * and when `fn` completes synchronously nothing is left pending.
   */
  private exclusive<T>(fn: () => Maybe<T>): Promise<T> {
    if (this.busy) {
      const next = (): Promise<T> => this.exclusive(fn);
      return this.busy.then(next, next);
    }
    let r: Maybe<T>;
    try {
      r = fn();
    } catch (e) {
      return Promise.reject(e);
    }
    if (!isPromise(r)) return Promise.resolve(r);
    const tracked: Promise<unknown> = r.then(
      () => undefined,
      () => undefined,
    );
    this.busy = tracked;
    void tracked.then(() => {
      if (this.busy === tracked) this.busy = undefined;
    });
    return r;
  }

  /**
   * Checkpoint every day whose leaves grew since its last checkpoint, and close days that have
   * ended (a `final` checkpoint). Resolves with the checkpoints made.
   */
  run(): Promise<Checkpoint[]> {
    return this.exclusive(() => this.runNow());
  }

  private runNow(): Maybe<Checkpoint[]> {
    const made: Checkpoint[] = [];
    const today = new Date(this.now()).toISOString().slice(0, 10);
    const done = eachInOrder(this.sources, (src) =>
      then(src.store.days(), (days) =>
        eachInOrder(days, (day) => {
          const last = this.latest(src.stream, day);
          if (last?.body.type === 'deletion') return;
          return then(this.extend(src, day, last), (f) => {
            const final = day < today;
            if (last && f.size === last.body.size && (last.body.final || !final)) return;
            if (f.size === 0) return;
            made.push(this.append({ type: 'checkpoint', stream: src.stream, day, size: f.size, root: bytesToHex(f.root()), final }));
          });
        }),
      ),
    );
    return then(done, () => made);
  }

  /** Bring the cached tree of a day up to the leaves committed now, checking it against the last checkpoint. */
  private extend(src: { stream: string; store: LeafStore }, day: string, last: Checkpoint | undefined): Maybe<MerkleFrontier> {
    const key = `${src.stream}/${day}`;
    let f = this.frontiers.get(key);
    const fresh = !f;
    if (!f) {
      f = new MerkleFrontier();
      this.frontiers.set(key, f);
    }
    const tree = f;
    const push = (leaves: DayLeaves): MerkleFrontier => {
      // Leaves read while another run extended the tree are skipped, never pushed twice.
      for (let i = tree.size - leaves.from; i < leaves.ids.length; i++) {
        tree.push(leaves.hashes.subarray(32 * i, 32 * i + 32));
        // After a restart the tree is rebuilt from the database: never sign over leaves that no
        // longer match what was signed before (they were edited while the SOC was down).
        if (fresh && last && tree.size === last.body.size && !equalBytes(tree.root(), hexToBytes(last.body.root))) {
          this.frontiers.delete(key);
          throw new SocError('SOC_ERR_INTEGRITY', `leaf index of ${src.stream} ${day} does not match checkpoint ${last.body.seq}; run xiangan audit verify`);
        }
      }
      return tree;
    };
    const read = src.store.read(day, tree.size);
    return isPromise(read) ? read.then(push) : push(read);
  }

  /**
   * Sign deletion records for days that retention is about to drop (call before dropping; a
   * crash in between leaves a deletion record for data still there, which verification reports
   * as pending expiry, and the next retention run drops it). The day is checkpointed first.
   */
  expire(stream: string, days: readonly string[]): Promise<Checkpoint[]> {
    return this.exclusive(() =>
      then(this.runNow(), () => {
        const out: Checkpoint[] = [];
        for (const day of days) {
          const last = this.latest(stream, day);
          if (last?.body.type === 'deletion') continue;
          out.push(this.append({ type: 'deletion', stream, day, size: last?.body.size ?? 0, root: last?.body.root ?? '', final: true }));
          this.frontiers.delete(`${stream}/${day}`);
        }
        return out;
      }),
    );
  }

  /** Run every `intervalMs` (unref'd timer); errors go to `onError`. */
  start(intervalMs: number, onError: (e: unknown) => void = () => undefined): void {
    if (!Number.isInteger(intervalMs) || intervalMs < 1000) throw new RangeError('checkpoint interval must be at least 1000 ms');
    this.timer = setInterval(() => {
      this.run().catch(onError);
    }, intervalMs);
    this.timer.unref();
  }

  /** Stop the timer, make a last checkpoint and close the database (also when that fails). */
  close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const shut = (): void => {
      if (this.db.open) this.db.close();
    };
    return this.exclusive(() => {
      let r: Maybe<Checkpoint[]>;
      try {
        r = this.runNow();
      } catch (e) {
        shut();
        throw e;
      }
      if (!isPromise(r)) return shut();
      return r.then(shut, (e: unknown) => {
        shut();
        throw e;
      });
    });
  }
}
