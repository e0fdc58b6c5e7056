/**
 * The embedded default {@link EventStore}: one SQLite database (better-sqlite3, WAL) with a table
 * per UTC day (`ev_YYYYMMDD`), its FTS5 index over `message` (`fts_YYYYMMDD`) and a catalog of
 * days with event counts. Retention drops whole day tables, which frees their pages without
 * touching a row of any other day (`DELETE … WHERE day < ?` would rewrite every index).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EcsEvent } from '@xiangan/collectors';
import { SocError } from '../errors.js';
import { LeafWriter, leafTable } from '../integrity/leaves.js';
import { bytesToIp } from '../query/parse.js';
import { compileQuery, jsonPath } from './sqlite-query.js';
import { FTS_STRUCTURE_ROWID, ftsMergePages, newDayFtsConfig } from './sqlite-fts.js';
import { COLUMN_BY_FIELD, COLUMNS, dayLayout, dayTableDdl, daySuffix, ID_BUCKET_SHIFT, ID_BUCKET_SQL, ID_KEY_CHARS, ID_KEY_SQL, IdKeyFilter, idKey, idParams, idWhere, ipKey, keyBytes, ROWS_PER_INSERT, type DayLayout } from './sqlite-schema.js';
import { eventColumns, preparedDocs, type PreparedColumns } from '../pipeline/prepare.js';
import { PackedReader, type PackedTexts } from '../buffer/json-bytes.js';
import type {
  DeleteResult,
  EventStore,
  FacetBucket,
  SearchRequest,
  SearchResult,
  StoreStats,
  WriteResult,
} from './types.js';

/** The documents of one write, in order: strings, or views of their UTF-8 bytes ({@link docViews}). */
interface RowDocs {
  readonly length: number;
  at(i: number): string | Buffer | undefined;
}

/**
 * The documents of a prepared step's {@link PackedTexts} (one, or a step's chunks in order) as the
 * UTF-8 bytes of each: bound as they are, where a string made of them was encoded back to UTF-8 by
 * better-sqlite3 and left as young garbage. The bytes are those of well-formed JSON text
 * (`JsonBytes`), so UTF-8 either way (`ascii`: the same bytes as Latin-1).
 */
function docViews(p: PackedTexts | readonly PackedTexts[]): RowDocs {
  const r = new PackedReader(p);
  return { length: r.length, at: (i) => r.bytesAt(i) };
}

/** Options of {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /** Directory of the database (`events.db` inside it); created if missing. */
  dir: string;
  /**
   * `full` (default) fsyncs the WAL at every commit, so a stored batch survives power loss and the
   * buffer may forget it right after; `normal` survives a process crash (kill -9) but may lose the
   * last commits on power loss (SQLite WAL §"synchronous").
   */
  synchronous?: 'normal' | 'full';
  /** Open without write access (the CLI searching next to a running server). */
  readonly?: boolean;
  /** Page cache size in MiB; default 64. */
  cacheMb?: number;
  /**
   * Memory-mapped I/O size in MiB (`PRAGMA mmap_size`): reads of pages already in the OS cache
   * skip a copy. Default 0 (off).
   */
  mmapMb?: number;
  /** Clock for events whose `@timestamp` does not parse (they are stored at write time, never dropped). */
  now?: () => number;
  /**
   * Tamper evidence (`../integrity`): append each stored document's SM3 leaf hash (over the
   * document text exactly as stored) to the day's leaf index in the same transaction. Default off.
   */
  chain?: boolean;
  /**
   * Let SQLite checkpoint the WAL inside the commit that fills it past 1,000 pages (its default,
   * SQLite "Write-Ahead Logging" §6); default true. A writer that turns it off calls
   * {@link SqliteEventStore.checkpoint} itself, after it has answered for the commit.
   */
  autoCheckpoint?: boolean;
  /**
   * Cut the WAL file back to this many frames when it starts over (`PRAGMA journal_size_limit`);
   * default: it keeps its largest size. For a writer whose WAL may outgrow its usual length (the
   * store worker's, while another connection checkpoints).
   */
  walLimitFrames?: number;
  /**
   * Layout of the day tables this store creates (existing ones keep theirs); default `bucketed-id`.
   * `bucketed`, `keyed` and `id-unique` make them as before: for comparing the layouts
   * (bench:store, tests).
   */
  layout?: DayLayout;
  /** Rows per INSERT on bucketed-id day tables; default {@link ROWS_PER_INSERT} (other values: for measuring). */
  rowsPerInsert?: number;
}

const SCHEMA_VERSION = 1;
/**
 * Days whose id-key filter ({@link IdKeyFilter}) a store keeps (2 MiB per 1M events each): today,
 * yesterday's late events and a little more; a day written again after that rebuilds its filter
 * from its index (~0.6 s at 1M rows).
 */
const MAX_ID_FILTERS = 3;
const MAX_PAGE = 10_000;
const DAY_MS = 86_400_000;
/**
 * Page size of a new database: 16 KiB pages hold four times the rows and index entries of the
 * 4 KiB default, so a batch dirties (and the WAL carries) fewer pages; measured ~25 % less CPU per
 * inserted event than 4 KiB. Only takes effect before the first table exists.
 */
const PAGE_SIZE = 16_384;

interface DayStatements {
  /** Inserts one row; on `id-unique` tables, unless its id is stored already (`changes` 0). */
  insert: Database.Statement;
  /** Bucketed-id tables: inserts {@link SqliteEventStore.rowsPerInsert} rows. */
  many: Database.Statement | undefined;
  /**
   * On keyed tables: which ids of a JSON array of ids are stored (their positions in the array),
   * asked once per write and day before its inserts, each through the id key's index. A separate
   * statement: an INSERT … SELECT that reads its own table (`WHERE NOT EXISTS`) first copies the
   * selected row into a temporary table (SQLite "INSERT", the SELECT form), measured slower.
   * On bucketed tables the same, in the buckets of a second JSON array, and only for the ids
   * the day's {@link IdKeyFilter} cannot rule out.
   */
  has: Database.Statement | undefined;
  /** Bucketed tables: the id keys (bucketed-id: the ids) of the rows after a rowid (from the id index alone). */
  keysAfter: Database.Statement | undefined;
  /** Highest rowid of the day table (its rightmost B-tree entry, so a cheap read). */
  maxRowid: Database.Statement;
  /** Index the messages of the rows after a rowid in the day's FTS5 table. */
  ftsAfter: Database.Statement;
  /**
   * FTS5 indexes with `automerge` 0 (new days, ./sqlite-fts.ts): their structure record, and a
   * merge of a number of pages. Indexes made before merge by their own `automerge`.
   */
  ftsMerge: { structure: Database.Statement; merge: Database.Statement } | undefined;
}

/** A day table one write touches. */
interface Touched {
  day: string;
  st: DayStatements;
  /** The table's highest rowid before this write. */
  before: number;
  /** Rows this write added. */
  rows: number;
  /** Keyed tables: the positions in the write of this day's events. */
  at: number[] | undefined;
  /** Keyed tables: the ids this write added. */
  seen: Set<string> | undefined;
  /** Bucketed tables: the day's id-key filter. */
  filter: IdKeyFilter | undefined;
  /**
   * The arguments of the day's next INSERT: one row's, or on bucketed-id tables those of up to
   * `st.many`'s rows, `fill` of them set.
   */
  args: Array<string | number | Buffer | null>;
  fill: number;
}

/** Values of one row: id, the COLUMNS values (time in its place), message, doc. */
const ROW_WIDTH = COLUMNS.length + 3;

/**
 * Open (or create) the SQLite event store in `opts.dir`.
 *
 * @example
 * ```ts
 * const store = await openSqliteStore({ dir: './data' });
 * await store.write([{ id: 'a1', '@timestamp': '2026-11-28T08:00:00Z', message: 'hello', event: {} }]);
 * ```
 */
export async function openSqliteStore(opts: SqliteStoreOptions): Promise<SqliteEventStore> {
  return new SqliteEventStore(opts);
}

/** SQLite implementation of {@link EventStore}; methods also exist in synchronous form (`*Sync`). */
export class SqliteEventStore implements EventStore {
  readonly backend = 'sqlite';
  readonly path: string;
  private readonly db: Database.Database;
  private readonly days = new Map<string, DayStatements>();
  /** Bucketed days written lately → their id-key filters, least recently written first. */
  private readonly filters = new Map<string, IdKeyFilter>();
  /** Day-table suffix → layout, for reads (a table's layout never changes while it exists). */
  private readonly layouts = new Map<string, DayLayout>();
  /** The schema cookie after this store's last write or drop (see {@link checkSchema}). */
  private schemaSeen = -1;
  private schemaStmt: Database.Statement | undefined;
  private readonly now: () => number;
  private readonly newLayout: DayLayout;
  private readonly rowsPerInsert: number;
  private readonly bumpDay: Database.Statement;
  private readonly leaves: LeafWriter | undefined;
  /** One write's transaction ({@link insertAll}), wrapped once rather than per write. */
  private readonly writeTx: Database.Transaction<(cols: PreparedColumns, docs: RowDocs) => number>;
  private closed = false;

  constructor(opts: SqliteStoreOptions) {
    if (typeof opts?.dir !== 'string' || opts.dir === '') throw new TypeError('SqliteEventStore: dir must be a non-empty string');
    this.now = opts.now ?? Date.now;
    this.newLayout = opts.layout ?? 'bucketed-id';
    this.rowsPerInsert = opts.rowsPerInsert ?? ROWS_PER_INSERT;
    if (!Number.isInteger(this.rowsPerInsert) || this.rowsPerInsert < 1 || this.rowsPerInsert > 1000) throw new RangeError('SqliteEventStore: rowsPerInsert must be an integer in 1..1000');
    this.path = join(opts.dir, 'events.db');
    try {
      if (!opts.readonly) mkdirSync(opts.dir, { recursive: true });
      this.db = new Database(this.path, { readonly: opts.readonly === true, fileMustExist: opts.readonly === true });
      this.db.pragma(`cache_size = ${-1024 * (opts.cacheMb ?? 64)}`);
      this.db.pragma('busy_timeout = 5000');
      if (!opts.readonly) {
        // New stores keep auto_vacuum off (SQLite's default): with it, every page SQLite allocates
        // or moves also updates a pointer-map page, measured at about 7 µs of store CPU per event
        // (a quarter of it). Retention drops whole days, and their pages go to the freelist that
        // the next days' inserts take pages from first, so at a steady retention the file stops
        // growing instead of shrinking and growing again. Stores made with INCREMENTAL (before
        // this change) keep it: the mode of an existing database changes only by a full VACUUM.
        this.db.pragma(`page_size = ${PAGE_SIZE}`);
        this.db.pragma('journal_mode = WAL');
        this.db.pragma(`synchronous = ${opts.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
        const version = this.db.pragma('user_version', { simple: true }) as number;
        if (version > SCHEMA_VERSION) throw new Error(`database schema ${version} is newer than this program (${SCHEMA_VERSION})`);
        this.db.exec('CREATE TABLE IF NOT EXISTS days (day TEXT PRIMARY KEY, events INTEGER NOT NULL) WITHOUT ROWID');
        this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
      }
      if (opts.mmapMb) this.db.pragma(`mmap_size = ${opts.mmapMb * 1024 * 1024}`);
      if (opts.autoCheckpoint === false && !opts.readonly) this.db.pragma('wal_autocheckpoint = 0');
      if (opts.walLimitFrames && !opts.readonly) this.db.pragma(`journal_size_limit = ${32 + opts.walLimitFrames * (24 + (this.db.pragma('page_size', { simple: true }) as number))}`);
      this.db.function('xa_ipkey', { deterministic: true }, (v: unknown) => ipKey(v));
      this.bumpDay = opts.readonly
        ? this.db.prepare('SELECT 1')
        : this.db.prepare(
            'INSERT INTO days (day, events) VALUES (?, ?) ON CONFLICT(day) DO UPDATE SET events = events + excluded.events',
          );
      this.leaves = opts.chain && !opts.readonly ? new LeafWriter(this.db) : undefined;
      this.writeTx = this.db.transaction((cols: PreparedColumns, docs: RowDocs) => this.insertAll(cols, docs));
    } catch (e) {
      throw new SocError('SOC_ERR_STORE_OPEN', `cannot open event store ${this.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  private check(): void {
    if (this.closed) throw new SocError('SOC_ERR_STORE_CLOSED', 'event store is closed');
  }

  /** Layout of day table `ev_<s>`, `undefined` while it does not exist. */
  private layoutOf(s: string): DayLayout | undefined {
    let layout = this.layouts.get(s);
    if (layout === undefined) {
      layout = dayLayout(this.db, s);
      if (layout !== undefined) this.layouts.set(s, layout);
    }
    return layout;
  }

  /** SQLite's schema cookie (PRAGMA schema_version): it changes with every CREATE and DROP. */
  private schemaVersion(): number {
    this.schemaStmt ??= this.db.prepare('PRAGMA schema_version').pluck();
    return this.schemaStmt.get() as number;
  }

  /**
   * Inside a transaction: when another connection changed the schema since this store last
   * looked (a day dropped by retention, maybe made again and written), a filter may hold a table
   * that is gone and miss rows of the new one under rowids it counts as read: read them all again.
   */
  private checkSchema(): void {
    if (this.filters.size > 0 && this.schemaVersion() !== this.schemaSeen) this.filters.clear();
  }

  /**
   * The id-key filter of bucketed day `day`, holding every row up to `before` (its highest rowid
   * in this write's transaction): rows another connection added since (`xiangan ingest --data`)
   * are read in, and a table that shrank (dropped and made again) is read whole.
   */
  private filterFor(day: string, st: DayStatements, before: number): IdKeyFilter {
    let f = this.filters.get(day);
    this.filters.delete(day);
    if (f === undefined || before < f.upTo) f = new IdKeyFilter();
    if (before > f.upTo) {
      for (const k of st.keysAfter!.iterate(f.upTo, f.upTo) as IterableIterator<string>) f.add(idKey(k));
      f.upTo = before;
    }
    this.filters.set(day, f);
    for (const d of this.filters.keys()) {
      if (this.filters.size <= MAX_ID_FILTERS) break;
      this.filters.delete(d);
    }
    return f;
  }

  private dayStatements(day: string): DayStatements {
    let st = this.days.get(day);
    if (st) return st;
    const s = daySuffix(day);
    // A day table made before keeps its layout; a new one is keyed unless the options say otherwise.
    const existing = this.layoutOf(s);
    const layout = existing ?? this.newLayout;
    for (const ddl of dayTableDdl(day, layout)) this.db.exec(ddl);
    // A new day's FTS5 settings (rows of its config table); a day table made before keeps its own.
    if (existing === undefined) for (const sql of newDayFtsConfig(s)) this.db.exec(sql);
    const keyed = layout !== 'id-unique';
    const bucketed = layout === 'bucketed' || layout === 'bucketed-id';
    const cols = [...COLUMNS.map((c) => c.column), 'message', 'doc'];
    const row = `(?, ${cols.map((c) => (c === 'doc' ? 'CAST(? AS TEXT)' : '?')).join(', ')})`;
    // Both id conditions through the layout's index; the bucketed-id index holds the id itself.
    const idIs = layout === 'bucketed-id' ? 'id = j.value' : `${ID_KEY_SQL} = substr(j.value, 1, ${ID_KEY_CHARS}) AND id = j.value`;
    st = {
      // Keyed tables have no unique constraint: the id is looked up through the id key's index
      // (duplicates within one write are seen too: the transaction reads its own rows).
      // The document may come as its UTF-8 bytes (docViews): CAST makes them the same TEXT value
      // a string of it binds as (SQLite "CAST expressions": a BLOB's bytes read in the database's
      // encoding, UTF-8 here); a string stays as it is.
      insert: this.db.prepare(`INSERT ${keyed ? '' : 'OR IGNORE '}INTO ev_${s} (id, ${cols.join(', ')}) VALUES ${row}`),
      // OR FAIL: under the default (ABORT) a NOT NULL column makes SQLite open a statement journal
      // for a statement of several rows, to undo the rows before a failing one (each page it
      // first touches copied to a temporary file: 32 rows a statement cost more than one row
      // each). FAIL keeps them instead, and a failed write rolls back its whole transaction anyway.
      many: layout === 'bucketed-id' && this.rowsPerInsert > 1 ? this.db.prepare(`INSERT OR FAIL INTO ev_${s} (id, ${cols.join(', ')}) VALUES ${Array.from({ length: this.rowsPerInsert }, () => row).join(', ')}`) : undefined,
      has: keyed
        ? this.db
            .prepare(
              `SELECT j.key FROM json_each(?) AS j WHERE EXISTS (SELECT 1 FROM ev_${s} WHERE ${bucketed ? `(${ID_BUCKET_SQL}) IN (SELECT value FROM json_each(?)) AND ` : ''}${idIs})`,
            )
            .pluck()
        : undefined,
      // A range of the id index from the bucket of the rowid on (EXPLAIN QUERY PLAN: "SEARCH …
      // USING COVERING INDEX ix_…_idb (<expr>>?)"), not the table's rows with their documents.
      keysAfter: bucketed ? this.db.prepare(`SELECT ${layout === 'bucketed-id' ? 'id' : ID_KEY_SQL} FROM ev_${s} WHERE ${ID_BUCKET_SQL} >= (? >> ${ID_BUCKET_SHIFT}) AND rowid > ?`).pluck() : undefined,
      maxRowid: this.db.prepare(`SELECT coalesce(max(rowid), 0) FROM ev_${s}`).pluck(),
      ftsAfter: this.db.prepare(`INSERT INTO fts_${s} (rowid, message) SELECT rowid, message FROM ev_${s} WHERE rowid > ? AND message IS NOT NULL`),
      ftsMerge:
        this.db.prepare(`SELECT v FROM fts_${s}_config WHERE k = 'automerge'`).pluck().get() === 0
          ? {
              structure: this.db.prepare(`SELECT block FROM fts_${s}_data WHERE id = ${FTS_STRUCTURE_ROWID}`).pluck(),
              merge: this.db.prepare(`INSERT INTO fts_${s} (fts_${s}, rank) VALUES ('merge', ?)`),
            }
          : undefined,
    };
    this.days.set(day, st);
    return st;
  }

  /**
   * Synchronous {@link write}: one transaction for the whole batch. `docs`, when given, holds
   * each event already serialised (the buffer keeps them so), stored as is.
   */
  writeSync(events: readonly EcsEvent[], docs?: readonly string[]): WriteResult {
    this.check();
    if (!Array.isArray(events)) throw new TypeError('write: events must be an array');
    if (docs !== undefined && docs.length !== events.length) throw new RangeError('write: docs must match events one to one');
    return this.writeColumns(eventColumns(events, docs, this.now));
  }

  /**
   * Store prepared events (`../pipeline/prepare.ts`) in one transaction: the pipeline's write
   * path, with every value computed before (in the prepare worker), so this thread only inserts.
   * Idempotent by id: an event already stored counts as a duplicate.
   */
  writeColumns(cols: PreparedColumns): WriteResult {
    this.check();
    // The pipeline's steps carry their documents as UTF-8 bytes: bound as such (a view each), so
    // no string is made of them here and better-sqlite3 does not encode one back to UTF-8.
    const docs: RowDocs = cols.docs ? docViews(cols.docs) : preparedDocs(cols);
    if (cols.leafHashes && cols.leafHashes.length !== cols.count * 32) throw new RangeError('write: one leaf hash per prepared event expected');
    if (docs.length !== cols.count || cols.ids.length !== cols.count) throw new RangeError('write: prepared columns and documents disagree');
    try {
      return this.writeOnce(cols, docs);
    } catch (e) {
      // Another connection (retention in the server's main thread) may have dropped a day table
      // this connection had statements for: forget them and try once more.
      if (e instanceof SocError && /no such table/.test(e.message)) {
        this.days.clear();
        this.layouts.clear();
        this.leaves?.reset();
        return this.writeOnce(cols, docs);
      }
      throw e;
    }
  }

  private writeOnce(cols: PreparedColumns, docs: RowDocs): WriteResult {
    let written: number;
    try {
      // BEGIN IMMEDIATE: the write lock is taken first, so another writer of events.db (a
      // retention run, `xiangan ingest --data`) is waited for up to busy_timeout. A deferred
      // transaction reads first (the stored-ids check) and its upgrade to a writer fails at once
      // with SQLITE_BUSY when another connection holds the lock: SQLite cannot wait there without
      // risking a deadlock ("Transactions", sqlite.org/lang_transaction.html).
      written = this.writeTx.immediate(cols, docs);
    } catch (e) {
      this.leaves?.discard();
      // Rows the filters hold may not have committed (harmless), and their `upTo` may count them:
      // read them again from the tables on the next write.
      this.filters.clear();
      if (e instanceof TypeError || e instanceof SocError) throw e;
      throw new SocError('SOC_ERR_STORE_WRITE', `event store write failed: ${(e as Error).message}`, { cause: e });
    }
    return { written, duplicates: cols.count - written };
  }

  /**
   * The rows, full-text rows, day counts and leaves of one write, inside its transaction; returns
   * the rows written. A method, not a closure made per write: its loops' variables are then locals
   * of an ordinary hot function instead of slots of a fresh closure's context.
   */
  private insertAll(cols: PreparedColumns, docs: RowDocs): number {
    let written = 0;
    this.checkSchema();
    const touched = new Map<string, Touched>();
    const n = cols.count;
    const slot: number[] = [];
    for (let j = 0, k = 0; j < COLUMNS.length; j++) slot.push(COLUMNS[j]!.kind === 'time' ? -1 : k++);
    const hashes = cols.leafHashes;
    // First pass: each event's day table, and the id keys to look up in each keyed one.
    const dayOf: Touched[] = new Array(n);
    let dayStart = NaN;
    let dayEnd = NaN;
    let cur: Touched | undefined;
    for (let i = 0; i < n; i++) {
      const id = cols.ids[i]!;
      if (typeof id !== 'string' || id === '') throw new TypeError('write: every event needs a string id');
      const ts = cols.ts[i]!;
      if (!(ts >= dayStart && ts < dayEnd)) {
        dayStart = Math.floor(ts / DAY_MS) * DAY_MS;
        dayEnd = dayStart + DAY_MS;
        const day = new Date(dayStart).toISOString().slice(0, 10);
        cur = touched.get(day);
        if (!cur) {
          const st = this.dayStatements(day);
          const before = st.maxRowid.get() as number;
          const filter = st.keysAfter ? this.filterFor(day, st, before) : undefined;
          // One argument array per day reused for every statement (see ROW_WIDTH).
          const args = new Array(st.many ? ROW_WIDTH * this.rowsPerInsert : ROW_WIDTH).fill(null);
          cur = { day, st, before, rows: 0, at: st.has ? [] : undefined, seen: st.has && !filter ? new Set() : undefined, filter, args, fill: 0 };
          touched.set(day, cur);
        }
      }
      dayOf[i] = cur!;
      cur!.at?.push(i);
    }
    // Keyed tables: which ids are stored already, one statement per day instead of one per
    // event (each a JS → native call with its own binding); each id is still looked up
    // through the id key's index (EXPLAIN QUERY PLAN: "SEARCH … EXISTS USING INDEX ix_…_idk").
    // The ids are compared in SQL, as before: SQLite decodes JSON text to the bytes a bound
    // string gives (UTF-8 as V8 writes it, lone surrogates included), while such bytes read
    // back into JS would not compare equal. Ids met earlier in this write are skipped too, so a
    // write that holds one id twice stores it once (bucketed days: marked in `stored` too).
    const stored = new Uint8Array(n);
    for (const t of touched.values()) {
      if (t.at === undefined) continue;
      if (t.filter !== undefined) {
        this.storedBucketed(t, cols.ids, stored);
        continue;
      }
      const at = t.at;
      for (const k of t.st.has!.all(JSON.stringify(at.map((i) => cols.ids[i]))) as number[]) stored[at[k]!] = 1;
    }
    for (let i = 0; i < n; i++) {
      if (stored[i] === 1) continue;
      const id = cols.ids[i]!;
      const t = dayOf[i]!;
      if (t.seen !== undefined) {
        if (t.seen.has(id)) continue;
        t.seen.add(id);
      }
      const a = t.args;
      const o = t.fill;
      a[o] = id;
      for (let j = 0; j < slot.length; j++) a[o + 1 + j] = slot[j] === -1 ? cols.ts[i]! : cols.values[slot[j]!]![i]!;
      a[o + COLUMNS.length + 1] = cols.messages[i] ?? null;
      a[o + COLUMNS.length + 2] = docs.at(i)!;
      // Spread, not the array: better-sqlite3 reads an array argument element by element
      // through the V8 object API (Binder::BindArray), arguments directly; measured ~0.8 µs
      // less per 20-value row.
      if (t.st.many === undefined) {
        if (t.st.insert.run(...a).changes !== 1) continue;
      } else {
        // No UNIQUE index on these tables (duplicates were filtered above): every row of a
        // statement is inserted, in order, so rowids come out as one row per statement gives.
        t.fill = o + ROW_WIDTH;
        if (t.fill === a.length) {
          t.st.many.run(...a);
          t.fill = 0;
        }
      }
      if (this.leaves) {
        if (hashes) this.leaves.append(t.day, id, hashes.subarray(i * 32, i * 32 + 32));
        else this.leaves.appendDoc(t.day, id, docs.at(i)!);
      }
      written++;
      t.rows++;
    }
    // The rows left over on bucketed-id days (fewer than a statement's): one statement each.
    for (const t of touched.values()) {
      for (let o = 0; o < t.fill; o += ROW_WIDTH) t.st.insert.run(...t.args.slice(o, o + ROW_WIDTH));
      t.fill = 0;
    }
    for (const [d, t] of touched) {
      if (t.filter !== undefined) t.filter.upTo = t.before + t.rows;
      if (t.rows === 0) continue;
      // Full-text rows for the whole write at once, one statement per day instead of one per
      // event: the rows this transaction added are exactly those above the rowid it started
      // from (an INTEGER PRIMARY KEY given no value takes max(rowid) + 1, SQLite §"ROWIDs and
      // the INTEGER PRIMARY KEY"; ignored duplicates take none). Measured: about a quarter
      // less store CPU per event than one FTS5 insert per row.
      t.st.ftsAfter.run(t.before);
      if (t.st.ftsMerge) {
        const pages = ftsMergePages(t.st.ftsMerge.structure.get() as Buffer | undefined);
        if (pages > 0) t.st.ftsMerge.merge.run(pages);
      }
      this.bumpDay.run(d, t.rows);
    }
    this.leaves?.flush();
    // This write's own DDL (a new day's tables, its leaf table in the flush above) is no reason
    // to read the filters again; no other connection can change the schema inside this IMMEDIATE
    // transaction, so the cookie read now is this write's.
    this.schemaSeen = this.schemaVersion();
    return written;
  }

  /**
   * Bucketed day `t`: marks in `stored` its ids that the table holds or that came earlier in this
   * write, and adds the keys the day's filter does not have yet (before the commit: a rollback
   * then leaves a key too many, a false positive, never one missing). Only the ids the filter cannot rule out
   * are looked up: an id met before in this write is in the filter by then, so it is among them,
   * and is compared with the write's earlier ids here (no set of all the write's ids: ~3 % of the
   * store worker's time went to one); the rest are asked of SQLite, first in the newest two
   * buckets (a replay after a crash between commit and buffer delete: its ids were stored last),
   * then in all buckets.
   */
  private storedBucketed(t: Touched, ids: readonly string[], stored: Uint8Array): void {
    const at = t.at!;
    const filter = t.filter!;
    let maybe: number[] = [];
    for (const i of at) {
      const k = idKey(ids[i]!);
      // A key the filter answers "maybe" for stays so (its bits are only ever set): added once.
      if (filter.mayHave(k)) maybe.push(i);
      else filter.add(k);
    }
    if (maybe.length > 0) {
      // Few (a full filter segment answers "maybe" for ~0.1 % of new ids): each compared with the
      // ids before it; many (a replay), through a map of the write's first positions.
      let first: Map<string, number> | undefined;
      if (maybe.length > 16) {
        first = new Map();
        for (const i of at) if (!first.has(ids[i]!)) first.set(ids[i]!, i);
      }
      for (const i of maybe) {
        const id = ids[i]!;
        if (first !== undefined) {
          if (first.get(id)! < i) stored[i] = 1;
          continue;
        }
        for (const j of at) {
          if (j >= i) break;
          if (ids[j] === id) {
            stored[i] = 1;
            break;
          }
        }
      }
      maybe = maybe.filter((i) => stored[i] === 0);
    }
    const last = Math.floor(t.before / 2 ** ID_BUCKET_SHIFT);
    for (let pass = 0; pass < 2 && maybe.length > 0; pass++) {
      const buckets: number[] = [];
      for (let b = pass === 0 ? Math.max(0, last - 1) : 0; b <= (pass === 0 ? last : last - 2); b++) buckets.push(b);
      if (buckets.length === 0) break;
      for (const k of t.st.has!.all(JSON.stringify(maybe.map((i) => ids[i])), JSON.stringify(buckets)) as number[]) stored[maybe[k]!] = 1;
      maybe = maybe.filter((i) => stored[i] === 0);
    }
  }

  /**
   * Copy the WAL's committed pages into the database file as far as no reader still needs them
   * (`PRAGMA wal_checkpoint(PASSIVE)`: never waits for a reader or blocks a writer); the next
   * write then starts the WAL over from its beginning. Returns the WAL's pages and those copied.
   */
  checkpoint(): { walPages: number; copied: number } {
    this.check();
    const r = this.db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    return { walPages: r[0]?.log ?? 0, copied: r[0]?.checkpointed ?? 0 };
  }

  async write(events: readonly EcsEvent[]): Promise<WriteResult> {
    return this.writeSync(events);
  }

  /** Days present, ascending. */
  private listDays(): string[] {
    return (this.db.prepare('SELECT day FROM days ORDER BY day').all() as Array<{ day: string }>).map((r) => r.day);
  }

  /** Synchronous {@link search}. */
  searchSync(req: SearchRequest): SearchResult {
    this.check();
    const size = req.size ?? 50;
    if (!Number.isInteger(size) || size < 0 || size > MAX_PAGE) throw new RangeError(`search: size must be an integer in 0..${MAX_PAGE}`);
    const offset = req.offset ?? 0;
    if (!Number.isInteger(offset) || offset < 0) throw new RangeError('search: offset must be a non-negative integer');
    const order = req.sort ?? 'desc';
    if (order !== 'asc' && order !== 'desc') throw new RangeError("search: sort must be 'asc' or 'desc'");
    const fromMs = req.from !== undefined ? parseTime(req.from, 'from') : undefined;
    const toMs = req.to !== undefined ? parseTime(req.to, 'to') : undefined;
    const cursor = req.cursor !== undefined ? decodeCursor(req.cursor, order) : undefined;
    const query = req.query ?? { kind: 'all' };

    let days = this.listDays();
    if (fromMs !== undefined) days = days.filter((d) => d >= new Date(fromMs).toISOString().slice(0, 10));
    if (toMs !== undefined) days = days.filter((d) => Date.parse(`${d}T00:00:00Z`) < toMs);
    if (order === 'desc') days.reverse();

    const where = (s: string): { sql: string; params: Array<string | number> } => {
      const q = compileQuery(query, s, this.layoutOf(s) ?? 'bucketed-id');
      const parts = [q.sql];
      const params = [...q.params];
      if (fromMs !== undefined) {
        parts.push('ts >= ?');
        params.push(fromMs);
      }
      if (toMs !== undefined) {
        parts.push('ts < ?');
        params.push(toMs);
      }
      return { sql: parts.join(' AND '), params };
    };

    const read = this.db.transaction(() => {
      let total = 0;
      const counts = new Map<string, number>();
      for (const d of days) {
        const s = daySuffix(d);
        const w = where(s);
        const n = (this.db.prepare(`SELECT count(*) AS n FROM ev_${s} WHERE ${w.sql}`).get(...w.params) as { n: number }).n;
        counts.set(d, n);
        total += n;
      }
      const events: EcsEvent[] = [];
      let last: { ts: number; id: string } | undefined;
      let skip = cursor ? 0 : offset;
      if (size > 0) {
        const dir = order === 'desc' ? 'DESC' : 'ASC';
        const cmp = order === 'desc' ? '<' : '>';
        for (const d of days) {
          if (events.length >= size) break;
          const n = counts.get(d) ?? 0;
          if (n === 0) continue;
          if (skip >= n) {
            skip -= n;
            continue;
          }
          const s = daySuffix(d);
          const w = where(s);
          // The page's rows are chosen by rowid first and only then read whole: on keyed tables
          // the events of one timestamp are sorted by id for each search (see dayTableDdl), and
          // the sorter then holds their rowids instead of their documents.
          let page = `SELECT rowid FROM ev_${s} WHERE ${w.sql}`;
          const params = [...w.params];
          if (cursor) {
            page += ` AND (ts ${cmp} ? OR (ts = ? AND id ${cmp} ?))`;
            params.push(cursor.ts, cursor.ts, cursor.id);
          }
          const order = ` ORDER BY ts ${dir}, id ${dir}`;
          const sql = `SELECT ts, id, doc FROM ev_${s} WHERE rowid IN (${page}${order} LIMIT ? OFFSET ?)${order}`;
          params.push(size - events.length, skip);
          skip = 0;
          for (const r of this.db.prepare(sql).all(...params) as Array<{ ts: number; id: string; doc: string }>) {
            events.push(JSON.parse(r.doc) as EcsEvent);
            last = { ts: r.ts, id: r.id };
          }
        }
      }
      const facets: Record<string, FacetBucket[]> = {};
      for (const f of req.facets ?? []) facets[f] = this.facet(f, days, where, req.facetSize ?? 10);
      return { total, events, last, facets };
    });

    let r: ReturnType<typeof read>;
    try {
      r = read();
    } catch (e) {
      if (e instanceof SocError || e instanceof RangeError || e instanceof TypeError) throw e;
      throw new SocError('SOC_ERR_QUERY', `search failed: ${(e as Error).message}`, { cause: e });
    }
    const out: SearchResult = { total: r.total, events: r.events, facets: r.facets };
    if (r.last && r.events.length === size) out.nextCursor = encodeCursor(order, r.last.ts, r.last.id);
    return out;
  }

  async search(req: SearchRequest): Promise<SearchResult> {
    return this.searchSync(req);
  }

  private facet(
    field: string,
    days: string[],
    where: (s: string) => { sql: string; params: Array<string | number> },
    limit: number,
  ): FacetBucket[] {
    if (!/^[A-Za-z_@][A-Za-z0-9_.@-]*$/.test(field)) throw new SocError('SOC_ERR_QUERY', `facet: '${field}' is not a field name`);
    const col = COLUMN_BY_FIELD.get(field);
    const merged = new Map<string, { value: string | number | boolean; count: number }>();
    for (const d of days) {
      const s = daySuffix(d);
      const w = where(s);
      let sql: string;
      const params: Array<string | number> = [];
      if (col && col.kind !== 'array') {
        sql = `SELECT ${col.column} AS v, count(*) AS c FROM ev_${s} WHERE ${w.sql} AND ${col.column} IS NOT NULL GROUP BY v`;
      } else {
        // Filter in a subquery first: json_each has columns of its own (id, key, path, …) that
        // would make the query's unqualified column names ambiguous in a join.
        const src = col ? `json_each(e.x)` : `json_each(e.x, ?)`;
        params.push(...w.params);
        if (!col) params.push(jsonPath(field));
        sql = `SELECT j.value AS v, count(*) AS c FROM (SELECT ${col ? col.column : 'doc'} AS x FROM ev_${s} WHERE ${w.sql}) AS e, ${src} AS j WHERE j.type NOT IN ('object', 'array', 'null') GROUP BY v`;
      }
      if (col && col.kind !== 'array') params.push(...w.params);
      for (const row of this.db.prepare(sql).all(...params) as Array<{ v: string | number; c: number }>) {
        let value: string | number | boolean = row.v;
        if (col?.kind === 'ip' && typeof value === 'string') value = bytesToIp(keyBytes(value));
        const key = `${typeof value}:${value}`;
        const m = merged.get(key);
        if (m) m.count += row.c;
        else merged.set(key, { value, count: row.c });
      }
    }
    return [...merged.values()]
      .sort((a, b) => b.count - a.count || String(a.value).localeCompare(String(b.value)))
      .slice(0, limit);
  }

  /** Synchronous {@link get}. */
  getSync(id: string): EcsEvent | undefined {
    this.check();
    if (typeof id !== 'string') throw new TypeError('get: id must be a string');
    for (const d of this.listDays().reverse()) {
      const s = daySuffix(d);
      const layout = this.layoutOf(s) ?? 'bucketed-id';
      const row = this.db.prepare(`SELECT doc FROM ev_${s} WHERE ${idWhere(s, layout)}`).get(...idParams(id, layout)) as { doc: string } | undefined;
      if (row) return JSON.parse(row.doc) as EcsEvent;
    }
    return undefined;
  }

  async get(id: string): Promise<EcsEvent | undefined> {
    return this.getSync(id);
  }

  /** Synchronous {@link deleteBefore}. */
  deleteBeforeSync(day: string): DeleteResult {
    this.check();
    daySuffix(day);
    const gone = this.db.prepare('SELECT day, events FROM days WHERE day < ? ORDER BY day').all(day) as Array<{ day: string; events: number }>;
    const drop = this.db.transaction(() => {
      this.checkSchema();
      for (const g of gone) {
        const s = daySuffix(g.day);
        this.db.exec(`DROP TABLE IF EXISTS fts_${s}; DROP TABLE IF EXISTS ev_${s}; DROP TABLE IF EXISTS ${leafTable(g.day)};`);
        this.db.prepare('DELETE FROM days WHERE day = ?').run(g.day);
        this.days.delete(g.day);
        this.filters.delete(g.day);
        this.layouts.delete(s);
      }
      this.schemaSeen = this.schemaVersion();
    });
    try {
      drop();
    } catch (e) {
      // Rolled back: the cookie noted inside is not the database's; read the filters again.
      this.schemaSeen = -1;
      this.filters.clear();
      throw e;
    }
    // Hands the freed pages back to the file system on stores made with auto_vacuum=INCREMENTAL;
    // a no-op elsewhere (SQLite PRAGMA incremental_vacuum).
    if (gone.length) this.db.pragma('incremental_vacuum');
    return { days: gone.map((g) => g.day), events: gone.reduce((a, g) => a + g.events, 0) };
  }

  async deleteBefore(day: string): Promise<DeleteResult> {
    return this.deleteBeforeSync(day);
  }

  /** Synchronous {@link stats}. */
  statsSync(): StoreStats {
    this.check();
    const days = this.db.prepare('SELECT day, events FROM days ORDER BY day').all() as Array<{ day: string; events: number }>;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    return { backend: 'sqlite', events: days.reduce((a, d) => a + d.events, 0), days, bytes: pages * pageSize };
  }

  async stats(): Promise<StoreStats> {
    return this.statsSync();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

/** `from`/`to` of a search as epoch ms; `SOC_ERR_QUERY` when not ISO 8601 (shared with the engine stores). */
export function parseTime(v: string, name: string): number {
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new SocError('SOC_ERR_QUERY', `search: '${name}' is not an ISO 8601 time: ${v}`);
  return t;
}

/** The opaque `search_after` cursor of every backend: base64url JSON `[order, ts, id]`. */
export function encodeCursor(order: 'asc' | 'desc', ts: number, id: string): string {
  return Buffer.from(JSON.stringify([order, ts, id])).toString('base64url');
}

/** Inverse of {@link encodeCursor}; `SOC_ERR_CURSOR` when malformed or made for the other order. */
export function decodeCursor(c: string, order: 'asc' | 'desc'): { ts: number; id: string } {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 3 && (v[0] === 'asc' || v[0] === 'desc') && Number.isFinite(v[1]) && typeof v[2] === 'string') {
      if (v[0] !== order) throw new SocError('SOC_ERR_CURSOR', 'search: cursor was made for the other sort order');
      return { ts: v[1] as number, id: v[2] as string };
    }
  } catch (e) {
    if (e instanceof SocError) throw e;
  }
  throw new SocError('SOC_ERR_CURSOR', 'search: malformed cursor');
}
