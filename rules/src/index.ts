/**
 * `@xiangan/rules`: a Sigma-compatible rule compiler and streaming engine with correlation,
 * field-mapping pipelines, threat-intel lists and our rule packs.
 *
 * @example
 * import { builtinPipeline, compileRules, loadRules } from '@xiangan/rules';
 * const engine = compileRules(loadRules('rules/packs').rules, builtinPipeline('ecs'));
 * const matches = engine.match(event);
 */
export { RuleError, RULE_ERROR_CODES, type RuleErrorCode } from './errors.js';
export type { EventLike, LoadedRule, Logsource, RejectedRule, RuleLevel, RuleMatch, CorrelationType } from './types.js';
export { builtinPipeline, parsePipeline, resolveLogsource, type Pipeline, type PipelineLogsource, type ResolvedLogsource, type LogsourceCondition } from './pipeline.js';
export { validateRuleDoc, ruleKind, DETECTION_SCHEMA, CORRELATION_SCHEMA, FILTER_SCHEMA, PIPELINE_SCHEMA, type RuleKind, type SchemaResult } from './schema.js';
export { parseCondition, type CondAst } from './condition.js';
export { compileItem, makeGetter, regexAlternatives, regexLiteral, regexLiterals, sigmaWildcardTokens, DEFAULT_LIMITS, type Limits, type Hint, type HintAlt, type Pred, type SigmaToken } from './values.js';
export { compileDocument, parseTimespan, type CompileOptions, type CompiledRule, type CompiledDetection, type CompiledCorrelation, type CompiledFilter } from './compile.js';
export { compileRules, RuleEngine, type EngineOptions, type EngineStats, type EngineSnapshot, type GroupState } from './engine.js';
export { ThreatList, listFromCsv, listFromStix, splitCsvLine, type StixImport } from './lists.js';
export { parseRuleText, loadRules, loadLists, listRuleFiles, MAX_RULE_FILE_BYTES, BUILTIN_PACKS_DIR, BUILTIN_LISTS_DIR, type LoadResult } from './loader.js';
export { runSamples, type SampleResult } from './samples.js';
export { importSigma, type ImportReport } from './import.js';
export { parseIp, parseCidr, cidrContains, type Cidr } from './ip.js';
export { AhoCorasick } from './aho.js';
export * from './compliance/index.js';
