/**
 * Tamper evidence for stored events and the audit trail: SM3 Merkle trees per day, SM2-signed
 * checkpoints, verification, inclusion proofs and signed deletion records. See soc/README.md
 * "Tamper evidence".
 * @packageDocumentation
 */
export { canonicalJson } from './canonical.js';
export { leafHash, leafHashText, leafHashTextsInto, leafHashDocsInto, leafHashDoc, nodeHash, merkleRoot, inclusionProof, verifyInclusion, MerkleFrontier } from './merkle.js';
export { LeafWriter, leafTable, leafDays, readLeaves, readDayLeaves, sqliteLeafStore, type LeafRow, type DayLeaves, type LeafStore } from './leaves.js';
export { DigestPool, type DigestPoolOptions, type RecordDigests } from './digest.js';
export { loadOrCreateIdentity, identityFiles, type SigningIdentity, type IdentityOptions } from './identity.js';
export {
  Checkpointer,
  checkpointsPath,
  checkpointHash,
  readCheckpoints,
  type Checkpoint,
  type CheckpointBody,
  type CheckpointerOptions,
  type LeafSource,
} from './checkpoints.js';
export { verifyIntegrity, type Finding, type FindingKind, type IntegrityReport, type ExpiredDay, type RecordSource, type VerifyOptions } from './verify.js';
export { openIntegrity, sqliteEventSource, sqliteAuditSource, type OpenedIntegrity } from './sources.js';
export { proveInclusion, checkInclusionProof, exportCheckpoints, type InclusionProof, type CheckpointExport } from './proof.js';
export { startIntegrity, type IntegrityService, type IntegrityServiceOptions } from './service.js';
export { attachEngineChain, engineEventSource, EngineLeafIndex, integrityIndex, type ChainableEngine } from './engine.js';
