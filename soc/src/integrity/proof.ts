/**
 * Inclusion proofs for single records, checkable by a third party with only the signed checkpoint
 * and the certificate (RFC 9162 §2.1.3: audit path from the leaf to the signed root), and the
 * JSON export of the checkpoint chain.
 */
import { bytesToHex, bytesToBase64, base64ToBytes, hexToBytes, importSm2PublicKey, sm2Verify, utf8ToBytes } from '@xiangan/crypto';
import type { X509Certificate } from '@xiangan/pki';
import { SocError } from '../errors.js';
import { readCheckpoints, type Checkpoint, type CheckpointBody } from './checkpoints.js';
import { inclusionProof, leafHashText, verifyInclusion } from './merkle.js';
import type { OpenedIntegrity } from './sources.js';

/** An inclusion proof as exported (all binary values hex, signature base64 DER, certificates PEM). */
export interface InclusionProof {
  format: 'xiangan-inclusion-proof/1';
  stream: string;
  id: string;
  day: string;
  /** The record's canonical bytes as stored (RFC 8785 JSON text); its leaf is SM3(0x00 ‖ UTF-8). */
  document: string;
  leafHash: string;
  /** 0-based position and the tree size the checkpoint signs. */
  index: number;
  treeSize: number;
  /** Sibling hashes, bottom-up (RFC 9162 §2.1.3.1). */
  path: string[];
  checkpoint: { signed: string; signature: string; body: CheckpointBody };
  /** Signing certificate and its issuers (PEM), issuing CA first, root last. */
  certificate: string;
  chain: string[];
  /** How the SM2 signature was made. */
  signatureAlgorithm: 'SM2-with-SM3, ID 1234567812345678, DER';
}

function latestCovering(checkpoints: Checkpoint[], stream: string, day: string, index: number): Checkpoint | undefined {
  let best: Checkpoint | undefined;
  for (const c of checkpoints) {
    if (c.body.stream === stream && c.body.day === day && c.body.type === 'checkpoint' && c.body.size > index) best = c;
  }
  return best;
}

/**
 * Make the inclusion proof of a record (an event id, or an audit record id).
 * Throws `SOC_ERR_INTEGRITY` when the record is unknown or no checkpoint covers it yet.
 * @example const proof = await proveInclusion(openIntegrity('./data'), eventId);
 */
export async function proveInclusion(o: OpenedIntegrity, id: string): Promise<InclusionProof> {
  if (typeof id !== 'string' || id === '') throw new TypeError('proveInclusion: id must be a non-empty string');
  const cps = readCheckpoints(o.checkpoints)
    .map((r) => r.checkpoint)
    .filter((c): c is Checkpoint => c !== undefined);
  for (const src of o.sources) {
    for (const day of [...(await src.leaves.days())].reverse()) {
      const leaves = await src.leaves.read(day);
      const index = leaves.ids.indexOf(id);
      if (index < 0) continue;
      const document = await src.document(day, id);
      if (document === undefined) throw new SocError('SOC_ERR_INTEGRITY', `record ${id} has a leaf but is no longer stored (deleted)`);
      const cp = latestCovering(cps, src.stream, day, index);
      if (!cp) throw new SocError('SOC_ERR_INTEGRITY', `record ${id} is not covered by a checkpoint yet; try again after the next one`);
      const hashes = leaves.ids.map((_, i) => leaves.hashes.subarray(32 * i, 32 * i + 32));
      const path = inclusionProof(hashes, index, cp.body.size);
      return {
        format: 'xiangan-inclusion-proof/1',
        stream: src.stream,
        id,
        day,
        document,
        leafHash: bytesToHex(leafHashText(document)),
        index,
        treeSize: cp.body.size,
        path: path.map(bytesToHex),
        checkpoint: { signed: cp.signed, signature: bytesToBase64(cp.signature), body: cp.body },
        certificate: o.certificate.toPem(),
        chain: o.chain.map((c) => c.toPem()),
        signatureAlgorithm: 'SM2-with-SM3, ID 1234567812345678, DER',
      };
    }
  }
  throw new SocError('SOC_ERR_INTEGRITY', `no stored record with id ${id}`);
}

/**
 * Check a proof with our own code (the independent check is `tools/verify-proof`): the document
 * hashes to the leaf, the path leads to the signed root, and the signature verifies under the
 * certificate's key. Certificate path validation is the caller's (it needs a trust anchor).
 * @example checkInclusionProof(proof, cert) // true
 */
export function checkInclusionProof(p: InclusionProof, certificate: X509Certificate): boolean {
  const body = JSON.parse(p.checkpoint.signed) as CheckpointBody;
  if (body.stream !== p.stream || body.day !== p.day || body.size !== p.treeSize || body.type !== 'checkpoint') return false;
  const leaf = leafHashText(p.document);
  if (bytesToHex(leaf) !== p.leafHash) return false;
  if (!verifyInclusion(leaf, p.index, p.treeSize, p.path.map(hexToBytes), hexToBytes(body.root))) return false;
  return sm2Verify(importSm2PublicKey(certificate.spki), utf8ToBytes(p.checkpoint.signed), base64ToBytes(p.checkpoint.signature));
}

/** The exported checkpoint chain. */
export interface CheckpointExport {
  format: 'xiangan-checkpoints/1';
  certificate: string;
  chain: string[];
  checkpoints: Array<{ seq: number; signed: string; signature: string }>;
}

/**
 * Export every checkpoint with the certificate chain (JSON), for archiving apart from the SOC.
 * @example writeFileSync('checkpoints.json', JSON.stringify(exportCheckpoints(openIntegrity('./data'))));
 */
export function exportCheckpoints(o: Pick<OpenedIntegrity, 'checkpoints' | 'certificate' | 'chain'>): CheckpointExport {
  const rows = o.checkpoints.prepare('SELECT seq, body, sig FROM checkpoints ORDER BY seq').all() as Array<{ seq: number; body: string; sig: Buffer }>;
  return {
    format: 'xiangan-checkpoints/1',
    certificate: o.certificate.toPem(),
    chain: o.chain.map((c) => c.toPem()),
    checkpoints: rows.map((r) => ({ seq: r.seq, signed: r.body, signature: bytesToBase64(new Uint8Array(r.sig)) })),
  };
}
