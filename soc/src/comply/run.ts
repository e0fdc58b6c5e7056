/**
 * One assessment run: controls of a standard and level, checks bound to them, per-object and
 * per-layer judgements (GB/T 28448-2019 vocabulary) and scores. A self-assessment: only a
 * licensed assessment body issues a 等级测评结论.
 */
import { JUDGEMENT, loadCatalogue, scoreResults, selectControls, type CheckStatus, type ComplianceStandard, type LayerScore } from '@xiangan/rules';
import type { EventStore } from '../storage/types.js';
import { runChecks, type CheckContext, type Evidence } from './checks.js';
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
  source: string;
  algorithm?: string;
  status: CheckStatus;
  judgement: string;
  summary: string;
  /** Assets the item applies to (by object type). */
  objects: string[];
  evidence?: Evidence;
  /** 高风险 candidate (网络安全等级保护测评高风险判定指引) when the item fails. */
  highRisk?: string;
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
  layers: LayerScore[];
  overall: number | null;
  durationMs: number;
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
  const results = await runChecks({ store: o.store, dataDir: o.dataDir, assets, level, socConfig: o.socConfig ?? {}, now });
  const items: ItemJudgement[] = [];
  for (const c of selectControls(loadCatalogue(), standard, level)) {
    // The SOC object is implicit: it is the system doing the assessment.
    const objects = assets.filter((a) => c.objectTypes.includes(a.type)).map((a) => a.id);
    if (c.objectTypes.includes('soc') && !objects.length) objects.push('SOC');
    const r = c.check ? results.get(c.check) : undefined;
    let status: CheckStatus = r ? r.status : 'manual';
    let summary = r ? r.summary : 'not automated: an auditor records the judgement';
    if (objects.length === 0 && !c.objectTypes.includes('site')) {
      status = 'na';
      summary = 'no asset of the types this item applies to';
    }
    items.push({
      controlId: c.id,
      clause: c.clause,
      layer: c.layer,
      controlPoint: c.controlPoint,
      text: c.text,
      paraphrase: c.paraphrase,
      source: c.source,
      ...(c.algorithm ? { algorithm: c.algorithm } : {}),
      status,
      judgement: JUDGEMENT[status],
      summary,
      objects,
      ...(r ? { evidence: r.evidence } : {}),
      ...(c.highRisk && status === 'fail' ? { highRisk: c.highRisk } : {}),
    });
  }
  const { layers, overall } = scoreResults(items);
  return { kind: 'self-assessment', standard, level, system, assets, generatedAt: now.toISOString(), items, layers, overall, durationMs: Math.round(performance.now() - t0) };
}
