/**
 * Rules as content under test (DESIGN.md convention 9): each rule file carries positive and
 * negative sample events under `x-xiangan.samples`; this runs them through a real engine.
 */
import { compileRules, type EngineOptions } from './engine.js';
import { builtinPipeline, type Pipeline } from './pipeline.js';
import type { EventLike, LoadedRule } from './types.js';

/** Outcome of one rule's samples. */
export interface SampleResult {
  ruleId: string;
  source: string;
  /** Samples run (match + nomatch). */
  run: number;
  /** Human-readable failures; empty when all samples behaved. */
  failures: string[];
}

function asSequence(s: unknown): EventLike[] {
  return Array.isArray(s) ? (s as EventLike[]) : [s as EventLike];
}

/**
 * Run every rule's samples. Each sample (one event, or a list of events for correlations) runs
 * on fresh correlation state through the whole rule set (correlations need their base rules);
 * a `match` sample passes when the rule matched at least once, a `nomatch` sample when it never did.
 * Rules are evaluated through the pipeline named in `x-xiangan.pipeline` (default `ecs`).
 *
 * @example
 * const failed = runSamples(loadRules('rules/packs').rules).filter((r) => r.failures.length);
 */
export function runSamples(rules: readonly LoadedRule[], opts: EngineOptions & { pipelines?: Record<string, Pipeline> } = {}): SampleResult[] {
  const pipelineOf = (r: LoadedRule) => ((r.doc['x-xiangan'] as { pipeline?: string } | undefined)?.pipeline ?? 'ecs') as 'ecs' | 'identity';
  const engines = new Map<string, ReturnType<typeof compileRules>>();
  const engineFor = (name: 'ecs' | 'identity') => {
    let e = engines.get(name);
    if (!e) {
      const p = opts.pipelines?.[name] ?? builtinPipeline(name);
      e = compileRules(rules.filter((r) => pipelineOf(r) === name), p, opts);
      engines.set(name, e);
    }
    return e;
  };
  const out: SampleResult[] = [];
  for (const r of rules) {
    const samples = (r.doc['x-xiangan'] as { samples?: { match?: unknown[]; nomatch?: unknown[] } } | undefined)?.samples;
    if (!samples) continue;
    const id = String(r.doc.id ?? r.doc.name ?? r.source);
    const engine = engineFor(pipelineOf(r));
    const res: SampleResult = { ruleId: id, source: r.source, run: 0, failures: [] };
    const runOne = (seq: EventLike[]) => {
      engine.reset();
      let hit = false;
      for (const ev of seq) for (const m of engine.match(ev)) if (m.ruleId === id) hit = true;
      return hit;
    };
    (samples.match ?? []).forEach((s, i) => {
      res.run++;
      if (!runOne(asSequence(s))) res.failures.push(`match sample ${i} did not match`);
    });
    (samples.nomatch ?? []).forEach((s, i) => {
      res.run++;
      if (runOne(asSequence(s))) res.failures.push(`nomatch sample ${i} matched`);
    });
    out.push(res);
  }
  return out;
}
