/**
 * The same public SigmaHQ rules evaluated two ways: on our ECS events (collectors'
 * normaliseJson, ECS pipeline) and on raw flattened Sysmon/Security JSON (identity pipeline).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normaliseJson } from '@xiangan/collectors';
import { builtinPipeline, compileRules, parsePipeline, parseRuleText, resolveLogsource, RuleError } from '../src/index.js';
import { SHARED } from './helpers.js';

const SIGMA = join(SHARED, 'sigma', 'rules');
const load = (rel: string) => parseRuleText(readFileSync(join(SIGMA, rel), 'utf8'), rel);
const whoami = load('windows/process_creation/proc_creation_win_whoami_all_execution.yml');
const userCreated = load('windows/builtin/security/win_security_user_creation.yml');
const rules = [...whoami, ...userCreated];
const WHOAMI_ID = 'c248c896-e412-4279-8c15-1c558067b6fa';
const USER_ID = '66b6be3d-55d0-4f47-9855-d69df21740ea';

const ctx = { sourceId: 'evtx', transport: 'http' as const, receivedAt: Date.UTC(2026, 10, 30, 2), timezone: 'Asia/Shanghai', eventId: 'ev-1' };
const sysmon = (eventId: number, data: Record<string, string>) => ({ Event: { System: { EventID: eventId, Channel: 'Microsoft-Windows-Sysmon/Operational', Computer: 'PC1' }, EventData: data } });
const security = (eventId: number, data: Record<string, string>) => ({ Event: { System: { EventID: eventId, Channel: 'Security', Computer: 'DC1' }, EventData: data } });

describe('ECS pipeline over events normalised by the collectors', () => {
  const e = compileRules(rules, builtinPipeline('ecs'));
  const ids = (o: unknown) => e.match(normaliseJson(o, ctx) as unknown as Record<string, unknown>).map((m) => m.ruleId);
  test('process creation rule (windash, endswith, all of)', () => {
    assert.deepEqual(ids(sysmon(1, { Image: 'C:\\Windows\\System32\\whoami.exe', CommandLine: 'whoami /all' })), [WHOAMI_ID]);
    assert.deepEqual(ids(sysmon(1, { Image: 'C:\\Windows\\System32\\whoami.exe', CommandLine: 'whoami -all' })), [WHOAMI_ID]);
    assert.deepEqual(ids(sysmon(1, { Image: 'C:\\Windows\\System32\\whoami.exe', CommandLine: 'whoami /groups' })), []);
    assert.deepEqual(ids(sysmon(1, { Image: 'C:\\Windows\\System32\\notwhoami.exe', CommandLine: 'x /all' })), []);
  });
  test('security service rule (EventID through winlog.channel and winlog.event_id)', () => {
    assert.deepEqual(ids(security(4720, { TargetUserName: 'bob' })), [USER_ID]);
    assert.deepEqual(ids(security(4722, { TargetUserName: 'bob' })), []);
  });
});

describe('identity pipeline over raw JSON with Sigma field names', () => {
  const e = compileRules(rules, builtinPipeline('identity'));
  const ids = (o: Record<string, unknown>) => e.match(o).map((m) => m.ruleId);
  test('flattened Sysmon process creation', () => {
    assert.deepEqual(ids({ EventID: 1, Channel: 'Microsoft-Windows-Sysmon/Operational', Image: 'C:\\Windows\\System32\\whoami.exe', CommandLine: 'whoami /all' }), [WHOAMI_ID]);
    assert.deepEqual(ids({ EventID: 1, OriginalFileName: 'whoami.exe', Image: 'C:\\temp\\x.exe', CommandLine: 'x.exe \u2013all' }), [WHOAMI_ID]);
    // Same fields, but EventID 3 is a network connection: the logsource does not apply.
    assert.deepEqual(ids({ EventID: 3, Image: 'C:\\Windows\\System32\\whoami.exe', CommandLine: 'whoami /all' }), []);
  });
  test('flattened Security event', () => {
    assert.deepEqual(ids({ EventID: 4720, Channel: 'Security', TargetUserName: 'bob' }), [USER_ID]);
    assert.deepEqual(ids({ EventID: 4720, Channel: 'System' }), []);
  });
});

describe('pipelines as data', () => {
  test('a custom pipeline maps fields and logsources', () => {
    const p = parsePipeline('name: mine\nfields: { Image: proc.path }\nlogsources:\n  - match: { product: acme }\n    conditions: { vendor: acme }\n');
    const r = resolveLogsource(p, { product: 'acme' });
    assert.equal(r.mapField('Image'), 'proc.path');
    assert.deepEqual(r.conditions, [{ field: 'vendor', values: ['acme'] }]);
    assert.throws(() => r.mapField('Unknown'), (e: unknown) => e instanceof RuleError && e.code === 'RULE_ERR_UNSUPPORTED_FIELD');
    assert.throws(() => resolveLogsource(p, { product: 'other' }), (e: unknown) => e instanceof RuleError && e.code === 'RULE_ERR_UNSUPPORTED_LOGSOURCE');
  });
  test('schema errors name the path', () => {
    assert.throws(
      () => parsePipeline('name: x\nlogsources:\n  - match: { product: a }\n    bogus: 1\n'),
      (e: unknown) => e instanceof RuleError && e.code === 'RULE_ERR_SCHEMA' && /\/logsources\/0/.test(e.message) && /bogus/.test(e.message),
    );
  });
});
