import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { loadCatalogue, validateCatalogue, selectControls, scoreResults, RuleError } from '../src/index.js';

describe('compliance catalogue', () => {
  test('the built-in catalogue satisfies its schema and covers both standards and levels', () => {
    const cat = loadCatalogue();
    assert.ok(selectControls(cat, 'djcp', 3).length >= 8);
    assert.ok(selectControls(cat, 'djcp', 2).length >= 4);
    assert.ok(selectControls(cat, 'gmcy', 3).length >= 4);
    for (const c of selectControls(cat, 'gmcy', 3)) assert.ok(c.algorithm, `${c.id} names the expected SM algorithm`);
  });
  test('schema violations and duplicate ids are typed errors naming the path', () => {
    const good = loadCatalogue();
    const bad = structuredClone(good) as unknown as { controls: Record<string, unknown>[] };
    bad.controls[0]!.layer = '不存在';
    assert.throws(() => validateCatalogue(bad), (e: unknown) => e instanceof RuleError && e.code === 'RULE_ERR_SCHEMA' && /controls\/0\/layer/.test(e.message));
    const dup = structuredClone(good);
    dup.controls.push({ ...dup.controls[0]! });
    assert.throws(() => validateCatalogue(dup), /duplicate id/);
  });
  test('per-layer percentage: hand-computed example', () => {
    // 安全计算环境: 2 pass, 1 partial, 1 fail, 1 na → (2 + 0.5) / 4 = 62.5 %; 安全管理中心: 1 fail → 0 %;
    // overall: (2 + 0.5) / 5 = 50 %; manual and na items are left out of the denominator.
    const L = '安全计算环境';
    const r = scoreResults([
      { controlId: 'a', layer: L, status: 'pass' },
      { controlId: 'b', layer: L, status: 'pass' },
      { controlId: 'c', layer: L, status: 'partial' },
      { controlId: 'd', layer: L, status: 'fail' },
      { controlId: 'e', layer: L, status: 'na' },
      { controlId: 'f', layer: '安全管理中心', status: 'fail' },
      { controlId: 'g', layer: '安全物理环境', status: 'manual' },
    ]);
    assert.equal(r.layers.find((l) => l.layer === L)!.percent, 62.5);
    assert.equal(r.layers.find((l) => l.layer === '安全管理中心')!.percent, 0);
    assert.equal(r.layers.find((l) => l.layer === '安全物理环境')!.percent, null);
    assert.equal(r.overall, 50);
  });
});
