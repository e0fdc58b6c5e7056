/**
 * The `xiangan` command line: a table from the first word to the module that owns it.
 * Modules are loaded lazily so `xiangan sm3` does not load the server.
 */
import type { CliIo, CommandModule } from './io.js';
import { UsageError } from './io.js';

type Loader = () => Promise<CommandModule>;

/** First word → owning module. Each module documents its sub-commands in its `run`. */
export const COMMANDS: Record<string, { load: Loader; summary: string }> = {
  sm3: { load: () => import('./crypto.js'), summary: 'SM3 digest of a file or stdin (hex)' },
  'hmac-sm3': { load: () => import('./crypto.js'), summary: 'HMAC-SM3 of a file or stdin (hex)' },
  sm4: { load: () => import('./crypto.js'), summary: 'SM4 encrypt|decrypt in any mode' },
  sm2: { load: () => import('./crypto.js'), summary: 'SM2 keygen|pubkey|sign|verify|encrypt|decrypt' },
  ca: { load: () => import('./pki.js'), summary: 'ca init|issue|revoke|crl|list: a small SM2 certification authority' },
  x509: { load: () => import('./pki.js'), summary: 'x509 req|show|verify: SM2 requests, certificates, path validation' },
  cms: { load: () => import('./pki.js'), summary: 'cms sign|verify|encrypt|decrypt: GM/T 0010 signed and enveloped data' },
  soc: { load: () => import('./soc.js'), summary: 'soc start: run the SOC server (syslog, HTTP ingest, API)' },
  search: { load: () => import('./soc.js'), summary: "search stored events: xiangan search 'user.name:root' --last 1h" },
  tail: { load: () => import('./soc.js'), summary: 'follow new events as they are stored' },
  ingest: { load: () => import('./soc.js'), summary: 'import a log file (syslog, ndjson, evtx-json) into storage' },
  rules: { load: () => import('./rules.js'), summary: 'rules validate|test|match|import-sigma|hunt|aggregate: Sigma detection rules' },
  alerts: { load: () => import('./alerts.js'), summary: 'alerts list|ack|resolve|purge: the alert lifecycle and retention (--data DIR or --api URL)' },
  audit: { load: () => import('./audit.js'), summary: 'audit verify|prove|export|checkpoint|list: tamper evidence (SM3 Merkle trees, SM2-signed checkpoints)' },
  kms: { load: () => import('./kms.js'), summary: 'kms init|serve|create|rotate|list|sign|verify|encrypt|decrypt|datakey|backup|restore: the crypto service' },
  comply: { load: () => import('./comply.js'), summary: 'comply run|assets|verify: GB/T 22239 / GB/T 39786 self-assessment with signed reports' },
};

function usage(io: CliIo): void {
  const lines = Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(12)} ${v.summary}`);
  io.stderr.write(`usage: xiangan <command> [options]\n\ncommands:\n${lines.join('\n')}\n`);
}

/** Run the CLI; resolves to the exit code. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    usage(io);
    return cmd ? 0 : 2;
  }
  const entry = COMMANDS[cmd];
  if (!entry) {
    io.stderr.write(`xiangan: unknown command '${cmd}'\n`);
    usage(io);
    return 2;
  }
  try {
    const mod = await entry.load();
    return await mod.run(cmd, rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`xiangan ${cmd}: ${e.message}\n`);
      return 2;
    }
    const err = e as { code?: string; message?: string };
    io.stderr.write(`xiangan ${cmd}: ${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}\n`);
    return 1;
  }
}
