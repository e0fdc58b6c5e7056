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
import { leafDays, readLeaves } from './leaves.js';
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

/** Where the checkpointer reads leaves of one stream. */
export interface LeafSource {
  stream: string;
  db: Database.Database;
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
 * @example
 * const cp = new Checkpointer({ dir, identity, sources: [{ stream: 'events', db: eventsDb }] });
 * cp.run();                       // sign what is new
 * const timer = cp.start(60_000); // and every minute
 */
export class Checkpointer {
  readonly db: Database.Database;
  private readonly now: () => number;
  private readonly frontiers = new Map<string, MerkleFrontier>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: CheckpointerOptions) {
    this.now = opts.now ?? Date.now;
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
   * Checkpoint every day whose leaves grew since its last checkpoint, and close days that have
   * ended (a `final` checkpoint). Returns the checkpoints made.
   */
  run(): Checkpoint[] {
    const made: Checkpoint[] = [];
    const today = new Date(this.now()).toISOString().slice(0, 10);
    for (const src of this.opts.sources) {
      for (const day of leafDays(src.db)) {
        const last = this.latest(src.stream, day);
        if (last?.body.type === 'deletion') continue;
        const f = this.extend(src, day, last);
        const final = day < today;
        if (last && f.size === last.body.size && (last.body.final || !final)) continue;
        if (f.size === 0) continue;
        made.push(this.append({ type: 'checkpoint', stream: src.stream, day, size: f.size, root: bytesToHex(f.root()), final }));
      }
    }
    return made;
  }

  /** Bring the cached tree of a day up to the leaves committed now, checking it against the last checkpoint. */
  private extend(src: LeafSource, day: string, last: Checkpoint | undefined): MerkleFrontier {
    const key = `${src.stream}/${day}`;
    let f = this.frontiers.get(key);
    const fresh = !f;
    if (!f) {
      f = new MerkleFrontier();
      this.frontiers.set(key, f);
    }
    for (const leaf of readLeaves(src.db, day, f.size)) {
      f.push(leaf.hash);
      // After a restart the tree is rebuilt from the database: never sign over leaves that no
      // longer match what was signed before (they were edited while the SOC was down).
      if (fresh && last && f.size === last.body.size && !equalBytes(f.root(), hexToBytes(last.body.root))) {
        this.frontiers.delete(key);
        throw new SocError('SOC_ERR_INTEGRITY', `leaf index of ${src.stream} ${day} does not match checkpoint ${last.body.seq}; run xiangan audit verify`);
      }
    }
    return f;
  }

  /**
   * Sign deletion records for days that retention is about to drop (call before dropping; a
   * crash in between leaves a deletion record for data still there, which verification reports
   * as pending expiry, and the next retention run drops it). The day is checkpointed first.
   */
  expire(stream: string, days: readonly string[]): Checkpoint[] {
    this.run();
    const out: Checkpoint[] = [];
    for (const day of days) {
      const last = this.latest(stream, day);
      if (last?.body.type === 'deletion') continue;
      out.push(this.append({ type: 'deletion', stream, day, size: last?.body.size ?? 0, root: last?.body.root ?? '', final: true }));
      this.frontiers.delete(`${stream}/${day}`);
    }
    return out;
  }

  /** Run every `intervalMs` (unref'd timer); errors go to `onError`. */
  start(intervalMs: number, onError: (e: unknown) => void = () => undefined): void {
    if (!Number.isInteger(intervalMs) || intervalMs < 1000) throw new RangeError('checkpoint interval must be at least 1000 ms');
    this.timer = setInterval(() => {
      try {
        this.run();
      } catch (e) {
        onError(e);
      }
    }, intervalMs);
    this.timer.unref();
  }

  /** Stop the timer, make a last checkpoint and close the database. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    try {
      this.run();
    } finally {
      this.db.close();
    }
  }
}
