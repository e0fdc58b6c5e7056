/**
 * Shared test fixtures: a temporary directory, the openssl CLI, the shared vectors and a
 * small SM2 hierarchy built with this package.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Sm2PrivateKey } from '@xiangan/crypto';
import { createCertificate, sm2Signer, type CertificateOptions, type Signer, X509Certificate } from '../src/index.js';

/** The shared folder (`$XIANGAN_SHARED` or `<repo>/../shared`). */
export const SHARED = process.env.XIANGAN_SHARED ?? resolve(import.meta.dirname, '../../../../shared');

/** One vector of `sm2-keys-pki.json` by id. */
export function pkiVector(id: string): Record<string, string> {
  const doc = JSON.parse(readFileSync(join(SHARED, 'vectors', 'sm2-keys-pki.json'), 'utf8')) as { vectors: Record<string, string>[] };
  const v = doc.vectors.find((x) => x.id === id);
  if (!v) throw new Error(`no vector ${id}`);
  return v;
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'xiangan-pki-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Run openssl; returns status and combined output (never throws on a non-zero exit). */
export function openssl(args: string[], opts: { cwd?: string; input?: Uint8Array } = {}): { status: number; out: string; stdout: Buffer } {
  const r = spawnSync('openssl', args, { cwd: opts.cwd, input: opts.input, maxBuffer: 1 << 24 });
  return { status: r.status ?? -1, out: `${r.stdout?.toString() ?? ''}${r.stderr?.toString() ?? ''}`, stdout: r.stdout ?? Buffer.alloc(0) };
}

/** Run openssl and fail the test with its output if it exits non-zero. */
export function opensslOk(args: string[], opts: { cwd?: string; input?: Uint8Array } = {}): string {
  const r = openssl(args, opts);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status}):\n${r.out}`);
  return r.out;
}

/** Write text/bytes to dir/name and return the path. */
export function put(dir: string, name: string, data: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

/** Whether this openssl knows SM2 (it should: 3.0). */
export function opensslVersion(): string {
  return execFileSync('openssl', ['version']).toString().trim();
}

/** The GB/T 32918 default SM2 ID as OpenSSL wants it on the command line. */
export const DISTID = 'distid:1234567812345678';

/** An SM2 key with its signer. */
export interface KeyPair {
  key: Sm2PrivateKey;
  signer: Signer;
}

/** A fresh SM2 key pair. */
export function sm2Pair(): KeyPair {
  const key = Sm2PrivateKey.generate();
  return { key, signer: sm2Signer(key) };
}

const DAY = 86_400_000;

/** root → intermediate → leaf, all SM2, valid from yesterday for 30 days (overridable per certificate). */
export function hierarchy(over: { root?: Partial<CertificateOptions>; ica?: Partial<CertificateOptions>; leaf?: Partial<CertificateOptions> } = {}) {
  const now = Date.now();
  const base = { notBefore: new Date(now - DAY), notAfter: new Date(now + 30 * DAY) };
  const rk = sm2Pair();
  const ik = sm2Pair();
  const lk = sm2Pair();
  const root = createCertificate({
    ...base,
    subject: '/C=CN/O=湘安测试/CN=测试根 CA',
    publicKey: rk.signer.publicKey,
    signer: rk.signer,
    basicConstraints: { ca: true },
    keyUsage: ['keyCertSign', 'cRLSign'],
    ...over.root,
  });
  const ica = createCertificate({
    ...base,
    subject: '/C=CN/O=湘安测试/CN=测试中级 CA',
    publicKey: ik.signer.publicKey,
    issuer: root,
    signer: rk.signer,
    basicConstraints: { ca: true, pathLen: 0 },
    keyUsage: ['keyCertSign', 'cRLSign'],
    ...over.ica,
  });
  const leaf = createCertificate({
    ...base,
    subject: '/C=CN/O=湘安测试/CN=server.example',
    publicKey: lk.signer.publicKey,
    issuer: ica,
    signer: ik.signer,
    basicConstraints: { ca: false },
    keyUsage: ['digitalSignature', 'keyEncipherment'],
    extKeyUsage: ['serverAuth'],
    subjectAltName: { dns: ['server.example'] },
    ...over.leaf,
  });
  return { root, ica, leaf, rk, ik, lk };
}

export { X509Certificate, DAY };
