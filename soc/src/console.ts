/**
 * Serves the web console (soc/console, built by Vite into soc/console/dist by `npm run build`)
 * from the API's own origin, so the strict CSP of `security.ts` (`script-src 'self'`) holds and
 * the session cookie (SameSite=Strict) reaches the API. The files are public; every `/api/` route
 * keeps its own permission.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** Where the built console is: soc/console/dist, from soc/src (ts) or soc/dist/src (compiled). */
export function defaultConsoleDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const fromDist = resolve(here, '../../console/dist');
  return existsSync(fromDist) ? fromDist : resolve(here, '../console/dist');
}

/** Options of {@link consoleRoutes}. */
export interface ConsoleOptions {
  /** Directory with index.html and assets/; default {@link defaultConsoleDir}. */
  dir?: string;
}

/**
 * Register the console's static files at `/`. Hashed files under `/assets/` are cached for a
 * year (their names change with their content); `index.html` is revalidated on every load so a
 * new build is picked up. Without a build the server runs as before and logs why there is no console.
 *
 * @example
 * ```ts
 * await app.register(consoleRoutes, { dir: '/opt/xiangan/console' });
 * ```
 */
export async function consoleRoutes(app: FastifyInstance, opts: ConsoleOptions = {}): Promise<void> {
  const dir = opts.dir ?? defaultConsoleDir();
  if (!existsSync(join(dir, 'index.html'))) {
    app.log.warn({ dir, stage: 'console' }, 'Console not built (npm run build); serving the API only.');
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    index: ['index.html'],
    wildcard: true,
    cacheControl: false,
    setHeaders: (res, path) => {
      res.header('cache-control', path.includes(`${join('/', 'assets')}/`) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
}
