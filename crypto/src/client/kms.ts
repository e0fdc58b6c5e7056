/**
 * `@xiangan/crypto/kms-client`: a typed client of the Xiangan crypto service (`/api/v1/kms`).
 * Uses only `fetch`, `AbortController` and the byte helpers, so it runs in browsers and Node.
 * Idempotent calls (reads, verify, decrypt, digest, HMAC verify) are retried on network errors,
 * 429 and 5xx with exponential back-off; calls with effects (sign, encrypt, create, rotate…) are
 * sent once, since a retry after a lost response could rotate twice or mint a second data key.
 * @packageDocumentation
 */
import { base64ToBytes, bytesToBase64, utf8ToBytes } from '../bytes.js';

/** Error of a KMS call: the service's stable `code` (e.g. `SOC_ERR_KMS_DENIED`) and HTTP status. */
export class KmsClientError extends Error {
  override readonly name = 'KmsClientError';
  readonly code: string;
  /** HTTP status; 0 for a network failure or timeout. */
  readonly status: number;
  constructor(code: string, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = status;
  }
}

/** Options of {@link KmsClient}. */
export interface KmsClientOptions {
  /** Base URL of the SOC server, e.g. `https://soc.example:8443`. */
  url: string;
  /**
   * Application token (`xkms_…`). Omit it only when `fetch` presents a TLS client certificate
   * bound to the application (Node: a fetch whose dispatcher carries `cert`/`key`).
   */
  token?: string;
  /** Per-attempt timeout in ms (default 10,000). */
  timeoutMs?: number;
  /** Extra attempts for idempotent calls (default 2). */
  retries?: number;
  /** First back-off in ms, doubled per attempt (default 100). */
  backoffMs?: number;
  /** A `fetch` implementation (default the global one). */
  fetch?: typeof fetch;
}

/** Key types of the service. */
export type KmsKeyType = 'sm2-sign' | 'sm2-encrypt' | 'sm4' | 'hmac-sm3';

/** Key metadata as the service returns it. */
export interface KmsKeyInfo {
  name: string;
  type: KmsKeyType;
  exportable: boolean;
  latestVersion: number;
  minDecryptionVersion: number;
  disabled: boolean;
  destroyAt?: number;
  createdAt: number;
  versions: number[];
  /** SPKI PEM of each SM2 key version. */
  publicKeys?: Record<string, string>;
}

type Bytes = Uint8Array | string;
const bin = (b: Bytes): string => bytesToBase64(typeof b === 'string' ? utf8ToBytes(b) : b);

/** Options of SM2 sign/verify. */
export interface KmsSignOptions {
  id?: Bytes;
  format?: 'der' | 'raw';
}
/** Options of encrypt/decrypt/rewrap. */
export interface KmsCipherOptions {
  aad?: Bytes;
  order?: 'c1c3c2' | 'c1c2c3';
}

function signBody(o: KmsSignOptions): Record<string, unknown> {
  return { ...(o.id !== undefined ? { id: bin(o.id) } : {}), ...(o.format ? { format: o.format } : {}) };
}
function cipherBody(o: KmsCipherOptions): Record<string, unknown> {
  return { ...(o.aad !== undefined ? { aad: bin(o.aad) } : {}), ...(o.order ? { order: o.order } : {}) };
}

/**
 * Typed client of the crypto service.
 *
 * @example
 * const kms = new KmsClient({ url: 'http://127.0.0.1:8080', token: process.env.KMS_TOKEN! });
 * const { signature } = await kms.sign('orders-sign', 'pay 100');
 * const { valid } = await kms.verify('orders-sign', 'pay 100', signature);
 */
export class KmsClient {
  private readonly base: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(opts: KmsClientOptions) {
    if (typeof opts?.url !== 'string' || !/^https?:\/\//.test(opts.url)) throw new TypeError('KmsClient: url must be an http(s) URL');
    if (opts.token !== undefined && (typeof opts.token !== 'string' || opts.token.length === 0)) throw new TypeError('KmsClient: token must be a non-empty string');
    if (opts.token === undefined && !opts.fetch) throw new TypeError('KmsClient: a token is required (or a fetch that presents a client certificate)');
    this.base = `${opts.url.replace(/\/+$/, '')}/api/v1/kms`;
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.retries = opts.retries ?? 2;
    this.backoffMs = opts.backoffMs ?? 100;
    if (!Number.isInteger(this.timeoutMs) || this.timeoutMs < 1) throw new RangeError('KmsClient: timeoutMs must be a positive integer');
    if (!Number.isInteger(this.retries) || this.retries < 0) throw new RangeError('KmsClient: retries must be a non-negative integer');
    this.fetchFn = opts.fetch ?? fetch;
  }

  private async once<T>(method: string, path: string, body: unknown): Promise<T> {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), this.timeoutMs);
    let res: Response;
    try {
      res = await this.fetchFn(`${this.base}${path}`, {
        method,
        signal: ctl.signal,
        headers: { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let json: unknown;
      try {
        json = text === '' ? {} : JSON.parse(text);
      } catch (e) {
        throw new KmsClientError('KMS_CLIENT_BAD_RESPONSE', res.status, `non-JSON response (HTTP ${res.status})`, { cause: e });
      }
      if (!res.ok) {
        const j = json as { code?: string; message?: string };
        throw new KmsClientError(j.code ?? 'KMS_CLIENT_HTTP', res.status, j.message ?? `HTTP ${res.status}`);
      }
      return json as T;
    } catch (e) {
      if (e instanceof KmsClientError) throw e;
      const timedOut = ctl.signal.aborted;
      throw new KmsClientError(timedOut ? 'KMS_CLIENT_TIMEOUT' : 'KMS_CLIENT_NETWORK', 0, timedOut ? `no answer within ${this.timeoutMs} ms` : (e as Error).message, { cause: e });
    } finally {
      clearTimeout(timer);
    }
  }

  private async request<T>(method: string, path: string, body: unknown, idempotent: boolean): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once<T>(method, path, body);
      } catch (e) {
        const err = e as KmsClientError;
        const transient = err.status === 0 || err.status === 429 || err.status >= 500;
        if (!idempotent || !transient || attempt >= this.retries) throw e;
        await new Promise((r) => setTimeout(r, this.backoffMs * 2 ** attempt));
      }
    }
  }

  private k(name: string): string {
    return encodeURIComponent(name);
  }

  /** Keys the token may read. */
  async listKeys(): Promise<KmsKeyInfo[]> {
    return (await this.request<{ keys: KmsKeyInfo[] }>('GET', '/keys', undefined, true)).keys;
  }
  /** One key's metadata and SM2 public keys. */
  getKey(name: string): Promise<KmsKeyInfo> {
    return this.request('GET', `/keys/${this.k(name)}`, undefined, true);
  }
  /** Create a key. */
  createKey(name: string, type: KmsKeyType, opts: { exportable?: boolean; certificateSubject?: string } = {}): Promise<KmsKeyInfo> {
    return this.request('POST', '/keys', { name, type, exportable: opts.exportable === true, ...(opts.certificateSubject !== undefined ? { certificateSubject: opts.certificateSubject } : {}) }, false);
  }
  /** Have the service's CA certify the latest version of an SM2 key (the service must be started with a CA). */
  issueCertificate(name: string, subject: string): Promise<{ version: number; certificate: string; chain: string[] }> {
    return this.request('POST', `/keys/${this.k(name)}/issue`, { subject }, false);
  }
  /** New key version. */
  rotateKey(name: string): Promise<KmsKeyInfo> {
    return this.request('POST', `/keys/${this.k(name)}/rotate`, undefined, false);
  }
  /** Minimum decryption version, disable, schedule (ms) or cancel (null) destruction. */
  configureKey(name: string, change: { minDecryptionVersion?: number; disabled?: boolean; destroyAfterMs?: number | null }): Promise<KmsKeyInfo> {
    return this.request('POST', `/keys/${this.k(name)}/config`, change, false);
  }
  /** Export an exportable key wrapped under an SM2 public key (PEM) or a managed SM4 key. */
  exportKey(name: string, wrapping: { publicKey: string } | { key: string }): Promise<{ type: KmsKeyType; versions: Array<{ version: number; wrapped: string }> }> {
    return this.request('POST', `/keys/${this.k(name)}/export`, wrapping, true);
  }
  /** SM2 signature; `signature` is `xiangan:v<N>:<base64>`. */
  sign(name: string, input: Bytes, opts: KmsSignOptions = {}): Promise<{ signature: string; version: number }> {
    return this.request('POST', `/sign/${this.k(name)}`, { input: bin(input), ...signBody(opts) }, true);
  }
  /** Verify a signature envelope. */
  verify(name: string, input: Bytes, signature: string, opts: KmsSignOptions = {}): Promise<{ valid: boolean; version: number }> {
    return this.request('POST', `/verify/${this.k(name)}`, { input: bin(input), signature, ...signBody(opts) }, true);
  }
  /** Encrypt with SM4-GCM or SM2. */
  encrypt(name: string, plaintext: Bytes, opts: KmsCipherOptions = {}): Promise<{ ciphertext: string; version: number }> {
    return this.request('POST', `/encrypt/${this.k(name)}`, { plaintext: bin(plaintext), ...cipherBody(opts) }, false);
  }
  /** Decrypt an envelope. */
  async decrypt(name: string, ciphertext: string, opts: KmsCipherOptions = {}): Promise<{ plaintext: Uint8Array; version: number }> {
    const r = await this.request<{ plaintext: string; version: number }>('POST', `/decrypt/${this.k(name)}`, { ciphertext, ...cipherBody(opts) }, true);
    return { plaintext: base64ToBytes(r.plaintext), version: r.version };
  }
  /** Re-encrypt under the newest version. */
  rewrap(name: string, ciphertext: string, opts: KmsCipherOptions = {}): Promise<{ ciphertext: string; version: number }> {
    return this.request('POST', `/rewrap/${this.k(name)}`, { ciphertext, ...cipherBody(opts) }, true);
  }
  /** A data key: plaintext bytes and the same key wrapped under `name`. */
  async dataKey(name: string, bytes = 16): Promise<{ plaintext: Uint8Array; ciphertext: string; version: number }> {
    const r = await this.request<{ plaintext: string; ciphertext: string; version: number }>('POST', `/datakey/${this.k(name)}`, { bytes }, false);
    return { plaintext: base64ToBytes(r.plaintext), ciphertext: r.ciphertext, version: r.version };
  }
  /** HMAC-SM3 envelope. */
  hmac(name: string, input: Bytes): Promise<{ mac: string; version: number }> {
    return this.request('POST', `/hmac/${this.k(name)}`, { input: bin(input) }, true);
  }
  /** Check an HMAC-SM3 envelope. */
  hmacVerify(name: string, input: Bytes, mac: string): Promise<{ valid: boolean; version: number }> {
    return this.request('POST', `/hmac-verify/${this.k(name)}`, { input: bin(input), mac }, true);
  }
  /** SM3 digest (hex). */
  async digest(input: Bytes): Promise<string> {
    return (await this.request<{ digest: string }>('POST', '/digest', { input: bin(input) }, true)).digest;
  }
  /** A PKCS#10 request (PEM) signed by the key's latest version, for a CA. */
  async certificateRequest(name: string, subject: string): Promise<string> {
    return (await this.request<{ csr: string }>('POST', `/keys/${this.k(name)}/csr`, { subject }, true)).csr;
  }
  /** Attach a CA-issued certificate (PEM) to the key version it certifies. */
  setCertificate(name: string, certificate: string): Promise<{ version: number }> {
    return this.request('POST', `/keys/${this.k(name)}/certificate`, { certificate }, true);
  }
  /** CMS SignedData (DER) with the key's latest certified version. */
  async cmsSign(name: string, content: Bytes, opts: { detached?: boolean } = {}): Promise<{ cms: Uint8Array; version: number }> {
    const r = await this.request<{ cms: string; version: number }>('POST', `/cms/sign/${this.k(name)}`, { content: bin(content), detached: opts.detached === true }, true);
    return { cms: base64ToBytes(r.cms), version: r.version };
  }
  /** Verify CMS SignedData; with trust anchors (PEM) the signer paths are validated too. */
  async cmsVerify(cms: Uint8Array, opts: { content?: Bytes; trustAnchors?: string[] } = {}): Promise<{ valid: boolean; content: Uint8Array; signers: Array<{ subject?: string; ok: boolean; code?: string }> }> {
    const r = await this.request<{ valid: boolean; content: string; signers: Array<{ subject?: string; ok: boolean; code?: string }> }>(
      'POST', '/cms/verify', { cms: bin(cms), ...(opts.content !== undefined ? { content: bin(opts.content) } : {}), ...(opts.trustAnchors ? { trustAnchors: opts.trustAnchors } : {}) }, true,
    );
    return { valid: r.valid, content: base64ToBytes(r.content), signers: r.signers };
  }
  /** CMS EnvelopedData to recipient certificates (PEM). */
  async cmsEnvelope(content: Bytes, recipients: string[]): Promise<Uint8Array> {
    return base64ToBytes((await this.request<{ cms: string }>('POST', '/cms/envelope', { content: bin(content), recipients }, false)).cms);
  }
  /** Open CMS EnvelopedData addressed to a managed sm2-encrypt key. */
  async cmsOpen(name: string, cms: Uint8Array): Promise<{ content: Uint8Array; version: number }> {
    const r = await this.request<{ content: string; version: number }>('POST', `/cms/open/${this.k(name)}`, { cms: bin(cms) }, true);
    return { content: base64ToBytes(r.content), version: r.version };
  }
  /**
   * Certificate path validation by the service: chain, CRLs, OCSP responses given (base64 DER),
   * and with `fetchOcsp` the responders named in the path's certificates are asked online.
   */
  validateCertificate(req: {
    certificate: string;
    trustAnchors: string[];
    intermediates?: string[];
    crls?: string[];
    ocsp?: string[];
    fetchOcsp?: boolean;
    purpose?: string;
    revocation?: 'none' | 'available' | 'required';
  }): Promise<{ valid: boolean; code?: string; message?: string; path?: string[]; ocsp?: Array<{ subject: string; url: string; status: string; error?: string }> }> {
    return this.request('POST', '/validate', req, true);
  }
  /** Encrypted backup of the whole store (JSON text). */
  async backup(): Promise<string> {
    return (await this.request<{ backup: string }>('POST', '/backup', undefined, true)).backup;
  }
  /** Restore a backup made by this same store. */
  restore(backup: string, opts: { replace?: boolean } = {}): Promise<{ keys: number; apps: number }> {
    return this.request('POST', '/restore', { backup, replace: opts.replace === true }, false);
  }
  /** Register an application; the token is returned once. */
  createApp(name: string, policy: { keys: string[]; ops: string[] }): Promise<{ name: string; token: string }> {
    return this.request('POST', '/apps', { name, ...policy }, false);
  }
  /** Bind a TLS client certificate (PEM) to an application; returns its SM3 fingerprint. */
  bindAppCertificate(name: string, certificate: string): Promise<{ app: string; fingerprint: string; subject: string; notAfter: string }> {
    return this.request('POST', `/apps/${this.k(name)}/certificates`, { certificate }, false);
  }
  /** Revoke an application's token. */
  revokeApp(name: string): Promise<{ revoked: string }> {
    return this.request('DELETE', `/apps/${this.k(name)}`, undefined, true);
  }
}
