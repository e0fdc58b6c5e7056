/**
 * Compliance catalogue (GB/T 22239-2019 等级保护 and GB/T 39786-2021 商用密码应用) as data, and the
 * pure scoring of check results with the GB/T 28448-2019 judgement vocabulary
 * (符合 / 部分符合 / 不符合 / 不适用). No I/O beyond reading the catalogue file.
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { RuleError } from '../errors.js';

/** The catalogue shipped with this package (rules/compliance/catalogue.yaml). */
export const BUILTIN_CATALOGUE = fileURLToPath(new URL('../../../compliance/catalogue.yaml', import.meta.url));
/** Its JSON Schema (rules/compliance/catalogue.schema.json). */
export const CATALOGUE_SCHEMA_FILE = fileURLToPath(new URL('../../../compliance/catalogue.schema.json', import.meta.url));

/** `djcp` = GB/T 22239-2019 (等保), `gmcy` = GB/T 39786-2021 (密评). */
export type ComplianceStandard = 'djcp' | 'gmcy';
/** Identifiers of the automated checks a control may be bound to (soc/src/comply/checks.ts). */
export type CheckId =
  | 'log-arrival'
  | 'audit-fields'
  | 'retention'
  | 'integrity'
  | 'cleartext-management'
  | 'login-failure'
  | 'two-factor'
  | 'idle-timeout'
  | 'time-sync'
  | 'ids-presence'
  | 'av-presence'
  | 'admin-separation'
  | 'certificates'
  | 'kms-keys'
  | 'asset-inventory'
  | 'config-baseline';

/** Where a control's text comes from (catalogue `sources:`). */
export interface CatalogueSource {
  id: string;
  title: string;
  url: string;
  note?: string;
}

/** One control (测评项) of the catalogue. */
export interface Control {
  id: string;
  standard: ComplianceStandard;
  level: 2 | 3;
  clause: string;
  layer: string;
  controlPoint: string;
  text: string;
  /** The text is not verified against a public reproduction of the standard (see `note`). */
  paraphrase: boolean;
  /** The source the text was taken from or checked against. */
  source: CatalogueSource;
  /** Why the text is a paraphrase, or how it differs from the source. */
  note?: string;
  /** Object types: network, security, server, database, application, soc, site (机房), org (管理文档与人员). */
  objectTypes: string[];
  /** Automated checks bound to this item; none means an auditor judges it (manual). */
  checks?: CheckId[];
  /** GB/T 39786 modality: 应 (shall), 宜 (should), 可 (may). */
  modality?: '应' | '宜' | '可';
  /** GB/T 39786: the SM algorithms / protocols expected. */
  algorithm?: string;
  highRisk?: string;
}

/** A parsed, schema-valid catalogue with sources resolved. */
export interface Catalogue {
  version: 2;
  sources: Record<string, Omit<CatalogueSource, 'id'>>;
  controls: Control[];
}

/** Outcome of one check: `pass`/`partial`/`fail`/`na`/`manual`. */
export type CheckStatus = 'pass' | 'partial' | 'fail' | 'na' | 'manual';

/** GB/T 28448-2019 vocabulary for each status (手工 items are 待人工判定 until an auditor decides). */
export const JUDGEMENT: Record<CheckStatus, string> = { pass: '符合', partial: '部分符合', fail: '不符合', na: '不适用', manual: '待人工判定' };

/**
 * Validate a parsed catalogue document against the schema; ids must be unique.
 * Throws `RuleError('RULE_ERR_SCHEMA')` naming the path of the first problem.
 * @example const cat = validateCatalogue(parse(readFileSync(f, 'utf8')));
 */
export function validateCatalogue(doc: unknown): Catalogue {
  const schema = JSON.parse(readFileSync(CATALOGUE_SCHEMA_FILE, 'utf8')) as object;
  const ajv = new Ajv({ allErrors: false, strict: false });
  const validate = ajv.compile(schema);
  if (!validate(doc)) {
    const e = validate.errors?.[0];
    throw new RuleError('RULE_ERR_SCHEMA', `catalogue ${e?.instancePath || '/'}: ${e?.message ?? 'invalid'}`);
  }
  const raw = doc as { version: 2; sources: Catalogue['sources']; controls: (Omit<Control, 'source'> & { source: string | CatalogueSource })[] };
  const seen = new Set<string>();
  const controls: Control[] = [];
  for (const [i, c] of raw.controls.entries()) {
    if (seen.has(c.id)) throw new RuleError('RULE_ERR_SCHEMA', `catalogue /controls/${i}/id: duplicate id ${c.id}`);
    seen.add(c.id);
    if (!c.id.startsWith(`${c.standard}-${c.level}-`)) throw new RuleError('RULE_ERR_SCHEMA', `catalogue /controls/${i}/id: must start with ${c.standard}-${c.level}-`);
    // A re-validated catalogue (already resolved) keeps its source objects.
    const key = typeof c.source === 'string' ? c.source : c.source.id;
    const src = raw.sources[key];
    if (!src) throw new RuleError('RULE_ERR_SCHEMA', `catalogue /controls/${i}/source: unknown source ${key}`);
    if (c.paraphrase && !c.note) throw new RuleError('RULE_ERR_SCHEMA', `catalogue /controls/${i}/note: a paraphrased item says why`);
    controls.push({ ...c, source: { id: key, ...src } });
  }
  return { version: 2, sources: raw.sources, controls };
}

/**
 * Load and validate a catalogue YAML file (default: the built-in one).
 * @example const { controls } = loadCatalogue();
 */
export function loadCatalogue(file: string = BUILTIN_CATALOGUE): Catalogue {
  if (file === BUILTIN_CATALOGUE && builtin) return builtin;
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new RuleError('RULE_ERR_SCHEMA', `catalogue ${file}: ${(e as Error).message}`, { cause: e });
  }
  const cat = validateCatalogue(doc);
  if (file === BUILTIN_CATALOGUE) builtin = cat;
  return cat;
}
// The built-in catalogue is read once per process (about 400 items).
let builtin: Catalogue | undefined;

/** Controls of one standard and level. */
export function selectControls(cat: Catalogue, standard: ComplianceStandard, level: 2 | 3): Control[] {
  return cat.controls.filter((c) => c.standard === standard && c.level === level);
}

/**
 * Combine the statuses of the checks bound to one item (our method, documented in soc/README.md
 * "Compliance"): not-applicable checks are left out unless all are; manual ones are left out
 * unless all are; of the rest, all pass → pass, all fail → fail, anything else → partial.
 * @example combineStatuses(['pass', 'fail']) // 'partial'
 */
export function combineStatuses(list: readonly CheckStatus[]): CheckStatus {
  if (list.length === 0) return 'manual';
  const applicable = list.filter((s) => s !== 'na');
  if (applicable.length === 0) return 'na';
  const judged = applicable.filter((s) => s !== 'manual');
  if (judged.length === 0) return 'manual';
  if (judged.every((s) => s === 'pass')) return 'pass';
  if (judged.every((s) => s === 'fail')) return 'fail';
  return 'partial';
}

/** One judged item. */
export interface ItemResult {
  controlId: string;
  layer: string;
  status: CheckStatus;
}

/** Score of one layer. */
export interface LayerScore {
  layer: string;
  pass: number;
  partial: number;
  fail: number;
  na: number;
  manual: number;
  /**
   * Percentage 0–100 over judged applicable items: (符合 + 0.5 × 部分符合) / (符合 + 部分符合 + 不符合).
   * `null` when nothing applicable was judged. This weighting is our own method (the 等级测评
   * 综合得分 formula of GB/T 28448/测评报告模板 weights by 测评单元 importance, which we do not
   * reproduce); documented in soc/README.md "Compliance".
   */
  percent: number | null;
}

/**
 * Per-layer counts and percentages plus the overall percentage (same formula over all items).
 * @example scoreResults([{ controlId: 'a', layer: '安全计算环境', status: 'partial' }]).overall // 50
 */
export function scoreResults(items: readonly ItemResult[]): { layers: LayerScore[]; overall: number | null } {
  const by = new Map<string, LayerScore>();
  const total: LayerScore = { layer: '*', pass: 0, partial: 0, fail: 0, na: 0, manual: 0, percent: null };
  for (const it of items) {
    let s = by.get(it.layer);
    if (!s) by.set(it.layer, (s = { layer: it.layer, pass: 0, partial: 0, fail: 0, na: 0, manual: 0, percent: null }));
    s[it.status]++;
    total[it.status]++;
  }
  const pct = (s: LayerScore): number | null => {
    const d = s.pass + s.partial + s.fail;
    return d === 0 ? null : Math.round(((s.pass + 0.5 * s.partial) / d) * 1000) / 10;
  };
  const layers = [...by.values()].map((s) => ({ ...s, percent: pct(s) }));
  return { layers, overall: pct(total) };
}

export {
  BUILTIN_CONFIG_CHECKS,
  CONFIG_PLATFORMS,
  loadConfigChecks,
  validateConfigChecks,
  evaluateConfig,
  detectPlatform,
  type ConfigPlatform,
  type ConfigCheck,
  type ConfigCheckSet,
  type ConfigCheckResult,
  type ConfigRuleOutcome,
} from './config.js';

/** One of the D/A/K judgements of a GB/T 39786 item: conforming, not conforming, not applicable. */
export type DakValue = 'pass' | 'fail' | 'na';

/**
 * D/A/K of one item (商用密码应用安全性评估量化评估规则): D 密码使用有效性 (cryptography used
 * effectively), A 密码算法/技术合规性 (algorithms and techniques compliant), K 密钥管理安全性
 * (keys managed securely).
 */
export interface Dak {
  d: DakValue;
  a: DakValue;
  k: DakValue;
}

/**
 * Score of one item from its D/A/K, in {0, 0.25, 0.5, 1} as the 2021 rule's value set: D not
 * conforming → 0; otherwise 1, halved for A not conforming and halved again for K not conforming
 * (our reading of the rule's table 1; not applicable counts as conforming).
 * @example dakScore({ d: 'pass', a: 'pass', k: 'fail' }) // 0.5
 */
export function dakScore(x: Dak): number {
  if (x.d === 'fail') return 0;
  return (x.a === 'fail' ? 0.5 : 1) * (x.k === 'fail' ? 0.5 : 1);
}

/** Weight of a 测评单元 by its modality: 应 1, 宜 0.7, 可 0.4. */
export const MODALITY_WEIGHT: Readonly<Record<'应' | '宜' | '可', number>> = { 应: 1, 宜: 0.7, 可: 0.4 };

/**
 * Weight of each layer in the overall score: technical layers 物理和环境 10, 网络和通信 20,
 * 设备和计算 10, 应用和数据 30; management layers 管理制度 8, 人员管理 8, 建设运行 8, 应急处置 6.
 */
export const GMCY_LAYER_WEIGHT: Readonly<Record<string, number>> = {
  物理和环境安全: 10,
  网络和通信安全: 20,
  设备和计算安全: 10,
  应用和数据安全: 30,
  管理制度: 8,
  人员管理: 8,
  建设运行: 8,
  应急处置: 6,
};

/** One scored GB/T 39786 item. */
export interface GmcyScoredItem {
  controlId: string;
  layer: string;
  modality: '应' | '宜' | '可';
  /** Absent: not judged (left out of the score). */
  dak?: Dak;
}

/**
 * The quantitative score of a GB/T 39786 assessment: per layer the modality-weighted mean of the
 * item scores (0–1), overall 100 × the layer-weighted mean over the layers that have a scored
 * item. Items of 通用要求 and 密钥管理 are not scored on their own (they feed A and K), as the rule
 * does not score the general requirements separately. Our implementation of the published
 * structure; see soc/README.md "Compliance" for what was and was not verified.
 * @example scoreGmcy([{ controlId: 'x', layer: '网络和通信安全', modality: '应', dak: { d: 'pass', a: 'pass', k: 'pass' } }]).overall // 100
 */
export function scoreGmcy(items: readonly GmcyScoredItem[]): { layers: { layer: string; score: number | null; items: number }[]; overall: number | null } {
  const by = new Map<string, { w: number; s: number; n: number }>();
  for (const it of items) {
    if (!(it.layer in GMCY_LAYER_WEIGHT)) continue;
    const acc = by.get(it.layer) ?? { w: 0, s: 0, n: 0 };
    by.set(it.layer, acc);
    if (!it.dak) continue;
    const w = MODALITY_WEIGHT[it.modality];
    acc.w += w;
    acc.s += w * dakScore(it.dak);
    acc.n++;
  }
  const layers = [...by].map(([layer, a]) => ({ layer, score: a.w === 0 ? null : Math.round((a.s / a.w) * 10_000) / 10_000, items: a.n }));
  let lw = 0;
  let ls = 0;
  for (const l of layers) {
    if (l.score === null) continue;
    lw += GMCY_LAYER_WEIGHT[l.layer]!;
    ls += GMCY_LAYER_WEIGHT[l.layer]! * l.score;
  }
  return { layers, overall: lw === 0 ? null : Math.round((ls / lw) * 1000) / 10 };
}

/** Overall grade of a GB/T 22239 self-assessment, in the vocabulary of the 等级测评报告: 优, 良, 中, 差. */
export type DjcpGrade = '优' | '良' | '中' | '差';

/** An overall conclusion with the reason it was reached, for the report to print. */
export interface Conclusion<G extends string> {
  /** `null` when nothing applicable was judged. */
  grade: G | null;
  reason: string;
}

/**
 * The overall grade of a GB/T 22239 self-assessment from its overall percentage and findings.
 *
 * The thresholds follow the grading published with the 2021 测评报告模板 as it is publicly
 * described (not checked against the official template): 优 ≥ 90 with no problem that brings a
 * medium or high risk, 良 ≥ 80 and 中 ≥ 70 with no high risk, 差 with a high risk or below 70.
 * Two differences, because this self-assessment cannot grade risks the way an assessor does: the
 * percentage is our own formula ({@link scoreResults}), not the template's 综合得分; and as we do
 * not tell medium from low risks, 优 also needs no non-compliant item at all.
 * @example djcpConclusion({ overall: 92, failing: 1, highRisk: 0 }).grade // '良'
 */
export function djcpConclusion(x: { overall: number | null; failing: number; highRisk: number }): Conclusion<DjcpGrade> {
  if (x.highRisk > 0) return { grade: '差', reason: `${x.highRisk} high-risk candidate(s) found` };
  if (x.overall === null) return { grade: null, reason: 'no applicable item was judged' };
  if (x.overall < 70) return { grade: '差', reason: `overall ${x.overall}% < 70%` };
  if (x.overall < 80) return { grade: '中', reason: `overall ${x.overall}% in [70, 80), no high-risk candidate` };
  if (x.overall < 90 || x.failing > 0)
    return { grade: '良', reason: x.overall < 90 ? `overall ${x.overall}% in [80, 90), no high-risk candidate` : `overall ${x.overall}% ≥ 90% but ${x.failing} non-compliant item(s)` };
  return { grade: '优', reason: `overall ${x.overall}% ≥ 90%, no non-compliant item` };
}

/** Overall conclusion of a GB/T 39786 self-assessment: 符合, 基本符合, 不符合. */
export type GmcyVerdict = '符合' | '基本符合' | '不符合';

/**
 * The overall conclusion of a GB/T 39786 self-assessment from its quantitative score
 * ({@link scoreGmcy}), as the 密评 report conclusion is publicly described (not checked against
 * an official text): 符合 when no problem was found (score 100), 基本符合 when problems were found
 * but the score is at least 60 and none is high risk, 不符合 below 60 or with a high risk. The
 * catalogue carries no GB/T 39786 high-risk mapping, so only the score decides here.
 * @example gmcyConclusion(75).grade // '基本符合'
 */
export function gmcyConclusion(score: number | null): Conclusion<GmcyVerdict> {
  if (score === null) return { grade: null, reason: 'no item was scored' };
  if (score >= 100) return { grade: '符合', reason: 'score 100: no problem found in the scored items' };
  if (score >= 60) return { grade: '基本符合', reason: `score ${score} in [60, 100)` };
  return { grade: '不符合', reason: `score ${score} < 60` };
}
