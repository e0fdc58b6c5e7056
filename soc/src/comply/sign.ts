/**
 * Report signatures: a CMS SignedData (RFC 5652, GM/T 0010-2012), detached, SM2 with SM3, with
 * signed attributes and the empty SM2 ID so that `openssl cms -verify -binary` 3.0 accepts it too
 * (pki/README.md "OpenSSL interoperability"). The signer is the SOC's integrity identity
 * (soc/src/integrity/identity.ts): the same key that signs checkpoints.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cmsSign, cmsVerify, SM2_OPENSSL_EMPTY_ID, validatePath } from '@xiangan/pki';
import type { SigningIdentity } from '../integrity/identity.js';
import { ComplyError } from './errors.js';

/**
 * Sign a report file; writes `<file>.p7s` (DER) and returns its path.
 * @example signReportFile('out/report.html', loadOrCreateIdentity({ dir, passphrase }));
 */
export function signReportFile(file: string, id: SigningIdentity): string {
  writeFileSync(`${file}.p7s`, signReport(readFileSync(file), id));
  return `${file}.p7s`;
}

/**
 * The detached signature (DER) of a report's bytes, as {@link signReportFile} writes it.
 * @example const p7s = signReport(new TextEncoder().encode(html), identity);
 */
export function signReport(content: Uint8Array, id: SigningIdentity): Uint8Array {
  return cmsSign({ content, certificate: id.certificate, key: id.key, detached: true, extraCertificates: id.chain, sm2Id: SM2_OPENSSL_EMPTY_ID });
}

/** Outcome of {@link verifyReportFile}. */
export interface ReportVerification {
  ok: boolean;
  signer?: string;
  signingTime?: string;
  /** Chain from the signer to the last certificate in the message verifies (RFC 5280 §6). */
  chainOk: boolean;
  reason?: string;
}

/**
 * Verify `<file>` against `<file>.p7s` (or `sig`): the signature over the exact bytes and the
 * signer's chain to the root certificate carried in the message. Never throws for bad data.
 * @example const r = verifyReportFile('out/report.html'); if (!r.ok) process.exitCode = 1;
 */
export function verifyReportFile(file: string, sig = `${file}.p7s`): ReportVerification {
  if (!existsSync(sig)) return { ok: false, chainOk: false, reason: `no signature file ${sig}` };
  try {
    const r = cmsVerify(readFileSync(sig), { content: readFileSync(file), sm2Id: SM2_OPENSSL_EMPTY_ID });
    const s = r.signers[0];
    const cert = s?.certificate;
    let chainOk = false;
    if (cert) {
      const others = r.certificates.filter((c) => c !== cert);
      const root = others[others.length - 1];
      if (root) chainOk = validatePath(cert, { intermediates: others, trustAnchors: [root], time: s?.signingTime ?? new Date(), revocation: 'none' }).ok;
    }
    return {
      ok: r.ok,
      chainOk,
      ...(cert ? { signer: cert.subjectName } : {}),
      ...(s?.signingTime ? { signingTime: s.signingTime.toISOString() } : {}),
      ...(r.ok ? {} : { reason: s?.code ?? 'no signer' }),
    };
  } catch (e) {
    return { ok: false, chainOk: false, reason: (e as { code?: string }).code ?? (e as Error).message };
  }
}

/** Throwing form for callers that want an exception. */
export function assertReportSigned(file: string): ReportVerification {
  const r = verifyReportFile(file);
  if (!r.ok) throw new ComplyError('SOC_ERR_COMPLY_SIGNATURE', `${file}: ${r.reason ?? 'bad signature'}`);
  return r;
}
