/**
 * API routes of the compliance module, as a Fastify plugin. Each route declares its permission
 * (`compliance:read` / `compliance:run`, soc/src/auth/permissions.ts) in `config.permission` for
 * the security layer; `auth` is the bearer-token hook for deployments without it.
 *
 * - `GET  /api/v1/comply/inventory` — systems and assets
 * - `POST /api/v1/comply/assets/import` — body: the asset CSV (text/csv)
 * - `POST /api/v1/comply/runs` — body `{ "system": "S1", "level": 3, "standard": "djcp" }` → the assessment JSON
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { EventStore } from '../storage/types.js';
import { importAssetsCsv, loadInventory, saveInventory } from './assets.js';
import type { CheckContext } from './checks.js';
import { ComplyError } from './errors.js';
import { runAssessment } from './run.js';

/** Options of {@link complyRoutes}. */
export interface ComplyRoutesOptions {
  store: EventStore;
  dataDir: string;
  socConfig?: CheckContext['socConfig'];
  /** Resolves true when the request may pass (the app's bearer-token check). */
  auth?: (req: FastifyRequest) => boolean | Promise<boolean>;
}

/**
 * Register the routes.
 * @example await app.register(complyRoutes, { store: runtime.store, dataDir: cfg.dataDir });
 */
export async function complyRoutes(app: FastifyInstance, o: ComplyRoutesOptions): Promise<void> {
  // Parsers scoped to this plugin: the app reads every body as text for its NDJSON ingest route.
  for (const t of ['application/json', 'text/csv']) if (app.hasContentTypeParser(t)) app.removeContentTypeParser(t);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, body === '' ? undefined : JSON.parse(String(body)));
    } catch (e) {
      done(Object.assign(new Error(`body is not JSON: ${(e as Error).message}`), { statusCode: 400 }), undefined);
    }
  });
  app.addContentTypeParser('text/csv', { parseAs: 'string' }, (_req, body, done) => done(null, String(body)));
  const onRequest = async (req: FastifyRequest): Promise<void> => {
    if (o.auth && !(await o.auth(req))) throw Object.assign(new Error('a valid bearer token is required'), { statusCode: 401, code: 'SOC_ERR_UNAUTHORIZED' });
  };
  app.setErrorHandler((e: Error, _req, reply) => {
    if (e instanceof ComplyError) return reply.code(e.code === 'SOC_ERR_COMPLY_NOT_FOUND' ? 404 : 400).send({ code: e.code, message: e.message });
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

  app.post<{ Body: { system?: unknown; level?: unknown; standard?: unknown } }>('/api/v1/comply/runs', { onRequest, config: { permission: 'compliance:run' } }, async (req) => {
    const b = req.body ?? {};
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
  });
}
