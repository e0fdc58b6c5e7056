/**
 * Online revocation checking for the crypto service: ask the OCSP responders named in the
 * certificates of an already-built path (RFC 6960 §4.1 request over HTTP POST, Appendix A.1),
 * with a nonce (RFC 8954), and keep the answers that verify for `validatePath`.
 */
import { createOcspRequest, parseOcspResponse, verifyOcspResponse, PkiError, type OcspResponseInfo, type X509Certificate } from '@xiangan/pki';

/** What one responder said about one certificate of the path. */
export interface OcspFetchReport {
  subject: string;
  url: string;
  /** `error`: no usable answer (unreachable, timeout, malformed, bad signature, nonce mismatch). */
  status: 'good' | 'revoked' | 'unknown' | 'error';
  error?: string;
}

/** Largest OCSP response read (a response with a few certificates is a few KiB). */
const MAX_RESPONSE = 256 * 1024;

async function readLimited(res: Response): Promise<Uint8Array> {
  const len = Number(res.headers.get('content-length') ?? '0');
  if (len > MAX_RESPONSE) throw new Error(`response of ${len} bytes is too large`);
  const buf = new Uint8Array(await res.arrayBuffer());
  if (buf.length > MAX_RESPONSE) throw new Error(`response of ${buf.length} bytes is too large`);
  return buf;
}

async function askOne(cert: X509Certificate, issuer: X509Certificate, url: string, timeoutMs: number): Promise<{ response?: OcspResponseInfo; report: OcspFetchReport }> {
  const report = (status: OcspFetchReport['status'], error?: string): OcspFetchReport => ({ subject: cert.subjectName, url, status, ...(error ? { error } : {}) });
  const nonce = crypto.getRandomValues(new Uint8Array(16));
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' },
      body: Buffer.from(createOcspRequest(cert, issuer, { nonce })),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
    if (!res.ok) return { report: report('error', `HTTP ${res.status}`) };
    const response = parseOcspResponse(await readLimited(res));
    // A responder that echoes no nonce is accepted (RFC 8954 §2.1 lets it omit one); its
    // thisUpdate/nextUpdate window is then what validatePath checks for freshness.
    const single = verifyOcspResponse(response, cert, issuer, response.nonce ? { nonce } : {});
    return { response, report: report(single.status) };
  } catch (e) {
    const msg = e instanceof PkiError ? `${e.code}: ${e.message}` : e instanceof Error && e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e as Error).message;
    return { report: report('error', msg) };
  }
}

/**
 * For each certificate of `path` (leaf first, anchor last) except the anchor, ask the first
 * http(s) OCSP responder its authorityInfoAccess names. Never throws: failures are reported and
 * leave that certificate to CRLs (or to a `required` revocation failure in validatePath).
 *
 * @example
 * const { responses } = await fetchOcspForPath(path, { timeoutMs: 5000 });
 * validatePath(leaf, { trustAnchors, intermediates, time, ocsp: responses });
 */
export async function fetchOcspForPath(path: readonly X509Certificate[], o: { timeoutMs: number }): Promise<{ responses: OcspResponseInfo[]; report: OcspFetchReport[] }> {
  const asks: Array<Promise<{ response?: OcspResponseInfo; report: OcspFetchReport }>> = [];
  for (let i = 0; i + 1 < path.length; i++) {
    const cert = path[i]!;
    const url = cert.extensions.authorityInfoAccess?.ocsp.find((u) => /^https?:\/\//i.test(u));
    if (url) asks.push(askOne(cert, path[i + 1]!, url, o.timeoutMs));
  }
  const answers = await Promise.all(asks);
  return { responses: answers.flatMap((a) => (a.response ? [a.response] : [])), report: answers.map((a) => a.report) };
}
