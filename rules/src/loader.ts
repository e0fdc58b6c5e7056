/**
 * Loading rule files (the thin I/O shell around the pure compiler): YAML documents from files
 * and directories, with size bounds, and every failure reported with its file.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { RuleError } from './errors.js';
import { listFromCsv, listFromStix, type ThreatList } from './lists.js';
import type { LoadedRule, RejectedRule } from './types.js';

/** The rule packs shipped with this package (rules/packs). */
export const BUILTIN_PACKS_DIR = fileURLToPath(new URL('../../packs', import.meta.url));
/** The example threat-intel lists shipped with this package (rules/lists). */
export const BUILTIN_LISTS_DIR = fileURLToPath(new URL('../../lists', import.meta.url));

/** Largest rule file read (bytes); larger files are rejected with RULE_ERR_LIMIT. */
export const MAX_RULE_FILE_BYTES = 1 << 20;
/** Most documents one file may hold. */
export const MAX_DOCS_PER_FILE = 64;

/**
 * Parse YAML text holding one or more Sigma documents.
 *
 * @example
 * const [r] = parseRuleText('title: t\nlogsource: {product: linux}\ndetection: {s: {a: 1}, condition: s}\n', 'inline.yml');
 */
export function parseRuleText(text: string, source: string): LoadedRule[] {
  if (typeof text !== 'string') throw new TypeError('rule text must be a string');
  if (text.length > MAX_RULE_FILE_BYTES) throw new RuleError('RULE_ERR_LIMIT', `${source}: rule file of ${text.length} characters exceeds ${MAX_RULE_FILE_BYTES}`);
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) throw new RuleError('RULE_ERR_YAML', `${source}: not a YAML document stream`);
  if (docs.length > MAX_DOCS_PER_FILE) throw new RuleError('RULE_ERR_LIMIT', `${source}: more than ${MAX_DOCS_PER_FILE} documents`);
  const out: LoadedRule[] = [];
  docs.forEach((d, i) => {
    if (d.errors.length) throw new RuleError('RULE_ERR_YAML', `${source}: ${d.errors[0].message}`);
    let v: unknown;
    try {
      v = d.toJS({ maxAliasCount: 100 });
    } catch (e) {
      // The yaml package refuses alias expansion bombs ("billion laughs") with a plain Error.
      throw new RuleError('RULE_ERR_LIMIT', `${source}: ${(e as Error).message}`, { cause: e });
    }
    if (v === null || v === undefined) return;
    if (typeof v !== 'object' || Array.isArray(v)) throw new RuleError('RULE_ERR_SCHEMA', `${source}: a rule document must be a mapping`);
    out.push({ doc: v as Record<string, unknown>, source: docs.length > 1 ? `${source}#${i}` : source });
  });
  return out;
}

/** Rules loaded from files, and files that could not be read or parsed. */
export interface LoadResult {
  rules: LoadedRule[];
  errors: RejectedRule[];
}

/**
 * Every `*.yml`/`*.yaml` file under `path` (a file or a directory, recursively, sorted).
 *
 * @example
 * listRuleFiles('rules/packs').length
 */
export function listRuleFiles(path: string): string[] {
  const st = statSync(path);
  if (!st.isDirectory()) return [path];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ya?ml$/i.test(n)) out.push(p);
    }
  };
  walk(path);
  return out;
}

/**
 * Load every rule file under a path. Unreadable or malformed files land in `errors` with the
 * reason instead of stopping the load.
 *
 * @example
 * const { rules, errors } = loadRules('rules/packs');
 */
export function loadRules(path: string): LoadResult {
  const rules: LoadedRule[] = [];
  const errors: RejectedRule[] = [];
  for (const f of listRuleFiles(path)) {
    try {
      const size = statSync(f).size;
      if (size > MAX_RULE_FILE_BYTES) throw new RuleError('RULE_ERR_LIMIT', `${f}: rule file of ${size} bytes exceeds ${MAX_RULE_FILE_BYTES}`);
      rules.push(...parseRuleText(readFileSync(f, 'utf8'), f));
    } catch (e) {
      if (!(e instanceof RuleError)) throw e;
      errors.push({ source: f, code: e.code, reason: e.message });
    }
  }
  return { rules, errors };
}

/**
 * Load the threat-intel lists of a directory: `NAME.csv` (CSV) and `NAME.stix.json` (STIX 2.1
 * bundle) each become the list `NAME`. `now` (ISO 8601) drops expired STIX indicators.
 *
 * @example
 * const lists = loadLists('rules/lists'); compileRules(rules, pipeline, { lists });
 */
export function loadLists(dir: string, now?: string): Map<string, ThreatList> {
  const out = new Map<string, ThreatList>();
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    let list: ThreatList | undefined;
    if (n.endsWith('.csv')) list = listFromCsv(n.slice(0, -4), readFileSync(p, 'utf8'));
    else if (n.endsWith('.stix.json')) list = listFromStix(n.slice(0, -10), readFileSync(p, 'utf8'), now).list;
    if (!list) continue;
    if (out.has(list.name)) throw new RuleError('RULE_ERR_LIST', `list ${list.name} is defined twice in ${dir}`);
    out.set(list.name, list);
  }
  return out;
}
