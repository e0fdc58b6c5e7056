/**
 * Record sources over the SQLite files of a data directory, for verification and proofs:
 * `events.db` (day tables `ev_YYYYMMDD` with their leaf index) and `audit.db`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parseCertificates, type X509Certificate } from '@xiangan/pki';
import { SocError } from '../errors.js';
import { checkpointsPath } from './checkpoints.js';
import { DigestPool, digestRange, digestRows, type DigestPoolOptions } from './digest.js';
import { dayLayout, idParams, idWhere } from '../storage/sqlite-schema.js';
import { identityFiles } from './identity.js';
import { sqliteLeafStore } from './leaves.js';
import type { RecordSource, VerifyOptions } from './verify.js';

/** Days that have an event table in an events database. */
function eventDays(db: Database.Database): string[] {
  const rows = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'ev_[0-9]*'").all() as Array<{ name: string }>;
  return rows
    .map((r) => /^ev_(\d{4})(\d{2})(\d{2})$/.exec(r.name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]}-${m[2]}-${m[3]}`)
    .sort();
}

/**
 * The `events` source over an events database (SQLite backend). Big days are hashed by `pool`
 * in parallel; without one, in the calling thread.
 * @example const src = sqliteEventSource(new Database('data/events.db', { readonly: true }));
 */
export function sqliteEventSource(db: Database.Database, pool?: DigestPool): RecordSource {
  const table = (day: string): string => {
    const t = `ev_${day.replaceAll('-', '')}`;
    if (!/^ev_\d{8}$/.test(t)) throw new RangeError(`not a day: ${day}`);
    return t;
  };
  return {
    stream: 'events',
    leaves: sqliteLeafStore(db),
    days: () => eventDays(db),
    digests: (day) => (pool ? pool.digest(table(day)) : digestRange(db, table(day), Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)),
    // Through the id index of the table's layout: keyed and bucketed day tables have none on id
    // itself (sqlite-schema.ts).
    document: (day, id) => {
      const t = table(day);
      const s = t.slice(3);
      const layout = dayLayout(db, s) ?? 'keyed';
      return (db.prepare(`SELECT doc FROM ${t} WHERE ${idWhere(s, layout)}`).pluck().get(...idParams(id, layout)) as string | undefined) ?? undefined;
    },
  };
}

/**
 * The `audit` source over an audit database.
 * @example const src = sqliteAuditSource(auditStore.database);
 */
export function sqliteAuditSource(db: Database.Database): RecordSource {
  return {
    stream: 'audit',
    leaves: sqliteLeafStore(db),
    days: () => (db.prepare('SELECT DISTINCT day FROM audit ORDER BY day').all() as Array<{ day: string }>).map((r) => r.day),
    digests: (day) => digestRows(db.prepare('SELECT id, CAST(doc AS BLOB) FROM audit WHERE day = ? ORDER BY seq').raw().iterate(day) as IterableIterator<[string, Buffer]>),
    document: (day, id) => (db.prepare('SELECT doc FROM audit WHERE day = ? AND id = ?').pluck().get(day, id) as string | undefined) ?? undefined,
  };
}

/** Everything needed to verify or prove from a data directory, opened read-only. */
export interface OpenedIntegrity extends VerifyOptions {
  /** Close the databases. */
  close(): void;
}

/**
 * Open the checkpoint, event and audit databases of a data directory read-only, and the signing
 * certificate with its chain (no passphrase needed: verification uses only public material).
 * Events stored in a search engine come in as `opts.events`.
 * @example const o = openIntegrity('./data'); const report = await verifyIntegrity(o); o.close();
 */
export function openIntegrity(
  dir: string,
  opts: {
    from?: string;
    to?: string;
    trustAnchors?: X509Certificate[];
    /** The `events` source when events are not in `<dir>/events.db` (an engine: `engineEventSource`). */
    events?: RecordSource;
  } & DigestPoolOptions = {},
): OpenedIntegrity {
  const f = identityFiles(dir);
  const dbs: Database.Database[] = [];
  let pool: DigestPool | undefined;
  const open = (p: string): Database.Database => {
    const db = new Database(p, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    dbs.push(db);
    return db;
  };
  try {
    if (!existsSync(f.cert)) throw new Error(`no signing certificate at ${f.cert} (was the SOC started with integrity on?)`);
    const [certificate] = parseCertificates(readFileSync(f.cert, 'utf8'));
    if (!certificate) throw new Error(`${f.cert} holds no certificate`);
    const chain = existsSync(f.chain) ? parseCertificates(readFileSync(f.chain, 'utf8')) : [];
    const checkpoints = open(checkpointsPath(dir));
    const sources: RecordSource[] = [];
    const eventsPath = join(dir, 'events.db');
    if (opts.events) sources.push(opts.events);
    else if (existsSync(eventsPath)) {
      const db = open(eventsPath);
      pool = new DigestPool(eventsPath, db, opts);
      sources.push(sqliteEventSource(db, pool));
    }
    if (existsSync(join(dir, 'audit.db'))) sources.push(sqliteAuditSource(open(join(dir, 'audit.db'))));
    return {
      checkpoints,
      sources,
      certificate,
      chain,
      ...(opts.trustAnchors ? { trustAnchors: opts.trustAnchors } : {}),
      ...(opts.from ? { from: opts.from } : {}),
      ...(opts.to ? { to: opts.to } : {}),
      close: () => {
        void pool?.close();
        for (const d of dbs) d.close();
      },
    };
  } catch (e) {
    for (const d of dbs) d.close();
    throw new SocError('SOC_ERR_INTEGRITY', `cannot open the integrity data in ${dir}: ${(e as Error).message}`, { cause: e });
  }
}
