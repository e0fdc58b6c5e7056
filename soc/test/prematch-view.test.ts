/**
 * Matched events as views (src/pipeline/prematch.ts `eventView`): the main thread reads of a
 * prematched event the same values as from its parsed document, parses the document only for a
 * field outside the projected segments, and a detector fed views records the same alerts,
 * suppressions and correlation windows as one fed the documents.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProcessor, newSourceMetrics, normalise, type EcsEvent } from '@xiangan/collectors';
import { BUILTIN_PACKS_DIR, loadRules, makeGetter, type EventLike } from '@xiangan/rules';
import { openSqliteAlertStore } from '../src/alerts/sqlite.js';
import type { Alert } from '../src/alerts/types.js';
import { Detector, loadDetectionEngine } from '../src/detection/detector.js';
import { eventView, HitTexts, projectEvent, Prematcher, type PrematchConfig, type PrematchedStep } from '../src/pipeline/prematch.js';

const proc = createProcessor({ charset: 'auto', timezone: 'Asia/Shanghai', metrics: newSourceMetrics('t'), normalise });

/** Syslog lines of several formats, as the collectors parse and normalise them. */
function syslogEvents(): EcsEvent[] {
  const lines = [
    '<38>Nov 28 10:00:01 bastion sshd[1000]: Failed password for root from 10.0.0.7 port 20000 ssh2',
    '<38>Nov 28 10:00:02 bastion sshd[811]: Accepted publickey for root from 10.0.0.8 port 51000 ssh2: RSA SHA256:abcdefghijklmnop',
    '<85>1 2026-11-28T02:00:03.000Z web01 sudo - - - alice : TTY=pts/1 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx',
    '<4>Nov 28 10:00:03 fw01 kernel: [12345.678] IPTABLES-DROP: IN=eth0 OUT= MAC=00:11:22:33:44:55 SRC=10.0.0.9 DST=192.168.1.10 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=4242 DF PROTO=TCP SPT=1024 DPT=22 WINDOW=29200 RES=0x00 SYN URGP=0',
    '<190>1 2026-11-28T02:00:04.000Z web01 nginx - - - 10.0.0.10 - - [28/Nov/2026:10:00:04 +0800] "GET /api/v1/items?id=1 HTTP/1.1" 200 512 "-" "Mozilla/5.0"',
  ];
  return lines.map((l, i) => proc(Buffer.from(l), { sourceId: 't', transport: 'tcp', receivedAt: Date.UTC(2026, 10, 28, 2) + i, timezone: 'Asia/Shanghai', eventId: `e${i}` }));
}

/** Every dotted path to a value of `v` (arrays walked through, as ECS multi-valued fields). */
function paths(v: unknown, prefix = ''): string[] {
  if (v === null || typeof v !== 'object') return prefix ? [prefix] : [];
  const out = prefix ? [prefix] : [];
  for (const [k, x] of Object.entries(v)) out.push(...paths(Array.isArray(x) ? x[0] : x, prefix ? `${prefix}.${k}` : k));
  return out;
}

test('a view reads as the parsed document: nested paths, literal dotted keys, absent fields, keys, `in`, JSON', () => {
  const flat = { id: 'f1', '@timestamp': '2026-11-28T02:00:00.000Z', 'source.ip': '10.1.1.1', source: { port: 1 }, 'process.name': 'sshd', message: 'x' };
  const segments = new Set(['id', '@timestamp', 'source', 'user', 'event']);
  for (const ev of [...syslogEvents(), flat as unknown as EcsEvent]) {
    const doc = JSON.stringify(ev);
    const parsed = JSON.parse(doc) as Record<string, unknown>;
    const view = eventView(JSON.stringify(projectEvent(ev, segments)), doc, segments);
    for (const p of [...paths(parsed), 'source.ip', 'source.port', 'user.name', 'process.name', 'nothing.here', 'event.original']) {
      assert.deepEqual(makeGetter(p)(view as unknown as EventLike), makeGetter(p)(parsed as EventLike), p);
    }
    assert.deepEqual(Object.keys(view), Object.keys(parsed));
    assert.equal('message' in view, 'message' in parsed);
    assert.equal(JSON.stringify(view), doc);
  }
});

test('a view parses its document only for a field outside its segments', () => {
  const segments = new Set(['id', 'source']);
  const ev = { id: 'x', source: { ip: '10.0.0.1' }, 'source.port': 22, message: 'm' } as unknown as EcsEvent;
  // A document that does not parse: reading it would throw.
  const view = eventView(JSON.stringify(projectEvent(ev, segments)), '{', segments) as unknown as Record<string, unknown>;
  assert.equal(view.id, 'x');
  assert.deepEqual(view.source, { ip: '10.0.0.1' });
  assert.equal(view['source.port'], 22);
  assert.equal(view['source.bytes'], undefined);
  assert.throws(() => view.message, SyntaxError);
});

test('a view given its document as a function reads it only on leaving the view, and once', () => {
  const segments = new Set(['id', 'source']);
  const ev = { id: 'x', source: { ip: '10.0.0.1' }, message: 'm', user: { name: 'u' } } as unknown as EcsEvent;
  let reads = 0;
  const view = eventView(JSON.stringify(projectEvent(ev, segments)), () => (reads++, JSON.stringify(ev)), segments) as unknown as Record<string, unknown>;
  assert.equal(view.id, 'x');
  assert.deepEqual(view.source, { ip: '10.0.0.1' });
  assert.equal(reads, 0, 'no read within the view');
  assert.equal(view.message, 'm');
  assert.deepEqual(view.user, { name: 'u' });
  assert.deepEqual(Object.keys(view), Object.keys(ev));
  assert.equal(reads, 1, 'the document is read once');
});

/** Prematched steps of `events` (three buffer batches a step) made by a prepare-side {@link Prematcher}. */
async function steps(cfg: PrematchConfig, events: EcsEvent[]): Promise<PrematchedStep[]> {
  const pm = new Prematcher();
  assert.equal(await pm.configure(cfg), true);
  const out: PrematchedStep[] = [];
  let seq = 0;
  for (let s = 0; s < events.length; s += 30) {
    pm.begin();
    const chunk = events.slice(s, s + 30);
    chunk.forEach((ev, j) => pm.event(seq + 1 + Math.floor(j / 10), ev, JSON.stringify(ev)));
    seq += Math.ceil(chunk.length / 10);
    out.push(pm.take(seq)!);
  }
  return out;
}

/** Pack samples (their own time order kept per rule) and parsed syslog lines, ids unique. */
function stream(): EcsEvent[] {
  const out: EcsEvent[] = [];
  loadRules(BUILTIN_PACKS_DIR).rules.forEach((r, ri) => {
    type Sample = EcsEvent | EcsEvent[];
    const s = (r.doc['x-xiangan'] as { samples?: { match?: Sample[]; nomatch?: Sample[] } } | undefined)?.samples;
    [...(s?.match ?? []), ...(s?.nomatch ?? [])].forEach((g, gi) => {
      for (const e of Array.isArray(g) ? g : [g]) out.push({ ...e, id: `r${ri}-g${gi}-${String(e.id)}` });
    });
  });
  for (let k = 0; k < 4; k++) for (const e of syslogEvents()) out.push({ ...e, id: `s${k}-${e.id}` });
  return out;
}

function shape(a: Alert): unknown {
  return { id: a.id, ruleId: a.ruleId, kind: a.kind, groupKey: a.groupKey, group: a.group, count: a.count, firstSeen: a.firstSeen, lastSeen: a.lastSeen, eventIds: a.eventIds, correlation: a.correlation };
}

test('a detector fed views records what one fed documents does, suppressions on fields outside the views included', async () => {
  const events = stream();
  const results: Array<{ alerts: unknown[]; suppressed: number; windows: string; viewed: number }> = [];
  for (const useViews of [false, true]) {
    const dir = mkdtempSync(join(tmpdir(), 'xiangan-view-'));
    const alerts = await openSqliteAlertStore({ dir, now: () => Date.UTC(2026, 10, 29) });
    try {
      // An exception on a field no view holds (`process.name`): the suppression reads the document.
      await alerts.addSuppression({ kind: 'exception', match: { 'process.name': ['sshd'] }, reason: 'test', createdBy: 't' });
      const detector = await Detector.open({ engine: loadDetectionEngine().engine, alerts, checkpointIntervalMs: 0 });
      let cfg: PrematchConfig | undefined;
      detector.onRulesChanged((c) => (cfg = c));
      assert.ok(cfg?.project?.includes('source'));
      let viewed = 0;
      // Without a projection the worker sends no views: the detector parses every document.
      for (const st of await steps(useViews ? cfg! : { ...cfg!, project: undefined }, events)) {
        const hits = new HitTexts(st);
        for (let i = 0; i < hits.length; i++) if (hits.view(i) !== '') viewed++;
        await detector.afterWrite([st]);
      }
      const page = await alerts.list({ size: 1000 });
      results.push({ alerts: page.alerts.map(shape), suppressed: detector.stats().suppressed, windows: JSON.stringify(detector.engine.snapshot()), viewed });
    } finally {
      await alerts.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const [docs, views] = results;
  assert.ok(views!.viewed > 0);
  assert.ok(docs!.alerts.length > 0);
  assert.ok(docs!.suppressed > 0);
  assert.deepEqual(views!.alerts, docs!.alerts);
  assert.equal(views!.suppressed, docs!.suppressed);
  assert.equal(views!.windows, docs!.windows);
});
