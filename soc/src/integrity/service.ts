/**
 * Tamper evidence in the running SOC: attach the audit trail, sign checkpoints at a fixed
 * interval (and at day end, since each run closes ended days), and sign deletion records before
 * retention drops days. Without a passphrase the records are still chained (leaf hashes commit
 * with them) but nothing is signed until the SOC runs with one.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '@xiangan/collectors';
import { AuditStore, auditLog } from '../audit/log.js';
import { Checkpointer, type LeafSource } from './checkpoints.js';
import { attachEngineChain, type ChainableEngine } from './engine.js';
import { identityFiles, loadOrCreateIdentity, type SigningIdentity } from './identity.js';

/** Options of {@link startIntegrity}. */
export interface IntegrityServiceOptions {
  dir: string;
  /** Passphrase of the signing key; empty: chain only, no checkpoints. */
  passphrase: string;
  /** Seconds between checkpoints. */
  intervalSeconds: number;
  caDir?: string;
  caPassphrase?: string;
  logger: Logger;
  now?: () => number;
  /**
   * The Elasticsearch/OpenSearch event store, when events are stored there: its writes are
   * chained into its integrity index (`./engine.ts`). Without it, events are in `<dir>/events.db`.
   */
  engine?: ChainableEngine;
}

/** The running service. */
export interface IntegrityService {
  audit: AuditStore;
  checkpointer: Checkpointer | undefined;
  /** The SOC's signing identity (with a passphrase): signs checkpoints and compliance reports. */
  identity: SigningIdentity | undefined;
  /** Sign deletion records for the days retention is about to drop (before it drops them). */
  beforeRetention(days: readonly string[]): Promise<void>;
  /** Make a last checkpoint and close (before the event store closes: an engine is read through it). */
  close(): Promise<void>;
}

/**
 * Start tamper evidence for a data directory.
 * @example const integrity = startIntegrity({ dir: './data', passphrase, intervalSeconds: 60, logger });
 */
export function startIntegrity(o: IntegrityServiceOptions): IntegrityService {
  // Engine writes are chained whether or not checkpoints are signed, as SQLite's are.
  const chain = o.engine ? attachEngineChain(o.engine) : undefined;
  const audit = AuditStore.open({ dir: o.dir, ...(o.now ? { now: o.now } : {}) });
  auditLog.attach(audit);
  let checkpointer: Checkpointer | undefined;
  let identity: SigningIdentity | undefined;
  let eventsDb: Database.Database | undefined;
  if (o.passphrase) {
    const created = !existsSync(identityFiles(o.dir).cert);
    identity = loadOrCreateIdentity({
      dir: o.dir,
      passphrase: o.passphrase,
      ...(o.caDir ? { caDir: o.caDir } : {}),
      ...(o.caPassphrase ? { caPassphrase: o.caPassphrase } : {}),
    });
    // Key operations belong in the audit trail (GB/T 39786-2021: key lifecycle is auditable).
    if (created) {
      auditLog.record({
        actor: 'system',
        action: 'key.create',
        target: 'integrity-signing-key',
        outcome: 'success',
        details: { subject: identity.certificate.subjectName, serial: identity.certificate.serialHex },
      });
    }
    let events: LeafSource;
    if (chain) events = { stream: 'events', leaves: chain.leaves.store('events') };
    else {
      // Its own connection: the checkpointer only reads the leaf index (WAL readers never block the writer).
      eventsDb = new Database(join(o.dir, 'events.db'));
      eventsDb.pragma('busy_timeout = 5000');
      events = { stream: 'events', db: eventsDb };
    }
    checkpointer = new Checkpointer({
      dir: o.dir,
      identity,
      sources: [events, { stream: 'audit', db: audit.database }],
      ...(o.now ? { now: o.now } : {}),
    });
    checkpointer.start(o.intervalSeconds * 1000, (e) =>
      o.logger.error({ err: e, errorCode: (e as { code?: string }).code, stage: 'integrity' }, 'Checkpoint failed.'),
    );
    o.logger.info({ signer: identity.certificate.subjectName, intervalSeconds: o.intervalSeconds }, 'Tamper evidence on: checkpoints are signed.');
  } else {
    o.logger.warn({}, 'No integrity passphrase: records are chained but no checkpoint is signed (set XIANGAN_INTEGRITY_PASSPHRASE).');
  }
  return {
    audit,
    checkpointer,
    identity,
    async beforeRetention(days) {
      if (!checkpointer || days.length === 0) return;
      const made = await checkpointer.expire('events', days);
      await chain?.leaves.dropDays('events', days);
      auditLog.record({ actor: 'system', action: 'retention.expire', target: 'events', outcome: 'success', details: { days: [...days], deletionRecords: made.map((c) => c.body.seq) } });
    },
    async close() {
      try {
        await checkpointer?.close();
      } finally {
        chain?.detach();
        eventsDb?.close();
        auditLog.detach();
        audit.close();
      }
    },
  };
}
