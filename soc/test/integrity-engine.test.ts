// Tamper evidence over real Elasticsearch and OpenSearch nodes: events written through the
// engine store are chained into its integrity index, a replay after a crash between events and
// leaves gets its leaves, checkpoints are signed by a real SM2 key, and documents edited,
// deleted, inserted or swapped in the engine directly (as a cluster administrator could) are
// named exactly by verification, also through `xiangan audit verify --backend`.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../src/cli/main.js';
import { attachEngineChain, engineEventSource } from '../src/integrity/engine.js';
import { Checkpointer, loadOrCreateIdentity, openIntegrity, verifyIntegrity, type IntegrityReport } from '../src/integrity/index.js';
import { startIntegrity } from '../src/integrity/service.js';
import { runChecks } from '../src/comply/checks.js';
import { auditLog } from '../src/audit/index.js';
import { createLogger } from '../src/logger.js';
import { engineUrl, openEngineStore, type EngineKind } from './engine-env.js';
import { DAY1, DAY2, ev, kinds } from './integrity-fixtures.js';

const PASS = 'engine integrity passphrase';


async function http(method: string, url: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(url, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

async function cli(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (out += d));
  const code = await main(args, { stdin: new PassThrough(), stdout, stderr, env: { XIANGAN_INTEGRITY_PASSPHRASE: PASS }, cwd });
  return { code, out };
}

for (const kind of ['es', 'os'] as EngineKind[]) {
  describe(`tamper evidence over ${kind === 'es' ? 'Elasticsearch' : 'OpenSearch'}`, () => {
    test('chained writes and a replay verify clean; edit, delete, insert and swap in the engine are named exactly', async () => {
      const { store, prefix, dispose } = await openEngineStore(kind);
      const url = engineUrl(kind);
      const dir = mkdtempSync(join(tmpdir(), 'xa-integrity-engine-'));
      try {
        const chain = attachEngineChain(store);
        await store.write(Array.from({ length: 20 }, (_, i) => ev(i, DAY1)));
        await store.write(Array.from({ length: 20 }, (_, i) => ev(i, DAY2)));
        // A replayed batch: 409s that already have leaves get no second one.
        await store.write([ev(0, DAY2), ev(1, DAY2)]);
        // A crash between the events' _bulk and their leaves: stored without leaves, then replayed.
        chain.detach();
        await store.write([ev(100, DAY2), ev(101, DAY2)]);
        const again = attachEngineChain(store);
        const replay = await store.write([ev(100, DAY2), ev(101, DAY2), ev(102, DAY2)]);
        assert.deepEqual([replay.written, replay.duplicates], [1, 2]);

        const identity = loadOrCreateIdentity({ dir, passphrase: PASS, kdfIterations: 1000, now: new Date(DAY1 - 86_400_000) });
        const cp = new Checkpointer({ dir, identity, sources: [{ stream: 'events', leaves: again.leaves.store('events') }], now: () => DAY2 + 3_600_000 });
        assert.equal((await cp.run()).length, 2);
        assert.equal((await cp.run()).length, 0);
        await cp.close();

        const verify = async (): Promise<IntegrityReport> => {
          const o = openIntegrity(dir, { events: engineEventSource(store.transport, store.names) });
          try {
            return await verifyIntegrity(o);
          } finally {
            o.close();
          }
        };
        let r = await verify();
        assert.deepEqual(kinds(r), []);
        assert.equal(r.records, 43);
        assert.equal(r.unanchored, 0);
        // The compliance check for audit-record protection runs the same verification on the engine.
        const complyIntegrity = async () => (await runChecks({ store, dataDir: dir, assets: [], level: 3, socConfig: {}, now: new Date(DAY2 + 3_600_000) })).get('integrity')!;
        let ci = await complyIntegrity();
        assert.equal(ci.status, 'pass', ci.summary);
        assert.equal(ci.evidence.counts.records, 43);

        // The administrator's edits, straight to the engine.
        const i1 = store.names.events('2026-11-27');
        const i2 = store.names.events('2026-11-28');
        const doc3 = (await http('GET', `${url}/${i2}/_doc/e-${DAY2}-3`)).body['_source'] as Record<string, unknown>;
        assert.equal((await http('PUT', `${url}/${i2}/_doc/e-${DAY2}-3`, { ...doc3, user: { name: 'nobody' } })).status, 200);
        assert.equal((await http('DELETE', `${url}/${i1}/_doc/e-${DAY1}-7`)).status, 200);
        assert.equal((await http('PUT', `${url}/${i1}/_doc/forged`, { id: 'forged', '@timestamp': new Date(DAY1).toISOString(), message: 'never happened' })).status, 201);
        const a = (await http('GET', `${url}/${i2}/_doc/e-${DAY2}-10`)).body['_source'];
        const b = (await http('GET', `${url}/${i2}/_doc/e-${DAY2}-11`)).body['_source'];
        await http('PUT', `${url}/${i2}/_doc/e-${DAY2}-10`, b);
        await http('PUT', `${url}/${i2}/_doc/e-${DAY2}-11`, a);
        r = await verify();
        assert.equal(r.ok, false);
        assert.deepEqual(kinds(r), [`changed:e-${DAY2}-3`, `deleted:e-${DAY1}-7`, 'inserted:forged', `reordered:e-${DAY2}-10`, `reordered:e-${DAY2}-11`].sort());
        assert.equal(r.findings.find((f) => f.kind === 'changed')!.position, 3);
        ci = await complyIntegrity();
        assert.equal(ci.status, 'fail', ci.summary);
        assert.equal(ci.evidence.counts.findings, 5);

        // The same through the CLI, with the cluster named by a configuration file.
        writeFileSync(join(dir, 'soc.yaml'), `storage:\n  backend: ${kind === 'es' ? 'elasticsearch' : 'opensearch'}\n  engine:\n    nodes: ['${url}']\n    prefix: ${prefix}\n`);
        const backend = kind === 'es' ? 'elasticsearch' : 'opensearch';
        // A new checkpointer rebuilds the trees from the engine's leaf index and closes the ended day.
        const k = await cli(['audit', 'checkpoint', '--data', dir, '--backend', backend, '--config', join(dir, 'soc.yaml')], dir);
        assert.equal(k.code, 0, k.out);
        assert.match(k.out, /^1 checkpoints signed/);
        const c = await cli(['audit', 'verify', '--data', dir, '--backend', backend, '--config', join(dir, 'soc.yaml')], dir);
        assert.equal(c.code, 1, c.out);
        assert.match(c.out, /^FINDINGS: 43 records in 2 days/);
        assert.match(c.out, new RegExp(`changed: events 2026-11-28: record e-${DAY2}-3 \\(position 3\\) was changed`));
        const p = await cli(['audit', 'prove', `e-${DAY2}-13`, '--data', dir, '--backend', backend, '--config', join(dir, 'soc.yaml')], dir);
        assert.equal(p.code, 0, p.out);
        assert.equal((JSON.parse(p.out) as { index: number }).index, 13);
        again.detach();
      } finally {
        rmSync(dir, { recursive: true, force: true });
        await dispose();
      }
    });

    test('a replay into a cluster that has no integrity index yet gives the stored events their leaves', async () => {
      const { store, dispose } = await openEngineStore(kind);
      try {
        // Stored before chaining was on (no integrity index exists), then replayed by the buffer.
        await store.write([ev(0, DAY1), ev(1, DAY1)]);
        const chain = attachEngineChain(store);
        const r = await store.write([ev(0, DAY1), ev(1, DAY1), ev(2, DAY1)]);
        assert.deepEqual([r.written, r.duplicates], [1, 2]);
        await chain.leaves.refresh();
        const leaves = await chain.leaves.read('events', '2026-11-27');
        assert.deepEqual([...leaves.ids].sort(), [0, 1, 2].map((i) => `e-${DAY1}-${i}`));
        chain.detach();
      } finally {
        await dispose();
      }
    });

    test('the running service chains engine writes and the audit trail, signs at close, and retention signs deletion records', async () => {
      const { store, dispose } = await openEngineStore(kind);
      const dir = mkdtempSync(join(tmpdir(), 'xa-integrity-engine-svc-'));
      try {
        // Real time: the service makes its signing certificate now, valid from now on.
        const today = Date.now();
        const yesterday = today - 86_400_000;
        const dayOf = (t: number): string => new Date(t).toISOString().slice(0, 10);
        const svc = startIntegrity({ dir, passphrase: PASS, intervalSeconds: 60, logger: createLogger({ level: 'silent' }), engine: store });
        await store.write(Array.from({ length: 5 }, (_, i) => ev(i, yesterday - 60_000)));
        await store.write(Array.from({ length: 5 }, (_, i) => ev(i, today - 60_000)));
        await svc.beforeRetention([dayOf(yesterday)]);
        await store.deleteBefore(dayOf(today));
        await svc.close();
        const o = openIntegrity(dir, { events: engineEventSource(store.transport, store.names) });
        try {
          const r = await verifyIntegrity(o);
          assert.deepEqual(kinds(r), []);
          assert.deepEqual(
            r.expired.map((e) => [e.stream, e.records, e.pending]),
            [['events', 5, false]],
          );
          assert.equal(r.records, 5 + 2); // the day left, and the audit trail (key.create, retention.expire)
          assert.equal(r.unanchored, 0);
        } finally {
          o.close();
        }
      } finally {
        auditLog.detach();
        rmSync(dir, { recursive: true, force: true });
        await dispose();
      }
    });
  });
}
