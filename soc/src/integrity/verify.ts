/**
 * Verification: recompute every leaf from the stored records, every root from the leaf index,
 * and check the checkpoint chain (sequence, `prev` links, SM2 signatures, the signing
 * certificate's path at each checkpoint's time, RFC 5280 §6.1 via `@xiangan/pki`).
 *
 * What it can tell, per stream and day, against the newest checkpoint of the day:
 * - `changed`: a record whose content no longer hashes to its leaf;
 * - `reordered`: a record that now holds the content of another position of the same day;
 * - `deleted`: a leaf whose record is gone; `inserted`: a record that has no leaf;
 * - `root-mismatch` / `leaves-truncated`: the leaf index itself was edited (the per-record
 *   findings then rest on an index that is no longer the signed one);
 * - `day-deleted`: a checkpointed day that is gone without a signed deletion record;
 * - `checkpoint-missing`, `checkpoint-chain`, `checkpoint-signature`, `checkpoint-corrupt`,
 *   `certificate`: the chain of checkpoints is broken.
 * Expired days (a signed deletion record, data gone) are listed in `expired`, not as findings.
 */
import { bytesToHex, hexToBytes, importSm2PublicKey, sm2Verify, utf8ToBytes } from '@xiangan/crypto';
import { validatePath, type X509Certificate } from '@xiangan/pki';
import type Database from 'better-sqlite3';
import { checkpointHash, readCheckpoints, type Checkpoint } from './checkpoints.js';
import { leafDays, readLeaves, type LeafRow } from './leaves.js';
import { equalBytes, leafHashText, MerkleFrontier } from './merkle.js';

/** Kinds of finding. */
export type FindingKind =
  | 'changed'
  | 'deleted'
  | 'inserted'
  | 'reordered'
  | 'root-mismatch'
  | 'leaves-truncated'
  | 'day-deleted'
  | 'day-unchained'
  | 'checkpoint-missing'
  | 'checkpoint-chain'
  | 'checkpoint-signature'
  | 'checkpoint-corrupt'
  | 'certificate';

/** One finding. */
export interface Finding {
  kind: FindingKind;
  stream?: string;
  day?: string;
  /** The record concerned. */
  id?: string;
  /** Its position in the day's tree (0-based). */
  position?: number;
  /** For `reordered`: the position whose content the record now holds. */
  holdsPosition?: number;
  /** The checkpoint concerned. */
  seq?: number;
  message: string;
}

/** A day expired by retention under a signed deletion record. */
export interface ExpiredDay {
  stream: string;
  day: string;
  /** Records the day held when it was deleted. */
  records: number;
  seq: number;
  /** The data is still there (the drop after the signed record did not happen yet). */
  pending: boolean;
}

/** Outcome of {@link verifyIntegrity}. */
export interface IntegrityReport {
  /** No findings. */
  ok: boolean;
  findings: Finding[];
  expired: ExpiredDay[];
  /** Records checked, days checked, checkpoints checked. */
  records: number;
  days: number;
  checkpoints: number;
  /** Records committed after the newest checkpoint of their day (covered by the next one). */
  unanchored: number;
  /** Subject of the signing certificate. */
  signer?: string;
  /** Wall-clock milliseconds of the run. */
  ms: number;
}

/** The stored records of one chained stream. */
export interface RecordSource {
  /** `events` or `audit`. */
  stream: string;
  /** Days that hold records (the leaf index is read from `leafDb`). */
  days(): string[] | Promise<string[]>;
  /** The records of a day: id and stored document (text as stored, or a parsed object). */
  records(day: string): Iterable<{ id: string; doc: string | object }> | AsyncIterable<{ id: string; doc: string | object }>;
  /** Database holding the stream's leaf index (`il_YYYYMMDD`). */
  leafDb: Database.Database;
}

/** Options of {@link verifyIntegrity}. */
export interface VerifyOptions {
  /** The checkpoint database (`<data>/integrity/checkpoints.db`). */
  checkpoints: Database.Database;
  sources: RecordSource[];
  /** The signing certificate and its issuers; the last of `chain` is the trust anchor unless `trustAnchors` is given. */
  certificate: X509Certificate;
  chain: X509Certificate[];
  trustAnchors?: X509Certificate[];
  /** Only days `>= from` and `<= to` (`YYYY-MM-DD`). */
  from?: string;
  to?: string;
}

/**
 * Leaf hash of a stored document: over its text exactly as stored. A backend that hands the
 * document back parsed (an Elasticsearch `_source`) or re-serialised with other spacing is
 * compared through `JSON.stringify`, which reproduces the stored text because that text was
 * itself written by `JSON.stringify` (ECMA-262 §25.5.2: member order kept, shortest number
 * forms); text that no longer parses as JSON has certainly changed.
 */
function docHash(doc: string | object): { hash: Uint8Array; alt?: () => Uint8Array } {
  if (typeof doc !== 'string') return { hash: leafHashText(JSON.stringify(doc)) };
  return {
    hash: leafHashText(doc),
    alt: () => {
      try {
        return leafHashText(JSON.stringify(JSON.parse(doc)));
      } catch {
        return new Uint8Array(0);
      }
    },
  };
}

/**
 * Check everything; never throws for bad data (every problem is a finding).
 *
 * @example
 * const report = await verifyIntegrity(openVerifySources('./data'));
 * if (!report.ok) for (const f of report.findings) console.log(f.kind, f.id ?? f.seq, f.message);
 */
export async function verifyIntegrity(o: VerifyOptions): Promise<IntegrityReport> {
  const t0 = performance.now();
  const findings: Finding[] = [];
  const expired: ExpiredDay[] = [];
  const inRange = (d: string): boolean => (o.from === undefined || d >= o.from) && (o.to === undefined || d <= o.to);

  // 1. The chain of checkpoints.
  const pub = importSm2PublicKey(o.certificate.spki);
  const anchors = o.trustAnchors ?? (o.chain.length ? [o.chain[o.chain.length - 1]!] : [o.certificate]);
  const rows = readCheckpoints(o.checkpoints);
  const latest = new Map<string, Checkpoint>();
  let expected = 1;
  let prev: Checkpoint | undefined;
  const certChecked = new Set<string>();
  for (const { seq, checkpoint: c } of rows) {
    if (seq > expected) findings.push({ kind: 'checkpoint-missing', seq: expected, message: `checkpoints ${expected}…${seq - 1} are missing` });
    expected = seq + 1;
    if (!c || c.body.seq !== seq) {
      findings.push({ kind: 'checkpoint-corrupt', seq, message: `checkpoint ${seq} does not parse or names another sequence number` });
      prev = undefined;
      continue;
    }
    if (!sm2Verify(pub, utf8ToBytes(c.signed), c.signature)) {
      findings.push({ kind: 'checkpoint-signature', seq, stream: c.body.stream, day: c.body.day, message: `checkpoint ${seq}: the SM2 signature does not verify` });
    }
    if (prev && c.body.prev !== checkpointHash(prev)) {
      findings.push({ kind: 'checkpoint-chain', seq, message: `checkpoint ${seq} does not name checkpoint ${prev.body.seq} as its predecessor` });
    } else if (!prev && seq === 1 && c.body.prev !== '') {
      findings.push({ kind: 'checkpoint-chain', seq, message: 'the first checkpoint names a predecessor' });
    }
    // RFC 5280 §6.1: the certificate must have been valid when the checkpoint was signed.
    const day = c.body.time.slice(0, 10);
    if (!certChecked.has(day)) {
      certChecked.add(day);
      const r = validatePath(o.certificate, { trustAnchors: anchors, intermediates: o.chain, time: new Date(c.body.time), purpose: 'sign' });
      if (!r.ok) findings.push({ kind: 'certificate', seq, message: `signing certificate not valid at ${c.body.time}: ${r.code} ${r.message}` });
    }
    latest.set(`${c.body.stream}/${c.body.day}`, c);
    prev = c;
  }

  // 2. Every stream and day.
  let records = 0;
  let days = 0;
  let unanchored = 0;
  for (const src of o.sources) {
    const stored = new Set((await src.days()).filter(inRange));
    const indexed = new Set(leafDays(src.leafDb).filter(inRange));
    const signedDays = [...latest.values()].filter((c) => c.body.stream === src.stream && inRange(c.body.day)).map((c) => c.body.day);
    const all = [...new Set([...stored, ...indexed, ...signedDays])].sort();
    for (const day of all) {
      days++;
      const cp = latest.get(`${src.stream}/${day}`);
      const leaves = indexed.has(day) ? readLeaves(src.leafDb, day) : [];
      if (cp?.body.type === 'deletion') {
        const pending = stored.has(day) || leaves.length > 0;
        expired.push({ stream: src.stream, day, records: cp.body.size, seq: cp.body.seq, pending });
        continue;
      }
      if (!stored.has(day) && leaves.length === 0) {
        findings.push({ kind: 'day-deleted', stream: src.stream, day, ...(cp ? { seq: cp.body.seq } : {}), message: `${src.stream} ${day} is gone without a signed deletion record` });
        continue;
      }
      if (!cp && leaves.length === 0) {
        findings.push({ kind: 'day-unchained', stream: src.stream, day, message: `${src.stream} ${day} has records but no leaf index or checkpoint` });
        continue;
      }
      if (cp) checkRoot(src.stream, day, leaves, cp, findings);
      if (cp) unanchored += Math.max(0, leaves.length - cp.body.size);
      else unanchored += leaves.length;
      records += await checkRecords(src, day, leaves, findings);
    }
  }
  return {
    ok: findings.length === 0,
    findings,
    expired,
    records,
    days,
    checkpoints: rows.length,
    unanchored,
    signer: o.certificate.subjectName,
    ms: performance.now() - t0,
  };
}

function checkRoot(stream: string, day: string, leaves: LeafRow[], cp: Checkpoint, findings: Finding[]): void {
  const size = cp.body.size;
  if (leaves.length < size) {
    findings.push({ kind: 'leaves-truncated', stream, day, seq: cp.body.seq, message: `${stream} ${day}: checkpoint ${cp.body.seq} covers ${size} records, the leaf index holds ${leaves.length}` });
    return;
  }
  const f = new MerkleFrontier();
  for (let i = 0; i < size; i++) f.push(leaves[i]!.hash);
  if (!equalBytes(f.root(), hexToBytes(cp.body.root))) {
    findings.push({ kind: 'root-mismatch', stream, day, seq: cp.body.seq, message: `${stream} ${day}: the leaf index does not hash to the root signed in checkpoint ${cp.body.seq}` });
  }
}

async function checkRecords(src: RecordSource, day: string, leaves: LeafRow[], findings: Finding[]): Promise<number> {
  const byId = new Map<string, LeafRow>();
  for (const l of leaves) byId.set(l.id, l);
  // Built only when some record does not match its own leaf.
  let byHashCache: Map<string, number> | undefined;
  const byHash = (): Map<string, number> => (byHashCache ??= new Map(leaves.map((l) => [bytesToHex(l.hash), l.index])));
  const seen = new Set<string>();
  let n = 0;
  const it = src.records(day);
  // Synchronous sources (SQLite) are read without an await per record.
  if (Symbol.iterator in it) {
    for (const rec of it) {
      n++;
      checkOne(rec);
    }
  } else {
    for await (const rec of it) {
      n++;
      checkOne(rec);
    }
  }
  function checkOne(r: { id: string; doc: string | object }): void {
    seen.add(r.id);
    const leaf = byId.get(r.id);
    if (!leaf) {
      findings.push({ kind: 'inserted', stream: src.stream, day, id: r.id, message: `${src.stream} ${day}: record ${r.id} has no leaf (inserted)` });
      return;
    }
    const h = docHash(r.doc);
    if (equalBytes(h.hash, leaf.hash)) return;
    const alt = h.alt?.();
    if (alt && equalBytes(alt, leaf.hash)) return;
    const other = byHash().get(bytesToHex(h.hash)) ?? (alt && alt.length ? byHash().get(bytesToHex(alt)) : undefined);
    if (other !== undefined && other !== leaf.index) {
      findings.push({
        kind: 'reordered',
        stream: src.stream,
        day,
        id: r.id,
        position: leaf.index,
        holdsPosition: other,
        message: `${src.stream} ${day}: record ${r.id} (position ${leaf.index}) holds the content of position ${other}`,
      });
    } else {
      findings.push({ kind: 'changed', stream: src.stream, day, id: r.id, position: leaf.index, message: `${src.stream} ${day}: record ${r.id} (position ${leaf.index}) was changed` });
    }
  }
  for (const l of leaves) {
    if (!seen.has(l.id)) {
      findings.push({ kind: 'deleted', stream: src.stream, day, id: l.id, position: l.index, message: `${src.stream} ${day}: record ${l.id} (position ${l.index}) was deleted` });
    }
  }
  return n;
}
