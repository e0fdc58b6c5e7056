/**
 * The split of `match` into `prematch` (stateless: walk, probes, tests) and `applyPrematched`
 * (stateful: stats, matches, correlations). On a mix shaped like `npm run bench:rules` (SSH,
 * firewall, Sysmon, Security, web, KMS events through the collectors' parsers) over our packs
 * and a spread of SigmaHQ rules, three engines must agree event by event and end with the same
 * snapshot and stats: one calling `match`, one calling its own halves, and one applying what a
 * second engine compiled from the same rules (standing in for another thread) prematched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalise, normaliseJson, parseSyslog, type SourceContext } from '@xiangan/collectors';
import { builtinPipeline, compileRules, listRuleFiles, loadLists, loadRules, parseRuleText, type EngineOptions, type EventLike, type LoadedRule } from '../src/index.js';
import { PKG_ROOT, SHARED } from './helpers.js';

const T0 = Date.UTC(2026, 10, 30, 1, 0, 0);

/** Event `i` of a deterministic mix; `k` picks the template and its variable parts. */
function mixEvent(i: number): EventLike {
  const k = (i * 2654435761) >>> 0;
  const ip = `198.51.${k % 3}.${(k >>> 8) % 10 + 1}`;
  const user = `u${(k >>> 4) % 30}`;
  const ctx: SourceContext = { sourceId: 'mix', transport: 'udp', receivedAt: T0 + i * 250, timezone: 'Asia/Shanghai', eventId: `m${i}`, peer: { address: '192.0.2.7', port: 514 } };
  const line = (s: string): EventLike => normalise(parseSyslog(new TextEncoder().encode(s), { receivedAt: ctx.receivedAt, timezone: ctx.timezone }), ctx) as unknown as EventLike;
  const win = (o: unknown): EventLike => normaliseJson(o, { ...ctx, transport: 'http' }) as unknown as EventLike;
  const exe = ['cmd.exe', 'powershell.exe', 'certutil.exe', 'vssadmin.exe', 'wevtutil.exe', 'rundll32.exe', 'notepad.exe'][(k >>> 12) % 7];
  const arg = ['/c whoami', '-enc SQBFAFgA', 'delete shadows /all /quiet', '-urlcache -split -f http://x', 'cl Security', '-nop -w hidden', 'a.txt'][(k >>> 16) % 7];
  switch (k % 9) {
    case 0:
    case 1:
      return line(`<38>Nov 30 09:00:00 h${k % 5} sshd[7]: Failed password for ${user} from ${ip} port ${1024 + (k % 5000)} ssh2`);
    case 2:
      return line(`<38>Nov 30 09:00:00 h${k % 5} sshd[7]: Accepted password for ${user} from ${ip} port 50000 ssh2`);
    case 3:
      return line(`<4>Nov 30 09:00:00 fw1 kernel: [1.0] DROP IN=eth0 OUT= SRC=${ip} DST=10.0.0.${k % 9} LEN=60 PROTO=TCP SPT=40000 DPT=${[22, 23, 21, 3389, 8080][k % 5] + ((k >>> 20) % 3) * 1000} SYN`);
    case 4:
    case 5:
      return win({ Event: { System: { EventID: 1, Channel: 'Microsoft-Windows-Sysmon/Operational', Computer: `PC${k % 4}` }, EventData: { Image: `C:\\Windows\\System32\\${exe}`, CommandLine: `${exe} ${arg}`, ParentImage: 'C:\\Windows\\explorer.exe', User: `CORP\\${user}` } } });
    case 6:
      return win({ Event: { System: { EventID: [4625, 4624, 4720, 1102][k % 4], Channel: 'Security', Computer: 'DC1' }, EventData: { TargetUserName: user, IpAddress: ip, LogonType: '3' } } });
    case 7:
      return line(`<190>Nov 30 09:00:00 web1 nginx: ${ip} - - [30/Nov/2026:09:00:00 +0800] "GET /${['admin/login', 'wp-login.php', '../../etc/passwd', 'x'][k % 4]} HTTP/1.1" ${[200, 403, 404][k % 3]} 10 "-" "curl/8"`);
    default:
      return { id: `k${i}`, '@timestamp': new Date(ctx.receivedAt).toISOString(), event: { kind: 'event', module: 'xiangan', dataset: 'xiangan.kms', action: 'sm2-verify', outcome: k % 3 ? 'failure' : 'success' }, client: { ip: `10.2.0.${k % 3}` } };
  }
}

test('match ≡ applyPrematched(prematch) on the bench mix, also with the prematch half on a second engine', () => {
  const packs = loadRules(join(PKG_ROOT, 'packs')).rules;
  // Every eighth SigmaHQ process-creation rule (parsing only those keeps the test short).
  const files = listRuleFiles(join(SHARED, 'sigma', 'rules', 'windows', 'process_creation')).filter((_, i) => i % 8 === 0);
  const sigma = files.flatMap((f) => parseRuleText(readFileSync(f, 'utf8'), f));
  const rules: LoadedRule[] = [...packs, ...sigma];
  // A small group cap so evictions and their counters take part too.
  const opts: EngineOptions = { lists: loadLists(join(PKG_ROOT, 'lists')), onError: 'skip', maxGroups: 30 };
  const whole = compileRules(rules, builtinPipeline('ecs'), opts);
  const halves = compileRules(rules, builtinPipeline('ecs'), opts);
  const owner = compileRules(rules, builtinPipeline('ecs'), opts);
  const worker = compileRules(rules, builtinPipeline('ecs'), opts);
  assert.deepEqual(
    worker.detections.map((d) => d.id),
    owner.detections.map((d) => d.id),
    'positions are stable for the same rules and options',
  );
  assert.match(worker.tableId, /^[0-9a-f]{64}$/);
  assert.equal(worker.tableId, owner.tableId, 'the same rules give the same table id');
  let matches = 0;
  let correlated = 0;
  let none = 0;
  for (let i = 0; i < 3000; i++) {
    const ev = mixEvent(i);
    const a = whole.match(ev);
    const pre = halves.prematch(ev);
    if (pre === null) none++;
    else assert.ok(pre.length > 0, 'null, never an empty list');
    const b = halves.applyPrematched(ev, pre ?? []);
    const c = owner.applyPrematched(ev, worker.prematch(ev) ?? []);
    assert.deepEqual(b, a, `event ${i}: own halves`);
    assert.deepEqual(c, a, `event ${i}: halves on two engines`);
    matches += a.length;
    correlated += a.filter((m) => m.kind === 'correlation').length;
  }
  assert.ok(matches > 500 && correlated > 20 && none > 500, `the mix exercises the engine: ${matches} matches, ${correlated} correlations, ${none} without any`);
  assert.deepEqual(halves.snapshot(), whole.snapshot());
  assert.deepEqual(owner.snapshot(), whole.snapshot());
  assert.deepEqual(halves.stats(), whole.stats());
  const { evaluations, truncatedValues, ...stateful } = whole.stats();
  // The work counters belong to the engine that did the prematch; the rest to the state owner.
  assert.deepEqual({ ...owner.stats(), evaluations, truncatedValues }, { ...stateful, evaluations, truncatedValues });
  assert.equal(worker.stats().evaluations, evaluations);
  assert.ok(whole.stats().evictions > 0, 'evictions happened');
});

test('applyPrematched follows its own engine’s rule switches and refuses positions outside the table', () => {
  const rules = loadRules(join(PKG_ROOT, 'packs')).rules;
  const opts: EngineOptions = { lists: loadLists(join(PKG_ROOT, 'lists')) };
  const owner = compileRules(rules, builtinPipeline('ecs'), opts);
  const worker = compileRules(rules, builtinPipeline('ecs'), opts);
  let ev: EventLike | undefined;
  let pre: number[] | null = null;
  for (let i = 0; i < 200 && pre === null; i++) pre = worker.prematch((ev = mixEvent(i)));
  assert.ok(ev && pre, 'some mix event matches a pack rule');
  const id = owner.detections[pre[0]].id;
  owner.setRuleEnabled(id, false);
  assert.ok(!owner.applyPrematched(ev, pre).some((m) => m.ruleId === id));
  assert.throws(() => owner.applyPrematched(ev, [owner.detections.length]), RangeError);
  assert.throws(() => owner.applyPrematched(ev, [0.5]), RangeError);
  assert.throws(() => owner.prematch([] as unknown as EventLike), TypeError);
});

test('tableId changes when the detection table could differ', () => {
  const rules = loadRules(join(PKG_ROOT, 'packs')).rules;
  const opts: EngineOptions = { lists: loadLists(join(PKG_ROOT, 'lists')) };
  const id = compileRules(rules, builtinPipeline('ecs'), opts).tableId;
  // Another order numbers the detections differently.
  assert.notEqual(compileRules([...rules].reverse(), builtinPipeline('ecs'), opts).tableId, id);
  // An edited rule keeps its position but tests something else.
  const k = rules.findIndex((r) => r.doc.detection && !r.doc.correlation);
  const edited = rules.map((r, i) => (i === k ? { ...r, doc: { ...r.doc, detection: { sel: { 'event.action': 'x' }, condition: 'sel' } } } : r));
  assert.notEqual(compileRules(edited, builtinPipeline('ecs'), opts).tableId, id);
  // Another pipeline maps fields differently.
  assert.notEqual(compileRules(rules, builtinPipeline('identity'), { ...opts, onError: 'skip' }).tableId, id);
});
