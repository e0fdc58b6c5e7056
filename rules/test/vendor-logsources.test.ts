/**
 * Vendor logsources of the ECS pipeline resolve against events as the collectors' real parsers
 * produce them (regression: FortiGate events carry observer.vendor "Fortinet", product "FortiGate").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseText } from '@xiangan/collectors';
import { builtinPipeline, compileRules } from '../src/index.js';
import { rule } from './helpers.js';

const ctx = { sourceId: 'fw', transport: 'udp' as const, receivedAt: Date.UTC(2026, 10, 29, 0), timezone: 'Asia/Shanghai', eventId: 'ev-1' };
const fortigate =
  'date=2026-11-29 time=08:00:00 devname="FGT60F-HQ" devid="FGT60FTK21000001" logid="0000000013" type="traffic" subtype="forward" level="notice" srcip=10.1.1.5 srcport=51234 dstip=8.8.8.8 dstport=443 action="deny" policyid=1 proto=6';

test('product fortigate rules match events the FortiGate parser produced', () => {
  const ev = normaliseText(fortigate, ctx) as unknown as Record<string, unknown>;
  const engine = compileRules(
    [rule({ sel: { 'destination.port': 443 }, condition: 'sel' }, { id: 'fg', logsource: { product: 'fortigate' } })],
    builtinPipeline('ecs'),
  );
  assert.deepEqual(engine.match(ev).map((m) => m.ruleId), ['fg']);
  // The same line's fields under another vendor's logsource do not match.
  const cisco = compileRules(
    [rule({ sel: { 'destination.port': 443 }, condition: 'sel' }, { id: 'c', logsource: { product: 'cisco' } })],
    builtinPipeline('ecs'),
  );
  assert.deepEqual(cisco.match(ev), []);
});
