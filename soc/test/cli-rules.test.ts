/**
 * `xiangan rules …` end to end, in-process: real rule files, real parsers (collectors), a real
 * SQLite store for `hunt`.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, rmSync, copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { normaliseJson } from '@xiangan/collectors';
import { main } from '../src/cli/main.js';
import { openSqliteStore } from '../src/storage/sqlite.js';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const PACKS = join(root, 'rules', 'packs');
const SIGMA = join(process.env.XIANGAN_SHARED ?? join(root, '..', 'shared'), 'sigma', 'rules');

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void) => new Writable({ write(c, _e, cb) { f(String(c)); cb(); } });
  const code = await main(args, { stdin: Readable.from([]), stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)), env: {}, cwd: root });
  return { code, out, err };
}
const lines = (s: string) => s.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
const ruleId = (rel: string) => /^id: (\S+)$/m.exec(readFileSync(join(PACKS, rel), 'utf8'))![1];

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'xiangan-cli-rules-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('xiangan rules validate / test', () => {
  test('the shipped packs are valid and their samples pass', async () => {
    // One rule per file: the counts the CLI reports are the number of rule files shipped.
    const files = readdirSync(PACKS, { recursive: true }).filter((f) => /\.ya?ml$/.test(String(f))).length;
    assert.ok(files >= 40, `${files} rule files`);
    const v = await cli(['rules', 'validate', PACKS]);
    assert.equal(v.code, 0, v.out + v.err);
    assert.match(v.out, new RegExp(`^${files} rule documents, ${files} valid, 0 invalid`, 'm'));
    const t = await cli(['rules', 'test', PACKS]);
    assert.equal(t.code, 0, t.out);
    assert.match(t.out, new RegExp(`^${files} rules with samples \\(\\d+ samples\\), 0 failing`, 'm'));
  });
  test('a broken rule is reported with its code and exit 1', async () => {
    const d = join(dir, 'bad');
    mkdirSync(d);
    writeFileSync(join(d, 'bad.yml'), 'title: bad\nid: 6b1c7d7e-1b1e-4d7e-9a33-0f3e3f0a0001\nlogsource: {product: linux}\ndetection:\n  sel: {"message|sorta": x}\n  condition: sel\n');
    writeFileSync(join(d, 'bad2.yml'), 'title: [unclosed\n');
    const v = await cli(['rules', 'validate', d]);
    assert.equal(v.code, 1);
    assert.match(v.out, /bad\.yml: RULE_ERR_UNSUPPORTED_MODIFIER: .*sorta/);
    assert.match(v.out, /bad2\.yml: RULE_ERR_YAML/);
  });
  test('usage errors exit 2', async () => {
    assert.equal((await cli(['rules', 'frob'])).code, 2);
    assert.equal((await cli(['rules', 'match', PACKS])).code, 2);
  });
});

describe('xiangan rules match', () => {
  test('syslog lines go through the real parsers; detections and a correlation are printed', async () => {
    const f = join(dir, 'auth.log');
    const fails = Array.from({ length: 10 }, (_, i) => `<38>Nov 29 10:00:${String(i * 5).padStart(2, '0')} web1 sshd[123]: Failed password for root from 203.0.113.5 port 52100 ssh2`);
    writeFileSync(f, [...fails, "<86>Nov 29 10:01:00 web1 usermod[99]: add 'bob' to group 'wheel'", ''].join('\n'));
    const r = await cli(['rules', 'match', PACKS, '--events', f, '--format', 'syslog']);
    assert.equal(r.code, 0, r.err);
    const ms = lines(r.out);
    const ids = ms.map((m) => m.ruleId);
    assert.ok(ids.includes(ruleId('linux/user_added_to_admin_group.yml')));
    const brute = ms.filter((m) => m.ruleId === ruleId('linux/ssh_brute_force.yml'));
    assert.equal(brute.length, 1);
    assert.deepEqual(brute[0].group, { 'source.ip': '203.0.113.5' });
    assert.equal((brute[0].eventIds as string[]).length, 10);
    const base = ms.filter((m) => m.ruleId === ruleId('linux/ssh_auth_failure.yml'));
    assert.equal(base.length, 10);
    assert.equal(base[0].alert, false);
    assert.equal((base[0].event as { source: { ip: string } }).source.ip, '203.0.113.5');
  });
  test('evtx-json objects are normalised like the Windows collector does', async () => {
    const f = join(dir, 'sec.ndjson');
    writeFileSync(f, `${JSON.stringify({ Event: { System: { EventID: 1102, Channel: 'Security', Computer: 'DC1' }, UserData: { LogFileCleared: { SubjectUserName: 'alice' } } } })}\n${JSON.stringify({ Event: { System: { EventID: 4624, Channel: 'Security', Computer: 'DC1' }, EventData: { TargetUserName: 'bob', LogonType: '3' } } })}\n`);
    const r = await cli(['rules', 'match', PACKS, '--events', f, '--format', 'evtx-json']);
    assert.deepEqual(lines(r.out).map((m) => m.ruleId), [ruleId('windows/audit_log_cleared.yml')]);
  });
  test('identity pipeline: a SigmaHQ rule against raw Sysmon JSON', async () => {
    const rule = join(SIGMA, 'windows/process_creation/proc_creation_win_whoami_all_execution.yml');
    const f = join(dir, 'sysmon.ndjson');
    writeFileSync(f, `${JSON.stringify({ EventID: 1, Image: 'C:\\Windows\\System32\\whoami.exe', CommandLine: 'whoami /all' })}\n${JSON.stringify({ EventID: 1, Image: 'C:\\Windows\\System32\\whoami.exe', CommandLine: 'whoami' })}\n`);
    const r = await cli(['rules', 'match', rule, '--events', f, '--pipeline', 'identity']);
    const ms = lines(r.out);
    assert.equal(ms.length, 1);
    assert.equal((ms[0].event as { CommandLine: string }).CommandLine, 'whoami /all');
  });
});

describe('xiangan rules import-sigma', () => {
  test('reports accepted and rejected with reasons', async () => {
    const d = join(dir, 'sigma');
    mkdirSync(d);
    copyFileSync(join(SIGMA, 'windows/process_creation/proc_creation_win_whoami_all_execution.yml'), join(d, 'a.yml'));
    copyFileSync(join(SIGMA, 'windows/builtin/security/win_security_user_creation.yml'), join(d, 'b.yml'));
    writeFileSync(join(d, 'c.yml'), 'title: agg\nlogsource: {product: windows, service: security}\ndetection:\n  sel: {EventID: 4625}\n  condition: sel | count() by IpAddress > 10\n');
    const r = await cli(['rules', 'import-sigma', d]);
    assert.equal(r.code, 1);
    assert.match(r.out, /rejected .*c\.yml: RULE_ERR_UNSUPPORTED: aggregation/);
    assert.match(r.out, /accepted 2 of 3 \(66\.7 %\)/);
    const j = await cli(['rules', 'import-sigma', d, '--json']);
    assert.deepEqual(JSON.parse(j.out).byCode, { RULE_ERR_UNSUPPORTED: 1 });
  });
});

describe('xiangan rules hunt', () => {
  test('replays stored events of a time range through the rules', async () => {
    const data = join(dir, 'data');
    const store = await openSqliteStore({ dir: data });
    const ctx = (i: number) => ({ sourceId: 't', transport: 'http' as const, receivedAt: Date.UTC(2026, 10, 29, 1, 0, i), timezone: 'Asia/Shanghai', eventId: `hunt-${i}` });
    await store.write([
      normaliseJson({ Event: { System: { EventID: 4720, Channel: 'Security', Computer: 'DC1' }, EventData: { TargetUserName: 'bob', SubjectUserName: 'alice' } } }, ctx(1)),
      normaliseJson({ Event: { System: { EventID: 4722, Channel: 'Security', Computer: 'DC1' }, EventData: { TargetUserName: 'bob' } } }, ctx(2)),
    ]);
    await store.close();
    const r = await cli(['rules', 'hunt', PACKS, '--from', '2026-11-29T00:00:00Z', '--to', '2026-11-30T00:00:00Z', '--data', data]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(lines(r.out).map((m) => m.ruleId), [ruleId('windows/user_created.yml')]);
    const none = await cli(['rules', 'hunt', PACKS, '--from', '2026-11-30T00:00:00Z', '--to', '2026-12-01T00:00:00Z', '--data', data]);
    assert.equal(none.out, '');
  });
});
