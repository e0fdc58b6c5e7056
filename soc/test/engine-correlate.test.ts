// Correlation rules as aggregations on real Elasticsearch and OpenSearch nodes: the shipped
// brute-force rule (event_count over an exactly translated base rule), an inline value_count, and
// an event_count over a keyword rule whose query is a superset (buckets verified by reading their
// events). The streaming engine over the same events is the reference, match for match (time,
// window, count, event ids): bursts inside one block, a burst that straddles a block boundary
// (tumbling windows would miss it), and a pair of blocks that qualifies by count while no sliding
// window does.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN_PACKS_DIR, builtinPipeline, compileRules, loadRules, type EventLike, type LoadedRule, type RuleMatch } from '@xiangan/rules';
import type { EcsEvent } from '@xiangan/collectors';
import { SocError } from '../src/errors.js';
import { correlateByAggregation } from '../src/storage/engine-correlate.js';
import { engineUrl, openEngineStore, type EngineKind } from './engine-env.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './cli-run.js';


const W0 = Date.UTC(2026, 10, 20, 10, 0); // a multiple of 5 minutes
const FROM = '2026-11-20T00:00:00.000Z';
const TO = '2026-11-21T00:00:00.000Z';

function failure(i: number, ip: string, t: number, user = 'root'): EcsEvent {
  return {
    id: `c${String(i).padStart(5, '0')}`,
    '@timestamp': new Date(t).toISOString(),
    message: `Failed password for ${user} from ${ip} port 52100 ssh2`,
    event: { kind: 'event', module: 'system', dataset: 'system.auth', category: ['authentication'], action: 'ssh_login', outcome: 'failure' },
    log: { syslog: { appname: 'sshd', hostname: 'web1' } },
    host: { name: 'web1', os: { type: 'linux' } },
    user: { name: user },
    source: { ip, port: 52100 },
  } as EcsEvent;
}

function events(): EcsEvent[] {
  const out: EcsEvent[] = [];
  let i = 0;
  // A: 12 failures in one window; B: 9 (below 10); C: 10 in the second window; D: 4 users.
  for (let k = 0; k < 12; k++) out.push(failure(i++, '203.0.113.1', W0 + k * 20_000));
  for (let k = 0; k < 9; k++) out.push(failure(i++, '203.0.113.2', W0 + k * 25_000));
  for (let k = 0; k < 10; k++) out.push(failure(i++, '203.0.113.3', W0 + 300_000 + k * 29_000));
  ['alice', 'bob', 'carol', 'dave', 'alice'].forEach((u, k) => out.push(failure(i++, '203.0.113.4', W0 + 600_000 + k * 1000, u)));
  // E: 5 + 5 failures within 100 s across the 10:15 boundary; F: 6 early in one block, 6 late in the next.
  for (let k = 0; k < 10; k++) out.push(failure(i++, '203.0.113.5', W0 + 900_000 - 50_000 + k * 10_000));
  for (let k = 0; k < 6; k++) out.push(failure(i++, '203.0.113.6', W0 + 1_200_000 + k * 1000));
  for (let k = 0; k < 6; k++) out.push(failure(i++, '203.0.113.6', W0 + 1_800_000 - 6000 + k * 1000));
  // G: three users either side of the 10:40 boundary, within 30 s (value_count straddling).
  ['u1', 'u2', 'u3'].forEach((u, k) => out.push(failure(i++, '203.0.113.7', W0 + 2_400_000 - 15_000 + k * 10_000, u)));
  // Noise: successes.
  for (let k = 0; k < 30; k++) out.push({ ...failure(i++, '203.0.113.1', W0 + k * 7000), event: { kind: 'event', module: 'system', dataset: 'system.auth', category: ['authentication'], action: 'ssh_login', outcome: 'success' }, message: 'Accepted password for root' } as EcsEvent);
  return out;
}

const inline = (doc: Record<string, unknown>): LoadedRule => ({ source: `${String(doc['name'])}.yml`, doc });
const KW_BASE = inline({ title: 'kw failed', id: 'kw-failed', name: 'kw_failed', status: 'test', level: 'low', logsource: { product: 'linux', service: 'sshd' }, detection: { k: ['Failed password'], condition: 'k' } });
const KW_CORR = inline({ title: 'kw burst', id: 'kw-burst', name: 'kw_burst', status: 'test', level: 'high', correlation: { type: 'event_count', rules: ['kw_failed'], 'group-by': ['source.ip'], timespan: '5m', condition: { gte: 10 } } });
const SPRAY = inline({ title: 'spray', id: 'spray', name: 'spray', status: 'test', level: 'high', correlation: { type: 'value_count', rules: ['xiangan_ssh_auth_failure'], 'group-by': ['source.ip'], timespan: '5m', condition: { gte: 3, field: 'user.name' } } });

/** What the streaming engine reports for one correlation over the same events, in time order (the reference). */
function engineMatches(rules: LoadedRule[], corrId: string, evs: EcsEvent[]): unknown[] {
  const engine = compileRules(rules, builtinPipeline('ecs'), { onError: 'skip' });
  const out: RuleMatch[] = [];
  for (const ev of [...evs].sort((a, b) => (a['@timestamp'] < b['@timestamp'] ? -1 : a['@timestamp'] > b['@timestamp'] ? 1 : a.id < b.id ? -1 : 1))) {
    for (const m of engine.match(ev as unknown as EventLike)) if (m.ruleId === corrId) out.push(m);
  }
  for (const m of engine.flush(TO)) if (m.ruleId === corrId) out.push(m);
  return view(out);
}

const view = (ms: RuleMatch[]): unknown[] => ms.map((m) => [m.time, m.groupKey, m.correlation!.count, m.correlation!.windowStart, m.eventIds]);

for (const kind of ['es', 'os'] as EngineKind[]) {
  describe(`${kind}: correlations as aggregations`, () => {
    test('event_count (shipped brute-force rule), value_count, and a verified superset', async () => {
      const { store, dispose, prefix } = await openEngineStore(kind);
      try {
        const evs = events();
        await store.write(evs);
        const packs = loadRules(BUILTIN_PACKS_DIR).rules;
        const brute = packs.find((r) => r.doc['name'] === 'xiangan_ssh_brute_force')!;
        const pipeline = builtinPipeline('ecs');

        const r1 = await correlateByAggregation(store, brute, packs, pipeline, { from: FROM, to: TO });
        assert.equal(r1.exact, true);
        assert.deepEqual(r1.matches.map((m) => [m.group!['source.ip'], m.correlation!.count]), [
          ['203.0.113.1', 10],
          ['203.0.113.3', 10],
          ['203.0.113.5', 10],
        ]);
        assert.equal(r1.verified, 4, 'A, C, E and the pair of F; B never qualifies');
        assert.deepEqual(view(r1.matches), engineMatches(packs, brute.doc['id'] as string, evs));

        const r2 = await correlateByAggregation(store, SPRAY, packs, pipeline, { from: FROM, to: TO });
        assert.deepEqual(r2.matches.map((m) => [m.group!['source.ip'], m.correlation!.count]), [
          ['203.0.113.4', 3],
          ['203.0.113.7', 3],
        ]);
        assert.deepEqual(view(r2.matches), engineMatches([...packs, SPRAY], 'spray', evs));

        const r3 = await correlateByAggregation(store, KW_CORR, [KW_BASE], pipeline, { from: FROM, to: TO });
        assert.equal(r3.exact, false);
        assert.deepEqual(view(r3.matches), engineMatches([KW_BASE, KW_CORR], 'kw-burst', evs));
        assert.equal(r3.matches.length, 3);

        // The CLI over the shipped packs prints the correlation lines a hunt prints for the same rules.
        const dir = mkdtempSync(join(tmpdir(), 'xa-agg-'));
        try {
          writeFileSync(join(dir, 'x.yaml'), `data: ${join(dir, 'data')}\nstorage:\n  backend: ${kind === 'es' ? 'elasticsearch' : 'opensearch'}\n  engine:\n    nodes: ['${engineUrl(kind)}']\n    prefix: ${prefix}\n`);
          const args = [BUILTIN_PACKS_DIR, '--from', FROM, '--to', TO, '--config', join(dir, 'x.yaml')];
          const agg = await runCli(['rules', 'aggregate', ...args], dir);
          assert.equal(agg.code, 0, agg.err);
          const hunt = await runCli(['rules', 'hunt', ...args], dir);
          assert.equal(hunt.code, 0, hunt.err);
          const lines = (out: string) => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { ruleId: string; kind: string; correlation?: { type: string }; eventIds?: string[]; group?: unknown });
          const key = (l: ReturnType<typeof lines>[number]) => JSON.stringify([l.ruleId, l.correlation, l.eventIds, l.group]);
          const aggregated = lines(agg.out);
          assert.ok(aggregated.filter((l) => l.ruleId === brute.doc['id']).length === 3, agg.out);
          const hunted = lines(hunt.out).filter((l) => l.kind === 'correlation' && (l.correlation?.type === 'event_count' || l.correlation?.type === 'value_count'));
          assert.deepEqual(aggregated.map(key).sort(), hunted.map(key).sort());
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      } finally {
        await dispose();
      }
    });
  });
}

test('temporal correlations are refused with SOC_ERR_QUERY (they need the event order)', async () => {
  const { store, dispose } = await openEngineStore('es');
  try {
    const t = inline({ title: 't', id: 't', name: 't', status: 'test', level: 'high', correlation: { type: 'temporal', rules: ['xiangan_ssh_auth_failure', 'kw_failed'], 'group-by': ['source.ip'], timespan: '5m' } });
    await assert.rejects(correlateByAggregation(store, t, [KW_BASE], builtinPipeline('ecs'), { from: FROM, to: TO }), (e: unknown) => e instanceof SocError && e.code === 'SOC_ERR_QUERY');
  } finally {
    await dispose();
  }
});
