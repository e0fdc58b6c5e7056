/**
 * bench:store — the SQLite store's CPU per event as its day table grows, alone (no sockets, no
 * buffer, no detection): bench:ingest's line mix goes through the real prepare stage (raw frames
 * → `Preparer`, integrity leaf hashes on) one step at a time, and only `writeColumns` plus the
 * WAL checkpoint the store worker runs after each step are timed, as process CPU time. Reported
 * per window of 100k rows (CPU-µs/event and WAL KB/event, the pages each commit rewrote), for the
 * day-table layout new stores make (`keyed`) and the earlier one (`id-unique`: a UNIQUE index on
 * the id: `SqliteStoreOptions.layout`), so the growth each index
 * causes shows on the same machine and load.
 *
 * Env: `XIANGAN_BENCH_STORE_LINES` (default 300,000; 1,000,000 for the growth),
 * `XIANGAN_BENCH_STORE_LAYOUTS` (default `keyed,id-unique`), `XIANGAN_BENCH_STORE_STEP` (5,000,
 * the consumer's default step). Writes `bench/results/store.json`.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { eventId } from '@xiangan/collectors';
import { encodeFrames, Preparer, RawFrame, SqliteEventStore } from '@xiangan/soc';
import { formatTable, writeResults } from './harness.js';
import { makeLine } from './syslog-mix.js';

const LINES = Number(process.env.XIANGAN_BENCH_STORE_LINES ?? 300_000);
const STEP = Number(process.env.XIANGAN_BENCH_STORE_STEP ?? 5_000);
const LAYOUTS = (process.env.XIANGAN_BENCH_STORE_LAYOUTS ?? 'keyed,id-unique').split(',') as Array<'keyed' | 'id-unique'>;
const WINDOW = 100_000;
const PAGE = 16_384;

interface Window {
  rows: number;
  cpuMicrosPerEvent: number;
  walKbPerEvent: number;
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function run(layout: 'keyed' | 'id-unique'): Promise<{ layout: string; windows: Window[]; meanCpuMicrosPerEvent: number; dbMb: number; loadAverage1m: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), `xa-bench-store-${layout}-`));
  const load0 = loadavg()[0]!;
  try {
    const store = new SqliteEventStore({ dir, synchronous: 'full', chain: true, autoCheckpoint: false, layout });
    const preparer = new Preparer('vendor', Date.now, true);
    const peer = { address: '127.0.0.1', port: 40_000 };
    const receivedAt = Date.UTC(2026, 10, 28, 2, 0, 0);
    const windows: Window[] = [];
    let cpu = 0;
    let wal = 0;
    let inWindow = 0;
    let total = 0;
    for (let s = 0; s < LINES; s += STEP) {
      const frames: RawFrame[] = [];
      for (let i = s; i < Math.min(LINES, s + STEP); i++) {
        const bytes = Buffer.from(makeLine(i));
        const id = eventId({ kind: 'network', sourceId: 'syslog-tcp', peerAddress: peer.address, peerPort: peer.port, receivedAt: receivedAt + i, connection: 'bench', seq: i, bytes });
        frames.push(new RawFrame(bytes, { sourceId: 'syslog-tcp', transport: 'tcp', peer, receivedAt: receivedAt + i, timezone: 'Asia/Shanghai', eventId: id }, 'auto'));
      }
      const { data, meta } = encodeFrames(frames);
      const step = preparer.prepare([{ seq: s + 1, appendedAt: receivedAt, count: frames.length, data: '', kind: 'frames', frames: data, meta }])!;
      const c0 = cpuMicros();
      const r = store.writeColumns(step);
      const ck = store.checkpoint();
      const us = cpuMicros() - c0;
      if (r.written !== step.count) throw new Error(`bench:store: ${r.written} of ${step.count} rows written`);
      cpu += us;
      total += us;
      wal += ck.walPages;
      inWindow += step.count;
      if (inWindow >= WINDOW || s + STEP >= LINES) {
        windows.push({ rows: s + step.count, cpuMicrosPerEvent: cpu / inWindow, walKbPerEvent: (wal * PAGE) / 1024 / inWindow });
        cpu = 0;
        wal = 0;
        inWindow = 0;
      }
    }
    const dbMb = statSync(join(dir, 'events.db')).size / 1e6;
    await store.close();
    return { layout, windows, meanCpuMicrosPerEvent: total / LINES, dbMb, loadAverage1m: [load0, loadavg()[0]!] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// One after another: each layout's store is closed before its directory is removed and the next starts.
const results = [];
for (const layout of LAYOUTS) results.push(await run(layout));
const rows: string[][] = [];
for (const r of results) {
  for (const w of r.windows) rows.push([r.layout, w.rows.toLocaleString('en'), w.cpuMicrosPerEvent.toFixed(1), w.walKbPerEvent.toFixed(1)]);
  rows.push([r.layout, 'mean', r.meanCpuMicrosPerEvent.toFixed(1), `load ${r.loadAverage1m.map((l) => l.toFixed(1)).join(' → ')}`]);
}
process.stdout.write(formatTable(['layout', 'rows', 'store CPU-µs/event', 'WAL KB/event'], rows));
const path = writeResults('store', {
  lines: LINES,
  step: STEP,
  layouts: results,
  notes:
    'SqliteEventStore.writeColumns + PASSIVE WAL checkpoint per step (what the store worker runs), process CPU time, synchronous=FULL, integrity leaf index on, 16 KiB pages; steps prepared from bench:ingest lines by the real Preparer (not timed). id-unique = the day-table layout before the keyed one (UNIQUE id index, (ts, id) index).',
});
process.stdout.write(`results: ${path}\n`);
