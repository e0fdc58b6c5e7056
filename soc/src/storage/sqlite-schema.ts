/**
 * How ECS fields map to the columns of a SQLite day table. Fields listed here get their own
 * column (and some an index); every other field is reached through `json_extract` on the stored
 * document, so any ECS or vendor field can be queried, only more slowly.
 */
import type Database from 'better-sqlite3';
import { ipv4Value, type EcsEvent } from '@xiangan/collectors';
import { ipToBytes } from '../query/parse.js';

/** How a column stores and compares its field. */
export type ColumnKind =
  /** `@timestamp` as integer milliseconds since the epoch. */
  | 'time'
  /** A keyword compared exactly. */
  | 'text'
  /** An integer. */
  | 'number'
  /** An IP address as a 32-hex-digit key (IPv4 mapped into IPv6), so CIDR is an index range. */
  | 'ip'
  /** An array of keywords, stored as JSON text. */
  | 'array';

/** One ECS field with its own column. */
export interface ColumnSpec {
  field: string;
  column: string;
  kind: ColumnKind;
  /** Whether the day table has an index on the column. */
  indexed: boolean;
}

/**
 * The column-backed fields. Indexed are time, who and from where — the filters an analyst starts
 * with; every index costs insert speed (measured: three secondary indexes instead of six gave
 * about 1.5× the insert rate), so the others are plain columns, still much cheaper to test than
 * `json_extract`, and searches are always bounded by a time range on the `ts` index.
 */
export const COLUMNS: readonly ColumnSpec[] = [
  { field: '@timestamp', column: 'ts', kind: 'time', indexed: true },
  { field: 'event.category', column: 'event_category', kind: 'array', indexed: false },
  { field: 'event.action', column: 'event_action', kind: 'text', indexed: false },
  { field: 'event.outcome', column: 'event_outcome', kind: 'text', indexed: false },
  { field: 'event.code', column: 'event_code', kind: 'text', indexed: false },
  { field: 'event.dataset', column: 'event_dataset', kind: 'text', indexed: false },
  { field: 'event.severity', column: 'event_severity', kind: 'number', indexed: false },
  { field: 'source.ip', column: 'source_ip', kind: 'ip', indexed: true },
  { field: 'source.port', column: 'source_port', kind: 'number', indexed: false },
  { field: 'destination.ip', column: 'destination_ip', kind: 'ip', indexed: false },
  { field: 'destination.port', column: 'destination_port', kind: 'number', indexed: false },
  { field: 'user.name', column: 'user_name', kind: 'text', indexed: true },
  { field: 'host.name', column: 'host_name', kind: 'text', indexed: true },
  { field: 'observer.vendor', column: 'observer_vendor', kind: 'text', indexed: false },
  { field: 'observer.product', column: 'observer_product', kind: 'text', indexed: false },
  { field: 'log.syslog.appname', column: 'syslog_appname', kind: 'text', indexed: false },
  { field: 'log.syslog.hostname', column: 'syslog_hostname', kind: 'text', indexed: false },
];

/** Field → column spec. */
export const COLUMN_BY_FIELD: ReadonlyMap<string, ColumnSpec> = new Map(COLUMNS.map((c) => [c.field, c]));

/** Day `YYYY-MM-DD` → table-name suffix `YYYYMMDD`; throws on anything else (names are never user text). */
export function daySuffix(day: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new RangeError(`not a day: ${day}`);
  return day.replaceAll('-', '');
}

/**
 * Layout of a day table. `bucketed-id` (new tables): lookups by id, and the check that makes a
 * write idempotent, go through an index on the row's insert-order bucket ({@link ID_BUCKET_SQL}:
 * rowid >> {@link ID_BUCKET_SHIFT}) followed by the id itself; `bucketed` (tables made 2026-11-30
 * before it): the bucket followed by the id's first {@link ID_KEY_CHARS} characters
 * ({@link ID_KEY_SQL}); `keyed` (tables made 2026-11-29 to 2026-11-30): an index on the id key
 * alone; `id-unique` (tables made before): a UNIQUE index on `id` itself does both.
 *
 * Why: event ids are SM3 digests (GB/T 32905), so an index on `id` takes every insert at a random
 * place, and once the day's table is large each commit rewrites most of its leaf pages (16 KiB
 * each, into the WAL and then the database file): measured as the store's CPU per event doubling
 * from 100k to 1M rows. The keyed layout's 8-character key made that index an eighth of the
 * bytes, but its inserts still land anywhere in it (a 400-event commit on a 300k-row day rewrote
 * 233–245 of its pages, session 11). Led by the bucket, the index takes a day's inserts only among
 * the pages of its newest bucket (2^14 rows), however large the day; a lookup by id then seeks
 * once per bucket (62 at 1M rows), and the write check asks SQLite only for the ids an in-memory
 * filter of the day's keys does not rule out ({@link IdKeyFilter}). The bucket is an expression
 * SQLite keeps for every row however it was inserted; the rowid is the table's INTEGER PRIMARY
 * KEY, which VACUUM keeps. `bucketed-id` keeps the whole id (a wider index, still written only
 * at its end) because an index expression that calls a function (`substr`) makes SQLite open a
 * statement journal for every INSERT of several rows (each page the statement first touches
 * copied to a temporary file, whatever the conflict clause): without one the store inserts many
 * rows per statement ({@link ROWS_PER_INSERT}; soc/README.md "Store worker, session 15").
 */
export type DayLayout = 'bucketed-id' | 'bucketed' | 'keyed' | 'id-unique';

/** Characters of an id in the key index of keyed and bucketed day tables (see {@link DayLayout}). */
export const ID_KEY_CHARS = 8;

/** The indexed expression of keyed day tables; queries must use it verbatim for SQLite to pick the index. */
export const ID_KEY_SQL = `substr(id, 1, ${ID_KEY_CHARS})`;

/** Rows per insert-order bucket of bucketed day tables, as a shift of the rowid (fixed: it is in their index). */
export const ID_BUCKET_SHIFT = 14;

/** The leading indexed expression of bucketed day tables; used verbatim like {@link ID_KEY_SQL}. */
export const ID_BUCKET_SQL = `rowid >> ${ID_BUCKET_SHIFT}`;

/**
 * The key of `id` in the index on {@link ID_KEY_SQL}: its first {@link ID_KEY_CHARS} characters
 * as SQLite's `substr` counts them, in code points (SQLite "Built-in Scalar SQL Functions",
 * substr: characters, not bytes, for text), where a UTF-16 surrogate pair is one. `substr` also
 * ends text at its first NUL (checked: `substr('ab' || char(0) || 'cd', 1, 8)` is `ab`), so the
 * key does too; otherwise an id with a NUL among its first characters is never found by id.
 */
export function idKey(id: string): string {
  let k = id.slice(0, ID_KEY_CHARS);
  if (/[\uD800-\uDFFF]/.test(k)) k = Array.from(id).slice(0, ID_KEY_CHARS).join('');
  const nul = k.indexOf('\u0000');
  return nul < 0 ? k : k.slice(0, nul);
}

/**
 * The condition that finds an event by id through an index on keyed tables (the id key's) and
 * earlier tables (the UNIQUE one); bind {@link idParams}. Bucketed tables need {@link idWhere}.
 */
export const ID_WHERE = `${ID_KEY_SQL} = ? AND id = ?`;

/**
 * The condition that finds an event by id through an index on day table `ev_<s>` of `layout`;
 * bind {@link idParams} of the same layout. On bucketed tables the bucket is one of the table's
 * buckets (0 to the highest rowid's, listed in SQL, so it holds for whatever the table holds when
 * it runs): SQLite seeks (bucket, key) or (bucket, id) once per bucket (EXPLAIN QUERY PLAN:
 * "SEARCH … USING INDEX ix_…_idb (<expr>=? AND <expr>=?)", "… ix_…_idi (<expr>=? AND id=?)").
 */
export function idWhere(s: string, layout: DayLayout): string {
  if (layout !== 'bucketed' && layout !== 'bucketed-id') return ID_WHERE;
  if (!/^\d{8}$/.test(s)) throw new RangeError(`not a day suffix: ${s}`);
  const buckets = `WITH RECURSIVE b(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM b WHERE x < (SELECT coalesce(max(rowid), 0) FROM ev_${s}) >> ${ID_BUCKET_SHIFT}) SELECT x FROM b`;
  return `(${ID_BUCKET_SQL}) IN (${buckets}) AND ${layout === 'bucketed-id' ? 'id = ?' : ID_WHERE}`;
}

/** The parameters of {@link idWhere} of `layout` (and of {@link ID_WHERE}) for `id`. */
export function idParams(id: string, layout: DayLayout): string[] {
  return layout === 'bucketed-id' ? [id] : [idKey(id), id];
}

/** Index of the id key on bucketed day table `ev_<s>`. */
export const bucketIndexName = (s: string): string => `ix_${s}_idb`;

/** Index of the id on bucketed-id day table `ev_<s>`. */
export const bucketIdIndexName = (s: string): string => `ix_${s}_idi`;

/**
 * Rows per INSERT statement on bucketed-id day tables (the rest of a write's rows for a day go
 * one per statement): each statement call has a fixed cost (binding set-up, the VDBE program's
 * start, better-sqlite3's result object), paid once for this many rows.
 */
export const ROWS_PER_INSERT = 32;

/**
 * Layout of day table `ev_<s>` in `db`, `undefined` while it does not exist (read from its DDL
 * and index names in `sqlite_master`).
 */
export function dayLayout(db: Database.Database, s: string): DayLayout | undefined {
  const sql = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").pluck().get(`ev_${s}`) as string | undefined;
  if (sql === undefined) return undefined;
  if (/\bid TEXT NOT NULL UNIQUE\b/i.test(sql)) return 'id-unique';
  const ix = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name IN (?, ?)").pluck().all(bucketIndexName(s), bucketIdIndexName(s));
  if (ix.includes(bucketIndexName(s))) return 'bucketed';
  return ix.includes(bucketIdIndexName(s)) ? 'bucketed-id' : 'keyed';
}

/** DDL for one day: the event table, its indexes and its FTS5 index over `message`. */
export function dayTableDdl(day: string, layout: DayLayout = 'bucketed-id'): string[] {
  const s = daySuffix(day);
  const cols = COLUMNS.map((c) => `${c.column} ${c.kind === 'time' || c.kind === 'number' ? 'INTEGER' : 'TEXT'}`);
  const keyed = layout !== 'id-unique';
  const ddl = [
    keyed
      ? `CREATE TABLE IF NOT EXISTS ev_${s} (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL, ${cols.join(', ')}, message TEXT, doc TEXT NOT NULL)`
      : `CREATE TABLE IF NOT EXISTS ev_${s} (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, ${cols.join(', ')}, message TEXT, doc TEXT NOT NULL)`,
    // External-content FTS5 (SQLite FTS5 §4.4.3): the text lives once, in ev_*.message.
    // columnsize=0 (§4.5) drops the per-row token counts (the %_docsize table, one more B-tree
    // insert per event); they serve only bm25()/rank ordering, which search never asks for (it
    // sorts by time). Day tables made before keep their docsize table; both answer MATCH alike.
    `CREATE VIRTUAL TABLE IF NOT EXISTS fts_${s} USING fts5(message, content='ev_${s}', content_rowid='rowid', columnsize=0)`,
  ];
  if (layout === 'keyed') ddl.push(`CREATE INDEX IF NOT EXISTS ix_${s}_idk ON ev_${s} (${ID_KEY_SQL})`);
  if (layout === 'bucketed') ddl.push(`CREATE INDEX IF NOT EXISTS ${bucketIndexName(s)} ON ev_${s} (${ID_BUCKET_SQL}, ${ID_KEY_SQL})`);
  if (layout === 'bucketed-id') ddl.push(`CREATE INDEX IF NOT EXISTS ${bucketIdIndexName(s)} ON ev_${s} (${ID_BUCKET_SQL}, id)`);
  for (const c of COLUMNS) {
    if (!c.indexed) continue;
    // On keyed and bucketed tables the ts index is on ts alone: its entries then go in rowid order at the end
    // of their timestamp, so a day's inserts touch only its last pages; (ts, id) took them at a
    // random place among all the events of the same timestamp, a large set when a device's clock
    // has second resolution (bench:ingest's stream has 125k events of one second). ORDER BY ts,
    // id still walks it and sorts the events of each timestamp alone (EXPLAIN QUERY PLAN: "USE
    // TEMP B-TREE FOR LAST TERM OF ORDER BY"). Earlier tables keep (ts, id).
    if (c.kind === 'time') {
      ddl.push(`CREATE INDEX IF NOT EXISTS ix_${s}_${c.column} ON ev_${s} (${keyed ? 'ts' : 'ts, id'})`);
      continue;
    }
    // Partial (SQLite "Partial Indexes" §1): an event without the field adds no index entry.
    // In bench:ingest's mix a quarter of the events have no source.ip or host.name and three
    // in five no user.name; the source.ip index takes its inserts at random places (one per
    // address), so every entry left out is a page less to rewrite per commit. Filters that can
    // use the index all imply the column is not null (=, IN, BETWEEN, ranges, IS NOT NULL for
    // facets: §2.2), so the planner still picks it. Day tables made before keep full indexes
    // (`IF NOT EXISTS` leaves them as they are); both answer alike.
    ddl.push(`CREATE INDEX IF NOT EXISTS ix_${s}_${c.column} ON ev_${s} (${c.column}, ts) WHERE ${c.column} IS NOT NULL`);
  }
  return ddl;
}

/** 16-byte address → lowercase hex key. */
export function ipKey(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const quad = dottedQuadKey(value);
  if (quad !== null) return quad;
  const b = ipToBytes(value);
  return b ? Buffer.from(b).toString('hex') : null;
}

/** Character codes of the lowercase hex digits, and of `0` and `f`. */
const HEX = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
const Z = 0x30;
const F = 0x66;

/**
 * The key of a canonical dotted quad (exactly the IPv4 form `net.isIP` accepts), or null for
 * anything else, which {@link ipKey} then reads the general way. Why: every stored event has one
 * or two addresses, and `isIP` + `split` + a hex Buffer cost ~1 µs each, ~6 % of the prepare
 * worker's CPU (session 6 profile); this scan is ~0.1. The key is the IPv4-mapped prefix
 * (`::ffff:0:0/96`, RFC 4291 §2.5.5.2: 20 zeros and `ffff`) and the address's 8 hex digits, made
 * as one sequential string by `String.fromCharCode`: concatenated, it was a chain of cons strings
 * that the cell writer flattened again (a copy into a new string) to write it.
 */
function dottedQuadKey(s: string): string | null {
  const v = ipv4Value(s);
  if (v < 0) return null;
  return String.fromCharCode(
    Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, F, F, F, F,
    HEX[v >>> 28]!, HEX[(v >>> 24) & 15]!, HEX[(v >>> 20) & 15]!, HEX[(v >>> 16) & 15]!,
    HEX[(v >>> 12) & 15]!, HEX[(v >>> 8) & 15]!, HEX[(v >>> 4) & 15]!, HEX[v & 15]!,
  );
}

/** Hex key → bytes (for facets on ip columns). */
export function keyBytes(key: string): Uint8Array {
  return new Uint8Array(Buffer.from(key, 'hex'));
}

/** Reads one column's field from an event: the value at its path, or undefined. */
type FieldReader = (ev: unknown) => unknown;

/**
 * One reader per column, made once from the constant field paths of {@link COLUMNS}: each step is
 * a load by a literal name (`v["event"]`), which V8 caches per load site, where a loop over the
 * path's parts loads by a variable name at one shared, megamorphic site. This runs for every
 * column of every stored event (prepare worker): over bench:ingest's mix, 2.25 → 1.45 CPU-µs per
 * event for all columns, identical values (helper W's probe, session 8, one process, load 8.7).
 * The source text holds only the paths of {@link COLUMNS} (JSON string literals), never input.
 */
const READERS: readonly FieldReader[] = COLUMNS.map((c) => {
  let body = 'let v = ev;';
  for (const part of c.field.split('.')) body += ` if (v === null || typeof v !== 'object') return undefined; v = v[${JSON.stringify(part)}];`;
  return new Function('ev', `${body} return v;`) as FieldReader;
});

/** Positions in {@link COLUMNS} of the value columns: every column but the time column. */
const VALUE_AT: readonly number[] = COLUMNS.flatMap((c, i) => (c.kind === 'time' ? [] : [i]));

/** A field's value as column `c` stores it. */
function columnValue(c: ColumnSpec, v: unknown): string | number | null {
  if (v === undefined || v === null) return null;
  if (c.kind === 'ip') return ipKey(v);
  if (c.kind === 'number') return typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : toInt(v);
  if (c.kind === 'array') return keywordsJson(Array.isArray(v) ? v : [v]);
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Keyword arrays whose text {@link keywordsJson} keeps, at most; and the longest keyword it keeps them for. */
const KEYWORDS_CACHED = 512;
const KEYWORD_MAX = 64;
/** Text of one-keyword arrays by the keyword; of two-keyword arrays by the first, then the second. */
const ONE_KEYWORD = new Map<string, string>();
const TWO_KEYWORDS = new Map<string, Map<string, string>>();
let keywordsCached = 0;

/**
 * `JSON.stringify(a)` of an array column's value (`event.category`), the text of arrays of one
 * or two keywords of at most {@link KEYWORD_MAX} characters kept by their keywords. Every stored
 * event has one, nearly always one of a few ECS categories, and `JSON.stringify` of it was ~0.5
 * of the ~1.3 µs/event of all the columns' values over bench:ingest's mix. Exact: the elements
 * are primitive strings (no `toJSON` of theirs is called) and the array has no callable `toJSON`
 * (an own one, or one put on `Array.prototype`), so the text depends on the keywords alone; the
 * rest, and keywords past the bound (the values come from input), go to `JSON.stringify`.
 */
function keywordsJson(a: readonly unknown[]): string {
  const k0 = a[0];
  const k1 = a[1];
  if (!(typeof k0 === 'string' && k0.length <= KEYWORD_MAX) || typeof (a as { toJSON?: unknown }).toJSON === 'function') return JSON.stringify(a);
  if (a.length === 1) return keptText(ONE_KEYWORD, k0, a);
  if (a.length !== 2 || !(typeof k1 === 'string' && k1.length <= KEYWORD_MAX)) return JSON.stringify(a);
  let seconds = TWO_KEYWORDS.get(k0);
  if (seconds === undefined) {
    if (keywordsCached >= KEYWORDS_CACHED) return JSON.stringify(a);
    TWO_KEYWORDS.set(k0, (seconds = new Map()));
  }
  return keptText(seconds, k1, a);
}

/** The text of `a` kept in `m` under `key`, made (and kept while there is room) if not there. */
function keptText(m: Map<string, string>, key: string, a: readonly unknown[]): string {
  let j = m.get(key);
  if (j === undefined) {
    j = JSON.stringify(a);
    if (keywordsCached < KEYWORDS_CACHED) {
      m.set(key, j);
      keywordsCached++;
    }
  }
  return j;
}

/** The column values of one event, in {@link COLUMNS} order. */
export function columnValues(ev: EcsEvent, ts: number): Array<string | number | null> {
  const out: Array<string | number | null> = [];
  for (let i = 0; i < COLUMNS.length; i++) {
    const c = COLUMNS[i]!;
    out.push(c.kind === 'time' ? ts : columnValue(c, READERS[i]!(ev)));
  }
  return out;
}

/**
 * The value columns of one event (every column but the time column, in {@link COLUMNS} order),
 * each appended to its array in `out`: the same values as {@link columnValues}, without an array
 * per event to copy from.
 */
export function columnValuesInto(ev: EcsEvent, out: ReadonlyArray<Array<string | number | null>>): void {
  for (let k = 0; k < VALUE_AT.length; k++) {
    const i = VALUE_AT[k]!;
    out[k]!.push(columnValue(COLUMNS[i]!, READERS[i]!(ev)));
  }
}

function toInt(v: unknown): number | null {
  if (typeof v === 'string' && /^-?\d{1,15}$/.test(v)) return Number(v);
  return null;
}

/** Bits of one {@link IdKeyFilter} segment (512 KiB). */
const FILTER_SEGMENT_BITS = 1 << 22;
/** Keys one segment takes before the next is started: 16 bits a key. */
const FILTER_SEGMENT_KEYS = 1 << 18;
/** Bits set per key: at 16 bits a key a full segment answers "maybe" for ~0.1 % of absent keys. */
const FILTER_HASHES = 6;

/**
 * The id keys ({@link idKey}) of one bucketed day table, as a Bloom filter (Bloom 1970) in
 * segments of 2^18 keys (2 MiB per 1M events): `mayHave` false means no row of the table has
 * that key, so the write check asks SQLite only for the ids it cannot rule out. Exact in that
 * direction (no false negatives): a key is added before its row commits (a rollback leaves only
 * false positives), and a key holding a UTF-16 surrogate or U+FFFD is always "maybe" (SQLite
 * hands a lone surrogate back as U+FFFD, so such a key read back from the index would not hash
 * as the id's own). `upTo`: the rows with rowid ≤ it are in the filter.
 */
export class IdKeyFilter {
  private readonly segments: Int32Array[] = [];
  private inLast = FILTER_SEGMENT_KEYS;
  /** The highest rowid whose key is in the filter. */
  upTo = 0;

  /** Bytes held. */
  get bytes(): number {
    return this.segments.length * (FILTER_SEGMENT_BITS / 8);
  }

  add(key: string): void {
    if (this.inLast === FILTER_SEGMENT_KEYS) {
      this.segments.push(new Int32Array(FILTER_SEGMENT_BITS / 32));
      this.inLast = 0;
    }
    this.inLast++;
    const seg = this.segments[this.segments.length - 1]!;
    const h1 = fnv1a(key);
    const h2 = mix32(h1) | 1;
    for (let i = 0, h = h1; i < FILTER_HASHES; i++, h = (h + h2) | 0) {
      const bit = h & (FILTER_SEGMENT_BITS - 1);
      seg[bit >>> 5]! |= 1 << (bit & 31);
    }
  }

  mayHave(key: string): boolean {
    if (/[\uD800-\uDFFF\uFFFD]/.test(key)) return true;
    const h1 = fnv1a(key);
    const h2 = mix32(h1) | 1;
    for (const seg of this.segments) {
      let all = true;
      for (let i = 0, h = h1; i < FILTER_HASHES; i++, h = (h + h2) | 0) {
        const bit = h & (FILTER_SEGMENT_BITS - 1);
        if ((seg[bit >>> 5]! & (1 << (bit & 31))) === 0) {
          all = false;
          break;
        }
      }
      if (all) return true;
    }
    return false;
  }
}

/** FNV-1a (32-bit) over UTF-16 code units. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

/** MurmurHash3's 32-bit finaliser: a second, independent-enough hash for double hashing. */
function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}
