/**
 * Detection's stateless half in the prepare worker (src/pipeline/prematch.ts): the pipeline
 * raises the same alerts as with the engine's plain match on the main thread, and rule changes
 * reach the worker (older matches are evaluated again).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventId, type EcsEvent, type SourceContext } from '@xiangan/collectors';
import { BUILTIN_PACKS_DIR, loadRules, type EventLike } from '@xiangan/rules';
import { openSqliteAlertStore } from '../src/alerts/sqlite.js';
import type { Alert } from '../src/alerts/types.js';
import { DurableBuffer } from '../src/buffer/durable.js';
import { RawFrame } from '../src/buffer/raw.js';
import { Detector, loadDetectionEngine } from '../src/detection/detector.js';
import { StoreConsumer } from '../src/pipeline/consumer.js';
import { HitTexts, Prematcher, type PrematchedStep } from '../src/pipeline/prematch.js';

/** A step's hits as arrays of their texts. */
function hitArrays(s: PrematchedStep): { docs: string[]; views: string[] } {
  const h = new HitTexts(s);
  const docs: string[] = [];
  const views: string[] = [];
  for (let i = 0; i < h.length; i++) {
    docs.push(h.doc(i));
    views.push(h.view(i));
  }
  return { docs, views };
}
import { WorkerWriter } from '../src/pipeline/store-worker.js';

const BRUTE = '8f9c03e0-dcbf-5469-9624-e35c029e1c5c';

/**
 * Every sample event of the built-in packs (matching and not, correlations included), in pack
 * order, with ids made unique per rule and sample group.
 */
function packSamples(): EcsEvent[] {
  const out: EcsEvent[] = [];
  const { rules } = loadRules(BUILTIN_PACKS_DIR);
  rules.forEach((r, ri) => {
    // A detection's samples are events; a correlation's are sequences of events.
    type Sample = EcsEvent | EcsEvent[];
    const s = (r.doc['x-xiangan'] as { samples?: { match?: Sample[]; nomatch?: Sample[] } } | undefined)?.samples;
    const groups = [...(s?.match ?? []), ...(s?.nomatch ?? [])];
    groups.forEach((g, gi) => {
      for (const e of Array.isArray(g) ? g : [g]) out.push({ ...e, id: `r${ri}-g${gi}-${String(e.id)}` });
    });
  });
  return out;
}

/**
 * Twelve sshd failures from one address as raw TCP frames (parsed in the prepare worker), later
 * than every pack sample so that no sample's time has moved the correlation clock past them.
 */
function sshFrames(first: number): RawFrame[] {
  const peer = { address: '127.0.0.1', port: 40001 };
  const receivedAt = Date.UTC(2026, 10, 30, 2, 0, 0);
  const out: RawFrame[] = [];
  for (let i = 0; i < 12; i++) {
    const bytes = Buffer.from(`<38>1 2031-01-01T00:00:${String(10 + i)}Z bastion sshd 1201 - - Failed password for root from 198.51.100.7 port ${52100 + i} ssh2`);
    const ctx: SourceContext = {
      sourceId: 'syslog-tcp',
      transport: 'tcp',
      peer,
      receivedAt: receivedAt + i,
      timezone: 'Asia/Shanghai',
      eventId: eventId({ kind: 'network', sourceId: 'syslog-tcp', peerAddress: peer.address, peerPort: peer.port, receivedAt, connection: 'c1', seq: first + i, bytes }),
    };
    out.push(new RawFrame(bytes, ctx, 'auto'));
  }
  return out;
}

const LATE: EcsEvent = { id: 'late-nothing', '@timestamp': '2032-01-01T00:00:00.000Z', message: 'nothing to detect', event: { kind: 'event' } };

/** What an alert says about detection (not its wall-clock times or random id). */
function shape(a: Alert): unknown {
  return { ruleId: a.ruleId, kind: a.kind, groupKey: a.groupKey, group: a.group, count: a.count, firstSeen: a.firstSeen, lastSeen: a.lastSeen, eventIds: a.eventIds, correlation: a.correlation };
}

function sorted(alerts: Alert[]): unknown[] {
  return alerts.map(shape).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
}

/**
 * Runs the stream through the real pipeline (buffer → prepare worker → store worker → detector)
 * in small steps, with detection's stateless half in the prepare worker (`split`) or the
 * documents shipped to the main thread's `engine.match`. `between` runs after the first half.
 */
async function run(split: boolean, between?: (d: Detector, w: WorkerWriter) => Promise<void>): Promise<{ alerts: Alert[]; prematched: PrematchedStep[]; documentSteps: number; detector: Detector; checkpoint: { seq: number; maxTime: number } }> {
  const dir = mkdtempSync(join(tmpdir(), 'xiangan-prematch-'));
  const buffer = new DurableBuffer({ dir });
  const writer = new WorkerWriter({ dir, synchronous: 'normal' });
  const alerts = await openSqliteAlertStore({ dir });
  const prematched: PrematchedStep[] = [];
  let documentSteps = 0;
  try {
    const detector = await Detector.open({ engine: loadDetectionEngine().engine, alerts, checkpointIntervalMs: 0 });
    if (split) detector.onRulesChanged((c) => writer.setRules(c));
    const consumer = new StoreConsumer({
      buffer,
      writer: (a, m) => writer.write(a, m),
      batchEvents: 7,
      afterWrite: async (info) => {
        if (info.prematched) prematched.push(...info.prematched);
        else documentSteps++;
        await detector.afterWrite(info.prematched ?? info.batches!);
      },
    });
    const events = packSamples();
    const half = Math.floor(events.length / 2);
    // Appended in several buffer batches: documents (HTTP ingest) and raw frames mixed.
    for (let i = 0; i < half; i += 9) await buffer.append(events.slice(i, Math.min(i + 9, half)));
    await buffer.append(sshFrames(0).slice(0, 6) as unknown as EcsEvent[]);
    consumer.start();
    await consumer.drain();
    await consumer.stop();
    await between?.(detector, writer);
    await buffer.append(sshFrames(0).slice(6) as unknown as EcsEvent[]);
    for (let i = half; i < events.length; i += 9) await buffer.append(events.slice(i, i + 9));
    // The newest event matches nothing: event time must still reach it.
    await buffer.append([LATE]);
    consumer.start();
    await consumer.drain();
    await consumer.stop();
    const checkpoint = JSON.parse((await alerts.loadCheckpoint('detector'))!) as { seq: number; maxTime: number };
    return { alerts: (await alerts.list({ size: 1000 })).alerts, prematched, documentSteps, detector, checkpoint };
  } finally {
    await writer.close();
    buffer.close();
    await alerts.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the pipeline raises the same alerts with detection split across the prepare worker as with the plain match', async () => {
  const plain = await run(false);
  const split = await run(true);
  assert.equal(plain.prematched.length, 0);
  assert.ok(split.prematched.length > 0 && split.documentSteps === 0, 'every step of the split run came prematched');
  const hits = split.prematched.reduce((n, s) => n + new HitTexts(s).length, 0);
  const evaluated = split.prematched.reduce((n, s) => n + s.batches.reduce((m, b) => m + b.events, 0), 0);
  assert.equal(evaluated, packSamples().length + 13, 'every event was evaluated once in the worker');
  assert.ok(!split.prematched.some((s) => hitArrays(s).docs.some((d) => d.includes(LATE.id))), 'the late event matched nothing');
  assert.ok(hits < evaluated, 'only matched events reach the main thread');
  assert.ok(split.prematched.some((s) => hitArrays(s).views.some((v) => v !== '')), 'matched events came with views through the workers');
  assert.ok(plain.alerts.some((a) => a.kind === 'correlation' && a.ruleId === BRUTE && a.group['source.ip'] === '203.0.113.5'), 'the brute-force sample fires');
  assert.ok(plain.alerts.some((a) => a.kind === 'correlation' && a.ruleId === BRUTE && a.group['source.ip'] === '198.51.100.7'), 'the raw sshd frames fire across two runs of the consumer');
  assert.deepEqual(sorted(split.alerts), sorted(plain.alerts));
  assert.equal(split.detector.stats().events, plain.detector.stats().events);
  // Event time (what closes tumbling windows) advanced over every event, matched or not.
  assert.equal(split.checkpoint.maxTime, Date.parse(LATE['@timestamp']));
  assert.deepEqual(split.checkpoint, plain.checkpoint);
  assert.equal(split.detector.stats().matches, plain.detector.stats().matches);
});

test('a rule switched off reaches the prepare worker: later steps carry the new rule set and raise nothing of it', async () => {
  const off = async (d: Detector): Promise<void> => d.setRuleEnabled(BRUTE, false, 'test');
  const plain = await run(false, off);
  const split = await run(true, off);
  const versions = new Set(split.prematched.map((s) => s.version));
  assert.deepEqual([...versions].sort(), [1, 2], 'steps before the switch were evaluated with rule set 1, after it with 2');
  assert.ok(!split.alerts.some((a) => a.ruleId === BRUTE && a.group['source.ip'] === '198.51.100.7'), 'the correlation switched off raises nothing');
  assert.deepEqual(sorted(split.alerts), sorted(plain.alerts));
});

test('a restarted prepare worker gets the rule set again: every step stays prematched, same alerts', async () => {
  type Prep = { worker?: { terminate(): Promise<number> }; generation: number };
  const preps: Prep[] = [];
  const restart = async (_d: Detector, w: WorkerWriter): Promise<void> => {
    // The worker thread dies (as on an out-of-memory exit); the next write starts another.
    const prep = (w as unknown as { prep: Prep }).prep;
    preps.push(prep);
    assert.ok(prep.worker, 'the prepare worker ran');
    await prep.worker.terminate();
  };
  const plain = await run(false, restart);
  const split = await run(true, restart);
  assert.deepEqual(preps.map((p) => p.generation), [2, 2], 'a second prepare worker was started in each run');
  assert.equal(split.documentSteps, 0, 'the new worker prematched from its first step');
  assert.deepEqual(sorted(split.alerts), sorted(plain.alerts));
});

test('matches made under an older rule set are evaluated again on the current one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiangan-prematch-'));
  const alerts = await openSqliteAlertStore({ dir });
  try {
    const detector = await Detector.open({ engine: loadDetectionEngine().engine, alerts });
    const worker = new Prematcher();
    const cfg = detector.prematchConfig()!;
    assert.equal(await worker.configure(cfg), true);
    // A sample event of a detection that raises alerts (not a correlation's building block).
    const probe = loadDetectionEngine().engine;
    const fail = packSamples()
      .filter((e) => probe.match(e as unknown as EventLike).some((m) => m.kind === 'detection' && m.alert))
      .slice(0, 1);
    assert.equal(fail.length, 1);
    const RULE = probe.match(fail[0] as unknown as EventLike).find((m) => m.kind === 'detection' && m.alert)!.ruleId;
    const prematch = (seq: number): PrematchedStep => {
      worker.begin();
      for (const e of fail) {
        const ev = { ...e, id: `${e.id}-${seq}` };
        worker.event(seq, ev, JSON.stringify(ev));
      }
      return worker.take(seq)!;
    };
    const s1 = prematch(1);
    assert.equal(s1.version, 1);
    assert.equal(new HitTexts(s1).length, 1, 'the sample matches in the worker');
    assert.deepEqual([s1.ends.length, s1.seqs[0]], [1, 1]);
    assert.ok(s1.ends[0]! >= 1, 'with at least one detection position');
    // Switched off after the worker matched (the step is in flight): its match is checked again and dropped.
    await detector.setRuleEnabled(RULE, false, 'test');
    await detector.afterWrite([s1]);
    assert.equal(detector.stats().rechecked, 1);
    assert.equal((await alerts.list({ ruleId: RULE })).total, 0, 'no alert from the rule switched off');
    // The worker gets the new set; switched back on (set 3), a step of set 2 matches nothing, one of set 3 alerts.
    await worker.configure(detector.prematchConfig()!);
    const s2 = prematch(2);
    assert.equal(new HitTexts(s2).length, 0, 'the worker no longer evaluates the switched-off rule');
    await detector.setRuleEnabled(RULE, true, 'test');
    await worker.configure(detector.prematchConfig()!);
    const s3 = prematch(3);
    assert.equal(s3.version, 3);
    await detector.afterWrite([s2, s3]);
    assert.equal((await alerts.list({ ruleId: RULE })).total, 1);
    // A replay of the same steps (crash before the acknowledgement) is skipped.
    await detector.afterWrite([s3]);
    assert.equal(detector.stats().replayedBatches, 1);
    assert.equal((await alerts.list({ ruleId: RULE })).alerts[0]!.count, 1);
    // A worker whose compiled detections differ does not prematch: the steps carry documents.
    assert.equal(await worker.configure({ ...cfg, sig: 'other' }), false);
    worker.begin();
    assert.equal(worker.take(4), undefined);
  } finally {
    await alerts.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
