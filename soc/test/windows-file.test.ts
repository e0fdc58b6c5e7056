// The detector's windows checkpoint in a file of its own (detection/windows-file.ts): the text
// streamed through the 1 MiB buffer reads back as the pieces joined (pieces larger than the
// buffer, non-ASCII); the saved file is JSON.stringify({ snapshot, maxTime }) and a restart restores
// it; windows an older version saved in alerts.db restore once, after which the row names the
// file; a save cut short before its rename (a crash, or a writer that throws) leaves the last file
// and no temporary one; a truncated or corrupt file, or a lost one, starts empty windows with a
// warning and the next save writes a good file; a failed alert write reads the windows back from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { EcsEvent } from '@xiangan/collectors';
import { BUILTIN_PACKS_DIR, loadRules } from '@xiangan/rules';
import { openSqliteAlertStore } from '../src/alerts/sqlite.js';
import { Detector, loadDetectionEngine } from '../src/detection/detector.js';
import { WindowsFile } from '../src/detection/windows-file.js';
import { SocError } from '../src/errors.js';
import type { RawBatch } from '../src/buffer/durable.js';

const BRUTE = '8f9c03e0-dcbf-5469-9624-e35c029e1c5c';

/** Run `fn` in a fresh directory (removed after), with the windows file's path in it. */
async function inTempDir(fn: (dir: string, file: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'xiangan-wf-'));
  try {
    await fn(dir, join(dir, 'detector.windows.json'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('WindowsFile: what is written reads back as the pieces joined, across and beyond its buffer', () =>
  inTempDir(async (dir, file) => {
    const f = new WindowsFile(join(dir, 'w.json'));
    assert.equal(f.read(), undefined);
    const piece = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: fc.constantFrom('a', 'é', '张', '😀', '"'), maxLength: 300 }), fc.constantFrom('x'.repeat(700_000), '张'.repeat(400_000)));
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 12 }), async (pieces) => {
        const n = await f.write((w) => {
          for (const p of pieces) w(p);
        });
        const want = pieces.join('');
        assert.equal(f.read(), want);
        assert.equal(n, Buffer.byteLength(want));
      }),
      { numRuns: 40 },
    );
    assert.deepEqual(readdirSync(dir), ['w.json'], 'no temporary file left');
    // Saves asked for at once are made in turn: the last one is what stays.
    const all = await Promise.all(['a', 'bb', 'ccc'].map((x) => f.write((w) => w(x.repeat(400_000)))));
    assert.deepEqual(all, [400_000, 800_000, 1_200_000]);
    assert.equal(f.read(), 'c'.repeat(1_200_000));
  }));

function bruteForceSample(): EcsEvent[] {
  const r = loadRules(join(BUILTIN_PACKS_DIR, 'linux', 'ssh_brute_force.yml')).rules[0]!;
  return (r.doc['x-xiangan'] as { samples: { match: EcsEvent[][] } }).samples.match[0]!;
}

function batch(seq: number, events: EcsEvent[]): RawBatch {
  return { seq, appendedAt: 0, count: events.length, data: events.map((e) => JSON.stringify(e)).join('\n') };
}

interface Warned {
  msg: string;
  obj: Record<string, unknown>;
}

async function open(dir: string, file: string | undefined, warned: Warned[] = []) {
  const alerts = await openSqliteAlertStore({ dir });
  const logger = { warn: (obj: Record<string, unknown>, msg: string) => warned.push({ obj, msg }), error() {}, info() {}, debug() {} };
  const detector = await Detector.open({ engine: loadDetectionEngine().engine, alerts, logger: logger as never, ...(file ? { windowsFile: file } : {}) });
  return { alerts, detector };
}

/** JSON.stringify({ snapshot, maxTime }) of a detector now. */
function expected(d: Detector, maxTime: number): string {
  return JSON.stringify({ snapshot: d.engine.snapshot(), maxTime });
}

test('windows saved in their file: the exact text, restored after a restart; alerts.db only names the file', () =>
  inTempDir(async (dir, file) => {
    const ev = bruteForceSample();
    const a = await open(dir, file);
    await a.detector.afterWrite([batch(1, ev.slice(0, 6))]);
    await a.detector.checkpoint();
    const text = readFileSync(file, 'utf8');
    const { maxTime } = JSON.parse(text) as { maxTime: number };
    assert.equal(text, expected(a.detector, maxTime));
    assert.ok(a.detector.engine.stats().groups > 0);
    assert.deepEqual(JSON.parse((await a.alerts.loadCheckpoint('detector.windows'))!), { windowsFile: file });
    await a.alerts.close();

    const b = await open(dir, file);
    assert.deepStrictEqual(b.detector.engine.snapshot(), a.detector.engine.snapshot());
    await b.detector.afterWrite([batch(2, ev.slice(6))]);
    assert.equal((await b.alerts.list({ ruleId: BRUTE })).total, 1, 'the window went on after the restart');
    await b.alerts.close();
  }));

test('windows an older version saved in alerts.db restore; the first save moves them to the file', () =>
  inTempDir(async (dir, file) => {
    const ev = bruteForceSample();
    const old = await open(dir, undefined);
    await old.detector.afterWrite([batch(1, ev.slice(0, 6))]);
    await old.detector.checkpoint();
    const row = (await old.alerts.loadCheckpoint('detector.windows'))!;
    assert.ok(row.startsWith('{"snapshot":'));
    await old.alerts.close();

    const b = await open(dir, file);
    assert.deepStrictEqual(b.detector.engine.snapshot(), old.detector.engine.snapshot());
    assert.equal(existsSync(file), false, 'nothing saved yet');
    await b.detector.checkpoint();
    assert.equal(readFileSync(file, 'utf8'), row, 'the same windows, now in the file');
    assert.deepEqual(JSON.parse((await b.alerts.loadCheckpoint('detector.windows'))!), { windowsFile: file });
    await b.detector.afterWrite([batch(2, ev.slice(6))]);
    assert.equal((await b.alerts.list({ ruleId: BRUTE })).total, 1);
    await b.alerts.close();
  }));

test('a save cut short before its rename leaves the last windows and no temporary file', () =>
  inTempDir(async (dir, file) => {
    const ev = bruteForceSample();
    const a = await open(dir, file);
    await a.detector.afterWrite([batch(1, ev.slice(0, 6))]);
    await a.detector.checkpoint();
    const saved = readFileSync(file, 'utf8');

    // A writer that throws halfway: the file is untouched, the temporary one removed.
    const f = new WindowsFile(file);
    await assert.rejects(
      f.write((w) => {
        w('{"snapshot":');
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(readFileSync(file, 'utf8'), saved);
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.tmp-')), []);

    // A crash between write and rename: a temporary file with part of a newer text stays behind.
    await a.detector.afterWrite([batch(2, ev.slice(6, 8))]);
    writeFileSync(`${file}.tmp-999999-3`, saved.slice(0, saved.length >> 1));
    await a.alerts.close();

    const b = await open(dir, file);
    assert.deepStrictEqual(b.detector.engine.snapshot(), (JSON.parse(saved) as { snapshot: unknown }).snapshot, 'the last renamed windows');
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.tmp-')), [], 'the leftover is removed');
    await b.alerts.close();
  }));

test('a truncated, corrupt or lost windows file: empty windows with a warning, and the next save is good', () =>
  inTempDir(async (dir, file) => {
    const ev = bruteForceSample();
    const a = await open(dir, file);
    await a.detector.afterWrite([batch(1, ev.slice(0, 6))]);
    await a.detector.checkpoint();
    const size = readFileSync(file).length;
    await a.alerts.close();

    const damages: [() => void, string | undefined][] = [
      [() => truncateSync(file, size >> 1), 'SOC_ERR_WINDOWS_CHECKPOINT'],
      [() => writeFileSync(file, '{"snapshot":{"version":1,"groups":[["x"]]},"maxTime":1}'), 'RULE_ERR_SNAPSHOT'],
      [() => rmSync(file), undefined],
    ];
    for (const [k, [damage, code]] of damages.entries()) {
      damage();
      const warned: Warned[] = [];
      const b = await open(dir, file, warned);
      assert.equal(b.detector.engine.stats().groups, 0, 'windows start empty');
      assert.deepEqual(warned.map((w) => w.obj.errorCode), code ? [code] : [], 'a broken file is reported, a lost one is not');
      // The detector goes on; its next save is a whole, readable file.
      await b.detector.afterWrite([batch(2 + k, ev.slice(0, 6))]);
      assert.ok(b.detector.engine.stats().groups > 0);
      await b.detector.checkpoint();
      const text = readFileSync(file, 'utf8');
      assert.equal(text, expected(b.detector, (JSON.parse(text) as { maxTime: number }).maxTime));
      await b.alerts.close();
    }
  }));

test('an unreadable windows file: empty windows, SOC_ERR_WINDOWS_CHECKPOINT logged, detection goes on', () =>
  inTempDir(async (dir, file) => {
    mkdirSync(file);
    const f = new WindowsFile(file);
    assert.throws(() => f.read(), (e: unknown) => e instanceof SocError && e.code === 'SOC_ERR_WINDOWS_CHECKPOINT');
    const warned: Warned[] = [];
    const b = await open(dir, file, warned);
    assert.deepEqual(warned.map((w) => w.obj.errorCode), ['SOC_ERR_WINDOWS_CHECKPOINT']);
    const ev = bruteForceSample();
    await b.detector.afterWrite([batch(1, ev)]);
    assert.equal((await b.alerts.list({ ruleId: BRUTE })).total, 1, 'alerts are recorded though the windows cannot be saved');
    await b.alerts.close();
  }));

test('without a windows file (the Elasticsearch/OpenSearch backends) the windows stay in the alert store', () =>
  inTempDir(async (dir, file) => {
    const ev = bruteForceSample();
    const a = await open(dir, undefined);
    await a.detector.afterWrite([batch(1, ev.slice(0, 6))]);
    await a.detector.checkpoint();
    const row = (await a.alerts.loadCheckpoint('detector.windows'))!;
    assert.equal(row, expected(a.detector, (JSON.parse(row) as { maxTime: number }).maxTime));
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('detector.windows')), [], 'no file');
    await a.alerts.close();
  }));

test('a failed alert write reads the windows back from the file, so the retried batch counts once', () =>
  inTempDir(async (dir, file) => {
    const ev = bruteForceSample();
    const a = await open(dir, join(dir, 'detector.windows.json'));
    await a.detector.afterWrite([batch(1, ev.slice(0, 5))]);
    a.alerts.db.exec("CREATE TRIGGER fail_cp BEFORE UPDATE ON checkpoints BEGIN SELECT RAISE(ABORT, 'disk says no'); END;");
    await assert.rejects(a.detector.afterWrite([batch(2, ev.slice(5, 9))]));
    a.alerts.db.exec('DROP TRIGGER fail_cp');
    await a.detector.afterWrite([batch(2, ev.slice(5, 9))]);
    assert.equal((await a.alerts.list()).total, 0, 'nine distinct failures, not thirteen');
    await a.detector.afterWrite([batch(3, ev.slice(9))]);
    assert.equal((await a.alerts.list({ ruleId: BRUTE })).total, 1);
    await a.alerts.close();
  }));
