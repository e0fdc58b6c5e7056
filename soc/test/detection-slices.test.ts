// Detection and the windows save in slices (detection/slices.ts): with a slice of 0 ms (the event
// loop gets a turn after every snapshot piece and every 32 events), the saved windows file is
// byte for byte what an unsliced save writes at the same point (JSON.stringify({ snapshot,
// maxTime }) as the pass recorded its alerts); a pass asked for while a save is in progress waits
// for it and is applied after (the file read when that pass records still holds the first point);
// timers and I/O run between the slices; a restart restores the last saved windows; the alerts
// are those of an unsliced detector fed the same batches; a rule switched off during a pass
// takes effect after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EcsEvent } from '@xiangan/collectors';
import { BUILTIN_PACKS_DIR, loadRules } from '@xiangan/rules';
import { openSqliteAlertStore } from '../src/alerts/sqlite.js';
import { Detector, loadDetectionEngine, type DetectionResult } from '../src/detection/detector.js';
import type { RawBatch } from '../src/buffer/durable.js';

const BRUTE = '8f9c03e0-dcbf-5469-9624-e35c029e1c5c';

/** Failed SSH logins (the brute-force pack rule's sample), `n` from each of `ips` addresses, ids from `from`. */
function failures(ips: number, n: number, from: number, sec0: number): EcsEvent[] {
  const r = loadRules(join(BUILTIN_PACKS_DIR, 'linux', 'ssh_brute_force.yml')).rules[0]!;
  const template = (r.doc['x-xiangan'] as { samples: { match: EcsEvent[][] } }).samples.match[0]![0]!;
  const out: EcsEvent[] = [];
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < ips; i++) {
      const e = structuredClone(template) as unknown as Record<string, unknown>;
      const ip = `10.${(i >> 8) & 255}.${i & 255}.7`;
      e.id = `sl-${from + out.length}`;
      e['@timestamp'] = new Date(Date.UTC(2026, 10, 30, 3, 0, sec0 + k)).toISOString();
      e.message = `Failed password for root from ${ip} port 52100 ssh2`;
      e.source = { ip, port: 52100 };
      e.user = { name: i % 3 ? 'root' : '张三' };
      out.push(e as unknown as EcsEvent);
    }
  }
  return out;
}

function batch(seq: number, events: EcsEvent[]): RawBatch {
  return { seq, appendedAt: 0, count: events.length, data: events.map((e) => JSON.stringify(e)).join('\n') };
}

async function open(dir: string, sliceMs: number | undefined, onRecorded?: (r: DetectionResult) => void) {
  const alerts = await openSqliteAlertStore({ dir, now: () => Date.UTC(2026, 10, 30, 4) });
  const detector = await Detector.open({
    engine: loadDetectionEngine().engine,
    alerts,
    windowsFile: join(dir, 'detector.windows.json'),
    checkpointIntervalMs: 0,
    ...(sliceMs !== undefined ? { sliceMs } : {}),
    ...(onRecorded ? { onRecorded } : {}),
  });
  return { alerts, detector };
}

test('a sliced save writes what an unsliced one writes at that point; a pass asked for meanwhile waits and is applied after; restart restores', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiangan-slices-'));
  const file = join(dir, 'detector.windows.json');
  try {
    const b1 = batch(1, failures(400, 3, 0, 0));
    const b2 = batch(2, failures(400, 3, 10_000, 20));
    const seen: string[] = [];
    const atRecord: string[] = [];
    let d!: Detector;
    let second: Promise<unknown> | undefined;
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const a = await open(dir, 0, (r) => {
      // The text an unsliced save would write now (the pass has recorded, its save not begun),
      // and what the file holds (the save before this pass).
      seen.push(readFileSync(file, 'utf8'));
      atRecord.push(JSON.stringify(d.engine.snapshot()));
      assert.ok(r.events > 0);
      // Ask for the next pass while this one's save is in progress (it yields after every piece).
      if (!second) setImmediate(() => (second = d.afterWrite([b2])));
    });
    d = a.detector;
    await d.checkpoint();
    const groups0 = readFileSync(file, 'utf8');
    await d.afterWrite([b1]);
    assert.ok(second, 'the second pass was asked for during the first one');
    await second;
    clearInterval(timer);
    assert.ok(ticks > 5, `timers ran between slices (${ticks})`);
    assert.equal(seen.length, 2);
    assert.equal(seen[0], groups0);
    // When the second pass recorded, the file held the first pass's save, whole and unmixed.
    const first = JSON.parse(seen[1]!) as { snapshot: { groups: unknown[] }; maxTime: number };
    assert.ok(first.snapshot.groups.length >= 400);
    assert.equal(seen[1], `{"snapshot":${atRecord[0]},"maxTime":${first.maxTime}}`);
    // A save asked for now (the second pass may have skipped its own: the interval stretches
    // with the save's cost) writes the second point, as an unsliced save writes it.
    await d.checkpoint();
    const last = readFileSync(file, 'utf8');
    assert.equal(last, JSON.stringify({ snapshot: d.engine.snapshot(), maxTime: (JSON.parse(last) as { maxTime: number }).maxTime }));
    assert.notEqual(last, seen[1], 'the second pass changed the windows');
    await a.alerts.close();

    // A restart restores the same windows.
    const b = await open(dir, 0);
    assert.equal(b.detector.engine.snapshotJson(), d.engine.snapshotJson());
    await b.alerts.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sliced and unsliced detectors fed the same batches: the same alerts, windows file and counters', async () => {
  const dirs = [mkdtempSync(join(tmpdir(), 'xiangan-slices-')), mkdtempSync(join(tmpdir(), 'xiangan-slices-'))];
  try {
    const batches = [failures(60, 12, 0, 0), failures(60, 6, 5_000, 12), failures(40, 11, 9_000, 400)].map((e, i) => batch(i + 1, e));
    const out: { alerts: unknown; file: string; stats: unknown }[] = [];
    for (const [k, sliceMs] of [0, 1e9].entries()) {
      const s = await open(dirs[k]!, sliceMs);
      for (const b of batches) await s.detector.afterWrite([b]);
      // Whether a pass saves depends on the wall-clock cost of the last save (the interval
      // stretches with it), so the file is compared after a save asked for at the same point.
      await s.detector.checkpoint();
      const list = await s.alerts.list({ size: 500 });
      assert.ok(list.total >= 50, `alerts raised (${list.total})`);
      out.push({ alerts: list.alerts, file: readFileSync(join(dirs[k]!, 'detector.windows.json'), 'utf8'), stats: s.detector.stats() });
      assert.ok((await s.alerts.list({ ruleId: BRUTE })).total > 0);
      await s.alerts.close();
    }
    assert.deepStrictEqual(out[0], out[1]);
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});

test('a rule switched off while a sliced pass runs takes effect after the pass', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiangan-slices-'));
  try {
    const s = await open(dir, 0);
    const pass = s.detector.afterWrite([batch(1, failures(200, 10, 0, 0))]);
    // Asked for while the pass yields between its slices.
    await new Promise<void>((r) => setImmediate(r));
    const off = s.detector.setRuleEnabled(BRUTE, false, 'admin');
    const r = (await pass)!;
    assert.equal(r.created.filter((a) => a.ruleId === BRUTE).length, 200, 'the pass ran wholly under the rule set it started with');
    await off;
    assert.equal(s.detector.isRuleEnabled(BRUTE), false);
    assert.equal(s.detector.engine.isRuleEnabled(BRUTE), false);
    await s.alerts.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
