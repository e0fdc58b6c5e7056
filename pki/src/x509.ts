/**
 * X.509 v3 certificates (RFC 5280 §4.1): strict parsing, signature verification against an
 * issuer, creation with SM2-with-SM3 (GM/T 0015-2012) or any {@link Signer}.
 */
import { Certificate, Extensions, SubjectPublicKeyInfo, TBSCertificate, Validity, Name } from '@peculiar/asn1-x509';
import { Version } from '@peculiar/asn1-x509';
import { bytesToHex, derChildren, derReadElement, pemDecodeAll, pemEncode } from '@xiangan/crypto';
import { ab, assertDer, bytesEqual, parseDer, toDer, u8 } from './der.js';
import { PkiError } from './errors.js';
import { buildExtensions, parseExtensions, type ExtensionOptions, type ParsedExtensions } from './extensions.js';
import { buildName, nameToString, type NameInput } from './name.js';
import { keyIdentifier, parsePublicKey, verifySignature, type PublicKeyInfo, type SignatureOptions, type Signer } from './sigalg.js';
import { decodePem, derOrPem } from './pem.js';

/**
 * A parsed certificate. Immutable; `der` is the exact input.
 * @example X509Certificate.parse(fs.readFileSync('leaf.pem')).verify(issuer)
 */
export class X509Certificate {
  /** The certificate's DER bytes. */
  readonly der: Uint8Array;
  /** The schema object (for fields not surfaced here). */
  readonly asn: Certificate;
  /** The signed TBSCertificate bytes. */
  readonly tbs: Uint8Array;
  readonly version: number;
  /** Serial number bytes as encoded (two's complement, minimal). */
  readonly serialNumber: Uint8Array;
  readonly issuer: Name;
  readonly subject: Name;
  /** DER of the issuer name (for byte comparison in path building). */
  readonly issuerDer: Uint8Array;
  /** DER of the subject name. */
  readonly subjectDer: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SubjectPublicKeyInfo DER. */
  readonly spki: Uint8Array;
  readonly publicKey: PublicKeyInfo;
  readonly signatureAlgorithm: string;
  readonly signature: Uint8Array;
  readonly extensions: ParsedExtensions;

  private constructor(der: Uint8Array, asn: Certificate, raw: RawParts) {
    this.der = der;
    this.asn = asn;
    const t = asn.tbsCertificate;
    this.tbs = raw.tbs;
    this.version = t.version + 1;
    this.serialNumber = u8(t.serialNumber);
    this.issuer = t.issuer;
    this.subject = t.subject;
    this.issuerDer = raw.issuer;
    this.subjectDer = raw.subject;
    this.notBefore = t.validity.notBefore.getTime();
    this.notAfter = t.validity.notAfter.getTime();
    this.spki = raw.spki;
    this.publicKey = parsePublicKey(this.spki);
    this.signatureAlgorithm = asn.signatureAlgorithm.algorithm;
    this.signature = u8(asn.signatureValue);
    this.extensions = parseExtensions(t.extensions ?? []);
  }

  /**
   * Parse a DER certificate strictly. Every failure is a `PkiError`
   * (`PKI_ERR_ASN1`, `PKI_ERR_NOT_DER`, `PKI_ERR_UNSUPPORTED_ALGORITHM`).
   *
   * @example
   * const cert = X509Certificate.fromDer(der);
   */
  static fromDer(der: Uint8Array): X509Certificate {
    if (!(der instanceof Uint8Array)) throw new TypeError('fromDer expects a Uint8Array');
    const copy = der.slice();
    const asn = parseDer(copy, Certificate, 'certificate', { roundTrip: false });
    const t = asn.tbsCertificate;
    const raw = rawParts(copy);
    // RFC 5280 §4.1.1.2: the outer and inner signature algorithms must be identical.
    if (!bytesEqual(raw.outerAlg, raw.innerAlg)) {
      throw new PkiError('PKI_ERR_ASN1', 'signatureAlgorithm differs from tbsCertificate.signature (RFC 5280 §4.1.1.2)');
    }
    if (t.version !== Version.v3 && t.extensions) throw new PkiError('PKI_ERR_ASN1', 'extensions in a non-v3 certificate');
    const serial = u8(t.serialNumber);
    // RFC 5280 §4.1.2.2: positive, at most 20 octets.
    if (serial.length === 0 || serial.length > 21 || (serial[0] & 0x80) !== 0) {
      throw new PkiError('PKI_ERR_ASN1', 'serial number must be positive and at most 20 octets (RFC 5280 §4.1.2.2)');
    }
    return new X509Certificate(copy, asn, raw);
  }

  /**
   * Wrap a certificate this package just encoded: its bytes are DER-checked and sliced, but
   * not parsed back through the schema (the schema object is the one that was encoded).
   * @internal
   */
  static fromEncoded(der: Uint8Array, asn: Certificate): X509Certificate {
    assertDer(der);
    return new X509Certificate(der, asn, rawParts(der));
  }

  /**
   * Parse DER bytes or PEM text (a file's contents either way), like the other `parse` functions.
   * @example X509Certificate.parse(fs.readFileSync('leaf.cer'))
   */
  static parse(input: Uint8Array | string): X509Certificate {
    return X509Certificate.fromDer(derOrPem(input, 'CERTIFICATE'));
  }

  /**
   * Parse a PEM `CERTIFICATE` block.
   * @example X509Certificate.fromPem(fs.readFileSync('ca.pem', 'utf8'))
   */
  static fromPem(pem: string): X509Certificate {
    return X509Certificate.fromDer(decodePem(pem, 'CERTIFICATE'));
  }

  /** PEM text of this certificate. */
  toPem(): string {
    return pemEncode('CERTIFICATE', this.der);
  }

  /** Serial number as lower-case hex (no leading 00 sign byte). */
  get serialHex(): string {
    const s = this.serialNumber;
    return bytesToHex(s.length > 1 && s[0] === 0 ? s.subarray(1) : s);
  }

  /** Subject as an RFC 4514 string. */
  get subjectName(): string {
    return nameToString(this.subject);
  }

  /** Issuer as an RFC 4514 string. */
  get issuerName(): string {
    return nameToString(this.issuer);
  }

  /** Whether the subject and issuer names are byte-identical (a self-issued certificate, RFC 5280 §6.1). */
  get selfIssued(): boolean {
    return bytesEqual(this.subjectDer, this.issuerDer);
  }

  /**
   * Verify this certificate's signature with the issuer's public key (SPKI DER or
   * certificate). SM2 uses the default ID 1234567812345678 (GM/T 0009-2012 §10) unless `sm2Id`.
   *
   * @example
   * leaf.verify(intermediate) // true or false
   */
  verify(issuer: X509Certificate | Uint8Array, o: SignatureOptions = {}): boolean {
    const spki = issuer instanceof X509Certificate ? issuer.spki : issuer;
    return verifySignature(spki, this.asn.signatureAlgorithm, this.tbs, this.signature, o);
  }
}

/** Exact encodings of the parts that are compared or hashed, sliced from the input (no re-encoding). */
interface RawParts {
  tbs: Uint8Array;
  outerAlg: Uint8Array;
  innerAlg: Uint8Array;
  issuer: Uint8Array;
  subject: Uint8Array;
  spki: Uint8Array;
}

function notDer(msg: string): never {
  throw new PkiError('PKI_ERR_NOT_DER', `certificate: ${msg}`);
}

/**
 * Slice the TBSCertificate fields of an already DER-checked certificate, and check what the
 * schema parser does not: the exact field order of RFC 5280 §4.1 (no extra fields) and that
 * DEFAULT values are absent (X.690 §11.5: version v1, Extension critical FALSE).
 */
function rawParts(der: Uint8Array): RawParts {
  let parts: RawParts;
  try {
    const top = derChildren(derReadElement(der, 0).element);
    if (top.length !== 3 || top[2].tag !== 0x03) throw new PkiError('PKI_ERR_ASN1', 'certificate: expected tbsCertificate, signatureAlgorithm, signatureValue');
    const [tbs, outerAlg] = top;
    const f = derChildren(tbs);
    const o = f[0].tag === 0xa0 ? 1 : 0; // version [0] EXPLICIT is optional (DEFAULT v1)
    if (o === 1) {
      const v = derChildren(f[0]);
      if (v.length !== 1 || v[0].tag !== 0x02) throw new PkiError('PKI_ERR_ASN1', 'certificate: bad version');
      if (v[0].content.length === 1 && v[0].content[0] === 0) notDer('version v1 encoded although it is the DEFAULT');
    }
    const tags = f.slice(o).map((e) => e.tag);
    const fixed = [0x02, 0x30, 0x30, 0x30, 0x30, 0x30];
    if (tags.length < 6 || fixed.some((t, i) => tags[i] !== t)) throw new PkiError('PKI_ERR_ASN1', 'certificate: TBSCertificate fields out of order');
    const optional = tags.slice(6);
    const allowed = [0x81, 0x82, 0xa3];
    let last = -1;
    for (const t of optional) {
      const i = allowed.indexOf(t);
      if (i <= last) throw new PkiError('PKI_ERR_ASN1', 'certificate: unexpected field after subjectPublicKeyInfo');
      last = i;
    }
    const extField = f.find((e) => e.tag === 0xa3);
    if (extField) {
      for (const ext of derChildren(derChildren(extField)[0])) {
        const kids = derChildren(ext);
        if (kids.length === 3 && kids[1].tag === 0x01 && kids[1].content[0] === 0) notDer('Extension critical FALSE encoded although it is the DEFAULT');
      }
    }
    parts = { tbs: tbs.encoded, outerAlg: outerAlg.encoded, innerAlg: f[o + 1].encoded, issuer: f[o + 2].encoded, subject: f[o + 4].encoded, spki: f[o + 5].encoded };
  } catch (e) {
    if (e instanceof PkiError) throw e;
    throw new PkiError('PKI_ERR_ASN1', 'certificate structure', { cause: e });
  }
  return parts;
}

/** What {@link createCertificate} needs. */
export interface CertificateOptions extends ExtensionOptions {
  subject: NameInput;
  /** Subject public key as SubjectPublicKeyInfo DER. */
  publicKey: Uint8Array;
  /** The issuer's certificate; omit for a self-signed certificate (then `signer` must hold the subject key). */
  issuer?: X509Certificate;
  signer: Signer;
  notBefore: Date;
  notAfter: Date;
  /** Positive serial, at most 20 octets; default 16 random bytes with the top bit cleared. */
  serialNumber?: Uint8Array;
  /** Random source (for the serial number); default `crypto.getRandomValues`. */
  random?: (n: number) => Uint8Array;
}

/**
 * Random positive serial number of `n` bytes (RFC 5280 §4.1.2.2, CA/B BR §7.1 ≥ 64 bits of entropy).
 * @example randomSerial() // 16 bytes, first byte 0x01..0x7f
 */
export function randomSerial(random: (n: number) => Uint8Array = defaultRandom, n = 16): Uint8Array {
  const s = random(n).slice();
  s[0] &= 0x7f;
  if (s[0] === 0) s[0] = 0x01; // keep the length fixed and the encoding minimal
  return s;
}

/**
 * `crypto.getRandomValues` as a byte source.
 * @example defaultRandom(16)
 */
export function defaultRandom(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

function validityTime(d: Date): Date {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new TypeError('validity dates must be valid Date objects');
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 (the Time class does this).
  return d;
}

/**
 * Create and sign a v3 certificate. Adds SKI (always) and AKI (from the issuer's SKI, or
 * the subject's own for a self-signed one) as RFC 5280 §4.2.1.1/§4.2.1.2 ask.
 *
 * @example
 * const root = createCertificate({
 *   subject: '/C=CN/O=湘安/CN=Root', publicKey: rootSpki, signer: sm2Signer(rootKey),
 *   notBefore: new Date(), notAfter: new Date(Date.now() + 10 * 365 * 864e5),
 *   basicConstraints: { ca: true }, keyUsage: ['keyCertSign', 'cRLSign'],
 * });
 */
export function createCertificate(o: CertificateOptions): X509Certificate {
  if (!(o.publicKey instanceof Uint8Array)) throw new TypeError('publicKey must be SPKI DER bytes');
  const spki = parseDer(o.publicKey, SubjectPublicKeyInfo, 'subjectPublicKeyInfo');
  parsePublicKey(o.publicKey);
  const serial = o.serialNumber ?? randomSerial(o.random);
  if (serial.length === 0 || serial.length > 20 || (serial[0] & 0x80) !== 0 || (serial.length > 1 && serial[0] === 0 && serial[1] < 0x80)) {
    throw new RangeError('serialNumber must be a positive minimal integer of at most 20 bytes');
  }
  if (o.notAfter.getTime() < o.notBefore.getTime()) throw new RangeError('notAfter is before notBefore');
  const subject = buildName(o.subject);
  const ski = o.subjectKeyIdentifier ?? keyIdentifier(o.publicKey);
  const issuerName = o.issuer ? o.issuer.subject : subject;
  const aki = o.authorityKeyIdentifier ?? (o.issuer ? o.issuer.extensions.subjectKeyIdentifier ?? keyIdentifier(o.issuer.spki) : ski);
  if (o.issuer && !bytesEqual(o.signer.publicKey, o.issuer.spki)) {
    throw new PkiError('PKI_ERR_KEY_MISMATCH', 'the signer key is not the issuer certificate key');
  }
  if (!o.issuer && !bytesEqual(o.signer.publicKey, o.publicKey)) {
    throw new PkiError('PKI_ERR_KEY_MISMATCH', 'a self-signed certificate needs the signer to hold the subject key');
  }
  const extensions = buildExtensions({ ...o, subjectKeyIdentifier: ski, authorityKeyIdentifier: aki });
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: ab(serial),
    signature: o.signer.algorithm(),
    issuer: issuerName,
    validity: new Validity({ notBefore: validityTime(o.notBefore), notAfter: validityTime(o.notAfter) }),
    subject,
    subjectPublicKeyInfo: spki,
    extensions: new Extensions(extensions),
  });
  const tbsDer = toDer(tbs);
  const sig = o.signer.sign(tbsDer);
  const cert = new Certificate({ tbsCertificate: tbs, signatureAlgorithm: o.signer.algorithm(), signatureValue: ab(sig) });
  return X509Certificate.fromEncoded(toDer(cert), cert);
}

/**
 * Every certificate in a PEM bundle, in order.
 * @example parseCertificates(fs.readFileSync('chain.pem', 'utf8'))
 */
export function parseCertificates(pem: string): X509Certificate[] {
  return pemDecodeAll(pem)
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b) => X509Certificate.fromDer(b.der));
}
