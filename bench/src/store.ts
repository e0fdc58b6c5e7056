/**
 * bench:store — the SQLite store's CPU per event as its day table grows, alone (no sockets, no
 * buffer, no detection): bench:ingest's line mix goes through the real prepare stage (raw frames
 * → `Preparer`, integrity leaf hashes on) one step at a time, and only `writeColumns` plus the
 * WAL checkpoint the store worker runs after each step are timed, as process CPU time. Reported
 * per window of 100k rows (CPU-µs/event and WAL KB/event, the pages each commit rewrote), for the
 * day-table layout new stores make (`bucketed-id`: the insert bucket and the whole id, 32 rows per
 * INSERT) and the earlier ones (`bucketed`: the bucket and the id's first eight characters;
 * `keyed`: an index on those eight characters; `id-unique`: a UNIQUE index on the id:
 * `SqliteStoreOptions.layout`), written in turn per step in one process, so the growth each index causes shows on the same
 * machine and load.
 *
 * `XIANGAN_BENCH_STORE_MODE=floor` measures instead what each part of a day table costs: the
 * same prepared steps go, step by step in turn (same process, so the machine's load falls on all
 * alike), into the real store and into plain better-sqlite3 databases made with the exact DDL the
 * store makes for a keyed day (read back from a store's own `sqlite_master`), each variant leaving one part out
 * or changing one setting (see {@link VARIANTS}). The store's statements per step are repeated
 * by hand: one stored-ids query, rows (bound as arguments), the FTS5 rows of the step in one
 * INSERT … SELECT, the day count, the integrity leaf row, one commit, a PASSIVE checkpoint.
 * Merged into `bench/results/store.json` as `floor`.
 *
 * Env: `XIANGAN_BENCH_STORE_LINES` (default 300,000; 1,000,000 for the growth),
 * `XIANGAN_BENCH_STORE_LAYOUTS` (default `bucketed-id,bucketed,keyed,id-unique`; `bucketed-id:16`:
 * 16 rows per INSERT), `XIANGAN_BENCH_STORE_STEP` (5,000,
 * the consumer's default step), `XIANGAN_BENCH_STORE_MODE` (`layouts`, default, or `floor`),
 * `XIANGAN_BENCH_STORE_VARIANTS` (floor: a comma list of variant names; default all),
 * `XIANGAN_BENCH_STORE_CACHE_MB` (layouts: each store's page cache, default 8 as the store worker's),
 * `XIANGAN_BENCH_STORE_CPU` (`thread`: this thread's CPU instead of the process's),
 * `XIANGAN_BENCH_STORE_CHECKPOINT_EVERY` (layouts: checkpoint every n-th step, as the store worker
 * does with 4; floor: also the store checkpointing every n-th step).
 * Writes `bench/results/store.json` (`store-short.json` with any of these but the mode set: `resultsName`).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { eventId } from '@xiangan/collectors';
import { encodeFrames, Preparer, RawFrame, SqliteEventStore, type PreparedStep } from '@xiangan/soc';
import { benchSetting, formatTable, mergeResults, resultsName, writeResults } from './harness.js';
import { makeLine } from './syslog-mix.js';

const LINES = Number(benchSetting('XIANGAN_BENCH_STORE_LINES') ?? 300_000);
const STEP = Number(benchSetting('XIANGAN_BENCH_STORE_STEP') ?? 5_000);
const LAYOUTS = (benchSetting('XIANGAN_BENCH_STORE_LAYOUTS') ?? 'bucketed-id,bucketed,keyed,id-unique').split(',');
/** Which measurement (`floor` merges into the same results as its own section), not an override. */
const MODE = process.env.XIANGAN_BENCH_STORE_MODE ?? 'layouts';
const WINDOW = 100_000;
/** Page cache of each store (MiB): the store worker's default (`storage.cacheMb`, 8) unless `XIANGAN_BENCH_STORE_CACHE_MB` says otherwise. */
const CACHE_MB = Number(benchSetting('XIANGAN_BENCH_STORE_CACHE_MB') ?? 8);
const PAGE = 16_384;
const RECEIVED_AT = Date.UTC(2026, 10, 28, 2, 0, 0);

interface Window {
  rows: number;
  cpuMicrosPerEvent: number;
  walKbPerEvent: number;
}

/**
 * CPU µs so far: of the process, or with `XIANGAN_BENCH_STORE_CPU=thread` of this thread alone
 * (`/proc/thread-self/schedstat`: without V8's helper threads, as the pipeline's store worker is counted).
 */
const THREAD_CPU = benchSetting('XIANGAN_BENCH_STORE_CPU') === 'thread';
function cpuMicros(): number {
  if (THREAD_CPU) return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1000;
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** bench:ingest's lines `s`… as one step, through the real prepare stage (integrity leaf hashes on). */
function prepareStep(preparer: Preparer, s: number): PreparedStep {
  const peer = { address: '127.0.0.1', port: 40_000 };
  const frames: RawFrame[] = [];
  for (let i = s; i < Math.min(LINES, s + STEP); i++) {
    const bytes = Buffer.from(makeLine(i));
    const id = eventId({ kind: 'network', sourceId: 'syslog-tcp', peerAddress: peer.address, peerPort: peer.port, receivedAt: RECEIVED_AT + i, connection: 'bench', seq: i, bytes });
    frames.push(new RawFrame(bytes, { sourceId: 'syslog-tcp', transport: 'tcp', peer, receivedAt: RECEIVED_AT + i, timezone: 'Asia/Shanghai', eventId: id }, 'auto'));
  }
  const { data, meta } = encodeFrames(frames);
  return preparer.prepare([{ seq: s + 1, appendedAt: RECEIVED_AT, count: frames.length, data: '', kind: 'frames', frames: data, meta }])!;
}

type Layout = 'bucketed-id' | 'bucketed' | 'keyed' | 'id-unique';

interface LayoutRun {
  /** The layout, with `:n` when its rows per INSERT are not the store's default. */
  layout: string;
  dir: string;
  store: SqliteEventStore;
  windows: Window[];
  cpu: number;
  wal: number;
  inWindow: number;
  total: number;
  walTotal: number;
  steps: number;
}

async function layouts(): Promise<void> {
  // All layouts in one process, each step written to each store in turn (the order rotated per
  // step), so the machine's load falls on all alike; checkpoints as the store worker makes them.
  const every = Number(benchSetting('XIANGAN_BENCH_STORE_CHECKPOINT_EVERY') ?? 1);
  const load0 = loadavg()[0]!;
  const runs: LayoutRun[] = LAYOUTS.map((name) => {
    const [layout, rows] = name.split(':') as [Layout, string | undefined];
    const dir = mkdtempSync(join(tmpdir(), `xa-bench-store-${layout}-`));
    const store = new SqliteEventStore({ dir, synchronous: 'full', chain: true, autoCheckpoint: false, cacheMb: CACHE_MB, layout, ...(rows ? { rowsPerInsert: Number(rows) } : {}) });
    return { layout: name, dir, store, windows: [], cpu: 0, wal: 0, inWindow: 0, total: 0, walTotal: 0, steps: 0 };
  });
  try {
    const preparer = new Preparer('vendor', Date.now, true);
    for (let s = 0, k = 0; s < LINES; s += STEP, k++) {
      const step = prepareStep(preparer, s);
      (globalThis as { gc?: () => void }).gc?.();
      for (let j = 0; j < runs.length; j++) {
        const r = runs[(j + k) % runs.length]!;
        const c0 = cpuMicros();
        const w = r.store.writeColumns(step);
        const walPages = ++r.steps % every === 0 || s + STEP >= LINES ? r.store.checkpoint().walPages : 0;
        const us = cpuMicros() - c0;
        if (w.written !== step.count) throw new Error(`bench:store: ${w.written} of ${step.count} rows written (${r.layout})`);
        r.cpu += us;
        r.total += us;
        r.wal += walPages;
        r.walTotal += walPages;
        r.inWindow += step.count;
        if (r.inWindow >= WINDOW || s + STEP >= LINES) {
          r.windows.push({ rows: s + step.count, cpuMicrosPerEvent: r.cpu / r.inWindow, walKbPerEvent: (r.wal * PAGE) / 1024 / r.inWindow });
          r.cpu = 0;
          r.wal = 0;
          r.inWindow = 0;
        }
      }
    }
    for (const r of runs) await r.store.close();
  } finally {
    for (const r of runs) rmSync(r.dir, { recursive: true, force: true });
  }
  const load1 = loadavg()[0]!;
  const results = runs.map((r) => ({ layout: r.layout, windows: r.windows, meanCpuMicrosPerEvent: r.total / LINES, walFramesPerEvent: r.walTotal / LINES, loadAverage1m: [load0, load1] }));
  const rows: string[][] = [];
  for (const r of results) {
    for (const w of r.windows) rows.push([r.layout, w.rows.toLocaleString('en'), w.cpuMicrosPerEvent.toFixed(1), w.walKbPerEvent.toFixed(1)]);
    rows.push([r.layout, 'mean', r.meanCpuMicrosPerEvent.toFixed(1), `${r.walFramesPerEvent.toFixed(3)} frames/event, load ${load0.toFixed(1)} → ${load1.toFixed(1)}`]);
  }
  process.stdout.write(formatTable(['layout', 'rows', 'store CPU-µs/event', 'WAL KB/event'], rows));
  const path = writeResults(resultsName('store'), {
    lines: LINES,
    step: STEP,
    checkpointEvery: every,
    layouts: results,
    notes:
      'SqliteEventStore.writeColumns + PASSIVE WAL checkpoint every checkpointEvery steps (what the store worker runs), process CPU time, synchronous=FULL, integrity leaf index on, 16 KiB pages; steps prepared from bench:ingest lines by the real Preparer (not timed); the layouts written in turn per step in one process. bucketed-id = (rowid >> 14, id) index + key filter, 32 rows per INSERT; bucketed = (rowid >> 14, id key) index + in-memory key filter; keyed = id-key index; id-unique = UNIQUE id index, (ts, id) index.',
  });
  process.stdout.write(`results: ${path}\n`);
}

/** One floor variant: the store's day table with one part left out or one setting changed. */
interface Variant {
  name: string;
  /** Ask whether each id is stored before inserting it (the keyed store's idempotence check). */
  has: boolean;
  fts: boolean;
  /** Store the document (else an empty text in its place). */
  doc: boolean;
  /** Index names (the part after `ix_<day>_`) left out. */
  dropIndexes: string[];
  pageSize: number;
  /** Rows per INSERT statement. */
  rowsPerInsert: number;
  /** FTS5 configuration options set on the new table (SQLite FTS5 §6), none by default. */
  ftsConfig?: Array<[string, number]>;
}

// FTS5 automerge 16, crisismerge 64: what the store set on a new day's index from session 13 to 14 (since session 15 it merges itself: soc's sqlite-fts.ts; the floor keeps these).
const FTS_NEW: Array<[string, number]> = [['automerge', 16], ['crisismerge', 64]];
const FULL: Variant = { name: 'floor', has: true, fts: true, doc: true, dropIndexes: [], pageSize: PAGE, rowsPerInsert: 1, ftsConfig: FTS_NEW };
/** The variants of the floor mode, each against {@link FULL} (the store's own statements by hand). */
const VARIANTS: Variant[] = [
  FULL,
  { ...FULL, name: 'no has', has: false },
  { ...FULL, name: 'no FTS5', fts: false },
  { ...FULL, name: 'no doc', doc: false },
  // Without the key index the `has` check scans the table: this one is against `no has`.
  { ...FULL, name: 'no has and no idk index', has: false, dropIndexes: ['idk'] },
  { ...FULL, name: 'no ts index', dropIndexes: ['ts'] },
  { ...FULL, name: 'no source_ip index', dropIndexes: ['source_ip'] },
  { ...FULL, name: 'no user/host index', dropIndexes: ['user_name', 'host_name'] },
  { ...FULL, name: 'page 4096', pageSize: 4096 },
  { ...FULL, name: 'page 8192', pageSize: 8192 },
  { ...FULL, name: 'page 32768', pageSize: 32_768 },
  { ...FULL, name: 'no has and 32 rows/INSERT', has: false, rowsPerInsert: 32 },
  { ...FULL, name: 'FTS5 automerge 8', ftsConfig: [['automerge', 8]] },
  { ...FULL, name: 'FTS5 automerge 4 (earlier days)', ftsConfig: [['automerge', 4]] },
  { ...FULL, name: 'FTS5 hashsize 8 MiB', ftsConfig: [...FTS_NEW, ['hashsize', 8 << 20]] },
  { ...FULL, name: 'FTS5 pgsz 16000', ftsConfig: [...FTS_NEW, ['pgsz', 16_000]] },
  { name: 'bare rows', has: false, fts: false, doc: false, dropIndexes: ['idk', 'ts', 'source_ip', 'user_name', 'host_name'], pageSize: PAGE, rowsPerInsert: 1 },
];

/** A step's rows as the store binds them: id, the COLUMNS values (time first), message, doc. */
function stepRows(step: PreparedStep): Array<Array<string | number | null>> {
  const docs: string[] = [];
  for (const b of step.batches) if (b.count > 0) docs.push(...b.data.split('\n'));
  const rows: Array<Array<string | number | null>> = [];
  for (let i = 0; i < step.count; i++) rows.push([step.ids[i]!, step.ts[i]!, ...step.values.map((v) => v[i]!), step.messages[i] ?? null, docs[i]!]);
  return rows;
}

/** A plain better-sqlite3 database laid out by `ddl` as `v` says, and its per-step write. */
function floorDb(dir: string, v: Variant, ddl: Array<{ type: string; name: string; sql: string }>, day: string): { write: (step: PreparedStep, rows: Array<Array<string | number | null>>) => void; checkpoint: () => number; close: () => void } {
  const db = new Database(join(dir, 'events.db'));
  db.pragma(`page_size = ${v.pageSize}`);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma(`cache_size = ${-1024 * 16}`);
  db.pragma('wal_autocheckpoint = 0');
  const s = day.replaceAll('-', '');
  for (const d of ddl) {
    if (d.type === 'index' && v.dropIndexes.some((x) => d.name === `ix_${s}_${x}`)) continue;
    if (!v.fts && d.name === `fts_${s}`) continue;
    db.exec(d.sql);
  }
  // As literals: FTS5 takes only an integer value, and better-sqlite3 binds a JS number as a REAL.
  if (v.fts) for (const [k, n] of v.ftsConfig ?? []) db.exec(`INSERT INTO fts_${s} (fts_${s}, rank) VALUES ('${k}', ${Math.trunc(n)})`);
  const table = ddl.find((d) => d.type === 'table' && d.name.startsWith('ev_'))!.name;
  const leaf = ddl.find((d) => d.type === 'table' && !d.name.startsWith('ev_') && !d.name.startsWith('fts_') && d.name !== 'days')!.name;
  const names = db.prepare(`SELECT name FROM pragma_table_info('${table}') WHERE name <> 'rowid'`).pluck().all() as string[];
  const width = names.length;
  const values = (k: number): string => Array.from({ length: k }, () => `(${Array.from({ length: width }, () => '?').join(', ')})`).join(', ');
  const cols = names.join(', ');
  const one = db.prepare(`INSERT INTO ${table} (${cols}) VALUES ${values(1)}`);
  const many = db.prepare(`INSERT INTO ${table} (${cols}) VALUES ${values(v.rowsPerInsert)}`);
  // As the store asks (SqliteEventStore.writeOnce): which of the write's ids are stored, in one statement.
  const has = db.prepare(`SELECT j.key FROM json_each(?) AS j WHERE EXISTS (SELECT 1 FROM ${table} WHERE substr(id, 1, 8) = substr(j.value, 1, 8) AND id = j.value)`).pluck();
  const maxRowid = db.prepare(`SELECT coalesce(max(rowid), 0) FROM ${table}`).pluck();
  const fts = v.fts ? db.prepare(`INSERT INTO fts_${s} (rowid, message) SELECT rowid, message FROM ${table} WHERE rowid > ? AND message IS NOT NULL`) : undefined;
  const bump = db.prepare('INSERT INTO days (day, events) VALUES (?, ?) ON CONFLICT(day) DO UPDATE SET events = events + excluded.events');
  const leafRow = db.prepare(`INSERT INTO ${leaf} (ids, hashes) VALUES (?, ?)`);
  const batch: Array<string | number | null> = [];
  const write = db.transaction((step: PreparedStep, rows: Array<Array<string | number | null>>) => {
    const before = maxRowid.get() as number;
    const ids: string[] = [];
    const emit = (r: Array<string | number | null>): void => {
      if (!v.doc) r = [...r.slice(0, -1), ''];
      if (v.rowsPerInsert === 1) one.run(...r);
      else {
        batch.push(...r);
        if (batch.length === width * v.rowsPerInsert) {
          many.run(...batch);
          batch.length = 0;
        }
      }
    };
    const stored = new Set(v.has ? (has.all(JSON.stringify(rows.map((r) => r[0]))) as number[]) : []);
    const seen = new Set<string>();
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const id = r[0] as string;
      if (v.has && (stored.has(i) || seen.has(id))) continue;
      seen.add(id);
      emit(r);
      ids.push(id);
    }
    for (let k = 0; k < batch.length; k += width) one.run(...batch.slice(k, k + width));
    batch.length = 0;
    fts?.run(before);
    bump.run(day, ids.length);
    leafRow.run(JSON.stringify(ids), step.leafHashes!);
  });
  return {
    write,
    checkpoint: () => ((db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number }>)[0]?.log ?? 0) * v.pageSize,
    close: () => db.close(),
  };
}

async function floor(): Promise<void> {
  const want = benchSetting('XIANGAN_BENCH_STORE_VARIANTS')?.split(',');
  const variants = want ? VARIANTS.filter((v) => want.includes(v.name)) : VARIANTS;
  const root = mkdtempSync(join(tmpdir(), 'xa-bench-store-floor-'));
  const load0 = loadavg()[0]!;
  try {
    const preparer = new Preparer('vendor', Date.now, true);
    const first = prepareStep(preparer, 0);
    const day = new Date(first.ts[0]!).toISOString().slice(0, 10);
    // The exact DDL: a store makes its tables for the day, and they are read back from sqlite_master.
    // Keyed: the floor's hand-made id check is the keyed layout's one statement per step.
    const template = new SqliteEventStore({ dir: join(root, 'template'), chain: true, layout: 'keyed' });
    template.writeColumns(first);
    await template.close();
    const tdb = new Database(join(root, 'template', 'events.db'), { readonly: true });
    const shadow = /^fts_\d+_(data|idx|config|docsize|content)$/;
    const ddl = (tdb.prepare("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid").all() as Array<{ type: string; name: string; sql: string }>).filter((d) => !shadow.test(d.name));
    tdb.close();
    rmSync(join(root, 'template'), { recursive: true, force: true });
    const runs: Array<{ name: string; cpu: number; wal: number; window: number; windowRows: number; dir: string; write: (step: PreparedStep, rows: Array<Array<string | number | null>>) => void; checkpoint: () => number; close: () => Promise<void> | void }> = [];
    for (const v of variants) {
      const dir = join(root, `v${runs.length}`);
      mkdirSync(dir);
      const f = floorDb(dir, v, ddl, day);
      runs.push({ name: v.name, cpu: 0, wal: 0, window: 0, windowRows: 0, dir, ...f });
    }
    // The store itself, checkpointing after every step (what the store worker does when no next
    // request waits) and, as `XIANGAN_BENCH_STORE_CHECKPOINT_EVERY` says, only every n-th step
    // (the rest of the WAL's frames are copied by the next checkpoint, each page once).
    const every = Number(benchSetting('XIANGAN_BENCH_STORE_CHECKPOINT_EVERY') ?? 1);
    for (const n of every > 1 ? [every, 1] : [1]) {
      const dir = join(root, `store-${n}`);
      const store = new SqliteEventStore({ dir, synchronous: 'full', chain: true, autoCheckpoint: false, cacheMb: 16, layout: 'keyed' });
      let steps = 0;
      runs.unshift({
        name: n === 1 ? 'SqliteEventStore' : `SqliteEventStore, checkpoint every ${n} steps`,
        cpu: 0,
        wal: 0,
        window: 0,
        windowRows: 0,
        dir,
        write: (step) => {
          if (store.writeColumns(step).written !== step.count) throw new Error('bench:store floor: rows not written');
        },
        checkpoint: () => (++steps % n === 0 ? store.checkpoint().walPages * PAGE : 0),
        close: () => store.close(),
      });
    }
    for (let s = 0, k = 0; s < LINES; s += STEP, k++) {
      const step = s === 0 ? first : prepareStep(preparer, s);
      const rows = stepRows(step);
      // With --expose-gc the step's data is collected into the old generation before any variant
      // runs, so no variant pays the scavenge of data it did not make.
      (globalThis as { gc?: () => void }).gc?.();
      // Each step starts with another variant, so none always runs right after the step's preparation.
      for (let j = 0; j < runs.length; j++) {
        const r = runs[(j + k) % runs.length]!;
        const c0 = cpuMicros();
        r.write(step, rows);
        const wal = r.checkpoint();
        const us = cpuMicros() - c0;
        r.cpu += us;
        r.wal += wal;
        if (s >= LINES - WINDOW) {
          r.window += us;
          r.windowRows += step.count;
        }
      }
    }
    for (const r of runs) await r.close();
    const base = runs.find((r) => r.name === FULL.name);
    const results = runs.map((r) => ({
      variant: r.name,
      meanCpuMicrosPerEvent: r.cpu / LINES,
      lastWindowCpuMicrosPerEvent: r.window / r.windowRows,
      walKbPerEvent: r.wal / 1024 / LINES,
      dbMb: statSync(join(r.dir, 'events.db')).size / 1e6,
    }));
    const load1 = loadavg()[0]!;
    const baseMean = base ? base.cpu / LINES : NaN;
    process.stdout.write(
      formatTable(
        ['variant', 'CPU-µs/event', `last ${(WINDOW / 1000).toFixed(0)}k rows`, 'vs floor', 'WAL KB/event', 'db MB'],
        results.map((r) => [r.variant, r.meanCpuMicrosPerEvent.toFixed(1), r.lastWindowCpuMicrosPerEvent.toFixed(1), (r.meanCpuMicrosPerEvent - baseMean).toFixed(1), r.walKbPerEvent.toFixed(1), r.dbMb.toFixed(0)]),
      ),
    );
    process.stdout.write(`load ${load0.toFixed(1)} → ${load1.toFixed(1)}\n`);
    const path = mergeResults(resultsName('store'), 'floor', {
      lines: LINES,
      step: STEP,
      variants: results,
      loadAverage1m: [load0, load1],
      notes: 'Per step, in turn: SqliteEventStore.writeColumns and plain better-sqlite3 with the store’s DDL and statements (one part left out per variant), each + PASSIVE checkpoint; process CPU time; synchronous=FULL, 16 MiB cache.',
    });
    process.stdout.write(`results: ${path}\n`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (MODE === 'floor') await floor();
else await layouts();
