/**
 * How ECS fields map to the columns of a SQLite day table. Fields listed here get their own
 * column (and some an index); every other field is reached through `json_extract` on the stored
 * document, so any ECS or vendor field can be queried, only more slowly.
 */
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
 * Layout of a day table. `keyed` (new tables): lookups by id, and the check that makes a write
 * idempotent, go through an index on the id's first {@link ID_KEY_CHARS} characters
 * (`substr(id, 1, 8)`, SQLite "Indexes On Expressions"); `id-unique` (tables made before): a
 * UNIQUE index on `id` itself does both.
 *
 * Why: event ids are SM3 digests (GB/T 32905), so an index on `id` takes every insert at a random
 * place, and once the day's table is large each commit rewrites most of its leaf pages (16 KiB
 * each, into the WAL and then the database file): measured as the store's CPU per event doubling
 * from 100k to 1M rows. Eight hex digits are an eighth of the key's bytes, so the index has far
 * fewer pages to rewrite; 32 bits keep two ids of a 1M-event day sharing a key rare, and a lookup
 * compares the whole id on the rows that do. Being an expression, the key is kept by SQLite for
 * every row however it was inserted.
 */
export type DayLayout = 'keyed' | 'id-unique';

/** Characters of an id in the key index of keyed day tables (see {@link DayLayout}). */
export const ID_KEY_CHARS = 8;

/** The indexed expression of keyed day tables; queries must use it verbatim for SQLite to pick the index. */
export const ID_KEY_SQL = `substr(id, 1, ${ID_KEY_CHARS})`;

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
 * The one condition that finds an event by id on both day-table layouts through an index (the
 * id key's on keyed tables, the UNIQUE one on earlier tables); bind {@link idParams}.
 */
export const ID_WHERE = `${ID_KEY_SQL} = ? AND id = ?`;

/** The parameters of {@link ID_WHERE} for `id`. */
export function idParams(id: string): [string, string] {
  return [idKey(id), id];
}

/** DDL for one day: the event table, its indexes and its FTS5 index over `message`. */
export function dayTableDdl(day: string, layout: DayLayout = 'keyed'): string[] {
  const s = daySuffix(day);
  const cols = COLUMNS.map((c) => `${c.column} ${c.kind === 'time' || c.kind === 'number' ? 'INTEGER' : 'TEXT'}`);
  const keyed = layout === 'keyed';
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
  if (keyed) ddl.push(`CREATE INDEX IF NOT EXISTS ix_${s}_idk ON ev_${s} (${ID_KEY_SQL})`);
  for (const c of COLUMNS) {
    if (!c.indexed) continue;
    // On keyed tables the ts index is on ts alone: its entries then go in rowid order at the end
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

/** Two lowercase hex digits of each byte value. */
const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** The key prefix of an IPv4-mapped address (`::ffff:0:0/96`, RFC 4291 §2.5.5.2). */
const MAPPED_PREFIX = '00000000000000000000ffff';

/**
 * The key of a canonical dotted quad (exactly the IPv4 form `net.isIP` accepts), or null for
 * anything else, which {@link ipKey} then reads the general way. Why: every stored event has one
 * or two addresses, and `isIP` + `split` + a hex Buffer cost ~1 µs each, ~6 % of the prepare
 * worker's CPU (session 6 profile); this scan is ~0.1.
 */
function dottedQuadKey(s: string): string | null {
  const v = ipv4Value(s);
  return v < 0 ? null : MAPPED_PREFIX + HEX2[v >>> 24]! + HEX2[(v >>> 16) & 255]! + HEX2[(v >>> 8) & 255]! + HEX2[v & 255]!;
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
  if (c.kind === 'array') return JSON.stringify(Array.isArray(v) ? v : [v]);
  return typeof v === 'string' ? v : JSON.stringify(v);
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
