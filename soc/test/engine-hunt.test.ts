// Hunts over history on real Elasticsearch and OpenSearch nodes: the events the rules' Query DSL
// selects, run through the streaming engine, must give the same matches as replaying every stored
// event (what `rules hunt` does on SQLite), while reading fewer events. The rules are the shipped
// packs with their hand-written samples as the stored events, plus inline rules that exercise the
// modifiers whose translation is subtle (case, wildcards and escapes, `re`, `cidr`, null, `not`,
// keywords on the analysed message).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN_PACKS_DIR, builtinPipeline, compileRules, loadRules, type EventLike, type LoadedRule, type RuleMatch } from '@xiangan/rules';
import type { EcsEvent } from '@xiangan/collectors';
import { engineFieldTypes, huntEvents, planHunt } from '../src/storage/engine-hunt.js';
import { MATCH_ALL, sigmaToDsl } from '../src/storage/engine-sigma.js';
import type { SearchEngineEventStore } from '../src/storage/search-engine.js';
import { openEngineStore, engineUrl, type EngineKind } from './engine-env.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Readable, Writable } from 'node:stream';
import { main } from '../src/cli/main.js';
import { openSqliteStore } from '../src/storage/sqlite.js';

async function cli(args: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void) => new Writable({ write(c, _e, cb) { f(String(c)); cb(); } });
  const code = await main(args, { stdin: Readable.from([]), stdout: sink((x) => (out += x)), stderr: sink((x) => (err += x)), env: {}, cwd });
  return { code, out, err };
}

const BASE = Date.UTC(2026, 10, 20, 8);
// Wide enough for the packs' samples, which carry their own times (2025, 2026).
const FROM = '2020-01-01T00:00:00.000Z';
const TO = '2030-01-01T00:00:00.000Z';

/** The packs' ECS rules and their samples as stored events (ids and missing times filled in). */
function packs(): { rules: LoadedRule[]; events: EcsEvent[] } {
  const rules = loadRules(BUILTIN_PACKS_DIR).rules.filter((r) => ((r.doc['x-xiangan'] as { pipeline?: string } | undefined)?.pipeline ?? 'ecs') === 'ecs');
  const events: EcsEvent[] = [];
  let n = 0;
  rules.forEach((r, ri) => {
    const s = (r.doc['x-xiangan'] as { samples?: { match?: unknown[]; nomatch?: unknown[] } } | undefined)?.samples;
    for (const sample of [...(s?.match ?? []), ...(s?.nomatch ?? [])]) {
      for (const ev of (Array.isArray(sample) ? sample : [sample]) as Record<string, unknown>[]) {
        n++;
        const ts = typeof ev['@timestamp'] === 'string' && Number.isFinite(Date.parse(ev['@timestamp'])) ? ev['@timestamp'] : new Date(BASE + ri * 60_000 + n * 1000).toISOString();
        events.push({ ...ev, id: `p${String(n).padStart(5, '0')}`, '@timestamp': ts } as EcsEvent);
      }
    }
  });
  return { rules, events };
}

const doc = (id: string, detection: Record<string, unknown>, logsource: Record<string, string> = { product: 'linux', service: 'sshd' }): LoadedRule => ({
  source: `${id}.yml`,
  doc: { title: id, id, status: 'test', level: 'medium', logsource, detection },
});

const INLINE: LoadedRule[] = [
  doc('kw-contains-all', { sel: { '|all': ['Failed password', 'from 10.'] }, condition: 'sel' }),
  doc('user-case', { sel: { 'user.name': 'ROOT' }, condition: 'sel' }),
  doc('wild-q', { sel: { 'user.name': 'adm?n' }, condition: 'sel' }),
  doc('escaped-star', { sel: { 'process.command_line|contains': 'a\\*b' }, condition: 'sel' }),
  doc('starts-ends', { sel: { 'process.executable|endswith': '/CURL', 'process.command_line|startswith': 'bash -' }, condition: 'sel' }),
  doc('re', { sel: { 'process.command_line|re': 'curl\\s+-[so]+\\s+http' }, condition: 'sel' }),
  doc('cidr', { sel: { 'source.ip|cidr': '10.1.0.0/16' }, condition: 'sel' }),
  doc('null-user', { sel: { 'event.outcome': 'failure' }, nouser: { 'user.name': null }, condition: 'sel and nouser' }),
  doc('not-filter', { sel: { 'event.outcome': 'failure' }, filter_a: { 'user.name': ['alice', 'bob'] }, filter_b: { 'source.ip|cidr': '10.1.0.0/16' }, condition: 'sel and not 1 of filter_*' }),
  doc('keywords', { keywords: ['invalid user', 'Disconnected'], condition: 'keywords' }),
  doc('two-of', { a: { 'user.name': 'root' }, b: { 'event.outcome': 'failure' }, c: { 'source.port|gte': 40000 }, condition: '2 of them' }),
  doc('unicode-case', { sel: { 'user.name': 'ÉLODIE' }, condition: 'sel' }),
];

function inlineEvents(): EcsEvent[] {
  const users = ['root', 'Root', 'admin', 'admxn', 'alice', 'bob', 'élodie', undefined];
  const cmds = ['bash -c id', 'a*b c', 'axb', 'curl -s http://x', 'CURL  -o http://y', 'ls'];
  const msgs = ['Failed password for root from 10.1.2.3 port 22', 'Invalid user bob from 10.9.9.9', 'Disconnected from 10.1.1.1', 'Accepted publickey for alice', 'failed password from 10.2.3.4'];
  return Array.from({ length: 240 }, (_, i) => {
    const user = users[i % users.length];
    return {
      id: `i${String(i).padStart(4, '0')}`,
      '@timestamp': new Date(BASE + 86_400_000 + i * 7000).toISOString(),
      message: msgs[i % msgs.length]!,
      event: { outcome: i % 3 ? 'success' : 'failure', category: ['authentication'] },
      log: { syslog: { appname: 'sshd' } },
      host: { os: { type: 'linux' } },
      source: { ip: `10.${i % 4}.${i % 7}.${i % 250}`, port: 39990 + (i % 20) },
      process: { executable: i % 2 ? '/bin/bash' : '/usr/bin/curl', command_line: cmds[i % cmds.length]! },
      ...(user ? { user: { name: user } } : {}),
    } as EcsEvent;
  });
}

const key = (m: RuleMatch) => JSON.stringify([m.ruleId, m.kind, m.eventIds, m.groupKey ?? null]);

async function compare(store: SearchEngineEventStore, rules: LoadedRule[]): Promise<{ all: string[]; hunt: string[]; read: number; stored: number; exact: number; translated: number }> {
  const pipeline = builtinPipeline('ecs');
  const replay = async (events: AsyncIterable<EcsEvent>) => {
    const engine = compileRules(rules, pipeline, { onError: 'skip' });
    const out: string[] = [];
    let n = 0;
    for await (const ev of events) {
      n++;
      for (const m of engine.match(ev as unknown as EventLike)) out.push(key(m));
    }
    for (const m of engine.flush(TO)) out.push(key(m));
    return { out, n };
  };
  const everything = async function* () {
    for await (const x of store.scan(MATCH_ALL, { from: FROM, to: TO })) yield x.event;
  };
  const all = await replay(everything());
  const plan = planHunt(rules, pipeline, await engineFieldTypes(store), 64);
  const hunt = await replay(huntEvents(store, plan, { from: FROM, to: TO, pageSize: 50 }));
  return { all: all.out, hunt: hunt.out, read: hunt.n, stored: all.n, exact: plan.exact, translated: plan.rules };
}

for (const kind of ['es', 'os'] as EngineKind[]) {
  describe(`${kind}: Sigma hunts through Query DSL`, () => {
    test('the shipped packs over their samples: the same matches as replaying every stored event', async () => {
      const { store, dispose } = await openEngineStore(kind);
      try {
        const { rules, events } = packs();
        await store.write(events);
        const r = await compare(store, rules);
        assert.ok(r.all.length >= 20, `the samples raise matches (${r.all.length})`);
        assert.deepEqual(r.hunt, r.all);
        assert.ok(r.read < r.stored, `the hunt read ${r.read} of ${r.stored} events`);
        assert.ok(r.translated >= rules.length / 2);
      } finally {
        await dispose();
      }
    });

    test('modifiers, case, wildcards, escapes, re, cidr, null, not and keywords: same matches; exact translations read only their matches', async () => {
      const { store, dispose } = await openEngineStore(kind);
      try {
        await store.write(inlineEvents());
        const r = await compare(store, INLINE);
        assert.deepEqual(r.hunt, r.all);
        for (const id of ['kw-contains-all', 'user-case', 'wild-q', 'escaped-star', 'starts-ends', 're', 'cidr', 'null-user', 'not-filter', 'keywords', 'two-of', 'unicode-case']) {
          assert.ok(r.all.some((k) => k.startsWith(`["${id}"`)), `${id} matched something`);
        }
        // Rule by rule: the same matches, and an exact translation reads only its matches.
        let exact = 0;
        for (const rule of INLINE) {
          const one = await compare(store, [rule]);
          assert.deepEqual(one.hunt, one.all, rule.source);
          assert.ok(one.read <= one.stored);
          if (one.exact === 1) {
            exact++;
            assert.equal(one.read, one.all.length, `${rule.source} is exact: reads only its matches`);
          }
        }
        assert.ok(exact >= 5, `${exact} inline rules translate exactly`);
      } finally {
        await dispose();
      }
    });
  });
}

test('sigmaToDsl: not over an inexact selection widens, never narrows', () => {
  const typeOf = (p: string) => (p === 'message' ? 'text' : 'keyword');
  const q = sigmaToDsl(doc('x', { sel: { 'user.name': 'root' }, f: ['error'], condition: 'sel and not f' }), builtinPipeline('ecs'), typeOf);
  assert.equal(q.exact, false);
  // `not f` cannot be excluded by the index (message is analysed text): only `sel` and the logsource remain.
  assert.ok(!JSON.stringify(q.sup).includes('must_not'));
  assert.ok(JSON.stringify(q.sup).includes('"case_insensitive":true'));
});

for (const kind of ['es', 'os'] as EngineKind[]) {
  test(`${kind}: xiangan rules hunt --config (engine backend) prints what the SQLite hunt prints`, async () => {
    const { store, prefix, dispose } = await openEngineStore(kind);
    const dir = mkdtempSync(join(tmpdir(), 'xa-hunt-'));
    try {
      const { events } = packs();
      await store.write(events);
      const sqlite = await openSqliteStore({ dir: join(dir, 'data') });
      await sqlite.write(events);
      await sqlite.close();
      const backend = kind === 'es' ? 'elasticsearch' : 'opensearch';
      writeFileSync(join(dir, 'engine.yaml'), `data: ${join(dir, 'data')}\nstorage:\n  backend: ${backend}\n  engine:\n    nodes: ['${engineUrl(kind)}']\n    prefix: ${prefix}\n`);
      const args = ['rules', 'hunt', BUILTIN_PACKS_DIR, '--from', FROM, '--to', TO];
      const onEngine = await cli([...args, '--config', join(dir, 'engine.yaml')], dir);
      const onSqlite = await cli([...args, '--data', join(dir, 'data')], dir);
      assert.equal(onEngine.code, 0, onEngine.err);
      assert.equal(onSqlite.code, 0, onSqlite.err);
      assert.ok(onSqlite.out.split('\n').length > 20);
      assert.equal(onEngine.out, onSqlite.out);
      assert.match(onEngine.err, /selected by \d+ searches/);
      // xiangan search --config reads the same cluster.
      const q = ['search', 'event.outcome:failure', '--from', FROM, '--to', TO, '--size', '500', '--json'];
      const sEngine = await cli([...q, '--config', join(dir, 'engine.yaml')], dir);
      const sSqlite = await cli([...q, '--data', join(dir, 'data')], dir);
      assert.equal(sEngine.code, 0, sEngine.err);
      assert.ok(sSqlite.out.split('\n').length > 10);
      assert.equal(sEngine.out, sSqlite.out);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await dispose();
    }
  });
}
