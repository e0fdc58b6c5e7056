/**
 * One assessment run: controls of a standard and level, checks bound to them, per-object and
 * per-layer judgements (GB/T 28448-2019 vocabulary) and scores. A self-assessment: only a
 * licensed assessment body issues a 等级测评结论.
 */
import { combineStatuses, dakScore, djcpConclusion, gmcyConclusion, JUDGEMENT, loadCatalogue, scoreGmcy, scoreResults, selectControls, type CheckId, type CheckStatus, type ComplianceStandard, type Conclusion, type Dak, type DakValue, type DjcpGrade, type GmcyVerdict, type LayerScore } from '@xiangan/rules';
import type { EventStore } from '../storage/types.js';
import { runChecks, type CheckContext, type CheckResult, type Evidence } from './checks.js';
import { evaluateStoredConfigs, type AssetConfigResult } from './configs.js';
import { listJudgements, type Judgement } from './judgements.js';
import { ComplyError } from './errors.js';
import type { Asset, ComplySystem, Inventory } from './assets.js';

/** One judged item (测评项). */
export interface ItemJudgement {
  controlId: string;
  clause: string;
  layer: string;
  controlPoint: string;
  text: string;
  paraphrase: boolean;
  /** Title of the source the text was checked against (catalogue `sources:`). */
  source: string;
  sourceUrl?: string;
  /** Why the text is a paraphrase / how it differs from the source. */
  note?: string;
  /** GB/T 39786 modality 应/宜/可. */
  modality?: string;
  algorithm?: string;
  /** Automated checks bound to the item (empty: judged by an auditor). */
  checks: CheckId[];
  status: CheckStatus;
  judgement: string;
  summary: string;
  /** Assets the item applies to (by object type). */
  objects: string[];
  /** Evidence of the first bound check (kept for API compatibility). */
  evidence?: Evidence;
  /** Evidence of every bound check, when more than one. */
  evidenceByCheck?: Partial<Record<CheckId, Evidence>>;
  /** 高风险 candidate (网络安全等级保护测评高风险判定指引) when the item fails. */
  highRisk?: string;
  /** The auditor's recorded judgement, which decides the item's status. */
  manual?: Judgement;
  /** What the automated checks said, when an auditor's judgement overrides them. */
  automated?: { status: CheckStatus; summary: string };
  /** GB/T 39786: D/A/K (from the auditor's judgement, else derived from the checks) and the item score. */
  dak?: Dak & { source: 'auditor' | 'checks'; score: number };
  /** Configuration checks bound to the item, per asset. */
  configFindings?: { asset: string; check: string; title: string; status: 'pass' | 'fail'; remediation: string }[];
}

/** A finished run. */
export interface Assessment {
  kind: 'self-assessment';
  standard: ComplianceStandard;
  level: 2 | 3;
  system: ComplySystem;
  assets: Asset[];
  generatedAt: string;
  items: ItemJudgement[];
  /** Every automated check once, with its evidence. */
  checkResults: CheckResult[];
  /** Every configuration check over the uploaded configurations. */
  configResults: AssetConfigResult[];
  layers: LayerScore[];
  overall: number | null;
  /** GB/T 39786 runs: the quantitative score (商用密码应用安全性评估量化评估规则), 0–100. */
  gmcyScore?: ReturnType<typeof scoreGmcy>;
  /**
   * Overall self-assessed conclusion: 优/良/中/差 for GB/T 22239 ({@link djcpConclusion}),
   * 符合/基本符合/不符合 for GB/T 39786 ({@link gmcyConclusion}). Not a 测评结论.
   */
  conclusion: Conclusion<DjcpGrade | GmcyVerdict>;
  durationMs: number;
}

/**
 * D/A/K of a GB/T 39786 item from the automated checks (our rule, stated in soc/README.md): D
 * conforms when the item's checks pass or partly pass; A only when a bound check evidences SM
 * algorithms (the SOC's SM3/SM2 tamper evidence, SM2-with-SM3 certificates, SM-only KMS keys); K
 * only when the KMS or certificate check passes. Unevidenced A or K counts as not conforming.
 */
function derivedDak(status: CheckStatus, checks: readonly CheckId[], results: ReadonlyMap<CheckId, CheckResult>): Dak | undefined {
  if (status === 'manual' || status === 'na') return undefined;
  const d: DakValue = status === 'fail' ? 'fail' : 'pass';
  const smEvidence = (k: CheckId): boolean => {
    const r = results.get(k);
    if (!r || r.status === 'manual' || r.status === 'na') return false;
    if (k === 'integrity') return r.status === 'pass';
    if (k === 'certificates') return (r.evidence.counts.nonSm2 ?? 1) === 0;
    if (k === 'kms-keys') return (r.evidence.counts.nonSmKeys ?? 1) === 0;
    return false;
  };
  const a: DakValue = checks.some(smEvidence) ? 'pass' : 'fail';
  const k: DakValue = results.get('kms-keys')?.status === 'pass' || results.get('certificates')?.status === 'pass' ? 'pass' : 'fail';
  return { d, a, k };
}

/** Options of {@link runAssessment}. */
export interface RunOptions {
  store: EventStore;
  dataDir: string;
  inventory: Inventory;
  systemId: string;
  /** Default: the system's level. */
  level?: 2 | 3;
  standard?: ComplianceStandard;
  socConfig?: CheckContext['socConfig'];
  now?: Date;
}

/**
 * Run the assessment of a system.
 * @example const a = await runAssessment({ store, dataDir: './data', inventory: loadInventory('./data'), systemId: 'S1' });
 */
export async function runAssessment(o: RunOptions): Promise<Assessment> {
  const t0 = performance.now();
  const system = o.inventory.systems.find((s) => s.id === o.systemId);
  if (!system) throw new ComplyError('SOC_ERR_COMPLY_NOT_FOUND', `no system ${o.systemId}`);
  const level = o.level ?? system.level;
  if (level !== 2 && level !== 3) throw new RangeError('level must be 2 or 3');
  const standard = o.standard ?? 'djcp';
  const assets = o.inventory.assets.filter((a) => a.systemId === system.id);
  const now = o.now ?? new Date();
  const configResults = evaluateStoredConfigs(o.dataDir, assets.map((a) => a.id));
  const results = await runChecks({ store: o.store, dataDir: o.dataDir, assets, level, socConfig: o.socConfig ?? {}, now, configResults });
  const judgements = listJudgements(o.dataDir, system.id);
  const byControl = new Map<string, AssetConfigResult[]>();
  for (const r of configResults) for (const id of r.controls) byControl.set(id, [...(byControl.get(id) ?? []), r]);
  const items: ItemJudgement[] = [];
  for (const c of selectControls(loadCatalogue(), standard, level)) {
    // The SOC object is implicit: it is the system doing the assessment. 机房 (site) and 管理 (org)
    // items are not about registered assets.
    const objects = assets.filter((a) => c.objectTypes.includes(a.type)).map((a) => a.id);
    if (c.objectTypes.includes('soc') && !objects.length) objects.push('SOC');
    const checks = c.checks ?? [];
    const rs = checks.map((k) => results.get(k)).filter((r): r is NonNullable<typeof r> => r !== undefined);
    const cfg = byControl.get(c.id) ?? [];
    const statuses = rs.map((r) => r.status);
    const summaries = rs.map((r) => r.summary);
    if (cfg.length) {
      const ok = cfg.filter((r) => r.status === 'pass').length;
      statuses.push(ok === cfg.length ? 'pass' : ok === 0 ? 'fail' : 'partial');
      summaries.push(`configuration checks: ${ok}/${cfg.length} pass`);
    }
    let status: CheckStatus = statuses.length ? combineStatuses(statuses) : 'manual';
    let summary = statuses.length ? summaries.join('; ') : 'not automated: an auditor records the judgement';
    const physicalOrOrg = c.objectTypes.every((t) => t === 'site' || t === 'org');
    if (objects.length === 0 && !physicalOrOrg) {
      status = 'na';
      summary = 'no asset of the types this item applies to';
    }
    // An auditor's judgement decides; the automated result stays beside it.
    const j = judgements[c.id];
    const automated = j && statuses.length ? { status, summary } : undefined;
    if (j) {
      status = j.status;
      summary = `人工判定 ${j.auditor} ${j.at}${j.comment ? `: ${j.comment}` : ''}${j.attachments.length ? ` (${j.attachments.length} attachment(s))` : ''}`;
    }
    const dak = standard === 'gmcy' ? (j?.dak ? { ...j.dak, source: 'auditor' as const } : undefined) ?? withSource(derivedDak(status, checks, results)) : undefined;
    items.push({
      controlId: c.id,
      clause: c.clause,
      layer: c.layer,
      controlPoint: c.controlPoint,
      text: c.text,
      paraphrase: c.paraphrase,
      source: c.source.title,
      sourceUrl: c.source.url,
      ...(c.note ? { note: c.note } : {}),
      ...(c.modality ? { modality: c.modality } : {}),
      ...(c.algorithm ? { algorithm: c.algorithm } : {}),
      checks,
      status,
      judgement: JUDGEMENT[status],
      summary,
      objects,
      ...(rs[0] ? { evidence: rs[0].evidence } : {}),
      ...(rs.length > 1 ? { evidenceByCheck: Object.fromEntries(rs.map((r) => [r.check, r.evidence])) } : {}),
      ...(c.highRisk && status === 'fail' ? { highRisk: c.highRisk } : {}),
      ...(j ? { manual: j } : {}),
      ...(dak ? { dak: { ...dak, score: dakScore(dak) } } : {}),
      ...(automated ? { automated } : {}),
      ...(cfg.length ? { configFindings: cfg.map((r) => ({ asset: r.asset, check: r.check, title: r.title, status: r.status, remediation: r.remediation })) } : {}),
    });
  }
  const { layers, overall } = scoreResults(items);
  const gmcyScore =
    standard === 'gmcy'
      ? scoreGmcy(items.map((i) => ({ controlId: i.controlId, layer: i.layer, modality: (i.modality ?? '应') as '应' | '宜' | '可', ...(i.dak ? { dak: i.dak } : {}) })))
      : undefined;
  const conclusion: Conclusion<DjcpGrade | GmcyVerdict> = gmcyScore
    ? gmcyConclusion(gmcyScore.overall)
    : djcpConclusion({ overall, failing: items.filter((i) => i.status === 'fail').length, highRisk: items.filter((i) => i.highRisk).length });
  return {
    kind: 'self-assessment',
    standard,
    level,
    system,
    assets,
    generatedAt: now.toISOString(),
    items,
    checkResults: [...results.values()],
    configResults,
    layers,
    overall,
    ...(gmcyScore ? { gmcyScore } : {}),
    conclusion,
    durationMs: Math.round(performance.now() - t0),
  };
}

function withSource(d: Dak | undefined): (Dak & { source: 'checks' }) | undefined {
  return d ? { ...d, source: 'checks' } : undefined;
}
