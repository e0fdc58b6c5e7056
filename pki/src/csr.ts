/**
 * PKCS#10 certification requests (RFC 2986): create, parse strictly and verify the proof
 * of possession (the request is signed with the key it carries, §3 and §4.2).
 */
import { Attributes, CertificationRequest, CertificationRequestInfo } from '@peculiar/asn1-csr';
import { Attribute, Extensions, Name, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { pemEncode } from '@xiangan/crypto';
import { ab, bytesEqual, parseDer, toDer, u8 } from './der.js';
import { PkiError } from './errors.js';
import { buildExtensions, parseExtensions, type AltNames, type ExtensionOptions, type ParsedExtensions } from './extensions.js';
import { buildName, nameToString, type NameInput } from './name.js';
import { derOrPem } from './pem.js';
import { parsePublicKey, verifySignature, type PublicKeyInfo, type SignatureOptions, type Signer } from './sigalg.js';

/** PKCS#9 extensionRequest (RFC 2985 §5.4.2). */
const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';

/**
 * A parsed certification request.
 * @example CertificateRequest.parse(pem).verify() // proof of possession
 */
export class CertificateRequest {
  readonly der: Uint8Array;
  readonly asn: CertificationRequest;
  /** The signed CertificationRequestInfo bytes. */
  readonly tbs: Uint8Array;
  readonly subject: Name;
  readonly spki: Uint8Array;
  readonly publicKey: PublicKeyInfo;
  /** Extensions asked for through extensionRequest (empty if none). */
  readonly requestedExtensions: ParsedExtensions;

  private constructor(der: Uint8Array, asn: CertificationRequest) {
    this.der = der;
    this.asn = asn;
    const info = asn.certificationRequestInfo;
    this.tbs = asn.certificationRequestInfoRaw ? u8(asn.certificationRequestInfoRaw) : toDer(info);
    this.subject = info.subject;
    this.spki = toDer(info.subjectPKInfo);
    this.publicKey = parsePublicKey(this.spki);
    const er = [...info.attributes].filter((a) => a.type === EXTENSION_REQUEST);
    if (er.length > 1 || (er.length === 1 && er[0].values.length !== 1)) throw new PkiError('PKI_ERR_ASN1', 'more than one extensionRequest');
    this.requestedExtensions = parseExtensions(er.length ? [...parseDer(u8(er[0].values[0]), Extensions, 'extensionRequest')] : []);
  }

  /**
   * Parse a request (DER bytes or PEM `CERTIFICATE REQUEST`).
   * @example const req = CertificateRequest.parse(fs.readFileSync('req.pem', 'utf8'));
   */
  static parse(input: Uint8Array | string): CertificateRequest {
    const der = derOrPem(input, ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']);
    const asn = parseDer(der, CertificationRequest, 'certification request');
    if (asn.certificationRequestInfo.version !== 0) throw new PkiError('PKI_ERR_ASN1', 'CSR version must be v1 (0)');
    return new CertificateRequest(der.slice(), asn);
  }

  /** Subject as an RFC 4514 string. */
  get subjectName(): string {
    return nameToString(this.subject);
  }

  /**
   * Verify the proof of possession: the signature by the enclosed public key (SM2: default
   * ID unless `sm2Id`).
   * @example if (!req.verify()) throw …
   */
  verify(o: SignatureOptions = {}): boolean {
    return verifySignature(this.spki, this.asn.signatureAlgorithm, this.tbs, u8(this.asn.signature), o);
  }

  /** PEM text. */
  toPem(): string {
    return pemEncode('CERTIFICATE REQUEST', this.der);
  }
}


/** What {@link createCsr} needs. */
export interface CsrOptions {
  subject: NameInput;
  /** Signs with the key being certified. */
  signer: Signer;
  subjectAltName?: AltNames;
  /** Other extensions to request (keyUsage, extKeyUsage…). */
  extensions?: Omit<ExtensionOptions, 'subjectAltName' | 'subjectKeyIdentifier' | 'authorityKeyIdentifier'>;
}

/**
 * Create a signed PKCS#10 request.
 *
 * @example
 * const req = createCsr({ subject: '/C=CN/O=湘安/CN=server.example', signer: sm2Signer(key), subjectAltName: { dns: ['server.example'] } });
 */
export function createCsr(o: CsrOptions): CertificateRequest {
  const exts = buildExtensions({ ...(o.extensions ?? {}), subjectAltName: o.subjectAltName });
  const attrs = exts.length ? [new Attribute({ type: EXTENSION_REQUEST, values: [ab(toDer(new Extensions(exts)))] })] : [];
  const info = new CertificationRequestInfo({
    version: 0,
    subject: buildName(o.subject),
    subjectPKInfo: parseDer(o.signer.publicKey, SubjectPublicKeyInfo, 'subjectPublicKeyInfo'),
    attributes: new Attributes(attrs),
  });
  const tbs = toDer(info);
  const req = new CertificationRequest({ certificationRequestInfo: info, signatureAlgorithm: o.signer.algorithm(), signature: ab(o.signer.sign(tbs)) });
  const out = CertificateRequest.parse(toDer(req));
  if (!bytesEqual(out.spki, o.signer.publicKey)) throw new PkiError('PKI_ERR_KEY_MISMATCH', 'CSR key mismatch');
  return out;
}
