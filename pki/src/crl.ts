/**
 * X.509 v2 certificate revocation lists (RFC 5280 §5): create with CRL number, AKI and
 * per-entry reason codes; parse strictly; verify against the issuer.
 */
import { CertificateList, CRLReason, Extension, RevokedCertificate, TBSCertList, Time, Version, Name } from '@peculiar/asn1-x509';
import { OctetString } from '@peculiar/asn1-schema';
import { bytesToHex, derDecode, derInteger, derReadInteger, pemEncode } from '@xiangan/crypto';
import { ab, bytesEqual, parseDer, toDer, u8 } from './der.js';
import { PkiError } from './errors.js';
import { buildExtensions, parseExtensions } from './extensions.js';
import { nameToString } from './name.js';
import { OID } from './oids.js';
import { derOrPem } from './pem.js';
import { keyIdentifier, verifySignature, type SignatureOptions, type Signer } from './sigalg.js';
import type { X509Certificate } from './x509.js';

/**
 * CRLReason names and codes (RFC 5280 §5.3.1; 7 is not used).
 * @example REVOCATION_REASONS.keyCompromise // 1
 */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

/** A revocation reason name. */
export type RevocationReason = keyof typeof REVOCATION_REASONS;

const REASON_BY_CODE = new Map<number, RevocationReason>(
  Object.entries(REVOCATION_REASONS).map(([k, v]) => [v, k as RevocationReason]),
);

/** One revoked certificate. */
export interface RevokedEntry {
  /** Serial number bytes as in the certificate. */
  serialNumber: Uint8Array;
  revocationDate: Date;
  reason?: RevocationReason;
}

function serialKey(s: Uint8Array): string {
  return bytesToHex(s);
}

/**
 * A parsed CRL.
 * @example CertificateRevocationList.parse(pem).find(cert.serialNumber)?.reason
 */
export class CertificateRevocationList {
  readonly der: Uint8Array;
  readonly asn: CertificateList;
  readonly tbs: Uint8Array;
  readonly issuer: Name;
  /** DER of the issuer name. */
  readonly issuerDer: Uint8Array;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  readonly crlNumber?: bigint;
  readonly authorityKeyIdentifier?: Uint8Array;
  readonly entries: RevokedEntry[];
  private readonly bySerial: Map<string, RevokedEntry>;

  private constructor(der: Uint8Array, asn: CertificateList) {
    this.der = der;
    this.asn = asn;
    const t = asn.tbsCertList;
    this.tbs = asn.tbsCertListRaw ? u8(asn.tbsCertListRaw) : toDer(t);
    this.issuer = t.issuer;
    this.issuerDer = toDer(t.issuer);
    this.thisUpdate = t.thisUpdate.getTime();
    this.nextUpdate = t.nextUpdate?.getTime();
    const exts = t.crlExtensions ?? [];
    const known = new Set<string>([OID.crlNumber, OID.authorityKeyIdentifier]);
    for (const e of exts) {
      // RFC 5280 §5.2: a CRL with an unrecognised critical extension must not be used.
      if (e.critical && !known.has(e.extnID)) throw new PkiError('PKI_ERR_CRL_INVALID', `unsupported critical CRL extension ${e.extnID}`);
      if (e.extnID === OID.crlNumber) {
        try {
          this.crlNumber = derReadInteger(derDecode(u8(e.extnValue.buffer)));
        } catch (err) {
          throw new PkiError('PKI_ERR_ASN1', 'bad cRLNumber', { cause: err });
        }
      }
    }
    this.authorityKeyIdentifier = parseExtensions(exts.filter((e) => e.extnID !== OID.crlNumber)).authorityKeyIdentifier;
    this.entries = [];
    this.bySerial = new Map();
    for (const rc of t.revokedCertificates ?? []) {
      const entry: RevokedEntry = { serialNumber: u8(rc.userCertificate), revocationDate: rc.revocationDate.getTime() };
      for (const e of rc.crlEntryExtensions ?? []) {
        if (e.extnID === OID.crlReason) {
          const r = parseDer(u8(e.extnValue.buffer), CRLReason, 'reasonCode');
          const name = REASON_BY_CODE.get(r.reason);
          if (!name) throw new PkiError('PKI_ERR_ASN1', `unknown CRL reason code ${r.reason}`);
          entry.reason = name;
        } else if (e.critical) throw new PkiError('PKI_ERR_CRL_INVALID', `unsupported critical CRL entry extension ${e.extnID}`);
      }
      this.entries.push(entry);
      this.bySerial.set(serialKey(entry.serialNumber), entry);
    }
  }

  /**
   * Parse a CRL (DER bytes or PEM `X509 CRL`).
   * @example const crl = CertificateRevocationList.parse(fs.readFileSync('ca.crl'));
   */
  static parse(input: Uint8Array | string): CertificateRevocationList {
    const der = derOrPem(input, 'X509 CRL');
    const asn = parseDer(der, CertificateList, 'CRL');
    const t = asn.tbsCertList;
    if (!bytesEqual(toDer(asn.signatureAlgorithm), toDer(t.signature))) {
      throw new PkiError('PKI_ERR_ASN1', 'CRL signatureAlgorithm differs from tbsCertList.signature (RFC 5280 §5.1.1.2)');
    }
    if (t.version !== Version.v2 && (t.crlExtensions || (t.revokedCertificates ?? []).some((r) => r.crlEntryExtensions))) {
      throw new PkiError('PKI_ERR_ASN1', 'extensions in a v1 CRL');
    }
    return new CertificateRevocationList(der.slice(), asn);
  }

  /** Issuer as an RFC 4514 string. */
  get issuerName(): string {
    return nameToString(this.issuer);
  }

  /** The entry for a serial number, if revoked. @example crl.find(cert.serialNumber)?.reason */
  find(serialNumber: Uint8Array): RevokedEntry | undefined {
    return this.bySerial.get(serialKey(serialNumber));
  }

  /**
   * Verify the CRL signature with the issuer's key (SM2: default ID unless `sm2Id`).
   * @example crl.verify(caCert)
   */
  verify(issuer: X509Certificate | Uint8Array, o: SignatureOptions = {}): boolean {
    const spki = issuer instanceof Uint8Array ? issuer : issuer.spki;
    return verifySignature(spki, this.asn.signatureAlgorithm, this.tbs, u8(this.asn.signature), o);
  }

  /** PEM text. */
  toPem(): string {
    return pemEncode('X509 CRL', this.der);
  }
}

/** What {@link createCrl} needs. */
export interface CrlOptions {
  issuer: X509Certificate;
  signer: Signer;
  thisUpdate: Date;
  nextUpdate: Date;
  /** Monotonically increasing CRL number (RFC 5280 §5.2.3). */
  crlNumber: bigint;
  revoked: RevokedEntry[];
}

/**
 * Create a v2 CRL signed by `issuer` (its key in `signer`), with the AKI and cRLNumber
 * extensions RFC 5280 §5.2.1/§5.2.3 require and a reasonCode on each entry that has one
 * other than `unspecified` (§5.3.1 says to omit it then).
 *
 * @example
 * const crl = createCrl({ issuer: ca, signer, thisUpdate: now, nextUpdate: later, crlNumber: 1n, revoked: [] });
 */
export function createCrl(o: CrlOptions): CertificateRevocationList {
  if (o.crlNumber < 0n) throw new RangeError('crlNumber must be non-negative');
  if (!bytesEqual(o.signer.publicKey, o.issuer.spki)) throw new PkiError('PKI_ERR_KEY_MISMATCH', 'the signer key is not the issuer certificate key');
  const aki = o.issuer.extensions.subjectKeyIdentifier ?? keyIdentifier(o.issuer.spki);
  const crlExtensions = [
    ...buildExtensions({ authorityKeyIdentifier: aki }),
    new Extension({ extnID: OID.crlNumber, critical: false, extnValue: new OctetString(derInteger(o.crlNumber)) }),
  ];
  const revoked = o.revoked.map((r) => {
    const exts: Extension[] = [];
    if (r.reason && r.reason !== 'unspecified') {
      const code = REVOCATION_REASONS[r.reason];
      if (code === undefined) throw new RangeError(`unknown revocation reason '${r.reason}'`);
      exts.push(new Extension({ extnID: OID.crlReason, critical: false, extnValue: new OctetString(toDer(new CRLReason(code))) }));
    }
    return new RevokedCertificate({
      userCertificate: ab(r.serialNumber),
      revocationDate: new Time(r.revocationDate),
      crlEntryExtensions: exts.length ? exts : undefined,
    });
  });
  const tbs = new TBSCertList({
    version: Version.v2,
    signature: o.signer.algorithm(),
    issuer: o.issuer.subject,
    thisUpdate: new Time(o.thisUpdate),
    nextUpdate: new Time(o.nextUpdate),
    revokedCertificates: revoked.length ? revoked : undefined,
    crlExtensions,
  });
  const tbsDer = toDer(tbs);
  const list = new CertificateList({ tbsCertList: tbs, signatureAlgorithm: o.signer.algorithm(), signature: ab(o.signer.sign(tbsDer)) });
  return CertificateRevocationList.parse(toDer(list));
}
