/**
 * Configuration checks in the spirit of Wazuh SCA: each check is data (rules/compliance/config-checks.yaml),
 * names the platform whose configuration it reads and the catalogue items it is evidence for, and
 * holds rules evaluated over the configuration's lines:
 *
 * - `r:REGEX` — some line matches;
 * - `!r:REGEX` — no line matches;
 * - `n:REGEX compare OP NUMBER` — some line matches and, on every matching line, the first capture
 *   group compared with NUMBER holds (OP one of `<`, `<=`, `==`, `!=`, `>=`, `>`);
 * - `d:REGEX compare OP NUMBER` — the number of distinct values of the first capture group over the
 *   matching lines, compared with NUMBER (e.g. at least three distinct administrator accounts, or at
 *   least two distinct privilege levels: evidence that administration is split between people).
 *
 * `condition: all` needs every rule true, `any` at least one, `none` none. Regular expressions are
 * case-insensitive; comment lines (first non-blank character `#` or `!`) are ignored. Pure: no I/O
 * beyond reading the check file.
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { RuleError } from '../errors.js';
import type { CheckId } from './index.js';

/** The configuration checks shipped with this package. */
export const BUILTIN_CONFIG_CHECKS = fileURLToPath(new URL('../../../compliance/config-checks.yaml', import.meta.url));
const CONFIG_SCHEMA_FILE = fileURLToPath(new URL('../../../compliance/config-checks.schema.json', import.meta.url));

/** Platforms whose configurations can be uploaded and checked. */
export const CONFIG_PLATFORMS = ['vrp', 'comware', 'ios', 'sshd', 'login.defs', 'pam', 'auditd'] as const;
/** A configuration platform: Huawei VRP, H3C Comware, Cisco IOS, OpenSSH `sshd_config`, `login.defs`, a PAM stack, `auditd.conf`. */
export type ConfigPlatform = (typeof CONFIG_PLATFORMS)[number];

/** One configuration check (SCA-style). */
export interface ConfigCheck {
  id: string;
  platform: ConfigPlatform;
  title: string;
  /** What to change when it fails. */
  remediation: string;
  /** Catalogue item ids this check is evidence for. */
  controls: string[];
  /** Automated checks this one also feeds (e.g. `idle-timeout`, `time-sync`). */
  feeds?: CheckId[];
  condition: 'all' | 'any' | 'none';
  rules: string[];
}

interface CompiledRule {
  text: string;
  kind: 'r' | '!r' | 'n' | 'd';
  re: RegExp;
  op?: string;
  value?: number;
}

/** One evaluated rule line of a check, with the lines that decided it. */
export interface ConfigRuleOutcome {
  rule: string;
  ok: boolean;
  lines: { line: number; text: string }[];
}

/** Result of one check over one configuration. */
export interface ConfigCheckResult {
  check: string;
  platform: ConfigPlatform;
  title: string;
  status: 'pass' | 'fail';
  remediation: string;
  controls: string[];
  feeds: CheckId[];
  rules: ConfigRuleOutcome[];
}

const OPS: Record<string, (a: number, b: number) => boolean> = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
  '>=': (a, b) => a >= b,
  '>': (a, b) => a > b,
};

/**
 * Compile one rule string; throws `RuleError('RULE_ERR_SCHEMA')` on a bad one.
 * @example compileRule('n:^\\s*MaxAuthTries\\s+(\\d+) compare <= 5')
 */
function compileRule(text: string, where: string): CompiledRule {
  const re = (src: string): RegExp => {
    try {
      return new RegExp(src, 'i');
    } catch (e) {
      throw new RuleError('RULE_ERR_SCHEMA', `${where}: bad regular expression ${src}: ${(e as Error).message}`);
    }
  };
  if (text.startsWith('!r:')) return { text, kind: '!r', re: re(text.slice(3)) };
  if (text.startsWith('r:')) return { text, kind: 'r', re: re(text.slice(2)) };
  if (text.startsWith('n:') || text.startsWith('d:')) {
    const kind = text[0] as 'n' | 'd';
    const m = /^[nd]:(.*) compare (<=|>=|==|!=|<|>) (-?\d+(?:\.\d+)?)$/.exec(text);
    if (!m) throw new RuleError('RULE_ERR_SCHEMA', `${where}: ${kind === 'n' ? 'numeric' : 'distinct-count'} rule must be "${kind}:REGEX compare OP NUMBER"`);
    const r = re(m[1]!);
    if (!/\((?!\?)/.test(m[1]!)) throw new RuleError('RULE_ERR_SCHEMA', `${where}: ${kind === 'n' ? 'numeric' : 'distinct-count'} rule needs a capture group`);
    return { text, kind, re: r, op: m[2]!, value: Number(m[3]) };
  }
  throw new RuleError('RULE_ERR_SCHEMA', `${where}: rule must start with r:, !r:, n: or d:`);
}

/** A validated set of configuration checks. */
export interface ConfigCheckSet {
  checks: ConfigCheck[];
  compiled: Map<string, CompiledRule[]>;
}

/**
 * Validate a parsed check file; `knownControls` (catalogue ids), when given, must hold every bound id.
 * @example const set = validateConfigChecks(parse(text), new Set(loadCatalogue().controls.map((c) => c.id)));
 */
export function validateConfigChecks(doc: unknown, knownControls?: ReadonlySet<string>): ConfigCheckSet {
  const schema = JSON.parse(readFileSync(CONFIG_SCHEMA_FILE, 'utf8')) as object;
  const validate = new Ajv({ strict: false }).compile(schema);
  if (!validate(doc)) {
    const e = validate.errors?.[0];
    throw new RuleError('RULE_ERR_SCHEMA', `config checks ${e?.instancePath || '/'}: ${e?.message ?? 'invalid'}`);
  }
  const checks = (doc as { checks: ConfigCheck[] }).checks;
  const compiled = new Map<string, CompiledRule[]>();
  for (const [i, c] of checks.entries()) {
    if (compiled.has(c.id)) throw new RuleError('RULE_ERR_SCHEMA', `config checks /checks/${i}/id: duplicate id ${c.id}`);
    if (knownControls) for (const id of c.controls) if (!knownControls.has(id)) throw new RuleError('RULE_ERR_SCHEMA', `config checks /checks/${i}/controls: unknown catalogue item ${id}`);
    compiled.set(c.id, c.rules.map((r, j) => compileRule(r, `config checks /checks/${i}/rules/${j}`)));
  }
  return { checks, compiled };
}

let builtin: ConfigCheckSet | undefined;

/**
 * Load and validate a check file (default: the built-in one, read once per process).
 * @example const { checks } = loadConfigChecks();
 */
export function loadConfigChecks(file: string = BUILTIN_CONFIG_CHECKS, knownControls?: ReadonlySet<string>): ConfigCheckSet {
  if (file === BUILTIN_CONFIG_CHECKS && builtin && !knownControls) return builtin;
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new RuleError('RULE_ERR_SCHEMA', `config checks ${file}: ${(e as Error).message}`, { cause: e });
  }
  const set = validateConfigChecks(doc, knownControls);
  if (file === BUILTIN_CONFIG_CHECKS) builtin = set;
  return set;
}

/** Content lines with their 1-based numbers, comments and blank lines left out. */
function contentLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i]!;
    const s = t.trimStart();
    if (s === '' || s.startsWith('#') || s.startsWith('!')) continue;
    out.push({ line: i + 1, text: t });
  }
  return out;
}

function evalRule(r: CompiledRule, lines: { line: number; text: string }[]): ConfigRuleOutcome {
  const hits = lines.filter((l) => r.re.test(l.text));
  if (r.kind === 'r') return { rule: r.text, ok: hits.length > 0, lines: hits.slice(0, 5) };
  if (r.kind === '!r') return { rule: r.text, ok: hits.length === 0, lines: hits.slice(0, 5) };
  const cmp = OPS[r.op!]!;
  if (r.kind === 'd') {
    // Case-folded, as the expressions are case-insensitive: `Admin` and `admin` are one account on these platforms' CLIs.
    const distinct = new Set(hits.map((l) => r.re.exec(l.text)![1]?.toLowerCase()).filter((v) => v !== undefined));
    return { rule: r.text, ok: cmp(distinct.size, r.value!), lines: hits.slice(0, 5) };
  }
  const ok = hits.length > 0 && hits.every((l) => cmp(Number(r.re.exec(l.text)![1]), r.value!));
  return { rule: r.text, ok, lines: hits.slice(0, 5) };
}

/**
 * Evaluate every check of `platform` over one configuration text.
 * @example evaluateConfig(loadConfigChecks(), 'sshd', readFileSync('/etc/ssh/sshd_config', 'utf8'))
 */
export function evaluateConfig(set: ConfigCheckSet, platform: ConfigPlatform, text: string): ConfigCheckResult[] {
  if (!(CONFIG_PLATFORMS as readonly string[]).includes(platform)) throw new RangeError(`platform must be one of ${CONFIG_PLATFORMS.join(', ')}`);
  if (typeof text !== 'string') throw new TypeError('evaluateConfig: text must be a string');
  const lines = contentLines(text);
  const out: ConfigCheckResult[] = [];
  for (const c of set.checks) {
    if (c.platform !== platform) continue;
    const rules = set.compiled.get(c.id)!.map((r) => evalRule(r, lines));
    const n = rules.filter((r) => r.ok).length;
    const ok = c.condition === 'all' ? n === rules.length : c.condition === 'any' ? n > 0 : n === 0;
    out.push({ check: c.id, platform, title: c.title, status: ok ? 'pass' : 'fail', remediation: c.remediation, controls: c.controls, feeds: c.feeds ?? [], rules });
  }
  return out;
}

/**
 * Guess the platform of a configuration from its file name and content; `undefined` when unsure.
 * @example detectPlatform('sshd_config', text) // 'sshd'
 */
export function detectPlatform(fileName: string, text: string): ConfigPlatform | undefined {
  const base = fileName.split(/[\\/]/).pop()!.toLowerCase();
  if (base.startsWith('sshd_config')) return 'sshd';
  if (base === 'login.defs') return 'login.defs';
  if (base === 'auditd.conf') return 'auditd';
  if (/^(system-auth|password-auth|common-(auth|password|account)|sshd|login)$/.test(base) || /^\s*(auth|account|password|session)\s+\S+\s+pam_\w+\.so/m.test(text)) return 'pam';
  // Comware and VRP both say `sysname`; Comware configures `line vty`, VRP `user-interface vty`.
  if (/^\s*line\s+(class|vty\s+\d+\s+\d+)/m.test(text) && /^\s*sysname\s/m.test(text)) return 'comware';
  if (/^\s*user-interface\s+(vty|con|console)\b/m.test(text) || (/^\s*sysname\s/m.test(text) && /^\s*return\s*$/m.test(text))) return 'vrp';
  if (/^\s*hostname\s/m.test(text) && /^\s*line\s+(vty|con)\b/m.test(text)) return 'ios';
  return undefined;
}
