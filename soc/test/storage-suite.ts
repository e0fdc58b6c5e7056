// The conformance suite every EventStore backend passes (SQLite here; Elasticsearch and
// OpenSearch call the same function with their own `open`). A populated store is searched with
// every query form, each checked against an independent oracle: a plain JavaScript predicate over
// the same generated events. Not a test file by itself: `storage.test.ts` runs it.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { EcsEvent } from '@xiangan/collectors';
import type { EventStore } from '../src/storage/types.js';
import { parseQuery } from '../src/query/parse.js';
import { SocError } from '../src/errors.js';

/** A fresh, empty store of the backend under test, and how to dispose of it. */
export type OpenStore = () => Promise<{ store: EventStore; dispose: () => Promise<void> }>;

const USERS = ['root', 'admin', 'alice', '张伟', 'bob'];
const OUTCOMES = ['success', 'failure'] as const;
const APPS = ['sshd', 'sudo', 'nginx', 'kernel'];
const DAY0 = Date.parse('2026-11-25T00:00:00Z');

/** 600 events over 4 days with fields cycling at co-prime periods, so every combination occurs. */
function makeEvents(): EcsEvent[] {
  const out: EcsEvent[] = [];
  for (let i = 0; i < 600; i++) {
    const ts = new Date(DAY0 + i * 9 * 60_000 + (i % 7) * 1000).toISOString();
    const user = USERS[i % 5]!;
    const outcome = OUTCOMES[i % 2]!;
    const app = APPS[i % 4]!;
    const src = i % 3 === 0 ? `10.1.${i % 11}.${i % 250}` : i % 3 === 1 ? `192.168.${i % 7}.${(i * 7) % 256}` : `2001:db8::${(i % 50).toString(16)}`;
    out.push({
      id: `ev-${String(i).padStart(4, '0')}`,
      '@timestamp': ts,
      message: `${app}[${i}]: ${outcome === 'failure' ? 'Failed password' : 'Accepted password'} for ${user} from ${src} port ${1000 + i}${i % 10 === 0 ? ' 登录失败' : ''}`,
      event: { category: i % 6 === 0 ? ['authentication', 'session'] : ['authentication'], outcome, action: `${app}-login`, severity: i % 8 },
      source: { ip: src, port: 1000 + i },
      destination: { ip: '10.0.0.1', port: i % 2 ? 22 : 443 },
      user: { name: user },
      host: { name: `host-${i % 3}` },
      log: { syslog: { appname: app } },
      // A key with a dot, as the collectors label every event (`xiangan.source`).
      labels: { shift: i % 4 === 0 ? 'night' : 'day', 'xiangan.source': i % 5 === 0 ? 'syslog-udp' : 'syslog-tcp' },
      related: { ip: [src, '10.0.0.1'] },
    });
  }
  return out;
}

/** The 600 fixture events (4 days, 2026-11-25 … 2026-11-28). */
export const EVENTS = makeEvents();
const inCidr4 = (ip: string, a: number, b?: number) => ip.startsWith(`${a}.`) && (b === undefined || ip.split('.')[1] === String(b));

/**
 * Register the conformance tests for one backend.
 *
 * @example
 * ```ts
 * eventStoreSuite('sqlite', async () => { const dir = mkdtempSync(…); const store = await openSqliteStore({ dir });
 *   return { store, dispose: async () => { await store.close(); rmSync(dir, { recursive: true }); } }; });
 * ```
 */
export function eventStoreSuite(name: string, open: OpenStore): void {
  describe(`EventStore conformance: ${name}`, () => {
    let store: EventStore;
    let dispose: () => Promise<void>;
    before(async () => {
      ({ store, dispose } = await open());
      const r = await store.write(EVENTS);
      assert.deepEqual(r, { written: 600, duplicates: 0 });
    });
    after(async () => dispose());

    test('writes are idempotent by id', async () => {
      const r = await store.write([...EVENTS.slice(0, 50), { ...EVENTS[0]!, message: 'changed' }]);
      assert.deepEqual(r, { written: 0, duplicates: 51 });
      assert.equal((await store.get('ev-0000'))?.message, EVENTS[0]!.message);
      assert.equal((await store.stats()).events, 600);
    });

    test('partitions by UTC day', async () => {
      const st = await store.stats();
      const expected = new Map<string, number>();
      for (const e of EVENTS) expected.set(e['@timestamp'].slice(0, 10), (expected.get(e['@timestamp'].slice(0, 10)) ?? 0) + 1);
      assert.deepEqual(st.days, [...expected].map(([day, events]) => ({ day, events })));
    });

    const cases: Array<[string, (e: EcsEvent) => boolean]> = [
      ['', () => true],
      ['user.name:root', (e) => e.user?.name === 'root'],
      ['user.name:"张伟"', (e) => e.user?.name === '张伟'],
      ['user.name:root AND event.outcome:failure', (e) => e.user?.name === 'root' && e.event.outcome === 'failure'],
      ['user.name:root OR user.name:alice', (e) => e.user?.name === 'root' || e.user?.name === 'alice'],
      ['user.name:(root OR alice) -event.outcome:success', (e) => ['root', 'alice'].includes(e.user!.name!) && e.event.outcome !== 'success'],
      ['NOT user.name:root', (e) => e.user?.name !== 'root'],
      ['(user.name:root OR user.name:bob) AND NOT log.syslog.appname:sshd', (e) => ['root', 'bob'].includes(e.user!.name!) && e.log?.syslog?.appname !== 'sshd'],
      ['user.name:a*', (e) => e.user!.name!.startsWith('a')],
      ['user.name:?ob', (e) => /^.ob$/.test(e.user!.name!)],
      ['source.ip:10.0.0.0/8', (e) => inCidr4(e.source!.ip!, 10)],
      ['source.ip:192.168.3.0/24', (e) => e.source!.ip!.startsWith('192.168.3.')],
      ['source.ip:2001:db8::/32', (e) => e.source!.ip!.startsWith('2001:db8:')],
      ['source.ip:10.1.2.24', (e) => e.source!.ip === '10.1.2.24'],
      ['related.ip:192.168.0.0/16', (e) => e.related!.ip!.some((ip) => ip.startsWith('192.168.'))],
      ['destination.port:22', (e) => e.destination!.port === 22],
      ['source.port:[1100 TO 1200]', (e) => e.source!.port! >= 1100 && e.source!.port! <= 1200],
      ['source.port:{1100 TO 1200}', (e) => e.source!.port! > 1100 && e.source!.port! < 1200],
      ['source.port:[1500 TO *]', (e) => e.source!.port! >= 1500],
      ['event.severity:>=6', (e) => (e.event.severity as number) >= 6],
      ['event.severity<2', (e) => (e.event.severity as number) < 2],
      ['event.category:session', (e) => e.event.category!.includes('session')],
      ['labels.shift:night', (e) => e.labels?.shift === 'night'],
      ['labels.shift:*', () => true],
      ['labels.xiangan.source:syslog-udp', (e) => e.labels?.['xiangan.source'] === 'syslog-udp'],
      ['labels.xiangan.source:syslog-*', () => true],
      ['process.pid:*', () => false],
      ['host.name:host-1 AND event.action:sudo-login', (e) => e.host?.name === 'host-1' && e.event.action === 'sudo-login'],
      ['failed', (e) => /failed/i.test(e.message!)],
      ['"failed password" root', (e) => /Failed password/.test(e.message!) && /\broot\b/.test(e.message!)],
      ['accept*', (e) => /\baccept/i.test(e.message!)],
      ['登录失败', (e) => e.message!.includes('登录失败')],
      ['@timestamp:[2026-11-26T00:00:00Z TO 2026-11-26T12:00:00Z]', (e) => e['@timestamp'] >= '2026-11-26T00:00:00' && e['@timestamp'] <= '2026-11-26T12:00:00.000Z'],
      ['id:ev-0042', (e) => e.id === 'ev-0042'],
    ];
    for (const [q, pred] of cases) {
      test(`query ${JSON.stringify(q)} matches the oracle`, async () => {
        const expected = EVENTS.filter(pred).map((e) => e.id).sort();
        const res = await store.search({ query: parseQuery(q), size: 10_000, sort: 'asc' });
        assert.equal(res.total, expected.length);
        assert.deepEqual(res.events.map((e) => e.id), expected);
      });
    }

    test('time range bounds: from inclusive, to exclusive', async () => {
      const from = EVENTS[100]!['@timestamp'];
      const to = EVENTS[400]!['@timestamp'];
      const res = await store.search({ from, to, size: 1000 });
      assert.equal(res.total, 300);
      assert.equal(res.events[0]!.id, 'ev-0399');
      assert.equal(res.events.at(-1)!.id, 'ev-0100');
    });

    test('cursor pagination visits every match once, in order, across days', async () => {
      const q = parseQuery('event.outcome:failure');
      for (const sort of ['asc', 'desc'] as const) {
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const res = await store.search({ query: q, size: 37, sort, ...(cursor ? { cursor } : {}) });
          seen.push(...res.events.map((e) => e.id));
          cursor = res.nextCursor;
          pages++;
        } while (cursor && pages < 100);
        const expected = EVENTS.filter((e) => e.event.outcome === 'failure').map((e) => e.id);
        assert.deepEqual(seen, sort === 'asc' ? expected : [...expected].reverse());
      }
    });

    test('offset pagination equals slicing the full result', async () => {
      const all = (await store.search({ size: 600, sort: 'asc' })).events.map((e) => e.id);
      for (const offset of [0, 1, 149, 150, 151, 420, 599, 600]) {
        const page = await store.search({ size: 25, offset, sort: 'asc' });
        assert.deepEqual(page.events.map((e) => e.id), all.slice(offset, offset + 25));
      }
    });

    test('facets count over all matches, most frequent first', async () => {
      const res = await store.search({ query: parseQuery('event.outcome:failure'), size: 0, facets: ['user.name', 'source.ip', 'event.category', 'labels.shift', 'labels.xiangan.source'], facetSize: 1000 });
      const failures = EVENTS.filter((e) => e.event.outcome === 'failure');
      const count = (vals: string[]) => {
        const m = new Map<string, number>();
        for (const v of vals) m.set(v, (m.get(v) ?? 0) + 1);
        return m;
      };
      const check = (buckets: Array<{ value: unknown; count: number }>, vals: string[]) => {
        const m = count(vals);
        assert.equal(buckets.length, m.size);
        for (const b of buckets) assert.equal(b.count, m.get(String(b.value)), `bucket ${String(b.value)}`);
        for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i - 1]!.count >= buckets[i]!.count);
      };
      assert.equal(res.events.length, 0);
      check(res.facets['user.name']!, failures.map((e) => e.user!.name!));
      check(res.facets['source.ip']!, failures.map((e) => e.source!.ip!));
      check(res.facets['event.category']!, failures.flatMap((e) => e.event.category!));
      check(res.facets['labels.shift']!, failures.map((e) => e.labels!.shift!));
      check(res.facets['labels.xiangan.source']!, failures.map((e) => e.labels!['xiangan.source']!));
    });

    test('facets over a query on ids (regression: json_each columns made id ambiguous)', async () => {
      const ids = EVENTS.slice(0, 3).map((e) => e.id);
      const res = await store.search({ query: parseQuery(`id:(${ids.join(' OR ')})`), size: 10, facets: ['event.category', 'labels.shift', 'user.name'] });
      assert.equal(res.total, 3);
      const picked = EVENTS.slice(0, 3);
      const sum = (f: string) => (res.facets[f] ?? []).reduce((a, b) => a + b.count, 0);
      assert.equal(sum('event.category'), picked.reduce((a, e) => a + (e.event.category?.length ?? 0), 0));
      assert.equal(sum('labels.shift'), picked.filter((e) => e.labels?.shift !== undefined).length);
      assert.equal(sum('user.name'), picked.filter((e) => e.user?.name !== undefined).length);
    });

    test('retention drops whole days', async () => {
      const { store: s2, dispose: dispose2 } = await open();
      try {
        await s2.write(EVENTS);
        const r = await s2.deleteBefore('2026-11-27');
        const gone = EVENTS.filter((e) => e['@timestamp'] < '2026-11-27');
        assert.deepEqual(r, { days: ['2026-11-25', '2026-11-26'], events: gone.length });
        assert.equal((await s2.search({ size: 0 })).total, 600 - gone.length);
        assert.equal(await s2.get('ev-0000'), undefined);
        // Writing an old event again recreates its day: retention is about time, not a tombstone.
        assert.deepEqual(await s2.write([EVENTS[0]!]), { written: 1, duplicates: 0 });
      } finally {
        await dispose2();
      }
    });

    test('bad queries and cursors are typed errors; misuse is a RangeError', async () => {
      for (const q of ['user.name:(root', '"open', 'source.port:[1 TO', 'AND', 'source.ip:10.0.0.0/33', '@timestamp:>=yesterday']) {
        await assert.rejects(async () => store.search({ query: parseQuery(q) }), (e: unknown) => e instanceof SocError && e.code === 'SOC_ERR_QUERY', q);
      }
      await assert.rejects(store.search({ cursor: 'garbage' }), (e: unknown) => e instanceof SocError && e.code === 'SOC_ERR_CURSOR');
      await assert.rejects(store.search({ size: -1 }), RangeError);
      await assert.rejects(store.search({ size: 1e9 }), RangeError);
    });

    test('values reach SQL only as parameters', async () => {
      const evil = `x' OR 1=1 --`;
      const res = await store.search({ query: parseQuery(`user.name:"${evil}" OR labels.shift:"${evil}" OR "${evil}"`) });
      assert.equal(res.total, 0);
    });
  });
}
