/**
 * CMS (RFC 5652) with SM2/SM3/SM4 as GM/T 0010-2012 profiles it: SignedData (attached or
 * detached, with or without signed attributes) and EnvelopedData (SM2 key transport,
 * SM4-CBC content encryption).
 *
 * Output uses the RFC 5652 content-type OIDs (OpenSSL accepts only those) unless `oids: 'gm'`
 * asks for GM/T 0010 §7's 1.2.156.10197.6.1.4.2.x; input accepts both. CMS as a whole is BER
 * (RFC 5652 §1.2), so the outer structure may use indefinite lengths; what must be DER is
 * checked as DER: signed attributes (§5.4) and embedded certificates.
 */
import {
  Attribute,
  CertificateChoices,
  CertificateSet,
  CMSVersion,
  ContentEncryptionAlgorithmIdentifier,
  ContentInfo,
  DigestAlgorithmIdentifier,
  DigestAlgorithmIdentifiers,
  EncapsulatedContent,
  EncapsulatedContentInfo,
  EncryptedContent,
  EncryptedContentInfo,
  EnvelopedData,
  IssuerAndSerialNumber,
  KeyEncryptionAlgorithmIdentifier,
  KeyTransRecipientInfo,
  RecipientIdentifier,
  RecipientInfo,
  RecipientInfos,
  SignatureAlgorithmIdentifier,
  SignedData,
  SignerIdentifier,
  SignerInfo,
  SignerInfos,
} from '@peculiar/asn1-cms';
import { createHash } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { Time } from '@peculiar/asn1-x509';
import { concatBytes, derDecode, derOctetString, derOid, derReadOctetString, derTlv, pemEncode } from '@xiangan/crypto';
import { ab, assertDer, berToDefinite, bytesEqual, sortDer, toDer, u8, type AsnType } from './der.js';
import { PkiError } from './errors.js';
import { Sm2PrivateKey, sm2DecryptDer, sm2EncryptDer, sm3, sm4CbcDecrypt, sm4CbcEncrypt, type Sm2Key } from './gm.js';
import { namesEqual } from './name.js';
import { OID } from './oids.js';
import { derOrPem } from './pem.js';
import { sm2Signer, verifySignature, type Signer } from './sigalg.js';
import { defaultRandom, X509Certificate } from './x509.js';

/** Which content-type OIDs to write. */
export type CmsOids = 'rfc5652' | 'gm';

const SIGNED = new Set<string>([OID.signedData, OID.gmSignedData]);
const ENVELOPED = new Set<string>([OID.envelopedData, OID.gmEnvelopedData]);
const DATA = new Set<string>([OID.data, OID.gmData]);
// GM/T 0010 §6 names sm2-1 (1.2.156.10197.1.301.1) for SignerInfo; OpenSSL writes SM2-with-SM3.
const SM2_SIGNATURE_OIDS = new Set<string>([OID.sm2WithSm3, OID.sm2Sign, OID.sm2Curve, OID.ecPublicKey]);
const SM2_KEY_TRANSPORT_OIDS = new Set<string>([OID.sm2Encryption, OID.sm2Curve, OID.ecPublicKey]);

function cmsError(msg: string, cause?: unknown): never {
  throw new PkiError('PKI_ERR_CMS', msg, cause === undefined ? undefined : { cause });
}

/** BER parse (CMS allows BER) with every failure a typed error. */
function parseBer<T>(der: Uint8Array, type: AsnType<T>, what: string): T {
  try {
    return AsnConvert.parse(der, type);
  } catch (e) {
    throw new PkiError('PKI_ERR_ASN1', `${what}: ${(e as Error).message}`, { cause: e });
  }
}

function contentInfo(input: Uint8Array | string): ContentInfo {
  const der = berToDefinite(derOrPem(input, ['CMS', 'PKCS7']));
  return parseBer(der, ContentInfo, 'CMS ContentInfo');
}

function issuerAndSerial(cert: X509Certificate): IssuerAndSerialNumber {
  return new IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: ab(cert.serialNumber) });
}

function matchesIas(ias: IssuerAndSerialNumber | undefined, cert: X509Certificate): boolean {
  return !!ias && bytesEqual(u8(ias.serialNumber), cert.serialNumber) && namesEqual(ias.issuer, cert.issuer);
}

function attr(type: string, valueDer: Uint8Array): Attribute {
  return new Attribute({ attrType: type, attrValues: [ab(valueDer)] });
}

/** Options of {@link cmsSign}. */
export interface CmsSignOptions {
  content: Uint8Array;
  /** The signer's certificate and SM2 key (or any {@link Signer} whose key the certificate holds). */
  certificate: X509Certificate;
  key: Sm2Key | Signer;
  /** Leave the content out (RFC 5652 §5.2: eContent absent). */
  detached?: boolean;
  /** Add contentType, messageDigest and signingTime (default true; GM/T 0010 allows either). */
  signedAttributes?: boolean;
  signingTime?: Date;
  /** More certificates to include (the chain). */
  extraCertificates?: X509Certificate[];
  oids?: CmsOids;
  /** SM2 distinguishing ID (default 1234567812345678); {@link SM2_OPENSSL_EMPTY_ID} for `openssl cms -verify` 3.0. */
  sm2Id?: Uint8Array;
}

/**
 * Create a CMS SignedData ContentInfo (DER) with one SM2 signer.
 *
 * @example
 * const p7 = cmsSign({ content: utf8ToBytes('报告'), certificate: cert, key, detached: true });
 */
export function cmsSign(o: CmsSignOptions): Uint8Array {
  if (!(o.content instanceof Uint8Array)) throw new TypeError('content must be a Uint8Array');
  const signer: Signer = o.key instanceof Sm2PrivateKey ? sm2Signer(o.key, { sm2Id: o.sm2Id }) : o.key;
  if (!bytesEqual(signer.publicKey, o.certificate.spki)) throw new PkiError('PKI_ERR_KEY_MISMATCH', 'the key does not match the signer certificate');
  const gm = o.oids === 'gm';
  const dataType = gm ? OID.gmData : OID.data;
  const digestAlg = new DigestAlgorithmIdentifier({ algorithm: OID.sm3 });
  let signedAttrs: Attribute[] | undefined;
  let toSign = o.content;
  if (o.signedAttributes !== false) {
    const attrs = [
      attr(OID.contentType, derOid(dataType)),
      attr(OID.signingTime, toDer(new Time(o.signingTime ?? new Date()))),
      attr(OID.messageDigest, derOctetString(sm3(o.content))),
    ];
    // RFC 5652 §5.4: the signature covers the DER SET OF, whose elements are sorted (X.690 §11.6).
    const sorted = sortDer(attrs.map((a) => toDer(a)));
    signedAttrs = sorted.map((d) => AsnConvert.parse(d, Attribute));
    toSign = derTlv(0x31, concatBytes(...sorted));
  }
  const si = new SignerInfo({
    version: CMSVersion.v1,
    sid: new SignerIdentifier({ issuerAndSerialNumber: issuerAndSerial(o.certificate) }),
    digestAlgorithm: digestAlg,
    signedAttrs,
    // GM/T 0010-2012 names sm2-1 (1.2.156.10197.1.301.1) as the signer's algorithm; OpenSSL writes and reads SM2-with-SM3.
    signatureAlgorithm:
      gm && signer.algorithm().algorithm === OID.sm2WithSm3
        ? new SignatureAlgorithmIdentifier({ algorithm: OID.sm2Sign })
        : new SignatureAlgorithmIdentifier(signer.algorithm()),
    signature: new OctetString(signer.sign(toSign)),
  });
  const certs = [o.certificate, ...(o.extraCertificates ?? [])].map((c) => new CertificateChoices({ certificate: c.asn }));
  const sd = new SignedData({
    version: CMSVersion.v1,
    digestAlgorithms: new DigestAlgorithmIdentifiers([digestAlg]),
    encapContentInfo: new EncapsulatedContentInfo({
      eContentType: dataType,
      eContent: o.detached ? undefined : new EncapsulatedContent({ single: new OctetString(o.content) }),
    }),
    certificates: new CertificateSet(certs),
    signerInfos: new SignerInfos([si]),
  });
  return toDer(new ContentInfo({ contentType: gm ? OID.gmSignedData : OID.signedData, content: ab(toDer(sd)) }));
}

/** One signer's outcome. */
export interface CmsSignerResult {
  certificate?: X509Certificate;
  ok: boolean;
  /** Why it failed (`PKI_ERR_BAD_SIGNATURE`, `PKI_ERR_CMS_DIGEST`, `PKI_ERR_CMS`). */
  code?: 'PKI_ERR_BAD_SIGNATURE' | 'PKI_ERR_CMS_DIGEST' | 'PKI_ERR_CMS';
  signingTime?: Date;
}

/** Result of {@link cmsVerify}. */
export interface CmsVerifyResult {
  /** True when there is at least one signer and every signer verifies. */
  ok: boolean;
  content: Uint8Array;
  contentType: string;
  signers: CmsSignerResult[];
  certificates: X509Certificate[];
}

/** Options of {@link cmsVerify}. */
export interface CmsVerifyOptions {
  /** The content of a detached signature. */
  content?: Uint8Array;
  /** Signer certificates not carried in the message. */
  certificates?: X509Certificate[];
  /** SM2 distinguishing ID the signer used (default 1234567812345678). */
  sm2Id?: Uint8Array;
}

function eContentBytes(ec: EncapsulatedContent | undefined): Uint8Array | undefined {
  if (!ec) return undefined;
  if (ec.single) return u8(ec.single.buffer);
  if (ec.any) {
    // BER constructed OCTET STRING (RFC 5652 §1.2 allows it): concatenate the segments.
    return berOctets(u8(ec.any));
  }
  return undefined;
}

function berOctets(b: Uint8Array): Uint8Array {
  const os = parseBer(b, OctetString, 'eContent');
  return u8(os.buffer);
}

/**
 * Verify a CMS SignedData (DER/BER bytes or PEM `CMS`/`PKCS7`). Signatures are checked;
 * the signer certificate's path is not (use {@link validatePath} with `result.signers`).
 * Structural problems throw `PkiError`; bad signatures give `ok: false`.
 *
 * @example
 * const r = cmsVerify(p7, { content: detachedBytes });
 * if (r.ok) validatePath(r.signers[0].certificate!, { trustAnchors, time: new Date(), purpose: 'sign' });
 */
export function cmsVerify(input: Uint8Array | string, o: CmsVerifyOptions = {}): CmsVerifyResult {
  const ci = contentInfo(input);
  if (!SIGNED.has(ci.contentType)) cmsError(`content type ${ci.contentType} is not SignedData`);
  const sd = parseBer(u8(ci.content), SignedData, 'SignedData');
  const attached = eContentBytes(sd.encapContentInfo.eContent);
  if (attached && o.content) cmsError('content given for an attached signature');
  const content = attached ?? o.content;
  if (!content) cmsError('detached signature: the content must be supplied');
  const certs: X509Certificate[] = [];
  for (const c of sd.certificates ?? []) if (c.certificate) certs.push(X509Certificate.fromDer(toDer(c.certificate)));
  const pool = [...certs, ...(o.certificates ?? [])];
  const signers: CmsSignerResult[] = [];
  for (const si of sd.signerInfos) signers.push(verifySigner(si, sd.encapContentInfo.eContentType, content, pool, o.sm2Id));
  return { ok: signers.length > 0 && signers.every((s) => s.ok), content, contentType: sd.encapContentInfo.eContentType, signers, certificates: certs };
}

function verifySigner(si: SignerInfo, eType: string, content: Uint8Array, pool: X509Certificate[], sm2Id?: Uint8Array): CmsSignerResult {
  const ski = si.sid.subjectKeyIdentifier ? u8(si.sid.subjectKeyIdentifier.buffer) : undefined;
  const cert = pool.find((c) =>
    ski ? !!c.extensions.subjectKeyIdentifier && bytesEqual(c.extensions.subjectKeyIdentifier, ski) : matchesIas(si.sid.issuerAndSerialNumber, c),
  );
  if (!cert) return { ok: false, code: 'PKI_ERR_CMS' };
  const digest = DIGESTS[si.digestAlgorithm.algorithm];
  if (!digest) throw new PkiError('PKI_ERR_UNSUPPORTED_ALGORITHM', `digest algorithm ${si.digestAlgorithm.algorithm}`);
  const sigAlg = signatureAlgorithmFor(si, cert);
  let signedBytes = content;
  let signingTime: Date | undefined;
  if (si.signedAttrs) {
    // RFC 5652 §5.4: the signature covers the DER SET OF (tag 0x31 instead of [0] IMPLICIT).
    // Attribute values are kept as received, so re-encoding in received order gives back the
    // received bytes; assertDer then insists they were DER (sorted, minimal).
    const raw = derTlv(0x31, concatBytes(...si.signedAttrs.map((a) => toDer(a))));
    assertDer(raw);
    signedBytes = raw;
    const md = si.signedAttrs.filter((a) => a.attrType === OID.messageDigest);
    const ct = si.signedAttrs.filter((a) => a.attrType === OID.contentType);
    // RFC 5652 §11.1, §11.2: exactly one of each, single-valued.
    if (md.length !== 1 || ct.length !== 1 || md[0].attrValues.length !== 1 || ct[0].attrValues.length !== 1) {
      return { certificate: cert, ok: false, code: 'PKI_ERR_CMS' };
    }
    if (!bytesEqual(u8(ct[0].attrValues[0]), derOid(eType))) return { certificate: cert, ok: false, code: 'PKI_ERR_CMS' };
    let md0: Uint8Array;
    try {
      md0 = derReadOctetString(derDecode(u8(md[0].attrValues[0])));
    } catch (e) {
      throw new PkiError('PKI_ERR_ASN1', 'messageDigest attribute is not an OCTET STRING', { cause: e });
    }
    if (!bytesEqual(md0, digest(content))) return { certificate: cert, ok: false, code: 'PKI_ERR_CMS_DIGEST' };
    const st = si.signedAttrs.find((a) => a.attrType === OID.signingTime);
    if (st?.attrValues.length === 1) signingTime = parseBer(u8(st.attrValues[0]), Time, 'signingTime').getTime();
  }
  const ok = verifySignature(cert.spki, sigAlg, signedBytes, u8(si.signature.buffer), { sm2Id });
  return { certificate: cert, ok, code: ok ? undefined : 'PKI_ERR_BAD_SIGNATURE', signingTime };
}

const DIGESTS: Record<string, (d: Uint8Array) => Uint8Array> = {
  [OID.sm3]: (d) => sm3(d),
  [OID.sha256]: (d) => new Uint8Array(createHash('sha256').update(d).digest()),
  '2.16.840.1.101.3.4.2.2': (d) => new Uint8Array(createHash('sha384').update(d).digest()),
  '2.16.840.1.101.3.4.2.3': (d) => new Uint8Array(createHash('sha512').update(d).digest()),
};

/**
 * The signature algorithm to verify with. SM2 signers may write any of the GM OIDs (verified
 * as SM2-with-SM3); RSA signers commonly write rsaEncryption (RFC 3370 §3.2), which with the
 * digest algorithm names sha*WithRSAEncryption; ECDSA/EdDSA OIDs are used as written.
 */
function signatureAlgorithmFor(si: SignerInfo, cert: X509Certificate): SignatureAlgorithmIdentifier {
  const alg = si.signatureAlgorithm.algorithm;
  const d = si.digestAlgorithm.algorithm;
  if (SM2_SIGNATURE_OIDS.has(alg) && cert.publicKey.kind === 'sm2') {
    if (d !== OID.sm3) throw new PkiError('PKI_ERR_UNSUPPORTED_ALGORITHM', 'SM2 signer with a digest other than SM3');
    return new SignatureAlgorithmIdentifier({ algorithm: OID.sm2WithSm3 });
  }
  if (alg === OID.rsaEncryption) {
    const byDigest: Record<string, string> = { [OID.sha256]: OID.sha256WithRsa, '2.16.840.1.101.3.4.2.2': OID.sha384WithRsa, '2.16.840.1.101.3.4.2.3': OID.sha512WithRsa };
    const sa = byDigest[d];
    if (!sa) throw new PkiError('PKI_ERR_UNSUPPORTED_ALGORITHM', `RSA with digest ${d}`);
    return new SignatureAlgorithmIdentifier({ algorithm: sa });
  }
  return new SignatureAlgorithmIdentifier({ algorithm: alg });
}

/** Options of {@link cmsEncrypt}. */
export interface CmsEncryptOptions {
  content: Uint8Array;
  /** Recipient certificates with SM2 keys (GM/T 0015 encryption certificates). */
  recipients: X509Certificate[];
  oids?: CmsOids;
  random?: (n: number) => Uint8Array;
}

/**
 * Create a CMS EnvelopedData ContentInfo (DER): a random SM4 key encrypts the content in
 * CBC mode with PKCS#7 padding, and is itself SM2-encrypted (GM/T 0009 ASN.1 form) to each
 * recipient (KeyTransRecipientInfo, RFC 5652 §6.2.1).
 *
 * @example
 * const p7 = cmsEncrypt({ content: bytes, recipients: [encCert] });
 */
export function cmsEncrypt(o: CmsEncryptOptions): Uint8Array {
  if (!(o.content instanceof Uint8Array)) throw new TypeError('content must be a Uint8Array');
  if (!o.recipients?.length) throw new RangeError('at least one recipient is needed');
  const random = o.random ?? defaultRandom;
  const cek = random(16);
  const iv = random(16);
  const gm = o.oids === 'gm';
  const ris = o.recipients.map((r) => {
    if (r.publicKey.kind !== 'sm2') throw new PkiError('PKI_ERR_UNSUPPORTED_ALGORITHM', `recipient key is ${r.publicKey.kind}, not SM2`);
    return new RecipientInfo({
      ktri: new KeyTransRecipientInfo({
        version: CMSVersion.v0,
        rid: new RecipientIdentifier({ issuerAndSerialNumber: issuerAndSerial(r) }),
        keyEncryptionAlgorithm: new KeyEncryptionAlgorithmIdentifier({ algorithm: OID.sm2Encryption }),
        encryptedKey: new OctetString(sm2EncryptDer(r.publicKey.key, cek)),
      }),
    });
  });
  const ct = sm4CbcEncrypt(cek, iv, o.content);
  const ed = new EnvelopedData({
    version: CMSVersion.v0,
    recipientInfos: new RecipientInfos(ris),
    encryptedContentInfo: new EncryptedContentInfo({
      contentType: gm ? OID.gmData : OID.data,
      contentEncryptionAlgorithm: new ContentEncryptionAlgorithmIdentifier({ algorithm: OID.sm4Cbc, parameters: ab(derOctetString(iv)) }),
      encryptedContent: new EncryptedContent({ value: new OctetString(ct) }),
    }),
  });
  return toDer(new ContentInfo({ contentType: gm ? OID.gmEnvelopedData : OID.envelopedData, content: ab(toDer(ed)) }));
}

/**
 * Decrypt a CMS EnvelopedData for the recipient holding `certificate` and `key`.
 * No matching recipient → `PKI_ERR_CMS_NO_RECIPIENT`; a wrong key or corrupt data →
 * `PKI_ERR_CMS_DECRYPT`.
 *
 * @example
 * const plain = cmsDecrypt(p7, { certificate: encCert, key: encKey });
 */
export function cmsDecrypt(input: Uint8Array | string, o: { certificate: X509Certificate; key: Sm2Key }): Uint8Array {
  const ci = contentInfo(input);
  if (!ENVELOPED.has(ci.contentType)) cmsError(`content type ${ci.contentType} is not EnvelopedData`);
  const ed = parseBer(u8(ci.content), EnvelopedData, 'EnvelopedData');
  const eci = ed.encryptedContentInfo;
  if (!DATA.has(eci.contentType)) cmsError(`enveloped content type ${eci.contentType} is not data`);
  const alg = eci.contentEncryptionAlgorithm;
  if (alg.algorithm !== OID.sm4Cbc) throw new PkiError('PKI_ERR_UNSUPPORTED_ALGORITHM', `content encryption ${alg.algorithm} (only SM4-CBC)`);
  let iv: Uint8Array;
  try {
    iv = derReadOctetString(derDecode(u8(alg.parameters ?? new ArrayBuffer(0))));
  } catch (e) {
    throw new PkiError('PKI_ERR_ASN1', 'SM4-CBC parameters are not an OCTET STRING IV', { cause: e });
  }
  if (iv.length !== 16) throw new PkiError('PKI_ERR_ASN1', 'SM4-CBC IV must be 16 bytes');
  const ec = eci.encryptedContent;
  const ct = ec?.value ? u8(ec.value.buffer) : ec?.constructedValue ? concatBytes(...ec.constructedValue.map((s) => u8(s.buffer))) : undefined;
  if (!ct) cmsError('no encrypted content');
  const ski = o.certificate.extensions.subjectKeyIdentifier;
  const ri = [...ed.recipientInfos].find((r) => {
    const k = r.ktri;
    if (!k) return false;
    if (k.rid.subjectKeyIdentifier) return !!ski && bytesEqual(u8(k.rid.subjectKeyIdentifier.buffer), ski);
    return matchesIas(k.rid.issuerAndSerialNumber, o.certificate);
  })?.ktri;
  if (!ri) throw new PkiError('PKI_ERR_CMS_NO_RECIPIENT', `no recipient matches ${o.certificate.subjectName}`);
  if (!SM2_KEY_TRANSPORT_OIDS.has(ri.keyEncryptionAlgorithm.algorithm)) {
    throw new PkiError('PKI_ERR_UNSUPPORTED_ALGORITHM', `key transport ${ri.keyEncryptionAlgorithm.algorithm} (only SM2)`);
  }
  const cek = sm2DecryptDer(o.key, u8(ri.encryptedKey.buffer));
  if (cek.length !== 16) throw new PkiError('PKI_ERR_CMS_DECRYPT', 'content-encryption key is not 16 bytes');
  return sm4CbcDecrypt(cek, iv, ct);
}

/** PEM armour for a CMS message (label `CMS`, as `openssl cms -outform PEM` writes). @example cmsToPem(p7) */
export function cmsToPem(der: Uint8Array): string {
  return pemEncode('CMS', der);
}
