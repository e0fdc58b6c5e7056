// Installing imported Sigma rules into the running detector over the API (real security layer,
// SQLite alert store, rule files in the data directory): role-checked, audited, validated, kept
// across a restart, and the reload keeps the open windows of unchanged correlations while events
// keep flowing.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EcsEvent } from '@xiangan/collectors';
import { BUILTIN_PACKS_DIR } from '@xiangan/rules';
import { importedRulesDir, loadDetectionEngine } from '../src/detection/detector.js';
import { as, firstLogin, harness, userOf, type Harness, type Session } from './auth-helpers.js';

const BRUTE_FORCE = '8f9c03e0-dcbf-5469-9624-e35c029e1c5c';
const SSH_FAILURE_TEXT = readFileSync(join(BUILTIN_PACKS_DIR, 'linux', 'ssh_auth_failure.yml'), 'utf8');
const ORACLE = '0b6c7d52-3f0e-4a8e-9c51-6a2d1e9f0a11';
const ORACLE_BURST = '5e2d9a44-8b7c-4f1d-a2e3-9c0b1d2e3f40';
const UNUSED = 'c3a1f7e2-5d4b-4e6a-8f9c-0a1b2c3d4e5f';

/** A detection on logins for `oracle`, a correlation on three of them, and a rule we leave out. */
const PASTED = `title: SSH login attempt for the oracle account
id: ${ORACLE}
name: custom_ssh_oracle_attempt
logsource:
  product: linux
  service: sshd
detection:
  selection:
    event.dataset: system.auth
    user.name: oracle
  condition: selection
level: medium
---
title: Oracle account attempts from one source
id: ${ORACLE_BURST}
correlation:
  type: event_count
  rules:
    - custom_ssh_oracle_attempt
  # Sigma correlation specification: base rules raise their own alerts only with generate.
  generate: true
  group-by:
    - source.ip
  timespan: 10m
  condition:
    gte: 3
level: high
---
title: Left out of the install
id: ${UNUSED}
logsource:
  product: linux
  service: sshd
detection:
  selection:
    user.name: nobody-at-all
  condition: selection
level: low
`;

const BROKEN_CORRELATION = `title: Refers to a rule nobody has
id: 9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a
correlation:
  type: event_count
  rules:
    - no_such_rule_anywhere
  group-by:
    - source.ip
  timespan: 5m
  condition:
    gte: 2
level: high
`;

let n = 0;
/** A failed SSH login as the collectors' syslog normaliser emits it (rules/packs samples). */
function sshFailure(at: string, user: string, ip: string): EcsEvent {
  return {
    id: `ev-${++n}`,
    '@timestamp': at,
    message: `Failed password for ${user} from ${ip} port 52100 ssh2`,
    event: { kind: 'event', module: 'system', dataset: 'system.auth', category: ['authentication'], type: ['start'], action: 'ssh_login', outcome: 'failure' },
    log: { syslog: { priority: 38, facility: { code: 4, name: 'auth' }, severity: { code: 6, name: 'info' }, hostname: 'web1', appname: 'sshd', procid: '123' } },
    host: { hostname: 'web1', name: 'web1', os: { type: 'linux' } },
    user: { name: user },
    source: { ip, port: 52100 },
    process: { name: 'sshd', pid: 123 },
  } as unknown as EcsEvent;
}
const at = (minute: number, second: number) => `2026-11-30T02:${String(minute).padStart(2, '0')}:${String(second).padStart(2, '0')}.000Z`;

describe('installing imported Sigma rules into the running detector', () => {
  let h: Harness;
  let secadmin: Session;
  let analyst: Session;
  let auditor: Session;
  const alertsOf = async (ruleId: string) => (await h.runtime.detection!.alerts.list({ ruleId, size: 100 })).alerts;

  before(async () => {
    h = await harness({ alerts: true });
    const admin = await firstLogin(h.app, 'admin', h.admin.password);
    secadmin = await userOf(h, admin, 'secadmin');
    analyst = await userOf(h, admin, 'analyst');
    auditor = await userOf(h, admin, 'auditadmin');
  });
  after(async () => h.close());

  test('only rules:write may install: the analyst is refused and nothing is written', async () => {
    const r = await as(h.app, analyst, 'POST', '/api/v1/detection/install-sigma', { rules: PASTED, install: [{ id: ORACLE, enabled: true }] });
    assert.equal(r.statusCode, 403);
    assert.equal(r.json().code, 'SOC_ERR_FORBIDDEN');
    assert.ok(!h.runtime.detection!.detector.engine.detections.some((d) => d.id === ORACLE));
  });

  test('install keeps the open brute-force window, adds the chosen rules, and they detect at once', async () => {
    const det = h.runtime.detection!.detector;
    // Six failures from one source: the built-in brute-force window (10 in 5 min) is open.
    await det.process([0, 1, 2, 3, 4, 5].map((i) => sshFailure(at(0, i * 5), 'root', '198.51.100.7')));
    assert.equal((await alertsOf(BRUTE_FORCE)).length, 0);
    // Events keep arriving while the install runs: they wait for it, none is lost.
    const during = det.process([6, 7].map((i) => sshFailure(at(0, i * 5), 'root', '198.51.100.7')));
    const r = await as(h.app, secadmin, 'POST', '/api/v1/detection/install-sigma', {
      rules: PASTED,
      install: [
        { id: ORACLE, enabled: true },
        { id: ORACLE_BURST, enabled: false },
      ],
    });
    assert.equal(r.statusCode, 200, r.body);
    await during;
    const b = r.json() as { installed: { id: string; enabled: boolean; replaced: boolean; kind: string }[]; reload: { keptGroups: number; droppedGroups: number } };
    assert.deepEqual(b.installed.map((x) => [x.id, x.kind, x.enabled, x.replaced]), [
      [ORACLE, 'detection', true, false],
      [ORACLE_BURST, 'correlation', false, false],
    ]);
    assert.ok(b.reload.keptGroups >= 1, JSON.stringify(b.reload));
    assert.equal(b.reload.droppedGroups, 0);
    // Two more failures make ten within five minutes: the window opened before the install fires.
    await det.process([8, 9].map((i) => sshFailure(at(0, i * 5), 'root', '198.51.100.7')));
    assert.equal((await alertsOf(BRUTE_FORCE)).length, 1);
    // The installed detection raises alerts; the installed-but-disabled correlation does not.
    await det.process([0, 1, 2].map((i) => sshFailure(at(1, i), 'oracle', '203.0.113.9')));
    assert.equal((await alertsOf(ORACLE)).length, 1);
    assert.equal((await alertsOf(ORACLE_BURST)).length, 0);
    assert.ok(!(await alertsOf(UNUSED)).length);

    const rules = (await as(h.app, secadmin, 'GET', '/api/v1/detection/rules')).json() as { rules: { id: string; enabled: boolean }[] };
    assert.deepEqual(
      rules.rules.filter((x) => x.id === ORACLE || x.id === ORACLE_BURST || x.id === UNUSED).map((x) => [x.id, x.enabled]),
      [[ORACLE, true], [ORACLE_BURST, false]],
    );
  });

  test('installed rules and their switches are persisted for the next start', async () => {
    const files = readdirSync(importedRulesDir(h.dir)).sort();
    assert.deepEqual(files, [`${ORACLE}.yml`, `${ORACLE_BURST}.yml`].sort());
    // What a restart compiles from the same configuration and data directory.
    const { engine } = loadDetectionEngine({ dataDir: h.dir, pipeline: h.runtime.config.alerts.pipeline });
    assert.ok(engine.detections.some((d) => d.id === ORACLE));
    assert.ok(engine.correlations.some((c) => c.id === ORACLE_BURST));
    assert.ok((await h.runtime.detection!.alerts.disabledRules()).has(ORACLE_BURST));
  });

  test('bad choices are a typed 400 and leave files and engine as they were', async () => {
    const det = h.runtime.detection!.detector;
    const engineBefore = det.engine;
    const filesBefore = readdirSync(importedRulesDir(h.dir)).sort();
    const cases: [string, { id: string; enabled: boolean }[], RegExp][] = [
      [PASTED, [{ id: 'not-in-the-text', enabled: true }], /not among the pasted rules/],
      [SSH_FAILURE_TEXT, [{ id: 'd4bb0582-6c90-5c9f-b4d5-2115fbbece95', enabled: true }], /built-in packs or a configured/],
      [BROKEN_CORRELATION, [{ id: '9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a', enabled: true }], /9d8c7b6a/],
    ];
    for (const [rules, install, why] of cases) {
      const r = await as(h.app, secadmin, 'POST', '/api/v1/detection/install-sigma', { rules, install });
      assert.equal(r.statusCode, 400, r.body);
      assert.equal(r.json().code, 'SOC_ERR_RULE_INSTALL');
      assert.match(r.json().message, why);
    }
    assert.equal(det.engine, engineBefore);
    assert.deepEqual(readdirSync(importedRulesDir(h.dir)).sort(), filesBefore);
  });

  test('every install, done or refused, is in the audit trail', async () => {
    const r = await as(h.app, auditor, 'GET', '/api/v1/audit?action=rule.install&limit=50');
    assert.equal(r.statusCode, 200, r.body);
    const items = (r.json() as { items: { actor: string; target: string; outcome: string }[] }).items;
    const ok = items.filter((i) => i.outcome === 'success').map((i) => i.target).sort();
    assert.deepEqual(ok, [ORACLE, ORACLE_BURST].sort());
    assert.equal(items.filter((i) => i.outcome === 'failure').length, 3);
    assert.ok(items.every((i) => i.actor === 'secadmin1'));
  });

  test('re-installing a changed correlation replaces it and starts its windows afresh', async () => {
    const det = h.runtime.detection!.detector;
    // One oracle attempt opens a window of the (disabled) correlation; switch it on first.
    const on = await as(h.app, secadmin, 'PUT', `/api/v1/detection/rules/${ORACLE_BURST}`, { enabled: true });
    assert.equal(on.statusCode, 200, on.body);
    await det.process([sshFailure(at(3, 0), 'oracle', '192.0.2.77')]);
    const changed = PASTED.replace('gte: 3', 'gte: 2');
    const r = await as(h.app, secadmin, 'POST', '/api/v1/detection/install-sigma', { rules: changed, install: [{ id: ORACLE_BURST, enabled: true }] });
    assert.equal(r.statusCode, 200, r.body);
    const b = r.json() as { installed: { replaced: boolean }[]; reload: { droppedGroups: number } };
    assert.equal(b.installed[0]!.replaced, true);
    assert.ok(b.reload.droppedGroups >= 1, JSON.stringify(b.reload));
    // The dropped window held one attempt: one more is not yet two under the new rule.
    await det.process([sshFailure(at(3, 10), 'oracle', '192.0.2.77')]);
    assert.equal((await alertsOf(ORACLE_BURST)).filter((a) => a.group['source.ip'] === '192.0.2.77').length, 0);
    await det.process([sshFailure(at(3, 20), 'oracle', '192.0.2.77')]);
    assert.equal((await alertsOf(ORACLE_BURST)).filter((a) => a.group['source.ip'] === '192.0.2.77').length, 1);
  });
  test('a rule file dropped into a rule directory is loaded by POST /api/v1/detection/reload, windows kept', async () => {
    const det = h.runtime.detection!.detector;
    await det.process([sshFailure(at(5, 0), 'root', '192.0.2.200')]);
    const id = '7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
    writeFileSync(join(importedRulesDir(h.dir), 'dropped.yml'), `title: Dropped in\nid: ${id}\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  selection:\n    user.name: dropped\n  condition: selection\nlevel: low\n`);
    assert.equal((await as(h.app, analyst, 'POST', '/api/v1/detection/reload')).statusCode, 403);
    const r = await as(h.app, secadmin, 'POST', '/api/v1/detection/reload');
    assert.equal(r.statusCode, 200, r.body);
    assert.ok((r.json() as { keptGroups: number }).keptGroups >= 1);
    assert.ok(det.engine.detections.some((d) => d.id === id));
    await det.process([sshFailure(at(5, 10), 'dropped', '192.0.2.201')]);
    assert.equal((await alertsOf(id)).length, 1);
  });
  test('installed rules are listed and removed; a base rule a correlation still needs is kept', async () => {
    const ids = async () => ((await as(h.app, analyst, 'GET', '/api/v1/detection/installed')).json() as { ids: string[] }).ids;
    assert.ok((await ids()).includes(ORACLE) && (await ids()).includes(ORACLE_BURST));
    assert.equal((await as(h.app, analyst, 'DELETE', `/api/v1/detection/installed/${ORACLE_BURST}`)).statusCode, 403);
    const needed = await as(h.app, secadmin, 'DELETE', `/api/v1/detection/installed/${ORACLE}`);
    assert.equal(needed.statusCode, 400, needed.body);
    assert.equal(needed.json().code, 'SOC_ERR_RULE_INSTALL');
    assert.match(needed.json().message, new RegExp(ORACLE_BURST));
    assert.ok(readdirSync(importedRulesDir(h.dir)).includes(`${ORACLE}.yml`), 'the refused removal left the file');
    for (const id of [ORACLE_BURST, ORACLE]) assert.equal((await as(h.app, secadmin, 'DELETE', `/api/v1/detection/installed/${id}`)).statusCode, 200);
    assert.equal((await as(h.app, secadmin, 'DELETE', '/api/v1/detection/installed/never-installed')).statusCode, 404);
    const det = h.runtime.detection!.detector;
    assert.ok(!det.engine.detections.some((d) => d.id === ORACLE) && !det.engine.correlations.some((c) => c.id === ORACLE_BURST));
    assert.deepEqual(readdirSync(importedRulesDir(h.dir)), ['dropped.yml']);
    assert.ok(!(await ids()).includes(ORACLE));
  });
});
