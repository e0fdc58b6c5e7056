// The SQLite alert store's indexes: the two that only repeated a prefix of the list indexes are
// gone (also from a database made by an earlier version), and every query the store runs on
// alerts still reads an index, never the whole table. The plans are SQLite's own report
// (EXPLAIN QUERY PLAN), not our code's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ALERT_CACHE_MB, openSqliteAlertStore, WAL_AUTOCHECKPOINT_PAGES } from '../src/alerts/sqlite.js';

test('alert queries read an index after the prefix indexes are dropped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiangan-alert-plan-'));
  try {
    // A database as an earlier version left it: with alerts_status and alerts_seen.
    const old = new Database(join(dir, 'alerts.db'));
    old.exec('CREATE TABLE alerts (id TEXT PRIMARY KEY, rule_id TEXT NOT NULL, group_key TEXT NOT NULL, title TEXT NOT NULL, severity TEXT NOT NULL, severity_rank INTEGER NOT NULL, risk INTEGER NOT NULL, tags TEXT NOT NULL, kind TEXT NOT NULL, grp TEXT NOT NULL, status TEXT NOT NULL, assignee TEXT, count INTEGER NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, event_ids TEXT NOT NULL, correlation TEXT)');
    old.exec('CREATE INDEX alerts_status ON alerts(status, last_seen); CREATE INDEX alerts_seen ON alerts(last_seen);');
    old.close();
    const s = await openSqliteAlertStore({ dir });
    const names = (s.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'alerts' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
    assert.deepEqual(names, ['alerts_dedup', 'alerts_list', 'alerts_list_rule', 'alerts_list_status']);
    const plan = (sql: string, ...args: unknown[]) => (s.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map((r) => r.detail).join('; ');
    const queries: Array<[string, unknown[]]> = [
      // The list's totals with filters (countAlerts), its pages, retention, dedup.
      ['SELECT count(*) AS n FROM alerts WHERE status IN (?,?) AND severity_rank >= ?', ['new', 'acknowledged', 2]],
      ['SELECT count(*) AS n FROM alerts WHERE status IN (?,?) AND last_seen >= ?', ['new', 'acknowledged', '2026-11-28']],
      ['SELECT count(*) AS n FROM alerts WHERE last_seen >= ? AND last_seen < ?', ['2026-11-28', '2026-11-29']],
      ['SELECT * FROM alerts WHERE last_seen >= ? ORDER BY last_seen DESC, id LIMIT ? OFFSET ?', ['2026-11-28', 50, 0]],
      ['SELECT id FROM alerts WHERE status IN (?,?) AND updated_at < ? LIMIT 500', ['resolved', 'false_positive', '2026-01-01']],
      ['SELECT * FROM alerts WHERE rule_id = ? AND group_key = ? AND status IN (?,?,?) ORDER BY last_seen DESC LIMIT 1', ['r', 'g', 'new', 'acknowledged', 'in_progress']],
    ];
    for (const [sql, args] of queries) {
      const p = plan(sql, ...args);
      assert.match(p, /USING (COVERING )?INDEX alerts_/, `${sql}: ${p}`);
      assert.doesNotMatch(p, /SCAN alerts\b|TEMP B-TREE/, `${sql}: ${p}`);
    }
    await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the alert store checkpoints its WAL every WAL_AUTOCHECKPOINT_PAGES pages, not at SQLite default of 1,000, and caches ALERT_CACHE_MB', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiangan-alert-wal-'));
  try {
    const s = await openSqliteAlertStore({ dir });
    assert.equal(WAL_AUTOCHECKPOINT_PAGES, 16_000);
    // SQLite's own report of the connection's setting.
    assert.equal(s.db.pragma('wal_autocheckpoint', { simple: true }), WAL_AUTOCHECKPOINT_PAGES);
    assert.equal(s.db.pragma('journal_mode', { simple: true }), 'wal');
    // Not better-sqlite3's 16 MiB default (negative: KiB, SQLite "PRAGMA cache_size").
    assert.equal(ALERT_CACHE_MB, 8);
    assert.equal(s.db.pragma('cache_size', { simple: true }), -8192);
    await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
