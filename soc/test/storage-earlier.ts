// Test fixtures: events.db files as earlier stores left them (the id UNIQUE layout of stores made
// before 2026-11-29; a day table with FTS5's default settings), written by hand so that tests check
// the store against those files, not against itself.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { COLUMNS, dayTableDdl } from '../src/storage/sqlite-schema.js';

/** Opens a new `<dir>/events.db` with the store's page size, WAL and an empty `days` catalog. */
function storeDb(dir: string, autoVacuum = false): Database.Database {
  const db = new Database(join(dir, 'events.db'));
  if (autoVacuum) db.pragma('auto_vacuum = INCREMENTAL');
  db.pragma('page_size = 16384');
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE days (day TEXT PRIMARY KEY, events INTEGER NOT NULL) WITHOUT ROWID');
  return db;
}

/**
 * Makes `<dir>/events.db` with the day table of `day` (dayTableDdl) as a build before
 * newDayFtsConfig made it: no FTS5 config rows, so FTS5's defaults (automerge 4).
 */
export function ftsDefaultsDayDb(dir: string, day: string): void {
  const db = storeDb(dir);
  for (const sql of dayTableDdl(day)) db.exec(sql);
  db.close();
}

/**
 * Makes `<dir>/events.db` with the `days` catalog and one day table `ev_<s>` of the earlier
 * layout (FTS5 with its docsize table when `docsize`; `auto_vacuum = INCREMENTAL` when
 * `autoVacuum`, as the first stores had it), and returns the open connection.
 */
export function earlierLayoutDb(dir: string, s: string, o: { autoVacuum?: boolean; docsize?: boolean } = {}): Database.Database {
  const db = storeDb(dir, o.autoVacuum);
  const cols = COLUMNS.map((c) => `${c.column} ${c.kind === 'time' || c.kind === 'number' ? 'INTEGER' : 'TEXT'}`);
  db.exec(`CREATE TABLE ev_${s} (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, ${cols.join(', ')}, message TEXT, doc TEXT NOT NULL)`);
  db.exec(`CREATE VIRTUAL TABLE fts_${s} USING fts5(message, content='ev_${s}', content_rowid='rowid'${o.docsize ? '' : ', columnsize=0'})`);
  db.exec(`CREATE INDEX ix_${s}_ts ON ev_${s} (ts, id)`);
  return db;
}
