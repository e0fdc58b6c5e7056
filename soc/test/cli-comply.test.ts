// `xiangan comply` driven in-process over a real data directory.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSqliteStore } from '../src/storage/sqlite.js';
import { runCli } from './cli-run.js';

const ENV = { XIANGAN_INTEGRITY_PASSPHRASE: 'cli comply passphrase' };
const CSV = fileURLToPath(new URL('../../test/fixtures/comply/assets.csv', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'xa-cli-comply-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[], env: Record<string, string> = ENV) => runCli(args, dir, env);

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

test('comply config upload/list/check and judge/judgements; both land in the audit trail', async () => {
  const CONFIGS = fileURLToPath(new URL('../../../rules/test/compliance-configs/', import.meta.url));
  const data = ['--data', 'data2'];
  assert.equal((await cli(['comply', 'assets', 'import', CSV, ...data])).code, 0);
  const up = await cli(['comply', 'config', 'upload', '--asset', 'sw1', join(CONFIGS, 'bad', 'rt1-ios.cfg'), '--actor', 'alice', ...data]);
  assert.equal(up.code, 0, up.err);
  assert.match(up.out, /stored ios configuration of sw1 \(\d+ bytes, SM3 [0-9a-f]{64}\)/);
  const list = JSON.parse((await cli(['comply', 'config', 'list', ...data])).out) as { asset: string; platform: string; uploadedBy: string }[];
  assert.deepEqual(list.map((c) => [c.asset, c.platform, c.uploadedBy]), [['sw1', 'ios', 'alice']]);
  const check = await cli(['comply', 'config', 'check', '--asset', 'sw1', ...data]);
  assert.equal(check.code, 1, 'a failing check exits 1');
  assert.match(check.out, /FAIL {2}ios-ssh-only/);
  assert.match(check.out, /0\/8 configuration checks pass/);
  // An unknown platform and an undetectable file are typed errors (exit 1 with the code).
  const odd = await cli(['comply', 'config', 'upload', '--asset', 'sw1', CSV, ...data]);
  assert.notEqual(odd.code, 0);
  assert.match(odd.err, /SOC_ERR_COMPLY_CONFIG/);

  writeFileSync(join(dir, 'photo.txt'), '机房门禁照片');
  const judge = await cli(['comply', 'judge', '--system', 'S1', '--control', 'djcp-3-8.1.1.2.a', '--status', 'pass', '--comment', '现场核查：已配置电子门禁', '--attach', 'photo.txt', '--actor', 'auditor1', ...data]);
  assert.equal(judge.code, 0, judge.err);
  assert.match(judge.out, /recorded pass for S1\/djcp-3-8\.1\.1\.2\.a by auditor1\n {2}photo\.txt SM3 [0-9a-f]{64}/);
  const js = JSON.parse((await cli(['comply', 'judgements', '--system', 'S1', ...data])).out) as Record<string, { status: string; auditor: string }>;
  assert.equal(js['djcp-3-8.1.1.2.a']!.auditor, 'auditor1');
  const trail = await cli(['audit', 'list', ...data]);
  assert.equal(trail.code, 0, trail.err);
  assert.match(trail.out, /comply\.config\.upload/);
  assert.match(trail.out, /comply\.judgement\.record/);
  assert.equal((await cli(['comply', 'judge', '--system', 'S1', '--control', 'nope', '--status', 'pass', ...data])).code !== 0, true);
  const g = await cli(['comply', 'judge', '--system', 'S1', '--control', 'gmcy-3-8.1.a', '--status', 'partial', '--dak', 'pass,fail,pass', ...data]);
  assert.equal(g.code, 0, g.err);
  const gj = JSON.parse((await cli(['comply', 'judgements', '--system', 'S1', ...data])).out) as Record<string, { dak?: unknown }>;
  assert.deepEqual(gj['gmcy-3-8.1.a']!.dak, { d: 'pass', a: 'fail', k: 'pass' });
  assert.match((await cli(['comply', 'judge', '--system', 'S1', '--control', 'gmcy-3-8.1.a', '--status', 'pass', '--dak', 'yes', ...data])).err, /SOC_ERR_COMPLY_JUDGEMENT/);
  // Scored: the judged physical item 8.1 a (D ✓ A × K ✓ → 0.5); 8.2 c and 8.3 b, whose bound IOS
  // configuration allows telnet (D × → 0). 100 × (10 × 0.5 + 20 × 0 + 10 × 0) / 40 = 12.5.
  const gm = await cli(['comply', 'run', '--system', 'S1', '--standard', 'gmcy', '--unsigned', '--format', 'json', '--out', 'out2', ...data]);
  assert.equal(gm.code, 0, gm.err);
  assert.match(gm.out, /GB\/T 39786 quantitative score \(self-assessed\): 12.5\n/);
});
