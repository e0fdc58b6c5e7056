// `xiangan comply` driven in-process over a real data directory.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { main } from '../src/cli/main.js';
import { openSqliteStore } from '../src/storage/sqlite.js';

const ENV = { XIANGAN_INTEGRITY_PASSPHRASE: 'cli comply passphrase' };
const CSV = fileURLToPath(new URL('../../test/fixtures/comply/assets.csv', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'xa-cli-comply-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[], env: Record<string, string> = ENV): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await main(args, { stdin: new PassThrough(), stdout, stderr, env, cwd: dir });
  return { code, out, err };
}

test('comply assets import, run, verify; a changed byte fails verification', async () => {
  const store = await openSqliteStore({ dir: join(dir, 'data') });
  const t = new Date(Date.now() - 3_600_000).toISOString();
  await store.write(
    ['fw1', 'sw1', 'srv1'].map((h, i) => ({ id: `x${i}`, '@timestamp': t, message: 'm', host: { name: h }, user: { name: 'admin' }, event: { action: 'login', outcome: 'success' } }) as never),
  );
  await store.close();
  const imp = await cli(['comply', 'assets', 'import', CSV]);
  assert.equal(imp.code, 0, imp.err);
  assert.match(imp.out, /imported 3 assets/);
  const run = await cli(['comply', 'run', '--system', 'S1', '--level', '3', '--format', 'html,json', '--out', 'out']);
  assert.equal(run.code, 0, run.err);
  const html = join(dir, 'out', 'S1-djcp-L3.html');
  assert.ok(existsSync(`${html}.p7s`) && existsSync(join(dir, 'out', 'S1-djcp-L3.json.p7s')));
  const ok = await cli(['comply', 'verify', 'out/S1-djcp-L3.html']);
  assert.equal(ok.code, 0, ok.out + ok.err);
  assert.match(ok.out, /^OK: signed by .*chain valid/);
  const b = readFileSync(html);
  b[b.length - 5] = b[b.length - 5]! ^ 0x20;
  writeFileSync(html, b);
  const bad = await cli(['comply', 'verify', 'out/S1-djcp-L3.html']);
  assert.equal(bad.code, 1);
  assert.match(bad.out, /^FAILED/);
});

test('usage errors exit 2; a run without a passphrase asks for one', async () => {
  assert.equal((await cli(['comply', 'run'])).code, 2);
  assert.equal((await cli(['comply', 'run', '--system', 'S1', '--level', '4'])).code, 2);
  const r = await cli(['comply', 'run', '--system', 'S1'], {});
  assert.equal(r.code, 2);
  assert.match(r.err, /XIANGAN_INTEGRITY_PASSPHRASE/);
  assert.equal((await cli(['comply', 'frobnicate'])).code, 2);
});
