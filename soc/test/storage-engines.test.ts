// The EventStore conformance suite (storage-suite.ts, the same one SQLite passes) over real
// Elasticsearch and OpenSearch nodes, plus what only the engine backends have: index layout and
// mappings, item-by-item bulk failures with dead letters, and back-pressure while the engine is away.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { EcsEvent } from '@xiangan/collectors';
import { SocError } from '../src/errors.js';
import { engineIndexNames } from '../src/storage/search-engine.js';
import { openElasticStore } from '../src/storage/elastic.js';
import { EVENTS, eventStoreSuite } from './storage-suite.js';
import { engineUrl, ensureEngine, openEngineStore, type EngineKind } from './engine-env.js';

for (const kind of ['es', 'os'] as const) {
  eventStoreSuite(kind === 'es' ? 'elasticsearch' : 'opensearch', async () => {
    const { store, dispose } = await openEngineStore(kind);
    return { store, dispose };
  });
}

async function getJson(url: string): Promise<any> {
  return (await fetch(url)).json();
}

for (const kind of ['es', 'os'] as EngineKind[]) {
  describe(`${kind}: engine specifics`, () => {
    test('daily indices and ECS mappings from ECS_FIELDS', async () => {
      const { store, prefix, dispose } = await openEngineStore(kind);
      try {
        await store.write(EVENTS.slice(0, 200));
        const url = engineUrl(kind);
        const idx = engineIndexNames(prefix).events('2026-11-25');
        const m = (await getJson(`${url}/${idx}/_mapping`))[idx].mappings.properties;
        assert.equal(m['@timestamp'].type, 'date');
        assert.equal(m.message.type, 'text');
        assert.equal(m.source.properties.ip.type, 'ip');
        assert.equal(m.source.properties.port.type, 'long');
        assert.equal(m.user.properties.name.type, 'keyword');
        assert.equal(m.labels.properties.shift.type, 'keyword');
        const days = (await store.stats()).days.map((d) => d.day);
        assert.deepEqual(days, ['2026-11-25', '2026-11-26']);
      } finally {
        await dispose();
      }
    });

    test('a mapping error dead-letters that item with the reason; the others are stored', async () => {
      const { store, prefix, dispose } = await openEngineStore(kind);
      try {
        const bad = { ...EVENTS[1]!, id: 'bad-1', source: { ip: 'not-an-ip' } } as unknown as EcsEvent;
        const r = await store.write([EVENTS[0]!, bad, EVENTS[2]!]);
        assert.deepEqual(r, { written: 3, duplicates: 0, deadLettered: 1 });
        assert.equal((await store.search({ size: 0 })).total, 2);
        const url = engineUrl(kind);
        const dl = await getJson(`${url}/${engineIndexNames(prefix).deadLetter}/_doc/bad-1`);
        assert.equal(dl.found, true);
        assert.equal(dl._source.status, 400);
        assert.match(dl._source.reason, /ip|parse/i);
        assert.equal(JSON.parse(dl._source.event).id, 'bad-1');
        // A replay of the same batch: the good ones are duplicates, the bad one dead-lettered again (same _id, no copy).
        const again = await store.write([EVENTS[0]!, bad, EVENTS[2]!]);
        assert.deepEqual(again, { written: 1, duplicates: 2, deadLettered: 1 });
        const n = await getJson(`${url}/${engineIndexNames(prefix).deadLetter}/_count`);
        assert.equal(n.count, 1);
      } finally {
        await dispose();
      }
    });

    test('a red daily index: the write rejects naming the index and the reason; the other days are stored', async () => {
      const { store, prefix, dispose } = await openEngineStore(kind, { bulkTimeoutMs: 300, maxAttempts: 2, backoffMs: 10 });
      try {
        const url = engineUrl(kind);
        const day = EVENTS[0]!['@timestamp'].slice(0, 10).replaceAll('-', '.');
        const red = `${prefix}-events-${day}`;
        // A primary that can go to no node: what a cluster shows when the node with the only
        // started copy has left.
        const c = await fetch(`${url}/${red}?wait_for_active_shards=0`, {
          method: 'PUT', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ settings: { 'index.number_of_replicas': 0, 'index.routing.allocation.require._name': 'no-such-node' } }),
        });
        assert.equal(c.status, 200, await c.text());
        const other = EVENTS.find((e) => e['@timestamp'].slice(0, 10) !== EVENTS[0]!['@timestamp'].slice(0, 10))!;
        await assert.rejects(store.write([EVENTS[0]!, other]), (e: unknown) => {
          assert.ok(e instanceof SocError && e.code === 'SOC_ERR_STORE_WRITE');
          assert.ok(e.message.includes(red), e.message);
          assert.match(e.message, /unavailable_shards_exception|primary shard is not active/);
          return true;
        });
        // Writes wait for refresh (the store's default): no _refresh here, which waits a minute on a red index.
        const got = await store.search({ size: 10 });
        assert.deepEqual(got.events.map((e) => e.id), [other.id]);
      } finally {
        await dispose();
      }
    });
  });
}

test('an unreachable engine rejects the write as SOC_ERR_STORE_WRITE after the retries (the buffer keeps the batch)', async () => {
  await ensureEngine('es');
  const { store, dispose } = await openEngineStore('es', { maxAttempts: 3, backoffMs: 10 });
  try {
    // Point a second store at a closed port: every bulk fails at connect time.
    await assert.rejects(openElasticStore({ node: 'http://127.0.0.1:9', requestTimeoutMs: 2000 }), (e: unknown) => e instanceof SocError && e.code === 'SOC_ERR_STORE_OPEN');
    assert.equal((await store.write(EVENTS.slice(0, 10))).written, 10);
  } finally {
    await dispose();
  }
});
