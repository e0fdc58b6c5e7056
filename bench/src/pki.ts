/**
 * `npm run bench:pki`: @xiangan/pki with SM2 against @peculiar/x509 with ECDSA P-256 (WebCrypto)
 * on chains of the same shape, and the `openssl verify` per-certificate cost, in one run (issue 5).
 *
 * Rows: parse + verify of a leaf; validation of root → intermediate → leaf with a CRL of the
 * intermediate (signatures of both certificates and of the CRL, validity, constraints, key
 * usage, revocation lookup); the same with a SignatureCache and a different leaf each call (a
 * server seeing new clients under known intermediates); issuance of a leaf. The peer does the
 * equivalent calls of its API (certificate and CRL `verify`, `findRevoked`, validity dates).
 * `openssl verify` is timed over many leaf files in one process, minus the process start-up,
 * to give a per-certificate cost. Writes bench/results/pki.json.
 */
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { pemEncode, Sm2PrivateKey } from '@xiangan/crypto';
import {
  createCertificate,
  createCrl,
  SignatureCache,
  sm2Signer,
  validatePath,
  X509Certificate,
  type Signer,
} from '@xiangan/pki';
import { fmtOps, fmtRatio, formatTable, measure, measureAsync, writeResults, benchSetting, resultsName } from './harness.js';

const DAY = 86_400_000;
const now = Date.now();
const validity = { notBefore: new Date(now - DAY), notAfter: new Date(now + 30 * DAY) };

function sm2(): { key: Sm2PrivateKey; signer: Signer } {
  const key = Sm2PrivateKey.generate();
  return { key, signer: sm2Signer(key) };
}

// --- ours: SM2 chain ---------------------------------------------------------------------
const rk = sm2();
const ik = sm2();
const root = createCertificate({ ...validity, subject: '/C=CN/O=Bench/CN=Bench Root', publicKey: rk.signer.publicKey, signer: rk.signer, basicConstraints: { ca: true }, keyUsage: ['keyCertSign', 'cRLSign'] });
const ica = createCertificate({ ...validity, subject: '/C=CN/O=Bench/CN=Bench Issuing CA', publicKey: ik.signer.publicKey, issuer: root, signer: rk.signer, basicConstraints: { ca: true, pathLen: 0 }, keyUsage: ['keyCertSign', 'cRLSign'] });
// One subject key for every leaf, as the peer does: issuance times signing, not key generation.
const leafKey = sm2().signer.publicKey;
function issueLeaf(i: number): X509Certificate {
  return createCertificate({
    ...validity,
    subject: `/C=CN/O=Bench/CN=leaf-${i}.example`,
    publicKey: leafKey,
    issuer: ica,
    signer: ik.signer,
    basicConstraints: { ca: false },
    keyUsage: ['digitalSignature', 'keyEncipherment'],
    extKeyUsage: ['serverAuth'],
    subjectAltName: { dns: [`leaf-${i}.example`] },
  });
}
const leaves = Array.from({ length: 64 }, (_, i) => issueLeaf(i));
const leaf = leaves[0];
const revokedSerials = Array.from({ length: 20 }, (_, i) => ({ serialNumber: Uint8Array.of(0x10, i + 1), revocationDate: new Date(now - DAY / 2), reason: 'superseded' as const }));
const crl = createCrl({ issuer: ica, signer: ik.signer, thisUpdate: new Date(now - DAY), nextUpdate: new Date(now + DAY), crlNumber: 1n, revoked: revokedSerials });
const opts = { trustAnchors: [root], intermediates: [ica], crls: [crl], purpose: 'serverAuth' as const };
{
  const r = validatePath(leaf, { ...opts, time: new Date() });
  if (!r.ok) throw new Error(`bench chain does not validate: ${r.code}`);
}

// --- peer: @peculiar/x509, ECDSA P-256 chain of the same shape --------------------------
x509.cryptoProvider.set(globalThis.crypto);
const ec = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const subtle = globalThis.crypto.subtle;
const prk = (await subtle.generateKey(ec, true, ['sign', 'verify'])) as CryptoKeyPair;
const pik = (await subtle.generateKey(ec, true, ['sign', 'verify'])) as CryptoKeyPair;
const plk = (await subtle.generateKey(ec, true, ['sign', 'verify'])) as CryptoKeyPair;
const pRoot = await x509.X509CertificateGenerator.createSelfSigned({
  name: 'C=CN, O=Bench, CN=Bench Root',
  keys: prk,
  signingAlgorithm: ec,
  ...validity,
  extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
});
const pIca = await x509.X509CertificateGenerator.create({
  subject: 'C=CN, O=Bench, CN=Bench Issuing CA',
  issuer: pRoot.subject,
  publicKey: pik.publicKey,
  signingKey: prk.privateKey,
  signingAlgorithm: ec,
  ...validity,
  extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
});
async function peerIssue(i: number): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    subject: `C=CN, O=Bench, CN=leaf-${i}.example`,
    issuer: pIca.subject,
    publicKey: plk.publicKey,
    signingKey: pik.privateKey,
    signingAlgorithm: ec,
    ...validity,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: `leaf-${i}.example` }]),
    ],
  });
}
const pLeaf = await peerIssue(0);
const pCrl = await x509.X509CrlGenerator.create({
  issuer: pIca.subject,
  thisUpdate: new Date(now - DAY),
  nextUpdate: new Date(now + DAY),
  entries: revokedSerials.map((r) => ({ serialNumber: Buffer.from(r.serialNumber).toString('hex'), revocationDate: r.revocationDate, reason: x509.X509CrlReason.superseded })),
  signingKey: pik.privateKey,
  signingAlgorithm: ec,
});
const pLeafDer = new Uint8Array(pLeaf.rawData);
async function peerValidate(l: x509.X509Certificate): Promise<boolean> {
  const date = new Date();
  const a = await l.verify({ publicKey: pIca, date });
  const b = await pIca.verify({ publicKey: pRoot, date });
  const c = await pCrl.verify({ publicKey: pIca });
  return a && b && c && pCrl.findRevoked(l) === null;
}
if (!(await peerValidate(pLeaf))) throw new Error('peer chain does not validate');

// --- measurements -------------------------------------------------------------------------
const timeMs = Number(benchSetting('BENCH_TIME_MS') ?? 800);
const cachedPool = Number(benchSetting('BENCH_POOL') ?? 1500);
const m = {
  parseVerify: measure(() => X509Certificate.fromDer(leaf.der).verify(ica), { timeMs }),
  peerParseVerify: await measureAsync(() => new x509.X509Certificate(pLeafDer).verify({ publicKey: pIca, signatureOnly: true }), { timeMs }),
  chain: measure(() => validatePath(leaf, { ...opts, time: new Date() }), { timeMs }),
  peerChain: await measureAsync(() => peerValidate(pLeaf), { timeMs }),
  chainCached: (() => {
    // A different, already parsed leaf object on every call, so its own signature is verified each
    // time; the intermediate's and the CRL's come from the warm cache (a server seeing new clients).
    const cache = new SignatureCache();
    validatePath(leaf, { ...opts, time: new Date(), cache });
    const pool = Array.from({ length: cachedPool }, (_, k) => X509Certificate.fromDer(leaves[k % leaves.length].der));
    let i = 0;
    return measure(() => validatePath(pool[i++ % pool.length], { ...opts, time: new Date(), cache }), { timeMs, maxCalls: Math.floor(cachedPool / 2) });
  })(),
  chainFromDer: measure(() => validatePath(X509Certificate.fromDer(leaf.der), { ...opts, intermediates: [X509Certificate.fromDer(ica.der)], time: new Date() }), { timeMs }),
  issue: (() => {
    let i = 0;
    return measure(() => issueLeaf(i++), { timeMs });
  })(),
  peerIssue: await (async () => {
    let i = 0;
    return measureAsync(() => peerIssue(i++), { timeMs });
  })(),
};

// openssl verify: N leaves in one process, minus one leaf's run (process start-up, loading the CA).
function opensslPerCert(): { sm2Ms: number; p256Ms: number } {
  const dir = mkdtempSync(join(tmpdir(), 'bench-pki-'));
  try {
    const n = 200;
    writeFileSync(join(dir, 'ica.pem'), ica.toPem());
    const files: string[] = [];
    for (let i = 0; i < n; i++) {
      const p = join(dir, `l${i}.pem`);
      writeFileSync(p, leaves[i % leaves.length].toPem());
      files.push(p);
    }
    writeFileSync(join(dir, 'proot.pem'), pRoot.toString('pem'));
    writeFileSync(join(dir, 'pica.pem'), pIca.toString('pem'));
    writeFileSync(join(dir, 'pcrl.pem'), pemEncode('X509 CRL', new Uint8Array(pCrl.rawData)));
    writeFileSync(join(dir, 'pleaf.pem'), pLeaf.toString('pem'));
    const time = (args: string[]): number => {
      let best = Infinity;
      for (let k = 0; k < 3; k++) {
        const t0 = performance.now();
        const r = spawnSync('openssl', args);
        if (r.status !== 0) throw new Error(`openssl ${args.slice(0, 4).join(' ')}: ${r.stderr}`);
        best = Math.min(best, performance.now() - t0);
      }
      return best;
    };
    const sm2Args = ['verify', '-vfyopt', 'distid:1234567812345678', '-partial_chain', '-CAfile', join(dir, 'ica.pem')];
    const sm2Ms = (time([...sm2Args, ...files]) - time([...sm2Args, files[0]])) / (n - 1);
    const pArgs = ['verify', '-CAfile', join(dir, 'proot.pem'), '-untrusted', join(dir, 'pica.pem'), '-CRLfile', join(dir, 'pcrl.pem'), '-crl_check'];
    const pFiles = Array.from({ length: n }, () => join(dir, 'pleaf.pem'));
    const p256Ms = (time([...pArgs, ...pFiles]) - time([...pArgs, pFiles[0]])) / (n - 1);
    return { sm2Ms, p256Ms };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const os = opensslPerCert();

const rows: string[][] = [
  ['parse + verify SM2 leaf', fmtOps(m.parseVerify.opsPerSec), '@peculiar/x509 P-256', fmtOps(m.peerParseVerify.opsPerSec), fmtRatio(m.parseVerify.opsPerSec, m.peerParseVerify.opsPerSec)],
  ['3-cert chain + CRL (parsed objects)', fmtOps(m.chain.opsPerSec), '@peculiar/x509 P-256', fmtOps(m.peerChain.opsPerSec), fmtRatio(m.chain.opsPerSec, m.peerChain.opsPerSec)],
  ['3-cert chain + CRL, new leaf, SignatureCache', fmtOps(m.chainCached.opsPerSec), '', '', ''],
  ['3-cert chain + CRL, parsing leaf and CA from DER', fmtOps(m.chainFromDer.opsPerSec), '', '', ''],
  ['issue SM2 leaf (certs/s)', fmtOps(m.issue.opsPerSec), '@peculiar/x509 P-256', fmtOps(m.peerIssue.opsPerSec), fmtRatio(m.issue.opsPerSec, m.peerIssue.opsPerSec)],
  ['openssl verify, per SM2 leaf (1 signature)', `${os.sm2Ms.toFixed(3)} ms`, 'openssl P-256 chain + CRL', `${os.p256Ms.toFixed(3)} ms`, ''],
];
process.stdout.write(formatTable(['operation', 'ours ops/s', 'peer', 'peer ops/s', 'ours ÷ peer'], rows));
const target = 1000;
const met = m.chain.opsPerSec >= target;
process.stdout.write(
  `\ntarget: SM2 chain validation ≥ ${target}/s — ${met ? 'met' : 'not met'} without a cache (${fmtOps(m.chain.opsPerSec)}/s); ` +
    `with a SignatureCache and a new leaf per call ${fmtOps(m.chainCached.opsPerSec)}/s (${m.chainCached.opsPerSec >= target ? 'met' : 'not met'})\n`,
);
const path = writeResults(resultsName('pki'), {
  // The machine is shared: the 1-minute load average at the end of the run says how far the absolute numbers are from an idle run; the ratios are measured side by side.
  conditions: { loadAverage1m: loadavg()[0], timeMsPerRow: timeMs },
  results: {
    parseVerifyLeaf: { ours: m.parseVerify, peculiarX509P256: m.peerParseVerify },
    chainWithCrl: { ours: m.chain, peculiarX509P256: m.peerChain },
    chainWithCrlCachedNewLeaf: { ours: m.chainCached },
    chainWithCrlFromDer: { ours: m.chainFromDer },
    issuance: { ours: m.issue, peculiarX509P256: m.peerIssue },
    opensslVerifyPerCertificateMs: { sm2Leaf: os.sm2Ms, p256ChainWithCrl: os.p256Ms, openssl: spawnSync('openssl', ['version']).stdout.toString().trim() },
  },
  targets: { sm2ChainValidationsPerSec: { target, uncached: m.chain.opsPerSec, cachedNewLeaf: m.chainCached.opsPerSec, met } },
});
process.stdout.write(`load average (1 min) ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores; wrote ${path}\n`);
