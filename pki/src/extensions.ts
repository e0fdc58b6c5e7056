/**
 * X.509 v3 extensions (RFC 5280 §4.2): building them for certificates and requests, and
 * reading them back into plain values. Every extension value is parsed strictly (it is DER
 * inside an OCTET STRING).
 */
import {
  AccessDescription,
  AuthorityInfoAccessSyntax,
  AuthorityKeyIdentifier,
  BasicConstraints,
  CRLDistributionPoints,
  DistributionPoint,
  DistributionPointName,
  ExtendedKeyUsage,
  Extension,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { OctetString } from '@peculiar/asn1-schema';
import { ab, parseDer, toDer, u8 } from './der.js';
import { PkiError } from './errors.js';
import { OID } from './oids.js';

/** Key usage bits by name (RFC 5280 §4.2.1.3). */
export type KeyUsageName =
  | 'digitalSignature'
  | 'nonRepudiation'
  | 'keyEncipherment'
  | 'dataEncipherment'
  | 'keyAgreement'
  | 'keyCertSign'
  | 'cRLSign'
  | 'encipherOnly'
  | 'decipherOnly';

const KU_ORDER: KeyUsageName[] = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
];

/**
 * Extended key usage by short name; dotted OIDs are accepted too.
 * @example EKU.serverAuth // '1.3.6.1.5.5.7.3.1'
 */
export const EKU: Record<string, string> = {
  serverAuth: OID.serverAuth,
  clientAuth: OID.clientAuth,
  codeSigning: OID.codeSigning,
  emailProtection: OID.emailProtection,
  ocspSigning: OID.ocspSigning,
  any: OID.anyExtendedKeyUsage,
};

/** Subject alternative names by kind. */
export interface AltNames {
  dns?: string[];
  ip?: string[];
  email?: string[];
  uri?: string[];
}

/** Extensions as plain values, as read from a certificate (absent → undefined). */
export interface ParsedExtensions {
  basicConstraints?: { ca: boolean; pathLen?: number; critical: boolean };
  keyUsage?: KeyUsageName[];
  extKeyUsage?: string[];
  subjectAltName?: Required<AltNames>;
  subjectKeyIdentifier?: Uint8Array;
  authorityKeyIdentifier?: Uint8Array;
  crlDistributionPoints?: string[];
  authorityInfoAccess?: { ocsp: string[]; caIssuers: string[] };
  /** OIDs of critical extensions this library does not process (RFC 5280 §4.2: must reject). */
  unknownCritical: string[];
  /** Every extension by OID with its raw value. */
  raw: Map<string, { critical: boolean; value: Uint8Array }>;
}

/** Options for building extensions. */
export interface ExtensionOptions {
  basicConstraints?: { ca: boolean; pathLen?: number };
  keyUsage?: KeyUsageName[];
  extKeyUsage?: string[];
  subjectAltName?: AltNames;
  subjectKeyIdentifier?: Uint8Array;
  authorityKeyIdentifier?: Uint8Array;
  crlDistributionPoints?: string[];
  authorityInfoAccess?: { ocsp?: string[]; caIssuers?: string[] };
}

function ext(oid: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID: oid, critical, extnValue: new OctetString(toDer(value)) });
}

function ekuOid(s: string): string {
  const oid = EKU[s] ?? (/^\d+(\.\d+)+$/.test(s) ? s : undefined);
  if (!oid) throw new RangeError(`unknown extended key usage '${s}'`);
  return oid;
}

/** Encode a key usage list as the KeyUsage BIT STRING (trailing zero bits removed, X.690 §11.2.2). */
function keyUsageValue(names: KeyUsageName[]): KeyUsage {
  let flags = 0;
  for (const n of names) {
    const i = KU_ORDER.indexOf(n);
    if (i < 0) throw new RangeError(`unknown key usage '${n}'`);
    flags |= 1 << i;
  }
  if (flags === 0) throw new RangeError('keyUsage needs at least one bit (RFC 5280 §4.2.1.3)');
  return new KeyUsage(flags as KeyUsageFlags);
}

function generalNames(a: AltNames): GeneralName[] {
  const out: GeneralName[] = [];
  for (const d of a.dns ?? []) out.push(new GeneralName({ dNSName: d }));
  for (const i of a.ip ?? []) out.push(new GeneralName({ iPAddress: i }));
  for (const e of a.email ?? []) out.push(new GeneralName({ rfc822Name: e }));
  for (const u of a.uri ?? []) out.push(new GeneralName({ uniformResourceIdentifier: u }));
  return out;
}

/**
 * Build extensions in a stable order, with the criticality RFC 5280 recommends
 * (basicConstraints critical for CAs and keyUsage critical: §4.2.1.9, §4.2.1.3).
 *
 * @example
 * buildExtensions({ basicConstraints: { ca: true, pathLen: 0 }, keyUsage: ['keyCertSign', 'cRLSign'] })
 */
export function buildExtensions(o: ExtensionOptions): Extension[] {
  const out: Extension[] = [];
  if (o.basicConstraints) {
    const { ca, pathLen } = o.basicConstraints;
    if (pathLen !== undefined && (!ca || !Number.isInteger(pathLen) || pathLen < 0)) {
      throw new RangeError('pathLen needs ca: true and a non-negative integer');
    }
    out.push(ext(OID.basicConstraints, true, new BasicConstraints({ cA: ca, pathLenConstraint: pathLen })));
  }
  if (o.keyUsage) out.push(ext(OID.keyUsage, true, keyUsageValue(o.keyUsage)));
  if (o.extKeyUsage) out.push(ext(OID.extKeyUsage, false, new ExtendedKeyUsage(o.extKeyUsage.map(ekuOid))));
  if (o.subjectAltName) {
    const names = generalNames(o.subjectAltName);
    if (names.length) out.push(ext(OID.subjectAltName, false, new SubjectAlternativeName(names)));
  }
  if (o.subjectKeyIdentifier) out.push(ext(OID.subjectKeyIdentifier, false, new SubjectKeyIdentifier(ab(o.subjectKeyIdentifier))));
  if (o.authorityKeyIdentifier) {
    out.push(ext(OID.authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(ab(o.authorityKeyIdentifier)) })));
  }
  if (o.crlDistributionPoints?.length) {
    const dps = o.crlDistributionPoints.map(
      (u) => new DistributionPoint({ distributionPoint: new DistributionPointName({ fullName: [new GeneralName({ uniformResourceIdentifier: u })] }) }),
    );
    out.push(ext(OID.crlDistributionPoints, false, new CRLDistributionPoints(dps)));
  }
  const aia = o.authorityInfoAccess;
  if (aia && ((aia.ocsp?.length ?? 0) + (aia.caIssuers?.length ?? 0)) > 0) {
    const ads = [
      ...(aia.ocsp ?? []).map((u) => new AccessDescription({ accessMethod: OID.ocsp, accessLocation: new GeneralName({ uniformResourceIdentifier: u }) })),
      ...(aia.caIssuers ?? []).map(
        (u) => new AccessDescription({ accessMethod: OID.caIssuers, accessLocation: new GeneralName({ uniformResourceIdentifier: u }) }),
      ),
    ];
    out.push(ext(OID.authorityInfoAccess, false, new AuthorityInfoAccessSyntax(ads)));
  }
  return out;
}

const KNOWN = new Set<string>([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectAltName,
  OID.subjectKeyIdentifier,
  OID.authorityKeyIdentifier,
  OID.crlDistributionPoints,
  OID.authorityInfoAccess,
  OID.certificatePolicies,
]);

function altNames(gns: GeneralName[]): Required<AltNames> {
  const r: Required<AltNames> = { dns: [], ip: [], email: [], uri: [] };
  for (const g of gns) {
    if (g.dNSName !== undefined) r.dns.push(g.dNSName);
    else if (g.iPAddress !== undefined) r.ip.push(g.iPAddress);
    else if (g.rfc822Name !== undefined) r.email.push(g.rfc822Name);
    else if (g.uniformResourceIdentifier !== undefined) r.uri.push(g.uniformResourceIdentifier);
  }
  return r;
}

/**
 * Read extensions into plain values. Duplicate extensions are refused (RFC 5280 §4.2),
 * and every value must be DER of its type.
 *
 * @example
 * const { basicConstraints, keyUsage } = parseExtensions(tbs.extensions ?? []);
 */
export function parseExtensions(exts: Extension[]): ParsedExtensions {
  const r: ParsedExtensions = { unknownCritical: [], raw: new Map() };
  for (const e of exts) {
    if (r.raw.has(e.extnID)) throw new PkiError('PKI_ERR_ASN1', `duplicate extension ${e.extnID} (RFC 5280 §4.2)`);
    const v = u8(e.extnValue.buffer);
    r.raw.set(e.extnID, { critical: e.critical, value: v });
    switch (e.extnID) {
      case OID.basicConstraints: {
        const bc = parseDer(v, BasicConstraints, 'basicConstraints');
        r.basicConstraints = { ca: bc.cA, pathLen: bc.pathLenConstraint, critical: e.critical };
        break;
      }
      case OID.keyUsage: {
        const ku = parseDer(v, KeyUsage, 'keyUsage');
        const flags = ku.toNumber();
        r.keyUsage = KU_ORDER.filter((_, i) => (flags & (1 << i)) !== 0);
        break;
      }
      case OID.extKeyUsage:
        r.extKeyUsage = [...parseDer(v, ExtendedKeyUsage, 'extKeyUsage')];
        break;
      case OID.subjectAltName:
        r.subjectAltName = altNames([...parseDer(v, SubjectAlternativeName, 'subjectAltName')]);
        break;
      case OID.subjectKeyIdentifier:
        r.subjectKeyIdentifier = u8(parseDer(v, SubjectKeyIdentifier, 'subjectKeyIdentifier').buffer);
        break;
      case OID.authorityKeyIdentifier: {
        const aki = parseDer(v, AuthorityKeyIdentifier, 'authorityKeyIdentifier');
        if (aki.keyIdentifier) r.authorityKeyIdentifier = u8(aki.keyIdentifier.buffer);
        break;
      }
      case OID.crlDistributionPoints: {
        const dps = parseDer(v, CRLDistributionPoints, 'cRLDistributionPoints');
        r.crlDistributionPoints = [...dps].flatMap((dp) => altNames(dp.distributionPoint?.fullName ?? []).uri);
        break;
      }
      case OID.authorityInfoAccess: {
        const aia = parseDer(v, AuthorityInfoAccessSyntax, 'authorityInfoAccess');
        const ads = [...aia];
        const uris = (m: string): string[] => altNames(ads.filter((a) => a.accessMethod === m).map((a) => a.accessLocation)).uri;
        r.authorityInfoAccess = { ocsp: uris(OID.ocsp), caIssuers: uris(OID.caIssuers) };
        break;
      }
      default:
        if (e.critical && !KNOWN.has(e.extnID)) r.unknownCritical.push(e.extnID);
    }
  }
  return r;
}
