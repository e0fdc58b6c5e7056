/**
 * API routes of the compliance module, as a Fastify plugin. Each route declares its permission
 * (`compliance:read` / `compliance:run`, soc/src/auth/permissions.ts) in `config.permission` for
 * the security layer; `auth` is the bearer-token hook for deployments without it.
 *
 * - `GET  /api/v1/comply/inventory` — systems and assets
 * - `POST /api/v1/comply/assets/import` — body: the asset CSV (text/csv)
 * - `GET  /api/v1/comply/assets/status[?hours=24]` — registered assets sending or silent, and senders not registered
 * - `POST /api/v1/comply/runs` — body `{ "system": "S1", "level": 3, "standard": "djcp" }` → the assessment JSON
 * - `POST /api/v1/comply/reports` — body as for runs plus `"format": "html"|"pdf"|"csv"|"json"` and
 *   `"lang": "zh"|"en"` → the report file (`Content-Disposition: attachment`), with its detached
 *   CMS signature (SM2/SM3, the `.p7s` that `xiangan comply verify` reads) base64 in the
 *   `X-Xiangan-Signature` header when the server has a signing identity
 * - `POST /api/v1/comply/configs?asset=ID[&platform=P][&name=FILE]` — body: the configuration (text/plain) → its metadata
 * - `GET  /api/v1/comply/configs[?asset=ID]` — stored configurations' metadata
 * - `GET  /api/v1/comply/configs/results?asset=ID` — the configuration checks over one asset's configurations
 * - `POST /api/v1/comply/judgements` — body `{ "system", "control", "status", "comment", "attachments": [{ "name", "content" (base64) }], "dak": { "d", "a", "k" } }`
 * - `GET  /api/v1/comply/judgements?system=ID` — recorded judgements by item
 * - `GET  /api/v1/comply/attachments/:sm3` — an attached evidence file
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createReadStream, existsSync } from 'node:fs';
import type { EventStore } from '../storage/types.js';
import { actorOf } from '../security.js';
import { importAssetsCsv, loadInventory, saveInventory } from './assets.js';
import { evaluateStoredConfigs, listConfigs, MAX_CONFIG_BYTES, uploadConfig } from './configs.js';
import { attachmentPath, listJudgements, MAX_ATTACHMENT_BYTES, recordJudgement } from './judgements.js';
import type { CheckContext } from './checks.js';
import type { SigningIdentity } from '../integrity/identity.js';
import { ComplyError } from './errors.js';
import { runAssessment } from './run.js';
import { assetStatus } from './discovery.js';
import { signReport } from './sign.js';
import { REPORT_FORMATS, renderReport, reportFileName, type ReportFormat } from './write.js';

/** Options of {@link complyRoutes}. */
export interface ComplyRoutesOptions {
  store: EventStore;
  dataDir: string;
  socConfig?: CheckContext['socConfig'];
  /** Signs rendered reports (the SOC's integrity identity); reports are unsigned without it. */
  identity?: SigningIdentity;
  /** Resolves true when the request may pass (the app's bearer-token check). */
  auth?: (req: FastifyRequest) => boolean | Promise<boolean>;
}

/**
 * Register the routes.
 * @example await app.register(complyRoutes, { store: runtime.store, dataDir: cfg.dataDir });
 */
export async function complyRoutes(app: FastifyInstance, o: ComplyRoutesOptions): Promise<void> {
  // Parsers scoped to this plugin: the app reads every body as text for its NDJSON ingest route.
  for (const t of ['application/json', 'text/csv', 'text/plain']) if (app.hasContentTypeParser(t)) app.removeContentTypeParser(t);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, body === '' ? undefined : JSON.parse(String(body)));
    } catch (e) {
      done(Object.assign(new Error(`body is not JSON: ${(e as Error).message}`), { statusCode: 400 }), undefined);
    }
  });
  app.addContentTypeParser(['text/csv', 'text/plain'], { parseAs: 'string' }, (_req, body, done) => done(null, String(body)));
  const onRequest = async (req: FastifyRequest): Promise<void> => {
    if (o.auth && !(await o.auth(req))) throw Object.assign(new Error('a valid bearer token is required'), { statusCode: 401, code: 'SOC_ERR_UNAUTHORIZED' });
  };
  app.setErrorHandler((e: Error, _req, reply) => {
    if (e instanceof ComplyError) return reply.code(e.code === 'SOC_ERR_COMPLY_NOT_FOUND' ? 404 : 400).send({ code: e.code, message: e.message });
    if ((e as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ code: 'SOC_ERR_COMPLY_REQUEST', message: e.message });
    if (e instanceof RangeError || e instanceof TypeError) return reply.code(400).send({ code: 'SOC_ERR_COMPLY_REQUEST', message: e.message });
    const status = (e as { statusCode?: number }).statusCode ?? 500;
    return reply.code(status).send({ code: (e as { code?: string }).code ?? 'SOC_ERR_COMPLY_REQUEST', message: e.message });
  });

  app.get('/api/v1/comply/inventory', { onRequest, config: { permission: 'compliance:read' } }, async () => loadInventory(o.dataDir));

  app.post('/api/v1/comply/assets/import', { onRequest, config: { permission: 'compliance:run' } }, async (req) => {
    if (typeof req.body !== 'string') throw new TypeError('body must be text/csv');
    const { inventory, imported } = importAssetsCsv(loadInventory(o.dataDir), req.body);
    saveInventory(o.dataDir, inventory);
    return { imported, systems: inventory.systems.length, assets: inventory.assets.length };
  });

  const assess = (b: { system?: unknown; level?: unknown; standard?: unknown }) => {
    if (typeof b.system !== 'string') throw new TypeError('system must be a string');
    if (b.level !== undefined && b.level !== 2 && b.level !== 3) throw new RangeError('level must be 2 or 3');
    if (b.standard !== undefined && b.standard !== 'djcp' && b.standard !== 'gmcy') throw new RangeError('standard must be djcp or gmcy');
    return runAssessment({
      store: o.store,
      dataDir: o.dataDir,
      inventory: loadInventory(o.dataDir),
      systemId: b.system,
      ...(b.level ? { level: b.level } : {}),
      ...(b.standard ? { standard: b.standard } : {}),
      socConfig: o.socConfig ?? {},
    });
  };

  app.get<{ Querystring: { hours?: string } }>('/api/v1/comply/assets/status', { onRequest, config: { permission: 'compliance:read' } }, async (req) =>
    assetStatus(o.store, loadInventory(o.dataDir), new Date(), req.query.hours === undefined ? 24 : Number(req.query.hours)),
  );

  app.post<{ Body: { system?: unknown; level?: unknown; standard?: unknown } }>('/api/v1/comply/runs', { onRequest, config: { permission: 'compliance:run' } }, async (req) => assess(req.body ?? {}));

  app.post<{ Body: { system?: unknown; level?: unknown; standard?: unknown; format?: unknown; lang?: unknown } }>(
    '/api/v1/comply/reports',
    { onRequest, config: { permission: 'compliance:run' } },
    async (req, reply) => {
      const b = req.body ?? {};
      const format = (b.format ?? 'html') as ReportFormat;
      if (!REPORT_FORMATS.includes(format)) throw new RangeError(`format must be one of ${REPORT_FORMATS.join(', ')}`);
      if (b.lang !== undefined && b.lang !== 'zh' && b.lang !== 'en') throw new RangeError('lang must be zh or en');
      const a = await assess(b);
      const bytes = await renderReport(a, format, (b.lang as 'zh' | 'en' | undefined) ?? 'zh');
      if (o.identity) reply.header('x-xiangan-signature', Buffer.from(signReport(bytes, o.identity)).toString('base64'));
      const type = { html: 'text/html; charset=utf-8', pdf: 'application/pdf', csv: 'text/csv; charset=utf-8', json: 'application/json; charset=utf-8' }[format];
      return reply.type(type).header('content-disposition', `attachment; filename="${reportFileName(a, format)}"`).send(Buffer.from(bytes));
    },
  );

  app.post<{ Querystring: { asset?: string; platform?: string; name?: string } }>(
    '/api/v1/comply/configs',
    { onRequest, bodyLimit: MAX_CONFIG_BYTES + 1024, config: { permission: 'compliance:run' } },
    async (req) => {
      if (typeof req.body !== 'string') throw new TypeError('body must be the configuration as text/plain');
      if (typeof req.query.asset !== 'string') throw new TypeError('asset must be given (?asset=ID)');
      return uploadConfig(o.dataDir, loadInventory(o.dataDir), {
        asset: req.query.asset,
        fileName: req.query.name ?? `${req.query.asset}.cfg`,
        text: req.body,
        ...(req.query.platform ? { platform: req.query.platform } : {}),
        actor: actorOf(req),
      });
    },
  );

  app.get<{ Querystring: { asset?: string } }>('/api/v1/comply/configs', { onRequest, config: { permission: 'compliance:read' } }, async (req) => ({
    items: listConfigs(o.dataDir, req.query.asset),
  }));

  app.get<{ Querystring: { asset?: string } }>('/api/v1/comply/configs/results', { onRequest, config: { permission: 'compliance:read' } }, async (req) => {
    if (typeof req.query.asset !== 'string') throw new TypeError('asset must be given (?asset=ID)');
    return { items: evaluateStoredConfigs(o.dataDir, [req.query.asset]) };
  });

  app.post<{ Body: { system?: unknown; control?: unknown; status?: unknown; comment?: unknown; attachments?: unknown; dak?: unknown } }>(
    '/api/v1/comply/judgements',
    // base64 grows the attachments by a third.
    { onRequest, bodyLimit: Math.ceil(MAX_ATTACHMENT_BYTES * 1.4) + 65_536, config: { permission: 'compliance:run' } },
    async (req) => {
      const b = req.body ?? {};
      if (typeof b.system !== 'string' || typeof b.control !== 'string' || typeof b.status !== 'string') throw new TypeError('system, control and status must be strings');
      if (b.comment !== undefined && typeof b.comment !== 'string') throw new TypeError('comment must be a string');
      const raw = b.attachments ?? [];
      if (!Array.isArray(raw)) throw new TypeError('attachments must be an array');
      const attachments = raw.map((a: unknown, i) => {
        const x = a as { name?: unknown; content?: unknown };
        if (typeof x?.name !== 'string' || typeof x.content !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(x.content)) throw new TypeError(`attachments[${i}] needs a name and base64 content`);
        return { name: x.name, content: new Uint8Array(Buffer.from(x.content, 'base64')) };
      });
      return recordJudgement(o.dataDir, loadInventory(o.dataDir), {
        system: b.system,
        control: b.control,
        status: b.status,
        ...(b.comment !== undefined ? { comment: b.comment } : {}),
        auditor: actorOf(req),
        attachments,
        ...(b.dak !== undefined ? { dak: b.dak as never } : {}),
      });
    },
  );

  app.get<{ Querystring: { system?: string } }>('/api/v1/comply/judgements', { onRequest, config: { permission: 'compliance:read' } }, async (req) => {
    if (typeof req.query.system !== 'string') throw new TypeError('system must be given (?system=ID)');
    return listJudgements(o.dataDir, req.query.system);
  });

  app.get<{ Params: { sm3: string } }>('/api/v1/comply/attachments/:sm3', { onRequest, config: { permission: 'compliance:read' } }, async (req, reply) => {
    const p = attachmentPath(o.dataDir, req.params.sm3);
    if (!existsSync(p)) throw new ComplyError('SOC_ERR_COMPLY_NOT_FOUND', `no attachment ${req.params.sm3}`);
    return reply.type('application/octet-stream').send(createReadStream(p));
  });
}
