// Test fixture: an events.db as stores made before 2026-11-29 left it (id UNIQUE, a (ts, id)
// index), written by hand so that tests check the store against that layout, not against itself.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { COLUMNS } from '../src/storage/sqlite-schema.js';

/**
 * Makes `<dir>/events.db` with the `days` catalog and one day table `ev_<s>` of the earlier
 * layout (FTS5 with its docsize table when `docsize`; `auto_vacuum = INCREMENTAL` when
 * `autoVacuum`, as the first stores had it), and returns the open connection.
 */
export function earlierLayoutDb(dir: string, s: string, o: { autoVacuum?: boolean; docsize?: boolean } = {}): Database.Database {
  const db = new Database(join(dir, 'events.db'));
  if (o.autoVacuum) db.pragma('auto_vacuum = INCREMENTAL');
  db.pragma('page_size = 16384');
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE days (day TEXT PRIMARY KEY, events INTEGER NOT NULL) WITHOUT ROWID');
  const cols = COLUMNS.map((c) => `${c.column} ${c.kind === 'time' || c.kind === 'number' ? 'INTEGER' : 'TEXT'}`);
  db.exec(`CREATE TABLE ev_${s} (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, ${cols.join(', ')}, message TEXT, doc TEXT NOT NULL)`);
  db.exec(`CREATE VIRTUAL TABLE fts_${s} USING fts5(message, content='ev_${s}', content_rowid='rowid'${o.docsize ? '' : ', columnsize=0'})`);
  db.exec(`CREATE INDEX ix_${s}_ts ON ev_${s} (ts, id)`);
  return db;
}
