// The built console as the server serves it: index.html and hashed assets from the same origin
// under the strict CSP, nothing inline, no eval in the bundle, API routes unaffected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultConsoleDir } from '../src/console.js';
import { harness } from './auth-helpers.js';

const dir = defaultConsoleDir();
// `npm test` builds the console; in CI a missing build fails instead of skipping.
const skip = existsSync(join(dir, 'index.html')) || process.env.CI === 'true' ? false : 'console not built (npm run build)';

test('console files are served under the CSP, nothing inline, no eval', { skip }, async () => {
  const h = await harness();
  try {
    const index = await h.app.inject({ method: 'GET', url: '/' });
    assert.equal(index.statusCode, 200);
    assert.match(String(index.headers['content-type']), /text\/html/);
    assert.equal(index.headers['cache-control'], 'no-cache');
    const csp = String(index.headers['content-security-policy']);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    // Every script is an external file; no inline <script> body, no style attribute or element.
    assert.doesNotMatch(index.body, /<script(?![^>]*\bsrc=)[^>]*>/);
    assert.doesNotMatch(index.body, /<style|\sstyle=/);
    const assets = [...index.body.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.some((a) => a.endsWith('.js')) && assets.some((a) => a.endsWith('.css')));
    for (const a of assets) {
      const r = await h.app.inject({ method: 'GET', url: a });
      assert.equal(r.statusCode, 200, a);
      assert.match(String(r.headers['cache-control']), /immutable/);
    }
    for (const f of readdirSync(join(dir, 'assets')).filter((f) => f.endsWith('.js'))) {
      const js = readFileSync(join(dir, 'assets', f), 'utf8');
      assert.doesNotMatch(js, /\beval\(|new Function\(/, f);
    }
    // The API keeps its own answers: unauthenticated is refused, an unknown route is a 404.
    assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me' })).statusCode, 401);
    assert.equal((await h.app.inject({ method: 'GET', url: '/no-such-file.js' })).statusCode, 404);
  } finally {
    await h.close();
  }
});
