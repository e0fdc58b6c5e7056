// SCA-style configuration checks over passing and failing configurations of every platform.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { BUILTIN_CONFIG_CHECKS, CONFIG_PLATFORMS, detectPlatform, evaluateConfig, loadCatalogue, loadConfigChecks, validateConfigChecks, RuleError } from '../src/index.js';

const DIR = fileURLToPath(new URL('../../test/compliance-configs/', import.meta.url));
const known = new Set(loadCatalogue().controls.map((c) => c.id));
const set = loadConfigChecks(undefined, known);

function run(world: 'good' | 'bad'): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(`${DIR}${world}`)) {
    const text = readFileSync(`${DIR}${world}/${f}`, 'utf8');
    const p = detectPlatform(f, text);
    assert.ok(p, `${world}/${f}: platform detected`);
    for (const r of evaluateConfig(set, p, text)) out.set(r.check, r.status);
  }
  return out;
}

describe('configuration checks', () => {
  test('every check is bound to catalogue items and every platform has checks', () => {
    for (const p of CONFIG_PLATFORMS) assert.ok(set.checks.some((c) => c.platform === p), p);
    for (const c of set.checks) assert.ok(c.controls.every((id) => known.has(id)), c.id);
  });
  test('platforms are detected from file names and content', () => {
    const det = Object.fromEntries(readdirSync(`${DIR}good`).map((f) => [f, detectPlatform(f, readFileSync(`${DIR}good/${f}`, 'utf8'))]));
    assert.deepEqual(det, { 'auditd.conf': 'auditd', 'fw1-vrp.cfg': 'vrp', 'login.defs': 'login.defs', 'rt1-ios.cfg': 'ios', sshd_config: 'sshd', 'sw1-comware.cfg': 'comware', 'system-auth': 'pam' });
    assert.equal(detectPlatform('notes.txt', 'hello'), undefined);
  });
  test('the hardened configurations pass every check; the loose ones fail every check', () => {
    const good = run('good');
    const bad = run('bad');
    assert.equal(good.size, set.checks.length, 'every check ran on the good configurations');
    assert.deepEqual([...good].filter(([, s]) => s !== 'pass'), []);
    assert.deepEqual([...bad].filter(([, s]) => s !== 'fail'), []);
  });
  test('evidence names the deciding lines; numeric rules compare every matching line', () => {
    const text = 'line vty 0 4\n exec-timeout 5 0\nline vty 5 15\n exec-timeout 30 0\n transport input ssh\nhostname r\n';
    const r = evaluateConfig(set, 'ios', text).find((x) => x.check === 'ios-exec-timeout')!;
    assert.equal(r.status, 'fail', 'one vty range with 30 minutes fails the check');
    assert.deepEqual(r.rules[0]!.lines.map((l) => l.line), [2, 4]);
    // Comment lines do not count: a commented-out setting is not a setting.
    const s = evaluateConfig(set, 'sshd', '#PermitRootLogin no\n').find((x) => x.check === 'sshd-no-root-login')!;
    assert.equal(s.status, 'fail');
  });
  test('distinct-count rules count distinct capture values, case-folded, and may hold on zero lines', () => {
    const sep = (text: string) => evaluateConfig(set, 'ios', text).find((x) => x.check === 'ios-admin-separation')!;
    const three = 'username a privilege 15 secret 9 x\nusername b privilege 7 secret 9 y\nusername c privilege 3 secret 9 z\n';
    assert.equal(sep(three).status, 'pass');
    // The same account three times (IOS names are case-insensitive) is one administrator.
    assert.equal(sep('username a privilege 15 secret 9 x\nusername A privilege 7 secret 9 y\nusername a privilege 3 secret 9 z\n').status, 'fail');
    // Three accounts at one privilege level: no separation of what they may do.
    const flat = sep('username a privilege 15 secret 9 x\nusername b privilege 15 secret 9 y\nusername c privilege 15 secret 9 z\n');
    assert.equal(flat.status, 'fail');
    assert.deepEqual(flat.rules.map((r) => r.ok), [true, false]);
    const custom = validateConfigChecks({ version: 1, checks: [{ id: 'few-users', platform: 'sshd', title: 't', remediation: 'r', controls: ['djcp-3-8.1.4.2.d'], condition: 'all', rules: ['d:^AllowUsers\\s+(\\S+) compare < 2'] }] }, known);
    assert.equal(evaluateConfig(custom, 'sshd', 'Port 22\n')[0]!.status, 'pass', 'zero distinct values compare as 0');
    assert.throws(() => validateConfigChecks({ version: 1, checks: [{ id: 'x', platform: 'sshd', title: 't', remediation: 'r', controls: ['djcp-3-8.1.4.2.d'], condition: 'all', rules: ['d:^AllowUsers \\S+ compare >= 2'] }] }), /distinct-count rule needs a capture group/);
  });
  test('bad check files are typed errors naming the path', () => {
    const doc = parse(readFileSync(BUILTIN_CONFIG_CHECKS, 'utf8')) as { checks: { controls: string[]; rules: string[]; id: string }[] };
    const unknown = structuredClone(doc);
    unknown.checks[0]!.controls = ['djcp-3-9.9.9.z'];
    assert.throws(() => validateConfigChecks(unknown, known), (e: unknown) => e instanceof RuleError && /checks\/0\/controls: unknown catalogue item/.test(e.message));
    const badRe = structuredClone(doc);
    badRe.checks[1]!.rules = ['r:(unclosed'];
    assert.throws(() => validateConfigChecks(badRe), /checks\/1\/rules\/0: bad regular expression/);
    const noGroup = structuredClone(doc);
    noGroup.checks[2]!.rules = ['n:^MaxAuthTries \\d+ compare <= 5'];
    assert.throws(() => validateConfigChecks(noGroup), /needs a capture group/);
    const dup = structuredClone(doc);
    dup.checks[1]!.id = dup.checks[0]!.id;
    assert.throws(() => validateConfigChecks(dup), /duplicate id/);
    assert.throws(() => evaluateConfig(set, 'junos' as never, ''), RangeError);
  });
});
