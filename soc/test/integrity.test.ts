// Tamper evidence against real SQLite files: chain events and audit records, sign checkpoints
// with a real SM2 key whose certificate comes from a real CA, then tamper with the databases
// directly (as an intruder with file access would) and check that verification names exactly
// what was done. Merkle hashing is cross-checked against the openssl CLI's SM3.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../src/storage/sqlite.js';
import { AuditStore, auditLog } from '../src/audit/index.js';
import {
  canonicalJson,
  Checkpointer,
  checkInclusionProof,
  checkpointsPath,
  inclusionProof,
  leafHash,
  loadOrCreateIdentity,
  merkleRoot,
  MerkleFrontier,
  openIntegrity,
  proveInclusion,
  verifyInclusion,
  verifyIntegrity,
  type IntegrityReport,
} from '../src/integrity/index.js';
import { SocError } from '../src/errors.js';
import { DAY1, DAY2, ev, kinds } from './integrity-fixtures.js';

const PASS = 'integrity test passphrase';
const tmp = (): string => mkdtempSync(join(tmpdir(), 'xa-integrity-'));

function opensslSm3(data: Uint8Array): Uint8Array {
  return new Uint8Array(execFileSync('openssl', ['dgst', '-sm3', '-binary'], { input: data }));
}

/** A data directory with two days of events, an audit trail and checkpoints. */
async function setup(n = 20): Promise<{ dir: string; now: { t: number }; cp: Checkpointer; close: () => Promise<void> }> {
  const dir = tmp();
  const now = { t: DAY2 + 3_600_000 };
  const store = await openSqliteStore({ dir, chain: true });
  await store.write(Array.from({ length: n }, (_, i) => ev(i, DAY1)));
  await store.write(Array.from({ length: n }, (_, i) => ev(i, DAY2)));
  // A replayed batch is idempotent: no second leaf.
  await store.write([ev(0, DAY2)]);
  const audit = AuditStore.open({ dir, now: () => now.t });
  audit.record({ actor: 'admin', action: 'auth.login', outcome: 'success', details: { ip: '127.0.0.1' } });
  audit.record({ actor: 'admin', action: 'config.change', target: 'storage.retentionDays', outcome: 'success', details: { from: 180, to: 200 } });
  const identity = loadOrCreateIdentity({ dir, passphrase: PASS, kdfIterations: 1000, now: new Date(DAY1 - 86_400_000) });
  const eventsDb = new Database(join(dir, 'events.db'));
  const cp = new Checkpointer({ dir, identity, sources: [{ stream: 'events', db: eventsDb }, { stream: 'audit', db: audit.database }], now: () => now.t });
  await cp.run();
  return {
    dir,
    now,
    cp,
    close: async () => {
      await cp.close();
      eventsDb.close();
      audit.close();
      await store.close();
    },
  };
}

async function verify(dir: string): Promise<IntegrityReport> {
  const o = openIntegrity(dir);
  try {
    return await verifyIntegrity(o);
  } finally {
    o.close();
  }
}


describe('SM3 Merkle tree (RFC 6962 shape)', () => {
  test('leaf and node hashes match openssl SM3 over the prefixed bytes', () => {
    const data = ['a', 'bb', 'ccc'].map((s) => new TextEncoder().encode(s));
    const leaves = data.map((d) => opensslSm3(new Uint8Array([0, ...d])));
    for (let i = 0; i < 3; i++) assert.deepEqual(leafHash(data[i]!), leaves[i]);
    const n01 = opensslSm3(new Uint8Array([1, ...leaves[0]!, ...leaves[1]!]));
    const root = opensslSm3(new Uint8Array([1, ...n01, ...leaves[2]!]));
    assert.deepEqual(merkleRoot(leaves), root);
    assert.deepEqual(merkleRoot([]), opensslSm3(new Uint8Array(0)));
  });

  test('every inclusion proof of trees up to 33 leaves verifies, and fails for a wrong leaf, index or root', () => {
    const leaves = Array.from({ length: 33 }, (_, i) => leafHash(new Uint8Array([i])));
    for (let size = 1; size <= leaves.length; size++) {
      const root = merkleRoot(leaves.slice(0, size));
      const f = new MerkleFrontier();
      for (const l of leaves.slice(0, size)) f.push(l);
      assert.deepEqual(f.root(), root);
      for (let i = 0; i < size; i++) {
        const path = inclusionProof(leaves, i, size);
        assert.equal(verifyInclusion(leaves[i]!, i, size, path, root), true, `size ${size} index ${i}`);
        assert.equal(verifyInclusion(leaves[(i + 1) % 33]!, i, size, path, root), false);
        if (size > 1) assert.equal(verifyInclusion(leaves[i]!, (i + 1) % size, size, path, root), false);
        const wrong = root.slice();
        wrong[0]! ^= 1;
        assert.equal(verifyInclusion(leaves[i]!, i, size, path, wrong), false);
      }
    }
    assert.throws(() => inclusionProof(leaves, 5, 5), RangeError);
  });
});

describe('canonical JSON (RFC 8785)', () => {
  test('sorts members by UTF-16 code units (RFC 8785 §3.2.3 example)', () => {
    const input = JSON.parse('{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}');
    const keys = Object.keys(JSON.parse(canonicalJson(input)) as object);
    // JSON.parse puts the integer-like key "1" first whatever the text order, so compare the text.
    const order = [...canonicalJson(input).matchAll(/"([^"]*)":/g)].map((m) => m[1]);
    assert.deepEqual(order, ['\\r', '1', '\u0080', 'ö', '€', '😀', '\ufb33']);
    assert.equal(keys.length, 7);
  });
  test('numbers and literals as RFC 8785 Appendix B; no whitespace', () => {
    assert.equal(canonicalJson([1e21, 1e-7, 0.000001, -0, 4.5, 0.002, 1e-27, true, null]), '[1e+21,1e-7,0.000001,0,4.5,0.002,1e-27,true,null]');
    assert.equal(canonicalJson({ b: [1, { d: 1, c: 2 }], a: 'x' }), '{"a":"x","b":[1,{"c":2,"d":1}]}');
    assert.throws(() => canonicalJson({ a: Infinity }), TypeError);
  });
});

describe('tamper evidence over SQLite', () => {
  test('a clean store verifies clean, also after a restart with more events and checkpoints', async () => {
    const s = await setup();
    let r = await verify(s.dir);
    assert.deepEqual(kinds(r), []);
    assert.equal(r.ok, true);
    assert.equal(r.records, 42);
    assert.equal(r.unanchored, 0);
    await s.close();
    // Restart: new connections, a new checkpointer that rebuilds its trees from the database.
    const store = await openSqliteStore({ dir: s.dir, chain: true });
    await store.write(Array.from({ length: 5 }, (_, i) => ev(100 + i, DAY2)));
    r = await verify(s.dir);
    assert.equal(r.ok, true);
    assert.equal(r.unanchored, 5);
    const identity = loadOrCreateIdentity({ dir: s.dir, passphrase: PASS });
    const db = new Database(join(s.dir, 'events.db'));
    const cp = new Checkpointer({ dir: s.dir, identity, sources: [{ stream: 'events', db }], now: () => s.now.t });
    assert.equal((await cp.run()).length, 1);
    assert.equal((await cp.run()).length, 0);
    await cp.close();
    db.close();
    await store.close();
    r = await verify(s.dir);
    assert.deepEqual(kinds(r), []);
    assert.equal(r.unanchored, 0);
    rmSync(s.dir, { recursive: true, force: true });
  });

  test('edit, delete, insert and swap of rows are each reported exactly', async () => {
    const s = await setup();
    await s.close();
    const db = new Database(join(s.dir, 'events.db'));
    // Edit one row's document.
    const row = db.prepare("SELECT doc FROM ev_20261128 WHERE id = 'e-" + DAY2 + "-3'").get() as { doc: string };
    db.prepare('UPDATE ev_20261128 SET doc = ? WHERE id = ?').run(row.doc.replace('user3', 'nobody'), `e-${DAY2}-3`);
    // Delete one.
    db.prepare('DELETE FROM ev_20261127 WHERE id = ?').run(`e-${DAY1}-7`);
    // Insert one.
    db.prepare("INSERT INTO ev_20261127 (id, ts, doc) VALUES ('forged', ?, '{\"id\":\"forged\"}')").run(DAY1 + 5);
    // Swap the documents of two rows.
    const a = db.prepare('SELECT doc FROM ev_20261128 WHERE id = ?').get(`e-${DAY2}-10`) as { doc: string };
    const b = db.prepare('SELECT doc FROM ev_20261128 WHERE id = ?').get(`e-${DAY2}-11`) as { doc: string };
    db.prepare('UPDATE ev_20261128 SET doc = ? WHERE id = ?').run(b.doc, `e-${DAY2}-10`);
    db.prepare('UPDATE ev_20261128 SET doc = ? WHERE id = ?').run(a.doc, `e-${DAY2}-11`);
    db.close();
    const r = await verify(s.dir);
    assert.equal(r.ok, false);
    assert.deepEqual(kinds(r), [`changed:e-${DAY2}-3`, `deleted:e-${DAY1}-7`, 'inserted:forged', `reordered:e-${DAY2}-10`, `reordered:e-${DAY2}-11`].sort());
    const swapped = r.findings.find((f) => f.id === `e-${DAY2}-10`)!;
    assert.equal(swapped.position, 10);
    assert.equal(swapped.holdsPosition, 11);
    rmSync(s.dir, { recursive: true, force: true });
  });

  test('a day hashed in worker threads verifies the same: clean, then each tampering named exactly', async () => {
    const s = await setup(400);
    await s.close();
    // Parts of 50 records at least: the calling thread and two workers share each day.
    const verifySplit = async (): Promise<IntegrityReport> => {
      const o = openIntegrity(s.dir, { workers: 2, minPerPart: 50 });
      try {
        return await verifyIntegrity(o);
      } finally {
        o.close();
      }
    };
    let r = await verifySplit();
    assert.deepEqual(kinds(r), []);
    assert.equal(r.records, 802);
    const db = new Database(join(s.dir, 'events.db'));
    db.prepare("UPDATE ev_20261128 SET doc = replace(doc, 'user301', 'nobody') WHERE id = ?").run(`e-${DAY2}-301`);
    // A raw NUL inside a document (JSON text never holds one) must not shift its neighbours.
    db.prepare("UPDATE ev_20261128 SET doc = doc || char(0) || 'x' WHERE id = ?").run(`e-${DAY2}-120`);
    db.prepare('DELETE FROM ev_20261127 WHERE id = ?').run(`e-${DAY1}-377`);
    db.prepare("INSERT INTO ev_20261127 (id, ts, doc) VALUES ('forged', ?, '{\"id\":\"forged\"}')").run(DAY1 + 5);
    db.close();
    r = await verifySplit();
    assert.deepEqual(kinds(r), [`changed:e-${DAY2}-120`, `changed:e-${DAY2}-301`, `deleted:e-${DAY1}-377`, 'inserted:forged'].sort());
    assert.equal(r.findings.find((f) => f.id === `e-${DAY2}-301`)!.position, 301);
    assert.deepEqual(kinds(await verify(s.dir)), kinds(r));
    rmSync(s.dir, { recursive: true, force: true });
  });

  test('a benign re-serialisation (whitespace) is not a change; other key order is', async () => {
    const s = await setup(5);
    await s.close();
    const db = new Database(join(s.dir, 'events.db'));
    const id = `e-${DAY1}-2`;
    const doc = JSON.parse((db.prepare('SELECT doc FROM ev_20261127 WHERE id = ?').get(id) as { doc: string }).doc) as Record<string, unknown>;
    db.prepare('UPDATE ev_20261127 SET doc = ? WHERE id = ?').run(JSON.stringify(doc, null, 2), id);
    assert.deepEqual(kinds(await verify(s.dir)), []);
    // The stored text is what was hashed: reordering members changes it.
    const reordered = Object.fromEntries(Object.entries(doc).reverse());
    db.prepare('UPDATE ev_20261127 SET doc = ? WHERE id = ?').run(JSON.stringify(reordered), id);
    db.close();
    assert.deepEqual(kinds(await verify(s.dir)), [`changed:${id}`]);
    rmSync(s.dir, { recursive: true, force: true });
  });

  test('editing the leaf index too shows as a root mismatch; deleting a checkpoint as a gap', async () => {
    const s = await setup();
    s.now.t += 60_000;
    const w = await openSqliteStore({ dir: s.dir, chain: true });
    await w.write([ev(500, DAY2)]);
    await s.cp.run(); // seq 4: a second checkpoint of DAY2
    await w.close();
    await s.close();
    const db = new Database(join(s.dir, 'events.db'));
    const id = `e-${DAY1}-4`;
    db.prepare('DELETE FROM ev_20261127 WHERE id = ?').run(id);
    // Remove its leaf from the batch row of the leaf index as well.
    const row = db.prepare('SELECT seq, ids, hashes FROM il_20261127 ORDER BY seq LIMIT 1').get() as { seq: number; ids: string; hashes: Buffer };
    const ids = JSON.parse(row.ids) as string[];
    const at = ids.indexOf(id);
    ids.splice(at, 1);
    const hashes = Buffer.concat([row.hashes.subarray(0, at * 32), row.hashes.subarray((at + 1) * 32)]);
    db.prepare('UPDATE il_20261127 SET ids = ?, hashes = ? WHERE seq = ?').run(JSON.stringify(ids), hashes, row.seq);
    db.close();
    const cdb = new Database(checkpointsPath(s.dir));
    const seqs = (cdb.prepare('SELECT seq FROM checkpoints ORDER BY seq').all() as Array<{ seq: number }>).map((r) => r.seq);
    assert.deepEqual(seqs, [1, 2, 3, 4]);
    cdb.prepare('DELETE FROM checkpoints WHERE seq = 2').run();
    cdb.close();
    const r = await verify(s.dir);
    assert.deepEqual(kinds(r), ['checkpoint-chain:3', 'checkpoint-missing:2', 'leaves-truncated:2026-11-27'].sort());
    rmSync(s.dir, { recursive: true, force: true });
  });

  test('a forged checkpoint fails its signature; a tampered audit record is named', async () => {
    const s = await setup();
    await s.close();
    const cdb = new Database(checkpointsPath(s.dir));
    const row = cdb.prepare('SELECT body FROM checkpoints WHERE seq = 1').get() as { body: string };
    cdb.prepare('UPDATE checkpoints SET body = ? WHERE seq = 1').run(row.body.replace('"size":20', '"size":19'));
    cdb.close();
    const adb = new Database(join(s.dir, 'audit.db'));
    const a = adb.prepare('SELECT id, doc FROM audit ORDER BY seq LIMIT 1').get() as { id: string; doc: string };
    adb.prepare('UPDATE audit SET doc = ? WHERE id = ?').run(a.doc.replace('"success"', '"failure"'), a.id);
    adb.close();
    const r = await verify(s.dir);
    const k = kinds(r);
    assert.ok(k.includes('checkpoint-signature:1'), k.join());
    assert.ok(k.includes('checkpoint-chain:2'), k.join());
    assert.ok(k.includes(`changed:${a.id}`), k.join());
    rmSync(s.dir, { recursive: true, force: true });
  });

  test('retention with a signed deletion record is expiry, not tampering; dropping a day without one is a finding', async () => {
    const s = await setup();
    const store = await openSqliteStore({ dir: s.dir, chain: true });
    s.now.t = DAY2 + 2 * 86_400_000;
    await s.cp.expire('events', ['2026-11-27']);
    await store.deleteBefore('2026-11-28');
    let r = await verify(s.dir);
    assert.deepEqual(kinds(r), []);
    assert.deepEqual(r.expired.map((e) => [e.stream, e.day, e.records, e.pending]), [['events', '2026-11-27', 20, false]]);
    // The same day is checkpointed at day end (final), then dropped by hand: a deletion.
    await s.cp.run();
    await store.deleteBefore('2026-11-29');
    r = await verify(s.dir);
    assert.deepEqual(kinds(r), ['day-deleted:2026-11-28']);
    await store.close();
    await s.close();
    rmSync(s.dir, { recursive: true, force: true });
  });

  test('inclusion proof for an event checks out; unknown and unanchored ids are typed errors', async () => {
    const s = await setup();
    const o = openIntegrity(s.dir);
    const p = await proveInclusion(o, `e-${DAY2}-13`);
    assert.equal(p.index, 13);
    assert.equal(p.treeSize, 20);
    assert.equal(checkInclusionProof(p, o.certificate), true);
    assert.equal(checkInclusionProof({ ...p, document: p.document.replace('user13', 'user14') }, o.certificate), false);
    await assert.rejects(proveInclusion(o, 'nope'), (e: unknown) => e instanceof SocError && e.code === 'SOC_ERR_INTEGRITY');
    o.close();
    const w = await openSqliteStore({ dir: s.dir, chain: true });
    await w.write([ev(900, DAY2)]);
    await w.close();
    const o2 = openIntegrity(s.dir);
    await assert.rejects(proveInclusion(o2, `e-${DAY2}-900`), /not covered by a checkpoint yet/);
    o2.close();
    await s.close();
    rmSync(s.dir, { recursive: true, force: true });
  });

  test('the checkpointer refuses to sign over a leaf index edited while it was down', async () => {
    const s = await setup();
    await s.close();
    const db = new Database(join(s.dir, 'events.db'));
    db.prepare('UPDATE il_20261128 SET hashes = zeroblob(length(hashes)) WHERE seq = 1').run();
    db.prepare('INSERT INTO il_20261128 (ids, hashes) VALUES (\'["x"]\', zeroblob(32))').run();
    const identity = loadOrCreateIdentity({ dir: s.dir, passphrase: PASS });
    const cp = new Checkpointer({ dir: s.dir, identity, sources: [{ stream: 'events', db }], now: () => s.now.t });
    await assert.rejects(cp.run(), (e: unknown) => e instanceof SocError && e.code === 'SOC_ERR_INTEGRITY');
    cp.db.close();
    db.close();
    rmSync(s.dir, { recursive: true, force: true });
  });
});

describe('audit trail', () => {
  test('records are append-only, chained and listed; auditLog queues until a store is attached', () => {
    const dir = tmp();
    auditLog.detach();
    auditLog.record({ actor: 'system', action: 'server.start', outcome: 'success' });
    assert.equal(auditLog.pending.length, 1);
    const store = AuditStore.open({ dir });
    auditLog.attach(store);
    const rec = auditLog.record({ actor: 'alice', action: 'alert.ack', target: 'a-1', outcome: 'success' });
    assert.equal(rec?.actor, 'alice');
    assert.deepEqual(store.list().map((r) => r.action), ['server.start', 'alert.ack']);
    assert.throws(() => auditLog.record({ actor: '', action: 'x', outcome: 'success' }), TypeError);
    assert.throws(() => store.record({ actor: 'a', action: 'x', outcome: 'maybe' as 'success' }), TypeError);
    auditLog.detach();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
