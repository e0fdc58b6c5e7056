// `xiangan audit` end to end on a real data directory: events and audit records chained by the
// store, checkpoints signed through the CLI (first start creates the key and a certificate from
// a real CA), verify clean and after direct SQLite tampering, and an inclusion proof checked by
// the independent verifier (tools/verify-proof: Python standard library + the openssl CLI).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../src/storage/sqlite.js';
import { AuditStore } from '../src/audit/index.js';
import { runCli } from './cli-run.js';

const VERIFIER = resolve(dirname(fileURLToPath(import.meta.url)), '../../../tools/verify-proof/verify_proof.py');
const ENV = { XIANGAN_INTEGRITY_PASSPHRASE: 'cli audit passphrase' };

const cli = (args: string[], cwd: string, env: Record<string, string> = ENV) => runCli(args, cwd, env);

function verifyProof(file: string, ...extra: string[]): { code: number; out: string } {
  const r = spawnSync('python3', [VERIFIER, file, ...extra], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout + r.stderr };
}

describe('xiangan audit', () => {
  let cwd: string;
  // Every event on one UTC day, even when the suite starts seconds after midnight.
  const now = Date.now();
  const today = new Date(now).toISOString().slice(0, 10);
  const dayStart = Date.parse(`${today}T00:00:00Z`);
  const ids = Array.from({ length: 12 }, (_, i) => `cli-${i}`);

  before(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'xa-cli-audit-'));
    const store = await openSqliteStore({ dir: join(cwd, 'data'), chain: true });
    await store.write(ids.map((id, i) => ({ id, '@timestamp': new Date(Math.max(dayStart, now - i * 1000)).toISOString(), message: `sshd: Failed password for root #${i}`, event: { outcome: 'failure' } })));
    await store.close();
    const audit = AuditStore.open({ dir: join(cwd, 'data') });
    audit.record({ actor: 'admin', action: 'key.rotate', target: 'integrity', outcome: 'success' });
    audit.close();
  });
  after(() => rmSync(cwd, { recursive: true, force: true }));

  test('checkpoint signs, verify is clean (text and --json), export lists the chain', async () => {
    assert.equal((await cli(['audit', 'checkpoint'], cwd, {})).code, 2);
    const c = await cli(['audit', 'checkpoint'], cwd);
    assert.equal(c.code, 0, c.err);
    assert.match(c.out, /^2 checkpoints signed/);
    const v = await cli(['audit', 'verify'], cwd);
    assert.equal(v.code, 0, v.out + v.err);
    assert.match(v.out, /^OK: 13 records in 2 days, 2 checkpoints/);
    const j = await cli(['audit', 'verify', '--json', '--from', today, '--to', today], cwd);
    assert.equal(j.code, 0);
    const report = JSON.parse(j.out) as { ok: boolean; records: number; findings: unknown[] };
    assert.equal(report.ok, true);
    assert.equal(report.records, 13);
    const x = await cli(['audit', 'export'], cwd);
    const exp = JSON.parse(x.out) as { format: string; checkpoints: Array<{ seq: number }>; certificate: string };
    assert.equal(exp.format, 'xiangan-checkpoints/1');
    assert.deepEqual(exp.checkpoints.map((c) => c.seq), [1, 2]);
    assert.match(exp.certificate, /BEGIN CERTIFICATE/);
    const l = await cli(['audit', 'list', '--json'], cwd);
    assert.equal((JSON.parse(l.out) as Array<{ action: string }>)[0]!.action, 'key.rotate');
  });

  test('prove: the independent openssl verifier accepts the proof and the certificate chain, and rejects a doctored one', async () => {
    const p = await cli(['audit', 'prove', 'cli-5', '--out', 'proof.json'], cwd);
    assert.equal(p.code, 0, p.err);
    const file = join(cwd, 'proof.json');
    const ok = verifyProof(file, '--ca', join(cwd, 'data', 'integrity', 'ca', 'ca.pem'));
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /^VALID: record cli-5/);
    const proof = JSON.parse(readFileSync(file, 'utf8')) as { document: string; leafHash: string; path: string[]; checkpoint: { signed: string } };
    const bad = join(cwd, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...proof, document: proof.document.replace('#5', '#6') }));
    assert.equal(verifyProof(bad).code, 1);
    // A consistent forgery (new leaf, same path) fails at the root; a re-signed-looking body fails at the signature.
    writeFileSync(bad, JSON.stringify({ ...proof, path: proof.path.map((h, i) => (i === 0 ? h.replace(/^./, (c) => (c === '0' ? '1' : '0')) : h)) }));
    assert.match(verifyProof(bad).out, /does not lead to the signed root/);
    writeFileSync(bad, JSON.stringify({ ...proof, checkpoint: { ...proof.checkpoint, signed: proof.checkpoint.signed.replace('"final":false', '"final":true') } }));
    assert.match(verifyProof(bad).out, /signature over the checkpoint does not verify/);
    assert.equal((await cli(['audit', 'prove', 'no-such-id'], cwd)).code, 1);
  });

  test('verify exits 1 and names the record after a direct edit in SQLite', async () => {
    const db = new Database(join(cwd, 'data', 'events.db'));
    const t = `ev_${today.replaceAll('-', '')}`;
    db.prepare(`UPDATE ${t} SET doc = replace(doc, 'root', 'admin') WHERE id = 'cli-2'`).run();
    db.close();
    const v = await cli(['audit', 'verify'], cwd);
    assert.equal(v.code, 1);
    assert.match(v.out, /^FINDINGS/);
    assert.match(v.out, /changed: events \S+ record cli-2 \(position \d+\) was changed/);
    assert.equal((await cli(['audit', 'verify', '--backend', 'mongodb'], cwd)).code, 2);
  });
});
