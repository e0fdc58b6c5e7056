/**
 * `xiangan audit`: tamper evidence from the command line, against the files of a data directory.
 *
 * ```
 * xiangan audit verify [--from DATE] [--to DATE] [--data DIR] [--backend sqlite|elasticsearch|opensearch] [--config FILE] [--json]
 * xiangan audit prove ID [--data DIR] [--backend …] [--config FILE] [--out FILE]
 * xiangan audit export [--data DIR] [--out FILE]
 * xiangan audit checkpoint [--data DIR] [--backend …] [--config FILE] [--passphrase-env VAR]
 * xiangan audit list [--from DATE] [--to DATE] [--size N] [--data DIR] [--json]
 * ```
 *
 * Exit codes: 0 clean / done, 1 findings or a typed failure, 2 usage.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { AuditStore } from '../audit/log.js';
import { Checkpointer, type LeafSource } from '../integrity/checkpoints.js';
import { loadOrCreateIdentity } from '../integrity/identity.js';
import { exportCheckpoints, proveInclusion } from '../integrity/proof.js';
import { engineEventSource } from '../integrity/engine.js';
import { openIntegrity } from '../integrity/sources.js';
import { verifyIntegrity, type IntegrityReport, type RecordSource } from '../integrity/verify.js';
import { loadConfig } from '../config/load.js';
import { openConfiguredEngine } from '../storage/search-engine-open.js';
import type { SearchEngineEventStore } from '../storage/search-engine.js';
import { parseCommandLine, UsageError, type CliIo } from './io.js';

const USAGE = `usage:
  xiangan audit verify [--from DATE] [--to DATE] [--data DIR] [--backend sqlite|elasticsearch|opensearch] [--config FILE] [--json]
  xiangan audit prove ID [--data DIR] [--backend sqlite|elasticsearch|opensearch] [--config FILE] [--out FILE]
  xiangan audit export [--data DIR] [--out FILE]
  xiangan audit checkpoint [--data DIR] [--backend sqlite|elasticsearch|opensearch] [--config FILE] [--passphrase-env VAR]
  xiangan audit list [--from DATE] [--to DATE] [--size N] [--data DIR] [--json]
`;

const OPTIONS = {
  data: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  backend: { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  out: { type: 'string' },
  size: { type: 'string' },
  'passphrase-env': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function day(v: string | undefined, name: string): string | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || !Number.isFinite(t)) throw new UsageError(`--${name} must be a date (YYYY-MM-DD)`);
  return new Date(t).toISOString().slice(0, 10);
}

function printReport(r: IntegrityReport, io: CliIo): void {
  const w = (s: string): boolean => io.stdout.write(s + '\n');
  w(`${r.ok ? 'OK' : 'FINDINGS'}: ${r.records} records in ${r.days} days, ${r.checkpoints} checkpoints${r.signer ? ` signed by ${r.signer}` : ''} (${Math.round(r.ms)} ms)`);
  if (r.unanchored) w(`${r.unanchored} records are newer than the last checkpoint of their day (covered by the next one)`);
  for (const e of r.expired) w(`expired: ${e.stream} ${e.day} (${e.records} records, deletion record ${e.seq}${e.pending ? ', data not yet dropped' : ''})`);
  for (const f of r.findings) w(`${f.kind}: ${f.message}`);
}

/**
 * The engine holding the events for `--backend elasticsearch|opensearch`: the cluster of the
 * `storage.engine` section of `--config` (defaults otherwise), and its `events` source.
 */
async function engineEvents(backend: string | undefined, config: string | undefined, io: CliIo): Promise<{ store: SearchEngineEventStore; events: RecordSource } | undefined> {
  if (backend === undefined || backend === 'sqlite') return undefined;
  if (backend !== 'elasticsearch' && backend !== 'opensearch') throw new UsageError('--backend must be sqlite, elasticsearch or opensearch');
  const c = loadConfig({ ...(config ? { file: config } : {}), cwd: io.cwd });
  const store = await openConfiguredEngine(backend, c.storage.engine, c.storage.retentionDays);
  return { store, events: engineEventSource(store.transport, store.names) };
}

/** Run `xiangan audit …`; resolves to the exit code. */
export async function run(_command: string, argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandLine(argv, OPTIONS, USAGE);
  const { values: v, positionals } = parsed;
  const [sub, ...rest] = positionals;
  if (v.help || !sub) {
    io.stderr.write(USAGE);
    return v.help ? 0 : 2;
  }
  const dir = resolve(io.cwd, v.data ?? 'data');
  const out = (text: string): void => {
    if (v.out) writeFileSync(resolve(io.cwd, v.out), text);
    else io.stdout.write(text);
  };
  switch (sub) {
    case 'verify': {
      if (rest.length) throw new UsageError(`unexpected ${rest.join(' ')}\n${USAGE}`);
      const from = day(v.from, 'from');
      const to = day(v.to, 'to');
      const engine = await engineEvents(v.backend, v.config, io);
      try {
        const o = openIntegrity(dir, { ...(from ? { from } : {}), ...(to ? { to } : {}), ...(engine ? { events: engine.events } : {}) });
        try {
          const r = await verifyIntegrity(o);
          if (v.json) io.stdout.write(JSON.stringify(r, null, 2) + '\n');
          else printReport(r, io);
          return r.ok ? 0 : 1;
        } finally {
          o.close();
        }
      } finally {
        await engine?.store.close();
      }
    }
    case 'prove': {
      if (rest.length !== 1) throw new UsageError(`give one record id\n${USAGE}`);
      const engine = await engineEvents(v.backend, v.config, io);
      try {
        const o = openIntegrity(dir, engine ? { events: engine.events } : {});
        try {
          out(JSON.stringify(await proveInclusion(o, rest[0]!), null, 2) + '\n');
          return 0;
        } finally {
          o.close();
        }
      } finally {
        await engine?.store.close();
      }
    }
    case 'export': {
      const o = openIntegrity(dir);
      try {
        out(JSON.stringify(exportCheckpoints(o), null, 2) + '\n');
        return 0;
      } finally {
        o.close();
      }
    }
    case 'checkpoint': {
      const envName = v['passphrase-env'] ?? 'XIANGAN_INTEGRITY_PASSPHRASE';
      const passphrase = io.env[envName];
      if (!passphrase) throw new UsageError(`set $${envName} to the integrity key passphrase`);
      const identity = loadOrCreateIdentity({ dir, passphrase });
      const engine = await engineEvents(v.backend, v.config, io);
      const eventsDb = engine ? undefined : new Database(join(dir, 'events.db'), { fileMustExist: true });
      const audit = AuditStore.open({ dir });
      const events: LeafSource = engine ? { stream: 'events', leaves: engine.events.leaves } : { stream: 'events', db: eventsDb! };
      const cp = new Checkpointer({ dir, identity, sources: [events, { stream: 'audit', db: audit.database }] });
      try {
        const made = await cp.run();
        io.stdout.write(`${made.length} checkpoints signed\n`);
        return 0;
      } finally {
        await cp.close();
        audit.close();
        eventsDb?.close();
        await engine?.store.close();
      }
    }
    case 'list': {
      const size = v.size === undefined ? 100 : Number(v.size);
      if (!Number.isInteger(size) || size < 0) throw new UsageError('--size must be a non-negative integer');
      const store = AuditStore.open({ dir, readonly: true });
      try {
        const recs = store.list({ ...(v.from ? { from: v.from } : {}), ...(v.to ? { to: v.to } : {}), limit: size });
        if (v.json) io.stdout.write(JSON.stringify(recs) + '\n');
        else for (const r of recs) io.stdout.write(`${r['@timestamp']}  ${r.actor}  ${r.action}  ${r.target ?? '-'}  ${r.outcome}\n`);
        return 0;
      } finally {
        store.close();
      }
    }
    default:
      throw new UsageError(`unknown sub-command '${sub}'\n${USAGE}`);
  }
}
