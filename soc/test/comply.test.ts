// Compliance self-assessment over a fixture world: a real SQLite event store, real integrity data
// (SM3 Merkle trees, SM2-signed checkpoints), real CMS signatures checked by us and by OpenSSL.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { EcsEvent } from '@xiangan/collectors';
import { CertificateAuthority } from '@xiangan/pki';
import { openSqliteStore } from '../src/storage/sqlite.js';
import { Checkpointer } from '../src/integrity/checkpoints.js';
import { loadOrCreateIdentity } from '../src/integrity/identity.js';
import { AuthService } from '../src/auth/service.js';
import { validateConfig } from '../src/config/load.js';
import { KmsService } from '../src/kms/index.js';
import { evaluateStoredConfigs, importAssetsCsv, recordJudgement, runAssessment, runChecks, uploadConfig, verifyReportFile, writeReports, ComplyError, type Inventory, type CheckContext } from '../src/comply/index.js';

const FIX = fileURLToPath(new URL('../../test/fixtures/comply/', import.meta.url));
const CONFIGS = fileURLToPath(new URL('../../../rules/test/compliance-configs/', import.meta.url));
const NOW = new Date('2026-11-28T12:00:00Z');
const H = 3_600_000;
const D = 24 * H;
const PASS = 'comply-test-passphrase';
const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'xa-comply-'));
  dirs.push(d);
  return d;
};
after(() => {
  if (!process.env.KEEP) for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let n = 0;
function ev(ago: number, fields: Record<string, unknown>): EcsEvent {
  n++;
  return { id: `c-${n}`, '@timestamp': new Date(NOW.getTime() - ago).toISOString(), message: `m${n}`, ...fields } as EcsEvent;
}
const complete = (host: Record<string, unknown>): Record<string, unknown> => ({ ...host, user: { name: 'admin' }, event: { category: ['authentication'], action: 'login', outcome: 'success' } });

function inventory(): Inventory {
  return importAssetsCsv({ systems: [], assets: [] }, readFileSync(join(FIX, 'assets.csv'), 'utf8')).inventory;
}

/** SOC users: the three administrator roles, or only the first security administrator. */
function users(dir: string, roles: ('sysadmin' | 'secadmin' | 'auditadmin')[]): void {
  const auth = AuthService.open({ dir, config: validateConfig({ data: dir, auth: { pbkdf2Iterations: 1000 } }).auth, level: 3 });
  try {
    auth.ensureAdmin();
    for (const role of roles) if (role !== 'secadmin') auth.createUser({ username: `${role}1`, role });
  } finally {
    auth.close();
  }
}

/** Upload fixture configurations (rules/test/compliance-configs) for assets. */
function configs(dir: string, world: 'good' | 'bad', files: Record<string, string[]>): void {
  for (const [asset, names] of Object.entries(files))
    for (const f of names) uploadConfig(dir, inventory(), { asset, fileName: f, text: readFileSync(join(CONFIGS, world, f), 'utf8'), actor: 'tester' });
}

/**
 * Good world: every asset sends complete records (NTP, IDS and anti-malware among them), lockouts
 * follow failures, SSH only, 200 days kept, signed checkpoints, hardened configurations uploaded,
 * the three administrator roles held, a valid SM2 certificate and an SM4 key in the KMS.
 */
async function goodWorld(): Promise<string> {
  const dir = tmp();
  const store = await openSqliteStore({ dir, chain: true });
  const events: EcsEvent[] = [
    ev(H, complete({ observer: { name: 'fw1' } })),
    ev(2 * H, complete({ observer: { name: 'sw1', ip: '10.1.0.2' } })),
    ev(3 * H, complete({ host: { name: 'srv1' } })),
    ev(200 * D, complete({ host: { name: 'srv1' } })),
    ev(4 * H, complete({ host: { name: 'srv1' }, destination: { ip: '10.1.0.1', port: 22 } })),
    ev(5 * H, { host: { name: 'srv1' }, process: { name: 'chronyd' }, event: { category: ['host'], action: 'time-sync', outcome: 'success' } }),
    ev(6 * H, { observer: { name: 'fw1' }, source: { ip: '203.0.113.9' }, event: { category: ['intrusion_detection'], module: 'suricata', action: 'alert', outcome: 'success' } }),
    ev(7 * H, { host: { name: 'srv1' }, process: { name: 'clamd' }, event: { category: ['malware'], action: 'scan', outcome: 'success' } }),
  ];
  for (let i = 0; i < 6; i++) events.push(ev(5 * H + i, { host: { name: 'srv1' }, user: { name: 'bob' }, event: { category: ['authentication'], action: 'login', outcome: 'failure' } }));
  events.push(ev(5 * H - 10, { host: { name: 'srv1' }, user: { name: 'bob' }, event: { category: ['iam'], action: 'account-locked', outcome: 'success' } }));
  await store.write(events);
  await store.close();
  const identity = loadOrCreateIdentity({ dir, passphrase: PASS, kdfIterations: 1000, now: new Date(NOW.getTime() - D) });
  const db = new Database(join(dir, 'events.db'));
  const cp = new Checkpointer({ dir, identity, sources: [{ stream: 'events', db }], now: () => NOW.getTime() });
  cp.run();
  cp.close();
  db.close();
  configs(dir, 'good', { fw1: ['fw1-vrp.cfg'], sw1: ['sw1-comware.cfg'], srv1: ['sshd_config', 'login.defs', 'system-auth', 'auditd.conf'] });
  users(dir, ['sysadmin', 'secadmin', 'auditadmin']);
  const kms = KmsService.open({ dir: join(dir, 'kms'), masterSecret: 'comply master secret', iterations: 1000, now: () => NOW.getTime() });
  kms.createKey(kms.root, 'records', 'sm4');
  await kms.close();
  return dir;
}

/**
 * Bad world: fw1 and sw1 silent, records lack the outcome, telnet to a device, failures without
 * lockout, no tamper evidence, a sender not in the inventory, no NTP/IDS/anti-malware logs, loose
 * configurations for two of three assets, only the security administrator, and a KMS whose key
 * is over a year old with an expired certificate.
 */
async function badWorld(): Promise<string> {
  const dir = tmp();
  const store = await openSqliteStore({ dir });
  const events: EcsEvent[] = [
    ev(H, { host: { name: 'srv1' }, event: { action: 'x' } }),
    ev(2 * H, { host: { name: 'srv1' }, destination: { ip: '10.1.0.1', port: 23 }, event: { action: 'telnet' } }),
    ev(2 * H, { host: { name: 'rogue1' }, event: { action: 'y' } }),
  ];
  for (let i = 0; i < 6; i++) events.push(ev(3 * H + i, { host: { name: 'srv1' }, user: { name: 'bob' }, event: { category: ['authentication'], action: 'login', outcome: 'failure' } }));
  await store.write(events);
  await store.close();
  configs(dir, 'bad', { sw1: ['sw1-comware.cfg'], srv1: ['sshd_config'] });
  users(dir, ['secadmin']);
  const old = new Date(NOW.getTime() - 400 * D);
  const ca = CertificateAuthority.init(join(dir, 'ca'), { passphrase: 'comply ca passphrase', kdfIterations: 1000, now: old });
  const kms = KmsService.open({
    dir: join(dir, 'kms'),
    masterSecret: 'comply master secret',
    iterations: 1000,
    now: () => old.getTime(),
    ca: { chain: ca.chain, issue: (csr, o) => ca.issue(csr, { ...o, now: old }) },
  });
  kms.createKey(kms.root, 'signer', 'sm2-sign', { certificateSubject: '/C=CN/O=Xiangan/CN=old signer' });
  await kms.close();
  return dir;
}

async function checks(dir: string, socConfig: CheckContext['socConfig']): Promise<Record<string, string>> {
  const store = await openSqliteStore({ dir });
  try {
    const assets = inventory().assets;
    const r = await runChecks({ store, dataDir: dir, assets, level: 3, socConfig, now: NOW, configResults: evaluateStoredConfigs(dir, assets.map((a) => a.id)) });
    return Object.fromEntries([...r].map(([k, v]) => [k, v.status]));
  } finally {
    await store.close();
  }
}

let good = '';
let bad = '';
before(async () => {
  good = await goodWorld();
  bad = await badWorld();
});

describe('comply inventory', () => {
  test('CSV import: systems, quoted names, multi-valued hosts', () => {
    const inv = inventory();
    assert.deepEqual(inv.systems, [{ id: 'S1', level: 3, name: '核心业务系统' }]);
    assert.equal(inv.assets.length, 3);
    assert.equal(inv.assets.find((a) => a.id === 'fw1')!.name, '边界防火墙, 主');
    assert.deepEqual(inv.assets.find((a) => a.id === 'srv1')!.hostNames, ['srv1', 'srv1.example']);
  });
  test('bad CSV rows are typed errors naming the line', () => {
    assert.throws(() => importAssetsCsv({ systems: [], assets: [] }, 'id,system,type,name,hosts,ips\nx,S9,server,n,h,1.2.3.4\n'), (e: unknown) => e instanceof ComplyError && e.code === 'SOC_ERR_COMPLY_CSV' && /line 2/.test(e.message));
    // An unterminated quoted field is refused with its line, not read as one long field.
    assert.throws(() => importAssetsCsv({ systems: [], assets: [] }, 'system,S1,3,Sys\nid,system,type,name,hosts,ips\nfw1,S1,security,"FW,fw1,10.0.0.1\n'), (e: unknown) => e instanceof ComplyError && e.code === 'SOC_ERR_COMPLY_CSV' && /line 3/.test(e.message));
    assert.throws(() => importAssetsCsv({ systems: [], assets: [] }, 'id,type\n'), /missing column system/);
  });
});

describe('comply automated checks', () => {
  test('the good world passes every check', async () => {
    const r = await checks(good, { level: 3, storage: { retentionDays: 180 } });
    assert.deepEqual(r, {
      'log-arrival': 'pass', 'audit-fields': 'pass', retention: 'pass', integrity: 'pass', 'cleartext-management': 'pass', 'login-failure': 'pass', 'two-factor': 'pass',
      'idle-timeout': 'pass', 'time-sync': 'pass', 'ids-presence': 'pass', 'av-presence': 'pass', 'admin-separation': 'pass', certificates: 'pass', 'kms-keys': 'pass',
      'asset-inventory': 'pass', 'config-baseline': 'pass',
    });
  });
  test('the bad world fails each check', async () => {
    const r = await checks(bad, { level: 2, auth: { requireTotp: false, idleTimeoutMinutes: 60 }, storage: { retentionDays: 90 } });
    // audit-fields: 6 of 9 records complete (67 % < 95 %) → partial; the empty store below is the fail case.
    // admin-separation: roles separated but only the security administrator exists → partial;
    // kms-keys: SM keys only, one not rotated for 400 days → partial; config-baseline: 2 of 3 assets.
    assert.deepEqual(r, {
      'log-arrival': 'partial', 'audit-fields': 'partial', retention: 'fail', integrity: 'fail', 'cleartext-management': 'fail', 'login-failure': 'fail', 'two-factor': 'fail',
      'idle-timeout': 'fail', 'time-sync': 'fail', 'ids-presence': 'fail', 'av-presence': 'fail', 'admin-separation': 'partial', certificates: 'fail', 'kms-keys': 'partial',
      'asset-inventory': 'partial', 'config-baseline': 'partial',
    });
  });
  test('administrator separation on devices comes from their uploaded configurations', async () => {
    const dir = await goodWorld();
    const ctx = { level: 3 as const };
    const sep = async () => {
      const store = await openSqliteStore({ dir });
      try {
        const inv = inventory();
        const res = await runChecks({ store, dataDir: dir, assets: inv.assets, level: 3, socConfig: ctx, now: NOW, configResults: evaluateStoredConfigs(dir, inv.assets.map((a) => a.id)) });
        return res.get('admin-separation')!;
      } finally {
        await store.close();
      }
    };
    const before = await sep();
    assert.equal(before.status, 'pass');
    assert.equal(before.evidence.counts.configPass, 2, 'fw1 (VRP) and sw1 (Comware) each have three named administrators');
    // sw1 now runs the loose configuration: one shared admin account, no security-audit role.
    configs(dir, 'bad', { sw1: ['sw1-comware.cfg'] });
    const after = await sep();
    assert.equal(after.status, 'partial');
    assert.equal(after.evidence.counts.configFail, 1);
    assert.ok(after.evidence.notes.some((n) => /not separated .*sw1/.test(n)), after.evidence.notes.join('\n'));
  });
  test('retention configured but not yet achieved is partial; all assets silent is fail', async () => {
    const r = await checks(bad, { storage: { retentionDays: 180 } });
    assert.equal(r.retention, 'partial');
    const store = await openSqliteStore({ dir: tmp() });
    try {
      const res = await runChecks({ store, dataDir: tmp(), assets: inventory().assets, level: 3, socConfig: {}, now: NOW });
      assert.equal(res.get('log-arrival')!.status, 'fail');
      assert.equal(res.get('audit-fields')!.status, 'fail');
      assert.equal(res.get('login-failure')!.status, 'manual');
      assert.equal(res.get('cleartext-management')!.status, 'manual');
      assert.deepEqual(res.get('log-arrival')!.evidence.samples, ['fw1', 'sw1', 'srv1']);
    } finally {
      await store.close();
    }
  });
  test('a stored event changed after its checkpoint fails the integrity check', async () => {
    const dir = await goodWorld();
    const db = new Database(join(dir, 'events.db'));
    const table = (db.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'ev_%' ORDER BY name DESC").get() as { name: string }).name;
    const row = db.prepare(`SELECT id, doc FROM ${table} LIMIT 1`).get() as { id: string; doc: string };
    db.prepare(`UPDATE ${table} SET doc = ? WHERE id = ?`).run(row.doc.replace('admin', 'nobody').replace('bob', 'eve'), row.id);
    db.close();
    const r = await checks(dir, { level: 3 });
    assert.equal(r.integrity, 'fail');
  });
});

describe('comply run and signed reports', () => {
  test('level-3 run: judgements, per-layer percentages, signed HTML and JSON that verify (also with openssl)', async () => {
    const store = await openSqliteStore({ dir: bad });
    let a;
    try {
      a = await runAssessment({ store, dataDir: bad, inventory: inventory(), systemId: 'S1', level: 3, socConfig: { level: 3, storage: { retentionDays: 180 } }, now: NOW });
    } finally {
      await store.close();
    }
    // Hand-computed from the judged items (manual items and 不适用 are left out of the denominator):
    // 安全计算环境: pass 8.1.4.1 d; partial 8.1.4.1 b, 8.1.4.2 d, 8.1.4.3 a, 8.1.4.3 b; fail 8.1.4.1 a, c,
    // 8.1.4.2 b, c, 8.1.4.3 c, 8.1.4.4 f, 8.1.4.5 a, 8.1.4.8 a; 8.1.4.11 a, b 不适用 (no application)
    // → (1 + 4 × 0.5) / 13 = 23.1 %. 安全管理中心: partial 8.1.5.1 a, 8.1.5.2 a, 8.1.5.3 a, 8.1.5.4 c, d;
    // fail 8.1.5.4 b, f → 2.5 / 7 = 35.7 %. 安全区域边界: partial 8.1.3.5 a, b; fail 8.1.3.3 a, b, d,
    // 8.1.3.4 a, 8.1.3.5 c → 1 / 7 = 14.3 %. 安全运维管理: 3 partial → 50 %.
    const pct = Object.fromEntries(a.layers.map((l) => [l.layer, l.percent]));
    assert.equal(pct['安全计算环境'], 23.1);
    assert.equal(pct['安全管理中心'], 35.7);
    assert.equal(pct['安全区域边界'], 14.3);
    assert.equal(pct['安全运维管理'], 50);
    assert.equal(pct['安全物理环境'], null);
    // overall: pass 1, partial 14, fail 15 → (1 + 14 × 0.5) / 30 = 26.7 %.
    assert.equal(a.overall, 26.7);
    // 26.7 % < 70 % and cleartext management (a high-risk item, below) fails: 差.
    assert.equal(a.conclusion.grade, '差');
    assert.equal(a.items.length, 211);
    // Configuration findings are attached to the items they are evidence for.
    const idle = a.items.find((i) => i.controlId === 'djcp-3-8.1.4.1.b')!;
    assert.deepEqual(idle.checks, ['login-failure', 'idle-timeout']);
    assert.ok(idle.configFindings!.some((f) => f.asset === 'sw1' && f.check === 'comware-idle-timeout' && f.status === 'fail'));
    const cleartext = a.items.find((i) => i.controlId === 'djcp-3-8.1.4.1.c')!;
    assert.equal(cleartext.judgement, '不符合');
    assert.match(cleartext.highRisk ?? '', /高风险/);
    assert.equal(a.items.find((i) => i.controlId === 'djcp-3-8.1.1.1.a')!.judgement, '待人工判定');

    const identity = loadOrCreateIdentity({ dir: good, passphrase: PASS });
    const out = tmp();
    const files = await writeReports(a, { outDir: out, formats: ['html', 'json', 'csv'], identity });
    const csv = readFileSync(files[2]!, 'utf8').replace(/^\ufeff/, '').split('\r\n');
    assert.equal(csv[0], 'control,clause,layer,control_point,status,judgement,objects,summary,paraphrase,source_url');
    assert.equal(csv.filter((l) => l.startsWith('djcp-3-')).length, a.items.length);
    assert.ok(csv.some((l) => l.startsWith('djcp-3-8.1.4.1.c,') && l.includes(',fail,不符合,')));
    const html = readFileSync(files[0]!, 'utf8');
    for (const h of ['被测对象描述', '单项测评结果', '安全问题风险分析', '整改建议', '自评估', '<svg', '条文来源', 'HummerRisk-docs']) assert.ok(html.includes(h), h);
    assert.ok(!/(src|href)=["']?https?:/.test(html), 'no external requests');
    // 整改建议 carries the failed configuration checks' remediation with the assets concerned.
    assert.ok(html.includes('line vty 0 63 → idle-timeout 10 0 (sw1)'), 'remediation for sw1');
    assert.equal(JSON.parse(readFileSync(files[1]!, 'utf8')).overall, 26.7);
    assert.ok(html.includes('自评结论') && html.includes('差 ('), 'the overall self-assessed conclusion is in the report');
    for (const f of files) {
      const v = verifyReportFile(f);
      assert.ok(v.ok && v.chainOk, f);
    }
    // OpenSSL 3.0 accepts the detached SM2 signature (empty SM2 ID, signed attributes). It checks
    // certificate signatures with the empty SM2 ID while our CA signs with 1234567812345678
    // (pki/README.md "OpenSSL interoperability"), so the chain is left to us: -noverify.
    const openssl = (): Buffer => execFileSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', `${files[0]}.p7s`, '-content', files[0]!, '-noverify', '-out', '/dev/null'], { stdio: 'pipe' });
    openssl();
    // One changed byte fails.
    const bytes = readFileSync(files[0]!);
    bytes[100] = bytes[100]! ^ 1;
    writeFileSync(files[0]!, bytes);
    assert.equal(verifyReportFile(files[0]!).ok, false);
    assert.throws(openssl);
    assert.equal(verifyReportFile(join(out, 'missing.html')).ok, false);
  });
  test('English report and unknown system', async () => {
    const store = await openSqliteStore({ dir: good });
    try {
      await assert.rejects(runAssessment({ store, dataDir: good, inventory: inventory(), systemId: 'nope' }), (e: unknown) => e instanceof ComplyError && e.code === 'SOC_ERR_COMPLY_NOT_FOUND');
      const a = await runAssessment({ store, dataDir: good, inventory: inventory(), systemId: 'S1', standard: 'gmcy', socConfig: { level: 3 }, now: NOW });
      assert.ok(a.items.every((i) => i.status !== 'fail'));
      const [f] = await writeReports(a, { outDir: tmp(), formats: ['html'], lang: 'en' });
      assert.match(readFileSync(f!, 'utf8'), /Commercial Cryptography Self-Assessment Report/);
    } finally {
      await store.close();
    }
  });
  test('GB/T 39786 level 3: D/A/K per item, quantitative score, D/A/K judged by an auditor, S/A/G grading', async () => {
    const dir = await goodWorld();
    const inv = importAssetsCsv({ systems: [], assets: [] }, readFileSync(join(FIX, 'assets.csv'), 'utf8').replace('system,S1,3,核心业务系统', 'system,S1,3,核心业务系统,3,2')).inventory;
    assert.deepEqual(inv.systems[0], { id: 'S1', level: 3, name: '核心业务系统', s: 3, a: 2 });
    const run = async (): Promise<Awaited<ReturnType<typeof runAssessment>>> => {
      const store = await openSqliteStore({ dir });
      try {
        return await runAssessment({ store, dataDir: dir, inventory: inv, systemId: 'S1', standard: 'gmcy', socConfig: { level: 3 }, now: NOW });
      } finally {
        await store.close();
      }
    };
    const a = await run();
    const dak = (id: string): string => {
      const d = a.items.find((i) => i.controlId === id)!.dak!;
      return `${d.d}/${d.a}/${d.k}=${d.score}`;
    };
    // 8.2 a certificates: SM2-with-SM3 certificates, KMS keys fine → 1; 8.2 c no cleartext, but no
    // evidence of SM4 on the wire → A not conforming → 0.5; 8.3 a TOTP is HMAC-SHA1 → A × → 0.5;
    // 8.3 e the SOC's SM3/SM2 tamper evidence → 1.
    assert.equal(dak('gmcy-3-8.2.a'), 'pass/pass/pass=1');
    assert.equal(dak('gmcy-3-8.2.c'), 'pass/fail/pass=0.5');
    assert.equal(dak('gmcy-3-8.3.a'), 'pass/fail/pass=0.5');
    assert.equal(dak('gmcy-3-8.3.e'), 'pass/pass/pass=1');
    // Hand-computed: 网络和通信 (应 1 + 应 0.5) / 2 = 0.75; 设备和计算 (应 0.5 + 应 0.5 + 宜 0.7 × 1) / 2.7
    // = 0.6296; 应用和数据: no application or database asset → not scored; overall
    // 100 × (20 × 0.75 + 10 × 0.6296) / 30 = 71.0.
    const layer = Object.fromEntries(a.gmcyScore!.layers.map((l) => [l.layer, l.score]));
    assert.equal(layer['网络和通信安全'], 0.75);
    assert.equal(layer['设备和计算安全'], 0.6296);
    assert.equal(layer['应用和数据安全'], null);
    assert.equal(a.gmcyScore!.overall, 71);
    assert.equal(a.conclusion.grade, '基本符合', '71 ≥ 60 with problems found');
    // The auditor judges physical access (宜): all three conform → 物理和环境 1.0 →
    // 100 × (10 × 1 + 20 × 0.75 + 10 × 0.6296) / 40 = 78.2.
    recordJudgement(dir, inv, { system: 'S1', control: 'gmcy-3-8.1.a', status: 'pass', comment: 'SM4 门禁卡', auditor: 'auditor1', dak: { d: 'pass', a: 'pass', k: 'pass' } });
    const b = await run();
    assert.equal(b.gmcyScore!.overall, 78.2);
    assert.equal(b.items.find((i) => i.controlId === 'gmcy-3-8.1.a')!.dak!.source, 'auditor');
    assert.throws(() => recordJudgement(dir, inv, { system: 'S1', control: 'djcp-3-8.1.1.1.a', status: 'pass', auditor: 'x', dak: { d: 'pass', a: 'pass', k: 'pass' } }), /GB\/T 39786 items only/);
    const [f] = await writeReports(b, { outDir: tmp(), formats: ['html'] });
    const html = readFileSync(f!, 'utf8');
    assert.ok(html.includes('S3A2G3') && html.includes('78.2') && html.includes('D/A/K √√√ = 1'));
    assert.throws(() => importAssetsCsv({ systems: [], assets: [] }, 'system,S9,3,x,2,2\nid,system,type,name,hosts,ips\n'), /line 1: level 3 must be the higher of S2 and A2/);
  });
});
