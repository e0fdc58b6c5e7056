/**
 * Signature algorithms: SM2-with-SM3 through `@xiangan/crypto`, and RSA PKCS#1 v1.5,
 * ECDSA (P-256, P-384) and Ed25519 through Node's crypto so mixed chains verify.
 */
import { createHash, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { derDecode, derReadBitString, derReadOid, derReadSequence } from '@xiangan/crypto';
import { assertDer } from './der.js';
import { PkiError } from './errors.js';
import { OID } from './oids.js';
import { sm2PublicPoint, sm2SignDer, sm2VerifyDer, type Sm2Key } from './gm.js';

/** Kinds of subject public key this package understands. */
export type PublicKeyKind = 'sm2' | 'ec-p256' | 'ec-p384' | 'rsa' | 'ed25519' | 'unknown';

/** A parsed SubjectPublicKeyInfo. */
export interface PublicKeyInfo {
  kind: PublicKeyKind;
  /** The SPKI DER. */
  spki: Uint8Array;
  /** The subjectPublicKey BIT STRING contents (for EC: the SEC 1 point). */
  key: Uint8Array;
  /** The algorithm OID (e.g. id-ecPublicKey, rsaEncryption, RSASSA-PSS for `unknown`). */
  algorithm: string;
}

/**
 * Read a SubjectPublicKeyInfo (RFC 5280 §4.1.2.7, RFC 5480 §2). SM2 keys are id-ecPublicKey
 * with the SM2 curve (GB/T 33560-2017); the older form with the curve OID as the algorithm
 * is accepted on input.
 *
 * @example
 * parsePublicKey(cert.spki).kind // 'sm2'
 */
export function parsePublicKey(spkiDer: Uint8Array): PublicKeyInfo {
  if (!(spkiDer instanceof Uint8Array)) throw new TypeError('SPKI must be DER bytes');
  // Read with @xiangan/crypto's strict DER reader: this runs for every signature check, and the
  // schema parser costs more than the SM2 verification itself.
  assertDer(spkiDer);
  let alg: string;
  let param: string | null | undefined;
  let key: Uint8Array;
  try {
    const [algSeq, bits] = derReadSequence(derDecode(spkiDer), 2);
    const ai = derReadSequence(algSeq, [1, 2]);
    alg = derReadOid(ai[0]);
    param = ai.length === 1 ? undefined : ai[1].tag === 0x06 ? derReadOid(ai[1]) : ai[1].tag === 0x05 && ai[1].content.length === 0 ? null : 'explicit';
    const b = derReadBitString(bits);
    if (b.unusedBits !== 0) throw new PkiError('PKI_ERR_ASN1', 'subjectPublicKey has unused bits');
    key = b.bytes;
  } catch (e) {
    if (e instanceof PkiError) throw e;
    throw new PkiError('PKI_ERR_ASN1', `subjectPublicKeyInfo: ${(e as Error).message}`, { cause: e });
  }
  let kind: PublicKeyKind;
  if (alg === OID.ecPublicKey || alg === OID.sm2Curve) {
    if (param === OID.sm2Curve) kind = 'sm2';
    else if (param === OID.p256 && alg === OID.ecPublicKey) kind = 'ec-p256';
    else if (param === OID.p384 && alg === OID.ecPublicKey) kind = 'ec-p384';
    // Other curves and explicit parameters parse; using them for a signature is refused.
    else return { kind: 'unknown', spki: spkiDer, key, algorithm: alg };
    if (key.length !== (kind === 'ec-p384' ? 97 : 65) && key.length !== (kind === 'ec-p384' ? 49 : 33)) {
      throw new PkiError('PKI_ERR_ASN1', 'EC public key has the wrong length');
    }
  } else if (alg === OID.rsaEncryption) {
    // RFC 3279 §2.3.1: parameters NULL.
    if (param !== null) throw new PkiError('PKI_ERR_ASN1', 'rsaEncryption parameters must be NULL');
    kind = 'rsa';
  } else if (alg === OID.ed25519) {
    // RFC 8410 §3: parameters absent.
    if (param !== undefined || key.length !== 32) throw new PkiError('PKI_ERR_ASN1', 'Ed25519 key must be 32 bytes with absent parameters');
    kind = 'ed25519';
  } else kind = 'unknown';
  return { kind, spki: spkiDer, key, algorithm: alg };
}

/**
 * SHA-1 of the subjectPublicKey bits: the key identifier of RFC 5280 §4.2.1.2 method (1).
 * @example keyIdentifier(cert.spki).length // 20
 */
export function keyIdentifier(spkiDer: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha1').update(parsePublicKey(spkiDer).key).digest());
}

/** Options for SM2 signatures. */
export interface SignatureOptions {
  /**
   * SM2 distinguishing ID; default 1234567812345678 (GM/T 0009-2012 §10). OpenSSL 3.0 signs
   * with an empty ID unless told `-sigopt distid:…`, and `openssl crl -verify` can only check
   * that form, so {@link SM2_OPENSSL_EMPTY_ID} is offered for interoperating with it.
   */
  sm2Id?: Uint8Array;
}

/**
 * The GM/T 0009-2012 §10 default SM2 ID, `1234567812345678` (what `sm2Id` defaults to).
 * @example validatePath(leaf, { …, sm2Ids: [SM2_DEFAULT_ID, SM2_OPENSSL_EMPTY_ID] })
 */
export const SM2_DEFAULT_ID: Uint8Array = new TextEncoder().encode('1234567812345678');

/**
 * The empty SM2 ID that OpenSSL 3.0 uses when no `distid` is set.
 * @example sm2Signer(key, { sm2Id: SM2_OPENSSL_EMPTY_ID })
 */
export const SM2_OPENSSL_EMPTY_ID: Uint8Array = new Uint8Array(0);

const NODE_HASH: Record<string, { hash: string | null; kinds: PublicKeyKind[] }> = {
  [OID.ecdsaWithSha256]: { hash: 'sha256', kinds: ['ec-p256', 'ec-p384'] },
  [OID.ecdsaWithSha384]: { hash: 'sha384', kinds: ['ec-p256', 'ec-p384'] },
  [OID.sha256WithRsa]: { hash: 'sha256', kinds: ['rsa'] },
  [OID.sha384WithRsa]: { hash: 'sha384', kinds: ['rsa'] },
  [OID.sha512WithRsa]: { hash: 'sha512', kinds: ['rsa'] },
  [OID.ed25519]: { hash: null, kinds: ['ed25519'] },
};

const keyCache = new Map<string, KeyObject>();
function nodeKey(spki: Uint8Array): KeyObject {
  const k = Buffer.from(spki).toString('base64');
  let v = keyCache.get(k);
  if (!v) {
    v = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    if (keyCache.size > 256) keyCache.clear();
    keyCache.set(k, v);
  }
  return v;
}

/**
 * Verify `signature` over `data` with the key in `spkiDer` under `alg`. Returns false for a
 * signature that does not verify (including a malformed one); throws
 * `PKI_ERR_UNSUPPORTED_ALGORITHM` for an algorithm we do not know or one that does not fit
 * the key.
 *
 * @example
 * verifySignature(issuer.spki, cert.asn.signatureAlgorithm, cert.tbs, cert.signature)
 */
export function verifySignature(
  spkiDer: Uint8Array,
  alg: AlgorithmIdentifier,
  data: Uint8Array,
  signature: Uint8Array,
  o: SignatureOptions = {},
): boolean {
  const pk = parsePublicKey(spkiDer);
  if (pk.kind === 'unknown') throw new PkiError('PKI_ERR_UNSUPPORTED_ALGORITHM', `unsupported public key algorithm ${pk.algorithm}`);
  if (alg.algorithm === OID.sm2WithSm3) {
    if (pk.kind !== 'sm2') throw new PkiError('PKI_ERR_UNSUPPORTED_ALGORITHM', `SM2-with-SM3 signature but a ${pk.kind} key`);
    // GM/T 0015-2012 §7.3: SM2 with SM3 has absent parameters; a NULL is tolerated on input.
    return sm2VerifyDer(pk.key, data, signature, o.sm2Id);
  }
  const n = NODE_HASH[alg.algorithm];
  if (!n) throw new PkiError('PKI_ERR_UNSUPPORTED_ALGORITHM', `unsupported signature algorithm ${alg.algorithm}`);
  if (!n.kinds.includes(pk.kind)) throw new PkiError('PKI_ERR_UNSUPPORTED_ALGORITHM', `${alg.algorithm} signature but a ${pk.kind} key`);
  try {
    return nodeVerify(n.hash, data, { key: nodeKey(spkiDer), dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

/**
 * Something that signs: its algorithm identifier, its public key (SPKI DER) and the operation.
 * Build one with {@link sm2Signer} or {@link nodeSigner}.
 */
export interface Signer {
  /** A fresh AlgorithmIdentifier for the signature. */
  algorithm(): AlgorithmIdentifier;
  /** SPKI DER of the signing key. */
  readonly publicKey: Uint8Array;
  /** Sign `data` (the full message: hashing is part of the algorithm). */
  sign(data: Uint8Array): Uint8Array;
}

/**
 * A signer for an SM2 private key: SM2-with-SM3, default ID, DER signature (GM/T 0009-2012).
 *
 * @example
 * const signer = sm2Signer(caKey);
 */
export function sm2Signer(key: Sm2Key, o: SignatureOptions = {}): Signer {
  const spki = sm2Spki(sm2PublicPoint(key));
  const id = o.sm2Id;
  return {
    // GM/T 0015-2012 and OpenSSL: parameters absent.
    algorithm: () => new AlgorithmIdentifier({ algorithm: OID.sm2WithSm3 }),
    publicKey: spki,
    sign: (data) => sm2SignDer(key, data, id),
  };
}

/** SPKI DER for an uncompressed SM2 point (04||x||y). @example sm2Spki(point) */
export function sm2Spki(point: Uint8Array): Uint8Array {
  if (!(point instanceof Uint8Array) || point.length !== 65 || point[0] !== 4) throw new RangeError('SM2 public point must be 65 bytes 04||x||y');
  const head = Uint8Array.from([
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d,
    0x03, 0x42, 0x00,
  ]);
  const out = new Uint8Array(head.length + 65);
  out.set(head);
  out.set(point, head.length);
  return out;
}

/**
 * A signer for a Node `KeyObject` (RSA → sha256WithRSAEncryption, EC P-256 →
 * ecdsa-with-SHA256, Ed25519), for mixed chains and comparisons.
 *
 * @example
 * const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
 * const signer = nodeSigner(privateKey);
 */
export function nodeSigner(privateKey: KeyObject): Signer {
  const pub = createPublicKey(privateKey);
  const spki = new Uint8Array(pub.export({ format: 'der', type: 'spki' }));
  const type = privateKey.asymmetricKeyType;
  let oid: string;
  let hash: string | null;
  let nullParams = false;
  if (type === 'rsa') [oid, hash, nullParams] = [OID.sha256WithRsa, 'sha256', true];
  else if (type === 'ec') [oid, hash] = [OID.ecdsaWithSha256, 'sha256'];
  else if (type === 'ed25519') [oid, hash] = [OID.ed25519, null];
  else throw new PkiError('PKI_ERR_UNSUPPORTED_ALGORITHM', `unsupported key type ${type}`);
  return {
    // RFC 4055 §5: NULL parameters for RSA; RFC 5758 §3.2 / RFC 8410 §3: absent for ECDSA/EdDSA.
    algorithm: () => new AlgorithmIdentifier({ algorithm: oid, parameters: nullParams ? null : undefined }),
    publicKey: spki,
    sign: (data) => new Uint8Array(nodeSign(hash, data, { key: privateKey, dsaEncoding: 'der' })),
  };
}
