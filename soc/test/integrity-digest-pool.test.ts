// DigestPool's worker threads (src/integrity/digest.ts): held only while a request waits, so a
// process that digests with the pool and never closes it still finishes its work and exits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const DIGEST_JS = new URL('../src/integrity/digest.js', import.meta.url).href;
const SQLITE_JS = import.meta.resolve('better-sqlite3');

test('a pool digests in its workers and, idle and never closed, does not keep the process alive', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xa-digest-pool-'));
  try {
    const path = join(dir, 'events.db');
    const db = new Database(path);
    db.exec('CREATE TABLE ev_20261128 (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL, doc TEXT NOT NULL)');
    const ins = db.prepare('INSERT INTO ev_20261128 (id, doc) VALUES (?, ?)');
    for (let i = 0; i < 300; i++) ins.run(`e-${i}`, JSON.stringify({ id: `e-${i}`, n: i }));
    db.close();
    // The child has nothing of its own pending while it awaits the workers' parts: without the
    // ref during a request it would exit before printing; with workers held after it, never.
    const script = `
      const { DigestPool } = await import(${JSON.stringify(DIGEST_JS)});
      const { default: Database } = await import(${JSON.stringify(SQLITE_JS)});
      const db = new Database(${JSON.stringify(path)}, { readonly: true });
      const pool = new DigestPool(${JSON.stringify(path)}, db, { workers: 2, minPerPart: 10 });
      const d = await pool.digest('ev_20261128');
      console.log(JSON.stringify({ ids: d.ids.length, first: d.ids[0], last: d.ids.at(-1), bytes: d.hashes.length }));
    `;
    // A file, not `-e`: the workers would inherit `--input-type`.
    const file = join(dir, 'digest.mjs');
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.error, undefined, 'the process did not exit on its own (killed at 20 s)');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { ids: 300, first: 'e-0', last: 'e-299', bytes: 300 * 32 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
