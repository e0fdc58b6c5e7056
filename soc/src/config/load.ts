/**
 * Reading the configuration: YAML text → object → JSON Schema validation with defaults
 * (ajv `useDefaults`) → command-line overrides. Every error names the path of the bad key.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { SocError } from '../errors.js';
import { ConfigSchema, type SocConfig } from './schema.js';

const ajv = new Ajv({ useDefaults: true, allErrors: true, strict: false });
const validate = ajv.compile<SocConfig>(ConfigSchema);

/** Command-line flags that override the file (`xiangan soc start --data … --syslog-port … --api-port …`). */
export interface ConfigOverrides {
  data?: string;
  syslogPort?: number;
  apiPort?: number;
}

/** One ajv error as `path: problem`, the path in dotted form (`api.port`, `files[0].paths`). */
function describe(e: ErrorObject): string {
  let path = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('')
    .replace(/^\./, '');
  let problem = e.message ?? 'is invalid';
  if (e.keyword === 'additionalProperties') {
    const key = (e.params as { additionalProperty: string }).additionalProperty;
    path = path ? `${path}.${key}` : key;
    problem = 'is not a known option';
  } else if (e.keyword === 'required') {
    const key = (e.params as { missingProperty: string }).missingProperty;
    path = path ? `${path}.${key}` : key;
    problem = 'is required';
  }
  return `${path || '(root)'}: ${problem}`;
}

/**
 * Validate a parsed configuration object, filling defaults. `source` names it in errors.
 *
 * @example
 * ```ts
 * const cfg = validateConfig({ api: { port: 9090 } });  // every other option at its default
 * cfg.syslog.udpPort;                                   // 5514
 * ```
 */
export function validateConfig(input: unknown, source = 'config'): SocConfig {
  const obj = input === null || input === undefined ? {} : structuredClone(input);
  if (typeof obj !== 'object' || Array.isArray(obj)) {
    throw new SocError('SOC_ERR_CONFIG', `${source}: the top level must be a mapping of options`, { details: { paths: ['(root)'] } });
  }
  if (!validate(obj)) {
    // With union types ajv reports one error per branch; keep one line per path.
    const errs = validate.errors ?? [];
    const allowed = new Map<string, unknown[]>();
    for (const e of errs) if (e.keyword === 'const') allowed.set(e.instancePath, [...(allowed.get(e.instancePath) ?? []), (e.params as { allowedValue: unknown }).allowedValue]);
    const lines = [
      ...new Set(
        errs
          .filter((e) => e.keyword !== 'anyOf')
          .map((e) => (e.keyword === 'const' ? describe({ ...e, message: `must be one of ${allowed.get(e.instancePath)!.map((v) => JSON.stringify(v)).join(', ')}` }) : describe(e))),
      ),
    ];
    const shown = lines.length ? lines : (validate.errors ?? []).map(describe);
    throw new SocError('SOC_ERR_CONFIG', `${source}: invalid configuration\n  ${shown.join('\n  ')}`, {
      details: { paths: shown.map((l) => l.slice(0, l.indexOf(':'))) },
    });
  }
  return obj;
}

/**
 * Load the configuration: the YAML file (if given), then the overrides; relative `data` and file
 * paths resolve against `cwd`.
 *
 * @example
 * ```ts
 * const cfg = loadConfig({ file: 'xiangan.yaml', overrides: { apiPort: 8081 }, cwd: process.cwd() });
 * ```
 */
export function loadConfig(opts: { file?: string; overrides?: ConfigOverrides; cwd: string }): SocConfig {
  let raw: unknown = {};
  const source = opts.file ?? 'defaults';
  if (opts.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(resolve(opts.cwd, opts.file), 'utf8');
    } catch (e) {
      throw new SocError('SOC_ERR_CONFIG', `${opts.file}: cannot read: ${(e as Error).message}`, { cause: e });
    }
    try {
      raw = parseYaml(text);
    } catch (e) {
      const pos = e instanceof YAMLParseError && e.linePos ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '';
      throw new SocError('SOC_ERR_CONFIG', `${opts.file}: not valid YAML${pos}: ${(e as Error).message.split('\n')[0]}`, { cause: e });
    }
  }
  const cfg = validateConfig(raw, source);
  const o = opts.overrides ?? {};
  if (o.data !== undefined) cfg.data = o.data;
  if (o.syslogPort !== undefined) {
    checkPort(o.syslogPort, '--syslog-port');
    cfg.syslog.udpPort = o.syslogPort;
    cfg.syslog.tcpPort = o.syslogPort;
  }
  if (o.apiPort !== undefined) {
    checkPort(o.apiPort, '--api-port');
    cfg.api.port = o.apiPort;
  }
  if (!isAbsolute(cfg.data)) cfg.data = resolve(opts.cwd, cfg.data);
  return cfg;
}

function checkPort(p: number, flag: string): void {
  if (!Number.isInteger(p) || p < 0 || p > 65535) throw new SocError('SOC_ERR_CONFIG', `${flag}: must be a port number 0..65535`);
}
