/**
 * The rule packs as content under test (DESIGN.md convention 9): schema, unique UUIDs, tags,
 * levels, false-positive notes, every field known to the event schema, and every sample.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ECS_FIELDS } from '@xiangan/collectors';
import { builtinPipeline, compileRules, loadLists, loadRules, resolveLogsource, runSamples, validateRuleDoc, type LoadedRule, type Logsource } from '../src/index.js';
import { PKG_ROOT } from './helpers.js';

const PACKS = join(PKG_ROOT, 'packs');
const { rules, errors } = loadRules(PACKS);
const lists = loadLists(join(PKG_ROOT, 'lists'));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;


function known(path: string): boolean {
  if (ECS_FIELDS[path]) return true;
  // Leaves under an `object` field (winlog.event_data.*, vendor namespaces) are stored verbatim.
  const segs = path.split('.');
  for (let i = segs.length - 1; i > 0; i--) if (ECS_FIELDS[segs.slice(0, i).join('.')]?.type === 'object') return true;
  return false;
}

function fieldsOf(r: LoadedRule, byName: Map<string, LoadedRule>): string[] {
  const d = r.doc;
  const out: string[] = [];
  const p = builtinPipeline('ecs');
  if (d.correlation) {
    const c = d.correlation as { rules: string[]; 'group-by'?: string[]; condition?: { field?: string } };
    const names = [...(c['group-by'] ?? []), ...(c.condition?.field ? [c.condition.field] : [])];
    for (const ref of c.rules) {
      const base = byName.get(ref);
      if (!base?.doc.logsource) continue;
      const ls = resolveLogsource(p, base.doc.logsource as Logsource);
      for (const n of names) out.push(ls.mapField(n));
    }
    return out;
  }
  const ls = resolveLogsource(p, d.logsource as Logsource);
  for (const [k, sel] of Object.entries(d.detection as Record<string, unknown>)) {
    if (k === 'condition') continue;
    for (const m of Array.isArray(sel) ? sel : [sel]) {
      if (m && typeof m === 'object') for (const key of Object.keys(m)) out.push(ls.mapField(key.split('|')[0]));
    }
  }
  return out;
}

describe('rule packs', () => {
  test('at least 40 rules, all files parse', () => {
    assert.deepEqual(errors, []);
    assert.ok(rules.length >= 40, `${rules.length} rules`);
  });
  test('every rule passes the schema and has a UUID, tags, level, false positives, samples', () => {
    const ids = new Set<string>();
    for (const r of rules) {
      const v = validateRuleDoc(r.doc);
      assert.ok(v.ok, `${r.source}: ${v.ok ? '' : v.message}`);
      const d = r.doc as Record<string, unknown>;
      assert.match(String(d.id), UUID, `${r.source}: id`);
      assert.ok(!ids.has(String(d.id)), `${r.source}: duplicate id`);
      ids.add(String(d.id));
      const tags = d.tags as string[];
      assert.ok(tags.some((t) => /^attack\.t\d{4}/.test(t)) || tags.includes('xiangan.dengbao'), `${r.source}: ATT&CK technique tag`);
      assert.ok(d.level, `${r.source}: level`);
      assert.ok(Array.isArray(d.falsepositives) && (d.falsepositives as unknown[]).length, `${r.source}: falsepositives`);
      const s = (d['x-xiangan'] as { samples?: { match?: unknown[]; nomatch?: unknown[] } }).samples;
      assert.ok(s?.match?.length && s?.nomatch?.length, `${r.source}: positive and negative samples`);
    }
  });
  test('the whole pack compiles through the ECS pipeline', () => {
    const e = compileRules(rules, builtinPipeline('ecs'), { lists });
    assert.equal(e.detections.length + e.correlations.length, rules.length);
  });
  test('every field a rule uses exists in the ECS event schema (ECS_FIELDS)', () => {
    const byName = new Map(rules.map((r) => [String(r.doc.name ?? r.doc.id), r]));
    for (const r of rules) for (const f of fieldsOf(r, byName)) assert.ok(known(f), `${r.source}: field ${f} is not in ECS_FIELDS`);
  });
  test('every sample behaves (match samples match, nomatch samples do not)', () => {
    const res = runSamples(rules, { lists });
    assert.equal(res.length, rules.length);
    const failed = res.filter((r) => r.failures.length).map((r) => `${r.source}: ${r.failures.join('; ')}`);
    assert.deepEqual(failed, []);
  });
  test('the samples discriminate: swapping match and nomatch makes every rule fail', () => {
    const swapped = rules.map((r) => {
      const x = structuredClone(r);
      const s = (x.doc['x-xiangan'] as { samples: { match: unknown[]; nomatch: unknown[] } }).samples;
      [s.match, s.nomatch] = [s.nomatch, s.match];
      return x;
    });
    const res = runSamples(swapped, { lists });
    const passing = res.filter((r) => r.failures.length === 0).map((r) => r.source);
    assert.deepEqual(passing, []);
  });
});
