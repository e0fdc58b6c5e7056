/** Small builders shared by the rules tests. */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinPipeline, compileRules, type EngineOptions, type EventLike, type LoadedRule, type RuleEngine } from '../src/index.js';

/** rules/ package root (tests run from rules/dist/test). */
export const PKG_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The shared folder beside the clone (CI puts a copy there). */
export const SHARED = process.env.XIANGAN_SHARED ?? join(PKG_ROOT, '..', '..', 'shared');

/** A detection rule document over the given detection block. */
export function rule(detection: Record<string, unknown>, extra: Record<string, unknown> = {}): LoadedRule {
  return { doc: { title: 't', id: (extra.id as string) ?? 'r1', logsource: { product: 'test' }, detection, ...extra }, source: 'inline.yml' };
}

/** Engine over one identity-pipeline rule. */
export function engineOf(detection: Record<string, unknown>, opts: EngineOptions = {}): RuleEngine {
  return compileRules([rule(detection)], builtinPipeline('identity'), opts);
}

/** Whether a one-rule engine matches the event. */
export function hits(detection: Record<string, unknown>, ev: EventLike, opts: EngineOptions = {}): boolean {
  return engineOf(detection, opts).match(ev).length > 0;
}
