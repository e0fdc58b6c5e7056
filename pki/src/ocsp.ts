/**
 * OCSP (RFC 6960): requests and signed basic responses, a responder as a pure function
 * `(requestDer) → responseDer`, and a Fastify plugin factory that mounts it (the caller
 * passes its own Fastify instance, so this package does not depend on Fastify).
 */
import { createHash } from 'node:crypto';
import { AlgorithmIdentifier, Extension, CRLReason } from '@peculiar/asn1-x509';
import {
  BasicOCSPResponse,
  CertID,
  CertStatus,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  Request,
  ResponderID,
  ResponseBytes,
  ResponseData,
  RevokedInfo,
  SingleResponse,
  TBSRequest,
} from '@peculiar/asn1-ocsp';
import { OctetString } from '@peculiar/asn1-schema';
import { bytesToHex } from '@xiangan/crypto';
import { ab, bytesEqual, parseDer, toDer, u8 } from './der.js';
import { PkiError } from './errors.js';
import { sm3 } from './gm.js';
import { OID } from './oids.js';
import { REVOCATION_REASONS, type RevocationReason } from './crl.js';
import { keyIdentifier, verifySignature, type Signer } from './sigalg.js';
import { defaultRandom, X509Certificate } from './x509.js';

/** Hash used in CertID (RFC 6960 §4.1.1). SHA-1 is what most clients send; SM3 for GM deployments. */
export type CertIdHash = 'sha1' | 'sha256' | 'sm3';

const HASH_OID: Record<CertIdHash, string> = { sha1: '1.3.14.3.2.26', sha256: OID.sha256, sm3: OID.sm3 };
const HASH_BY_OID = new Map<string, CertIdHash>(Object.entries(HASH_OID).map(([k, v]) => [v, k as CertIdHash]));

function hash(alg: CertIdHash, data: Uint8Array): Uint8Array {
  return alg === 'sm3' ? sm3(data) : new Uint8Array(createHash(alg).update(data).digest());
}

/** A CertID as plain values. */
export interface OcspCertId {
  hash: CertIdHash;
  issuerNameHash: Uint8Array;
  issuerKeyHash: Uint8Array;
  serialNumber: Uint8Array;
}

/**
 * The CertID of `cert` issued by `issuer`.
 * @example certId(leaf, ica, 'sm3')
 */
export function certId(cert: X509Certificate, issuer: X509Certificate, alg: CertIdHash = 'sha1'): OcspCertId {
  return {
    hash: alg,
    issuerNameHash: hash(alg, issuer.subjectDer),
    // §4.1.1: hash of the issuer key's BIT STRING value, without tag, length and unused-bits byte.
    issuerKeyHash: hash(alg, issuer.publicKey.key),
    serialNumber: cert.serialNumber,
  };
}

function toAsnCertId(c: OcspCertId): CertID {
  return new CertID({
    // RFC 5754-style hash AlgorithmIdentifier: SHA with NULL parameters, SM3 absent.
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: HASH_OID[c.hash], parameters: c.hash === 'sm3' ? undefined : null }),
    issuerNameHash: new OctetString(c.issuerNameHash),
    issuerKeyHash: new OctetString(c.issuerKeyHash),
    serialNumber: ab(c.serialNumber),
  });
}

function fromAsnCertId(c: CertID): OcspCertId {
  const h = HASH_BY_OID.get(c.hashAlgorithm.algorithm);
  if (!h) throw new PkiError('PKI_ERR_UNSUPPORTED_ALGORITHM', `CertID hash ${c.hashAlgorithm.algorithm}`);
  return { hash: h, issuerNameHash: u8(c.issuerNameHash.buffer), issuerKeyHash: u8(c.issuerKeyHash.buffer), serialNumber: u8(c.serialNumber) };
}

function sameCertId(a: OcspCertId, b: OcspCertId): boolean {
  return a.hash === b.hash && bytesEqual(a.issuerNameHash, b.issuerNameHash) && bytesEqual(a.issuerKeyHash, b.issuerKeyHash) && bytesEqual(a.serialNumber, b.serialNumber);
}

function nonceExt(nonce: Uint8Array): Extension {
  // RFC 8954 §2.1: the nonce is an OCTET STRING of 1..32 bytes inside the extension value.
  return new Extension({ extnID: OID.ocspNonce, critical: false, extnValue: new OctetString(toDer(new OctetString(nonce))) });
}

function readNonce(exts: Extension[] | undefined): Uint8Array | undefined {
  const e = exts?.find((x) => x.extnID === OID.ocspNonce);
  return e ? u8(parseDer(u8(e.extnValue.buffer), OctetString, 'nonce').buffer) : undefined;
}

/** A parsed OCSP request. */
export interface OcspRequestInfo {
  certIds: OcspCertId[];
  nonce?: Uint8Array;
}

/**
 * Create an unsigned OCSP request for one certificate, with a random nonce by default.
 * @example const req = createOcspRequest(leaf, ica);
 */
export function createOcspRequest(
  cert: X509Certificate,
  issuer: X509Certificate,
  o: { hash?: CertIdHash; nonce?: Uint8Array | false; random?: (n: number) => Uint8Array } = {},
): Uint8Array {
  const nonce = o.nonce === false ? undefined : (o.nonce ?? (o.random ?? defaultRandom)(16));
  const tbs = new TBSRequest({
    requestList: [new Request({ reqCert: toAsnCertId(certId(cert, issuer, o.hash)) })],
    requestExtensions: nonce ? [nonceExt(nonce)] : undefined,
  });
  return toDer(new OCSPRequest({ tbsRequest: tbs }));
}

/**
 * Parse an OCSP request strictly.
 * @example parseOcspRequest(body).certIds[0].serialNumber
 */
export function parseOcspRequest(der: Uint8Array): OcspRequestInfo {
  const req = parseDer(der, OCSPRequest, 'OCSP request');
  if (req.tbsRequest.requestList.length === 0) throw new PkiError('PKI_ERR_OCSP', 'empty requestList');
  return { certIds: req.tbsRequest.requestList.map((r) => fromAsnCertId(r.reqCert)), nonce: readNonce(req.tbsRequest.requestExtensions) };
}

/** The status of one certificate in a response. */
export type OcspCertStatus =
  | { status: 'good' }
  | { status: 'unknown' }
  | { status: 'revoked'; revocationTime: Date; reason?: RevocationReason };

/** One answer in a response. */
export type OcspSingle = OcspCertStatus & { certId: OcspCertId; thisUpdate: Date; nextUpdate?: Date };

/** Error statuses of RFC 6960 §4.2.1. */
export type OcspErrorStatus = 'malformedRequest' | 'internalError' | 'tryLater' | 'sigRequired' | 'unauthorized';

/** Options of {@link createOcspResponse}. */
export interface OcspResponseOptions {
  /** The responder certificate: the CA itself or a delegated responder it issued with EKU OCSPSigning (§4.2.2.2). */
  responder: X509Certificate;
  signer: Signer;
  responses: OcspSingle[];
  producedAt: Date;
  nonce?: Uint8Array;
  /** Include the responder certificate (needed when it is a delegated responder). */
  includeCertificate?: boolean;
}

/**
 * Create a signed `successful` basic OCSP response (RFC 6960 §4.2.1).
 * @example createOcspResponse({ responder: ca, signer, responses: [...], producedAt: new Date() })
 */
export function createOcspResponse(o: OcspResponseOptions): Uint8Array {
  if (!bytesEqual(o.signer.publicKey, o.responder.spki)) throw new PkiError('PKI_ERR_KEY_MISMATCH', 'signer is not the responder key');
  const singles = o.responses.map((r) => {
    let certStatus: CertStatus;
    if (r.status === 'good') certStatus = new CertStatus({ good: null });
    else if (r.status === 'unknown') certStatus = new CertStatus({ unknown: null });
    else {
      const code = r.reason ? REVOCATION_REASONS[r.reason] : undefined;
      certStatus = new CertStatus({ revoked: new RevokedInfo({ revocationTime: r.revocationTime, revocationReason: code === undefined ? undefined : new CRLReason(code) }) });
    }
    return new SingleResponse({ certID: toAsnCertId(r.certId), certStatus, thisUpdate: r.thisUpdate, nextUpdate: r.nextUpdate });
  });
  const data = new ResponseData({
    // §4.2.2.3 byKey: SHA-1 of the responder key.
    responderID: new ResponderID({ byKey: new OctetString(keyIdentifier(o.responder.spki)) }),
    producedAt: new Date(Math.floor(o.producedAt.getTime() / 1000) * 1000),
    responses: singles,
    responseExtensions: o.nonce ? [nonceExt(o.nonce)] : undefined,
  });
  const tbs = toDer(data);
  const basic = new BasicOCSPResponse({
    tbsResponseData: data,
    signatureAlgorithm: o.signer.algorithm(),
    signature: ab(o.signer.sign(tbs)),
    certs: o.includeCertificate ? [o.responder.asn] : undefined,
  });
  return toDer(
    new OCSPResponse({
      responseStatus: OCSPResponseStatus.successful,
      responseBytes: new ResponseBytes({ responseType: OID.ocspBasic, response: new OctetString(toDer(basic)) }),
    }),
  );
}

/** An unsigned error response (§4.2.1). @example ocspErrorResponse('malformedRequest') */
export function ocspErrorResponse(status: OcspErrorStatus): Uint8Array {
  const code = OCSPResponseStatus[status];
  if (code === undefined) throw new RangeError(`unknown OCSP status ${status}`);
  return toDer(new OCSPResponse({ responseStatus: code }));
}

/** A parsed response. */
export interface OcspResponseInfo {
  status: 'successful' | OcspErrorStatus;
  producedAt?: Date;
  responses: OcspSingle[];
  nonce?: Uint8Array;
  /** Certificates carried in the response. */
  certificates: X509Certificate[];
  /** For checking: the signed bytes, algorithm, signature and responder key hash / name. */
  basic?: BasicOCSPResponse;
}

const REASON_BY_CODE = new Map<number, RevocationReason>(Object.entries(REVOCATION_REASONS).map(([k, v]) => [v, k as RevocationReason]));

/**
 * Parse an OCSP response strictly (no signature check: see {@link verifyOcspResponse}).
 * @example parseOcspResponse(der).responses[0].status
 */
export function parseOcspResponse(der: Uint8Array): OcspResponseInfo {
  const r = parseDer(der, OCSPResponse, 'OCSP response');
  const status = (OCSPResponseStatus[r.responseStatus] as OcspResponseInfo['status'] | undefined) ?? undefined;
  if (!status) throw new PkiError('PKI_ERR_OCSP', `unknown response status ${r.responseStatus}`);
  if (status !== 'successful') return { status, responses: [], certificates: [] };
  if (!r.responseBytes || r.responseBytes.responseType !== OID.ocspBasic) throw new PkiError('PKI_ERR_OCSP', 'successful response without a basic response');
  const basic = parseDer(u8(r.responseBytes.response.buffer), BasicOCSPResponse, 'BasicOCSPResponse');
  const d = basic.tbsResponseData;
  const responses: OcspSingle[] = d.responses.map((s) => {
    const base = { certId: fromAsnCertId(s.certID), thisUpdate: s.thisUpdate, nextUpdate: s.nextUpdate };
    if (s.certStatus.revoked) {
      const rc = s.certStatus.revoked.revocationReason?.reason;
      return { ...base, status: 'revoked', revocationTime: s.certStatus.revoked.revocationTime, reason: rc === undefined ? undefined : REASON_BY_CODE.get(rc) };
    }
    if (s.certStatus.unknown !== undefined) return { ...base, status: 'unknown' };
    return { ...base, status: 'good' };
  });
  const certificates = (basic.certs ?? []).map((c) => X509Certificate.fromDer(toDer(c)));
  return { status, producedAt: d.producedAt, responses, nonce: readNonce(d.responseExtensions), certificates, basic };
}

/**
 * Verify a parsed response's signature: by the issuer CA itself, or by a responder
 * certificate carried in the response that the CA issued with EKU OCSPSigning (§4.2.2.2).
 * Returns the status for `cert`; throws `PKI_ERR_BAD_SIGNATURE` or `PKI_ERR_OCSP`.
 *
 * @example
 * const st = verifyOcspResponse(parseOcspResponse(der), leaf, ica, { nonce });
 */
export function verifyOcspResponse(resp: OcspResponseInfo, cert: X509Certificate, issuer: X509Certificate, o: { nonce?: Uint8Array } = {}): OcspSingle {
  if (resp.status !== 'successful' || !resp.basic) throw new PkiError('PKI_ERR_OCSP', `response status ${resp.status}`);
  const b = resp.basic;
  const tbs = b.tbsResponseDataRaw ? u8(b.tbsResponseDataRaw) : toDer(b.tbsResponseData);
  const candidates = [issuer, ...resp.certificates.filter((c) => c.verify(issuer) && c.extensions.extKeyUsage?.includes(OID.ocspSigning))];
  const rid = b.tbsResponseData.responderID;
  const signerCert = candidates.find((c) =>
    rid.byKey ? bytesEqual(u8(rid.byKey.buffer), keyIdentifier(c.spki)) : !!rid.byName && bytesEqual(toDer(rid.byName), c.subjectDer),
  );
  if (!signerCert) throw new PkiError('PKI_ERR_OCSP', 'response is not signed by the issuer or an authorised responder');
  if (!verifySignature(signerCert.spki, b.signatureAlgorithm, tbs, u8(b.signature))) throw new PkiError('PKI_ERR_BAD_SIGNATURE', 'OCSP response signature does not verify');
  if (o.nonce && (!resp.nonce || !bytesEqual(o.nonce, resp.nonce))) throw new PkiError('PKI_ERR_OCSP', 'nonce mismatch');
  const single = resp.responses.find((s) => sameCertId(s.certId, certId(cert, issuer, s.certId.hash)));
  if (!single) throw new PkiError('PKI_ERR_OCSP', 'response does not cover the certificate');
  return single;
}

/** What a responder needs. */
export interface OcspResponderOptions {
  /** The CA certificate whose certificates are answered for. */
  issuer: X509Certificate;
  /** Responder certificate (the CA or a delegated responder) and its signer. */
  responder: X509Certificate;
  signer: Signer;
  /** Status of a serial number (lower-case hex, no sign byte) issued by `issuer`. */
  lookup(serialHex: string): OcspCertStatus;
  now?: () => Date;
  /** Seconds until nextUpdate; default 3600. */
  validitySeconds?: number;
}

/**
 * A responder as a function: request DER in, response DER out. Malformed requests get a
 * `malformedRequest` response, CertIDs for another issuer `unknown`.
 *
 * @example
 * const respond = createOcspResponder({ issuer: ca, responder: ca, signer, lookup: (s) => store.status(s) });
 * const resDer = respond(reqDer);
 */
export function createOcspResponder(o: OcspResponderOptions): (requestDer: Uint8Array) => Uint8Array {
  const now = o.now ?? (() => new Date());
  const validity = (o.validitySeconds ?? 3600) * 1000;
  const ownIds = new Map<CertIdHash, { name: Uint8Array; key: Uint8Array }>();
  for (const h of ['sha1', 'sha256', 'sm3'] as CertIdHash[]) {
    ownIds.set(h, { name: hash(h, o.issuer.subjectDer), key: hash(h, o.issuer.publicKey.key) });
  }
  return (requestDer) => {
    let req: OcspRequestInfo;
    try {
      req = parseOcspRequest(requestDer);
    } catch (e) {
      if (e instanceof PkiError) return ocspErrorResponse(e.code === 'PKI_ERR_UNSUPPORTED_ALGORITHM' ? 'unauthorized' : 'malformedRequest');
      throw e;
    }
    const t = now();
    const responses: OcspSingle[] = req.certIds.map((id) => {
      const own = ownIds.get(id.hash);
      const mine = !!own && bytesEqual(own.name, id.issuerNameHash) && bytesEqual(own.key, id.issuerKeyHash);
      const s = id.serialNumber;
      const st: OcspCertStatus = mine ? o.lookup(bytesToHex(s.length > 1 && s[0] === 0 ? s.subarray(1) : s)) : { status: 'unknown' };
      return { ...st, certId: id, thisUpdate: t, nextUpdate: new Date(t.getTime() + validity) };
    });
    return createOcspResponse({
      responder: o.responder,
      signer: o.signer,
      responses,
      producedAt: t,
      nonce: req.nonce,
      includeCertificate: !bytesEqual(o.responder.der, o.issuer.der),
    });
  };
}

/** The subset of a Fastify instance the plugin uses (so pki needs no Fastify dependency). */
export interface FastifyLike {
  addContentTypeParser(
    type: string,
    opts: { parseAs: 'buffer'; bodyLimit?: number },
    parser: (req: unknown, body: Buffer, done: (err: Error | null, body?: unknown) => void) => void,
  ): void;
  post(path: string, handler: (req: { body: unknown }, reply: ReplyLike) => unknown): void;
  get(path: string, handler: (req: { params: unknown }, reply: ReplyLike) => unknown): void;
}
interface ReplyLike {
  header(name: string, value: string): ReplyLike;
  code(status: number): ReplyLike;
  send(payload: unknown): unknown;
}

/**
 * A Fastify plugin serving `respond` at POST `/` (body `application/ocsp-request`) and GET
 * `/:request` (base64 of the DER request, RFC 6960 Appendix A.1). Register it with a prefix:
 * `app.register(ocspFastifyPlugin(respond), { prefix: '/ocsp' })`.
 *
 * @example
 * await app.register(ocspFastifyPlugin(createOcspResponder({ ... })), { prefix: '/ocsp' });
 */
export function ocspFastifyPlugin(respond: (requestDer: Uint8Array) => Uint8Array, o: { bodyLimit?: number } = {}) {
  return async (app: FastifyLike): Promise<void> => {
    app.addContentTypeParser('application/ocsp-request', { parseAs: 'buffer', bodyLimit: o.bodyLimit ?? 16 * 1024 }, (_req, body, done) => done(null, body));
    const answer = (reply: ReplyLike, der: Uint8Array): unknown =>
      reply.code(200).header('content-type', 'application/ocsp-response').send(Buffer.from(der));
    app.post('/', (req, reply) => {
      const body = req.body;
      if (!(body instanceof Uint8Array)) return answer(reply, ocspErrorResponse('malformedRequest'));
      return answer(reply, respond(new Uint8Array(body)));
    });
    app.get('/*', (req, reply) => {
      const raw = decodeURIComponent(String((req.params as Record<string, string>)['*'] ?? ''));
      const der = new Uint8Array(Buffer.from(raw, 'base64'));
      return answer(reply, der.length ? respond(der) : ocspErrorResponse('malformedRequest'));
    });
  };
}
