/**
 * `xiangan comply`: compliance self-assessment (GB/T 22239-2019, GB/T 39786-2021).
 *
 * ```
 * xiangan comply run --system ID [--level 2|3] [--standard djcp|gmcy] [--format html,json,csv,pdf] [--lang zh|en]
 *                    [--out DIR] [--data DIR] [--config FILE] [--passphrase-env VAR] [--unsigned]
 * xiangan comply assets import FILE.csv [--data DIR]
 * xiangan comply assets list [--data DIR]
 * xiangan comply verify REPORT [--sig REPORT.p7s]
 * xiangan comply config upload --asset ID FILE [--platform vrp|comware|ios|sshd|login.defs|pam|auditd] [--data DIR]
 * xiangan comply config list [--asset ID] [--data DIR]
 * xiangan comply config check --asset ID [--data DIR]
 * xiangan comply judge --system ID --control ITEM --status pass|partial|fail|na [--comment TEXT] [--attach FILE]… [--dak D,A,K] [--data DIR]
 * xiangan comply judgements --system ID [--data DIR]
 * ```
 * Uploads and judgements are recorded in the audit trail under the data directory, with the
 * operator's name from `--actor` (default `cli:$USER`).
 */
import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { auditLog, AuditStore } from '../audit/index.js';
import { evaluateStoredConfigs, listConfigs, uploadConfig } from '../comply/configs.js';
import type { Dak } from '@xiangan/rules';
import { listJudgements, recordJudgement } from '../comply/judgements.js';
import { loadConfig } from '../config/load.js';
import { loadOrCreateIdentity } from '../integrity/identity.js';
import { openSqliteStore } from '../storage/sqlite.js';
import { importAssetsCsv, loadInventory, saveInventory } from '../comply/assets.js';
import { runAssessment } from '../comply/run.js';
import { verifyReportFile } from '../comply/sign.js';
import { writeReports } from '../comply/write.js';
import { parseCommandLine, UsageError, type CliIo } from './io.js';

const USAGE = `usage:
  xiangan comply run --system ID [--level 2|3] [--standard djcp|gmcy] [--format html,json,csv,pdf] [--lang zh|en] [--out DIR] [--data DIR] [--config FILE] [--passphrase-env VAR] [--unsigned]
  xiangan comply assets import FILE.csv [--data DIR]
  xiangan comply assets list [--data DIR]
  xiangan comply verify REPORT [--sig FILE]
  xiangan comply config upload --asset ID FILE [--platform vrp|comware|ios|sshd|login.defs|pam|auditd] [--data DIR] [--actor NAME]
  xiangan comply config list [--asset ID] [--data DIR]
  xiangan comply config check --asset ID [--data DIR]
  xiangan comply judge --system ID --control ITEM --status pass|partial|fail|na [--comment TEXT] [--attach FILE]... [--dak D,A,K] [--data DIR] [--actor NAME]
      (--dak: GB/T 39786 items, each of D, A, K one of pass|fail|na, e.g. pass,fail,pass)
  xiangan comply judgements --system ID [--data DIR]
`;

const OPTIONS = {
  data: { type: 'string' },
  system: { type: 'string' },
  level: { type: 'string' },
  standard: { type: 'string' },
  format: { type: 'string' },
  lang: { type: 'string' },
  out: { type: 'string' },
  config: { type: 'string' },
  sig: { type: 'string' },
  unsigned: { type: 'boolean' },
  'passphrase-env': { type: 'string' },
  asset: { type: 'string' },
  platform: { type: 'string' },
  control: { type: 'string' },
  status: { type: 'string' },
  comment: { type: 'string' },
  attach: { type: 'string', multiple: true },
  dak: { type: 'string' },
  actor: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Entry point of `xiangan comply`. */
export async function run(_cmd: string, argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandLine(argv, OPTIONS, USAGE);
  const { values: v, positionals: p } = parsed;
  if (v.help || p.length === 0) {
    io.stdout.write(USAGE);
    return v.help ? 0 : 2;
  }
  const dir = resolve(io.cwd, v.data ?? 'data');
  const sub = p[0];
  if (sub === 'assets' && p[1] === 'import') {
    if (!p[2]) throw new UsageError(USAGE);
    const { inventory, imported } = importAssetsCsv(loadInventory(dir), readFileSync(resolve(io.cwd, p[2]), 'utf8'));
    saveInventory(dir, inventory);
    io.stdout.write(`imported ${imported} assets; ${inventory.systems.length} systems, ${inventory.assets.length} assets in total\n`);
    return 0;
  }
  if (sub === 'assets' && p[1] === 'list') {
    io.stdout.write(`${JSON.stringify(loadInventory(dir), null, 2)}\n`);
    return 0;
  }
  const actor = v.actor ?? `cli:${io.env.USER ?? 'unknown'}`;
  if (sub === 'config' && p[1] === 'upload') {
    if (!v.asset || !p[2]) throw new UsageError(`--asset and a FILE are required\n${USAGE}`);
    const file = resolve(io.cwd, p[2]);
    const meta = withAudit(dir, () =>
      uploadConfig(dir, loadInventory(dir), { asset: v.asset!, fileName: basename(file), text: readFileSync(file, 'utf8'), ...(v.platform ? { platform: v.platform } : {}), actor }),
    );
    io.stdout.write(`stored ${meta.platform} configuration of ${meta.asset} (${meta.bytes} bytes, SM3 ${meta.sm3})\n`);
    return 0;
  }
  if (sub === 'config' && p[1] === 'list') {
    io.stdout.write(`${JSON.stringify(listConfigs(dir, v.asset), null, 2)}\n`);
    return 0;
  }
  if (sub === 'config' && p[1] === 'check') {
    if (!v.asset) throw new UsageError(`--asset is required\n${USAGE}`);
    const results = evaluateStoredConfigs(dir, [v.asset]);
    for (const r of results) io.stdout.write(`${r.status === 'pass' ? 'PASS' : 'FAIL'}  ${r.check}  ${r.title}${r.status === 'fail' ? `\n      → ${r.remediation}` : ''}\n`);
    io.stdout.write(`${results.filter((r) => r.status === 'pass').length}/${results.length} configuration checks pass\n`);
    return results.every((r) => r.status === 'pass') ? 0 : 1;
  }
  if (sub === 'judge') {
    if (!v.system || !v.control || !v.status) throw new UsageError(`--system, --control and --status are required\n${USAGE}`);
    const attachments = (v.attach ?? []).map((f) => ({ name: basename(f), content: new Uint8Array(readFileSync(resolve(io.cwd, f))) }));
    // Checked by recordJudgement (each of d, a, k must be pass|fail|na).
    const [d, a, k] = (v.dak ?? '').split(',');
    const dak = v.dak !== undefined ? ({ d, a, k } as Dak) : undefined;
    const j = withAudit(dir, () =>
      recordJudgement(dir, loadInventory(dir), { system: v.system!, control: v.control!, status: v.status!, ...(v.comment ? { comment: v.comment } : {}), auditor: actor, attachments, ...(dak ? { dak } : {}) }),
    );
    io.stdout.write(`recorded ${j.status} for ${j.system}/${j.control} by ${j.auditor}${j.attachments.map((a) => `\n  ${a.name} SM3 ${a.sm3}`).join('')}\n`);
    return 0;
  }
  if (sub === 'judgements') {
    if (!v.system) throw new UsageError(`--system is required\n${USAGE}`);
    io.stdout.write(`${JSON.stringify(listJudgements(dir, v.system), null, 2)}\n`);
    return 0;
  }
  if (sub === 'verify') {
    if (!p[1]) throw new UsageError(USAGE);
    const file = resolve(io.cwd, p[1]);
    const r = verifyReportFile(file, v.sig ? resolve(io.cwd, v.sig) : undefined);
    io.stdout.write(r.ok ? `OK: signed by ${r.signer ?? '?'} at ${r.signingTime ?? '?'}; chain ${r.chainOk ? 'valid' : 'NOT valid'}\n` : `FAILED: ${r.reason ?? 'bad signature'}\n`);
    return r.ok && r.chainOk ? 0 : 1;
  }
  if (sub === 'run') {
    if (!v.system) throw new UsageError(`--system is required\n${USAGE}`);
    const level = v.level === undefined ? undefined : Number(v.level);
    if (level !== undefined && level !== 2 && level !== 3) throw new UsageError('--level must be 2 or 3');
    const standard = v.standard ?? 'djcp';
    if (standard !== 'djcp' && standard !== 'gmcy') throw new UsageError('--standard must be djcp or gmcy');
    const lang = v.lang ?? 'zh';
    if (lang !== 'zh' && lang !== 'en') throw new UsageError('--lang must be zh or en');
    const formats = (v.format ?? 'html,json').split(',').map((s) => s.trim());
    const socConfig = v.config ? loadConfig({ file: resolve(io.cwd, v.config), cwd: io.cwd }) : {};
    let identity;
    if (!v.unsigned) {
      const envName = v['passphrase-env'] ?? 'XIANGAN_INTEGRITY_PASSPHRASE';
      const pass = io.env[envName];
      if (!pass) throw new UsageError(`set $${envName} (the SOC signing key passphrase) or pass --unsigned`);
      identity = loadOrCreateIdentity({ dir, passphrase: pass });
    }
    const store = await openSqliteStore({ dir });
    try {
      const a = await runAssessment({ store, dataDir: dir, inventory: loadInventory(dir), systemId: v.system, ...(level ? { level } : {}), standard, socConfig: socConfig as never });
      const files = await writeReports(a, { outDir: resolve(io.cwd, v.out ?? '.'), formats, lang, ...(identity ? { identity } : {}) });
      io.stdout.write(`overall ${a.overall === null ? '—' : `${a.overall}%`} over ${a.items.length} items (${a.durationMs} ms)\n`);
      if (a.gmcyScore) io.stdout.write(`GB/T 39786 quantitative score (self-assessed): ${a.gmcyScore.overall ?? '—'}\n`);
      io.stdout.write(`self-assessed conclusion: ${a.conclusion.grade ?? '—'} (${a.conclusion.reason})\n`);
      for (const f of files) io.stdout.write(`${f}${identity ? ` (+ ${f}.p7s)` : ''}\n`);
      return 0;
    } finally {
      await store.close();
    }
  }
  throw new UsageError(USAGE);
}

/** Run `fn` with the data directory's audit trail attached, so its records are written before the process exits. */
function withAudit<T>(dir: string, fn: () => T): T {
  if (auditLog.store) return fn();
  const store = AuditStore.open({ dir });
  auditLog.attach(store);
  try {
    return fn();
  } finally {
    auditLog.detach();
    store.close();
  }
}
