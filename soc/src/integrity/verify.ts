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
import type { RecordDigests } from './digest.js';
import type { DayLeaves, LeafStore } from './leaves.js';
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
  /** Days that hold records. */
  days(): string[] | Promise<string[]>;
  /** The stream's leaf index. */
  leaves: LeafStore;
  /**
   * Leaf hashes of every stored record of a day, in stored order (the commit order where the
   * backend keeps it, so that a clean day matches its leaves position by position), each over
   * the document as stored: its text as is (SQLite), or `JSON.stringify` of the document the
   * engine hands back (which reproduces the stored text, see `docHash`).
   */
  digests(day: string): RecordDigests | Promise<RecordDigests>;
  /** One stored document as text (proofs, and a second look at a record that does not match). */
  document(day: string, id: string): string | undefined | Promise<string | undefined>;
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
 * The second look at a document whose leaf hash does not match: the same document re-serialised
 * by `JSON.stringify`. The stored text was itself written by `JSON.stringify` (ECMA-262 §25.5.2:
 * member order kept, shortest number forms), so a benign re-serialisation with other spacing
 * hashes back to the leaf; text that no longer parses as JSON has certainly changed.
 */
function altHash(doc: string | undefined): Uint8Array | undefined {
  if (doc === undefined) return undefined;
  try {
    return leafHashText(JSON.stringify(JSON.parse(doc)));
  } catch {
    return undefined;
  }
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
    const indexed = new Set((await src.leaves.days()).filter(inRange));
    const signedDays = [...latest.values()].filter((c) => c.body.stream === src.stream && inRange(c.body.day)).map((c) => c.body.day);
    const all = [...new Set([...stored, ...indexed, ...signedDays])].sort();
    for (const day of all) {
      days++;
      const cp = latest.get(`${src.stream}/${day}`);
      const leaves: DayLeaves = indexed.has(day) ? await src.leaves.read(day) : { from: 0, ids: [], hashes: new Uint8Array(0) };
      const count = leaves.ids.length;
      if (cp?.body.type === 'deletion') {
        const pending = stored.has(day) || count > 0;
        expired.push({ stream: src.stream, day, records: cp.body.size, seq: cp.body.seq, pending });
        continue;
      }
      if (!stored.has(day) && count === 0) {
        findings.push({ kind: 'day-deleted', stream: src.stream, day, ...(cp ? { seq: cp.body.seq } : {}), message: `${src.stream} ${day} is gone without a signed deletion record` });
        continue;
      }
      if (!cp && count === 0) {
        findings.push({ kind: 'day-unchained', stream: src.stream, day, message: `${src.stream} ${day} has records but no leaf index or checkpoint` });
        continue;
      }
      // Started first: a source hashing in worker threads keeps them busy while the root is recomputed here.
      const hashing = stored.has(day) ? src.digests(day) : { ids: [], hashes: new Uint8Array(0) };
      if (cp) checkRoot(src.stream, day, leaves, cp, findings);
      if (cp) unanchored += Math.max(0, count - cp.body.size);
      else unanchored += count;
      const recs = await hashing;
      await checkRecords(src, day, leaves, recs, findings);
      records += recs.ids.length;
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

function checkRoot(stream: string, day: string, leaves: DayLeaves, cp: Checkpoint, findings: Finding[]): void {
  const size = cp.body.size;
  if (leaves.ids.length < size) {
    findings.push({ kind: 'leaves-truncated', stream, day, seq: cp.body.seq, message: `${stream} ${day}: checkpoint ${cp.body.seq} covers ${size} records, the leaf index holds ${leaves.ids.length}` });
    return;
  }
  const f = new MerkleFrontier();
  for (let i = 0; i < size; i++) f.push(leaves.hashes.subarray(32 * i, 32 * i + 32));
  if (!equalBytes(f.root(), hexToBytes(cp.body.root))) {
    findings.push({ kind: 'root-mismatch', stream, day, seq: cp.body.seq, message: `${stream} ${day}: the leaf index does not hash to the root signed in checkpoint ${cp.body.seq}` });
  }
}

/** Whether the 32-byte hashes at `a[i]` and `b[j]` are equal. */
function sameHash(a: Uint8Array, i: number, b: Uint8Array, j: number): boolean {
  const x = 32 * i;
  const y = 32 * j;
  for (let k = 0; k < 32; k++) if (a[x + k] !== b[y + k]) return false;
  return true;
}

/**
 * Match the stored records of a day against its leaves. A clean day matches position by
 * position in one pass; otherwise every record is looked up by id, and a record whose hash is
 * another position's leaf has been moved there (`reordered`).
 */
async function checkRecords(src: RecordSource, day: string, leaves: DayLeaves, recs: RecordDigests, findings: Finding[]): Promise<void> {
  const n = leaves.ids.length;
  const m = recs.ids.length;
  let i = 0;
  while (i < m && i < n && recs.ids[i] === leaves.ids[i] && sameHash(recs.hashes, i, leaves.hashes, i)) i++;
  if (i === m && i === n) return;
  // Something differs from position i on: the general match by id.
  const byId = new Map<string, number>();
  for (let p = 0; p < n; p++) byId.set(leaves.ids[p]!, p);
  let byHashCache: Map<string, number> | undefined;
  const byHash = (): Map<string, number> => {
    if (!byHashCache) {
      byHashCache = new Map();
      for (let p = 0; p < n; p++) byHashCache.set(bytesToHex(leaves.hashes.subarray(32 * p, 32 * p + 32)), p);
    }
    return byHashCache;
  };
  const seen = new Set<string>(recs.ids.slice(0, i));
  for (let r = i; r < m; r++) {
    const id = recs.ids[r]!;
    seen.add(id);
    const pos = byId.get(id);
    if (pos === undefined) {
      findings.push({ kind: 'inserted', stream: src.stream, day, id, message: `${src.stream} ${day}: record ${id} has no leaf (inserted)` });
      continue;
    }
    if (sameHash(recs.hashes, r, leaves.hashes, pos)) continue;
    const alt = altHash(await src.document(day, id));
    if (alt && equalBytes(alt, leaves.hashes.subarray(32 * pos, 32 * pos + 32))) continue;
    const other = byHash().get(bytesToHex(recs.hashes.subarray(32 * r, 32 * r + 32))) ?? (alt ? byHash().get(bytesToHex(alt)) : undefined);
    if (other !== undefined && other !== pos) {
      findings.push({
        kind: 'reordered',
        stream: src.stream,
        day,
        id,
        position: pos,
        holdsPosition: other,
        message: `${src.stream} ${day}: record ${id} (position ${pos}) holds the content of position ${other}`,
      });
    } else {
      findings.push({ kind: 'changed', stream: src.stream, day, id, position: pos, message: `${src.stream} ${day}: record ${id} (position ${pos}) was changed` });
    }
  }
  for (let p = 0; p < n; p++) {
    const id = leaves.ids[p]!;
    if (!seen.has(id)) findings.push({ kind: 'deleted', stream: src.stream, day, id, position: p, message: `${src.stream} ${day}: record ${id} (position ${p}) was deleted` });
  }
}
