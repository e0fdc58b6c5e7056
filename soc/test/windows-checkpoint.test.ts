// The detector's windows checkpoint, written piece by piece into a TextSink: the saved text is
// JSON.stringify({ snapshot: engine.snapshot(), maxTime }) byte for byte (sink grown from its
// first guess, sized by the last checkpoint, non-ASCII group values), and a restart from it
// restores the same windows. TextSink itself against joined strings (fast-check).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { EcsEvent } from '@xiangan/collectors';
import { BUILTIN_PACKS_DIR, loadRules } from '@xiangan/rules';
import { openSqliteAlertStore } from '../src/alerts/sqlite.js';
import { Detector, loadDetectionEngine } from '../src/detection/detector.js';
import { TextSink } from '../src/detection/text-sink.js';
import type { RawBatch } from '../src/buffer/durable.js';

test('TextSink: the pieces written read back as their concatenation, from any starting room', () => {
  // Well-formed strings only (what JSON.stringify writes): code points, not lone surrogates.
  const piece = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.string({ unit: fc.constantFrom('a', 'é', '张', '😀', '"', '\\'), maxLength: 200 }));
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 60 }), fc.integer({ min: 0, max: 300 }), (pieces, room) => {
      const t = new TextSink(room);
      for (const p of pieces) t.write(p);
      const want = pieces.join('');
      assert.equal(t.text(), want);
      assert.equal(t.length, Buffer.byteLength(want));
    }),
  );
});

/** A failed SSH login (the brute-force pack rule's sample) from `ip` as `user`, `sec` seconds in. */
function failure(template: EcsEvent, i: number, ip: string, user: string, sec: number): EcsEvent {
  const e = structuredClone(template) as unknown as Record<string, Record<string, unknown> | unknown>;
  e.id = `cp-${i}`;
  e['@timestamp'] = new Date(Date.UTC(2026, 10, 30, 2, 0, sec)).toISOString();
  e.message = `Failed password for ${user} from ${ip} port 52100 ssh2`;
  e.source = { ip, port: 52100 };
  e.user = { name: user };
  return e as unknown as EcsEvent;
}

function batch(seq: number, events: EcsEvent[]): RawBatch {
  return { seq, appendedAt: 0, count: events.length, data: events.map((e) => JSON.stringify(e)).join('\n') };
}

test('the saved windows are JSON.stringify({ snapshot, maxTime }) and a restart restores them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiangan-wcp-'));
  try {
    const r = loadRules(join(BUILTIN_PACKS_DIR, 'linux', 'ssh_brute_force.yml')).rules[0]!;
    const template = (r.doc['x-xiangan'] as { samples: { match: EcsEvent[][] } }).samples.match[0]![0]!;
    const users = ['root', 'admin', '张三', 'u"q\\x', '😀', 'oracle'];
    const alerts = await openSqliteAlertStore({ dir });
    const { engine } = loadDetectionEngine();
    const d = await Detector.open({ engine, alerts });
    let n = 0;
    const saved: string[] = [];
    // The first checkpoint outgrows the sink's first guess, the second ten times the first's
    // size; the third is about the second's.
    for (const [seq, sources, sec] of [[1, 40, 0], [2, 400, 20], [3, 3, 1000]] as const) {
      const evs: EcsEvent[] = [];
      for (let s = 0; s < sources; s++) for (let k = 0; k < 3; k++) evs.push(failure(template, n++, `198.51.${s >> 8}.${s & 255}`, users[(s + k) % users.length]!, sec + k));
      await d.afterWrite([batch(seq, evs)]);
      // A pass saves at most every 50 × the last save's time; the shutdown path saves the same way now.
      await d.checkpoint();
      const text = (await alerts.loadCheckpoint('detector.windows'))!;
      const maxTime = (JSON.parse(text) as { maxTime: number }).maxTime;
      assert.equal(maxTime, Date.UTC(2026, 10, 30, 2, 0, sec + 2));
      assert.equal(text, JSON.stringify({ snapshot: d.engine.snapshot(), maxTime }));
      saved.push(text);
    }
    assert.ok(saved[1]!.length > 8 * saved[0]!.length, 'the state outgrew the last size');
    assert.ok(d.engine.stats().groups > 0);
    await alerts.close();

    const again = await openSqliteAlertStore({ dir });
    const d2 = await Detector.open({ engine: loadDetectionEngine().engine, alerts: again });
    assert.deepStrictEqual(d2.engine.snapshot(), d.engine.snapshot());
    await d2.checkpoint();
    assert.equal(await again.loadCheckpoint('detector.windows'), saved[2]);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
