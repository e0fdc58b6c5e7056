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
/** Identifiers of the automated checks a control may be bound to. */
export type CheckId = 'log-arrival' | 'audit-fields' | 'retention' | 'integrity' | 'cleartext-management' | 'login-failure' | 'two-factor';

/** One control (测评项) of the catalogue. */
export interface Control {
  id: string;
  standard: ComplianceStandard;
  level: 2 | 3;
  clause: string;
  layer: string;
  controlPoint: string;
  text: string;
  /** The text is a paraphrase, not the published wording. */
  paraphrase: boolean;
  source: string;
  objectTypes: string[];
  check?: CheckId;
  algorithm?: string;
  highRisk?: string;
}

/** A parsed, schema-valid catalogue. */
export interface Catalogue {
  version: 1;
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
  const cat = doc as Catalogue;
  const seen = new Set<string>();
  for (const [i, c] of cat.controls.entries()) {
    if (seen.has(c.id)) throw new RuleError('RULE_ERR_SCHEMA', `catalogue /controls/${i}/id: duplicate id ${c.id}`);
    seen.add(c.id);
    if (!c.id.startsWith(`${c.standard}-${c.level}-`)) throw new RuleError('RULE_ERR_SCHEMA', `catalogue /controls/${i}/id: must start with ${c.standard}-${c.level}-`);
  }
  return cat;
}

/**
 * Load and validate a catalogue YAML file (default: the built-in one).
 * @example const { controls } = loadCatalogue();
 */
export function loadCatalogue(file: string = BUILTIN_CATALOGUE): Catalogue {
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new RuleError('RULE_ERR_SCHEMA', `catalogue ${file}: ${(e as Error).message}`, { cause: e });
  }
  return validateCatalogue(doc);
}

/** Controls of one standard and level. */
export function selectControls(cat: Catalogue, standard: ComplianceStandard, level: 2 | 3): Control[] {
  return cat.controls.filter((c) => c.standard === standard && c.level === level);
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
