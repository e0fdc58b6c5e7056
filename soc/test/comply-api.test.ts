// The compliance routes on a real Fastify instance over a real SQLite store, via real HTTP.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { openSqliteStore } from '../src/storage/sqlite.js';
import { complyRoutes, verifyReportFile } from '../src/comply/index.js';
import { loadOrCreateIdentity } from '../src/integrity/identity.js';

const CSV = readFileSync(fileURLToPath(new URL('../../test/fixtures/comply/assets.csv', import.meta.url)), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'xa-comply-api-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('import assets, list, run over HTTP; bad input is 400/404, no token is 401', async () => {
  const store = await openSqliteStore({ dir });
  const app = Fastify();
  await app.register(complyRoutes, { store, dataDir: dir, socConfig: { level: 3 }, auth: (req) => req.headers.authorization === 'Bearer t' });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const H = { authorization: 'Bearer t' };
  try {
    assert.equal((await fetch(`${base}/api/v1/comply/inventory`)).status, 401);
    const imp = await fetch(`${base}/api/v1/comply/assets/import`, { method: 'POST', headers: { ...H, 'content-type': 'text/csv' }, body: CSV });
    assert.equal(imp.status, 200);
    assert.deepEqual(await imp.json(), { imported: 3, systems: 1, assets: 3 });
    const inv = (await (await fetch(`${base}/api/v1/comply/inventory`, { headers: H })).json()) as { assets: unknown[] };
    assert.equal(inv.assets.length, 3);
    const run = await fetch(`${base}/api/v1/comply/runs`, { method: 'POST', headers: { ...H, 'content-type': 'application/json' }, body: JSON.stringify({ system: 'S1', level: 3 }) });
    assert.equal(run.status, 200);
    const a = (await run.json()) as { kind: string; items: { controlId: string; judgement: string }[] };
    assert.equal(a.kind, 'self-assessment');
    // Nothing stored: every asset is silent → 不符合.
    assert.equal(a.items.find((i) => i.controlId === 'djcp-3-8.1.4.3.a')!.judgement, '不符合');
    assert.equal((await fetch(`${base}/api/v1/comply/runs`, { method: 'POST', headers: { ...H, 'content-type': 'application/json' }, body: JSON.stringify({ system: 'nope' }) })).status, 404);
    assert.equal((await fetch(`${base}/api/v1/comply/runs`, { method: 'POST', headers: { ...H, 'content-type': 'application/json' }, body: JSON.stringify({ system: 'S1', level: 4 }) })).status, 400);
    const badCsv = await fetch(`${base}/api/v1/comply/assets/import`, { method: 'POST', headers: { ...H, 'content-type': 'text/csv' }, body: 'id,type\n' });
    assert.equal(badCsv.status, 400);
    assert.equal(((await badCsv.json()) as { code: string }).code, 'SOC_ERR_COMPLY_CSV');
  } finally {
    await app.close();
    await store.close();
  }
});

test('configurations and judgements over HTTP: upload, results, judgement with an attachment, download', async () => {
  const d = mkdtempSync(join(tmpdir(), 'xa-comply-api2-'));
  const store = await openSqliteStore({ dir: d });
  const app = Fastify();
  await app.register(complyRoutes, { store, dataDir: d, socConfig: { level: 3 } });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const CONFIGS = fileURLToPath(new URL('../../../rules/test/compliance-configs/', import.meta.url));
  try {
    assert.equal((await fetch(`${base}/api/v1/comply/assets/import`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: CSV })).status, 200);
    const up = await fetch(`${base}/api/v1/comply/configs?asset=sw1&name=sw1.cfg`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: readFileSync(join(CONFIGS, 'good', 'sw1-comware.cfg'), 'utf8') });
    assert.equal(up.status, 200);
    assert.equal(((await up.json()) as { platform: string }).platform, 'comware');
    const res = (await (await fetch(`${base}/api/v1/comply/configs/results?asset=sw1`)).json()) as { items: { check: string; status: string }[] };
    assert.ok(res.items.length >= 6 && res.items.every((r) => r.status === 'pass'));
    const list = (await (await fetch(`${base}/api/v1/comply/configs`)).json()) as { items: { asset: string }[] };
    assert.deepEqual(list.items.map((c) => c.asset), ['sw1']);
    const noAsset = await fetch(`${base}/api/v1/comply/configs?asset=zz`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hostname x\nline vty 0 4\n' });
    assert.equal(noAsset.status, 404);
    const unknown = await fetch(`${base}/api/v1/comply/configs?asset=sw1`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'just words' });
    assert.equal(unknown.status, 400);
    assert.equal(((await unknown.json()) as { code: string }).code, 'SOC_ERR_COMPLY_CONFIG');

    const content = Buffer.from('门禁记录导出 2026-11');
    const j = await fetch(`${base}/api/v1/comply/judgements`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ system: 'S1', control: 'djcp-3-8.1.1.2.a', status: 'pass', comment: '现场核查', attachments: [{ name: 'door.csv', content: content.toString('base64') }] }),
    });
    assert.equal(j.status, 200);
    const rec = (await j.json()) as { auditor: string; attachments: { sm3: string }[] };
    assert.equal(rec.auditor, 'api');
    const got = await fetch(`${base}/api/v1/comply/attachments/${rec.attachments[0]!.sm3}`);
    assert.equal(got.status, 200);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), content);
    assert.equal((await fetch(`${base}/api/v1/comply/attachments/${'0'.repeat(64)}`)).status, 404);
    const badStatus = await fetch(`${base}/api/v1/comply/judgements`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ system: 'S1', control: 'djcp-3-8.1.1.2.a', status: 'maybe' }) });
    assert.equal(((await badStatus.json()) as { code: string }).code, 'SOC_ERR_COMPLY_JUDGEMENT');
    // The judgement decides the item in the next run.
    const run = (await (await fetch(`${base}/api/v1/comply/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ system: 'S1' }) })).json()) as {
      items: { controlId: string; judgement: string; manual?: { auditor: string } }[];
    };
    const door = run.items.find((i) => i.controlId === 'djcp-3-8.1.1.2.a')!;
    assert.equal(door.judgement, '符合');
    assert.equal(door.manual!.auditor, 'api');
    assert.deepEqual(Object.keys((await (await fetch(`${base}/api/v1/comply/judgements?system=S1`)).json()) as object), ['djcp-3-8.1.1.2.a']);
  } finally {
    await app.close();
    await store.close();
    rmSync(d, { recursive: true, force: true });
  }
});

test('reports over HTTP: the HTML report with its detached SM2 signature verifies as written by the CLI; a changed byte does not', async () => {
  const d = mkdtempSync(join(tmpdir(), 'xa-comply-api3-'));
  const store = await openSqliteStore({ dir: d });
  const identity = loadOrCreateIdentity({ dir: d, passphrase: 'report signing passphrase', kdfIterations: 1000 });
  const app = Fastify();
  await app.register(complyRoutes, { store, dataDir: d, socConfig: { level: 3 }, identity });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const post = (body: unknown) => fetch(`${base}/api/v1/comply/reports`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  try {
    assert.equal((await fetch(`${base}/api/v1/comply/assets/import`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: CSV })).status, 200);
    const r = await post({ system: 'S1', level: 3, format: 'html', lang: 'zh' });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(r.headers.get('content-disposition'), 'attachment; filename="S1-djcp-L3.html"');
    const html = Buffer.from(await r.arrayBuffer());
    assert.ok(html.toString('utf8').includes('自评结论'));
    const sig = r.headers.get('x-xiangan-signature');
    assert.ok(sig, 'signed with the server identity');
    const out = mkdtempSync(join(tmpdir(), 'xa-comply-report-'));
    writeFileSync(join(out, 'r.html'), html);
    writeFileSync(join(out, 'r.html.p7s'), Buffer.from(sig, 'base64'));
    const v = verifyReportFile(join(out, 'r.html'));
    assert.ok(v.ok && v.chainOk, JSON.stringify(v));
    html[html.length - 10] ^= 1;
    writeFileSync(join(out, 'r.html'), html);
    assert.equal(verifyReportFile(join(out, 'r.html')).ok, false);
    const csv = await post({ system: 'S1', format: 'csv', standard: 'gmcy' });
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-disposition') ?? '', /S1-gmcy-L3\.csv/);
    assert.match((await csv.text()).replace(/^\ufeff/, ''), /^control,clause,layer/);
    const bad = await post({ system: 'S1', format: 'docx' });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { code: string }).code, 'SOC_ERR_COMPLY_REQUEST');
    assert.equal((await post({ system: 'S1', lang: 'fr' })).status, 400);
    assert.equal((await post({ system: 'nope' })).status, 404);
  } finally {
    await app.close();
    await store.close();
    rmSync(d, { recursive: true, force: true });
  }
});

test('asset status over HTTP: registered assets sending or silent, unregistered senders, from stored events', async () => {
  const d = mkdtempSync(join(tmpdir(), 'xa-comply-api4-'));
  const store = await openSqliteStore({ dir: d });
  const app = Fastify();
  await app.register(complyRoutes, { store, dataDir: d, socConfig: { level: 3 } });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    assert.equal((await fetch(`${base}/api/v1/comply/assets/import`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: CSV })).status, 200);
    const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
    const events = [
      // fw1 by its observer name, three times; srv1 by its second host name; sw1 silent; a stranger; and one too old to count.
      ...[1, 2, 3].map((m, i) => ({ id: `fw${i}`, '@timestamp': at(m), observer: { name: 'fw1' }, message: 'deny' })),
      { id: 'srv', '@timestamp': at(5), host: { name: 'srv1.example' }, message: 'login' },
      { id: 'x1', '@timestamp': at(6), host: { name: 'rogue-host', ip: ['198.51.100.7'] }, message: 'hello' },
      { id: 'old', '@timestamp': at(60 * 30), observer: { name: 'sw1' }, message: 'yesterday' },
    ];
    await store.write(events as never);
    const r = await fetch(`${base}/api/v1/comply/assets/status`);
    assert.equal(r.status, 200);
    const st = (await r.json()) as { total: number; assets: { id: string; events: number; sending: boolean }[]; unregistered: { name: string; events: number }[] };
    assert.equal(st.total, 5, 'the 30-hour-old event is outside the 24 h window');
    const by = Object.fromEntries(st.assets.map((a) => [a.id, [a.sending, a.events]]));
    assert.deepEqual(by, { fw1: [true, 3], sw1: [false, 0], srv1: [true, 1] });
    assert.deepEqual(st.unregistered.map((u) => u.name).sort(), ['198.51.100.7', 'rogue-host']);
    // A 48-hour window sees sw1's event too.
    const wide = (await (await fetch(`${base}/api/v1/comply/assets/status?hours=48`)).json()) as { assets: { id: string; sending: boolean }[] };
    assert.ok(wide.assets.find((a) => a.id === 'sw1')!.sending);
    const bad = await fetch(`${base}/api/v1/comply/assets/status?hours=-1`);
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { code: string }).code, 'SOC_ERR_COMPLY_REQUEST');
  } finally {
    await app.close();
    await store.close();
    rmSync(d, { recursive: true, force: true });
  }
});
