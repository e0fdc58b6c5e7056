/**
 * The crypto service: named, versioned SM2/SM4/HMAC-SM3 keys and the operations of a
 * signing/verification server (GM/T 0029) or a Vault-style transit engine, with per-application
 * policies and an audit event for every call.
 */
import { timingSafeEqual, X509Certificate as NodeX509 } from 'node:crypto';
import {
  Sm2PrivateKey, Sm2PublicKey, sm2Sign, sm2Verify, sm2Encrypt, sm2Decrypt, sm3, hmacSm3, randomBytes, base64ToBytes, bytesToBase64,
  sm4GcmEncrypt, sm4GcmDecrypt, concatBytes, bytesToHex, utf8ToBytes, bytesToUtf8, CryptoError, importSm2PublicKey, sm2PublicKeyToPem,
  type Sm2CipherOrder, type Sm2SignatureFormat,
} from '@xiangan/crypto';
import type { EcsEvent, EventSink } from '@xiangan/collectors';
import {
  X509Certificate, CertificateRequest, CertificateRevocationList, PkiError, createCsr, sm2Signer, cmsSign, cmsVerify, cmsEncrypt, cmsDecrypt, validatePath, parseOcspResponse,
  type NameInput, type Purpose, type Profile, type OcspResponseInfo, type ValidationOptions,
} from '@xiangan/pki';
import { auditLog } from '../audit/index.js';
import { KmsError } from './errors.js';
import { KmsStore, KMS_KEY_TYPES, gcmUnwrap, gcmWrap, materialAad, deriveKek, type KmsKeyMeta, type KmsKeyType, type KmsStoreOptions, type KmsAppRow, type KmsAppCertRow } from './store.js';
import { fetchOcspForPath, type OcspFetchReport } from './ocsp-fetch.js';
import { Sm2Pool } from './pool.js';
import { fromBase64, toBase64, RandomSource } from './codec.js';

/** Operations a policy may name; `*` allows all of them. */
export const KMS_OPERATIONS = [
  'read', 'sign', 'verify', 'encrypt', 'decrypt', 'rewrap', 'datakey', 'hmac', 'hmac-verify', 'digest', 'export',
  'create', 'rotate', 'configure', 'destroy', 'import', 'backup', 'restore', 'apps',
  'certificate', 'cms-sign', 'cms-verify', 'cms-encrypt', 'cms-decrypt', 'validate',
] as const;

/** Operations that use no managed key: a policy needs only the operation, not a key pattern. */
const KEYLESS: ReadonlySet<string> = new Set(['digest', 'cms-verify', 'cms-encrypt', 'validate']);
/** One of {@link KMS_OPERATIONS}. */
export type KmsOperation = (typeof KMS_OPERATIONS)[number];

/** An authenticated caller. */
export interface KmsCaller {
  app: string;
  /** Client address, for the audit event (`client.ip`). */
  ip?: string;
}

/** Policy of an application: key-name patterns (exact or `prefix*`) and operations. */
export interface KmsPolicy {
  keys: string[];
  ops: Array<KmsOperation | '*'>;
}

/** One audit record of a call; never plaintext or key bytes. */
export interface KmsAuditRecord {
  app: string;
  key?: string;
  version?: number;
  operation: string;
  outcome: 'success' | 'failure';
  /** Input size in bytes. */
  size?: number;
  errorCode?: string;
  ip?: string;
}

/** Options of {@link KmsService.open}. */
export interface KmsServiceOptions extends KmsStoreOptions {
  /** The SOC pipeline's durable buffer: every call becomes an ECS event with `event.dataset: xiangan.kms`. */
  sink?: EventSink;
  /** Called for every audit record (tests, metrics). */
  onAudit?: (r: KmsAuditRecord) => void;
  now?: () => number;
  /**
   * A certificate authority (the SOC's, `CertificateAuthority` from `@xiangan/pki`) that issues a
   * certificate for every version of an SM2 key created or rotated with a certificate subject.
   */
  ca?: KmsIssuer;
  /** OCSP fetching for `validateCertificateOnline`: per-request timeout (ms, default 5000). */
  ocspTimeoutMs?: number;
  /**
   * Worker threads for SM2 sign/verify of {@link KmsService.signAsync}/{@link KmsService.verifyAsync}
   * (the HTTP routes use those); 0 (default) computes on the calling thread.
   */
  workers?: number;
}

/** What the service needs of a CA: `CertificateAuthority` fits. */
export interface KmsIssuer {
  issue(csr: CertificateRequest, o: { profile: Profile }): X509Certificate;
  /** Issuing CA first, root last. */
  readonly chain: readonly X509Certificate[];
}

/** A validation request, parsed. */
interface ValidationInput {
  leaf: X509Certificate;
  stapled: OcspResponseInfo[];
  options: Omit<ValidationOptions, 'ocsp'>;
}

/** A request of {@link KmsService.validateCertificate}. */
export interface KmsValidateRequest {
  certificate: string;
  trustAnchors: string[];
  intermediates?: string[];
  crls?: string[];
  /** DER OCSP responses (base64), e.g. stapled by the caller. */
  ocsp?: string[];
  purpose?: Purpose;
  revocation?: 'none' | 'available' | 'required';
}

/** The answer of a certificate validation. */
export interface KmsValidateResult {
  valid: boolean;
  code?: string;
  message?: string;
  path?: string[];
  /** With online checking: which OCSP responders were asked and what came back. */
  ocsp?: OcspFetchReport[];
}

interface LoadedVersion {
  version: number;
  material: Uint8Array;
  priv?: Sm2PrivateKey;
  pub?: Sm2PublicKey;
  cert?: X509Certificate;
}
interface LoadedKey {
  meta: KmsKeyMeta;
  versions: Map<number, LoadedVersion>;
}


/** Verified bearer tokens remembered at most (see KmsService.verifiedTokens). */
const VERIFIED_TOKENS_MAX = 1024;

const ENVELOPE = /^xiangan:v([1-9]\d{0,8}):([A-Za-z0-9+/=_-]+)$/;

/** Encode a versioned envelope `xiangan:v<N>:<base64>` (Vault's `vault:v1:` shape). @example envelope(2, ct) */
export function envelope(version: number, bytes: Uint8Array): string {
  return `xiangan:v${version}:${toBase64(bytes)}`;
}

/** Decode an envelope; `SOC_ERR_KMS_CIPHERTEXT` when malformed. @example parseEnvelope('xiangan:v1:AAEC') */
export function parseEnvelope(s: string): { version: number; bytes: Uint8Array } {
  const m = typeof s === 'string' ? ENVELOPE.exec(s) : null;
  if (!m) throw new KmsError('SOC_ERR_KMS_CIPHERTEXT', "not a 'xiangan:v<N>:<base64>' envelope");
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(m[2]!);
  } catch (e) {
    throw new KmsError('SOC_ERR_KMS_CIPHERTEXT', 'the envelope payload is not base64', { cause: e });
  }
  return { version: Number(m[1]), bytes };
}

/** Decode request base64 or throw `SOC_ERR_KMS_REQUEST`. */
export function b64(field: string, s: unknown): Uint8Array {
  if (typeof s !== 'string') throw new KmsError('SOC_ERR_KMS_REQUEST', `${field}: expected a base64 string`);
  try {
    return fromBase64(s);
  } catch (e) {
    throw new KmsError('SOC_ERR_KMS_REQUEST', `${field}: not base64`, { cause: e });
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
function checkName(what: string, n: unknown): string {
  if (typeof n !== 'string' || !NAME.test(n)) throw new KmsError('SOC_ERR_KMS_REQUEST', `${what}: 1-128 characters of A-Z a-z 0-9 . _ -`);
  return n;
}

function materialLength(type: KmsKeyType): number {
  return type === 'sm4' ? 16 : 32;
}

function newMaterial(type: KmsKeyType): Uint8Array {
  if (type === 'sm2-sign' || type === 'sm2-encrypt') return Sm2PrivateKey.generate().toBytes();
  return randomBytes(materialLength(type));
}

function tokenHash(token: string): Uint8Array {
  return sm3(utf8ToBytes(token));
}

/** Options of a sign/verify call. */
export interface KmsSignOptions {
  /** Signer ID for Z_A (GB/T 32918.2 §5.5); default `1234567812345678`. */
  id?: Uint8Array;
  format?: Sm2SignatureFormat;
}

/**
 * The crypto service over a {@link KmsStore}.
 *
 * @example
 * const kms = KmsService.open({ dir, masterSecret: 'correct horse battery staple' });
 * const { token } = kms.createApp('orders', { keys: ['orders-*'], ops: ['sign', 'verify'] });
 * const caller = kms.authenticate(token);
 * kms.createKey(kms.root, 'orders-sign', 'sm2-sign');
 * const { signature } = kms.sign(caller, 'orders-sign', msg);
 */
export class KmsService {
  readonly store: KmsStore;
  /** A caller with every right, for local administration (CLI, bootstrap); never reachable over HTTP. */
  readonly root: KmsCaller = { app: '(local)' };
  private readonly keys = new Map<string, LoadedKey>();
  private readonly apps = new Map<string, KmsAppRow>();
  /**
   * Bearer tokens already verified, with their application's row: the SM3 of the token and the
   * constant-time scan over every application are done once per token, not once per request.
   */
  private readonly verifiedTokens = new Map<string, KmsAppRow>();
  /** Client-certificate bindings by SM3 fingerprint (hex). */
  private readonly appCerts = new Map<string, KmsAppCertRow>();
  private readonly ca: KmsIssuer | undefined;
  private readonly ocspTimeoutMs: number;
  private readonly pool: Sm2Pool | undefined;
  private readonly pems = new WeakMap<X509Certificate, string>();
  private readonly sink: EventSink | undefined;
  private readonly onAudit: ((r: KmsAuditRecord) => void) | undefined;
  private readonly now: () => number;
  private pending: EcsEvent[] = [];
  /** Nonces and data keys of the calling thread's SM4 operations. */
  private readonly random = new RandomSource();
  /** The next audit append, scheduled; it resolves to the error when the sink refused the batch. */
  private flushing: Promise<KmsError | undefined> | undefined;
  private readonly inFlight = new Set<Promise<KmsError | undefined>>();
  /** Audit events the sink refused (buffer full or failing). */
  auditDropped = 0;
  /**
   * Audit event ids: 16 random hex digits for this service instance, then a 16-digit counter —
   * as unique as a random UUID across restarts and instances, without drawing randomness for
   * every call (a third of the cost of building an event in profiles of the HTTP routes).
   */
  private readonly auditIdPrefix = hex(this.random.bytes(8));
  private auditSeq = 0;
  /** The last audit timestamp and its ISO 8601 text: calls of the same millisecond share it. */
  private auditMs = Number.NaN;
  private auditTs = '';

  private constructor(store: KmsStore, opts: KmsServiceOptions) {
    this.store = store;
    this.sink = opts.sink;
    this.onAudit = opts.onAudit;
    this.now = opts.now ?? Date.now;
    this.ca = opts.ca;
    this.ocspTimeoutMs = opts.ocspTimeoutMs ?? 5000;
    this.pool = opts.workers ? new Sm2Pool(opts.workers) : undefined;
    for (const m of store.keys()) this.keys.set(m.name, this.loadKey(m));
    for (const a of store.apps()) this.apps.set(a.name, a);
    for (const c of store.appCertificates()) this.appCerts.set(hex(c.fingerprint), c);
  }

  /** Open the store (checking the master secret) and unwrap every key into memory. */
  static open(opts: KmsServiceOptions): KmsService {
    return new KmsService(KmsStore.open(opts), opts);
  }

  private loadKey(meta: KmsKeyMeta): LoadedKey {
    const versions = new Map<number, LoadedVersion>();
    for (const v of this.store.versions(meta.name)) {
      const material = gcmUnwrap(this.store.kek, v.wrapped, materialAad(meta.name, v.version));
      if (!material) throw new KmsError('SOC_ERR_KMS_STORE', `key ${meta.name} v${v.version} fails authentication in the store`);
      versions.set(v.version, this.expand(meta.type, v.version, material));
      this.poolKey(meta, versions.get(v.version)!);
    }
    for (const [version, der] of this.store.certificates(meta.name)) {
      const lv = versions.get(version);
      if (lv) lv.cert = X509Certificate.fromDer(der);
    }
    return { meta, versions };
  }

  /** Make a signing or SM4 key version known to the worker pool (verification needs only the public key). */
  private poolKey(meta: KmsKeyMeta, v: LoadedVersion): void {
    if (this.pool && meta.type === 'sm2-sign') this.pool.setKey(poolId(meta.name, v.version), v.material, v.pub!.toBytes());
    if (this.pool && meta.type === 'sm4') this.pool.setSymmetricKey(poolId(meta.name, v.version), v.material);
  }

  private expand(type: KmsKeyType, version: number, material: Uint8Array): LoadedVersion {
    if (type === 'sm2-sign' || type === 'sm2-encrypt') {
      const priv = Sm2PrivateKey.fromBytes(material);
      return { version, material, priv, pub: priv.publicKey };
    }
    return { version, material };
  }

  // ---- applications and policies ----------------------------------------------------------

  /** Register an application; returns its token once (only the SM3 hash is stored). */
  createApp(name: string, policy: KmsPolicy): { name: string; token: string } {
    checkName('app', name);
    if (this.apps.has(name)) throw new KmsError('SOC_ERR_KMS_KEY_EXISTS', `application ${name} exists`);
    return this.issueToken(name, policy);
  }

  private issueToken(name: string, policy: KmsPolicy): { name: string; token: string } {
    checkPolicy(policy);
    const token = `xkms_${bytesToBase64(randomBytes(24), true)}`;
    const row: KmsAppRow = { name, tokenHash: tokenHash(token), keys: [...policy.keys], ops: [...policy.ops], revoked: false };
    this.store.putApp(row);
    this.apps.set(name, row);
    auditLog.record({ actor: this.root.app, action: 'kms.app.create', target: name, outcome: 'success', details: { keys: policy.keys, ops: policy.ops } });
    return { name, token };
  }

  /** Replace an application's policy and token (the old token stops working). */
  reissueApp(name: string, policy: KmsPolicy): { name: string; token: string } {
    if (!this.apps.has(name)) throw new KmsError('SOC_ERR_KMS_KEY_NOT_FOUND', `no application ${name}`);
    return this.issueToken(name, policy);
  }

  /** Revoke an application's token. */
  revokeApp(name: string): void {
    const a = this.apps.get(name);
    if (!a) throw new KmsError('SOC_ERR_KMS_KEY_NOT_FOUND', `no application ${name}`);
    a.revoked = true;
    this.store.putApp(a);
    auditLog.record({ actor: this.root.app, action: 'kms.app.revoke', target: name, outcome: 'success' });
  }

  /** Managing applications needs the `apps` operation on every key (`keys: ['*']`). */
  checkAppsAccess(caller: KmsCaller): void {
    this.run(caller, 'apps', undefined, undefined, () => ({ value: undefined }));
  }

  /** Applications and policies (no token hashes). */
  listApps(): Array<{ name: string; keys: string[]; ops: string[]; revoked: boolean; certificates: Array<{ fingerprint: string; subject: string; notAfter: string }> }> {
    const certs = [...this.appCerts.values()];
    return [...this.apps.values()].map((a) => ({
      name: a.name,
      keys: a.keys,
      ops: a.ops,
      revoked: a.revoked,
      certificates: certs.filter((c) => c.app === a.name).map((c) => ({ fingerprint: hex(c.fingerprint), subject: c.subject, notAfter: new Date(c.notAfter).toISOString() })),
    }));
  }

  /**
   * Bind a TLS client certificate (PEM or DER; any key type the TLS layer accepts) to an
   * application: a request over a TLS connection whose verified client certificate is bound
   * authenticates as that application without a bearer token. Returns the SM3 fingerprint.
   */
  bindAppCertificate(name: string, certificate: string | Uint8Array): { app: string; fingerprint: string; subject: string; notAfter: string } {
    if (!this.apps.has(name)) throw new KmsError('SOC_ERR_KMS_KEY_NOT_FOUND', `no application ${name}`);
    let cert: NodeX509;
    try {
      cert = new NodeX509(typeof certificate === 'string' ? certificate : Buffer.from(certificate));
    } catch (e) {
      throw new KmsError('SOC_ERR_KMS_REQUEST', 'certificate: not an X.509 certificate (PEM or DER)', { cause: e });
    }
    const row: KmsAppCertRow = { fingerprint: sm3(new Uint8Array(cert.raw)), app: name, subject: cert.subject.replaceAll('\n', ', '), notAfter: Date.parse(cert.validTo) };
    this.store.putAppCertificate(row);
    this.appCerts.set(hex(row.fingerprint), row);
    auditLog.record({ actor: this.root.app, action: 'kms.app.certificate', target: name, outcome: 'success', details: { fingerprint: hex(row.fingerprint), subject: row.subject } });
    return { app: name, fingerprint: hex(row.fingerprint), subject: row.subject, notAfter: new Date(row.notAfter).toISOString() };
  }

  /** Remove a client-certificate binding by its SM3 fingerprint (hex). */
  unbindAppCertificate(name: string, fingerprintHex: string): void {
    const row = this.appCerts.get(fingerprintHex.toLowerCase());
    if (!row || row.app !== name) throw new KmsError('SOC_ERR_KMS_KEY_NOT_FOUND', `no certificate binding ${fingerprintHex}`);
    this.store.deleteAppCertificate(row.fingerprint);
    this.appCerts.delete(hex(row.fingerprint));
    auditLog.record({ actor: this.root.app, action: 'kms.app.certificate.remove', target: row.app, outcome: 'success', details: { fingerprint: hex(row.fingerprint) } });
  }

  /**
   * The caller a TLS client certificate belongs to. The TLS layer has already verified the chain
   * to the configured client CAs and the proof of possession; this maps the exact certificate
   * (SM3 of its DER) to an application, so a certificate from the same CA that was never bound is
   * refused. `SOC_ERR_KMS_UNAUTHENTICATED` when unbound, expired or the application is revoked.
   */
  authenticateCertificate(der: Uint8Array, ip?: string): KmsCaller {
    const row = this.appCerts.get(hex(sm3(der)));
    const a = row ? this.apps.get(row.app) : undefined;
    const why = !row || !a ? 'the client certificate is not bound to an application' : a.revoked ? 'the application is revoked' : row.notAfter < this.now() ? 'the client certificate has expired' : undefined;
    if (why) {
      this.audit({ app: a?.name ?? '(unknown)', operation: 'authenticate', outcome: 'failure', errorCode: 'SOC_ERR_KMS_UNAUTHENTICATED', ...(ip ? { ip } : {}) });
      throw new KmsError('SOC_ERR_KMS_UNAUTHENTICATED', why);
    }
    return ip ? { app: a!.name, ip } : { app: a!.name };
  }

  /**
   * The caller a bearer token belongs to; `SOC_ERR_KMS_UNAUTHENTICATED` for an unknown or revoked
   * token (audited with app `(unknown)` so bursts show up as unusual callers).
   */
  authenticate(token: string | undefined, ip?: string): KmsCaller {
    if (token) {
      // A token verified before maps to its application's row; the row must still be the current,
      // unrevoked one (a new token or a restore replaces the row object, a revocation flags it).
      const known = this.verifiedTokens.get(token);
      if (known && !known.revoked && this.apps.get(known.name) === known) return ip ? { app: known.name, ip } : { app: known.name };
      const h = tokenHash(token);
      for (const a of this.apps.values()) {
        if (timingSafeEqual(a.tokenHash, h)) {
          if (a.revoked) {
            this.audit({ app: a.name, operation: 'authenticate', outcome: 'failure', errorCode: 'SOC_ERR_KMS_UNAUTHENTICATED', ...(ip ? { ip } : {}) });
            throw new KmsError('SOC_ERR_KMS_UNAUTHENTICATED', 'the application token is revoked');
          }
          // Only verified tokens are remembered, so guessing cannot grow the map; the bound is for
          // a deployment that keeps issuing new tokens.
          if (this.verifiedTokens.size >= VERIFIED_TOKENS_MAX) this.verifiedTokens.clear();
          this.verifiedTokens.set(token, a);
          return ip ? { app: a.name, ip } : { app: a.name };
        }
      }
    }
    this.audit({ app: '(unknown)', operation: 'authenticate', outcome: 'failure', errorCode: 'SOC_ERR_KMS_UNAUTHENTICATED', ...(ip ? { ip } : {}) });
    throw new KmsError('SOC_ERR_KMS_UNAUTHENTICATED', 'a valid application token is required (Authorization: Bearer …)');
  }

  private authorize(caller: KmsCaller, op: KmsOperation, key: string | undefined): void {
    if (caller === this.root) return;
    const a = this.apps.get(caller.app);
    if (!a || a.revoked) throw new KmsError('SOC_ERR_KMS_UNAUTHENTICATED', 'the application token is revoked');
    const opOk = a.ops.includes('*') || a.ops.includes(op);
    const keyOk = key === undefined ? KEYLESS.has(op) || a.keys.includes('*') : a.keys.some((p) => (p.endsWith('*') ? key.startsWith(p.slice(0, -1)) : p === key));
    if (!opOk || !keyOk) throw new KmsError('SOC_ERR_KMS_DENIED', `application ${caller.app} may not ${op}${key ? ` with key ${key}` : ''}`);
  }

  // ---- audit ----------------------------------------------------------------------------

  private audit(r: KmsAuditRecord): void {
    this.onAudit?.(r);
    if (!this.sink) return;
    const ms = this.now();
    if (ms !== this.auditMs) {
      this.auditMs = ms;
      this.auditTs = new Date(ms).toISOString();
    }
    const ts = this.auditTs;
    const ev: EcsEvent = {
      id: this.auditIdPrefix + (this.auditSeq++).toString(16).padStart(16, '0'),
      '@timestamp': ts,
      message: `Xiangan KMS ${r.operation}${r.key ? ` ${r.key}${r.version ? ` v${r.version}` : ''}` : ''} by ${r.app}: ${r.outcome}${r.errorCode ? ` (${r.errorCode})` : ''}`,
      observer: { product: 'Xiangan', vendor: 'Xiangan', type: 'kms' },
      event: {
        ingested: ts,
        provider: 'xiangan-kms',
        kind: 'event',
        module: 'xiangan',
        dataset: 'xiangan.kms',
        category: r.operation === 'authenticate' || r.operation === 'verify' || r.operation === 'hmac-verify' ? ['authentication'] : ['configuration'],
        action: actionName(r.operation, r.key ? this.keys.get(r.key)?.meta.type : undefined),
        outcome: r.outcome,
        ...(r.errorCode ? { reason: r.errorCode } : {}),
      },
      service: { name: 'xiangan-kms' },
      user: { name: r.app },
      ...(r.ip ? { client: { ip: r.ip } } : {}),
      xiangan: { kms: { app: r.app, operation: r.operation, ...(r.key ? { key: r.key } : {}), ...(r.version ? { version: r.version } : {}), ...(r.size !== undefined ? { size: r.size } : {}), ...(r.errorCode ? { error_code: r.errorCode } : {}) } },
    } as unknown as EcsEvent;
    this.pending.push(ev);
    // One append (one buffer transaction) per event-loop turn for every call the turn served: one
    // per call would make the audit trail, not the cryptography, the limit on throughput, while a
    // turn is short enough for the HTTP routes to hold each answer until its event is committed
    // (see auditCommitted).
    if (!this.flushing) this.flushing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
  }

  private async flush(): Promise<KmsError | undefined> {
    const batch = this.pending;
    this.pending = [];
    this.flushing = undefined;
    if (batch.length === 0 || !this.sink) return undefined;
    const sink = this.sink as EventSink & { flush?: () => void };
    const p = sink.append(batch).then(
      () => undefined,
      (e: unknown) => {
        this.auditDropped += batch.length;
        return new KmsError('SOC_ERR_KMS_AUDIT', `the audit events could not be appended to the SOC buffer: ${(e as Error).message}`, { cause: e });
      },
    );
    // The SOC's DurableBuffer groups appends for a few milliseconds before it commits; the batch
    // is already one turn's worth, so commit it now rather than add that wait to every answer.
    sink.flush?.();
    this.inFlight.add(p);
    const failure = await p;
    this.inFlight.delete(p);
    return failure;
  }

  /**
   * Resolves when every audit event recorded so far is committed to the sink (the SOC's durable
   * buffer: a resolved append survives a crash of the process); rejects with
   * `SOC_ERR_KMS_AUDIT` when the sink refused them. The HTTP routes wait for it before they answer,
   * so a caller never holds a result whose audit event could still be lost — the durability point
   * of the audit trail is the buffer commit, before the response (as Vault refuses to answer when
   * it cannot write its audit log). Events recorded later are not waited for.
   */
  auditCommitted(): Promise<void> {
    const wait = this.flushing ?? (this.inFlight.size > 0 ? Promise.all([...this.inFlight]).then((fs) => fs.find((f) => f !== undefined)) : undefined);
    if (!wait) return Promise.resolve();
    return wait.then((f) => {
      if (f) throw f;
    });
  }

  /** Wait until queued audit events reached the sink (refusals are counted in {@link auditDropped}). */
  async drainAudit(): Promise<void> {
    while (this.flushing || this.inFlight.size > 0) await (this.flushing ?? Promise.all(this.inFlight));
  }

  /** Run one operation: authorize, execute, audit with the outcome (and the typed error code on failure). */
  private run<T>(caller: KmsCaller, op: KmsOperation, key: string | undefined, size: number | undefined, fn: () => { value: T; version?: number }): T {
    try {
      this.authorize(caller, op, key);
      const { value, version } = fn();
      this.succeeded(caller, op, key, size, version);
      return value;
    } catch (e) {
      throw this.failed(caller, op, key, size, e);
    }
  }

  /** {@link run} for an operation whose work is asynchronous (a worker-pool signature). */
  private async runAsync<T>(caller: KmsCaller, op: KmsOperation, key: string | undefined, size: number | undefined, fn: () => Promise<{ value: T; version?: number }>): Promise<T> {
    try {
      this.authorize(caller, op, key);
      const { value, version } = await fn();
      this.succeeded(caller, op, key, size, version);
      return value;
    } catch (e) {
      throw this.failed(caller, op, key, size, e);
    }
  }

  private succeeded(caller: KmsCaller, op: KmsOperation, key: string | undefined, size: number | undefined, version: number | undefined): void {
    this.audit({ app: caller.app, operation: op, outcome: 'success', ...(key ? { key } : {}), ...(version ? { version } : {}), ...(size !== undefined ? { size } : {}), ...(caller.ip ? { ip: caller.ip } : {}) });
  }

  /** Audit a failed call and return the error to throw (misuse becomes `SOC_ERR_KMS_REQUEST`). */
  private failed(caller: KmsCaller, op: KmsOperation, key: string | undefined, size: number | undefined, e: unknown): unknown {
    const code = e instanceof VerifyFailed ? 'invalid' : e instanceof KmsError || e instanceof CryptoError ? e.code : e instanceof TypeError || e instanceof RangeError ? 'SOC_ERR_KMS_REQUEST' : 'SOC_ERR_KMS_STORE';
    this.audit({ app: caller.app, operation: op, outcome: 'failure', errorCode: code, ...(key ? { key } : {}), ...(size !== undefined ? { size } : {}), ...(caller.ip ? { ip: caller.ip } : {}) });
    if (e instanceof TypeError || e instanceof RangeError) return new KmsError('SOC_ERR_KMS_REQUEST', e.message, { cause: e });
    return e;
  }

  // ---- key lifecycle --------------------------------------------------------------------

  private key(name: string): LoadedKey {
    const k = this.keys.get(name);
    if (!k) throw new KmsError('SOC_ERR_KMS_KEY_NOT_FOUND', `no key ${name}`);
    if (k.meta.destroyAt !== undefined && this.now() >= k.meta.destroyAt) {
      // The destruction delay has passed: erase the material now (GM/T 0054 §7.3.6 key destruction).
      this.store.deleteKey(name);
      for (const v of k.versions.values()) {
        v.material.fill(0);
        v.priv?.destroy();
        this.pool?.forgetKey(poolId(name, v.version));
      }
      this.keys.delete(name);
      throw new KmsError('SOC_ERR_KMS_KEY_NOT_FOUND', `key ${name} was destroyed`);
    }
    return k;
  }

  private usable(name: string, types: readonly KmsKeyType[]): LoadedKey {
    const k = this.key(name);
    if (!types.includes(k.meta.type)) throw new KmsError('SOC_ERR_KMS_KEY_TYPE', `key ${name} is ${k.meta.type}; this operation needs ${types.join(' or ')}`);
    if (k.meta.disabled) throw new KmsError('SOC_ERR_KMS_KEY_STATE', `key ${name} is disabled`);
    if (k.meta.destroyAt !== undefined) throw new KmsError('SOC_ERR_KMS_KEY_STATE', `key ${name} is scheduled for destruction`);
    return k;
  }

  private version(k: LoadedKey, v: number | undefined, forDecrypt: boolean): LoadedVersion {
    const n = v ?? k.meta.latestVersion;
    const lv = k.versions.get(n);
    if (!lv) throw new KmsError(forDecrypt ? 'SOC_ERR_KMS_CIPHERTEXT' : 'SOC_ERR_KMS_KEY_NOT_FOUND', `key ${k.meta.name} has no version ${n}`);
    if (forDecrypt && n < k.meta.minDecryptionVersion) {
      throw new KmsError('SOC_ERR_KMS_KEY_STATE', `key ${k.meta.name} v${n} is below the minimum decryption version ${k.meta.minDecryptionVersion}`);
    }
    return lv;
  }

  private persistVersion(k: LoadedKey, version: number, material: Uint8Array): LoadedVersion {
    const lv = this.expand(k.meta.type, version, material);
    this.store.addVersion(k.meta, {
      name: k.meta.name,
      version,
      wrapped: gcmWrap(this.store.kek, material, materialAad(k.meta.name, version)),
      publicKey: lv.pub ? lv.pub.toBytes() : null,
      createdAt: this.now(),
    });
    k.versions.set(version, lv);
    this.poolKey(k.meta, lv);
    return lv;
  }

  /** Create a key (version 1). */
  createKey(caller: KmsCaller, name: string, type: KmsKeyType, opts: { exportable?: boolean; material?: Uint8Array; certificateSubject?: string } = {}): KmsKeyInfo {
    return this.run(caller, opts.material ? 'import' : 'create', name, undefined, () => {
      checkName('key', name);
      if (!KMS_KEY_TYPES.includes(type)) throw new KmsError('SOC_ERR_KMS_REQUEST', `type must be one of ${KMS_KEY_TYPES.join(', ')}`);
      if (this.keys.has(name)) throw new KmsError('SOC_ERR_KMS_KEY_EXISTS', `key ${name} exists`);
      const material = opts.material ? opts.material.slice() : newMaterial(type);
      if (material.length !== materialLength(type)) throw new KmsError('SOC_ERR_KMS_REQUEST', `${type} key material is ${materialLength(type)} bytes`);
      const meta: KmsKeyMeta = { name, type, exportable: opts.exportable === true, latestVersion: 1, minDecryptionVersion: 1, disabled: false, createdAt: this.now() };
      const k: LoadedKey = { meta, versions: new Map() };
      if (opts.certificateSubject !== undefined) this.checkIssuable(type);
      const lv = this.persistVersion(k, 1, material);
      this.keys.set(name, k);
      if (opts.certificateSubject !== undefined) this.issueFor(caller, k, lv, opts.certificateSubject);
      auditLog.record({ actor: caller.app, action: opts.material ? 'kms.key.import' : 'kms.key.create', target: name, outcome: 'success', details: { type } });
      return { value: this.info(k), version: 1 };
    });
  }

  /** New version; old versions still decrypt and verify. */
  rotateKey(caller: KmsCaller, name: string): KmsKeyInfo {
    return this.run(caller, 'rotate', name, undefined, () => {
      const k = this.key(name);
      if (k.meta.destroyAt !== undefined) throw new KmsError('SOC_ERR_KMS_KEY_STATE', `key ${name} is scheduled for destruction`);
      // A key whose latest version was certified by our CA gets the new version certified too,
      // under the same subject, so a rotation never leaves signers without a certificate.
      const prev = k.versions.get(k.meta.latestVersion)?.cert;
      const reissue = this.ca && prev && this.ca.chain.some((c) => c.subjectName === prev.issuerName) ? prev.subject : undefined;
      k.meta.latestVersion += 1;
      const lv = this.persistVersion(k, k.meta.latestVersion, newMaterial(k.meta.type));
      if (reissue !== undefined) this.issueFor(caller, k, lv, reissue);
      auditLog.record({ actor: caller.app, action: 'kms.key.rotate', target: name, outcome: 'success', details: { version: k.meta.latestVersion } });
      return { value: this.info(k), version: k.meta.latestVersion };
    });
  }

  /** Change the minimum decryption version, disable/enable, schedule or cancel destruction. */
  configureKey(caller: KmsCaller, name: string, change: { minDecryptionVersion?: number; disabled?: boolean; destroyAfterMs?: number | null }): KmsKeyInfo {
    return this.run(caller, change.destroyAfterMs != null ? 'destroy' : 'configure', name, undefined, () => {
      const k = this.key(name);
      if (change.minDecryptionVersion !== undefined) {
        const v = change.minDecryptionVersion;
        if (!Number.isInteger(v) || v < 1 || v > k.meta.latestVersion) throw new KmsError('SOC_ERR_KMS_REQUEST', `minDecryptionVersion must be 1..${k.meta.latestVersion}`);
        k.meta.minDecryptionVersion = v;
      }
      if (change.disabled !== undefined) k.meta.disabled = change.disabled;
      if (change.destroyAfterMs === null) delete k.meta.destroyAt;
      else if (change.destroyAfterMs !== undefined) {
        if (!Number.isInteger(change.destroyAfterMs) || change.destroyAfterMs < 0) throw new KmsError('SOC_ERR_KMS_REQUEST', 'destroyAfterMs must be a non-negative integer');
        k.meta.destroyAt = this.now() + change.destroyAfterMs;
      }
      this.store.putKey(k.meta);
      auditLog.record({ actor: caller.app, action: 'kms.key.configure', target: name, outcome: 'success', details: { ...change } });
      return { value: this.info(k) };
    });
  }

  /** Metadata and public keys of one key. */
  getKey(caller: KmsCaller, name: string): KmsKeyInfo {
    return this.run(caller, 'read', name, undefined, () => ({ value: this.info(this.key(name)) }));
  }

  /** Names and metadata of the keys the caller may read. */
  listKeys(caller: KmsCaller): KmsKeyInfo[] {
    const out: KmsKeyInfo[] = [];
    for (const name of [...this.keys.keys()].sort()) {
      try {
        this.authorize(caller, 'read', name);
        out.push(this.info(this.key(name)));
      } catch (e) {
        if (!(e instanceof KmsError)) throw e;
      }
    }
    return out;
  }

  private info(k: LoadedKey): KmsKeyInfo {
    const info: KmsKeyInfo = { ...k.meta, versions: [...k.versions.keys()].sort((a, b) => a - b) };
    if (k.meta.type === 'sm2-sign' || k.meta.type === 'sm2-encrypt') {
      info.publicKeys = {};
      for (const v of k.versions.values()) {
        info.publicKeys[v.version] = sm2PublicKeyToPem(v.pub!);
        if (v.cert) (info.certificates ??= {})[v.version] = v.cert.toPem();
      }
    }
    return info;
  }

  // ---- operations -----------------------------------------------------------------------

  /** SM2 signature with the latest version; envelope `xiangan:v<N>:<base64 signature>`. */
  sign(caller: KmsCaller, name: string, msg: Uint8Array, opts: KmsSignOptions = {}): { signature: string; version: number; certificate?: string } {
    return this.run(caller, 'sign', name, msg.length, () => {
      const v = this.version(this.usable(name, ['sm2-sign']), undefined, false);
      const sig = sm2Sign(v.priv!, msg, { ...(opts.id ? { id: opts.id } : {}), format: opts.format ?? 'der' });
      return { value: this.signed(v, sig), version: v.version };
    });
  }

  /** A signature's answer: the envelope, and the version's certificate when it has one. */
  private signed(v: LoadedVersion, sig: Uint8Array): { signature: string; version: number; certificate?: string } {
    return { signature: envelope(v.version, sig), version: v.version, ...(v.cert ? { certificate: this.pem(v.cert) } : {}) };
  }

  /** PEM of a certificate, encoded once (every signature answer carries it). */
  private pem(cert: X509Certificate): string {
    let p = this.pems.get(cert);
    if (p === undefined) this.pems.set(cert, (p = cert.toPem()));
    return p;
  }

  /** {@link sign} on the worker pool when the service has one (same checks, audit and result). */
  async signAsync(caller: KmsCaller, name: string, msg: Uint8Array, opts: KmsSignOptions = {}): Promise<{ signature: string; version: number; certificate?: string }> {
    if (!this.pool) return this.sign(caller, name, msg, opts);
    const pool = this.pool;
    return this.runAsync(caller, 'sign', name, msg.length, async () => {
      const v = this.version(this.usable(name, ['sm2-sign']), undefined, false);
      const sig = await pool.sign(poolId(name, v.version), msg, { ...(opts.id ? { id: opts.id } : {}), format: opts.format ?? 'der' });
      return { value: this.signed(v, sig), version: v.version };
    });
  }

  /** {@link verify} on the worker pool when the service has one. */
  async verifyAsync(caller: KmsCaller, name: string, msg: Uint8Array, signature: string, opts: KmsSignOptions = {}): Promise<{ valid: boolean; version: number }> {
    if (!this.pool) return this.verify(caller, name, msg, signature, opts);
    const pool = this.pool;
    return this.runAsync(caller, 'verify', name, msg.length, async () => {
      const { version, bytes } = parseEnvelope(signature);
      this.version(this.usable(name, ['sm2-sign']), version, false);
      const valid = await pool.verify(poolId(name, version), msg, bytes, { ...(opts.id ? { id: opts.id } : {}), format: opts.format ?? 'der' });
      if (!valid) throw new VerifyFailed({ valid, version });
      return { value: { valid, version }, version };
    });
  }

  /** Verify a signature envelope (its version picks the public key). */
  verify(caller: KmsCaller, name: string, msg: Uint8Array, signature: string, opts: KmsSignOptions = {}): { valid: boolean; version: number } {
    return this.run(caller, 'verify', name, msg.length, () => {
      const { version, bytes } = parseEnvelope(signature);
      const v = this.version(this.usable(name, ['sm2-sign']), version, false);
      const valid = sm2Verify(v.pub!, msg, bytes, { ...(opts.id ? { id: opts.id } : {}), format: opts.format ?? 'der' });
      // A false result is audited as a failure so the pack's verification-failure rules see it.
      if (!valid) throw new VerifyFailed({ valid, version });
      return { value: { valid, version }, version };
    });
  }

  /** Encrypt: SM4-GCM (random 96-bit nonce, optional AAD) or SM2 (either component order). */
  encrypt(caller: KmsCaller, name: string, plaintext: Uint8Array, opts: { aad?: Uint8Array; order?: Sm2CipherOrder } = {}): { ciphertext: string; version: number } {
    return this.run(caller, 'encrypt', name, plaintext.length, () => {
      const k = this.usable(name, ['sm4', 'sm2-encrypt']);
      const v = this.version(k, undefined, false);
      return { value: { ciphertext: this.encryptWith(k, v, plaintext, opts), version: v.version }, version: v.version };
    });
  }

  private encryptWith(k: LoadedKey, v: LoadedVersion, pt: Uint8Array, opts: { aad?: Uint8Array; order?: Sm2CipherOrder }): string {
    if (k.meta.type === 'sm2-encrypt') return envelope(v.version, sm2Encrypt(v.pub!, pt, { order: opts.order ?? 'c1c3c2' }));
    const nonce = this.random.bytes(12);
    return envelope(v.version, concatBytes(nonce, sm4GcmEncrypt(v.material, nonce, pt, opts.aad ? { aad: opts.aad } : {})));
  }

  private decryptWith(k: LoadedKey, ciphertext: string, opts: { aad?: Uint8Array; order?: Sm2CipherOrder }): { plaintext: Uint8Array; version: number } {
    const { version, bytes } = parseEnvelope(ciphertext);
    const v = this.version(k, version, true);
    try {
      if (k.meta.type === 'sm2-encrypt') return { plaintext: sm2Decrypt(v.priv!, bytes, { order: opts.order ?? 'c1c3c2' }), version };
      if (bytes.length < 12 + 16) throw new KmsError('SOC_ERR_KMS_CIPHERTEXT', 'SM4-GCM ciphertext shorter than nonce and tag');
      return { plaintext: sm4GcmDecrypt(v.material, bytes.subarray(0, 12), bytes.subarray(12), opts.aad ? { aad: opts.aad } : {}), version };
    } catch (e) {
      if (e instanceof CryptoError) throw new KmsError('SOC_ERR_KMS_CIPHERTEXT', `ciphertext fails authentication under ${k.meta.name} v${version}`, { cause: e });
      throw e;
    }
  }

  /** Decrypt an envelope made by {@link encrypt} (any version ≥ the minimum decryption version). */
  decrypt(caller: KmsCaller, name: string, ciphertext: string, opts: { aad?: Uint8Array; order?: Sm2CipherOrder } = {}): { plaintext: Uint8Array; version: number } {
    return this.run(caller, 'decrypt', name, ciphertext.length, () => {
      const r = this.decryptWith(this.usable(name, ['sm4', 'sm2-encrypt']), ciphertext, opts);
      return { value: r, version: r.version };
    });
  }

  /** Decrypt under the old version and encrypt under the newest, without returning the plaintext. */
  rewrap(caller: KmsCaller, name: string, ciphertext: string, opts: { aad?: Uint8Array; order?: Sm2CipherOrder } = {}): { ciphertext: string; version: number } {
    return this.run(caller, 'rewrap', name, ciphertext.length, () => {
      const k = this.usable(name, ['sm4', 'sm2-encrypt']);
      const { plaintext } = this.decryptWith(k, ciphertext, opts);
      const v = this.version(k, undefined, false);
      const out = this.encryptWith(k, v, plaintext, opts);
      plaintext.fill(0);
      return { value: { ciphertext: out, version: v.version }, version: v.version };
    });
  }

  /** A fresh data key: plaintext (for the caller's envelope encryption) and the same key wrapped under `name`. */
  dataKey(caller: KmsCaller, name: string, bytes = 16): { plaintext: Uint8Array; ciphertext: string; version: number } {
    return this.run(caller, 'datakey', name, bytes, () => {
      if (!Number.isInteger(bytes) || bytes < 16 || bytes > 64) throw new KmsError('SOC_ERR_KMS_REQUEST', 'data key size must be 16..64 bytes');
      const k = this.usable(name, ['sm4', 'sm2-encrypt']);
      const v = this.version(k, undefined, false);
      const plaintext = this.random.bytes(bytes);
      return { value: { plaintext, ciphertext: this.encryptWith(k, v, plaintext, {}), version: v.version }, version: v.version };
    });
  }

  /** The pool, when an SM4-GCM job of `bytes` bytes under key `name` is worth sending there (see {@link SM4_RING_MIN_BYTES}). */
  private sm4Pool(name: string, bytes: number): Sm2Pool | undefined {
    return bytes >= SM4_RING_MIN_BYTES && this.keys.get(name)?.meta.type === 'sm4' ? this.pool : undefined;
  }

  /**
   * {@link encrypt}, for an SM4 key on the worker pool when the service has one and the plaintext
   * is long enough to pay for the trip (same checks, audit and result); otherwise here.
   */
  async encryptAsync(caller: KmsCaller, name: string, plaintext: Uint8Array, opts: { aad?: Uint8Array; order?: Sm2CipherOrder } = {}): Promise<{ ciphertext: string; version: number }> {
    const pool = this.sm4Pool(name, plaintext.length);
    if (!pool) return this.encrypt(caller, name, plaintext, opts);
    return this.runAsync(caller, 'encrypt', name, plaintext.length, async () => {
      const v = this.version(this.usable(name, ['sm4']), undefined, false);
      const sealed = await pool.gcmEncrypt(poolId(name, v.version), plaintext, opts.aad);
      return { value: { ciphertext: envelope(v.version, sealed), version: v.version }, version: v.version };
    });
  }

  /** {@link decrypt} on the worker pool for an SM4 key when the service has one (same checks, audit and result). */
  async decryptAsync(caller: KmsCaller, name: string, ciphertext: string, opts: { aad?: Uint8Array; order?: Sm2CipherOrder } = {}): Promise<{ plaintext: Uint8Array; version: number }> {
    // Base64 is 4 characters per 3 bytes: the length of the envelope bounds the ciphertext's.
    const pool = this.sm4Pool(name, (ciphertext.length * 3) >> 2);
    if (!pool) return this.decrypt(caller, name, ciphertext, opts);
    return this.runAsync(caller, 'decrypt', name, ciphertext.length, async () => {
      const k = this.usable(name, ['sm4']);
      const { version, bytes } = parseEnvelope(ciphertext);
      this.version(k, version, true);
      if (bytes.length < 12 + 16) throw new KmsError('SOC_ERR_KMS_CIPHERTEXT', 'SM4-GCM ciphertext shorter than nonce and tag');
      try {
        const plaintext = await pool.gcmDecrypt(poolId(name, version), bytes, opts.aad);
        return { value: { plaintext, version }, version };
      } catch (e) {
        if (e instanceof CryptoError) throw new KmsError('SOC_ERR_KMS_CIPHERTEXT', `ciphertext fails authentication under ${name} v${version}`, { cause: e });
        throw e;
      }
    });
  }


  /** HMAC-SM3 (RFC 2104 over GB/T 32905) with the latest version; envelope output. */
  hmac(caller: KmsCaller, name: string, msg: Uint8Array): { mac: string; version: number } {
    return this.run(caller, 'hmac', name, msg.length, () => {
      const v = this.version(this.usable(name, ['hmac-sm3']), undefined, false);
      return { value: { mac: envelope(v.version, hmacSm3(v.material, msg)), version: v.version }, version: v.version };
    });
  }

  /** Check an HMAC envelope in constant time. */
  hmacVerify(caller: KmsCaller, name: string, msg: Uint8Array, mac: string): { valid: boolean; version: number } {
    return this.run(caller, 'hmac-verify', name, msg.length, () => {
      const { version, bytes } = parseEnvelope(mac);
      const v = this.version(this.usable(name, ['hmac-sm3']), version, false);
      const want = hmacSm3(v.material, msg);
      const valid = bytes.length === want.length && timingSafeEqual(bytes, want);
      if (!valid) throw new VerifyFailed({ valid, version });
      return { value: { valid, version }, version };
    });
  }

  /** SM3 digest (GB/T 32905); needs no key but is audited like every call. */
  digest(caller: KmsCaller, msg: Uint8Array): Uint8Array {
    return this.run(caller, 'digest', undefined, msg.length, () => ({ value: sm3(msg) }));
  }

  /**
   * Export every version of an exportable key, wrapped under an SM2 public key (SM2 encryption,
   * C1C3C2) or under another managed SM4 key (SM4-GCM envelope); never in clear.
   */
  exportKey(caller: KmsCaller, name: string, wrapping: { publicKey: string } | { key: string }): { type: KmsKeyType; versions: Array<{ version: number; wrapped: string }> } {
    return this.run(caller, 'export', name, undefined, () => {
      const k = this.key(name);
      if (!k.meta.exportable) throw new KmsError('SOC_ERR_KMS_NOT_EXPORTABLE', `key ${name} is not exportable`);
      let wrap: (m: Uint8Array) => string;
      if ('publicKey' in wrapping) {
        let pub: Sm2PublicKey;
        try {
          pub = importSm2PublicKey(wrapping.publicKey);
        } catch (e) {
          throw new KmsError('SOC_ERR_KMS_REQUEST', `publicKey: ${(e as Error).message}`, { cause: e });
        }
        wrap = (m) => bytesToBase64(sm2Encrypt(pub, m));
      } else {
        this.authorize(caller, 'encrypt', wrapping.key);
        const wk = this.usable(wrapping.key, ['sm4']);
        const wv = this.version(wk, undefined, false);
        wrap = (m) => this.encryptWith(wk, wv, m, { aad: utf8ToBytes(`xiangan-kms export|${name}`) });
      }
      const versions = [...k.versions.values()].map((v) => ({ version: v.version, wrapped: wrap(v.material) }));
      auditLog.record({ actor: caller.app, action: 'kms.key.export', target: name, outcome: 'success' });
      return { value: { type: k.meta.type, versions } };
    });
  }

  /** Import key material that arrives wrapped under a managed key (an envelope of `wrappingKey`). */
  importKey(caller: KmsCaller, name: string, type: KmsKeyType, wrappingKey: string, wrapped: string, opts: { exportable?: boolean; aad?: Uint8Array } = {}): KmsKeyInfo {
    this.authorize(caller, 'decrypt', wrappingKey);
    const { plaintext } = this.decryptWith(this.usable(wrappingKey, ['sm4', 'sm2-encrypt']), wrapped, opts.aad ? { aad: opts.aad } : {});
    try {
      return this.createKey(caller, name, type, { material: plaintext, ...(opts.exportable !== undefined ? { exportable: opts.exportable } : {}) });
    } finally {
      plaintext.fill(0);
    }
  }

  // ---- PKI: certificates, CMS, path validation -------------------------------------------

  /** A PKCS#10 request (PEM) for the latest version of an SM2 key, signed by that key, for the SOC CA. */
  certificateRequest(caller: KmsCaller, name: string, subject: NameInput): string {
    return this.run(caller, 'certificate', name, undefined, () => {
      const v = this.version(this.usable(name, ['sm2-sign', 'sm2-encrypt']), undefined, false);
      return { value: createCsr({ subject, signer: sm2Signer(v.priv!) }).toPem(), version: v.version };
    });
  }

  private checkIssuable(type: KmsKeyType): void {
    if (!this.ca) throw new KmsError('SOC_ERR_KMS_REQUEST', 'no certificate authority is configured for automatic issuance');
    if (type !== 'sm2-sign' && type !== 'sm2-encrypt') throw new KmsError('SOC_ERR_KMS_KEY_TYPE', 'only SM2 keys get certificates');
  }

  /** Issue a certificate from the configured CA for one version (profile by key type) and attach it. */
  private issueFor(caller: KmsCaller, k: LoadedKey, v: LoadedVersion, subject: NameInput): void {
    this.checkIssuable(k.meta.type);
    const csr = pkiCall(() => createCsr({ subject, signer: sm2Signer(v.priv!) }));
    const cert = pkiCall(() => this.ca!.issue(csr, { profile: k.meta.type === 'sm2-sign' ? 'sign' : 'enc' }));
    this.store.putCertificate(k.meta.name, v.version, cert.der);
    v.cert = cert;
    auditLog.record({ actor: caller.app, action: 'kms.key.certificate', target: k.meta.name, outcome: 'success', details: { version: v.version, serial: cert.serialHex, subject: cert.subjectName, issuer: cert.issuerName } });
  }

  /** Issue a certificate for the latest version of an SM2 key from the configured CA. */
  issueCertificate(caller: KmsCaller, name: string, subject: string): { version: number; certificate: string; chain: string[] } {
    return this.run(caller, 'certificate', name, undefined, () => {
      const k = this.usable(name, ['sm2-sign', 'sm2-encrypt']);
      const v = this.version(k, undefined, false);
      this.issueFor(caller, k, v, subject);
      return { value: { version: v.version, certificate: v.cert!.toPem(), chain: this.ca!.chain.map((c) => c.toPem()) }, version: v.version };
    });
  }

  /** Attach a certificate to the key version whose public key it certifies. */
  setCertificate(caller: KmsCaller, name: string, certificate: string | Uint8Array): { version: number } {
    return this.run(caller, 'certificate', name, undefined, () => {
      const cert = pkiCall(() => X509Certificate.parse(certificate));
      const k = this.usable(name, ['sm2-sign', 'sm2-encrypt']);
      for (const v of k.versions.values()) {
        if (v.pub && equalSpki(cert, v.pub)) {
          this.store.putCertificate(name, v.version, cert.der);
          v.cert = cert;
          auditLog.record({ actor: caller.app, action: 'kms.key.certificate', target: name, outcome: 'success', details: { version: v.version, serial: cert.serialHex, subject: cert.subjectName } });
          return { value: { version: v.version }, version: v.version };
        }
      }
      throw new KmsError('SOC_ERR_KMS_REQUEST', `the certificate's public key is no version of key ${name}`);
    });
  }

  /** CMS SignedData (GM/T 0010 / RFC 5652) with the latest version and its certificate; DER. */
  cmsSign(caller: KmsCaller, name: string, content: Uint8Array, opts: { detached?: boolean } = {}): { cms: Uint8Array; version: number } {
    return this.run(caller, 'cms-sign', name, content.length, () => {
      const v = this.version(this.usable(name, ['sm2-sign']), undefined, false);
      if (!v.cert) throw new KmsError('SOC_ERR_KMS_KEY_STATE', `key ${name} v${v.version} has no certificate; attach one first`);
      // With our CA's certificate, carry its intermediates so a verifier needs only the root.
      const chain = this.ca && this.ca.chain[0]?.subjectName === v.cert.issuerName ? this.ca.chain.slice(0, -1) : [];
      const cms = pkiCall(() => cmsSign({ content, certificate: v.cert!, key: v.priv!, ...(chain.length ? { extraCertificates: [...chain] } : {}), ...(opts.detached ? { detached: true } : {}) }));
      return { value: { cms, version: v.version }, version: v.version };
    });
  }

  /** Verify CMS SignedData; with `trustAnchors` each signer's certificate path is validated too. */
  cmsVerify(caller: KmsCaller, cms: Uint8Array, opts: { content?: Uint8Array; trustAnchors?: string[] } = {}): { valid: boolean; content: Uint8Array; signers: Array<{ subject?: string; ok: boolean; code?: string }> } {
    return this.run(caller, 'cms-verify', undefined, cms.length, () => {
      const r = pkiCall(() => cmsVerify(cms, opts.content ? { content: opts.content } : {}));
      const anchors = opts.trustAnchors?.map((a) => pkiCall(() => X509Certificate.parse(a)));
      const signers = r.signers.map((s) => {
        let ok = s.ok;
        let code: string | undefined = s.code;
        if (ok && anchors && s.certificate) {
          const p = validatePath(s.certificate, { trustAnchors: anchors, intermediates: r.certificates, time: new Date(this.now()), purpose: 'any' });
          if (!p.ok) {
            ok = false;
            code = p.code;
          }
        }
        return { ...(s.certificate ? { subject: s.certificate.subjectName } : {}), ok, ...(code ? { code } : {}) };
      });
      const valid = r.ok && signers.every((s) => s.ok);
      return { value: { valid, content: r.content, signers } };
    });
  }

  /** CMS EnvelopedData to recipient certificates (SM4-CBC content key, SM2 key transport). */
  cmsEnvelope(caller: KmsCaller, content: Uint8Array, recipients: string[]): Uint8Array {
    return this.run(caller, 'cms-encrypt', undefined, content.length, () => ({
      value: pkiCall(() => cmsEncrypt({ content, recipients: recipients.map((r) => X509Certificate.parse(r)) })),
    }));
  }

  /** Open CMS EnvelopedData addressed to a managed sm2-encrypt key that has a certificate. */
  cmsOpen(caller: KmsCaller, name: string, cms: Uint8Array): { content: Uint8Array; version: number } {
    return this.run(caller, 'cms-decrypt', name, cms.length, () => {
      const k = this.usable(name, ['sm2-encrypt']);
      for (const v of [...k.versions.values()].reverse()) {
        if (!v.cert || v.version < k.meta.minDecryptionVersion) continue;
        try {
          return { value: { content: cmsDecrypt(cms, { certificate: v.cert, key: v.priv! }), version: v.version }, version: v.version };
        } catch (e) {
          if (!(e instanceof PkiError) && !(e instanceof CryptoError)) throw e;
        }
      }
      throw new KmsError('SOC_ERR_KMS_CIPHERTEXT', `the CMS message is not addressed to a certified version of ${name}, or fails to decrypt`);
    });
  }

  /**
   * Certificate path validation (RFC 5280 §6) with CRLs and OCSP responses supplied by the
   * caller, as a signing/verification server offers it.
   */
  validateCertificate(caller: KmsCaller, req: KmsValidateRequest): KmsValidateResult {
    return this.run(caller, 'validate', undefined, undefined, () => ({ value: this.decide(this.validationInput(req), []).result }));
  }

  /**
   * {@link validateCertificate}, and for every certificate of the path that names an OCSP
   * responder (authorityInfoAccess) ask that responder first (RFC 6960, with a nonce), then decide
   * with its answers. Responders are only taken from certificates whose signatures already chain
   * to the caller's trust anchors, so a request cannot make the service fetch arbitrary URLs.
   */
  async validateCertificateOnline(caller: KmsCaller, req: KmsValidateRequest): Promise<KmsValidateResult> {
    let input: ValidationInput;
    try {
      this.authorize(caller, 'validate', undefined);
      input = this.validationInput(req);
    } catch (e) {
      throw this.failed(caller, 'validate', undefined, undefined, e);
    }
    // The same parsed inputs serve both passes: the path first (no revocation), then the decision.
    const first = pkiCall(() => validatePath(input.leaf, { ...input.options, revocation: 'none' }));
    const fetched = first.ok ? await fetchOcspForPath(first.path, { timeoutMs: this.ocspTimeoutMs }) : { responses: [], report: [] };
    return this.run(caller, 'validate', undefined, undefined, () => ({ value: { ...this.decide(input, fetched.responses).result, ocsp: fetched.report } }));
  }

  /** Check and parse a validation request once. */
  private validationInput(req: KmsValidateRequest): ValidationInput {
    if (req.purpose !== undefined && !PURPOSES.includes(req.purpose)) throw new KmsError('SOC_ERR_KMS_REQUEST', `purpose must be one of ${PURPOSES.join(', ')}`);
    if (req.revocation !== undefined && !['none', 'available', 'required'].includes(req.revocation)) throw new KmsError('SOC_ERR_KMS_REQUEST', "revocation must be 'none', 'available' or 'required'");
    return pkiCall(() => ({
      leaf: X509Certificate.parse(req.certificate),
      stapled: (req.ocsp ?? []).map((r, i) => parseOcspResponse(b64(`ocsp[${i}]`, r))),
      options: {
        trustAnchors: req.trustAnchors.map((a) => X509Certificate.parse(a)),
        intermediates: (req.intermediates ?? []).map((a) => X509Certificate.parse(a)),
        crls: (req.crls ?? []).map((c) => CertificateRevocationList.parse(c)),
        time: new Date(this.now()),
        ...(req.purpose ? { purpose: req.purpose } : {}),
        ...(req.revocation ? { revocation: req.revocation } : {}),
      },
    }));
  }

  private decide(input: ValidationInput, extraOcsp: OcspResponseInfo[]): { result: KmsValidateResult } {
    const r = pkiCall(() => validatePath(input.leaf, { ...input.options, ocsp: [...input.stapled, ...extraOcsp] }));
    return { result: r.ok ? { valid: true, path: r.path.map((c) => c.subjectName) } : { valid: false, code: r.code, message: r.message } };
  }

  // ---- backup ---------------------------------------------------------------------------

  /**
   * Encrypted backup of every key and application: a JSON document whose payload is SM4-GCM under
   * the KEK; restoring needs the same master secret.
   */
  backup(caller: KmsCaller): string {
    return this.run(caller, 'backup', undefined, undefined, () => {
      const doc = {
        keys: [...this.keys.values()].map((k) => ({
          meta: k.meta,
          versions: [...k.versions.values()].map((v) => ({ version: v.version, material: bytesToBase64(v.material), ...(v.cert ? { certificate: bytesToBase64(v.cert.der) } : {}) })),
        })),
        apps: [...this.apps.values()].map((a) => ({ ...a, tokenHash: bytesToBase64(a.tokenHash) })),
        appCertificates: [...this.appCerts.values()].map((c) => ({ ...c, fingerprint: bytesToBase64(c.fingerprint) })),
      };
      const payload = gcmWrap(this.store.kek, utf8ToBytes(JSON.stringify(doc)), BACKUP_AAD);
      auditLog.record({ actor: caller.app, action: 'kms.backup', outcome: 'success', details: { keys: doc.keys.length } });
      return { value: JSON.stringify({ format: 'xiangan-kms-backup', v: 1, salt: bytesToBase64(this.store.salt), iterations: this.store.iterations, payload: bytesToBase64(payload) }) };
    });
  }

  /**
   * Restore keys and applications from {@link backup}, unwrapping with `masterSecret` (the secret
   * of the store that made it; omitted: the backup must come from this store, so the master secret
   * never travels over HTTP); existing keys with the same name are kept unless `replace`.
   */
  restore(caller: KmsCaller, blob: string, masterSecret: string | Uint8Array | undefined, opts: { replace?: boolean } = {}): { keys: number; apps: number } {
    return this.run(caller, 'restore', undefined, blob.length, () => {
      let outer: { format?: unknown; salt?: unknown; iterations?: unknown; payload?: unknown };
      try {
        outer = JSON.parse(blob) as typeof outer;
      } catch (e) {
        throw new KmsError('SOC_ERR_KMS_BACKUP', 'the backup is not JSON', { cause: e });
      }
      if (outer.format !== 'xiangan-kms-backup' || typeof outer.salt !== 'string' || typeof outer.payload !== 'string' || !Number.isInteger(outer.iterations)) {
        throw new KmsError('SOC_ERR_KMS_BACKUP', 'not a xiangan-kms-backup document');
      }
      let kek: Uint8Array;
      if (masterSecret !== undefined) kek = deriveKek(masterSecret, base64ToBytes(outer.salt), outer.iterations as number).kek;
      else if (outer.salt === bytesToBase64(this.store.salt)) kek = this.store.kek;
      else throw new KmsError('SOC_ERR_KMS_BACKUP', "the backup comes from another key store: restore it locally with that store's master secret");
      const plain = gcmUnwrap(kek, base64ToBytes(outer.payload), BACKUP_AAD);
      if (!plain) throw new KmsError('SOC_ERR_KMS_BACKUP', 'the backup fails authentication (wrong master secret or altered)');
      const doc = JSON.parse(bytesToUtf8(plain)) as {
        keys: Array<{ meta: KmsKeyMeta; versions: Array<{ version: number; material: string; certificate?: string }> }>;
        apps: Array<Omit<KmsAppRow, 'tokenHash'> & { tokenHash: string }>;
        appCertificates?: Array<Omit<KmsAppCertRow, 'fingerprint'> & { fingerprint: string }>;
      };
      let nk = 0;
      let na = 0;
      for (const bk of doc.keys) {
        if (this.keys.has(bk.meta.name) && !opts.replace) continue;
        if (this.keys.has(bk.meta.name)) this.store.deleteKey(bk.meta.name);
        const k: LoadedKey = { meta: bk.meta, versions: new Map() };
        for (const v of bk.versions) {
          const lv = this.persistVersion(k, v.version, base64ToBytes(v.material));
          if (v.certificate) {
            lv.cert = X509Certificate.fromDer(base64ToBytes(v.certificate));
            this.store.putCertificate(bk.meta.name, v.version, lv.cert.der);
          }
        }
        this.keys.set(bk.meta.name, k);
        nk++;
      }
      for (const a of doc.apps) {
        if (this.apps.has(a.name) && !opts.replace) continue;
        const row: KmsAppRow = { ...a, tokenHash: base64ToBytes(a.tokenHash) };
        this.store.putApp(row);
        this.apps.set(a.name, row);
        na++;
      }
      for (const c of doc.appCertificates ?? []) {
        const row: KmsAppCertRow = { ...c, fingerprint: base64ToBytes(c.fingerprint) };
        if (this.appCerts.has(hex(row.fingerprint)) && !opts.replace) continue;
        this.store.putAppCertificate(row);
        this.appCerts.set(hex(row.fingerprint), row);
      }
      auditLog.record({ actor: caller.app, action: 'kms.restore', outcome: 'success', details: { keys: nk, apps: na } });
      return { value: { keys: nk, apps: na } };
    });
  }

  /** Flush audit events and close the store. */
  async close(): Promise<void> {
    await this.drainAudit();
    await this.pool?.close();
    for (const k of this.keys.values()) for (const v of k.versions.values()) v.material.fill(0);
    this.store.close();
  }
}

const BACKUP_AAD = utf8ToBytes('xiangan-kms backup v1');

/**
 * Smallest SM4-GCM input (bytes) sent to the worker pool. Measured as CPU of the calling thread per
 * call (32 in flight, no HTTP): a 1 KiB encryption cost it 14–21 µs computed here and 10–14 µs
 * through the ring, while at 16 and 256 bytes, and for a 16-byte data key, both cost the same
 * 5–9 µs: below this size the trip costs what it saves and adds latency and worker time.
 */
const SM4_RING_MIN_BYTES = 512;

const PURPOSES: readonly Purpose[] = ['any', 'serverAuth', 'clientAuth', 'sign', 'enc', 'ocspSigning', 'crlSign'];

const hex = bytesToHex;

/** The worker pool's name for one key version. */
function poolId(name: string, version: number): string {
  return `${name}\u0000${version}`;
}

/** Key metadata plus version list and SM2 public keys (PEM by version). */
export interface KmsKeyInfo extends KmsKeyMeta {
  versions: number[];
  publicKeys?: Record<number, string>;
  /** PEM certificate of each SM2 version that has one. */
  certificates?: Record<number, string>;
}

/**
 * A verification that returned false: carried through `run` so the call is audited as a failure,
 * then turned back into a normal `{ valid: false }` answer by {@link verifyResult}.
 */
export class VerifyFailed extends Error {
  readonly result: { valid: false; version: number };
  constructor(result: { valid: boolean; version: number }) {
    super('verification failed');
    this.result = { valid: false, version: result.version };
  }
}

/** Run a verify call and turn {@link VerifyFailed} into its `{ valid: false }` result. @example verifyResult(() => kms.verify(c, k, m, s)) */
export function verifyResult(fn: () => { valid: boolean; version: number }): { valid: boolean; version: number } {
  try {
    return fn();
  } catch (e) {
    if (e instanceof VerifyFailed) return e.result;
    throw e;
  }
}

/** {@link verifyResult} for {@link KmsService.verifyAsync}. @example await verifyResultAsync(kms.verifyAsync(c, k, m, s)) */
export async function verifyResultAsync(p: Promise<{ valid: boolean; version: number }>): Promise<{ valid: boolean; version: number }> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof VerifyFailed) return e.result;
    throw e;
  }
}

function actionName(op: string, type: KmsKeyType | undefined): string {
  if (type === 'sm2-sign' || type === 'sm2-encrypt') return `sm2-${op}`;
  if (type === 'sm4') return `sm4-${op}`;
  if (type === 'hmac-sm3') return op.startsWith('hmac') ? `${op.replace('hmac', 'hmac-sm3')}` : `hmac-sm3-${op}`;
  return op === 'digest' ? 'sm3-digest' : op;
}

/** Run a PKI call, turning its typed data errors into `SOC_ERR_KMS_REQUEST` (bad certificate, CMS…). */
function pkiCall<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof PkiError || e instanceof CryptoError) throw new KmsError('SOC_ERR_KMS_REQUEST', `${e.code}: ${e.message}`, { cause: e });
    throw e;
  }
}

function equalSpki(cert: X509Certificate, pub: Sm2PublicKey): boolean {
  try {
    return Sm2PublicKey.fromBytes(cert.publicKey.key).equals(pub);
  } catch {
    return false;
  }
}

function checkPolicy(p: KmsPolicy): void {
  if (!p || !Array.isArray(p.keys) || !Array.isArray(p.ops)) throw new KmsError('SOC_ERR_KMS_REQUEST', 'policy needs keys[] and ops[]');
  for (const k of p.keys) if (typeof k !== 'string' || k.length === 0 || k.length > 129) throw new KmsError('SOC_ERR_KMS_REQUEST', 'policy keys are names or prefix* patterns');
  for (const o of p.ops) if (o !== '*' && !(KMS_OPERATIONS as readonly string[]).includes(o)) throw new KmsError('SOC_ERR_KMS_REQUEST', `unknown operation ${String(o)}`);
}
