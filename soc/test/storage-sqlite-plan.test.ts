// SQLite store layout of new day tables as SQLite itself reports it: partial secondary indexes
// that the query planner still picks for the filters search compiles (EXPLAIN QUERY PLAN), and
// the WAL checkpoint a writer without auto-checkpointing runs itself (PRAGMA wal_checkpoint).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EcsEvent } from '@xiangan/collectors';
import { openSqliteStore, SqliteEventStore } from '../src/storage/sqlite.js';
import { compileQuery } from '../src/storage/sqlite-query.js';
import { parseQuery } from '../src/query/parse.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'xa-plan-'));

function events(n: number): EcsEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `p-${i}`,
    '@timestamp': new Date(Date.UTC(2026, 10, 28, 1, 0, i)).toISOString(),
    message: `login ${i}`,
    event: {},
    ...(i % 3 === 0 ? { user: { name: `u${i % 5}` } } : {}),
    ...(i % 2 === 0 ? { source: { ip: `10.1.2.${i % 250}` } } : {}),
    ...(i % 4 !== 0 ? { host: { name: `h${i % 3}` } } : {}),
  }));
}

test('new day tables: partial indexes hold only events with the field and serve the compiled filters', async () => {
  const dir = tmp();
  const store = await openSqliteStore({ dir });
  try {
    await store.write(events(120));
  } finally {
    await store.close();
  }
  const db = new Database(join(dir, 'events.db'), { readonly: true });
  try {
    for (const col of ['source_ip', 'user_name', 'host_name']) {
      const sql = db.prepare('SELECT sql FROM sqlite_master WHERE name = ?').pluck().get(`ix_20261128_${col}`) as string;
      assert.match(sql, new RegExp(`WHERE ${col} IS NOT NULL$`));
      // SQLite's own record of the index (PRAGMA index_list: partial = 1).
      const info = (db.prepare("SELECT partial FROM pragma_index_list('ev_20261128') WHERE name = ?").get(`ix_20261128_${col}`) as { partial: number }).partial;
      assert.equal(info, 1);
    }
    const plan = (q: string): string => {
      const c = compileQuery(parseQuery(q), '20261128');
      return (db.prepare(`EXPLAIN QUERY PLAN SELECT doc FROM ev_20261128 WHERE ${c.sql}`).all(...c.params) as Array<{ detail: string }>).map((r) => r.detail).join('; ');
    };
    assert.match(plan('user.name:u3'), /ix_20261128_user_name/);
    assert.match(plan('source.ip:10.1.2.0/24'), /ix_20261128_source_ip/);
    assert.match(plan('host.name:h1'), /ix_20261128_host_name/);
    const facet = (db.prepare('EXPLAIN QUERY PLAN SELECT user_name AS v, count(*) FROM ev_20261128 WHERE user_name IS NOT NULL GROUP BY v').all() as Array<{ detail: string }>).map((r) => r.detail).join('; ');
    assert.match(facet, /ix_20261128_user_name/);
  } finally {
    db.close();
  }
  const again = await openSqliteStore({ dir });
  try {
    const r = await again.search({ query: parseQuery('user.name:u3'), size: 100 });
    assert.equal(r.total, events(120).filter((e) => e.user?.name === 'u3').length);
    assert.equal((await again.search({ query: parseQuery('source.ip:10.1.2.0/24'), size: 0 })).total, 60);
  } finally {
    await again.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a store without auto-checkpointing leaves the WAL to its own checkpoint, which copies it all', async () => {
  const dir = tmp();
  const store = new SqliteEventStore({ dir, autoCheckpoint: false });
  try {
    store.writeSync(events(50));
    const first = store.checkpoint();
    assert.ok(first.walPages > 0, 'the write left pages in the WAL');
    assert.equal(first.copied, first.walPages, 'no reader held them back');
    store.writeSync(events(60).slice(50));
    const second = store.checkpoint();
    assert.equal(second.copied, second.walPages);
    assert.equal((await store.search({ size: 0 })).total, 60);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
