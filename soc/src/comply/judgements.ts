/**
 * Manual judgements (人工判定): an auditor's result for an item that cannot be automated (or that
 * overrides an automated one), with a comment and attached evidence files. Kept per system in
 * `<data>/comply/judgements.json`; attachments are stored once by their SM3 digest under
 * `<data>/comply/attachments/`. Every judgement is recorded in the audit trail (who, when, what,
 * the attachments' digests).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sm3 } from '@xiangan/crypto';
import { loadCatalogue, type Dak } from '@xiangan/rules';
import { auditLog } from '../audit/index.js';
import { ComplyError } from './errors.js';
import type { Inventory } from './assets.js';

/** Largest attachment accepted (bytes). */
export const MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024;
/** Statuses an auditor can record. */
export const JUDGEMENT_STATUSES = ['pass', 'partial', 'fail', 'na'] as const;

/** An attached evidence file. */
export interface Attachment {
  name: string;
  bytes: number;
  /** Hex SM3 of the content; also its storage name. */
  sm3: string;
}

/** One recorded judgement. */
export interface Judgement {
  system: string;
  control: string;
  status: (typeof JUDGEMENT_STATUSES)[number];
  comment: string;
  auditor: string;
  at: string;
  attachments: Attachment[];
  /** GB/T 39786 items: the auditor's D/A/K judgements for the quantitative score. */
  dak?: Dak;
}

type Store = Record<string, Record<string, Judgement>>;

function file(dataDir: string): string {
  return join(dataDir, 'comply', 'judgements.json');
}

function load(dataDir: string): Store {
  const f = file(dataDir);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as Store) : {};
}

/** Path of a stored attachment (by its SM3 hex). */
export function attachmentPath(dataDir: string, digest: string): string {
  if (!/^[0-9a-f]{64}$/.test(digest)) throw new ComplyError('SOC_ERR_COMPLY_JUDGEMENT', 'an attachment is named by its 64-hex-digit SM3 digest');
  return join(dataDir, 'comply', 'attachments', digest);
}

/**
 * Record (or replace) the judgement of one item for one system; returns it as stored.
 * @example recordJudgement('./data', inv, { system: 'S1', control: 'djcp-3-8.1.1.1.a', status: 'pass', comment: '现场核查', auditor: 'alice', attachments: [{ name: 'photo.jpg', content }] })
 */
export function recordJudgement(
  dataDir: string,
  inv: Inventory,
  o: { system: string; control: string; status: string; comment?: string; auditor: string; attachments?: { name: string; content: Uint8Array }[]; dak?: Dak; now?: Date },
): Judgement {
  if (o.dak !== undefined) {
    for (const k of ['d', 'a', 'k'] as const) {
      if (!['pass', 'fail', 'na'].includes(o.dak?.[k] as string)) throw new ComplyError('SOC_ERR_COMPLY_JUDGEMENT', `dak.${k} must be pass, fail or na`);
    }
    if (!o.control.startsWith('gmcy-')) throw new ComplyError('SOC_ERR_COMPLY_JUDGEMENT', 'D/A/K judgements apply to GB/T 39786 items only');
  }
  if (!inv.systems.some((s) => s.id === o.system)) throw new ComplyError('SOC_ERR_COMPLY_NOT_FOUND', `no system ${o.system}`);
  if (!loadCatalogue().controls.some((c) => c.id === o.control)) throw new ComplyError('SOC_ERR_COMPLY_JUDGEMENT', `no catalogue item ${o.control}`);
  if (!(JUDGEMENT_STATUSES as readonly string[]).includes(o.status)) throw new ComplyError('SOC_ERR_COMPLY_JUDGEMENT', `status must be one of ${JUDGEMENT_STATUSES.join(', ')}`);
  if (typeof o.auditor !== 'string' || o.auditor === '') throw new TypeError('auditor must be a non-empty string');
  const attachments: Attachment[] = [];
  for (const a of o.attachments ?? []) {
    if (!(a.content instanceof Uint8Array)) throw new TypeError('attachment content must be bytes');
    if (a.content.length > MAX_ATTACHMENT_BYTES) throw new ComplyError('SOC_ERR_COMPLY_JUDGEMENT', `attachment ${a.name} is ${a.content.length} bytes; at most ${MAX_ATTACHMENT_BYTES}`);
    const digest = Buffer.from(sm3(a.content)).toString('hex');
    const p = attachmentPath(dataDir, digest);
    if (!existsSync(p)) {
      mkdirSync(join(dataDir, 'comply', 'attachments'), { recursive: true });
      writeFileSync(`${p}.tmp`, a.content);
      renameSync(`${p}.tmp`, p);
    }
    attachments.push({ name: String(a.name).split(/[\\/]/).pop()!.slice(0, 255), bytes: a.content.length, sm3: digest });
  }
  const j: Judgement = {
    system: o.system,
    control: o.control,
    status: o.status as Judgement['status'],
    comment: String(o.comment ?? ''),
    auditor: o.auditor,
    at: (o.now ?? new Date()).toISOString(),
    attachments,
    ...(o.dak ? { dak: { d: o.dak.d, a: o.dak.a, k: o.dak.k } } : {}),
  };
  const store = load(dataDir);
  (store[o.system] ??= {})[o.control] = j;
  mkdirSync(join(dataDir, 'comply'), { recursive: true });
  writeFileSync(`${file(dataDir)}.tmp`, JSON.stringify(store, null, 2));
  renameSync(`${file(dataDir)}.tmp`, file(dataDir));
  auditLog.record({
    actor: o.auditor,
    action: 'comply.judgement.record',
    target: `${o.system}/${o.control}`,
    outcome: 'success',
    details: { status: j.status, comment: j.comment, ...(j.dak ? { dak: j.dak } : {}), attachments: attachments.map((a) => ({ name: a.name, sm3: a.sm3, bytes: a.bytes })) },
  });
  return j;
}

/** The judgements of one system, by item id. */
export function listJudgements(dataDir: string, system: string): Record<string, Judgement> {
  return load(dataDir)[system] ?? {};
}
