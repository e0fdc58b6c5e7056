import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { loadCatalogue, validateCatalogue, selectControls, scoreResults, combineStatuses, dakScore, scoreGmcy, djcpConclusion, gmcyConclusion, RuleError, BUILTIN_CATALOGUE, type Dak } from '../src/index.js';

const rawCatalogue = (): { sources: Record<string, unknown>; controls: Record<string, unknown>[] } => parse(readFileSync(BUILTIN_CATALOGUE, 'utf8'));

describe('compliance catalogue', () => {
  test('the built-in catalogue covers every GB/T 22239 general requirement of levels 2 and 3 and GB/T 39786 levels 2 and 3', () => {
    const cat = loadCatalogue();
    // GB/T 22239-2019 安全通用要求: 135 items at level 2, 211 at level 3 (technical + management).
    assert.equal(selectControls(cat, 'djcp', 3).length, 211);
    assert.equal(selectControls(cat, 'djcp', 2).length, 135);
    const layers = new Set(selectControls(cat, 'djcp', 3).map((c) => c.layer));
    for (const l of ['安全物理环境', '安全通信网络', '安全区域边界', '安全计算环境', '安全管理中心', '安全管理制度', '安全管理机构', '安全管理人员', '安全建设管理', '安全运维管理']) assert.ok(layers.has(l), l);
    assert.ok(selectControls(cat, 'gmcy', 3).length >= 25);
    assert.ok(selectControls(cat, 'gmcy', 2).length >= 20);
    for (const c of [...selectControls(cat, 'gmcy', 3), ...selectControls(cat, 'gmcy', 2)]) {
      if (!c.objectTypes.includes('org')) assert.ok(c.algorithm, `${c.id} names the expected SM algorithm`);
      assert.ok(c.modality, `${c.id} has its modality`);
    }
    // GB/T 39786 management requirements (§8.5–8.8 at level 3) are the organisation's, judged by an auditor.
    const gm = selectControls(cat, 'gmcy', 3).filter((c) => ['管理制度', '人员管理', '建设运行', '应急处置'].includes(c.layer));
    assert.equal(gm.length, 19);
    assert.ok(gm.every((c) => c.objectTypes.includes('org') && !c.checks && c.clause.startsWith('8.')));
    for (const c of cat.controls) {
      assert.match(c.source.url, /^https?:\/\//, `${c.id} cites a URL`);
      assert.ok(c.source.title, `${c.id} cites a title`);
      if (c.paraphrase) assert.ok(c.note, `${c.id} says why it is a paraphrase`);
    }
    // Level 3 of GB/T 39786 is chapter 8 (level 2 chapter 7).
    assert.ok(cat.controls.some((c) => c.id === 'gmcy-3-8.3.b' && c.clause === '8.3 b)' && c.modality === '应'));
    assert.ok(cat.controls.some((c) => c.id === 'gmcy-2-7.3.b' && c.modality === '宜'));
    // Level-3 items read against third-party reproductions (8.1–8.2 and 8.3 a: bzko OCR; 8.4 a–g: kler.cn),
    // including the closing service and product items of 8.1 and 8.2.
    const read = selectControls(cat, 'gmcy', 3).filter((c) => !c.paraphrase).map((c) => c.id);
    for (const id of ['gmcy-3-8.1.d', 'gmcy-3-8.1.e', 'gmcy-3-8.2.f', 'gmcy-3-8.2.g', 'gmcy-3-8.3.a', 'gmcy-3-8.4.g']) assert.ok(read.includes(id), id);
    assert.match(cat.controls.find((c) => c.id === 'gmcy-3-8.2.g')!.text, /GB\/T 37092二级及以上/);
    assert.deepEqual(cat.controls.find((c) => c.id === 'djcp-3-8.1.4.1.b')!.checks, ['login-failure', 'idle-timeout']);
    // Management items are the organisation's, judged by an auditor.
    assert.ok(selectControls(cat, 'djcp', 3).filter((c) => c.layer === '安全运维管理').every((c) => c.objectTypes.includes('org')));
  });
  test('schema violations, unknown sources and duplicate ids are typed errors naming the path', () => {
    const bad = rawCatalogue();
    bad.controls[0]!.layer = '不存在';
    assert.throws(() => validateCatalogue(bad), (e: unknown) => e instanceof RuleError && e.code === 'RULE_ERR_SCHEMA' && /controls\/0\/layer/.test(e.message));
    const dup = rawCatalogue();
    dup.controls.push({ ...dup.controls[0]! });
    assert.throws(() => validateCatalogue(dup), /duplicate id/);
    const src = rawCatalogue();
    src.controls[3]!.source = 'nowhere';
    assert.throws(() => validateCatalogue(src), /controls\/3\/source: unknown source nowhere/);
    const noNote = rawCatalogue();
    const i = noNote.controls.findIndex((c) => c.paraphrase === true);
    delete noNote.controls[i]!.note;
    assert.throws(() => validateCatalogue(noNote), /says why/);
  });
  test('statuses of several checks bound to one item combine', () => {
    assert.equal(combineStatuses([]), 'manual');
    assert.equal(combineStatuses(['pass', 'pass']), 'pass');
    assert.equal(combineStatuses(['pass', 'fail']), 'partial');
    assert.equal(combineStatuses(['fail', 'fail', 'na']), 'fail');
    assert.equal(combineStatuses(['pass', 'manual']), 'pass');
    assert.equal(combineStatuses(['manual', 'na']), 'manual');
    assert.equal(combineStatuses(['na', 'na']), 'na');
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

describe('GB/T 39786 quantitative score', () => {
  test('item scores from D/A/K', () => {
    assert.equal(dakScore({ d: 'pass', a: 'pass', k: 'pass' }), 1);
    assert.equal(dakScore({ d: 'pass', a: 'fail', k: 'pass' }), 0.5);
    assert.equal(dakScore({ d: 'pass', a: 'pass', k: 'fail' }), 0.5);
    assert.equal(dakScore({ d: 'pass', a: 'fail', k: 'fail' }), 0.25);
    assert.equal(dakScore({ d: 'fail', a: 'pass', k: 'pass' }), 0);
    assert.equal(dakScore({ d: 'pass', a: 'na', k: 'na' }), 1);
  });
  test('hand-computed example: modality and layer weights', () => {
    const ok: Dak = { d: 'pass', a: 'pass', k: 'pass' };
    const r = scoreGmcy([
      // 网络和通信安全: 应 1 × 1 + 宜 0.7 × 0.5 + 可 0.4 × 0 → 1.35 / 2.1 = 0.6429
      { controlId: 'a', layer: '网络和通信安全', modality: '应', dak: ok },
      { controlId: 'b', layer: '网络和通信安全', modality: '宜', dak: { d: 'pass', a: 'fail', k: 'pass' } },
      { controlId: 'c', layer: '网络和通信安全', modality: '可', dak: { d: 'fail', a: 'pass', k: 'pass' } },
      // 应用和数据安全: 应 0.25 → 0.25
      { controlId: 'd', layer: '应用和数据安全', modality: '应', dak: { d: 'pass', a: 'fail', k: 'fail' } },
      // not judged, and a general requirement: left out
      { controlId: 'e', layer: '设备和计算安全', modality: '应' },
      { controlId: 'f', layer: '通用要求', modality: '应', dak: ok },
    ]);
    const l = Object.fromEntries(r.layers.map((x) => [x.layer, x.score]));
    assert.equal(l['网络和通信安全'], 0.6429);
    assert.equal(l['应用和数据安全'], 0.25);
    assert.equal(l['设备和计算安全'], null);
    assert.equal(l['通用要求'], undefined);
    // overall: 100 × (20 × 0.6429 + 30 × 0.25) / (20 + 30) = 40.7
    assert.equal(r.overall, 40.7);
  });
});

describe('overall self-assessed conclusions', () => {
  test('GB/T 22239: 优/良/中/差 at the 90/80/70 thresholds, high risk and non-compliant items', () => {
    const g = (overall: number | null, failing = 0, highRisk = 0) => djcpConclusion({ overall, failing, highRisk }).grade;
    assert.equal(g(95), '优');
    assert.equal(g(90), '优');
    assert.equal(g(95, 1), '良', 'a non-compliant item may be a medium risk, which 优 excludes');
    assert.equal(g(89.9), '良');
    assert.equal(g(80), '良');
    assert.equal(g(79.9, 3), '中');
    assert.equal(g(70), '中');
    assert.equal(g(69.9), '差');
    assert.equal(g(99, 1, 1), '差', 'a high-risk candidate is 差 whatever the score');
    assert.equal(g(null), null);
    assert.match(djcpConclusion({ overall: 85, failing: 2, highRisk: 0 }).reason, /\[80, 90\)/);
  });
  test('GB/T 39786: 符合 only at 100, 基本符合 from 60, 不符合 below', () => {
    assert.equal(gmcyConclusion(100).grade, '符合');
    assert.equal(gmcyConclusion(99.9).grade, '基本符合');
    assert.equal(gmcyConclusion(60).grade, '基本符合');
    assert.equal(gmcyConclusion(59.9).grade, '不符合');
    assert.equal(gmcyConclusion(null).grade, null);
    // The hand-computed score above (40.7) is 不符合.
    const r = scoreGmcy([
      { controlId: 'a', layer: '网络和通信安全', modality: '应', dak: { d: 'pass', a: 'pass', k: 'pass' } },
      { controlId: 'b', layer: '应用和数据安全', modality: '应', dak: { d: 'fail', a: 'pass', k: 'pass' } },
    ]);
    // 100 × (20 × 1 + 30 × 0) / 50 = 40
    assert.equal(r.overall, 40);
    assert.equal(gmcyConclusion(r.overall).grade, '不符合');
  });
});
