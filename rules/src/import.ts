/**
 * Import of a public Sigma corpus (e.g. SigmaHQ): which rules compile through a pipeline and,
 * for the others, why not.
 */
import { compileRules, type EngineOptions, type RuleEngine } from './engine.js';
import { loadRules, type LoadResult } from './loader.js';
import type { Pipeline } from './pipeline.js';
import type { RejectedRule } from './types.js';

/** Result of {@link importSigma}. */
export interface ImportReport {
  /** Documents seen (files that failed to parse count as one each). */
  total: number;
  accepted: number;
  rejected: RejectedRule[];
  /** Rejections per error code. */
  byCode: Record<string, number>;
  engine: RuleEngine;
}

/**
 * Load and compile every rule under `source` (a directory, or rules already loaded with
 * {@link loadRules}); nothing is dropped without a reason.
 *
 * @example
 * const r = importSigma('../shared/sigma/rules', builtinPipeline('ecs'));
 * const share = r.accepted / r.total;
 */
export function importSigma(source: string | LoadResult, pipeline: Pipeline, opts: EngineOptions = {}): ImportReport {
  // A LoadResult lets one load of a large corpus be compiled through several pipelines.
  const { rules, errors } = typeof source === 'string' ? loadRules(source) : source;
  const engine = compileRules(rules, pipeline, { ...opts, onError: 'skip' });
  const rejected = [...errors, ...engine.rejected];
  const byCode: Record<string, number> = {};
  for (const r of rejected) byCode[r.code] = (byCode[r.code] ?? 0) + 1;
  return { total: rules.length + errors.length, accepted: engine.detections.length + engine.correlations.length + engine.filters.length, rejected, byCode, engine };
}
