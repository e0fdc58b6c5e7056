/**
 * HTTP routes of the crypto service under `/api/v1/kms`, as an encapsulated Fastify plugin:
 * its own per-application bearer tokens (the SOC's user sessions do not apply, so the routes
 * are marked `public` for the SOC permission hook), its own JSON body parsing and error mapping.
 */
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { bytesToBase64, bytesToHex, CryptoError, type Sm2CipherOrder, type Sm2SignatureFormat } from '@xiangan/crypto';
import { KmsError, KMS_ERROR_STATUS } from './errors.js';
import { toBase64 } from './codec.js';
import { b64, verifyResult, verifyResultAsync, type KmsCaller, type KmsService, type KmsPolicy } from './service.js';
import type { KmsKeyType } from './store.js';
import type { Purpose } from '@xiangan/pki';

/** Options of {@link kmsRoutes}. */
export interface KmsRoutesOptions {
  service: KmsService;
}

type Body = Record<string, unknown>;

function bodyOf(req: FastifyRequest): Body {
  let b: unknown = req.body;
  if (typeof b === 'string') {
    if (b.trim() === '') return {};
    try {
      b = JSON.parse(b);
    } catch (e) {
      throw new KmsError('SOC_ERR_KMS_REQUEST', 'the body is not JSON', { cause: e });
    }
  }
  if (b === undefined || b === null) return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw new KmsError('SOC_ERR_KMS_REQUEST', 'the body must be a JSON object');
  return b as Body;
}

function str(b: Body, f: string): string {
  const v = b[f];
  if (typeof v !== 'string') throw new KmsError('SOC_ERR_KMS_REQUEST', `${f}: expected a string`);
  return v;
}
function strings(b: Body, f: string): string[] | undefined {
  const v = b[f];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new KmsError('SOC_ERR_KMS_REQUEST', `${f}: expected an array of PEM strings`);
  return v as string[];
}
function optB64(b: Body, f: string): Uint8Array | undefined {
  return b[f] === undefined ? undefined : b64(f, b[f]);
}
function order(b: Body): { order?: Sm2CipherOrder } {
  const o = b.order;
  if (o === undefined) return {};
  if (o !== 'c1c3c2' && o !== 'c1c2c3') throw new KmsError('SOC_ERR_KMS_REQUEST', "order: 'c1c3c2' or 'c1c2c3'");
  return { order: o };
}
function signOpts(b: Body): { id?: Uint8Array; format?: Sm2SignatureFormat } {
  const id = optB64(b, 'id');
  const f = b.format;
  if (f !== undefined && f !== 'der' && f !== 'raw') throw new KmsError('SOC_ERR_KMS_REQUEST', "format: 'der' or 'raw'");
  return { ...(id ? { id } : {}), ...(f ? { format: f } : {}) };
}
function aadOrder(b: Body): { aad?: Uint8Array; order?: Sm2CipherOrder } {
  const aad = optB64(b, 'aad');
  return { ...(aad ? { aad } : {}), ...order(b) };
}

/**
 * Answer schemas of the short high-rate answers: Fastify compiles each into a serializer
 * (fast-json-stringify) instead of a generic `JSON.stringify` per answer.
 */
const answers = {
  signed: { 200: { type: 'object', properties: { signature: { type: 'string' }, version: { type: 'integer' }, certificate: { type: 'string' } }, required: ['signature', 'version'] } },
  verified: { 200: { type: 'object', properties: { valid: { type: 'boolean' }, version: { type: 'integer' } }, required: ['valid', 'version'] } },
} as const;

/** Characters a JSON string must escape (RFC 8259 §7). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

/** A JSON string literal: as it is when nothing needs escaping (base64 and envelopes never do). */
function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/**
 * Serializers of the SM4 answers, which carry a long base64 string: fast-json-stringify checks
 * such a string character by character in JavaScript (about 2 % of the HTTP thread for a 1 KiB
 * encryption in profiles), a regular expression over it is native.
 */
const sealedJson = (r: { ciphertext: string; version: number }): string => `{"ciphertext":${jsonString(r.ciphertext)},"version":${r.version}}`;
const dataKeyJson = (r: { plaintext: string; ciphertext: string; version: number }): string => `{"plaintext":${jsonString(r.plaintext)},"ciphertext":${jsonString(r.ciphertext)},"version":${r.version}}`;

/**
 * Register the KMS routes. Every call needs `Authorization: Bearer <application token>`.
 *
 * @example
 * await app.register(kmsRoutes, { service: KmsService.open({ dir, masterSecret }) });
 * // POST /api/v1/kms/sign/orders-sign  { "input": "<base64>" }  →  { "signature": "xiangan:v1:…", "version": 1 }
 */
export async function kmsRoutes(app: FastifyInstance, opts: KmsRoutesOptions): Promise<void> {
  const kms = opts.service;
  const callers = new WeakMap<FastifyRequest, KmsCaller>();
  const caller = (req: FastifyRequest): KmsCaller => callers.get(req)!;
  const config = { public: true };

  app.setErrorHandler((err, req, reply) => {
    const e = err as Error & { code?: string; statusCode?: number };
    if (e instanceof KmsError) return reply.code(KMS_ERROR_STATUS[e.code]).send({ code: e.code, message: e.message });
    if (e instanceof CryptoError) return reply.code(400).send({ code: 'SOC_ERR_KMS_REQUEST', message: e.message });
    if (e.statusCode && e.statusCode < 500) return reply.code(e.statusCode).send({ code: 'SOC_ERR_KMS_REQUEST', message: e.message });
    req.log.error({ err: e, stage: 'kms' }, 'KMS request failed.');
    return reply.code(500).send({ code: 'SOC_ERR_KMS_STORE', message: 'internal error' });
  });

  // Both hooks are written with callbacks rather than as async functions: they run for every
  // request, and an async hook costs Fastify a promise and a deferred step more each time.
  app.addHook('onRequest', (req, _reply, done) => {
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    // Without a bearer token, a TLS client certificate that the TLS layer verified against the
    // configured client CAs (socket.authorized) may authenticate, if it is bound to an application.
    const sock = req.socket as Partial<TLSSocket>;
    const peer = !token && sock.encrypted && sock.authorized ? sock.getPeerCertificate?.() : undefined;
    try {
      callers.set(req, peer?.raw ? kms.authenticateCertificate(new Uint8Array(peer.raw), req.socket.remoteAddress) : kms.authenticate(token, req.socket.remoteAddress));
    } catch (e) {
      done(e as Error);
      return;
    }
    done();
  });

  // Every answer, refusals included, waits until the call's audit event is committed to the SOC
  // buffer (KmsService.auditCommitted): the durability point of the audit trail is before the
  // response. When the buffer refuses the events the answer is replaced by 503 SOC_ERR_KMS_AUDIT.
  app.addHook('onSend', (_req, reply, payload, done) => {
    kms.auditCommitted().then(
      () => done(null, payload),
      (e: unknown) => {
        if (!(e instanceof KmsError)) return done(e as Error);
        reply.code(KMS_ERROR_STATUS[e.code]).header('content-type', 'application/json; charset=utf-8');
        done(null, JSON.stringify({ code: e.code, message: e.message }));
      },
    );
  });

  const p = '/api/v1/kms';
  app.get(`${p}/keys`, { config }, async (req) => ({ keys: kms.listKeys(caller(req)) }));
  app.post(`${p}/keys`, { config }, async (req) => {
    const b = bodyOf(req);
    const subject = b.certificateSubject === undefined ? undefined : str(b, 'certificateSubject');
    return kms.createKey(caller(req), str(b, 'name'), str(b, 'type') as KmsKeyType, { exportable: b.exportable === true, ...(subject !== undefined ? { certificateSubject: subject } : {}) });
  });
  app.get<{ Params: { name: string } }>(`${p}/keys/:name`, { config }, async (req) => kms.getKey(caller(req), req.params.name));
  app.post<{ Params: { name: string } }>(`${p}/keys/:name/rotate`, { config }, async (req) => kms.rotateKey(caller(req), req.params.name));
  app.post<{ Params: { name: string } }>(`${p}/keys/:name/config`, { config }, async (req) => {
    const b = bodyOf(req);
    const change: { minDecryptionVersion?: number; disabled?: boolean; destroyAfterMs?: number | null } = {};
    if (b.minDecryptionVersion !== undefined) change.minDecryptionVersion = b.minDecryptionVersion as number;
    if (b.disabled !== undefined) change.disabled = b.disabled === true;
    if (b.destroyAfterMs !== undefined) change.destroyAfterMs = b.destroyAfterMs as number | null;
    return kms.configureKey(caller(req), req.params.name, change);
  });
  app.post<{ Params: { name: string } }>(`${p}/keys/:name/export`, { config }, async (req) => {
    const b = bodyOf(req);
    return kms.exportKey(caller(req), req.params.name, typeof b.publicKey === 'string' ? { publicKey: b.publicKey } : { key: str(b, 'key') });
  });
  app.post<{ Params: { name: string } }>(`${p}/keys/:name/import`, { config }, async (req) => {
    const b = bodyOf(req);
    const aad = optB64(b, 'aad');
    return kms.importKey(caller(req), req.params.name, str(b, 'type') as KmsKeyType, str(b, 'wrappingKey'), str(b, 'wrapped'), { exportable: b.exportable === true, ...(aad ? { aad } : {}) });
  });

  app.post<{ Params: { name: string } }>(`${p}/sign/:name`, { config, schema: { response: answers.signed } }, async (req) => {
    const b = bodyOf(req);
    return kms.signAsync(caller(req), req.params.name, b64('input', b.input), signOpts(b));
  });
  app.post<{ Params: { name: string } }>(`${p}/verify/:name`, { config, schema: { response: answers.verified } }, async (req) => {
    const b = bodyOf(req);
    return verifyResultAsync(kms.verifyAsync(caller(req), req.params.name, b64('input', b.input), str(b, 'signature'), signOpts(b)));
  });
  app.post<{ Params: { name: string } }>(`${p}/encrypt/:name`, { config }, async (req, reply) => {
    const b = bodyOf(req);
    const r = await kms.encryptAsync(caller(req), req.params.name, b64('plaintext', b.plaintext), aadOrder(b));
    // Only for the result: an error answer is serialized as usual.
    reply.serializer(sealedJson);
    return r;
  });
  app.post<{ Params: { name: string } }>(`${p}/decrypt/:name`, { config }, async (req) => {
    const b = bodyOf(req);
    const r = await kms.decryptAsync(caller(req), req.params.name, str(b, 'ciphertext'), aadOrder(b));
    return { plaintext: toBase64(r.plaintext), version: r.version };
  });
  app.post<{ Params: { name: string } }>(`${p}/rewrap/:name`, { config }, async (req) => {
    const b = bodyOf(req);
    return kms.rewrap(caller(req), req.params.name, str(b, 'ciphertext'), aadOrder(b));
  });
  app.post<{ Params: { name: string } }>(`${p}/datakey/:name`, { config }, async (req, reply) => {
    const b = bodyOf(req);
    const r = kms.dataKey(caller(req), req.params.name, b.bytes === undefined ? 16 : (b.bytes as number));
    reply.serializer(dataKeyJson);
    return { plaintext: toBase64(r.plaintext), ciphertext: r.ciphertext, version: r.version };
  });
  app.post<{ Params: { name: string } }>(`${p}/hmac/:name`, { config }, async (req) => kms.hmac(caller(req), req.params.name, b64('input', bodyOf(req).input)));
  app.post<{ Params: { name: string } }>(`${p}/hmac-verify/:name`, { config }, async (req) => {
    const b = bodyOf(req);
    return verifyResult(() => kms.hmacVerify(caller(req), req.params.name, b64('input', b.input), str(b, 'mac')));
  });
  app.post(`${p}/digest`, { config }, async (req) => ({ digest: bytesToHex(kms.digest(caller(req), b64('input', bodyOf(req).input))) }));

  app.post<{ Params: { name: string } }>(`${p}/keys/:name/csr`, { config }, async (req) => ({ csr: kms.certificateRequest(caller(req), req.params.name, str(bodyOf(req), 'subject')) }));
  app.post<{ Params: { name: string } }>(`${p}/keys/:name/certificate`, { config }, async (req) => kms.setCertificate(caller(req), req.params.name, str(bodyOf(req), 'certificate')));
  app.post<{ Params: { name: string } }>(`${p}/keys/:name/issue`, { config }, async (req) => kms.issueCertificate(caller(req), req.params.name, str(bodyOf(req), 'subject')));
  app.post<{ Params: { name: string } }>(`${p}/cms/sign/:name`, { config }, async (req) => {
    const b = bodyOf(req);
    const r = kms.cmsSign(caller(req), req.params.name, b64('content', b.content), { detached: b.detached === true });
    return { cms: bytesToBase64(r.cms), version: r.version };
  });
  app.post(`${p}/cms/verify`, { config }, async (req) => {
    const b = bodyOf(req);
    const content = optB64(b, 'content');
    const anchors = strings(b, 'trustAnchors');
    const r = kms.cmsVerify(caller(req), b64('cms', b.cms), { ...(content ? { content } : {}), ...(anchors ? { trustAnchors: anchors } : {}) });
    return { valid: r.valid, content: bytesToBase64(r.content), signers: r.signers };
  });
  app.post(`${p}/cms/envelope`, { config }, async (req) => {
    const b = bodyOf(req);
    return { cms: bytesToBase64(kms.cmsEnvelope(caller(req), b64('content', b.content), strings(b, 'recipients') ?? [])) };
  });
  app.post<{ Params: { name: string } }>(`${p}/cms/open/:name`, { config }, async (req) => {
    const r = kms.cmsOpen(caller(req), req.params.name, b64('cms', bodyOf(req).cms));
    return { content: bytesToBase64(r.content), version: r.version };
  });
  app.post(`${p}/validate`, { config }, async (req) => {
    const b = bodyOf(req);
    const purpose = b.purpose === undefined ? undefined : (str(b, 'purpose') as Purpose);
    const revocation = b.revocation === undefined ? undefined : (str(b, 'revocation') as 'none' | 'available' | 'required');
    const request = {
      certificate: str(b, 'certificate'),
      trustAnchors: strings(b, 'trustAnchors') ?? [],
      ...(strings(b, 'intermediates') ? { intermediates: strings(b, 'intermediates')! } : {}),
      ...(strings(b, 'crls') ? { crls: strings(b, 'crls')! } : {}),
      ...(strings(b, 'ocsp') ? { ocsp: strings(b, 'ocsp')! } : {}),
      ...(purpose ? { purpose } : {}),
      ...(revocation ? { revocation } : {}),
    };
    if (b.fetchOcsp !== undefined && typeof b.fetchOcsp !== 'boolean') throw new KmsError('SOC_ERR_KMS_REQUEST', 'fetchOcsp: expected a boolean');
    return b.fetchOcsp === true ? kms.validateCertificateOnline(caller(req), request) : kms.validateCertificate(caller(req), request);
  });

  app.post(`${p}/backup`, { config }, async (req) => ({ backup: kms.backup(caller(req)) }));
  app.post(`${p}/restore`, { config }, async (req) => {
    const b = bodyOf(req);
    return kms.restore(caller(req), str(b, 'backup'), undefined, { replace: b.replace === true });
  });

  app.get(`${p}/apps`, { config }, async (req) => {
    kms.checkAppsAccess(caller(req));
    return { apps: kms.listApps() };
  });
  app.post(`${p}/apps`, { config }, async (req) => {
    kms.checkAppsAccess(caller(req));
    const b = bodyOf(req);
    return kms.createApp(str(b, 'name'), { keys: b.keys, ops: b.ops } as KmsPolicy);
  });
  app.delete<{ Params: { name: string } }>(`${p}/apps/:name`, { config }, async (req) => {
    kms.checkAppsAccess(caller(req));
    kms.revokeApp(req.params.name);
    return { revoked: req.params.name };
  });
  app.post<{ Params: { name: string } }>(`${p}/apps/:name/certificates`, { config }, async (req) => {
    kms.checkAppsAccess(caller(req));
    return kms.bindAppCertificate(req.params.name, str(bodyOf(req), 'certificate'));
  });
  app.delete<{ Params: { name: string; fingerprint: string } }>(`${p}/apps/:name/certificates/:fingerprint`, { config }, async (req) => {
    kms.checkAppsAccess(caller(req));
    kms.unbindAppCertificate(req.params.name, req.params.fingerprint);
    return { removed: req.params.fingerprint };
  });
}
