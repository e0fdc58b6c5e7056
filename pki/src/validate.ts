/**
 * Certification path validation (RFC 5280 §6.1, the parts that matter for a closed PKI):
 * path building by name (and key identifier), signatures up to a trust anchor, validity at
 * a given time, basicConstraints and pathLenConstraint, keyUsage for CA and end-entity
 * purposes, extKeyUsage, unknown critical extensions and revocation from CRLs whose own
 * signature, issuer and validity are checked. The result names the first failure in
 * processing order (from the anchor down) and the certificate it concerns.
 */
import { bytesEqual } from './der.js';
import { PkiError, type PkiErrorCode } from './errors.js';
import type { KeyUsageName } from './extensions.js';
import { OID } from './oids.js';
import { namesEqual } from './name.js';
import type { CertificateRevocationList } from './crl.js';
import { verifyOcspResponse, type OcspResponseInfo, type OcspSingle } from './ocsp.js';
import type { X509Certificate } from './x509.js';

/** What the end-entity certificate is to be used for. */
export type Purpose = 'any' | 'serverAuth' | 'clientAuth' | 'sign' | 'enc' | 'ocspSigning' | 'crlSign';

/** Inputs of {@link validatePath}. */
export interface ValidationOptions {
  /** Trusted roots (their signatures are not checked; their validity and constraints are). */
  trustAnchors: X509Certificate[];
  /** Untrusted certificates that may complete the path. */
  intermediates?: X509Certificate[];
  /** Validation time. */
  time: Date;
  /** Purpose of the leaf; default `any`. */
  purpose?: Purpose;
  /** CRLs available for revocation checking. */
  crls?: CertificateRevocationList[];
  /**
   * OCSP responses available (parsed with `parseOcspResponse`, e.g. stapled). A response that
   * verifies (by the issuer or its delegated responder, RFC 6960 §4.2.2.2) and is current
   * answers for its certificate before CRLs are looked at.
   */
  ocsp?: OcspResponseInfo[];
  /** `none`: skip; `available` (default): use CRLs given; `required`: every non-anchor certificate needs a valid CRL. */
  revocation?: 'none' | 'available' | 'required';
  /** Longest path (certificates including anchor); default 10. */
  maxLength?: number;
  /**
   * Remember signature results per (parsed object, issuer object) across calls, so a server
   * validating many leaves under the same intermediates and CRLs verifies each of those once.
   */
  cache?: SignatureCache;
  /**
   * SM2 IDs to accept, tried in order; default only 1234567812345678 (GM/T 0009-2012 §10).
   * `[SM2_DEFAULT_ID, SM2_OPENSSL_EMPTY_ID]` also accepts certificates and CRLs that OpenSSL
   * 3.0 signed without `-sigopt distid:…`. Use a separate {@link SignatureCache} per setting.
   */
  sm2Ids?: Uint8Array[];
}

/**
 * Signature results keyed by object identity (WeakMaps: entries go with the objects).
 * Parsed certificates and CRLs are immutable, so a result can be reused for the same pair.
 *
 * @example
 * const cache = new SignatureCache();
 * for (const leaf of leaves) validatePath(leaf, { trustAnchors, intermediates, crls, time, cache });
 */
export class SignatureCache {
  private readonly results = new WeakMap<object, WeakMap<object, boolean>>();

  /** The cached result for `signed` under `issuer`, computing it with `verify` once. */
  check(signed: object, issuer: object, verify: () => boolean): boolean {
    let m = this.results.get(signed);
    if (!m) {
      m = new WeakMap();
      this.results.set(signed, m);
    }
    let r = m.get(issuer);
    if (r === undefined) {
      r = verify();
      m.set(issuer, r);
    }
    return r;
  }
}

/** The result of validation. */
export type ValidationResult =
  | { ok: true; path: X509Certificate[] }
  | {
      ok: false;
      code: PkiErrorCode;
      message: string;
      /** The certificate the failure concerns. */
      certificate: X509Certificate;
      /** Its position: 0 = leaf. */
      depth: number;
      /** The path built so far (leaf first). */
      path: X509Certificate[];
    };

function sameName(a: X509Certificate, issuerOf: X509Certificate): boolean {
  return bytesEqual(a.subjectDer, issuerOf.issuerDer) || namesEqual(a.subject, issuerOf.issuer);
}

/** Prefer candidates whose SKI matches the child's AKI (RFC 5280 §4.2.1.1), then whose signature verifies. */
function pickIssuer(child: X509Certificate, cands: X509Certificate[], ids?: Uint8Array[]): X509Certificate | undefined {
  const named = cands.filter((c) => c !== child && sameName(c, child));
  if (named.length <= 1) return named[0];
  const aki = child.extensions.authorityKeyIdentifier;
  const byKid = aki ? named.filter((c) => c.extensions.subjectKeyIdentifier && bytesEqual(c.extensions.subjectKeyIdentifier, aki)) : named;
  const pool = byKid.length ? byKid : named;
  return pool.find((c) => safeVerify(child, c, ids)) ?? pool[0];
}

function safeVerify(cert: X509Certificate, issuer: X509Certificate, ids?: Uint8Array[]): boolean {
  try {
    return verifyAny((sm2Id) => cert.verify(issuer, { sm2Id }), ids);
  } catch {
    return false;
  }
}

/** True when the signature verifies under one of the SM2 IDs (the default when none are given). */
function verifyAny(check: (sm2Id: Uint8Array | undefined) => boolean, ids: Uint8Array[] | undefined): boolean {
  if (!ids?.length) return check(undefined);
  return ids.some((id) => check(id));
}

function hasKu(c: X509Certificate, any: KeyUsageName[]): boolean {
  const ku = c.extensions.keyUsage;
  return !ku || any.some((k) => ku.includes(k));
}

function hasEku(c: X509Certificate, oid: string): boolean {
  const eku = c.extensions.extKeyUsage;
  return !eku || eku.includes(oid) || eku.includes(OID.anyExtendedKeyUsage);
}

const PURPOSE_KU: Record<Purpose, KeyUsageName[] | undefined> = {
  any: undefined,
  serverAuth: ['digitalSignature', 'keyEncipherment', 'keyAgreement'],
  clientAuth: ['digitalSignature', 'keyAgreement'],
  // GM/T 0015-2012 dual certificates: signing vs. encryption keys.
  sign: ['digitalSignature', 'nonRepudiation'],
  enc: ['keyEncipherment', 'dataEncipherment', 'keyAgreement'],
  ocspSigning: ['digitalSignature', 'nonRepudiation'],
  crlSign: ['cRLSign'],
};
const PURPOSE_EKU: Partial<Record<Purpose, string>> = {
  serverAuth: OID.serverAuth,
  clientAuth: OID.clientAuth,
  ocspSigning: OID.ocspSigning,
};

/**
 * Validate `leaf` up to one of `trustAnchors`.
 *
 * @example
 * const r = validatePath(leaf, { trustAnchors: [root], intermediates: [ica], time: new Date(), purpose: 'serverAuth', crls: [crl] });
 * if (!r.ok) console.log(r.code, r.certificate.subjectName);
 */
export function validatePath(leaf: X509Certificate, o: ValidationOptions): ValidationResult {
  const anchors = o.trustAnchors;
  const inter = o.intermediates ?? [];
  const maxLength = o.maxLength ?? 10;
  const time = o.time.getTime();
  if (Number.isNaN(time)) throw new TypeError('time must be a valid Date');
  const path: X509Certificate[] = [leaf];
  const fail = (code: PkiErrorCode, message: string, cert: X509Certificate): ValidationResult => ({
    ok: false,
    code,
    message,
    certificate: cert,
    depth: path.indexOf(cert),
    path,
  });

  // 1. Build: walk issuers by name until a trust anchor (a certificate equal to an anchor counts).
  let cur = leaf;
  for (;;) {
    if (anchors.some((a) => bytesEqual(a.der, cur.der))) break;
    const anchor = pickIssuer(cur, anchors, o.sm2Ids);
    if (anchor) {
      path.push(anchor);
      break;
    }
    const next = pickIssuer(cur, inter.filter((c) => !path.includes(c)), o.sm2Ids);
    if (!next) return fail('PKI_ERR_UNKNOWN_ISSUER', `no trusted or intermediate certificate is the issuer ${cur.issuerName}`, cur);
    path.push(next);
    if (path.length >= maxLength) return fail('PKI_ERR_PATH_LEN', `path longer than ${maxLength} certificates`, next);
    cur = next;
  }

  // 2. Process from the anchor down (RFC 5280 §6.1.3, §6.1.4).
  const n = path.length;
  const crls = o.crls ?? [];
  const mode = o.revocation ?? 'available';
  for (let i = n - 1; i >= 0; i--) {
    const c = path[i];
    const isAnchor = i === n - 1 && anchors.some((a) => bytesEqual(a.der, c.der));
    const issuer = path[i + 1];
    if (!isAnchor) {
      let good = false;
      try {
        const check = (): boolean => verifyAny((sm2Id) => c.verify(issuer, { sm2Id }), o.sm2Ids);
        good = o.cache ? o.cache.check(c, issuer, check) : check();
      } catch (e) {
        // An algorithm we cannot check is reported as such, anything else as a bad signature.
        const code = e instanceof PkiError && e.code === 'PKI_ERR_UNSUPPORTED_ALGORITHM' ? e.code : 'PKI_ERR_BAD_SIGNATURE';
        return fail(code, `signature cannot be checked: ${(e as Error).message}`, c);
      }
      if (!good) return fail('PKI_ERR_BAD_SIGNATURE', `signature by ${issuer.subjectName} does not verify`, c);
    }
    if (time < c.notBefore.getTime()) return fail('PKI_ERR_NOT_YET_VALID', `not valid before ${c.notBefore.toISOString()}`, c);
    if (time > c.notAfter.getTime()) return fail('PKI_ERR_EXPIRED', `expired at ${c.notAfter.toISOString()}`, c);
    if (c.extensions.unknownCritical.length) {
      return fail('PKI_ERR_UNKNOWN_CRITICAL_EXTENSION', `unprocessed critical extension ${c.extensions.unknownCritical.join(', ')}`, c);
    }
    if (!isAnchor && mode !== 'none') {
      const byOcsp = checkOcsp(c, issuer, o.ocsp ?? [], time);
      const r = byOcsp !== undefined ? byOcsp : checkRevocation(c, issuer, crls, time, mode === 'required', o.cache, o.sm2Ids);
      if (r) return fail(r.code, r.message, c);
    }
    if (i > 0) {
      // §6.1.4 (k), (l), (m), (n): an issuing certificate must be a CA, within its path length, allowed to sign certificates.
      const bc = c.extensions.basicConstraints;
      if (!bc?.ca) return fail('PKI_ERR_NOT_CA', 'issues certificates but is not a CA (basicConstraints cA)', c);
      if (!hasKu(c, ['keyCertSign'])) return fail('PKI_ERR_KEY_USAGE', 'keyUsage lacks keyCertSign', c);
      if (bc.pathLen !== undefined) {
        // Non-self-issued intermediates below this certificate, not counting the leaf.
        let below = 0;
        for (let j = i - 1; j >= 1; j--) if (!path[j].selfIssued) below++;
        if (below > bc.pathLen) return fail('PKI_ERR_PATH_LEN', `pathLenConstraint ${bc.pathLen} allows fewer CAs below it than ${below}`, c);
      }
    }
  }

  // 3. The leaf's purpose.
  const purpose = o.purpose ?? 'any';
  const ku = PURPOSE_KU[purpose];
  if (ku && !hasKu(leaf, ku)) return fail('PKI_ERR_KEY_USAGE', `keyUsage does not allow ${purpose} (needs one of ${ku.join(', ')})`, leaf);
  const eku = PURPOSE_EKU[purpose];
  if (eku && !hasEku(leaf, eku)) return fail('PKI_ERR_EXT_KEY_USAGE', `extKeyUsage does not include ${purpose}`, leaf);
  return { ok: true, path };
}

/**
 * A verified, current OCSP answer for `cert`: REVOKED as a failure, `good` as a pass (an
 * empty result), `unknown` or no usable response as undefined (fall back to CRLs).
 */
function checkOcsp(cert: X509Certificate, issuer: X509Certificate, responses: OcspResponseInfo[], time: number): { code: PkiErrorCode; message: string } | null | undefined {
  for (const resp of responses) {
    let single: OcspSingle;
    try {
      single = verifyOcspResponse(resp, cert, issuer);
    } catch {
      continue; // for another certificate, or not verifiable: not an answer for this one
    }
    // RFC 6960 §4.2.2.1: thisUpdate not in the future, nextUpdate (if any) not past.
    if (single.thisUpdate.getTime() > time + 60_000 || (single.nextUpdate && single.nextUpdate.getTime() < time)) continue;
    if (single.status === 'revoked' && single.revocationTime.getTime() <= time) {
      return { code: 'PKI_ERR_REVOKED', message: `revoked at ${single.revocationTime.toISOString()} (OCSP${single.reason ? `, ${single.reason}` : ''})` };
    }
    if (single.status === 'good' || single.status === 'revoked') return null;
  }
  return undefined;
}

/** RFC 5280 §6.3 (simplified to full, directly issued CRLs): null when not revoked. */
function checkRevocation(
  cert: X509Certificate,
  issuer: X509Certificate,
  crls: CertificateRevocationList[],
  time: number,
  required: boolean,
  cache: SignatureCache | undefined,
  ids: Uint8Array[] | undefined,
): { code: PkiErrorCode; message: string } | null {
  const ski = issuer.extensions.subjectKeyIdentifier;
  // Same issuer name, and (when both carry key identifiers) the same key: a CRL of a re-keyed
  // CA with the same name is not this issuer's CRL (RFC 5280 §5.2.1).
  const mine = crls.filter(
    (l) =>
      (bytesEqual(l.issuerDer, issuer.subjectDer) || namesEqual(l.issuer, issuer.subject)) &&
      !(ski && l.authorityKeyIdentifier && !bytesEqual(ski, l.authorityKeyIdentifier)),
  );
  let usable = 0;
  let invalid: string | undefined;
  for (const crl of mine) {
    let good = false;
    try {
      const check = (): boolean => verifyAny((sm2Id) => crl.verify(issuer, { sm2Id }), ids);
      good = cache ? cache.check(crl, issuer, check) : check();
    } catch {
      good = false;
    }
    const why = !good
      ? `CRL of ${issuer.subjectName} has a bad signature`
      : !hasKu(issuer, ['cRLSign'])
        ? 'CRL issuer keyUsage lacks cRLSign'
        : time < crl.thisUpdate.getTime()
          ? 'CRL is not yet valid'
          : crl.nextUpdate && time > crl.nextUpdate.getTime()
            ? 'CRL has expired (past nextUpdate)'
            : undefined;
    if (why) {
      invalid ??= why;
      continue;
    }
    usable++;
    const e = crl.find(cert.serialNumber);
    if (e && e.revocationDate.getTime() <= time && e.reason !== 'removeFromCRL') {
      return { code: 'PKI_ERR_REVOKED', message: `revoked at ${e.revocationDate.toISOString()}${e.reason ? ` (${e.reason})` : ''}` };
    }
  }
  // An unusable CRL fails closed unless a usable one of the same issuer answered (a newer CRL beside a stale one).
  if (usable === 0 && invalid) return { code: 'PKI_ERR_CRL_INVALID', message: invalid };
  if (required && usable === 0) return { code: 'PKI_ERR_REVOCATION_UNKNOWN', message: `no CRL of ${issuer.subjectName}` };
  return null;
}
