// Test fixtures: events.db files as earlier stores left them (the id UNIQUE layout of stores made
// before 2026-11-29; a day table with FTS5's default settings), written by hand so that tests check
// the store against those files, not against itself.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { COLUMNS, dayTableDdl } from '../src/storage/sqlite-schema.js';
import { FTS_AUTOMERGE, FTS_CRISISMERGE, FTS_USERMERGE } from '../src/storage/sqlite-fts.js';

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
 * Checks `<dir>/events.db` (closed by the store) after writes to a day the store made (`made`)
 * and one made as {@link ftsDefaultsDayDb} makes it (`before`): the store's FTS5 settings on the
 * first, none on the second, and FTS5's own integrity check of both indexes against their tables.
 */
export function assertFtsDays(dir: string, made: string, before: string): void {
  const db = new Database(join(dir, 'events.db'));
  try {
    const config = (s: string): unknown => db.prepare(`SELECT k, v FROM fts_${s}_config WHERE k IN ('automerge', 'crisismerge', 'usermerge') ORDER BY k`).raw().all();
    assert.deepEqual(config(made), [['automerge', FTS_AUTOMERGE], ['crisismerge', FTS_CRISISMERGE], ['usermerge', FTS_USERMERGE]]);
    assert.deepEqual(config(before), []);
    for (const s of [before, made]) db.prepare(`INSERT INTO fts_${s} (fts_${s}, rank) VALUES ('integrity-check', 1)`).run();
  } finally {
    db.close();
  }
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
