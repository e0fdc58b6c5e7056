/**
 * The PKI commands of the `xiangan` CLI (issue 5):
 *
 * ```
 * xiangan ca init [--dir DIR] [--intermediate] [--subject DN] [--intermediate-subject DN]
 *                 [--crl-url URL] [--ocsp-url URL] [--ca-issuers-url URL]
 * xiangan ca issue --csr req.pem --profile server|client|sign|enc [--days N] [--out cert.pem] [--dir DIR]
 * xiangan ca revoke SERIAL [--reason keyCompromise|cACompromise|affiliationChanged|superseded|
 *                   cessationOfOperation|certificateHold|privilegeWithdrawn|unspecified] [--dir DIR]
 * xiangan ca crl [--days N] [--openssl-compat] [--out crl.pem] [--dir DIR]
 * xiangan ca crl --root [--revoke-intermediate REASON] [--days N] [--out root-crl.pem]   (root key's CRL)
 * xiangan ca list [--dir DIR]
 * xiangan x509 req --key key.pem --subject DN [--dns NAME]… [--ip ADDR]… [--out req.pem]
 * xiangan x509 show CERT
 * xiangan x509 verify --ca root.pem [--untrusted chain.pem] [--crl crl.pem]… [--require-crl] [--openssl-compat] [--purpose P] [--at ISO] CERT
 * xiangan cms sign --cert cert.pem --key key.pem [--chain chain.pem] [--detached] [--no-attrs]
 *                  [--openssl-compat] [--gm-oids] [--pem] [--in FILE] [--out FILE]
 * xiangan cms verify [--content FILE] [--ca root.pem [--untrusted chain.pem] [--crl crl.pem]… [--purpose P]]
 *                    [--openssl-compat] [--in FILE] [--out FILE]
 * xiangan cms encrypt --cert recipient.pem… [--gm-oids] [--pem] [--in FILE] [--out FILE]
 * xiangan cms decrypt --cert cert.pem --key key.pem [--in FILE] [--out FILE]
 * ```
 *
 * DNs are written OpenSSL's way: `/C=CN/O=湘安/CN=name`. The CA directory defaults to
 * `$XIANGAN_CA_DIR` or `./ca`. The CA key passphrase comes from `$XIANGAN_CA_PASSPHRASE`,
 * from the variable named by `--passphrase-env VAR`, or from the first line of
 * `--passphrase-file FILE` — never from the command line, where `ps` would show it. Key files
 * for `x509`/`cms` may be encrypted PKCS#8; their passphrase comes from `--key-passphrase-env VAR`.
 * `--openssl-compat` signs (or verifies) SM2 with the empty ID that OpenSSL 3.0 uses without
 * `distid` (its `cms -verify`, `crl -verify`) instead of the GM/T 0009 default ID; for
 * `x509 verify` it accepts either ID.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { importSm2PrivateKey, type Sm2PrivateKey } from '@xiangan/crypto';
import {
  CertificateAuthority,
  CertificateRevocationList,
  cmsDecrypt,
  cmsEncrypt,
  cmsSign,
  cmsToPem,
  cmsVerify,
  createCsr,
  parseCertificates,
  REVOCATION_REASONS,
  sm2Signer,
  SM2_DEFAULT_ID,
  SM2_OPENSSL_EMPTY_ID,
  validatePath,
  X509Certificate,
  type Profile,
  type Purpose,
  type RevocationReason,
} from '@xiangan/pki';
import type { CliIo } from './io.js';
import { UsageError, readAll } from './io.js';

type Values = Record<string, string | boolean | string[] | undefined>;

function parse(argv: string[], strings: string[], booleans: string[] = [], multiple: string[] = []): { v: Values; pos: string[] } {
  const options: NonNullable<ParseArgsConfig['options']> = Object.fromEntries([
    ...strings.map((n) => [n, { type: 'string' as const, multiple: multiple.includes(n) }]),
    ...booleans.map((n) => [n, { type: 'boolean' as const }]),
  ]);
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { v: r.values as Values, pos: r.positionals };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function str(v: Values, name: string): string | undefined {
  const x = v[name];
  return typeof x === 'string' ? x : undefined;
}
function list(v: Values, name: string): string[] {
  const x = v[name];
  return Array.isArray(x) ? x : typeof x === 'string' ? [x] : [];
}
function need(v: Values, name: string, usage: string): string {
  const x = str(v, name);
  if (!x) throw new UsageError(`--${name} is required (${usage})`);
  return x;
}
function num(v: Values, name: string): number | undefined {
  const x = str(v, name);
  if (x === undefined) return undefined;
  if (!/^\d+$/.test(x)) throw new UsageError(`--${name} must be a whole number`);
  return Number(x);
}
function abs(io: CliIo, p: string): string {
  return resolve(io.cwd, p);
}
function readBytes(io: CliIo, p: string): Uint8Array {
  return new Uint8Array(readFileSync(abs(io, p)));
}
function readText(io: CliIo, p: string): string {
  return readFileSync(abs(io, p), 'utf8');
}
async function input(io: CliIo, file: string | undefined): Promise<Uint8Array> {
  return file ? readBytes(io, file) : readAll(io.stdin);
}
function output(io: CliIo, file: string | undefined, data: Uint8Array | string): void {
  if (file) writeFileSync(abs(io, file), data);
  else io.stdout.write(data);
}

function caDir(io: CliIo, v: Values): string {
  return abs(io, str(v, 'dir') ?? io.env.XIANGAN_CA_DIR ?? 'ca');
}

/** The CA passphrase: env var (default XIANGAN_CA_PASSPHRASE) or a file; never an argument. */
function caPassphrase(io: CliIo, v: Values): string {
  const file = str(v, 'passphrase-file') ?? io.env.XIANGAN_CA_PASSPHRASE_FILE;
  if (file) return readText(io, file).split(/\r?\n/)[0];
  const name = str(v, 'passphrase-env') ?? 'XIANGAN_CA_PASSPHRASE';
  const pw = io.env[name];
  if (!pw) throw new UsageError(`set the CA passphrase in $${name} (or use --passphrase-file FILE)`);
  return pw;
}

function loadKey(io: CliIo, v: Values): Sm2PrivateKey {
  const file = need(v, 'key', 'an SM2 private key file');
  const envName = str(v, 'key-passphrase-env');
  const pw = envName ? io.env[envName] : undefined;
  if (envName && pw === undefined) throw new UsageError(`$${envName} is not set`);
  return importSm2PrivateKey(readText(io, file), pw === undefined ? {} : { passphrase: pw });
}

function loadCert(io: CliIo, p: string): X509Certificate {
  return X509Certificate.parse(readBytes(io, p));
}

function loadCerts(io: CliIo, p: string | undefined): X509Certificate[] {
  return p ? parseCertificates(readText(io, p)) : [];
}

const CA_COMMON = ['dir', 'passphrase-env', 'passphrase-file'];

async function runCa(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'init': {
      const { v } = parse(rest, [...CA_COMMON, 'subject', 'intermediate-subject', 'crl-url', 'ocsp-url', 'ca-issuers-url', 'kdf-iterations'], ['intermediate']);
      const dir = caDir(io, v);
      const ca = CertificateAuthority.init(dir, {
        passphrase: caPassphrase(io, v),
        intermediate: v.intermediate === true,
        rootSubject: str(v, 'subject'),
        intermediateSubject: str(v, 'intermediate-subject'),
        urls: { crl: str(v, 'crl-url'), ocsp: str(v, 'ocsp-url'), caIssuers: str(v, 'ca-issuers-url') },
        kdfIterations: num(v, 'kdf-iterations'),
      });
      io.stdout.write(`CA created in ${dir}\n`);
      for (const c of ca.chain) io.stdout.write(`  ${c.subjectName} (serial ${c.serialHex}, until ${c.notAfter.toISOString()})\n`);
      return 0;
    }
    case 'issue': {
      const { v } = parse(rest, [...CA_COMMON, 'csr', 'profile', 'days', 'out']);
      const profile = need(v, 'profile', 'server|client|sign|enc') as Profile;
      if (!['server', 'client', 'sign', 'enc'].includes(profile)) throw new UsageError(`unknown profile '${profile}' (server, client, sign, enc)`);
      const csr = readBytes(io, need(v, 'csr', 'a PKCS#10 request, PEM or DER'));
      const ca = CertificateAuthority.open(caDir(io, v), { passphrase: caPassphrase(io, v) });
      const cert = ca.issue(csr, { profile, days: num(v, 'days') });
      output(io, str(v, 'out'), cert.toPem());
      io.stderr.write(`issued serial ${cert.serialHex} to ${cert.subjectName}\n`);
      return 0;
    }
    case 'revoke': {
      const { v, pos } = parse(rest, [...CA_COMMON, 'reason']);
      if (pos.length !== 1) throw new UsageError('usage: xiangan ca revoke SERIAL [--reason R]');
      const reason = (str(v, 'reason') ?? 'unspecified') as RevocationReason;
      if (!(reason in REVOCATION_REASONS)) throw new UsageError(`unknown reason '${reason}' (${Object.keys(REVOCATION_REASONS).join(', ')})`);
      const ca = CertificateAuthority.open(caDir(io, v), { passphrase: caPassphrase(io, v) });
      ca.revoke(pos[0], reason);
      io.stdout.write(`revoked ${pos[0]} (${reason}); run 'xiangan ca crl' to publish\n`);
      return 0;
    }
    case 'crl': {
      const { v } = parse(rest, [...CA_COMMON, 'days', 'out', 'revoke-intermediate'], ['openssl-compat', 'root']);
      const passphrase = caPassphrase(io, v);
      const ca = CertificateAuthority.open(caDir(io, v), { passphrase });
      const common = { nextUpdateDays: num(v, 'days'), sm2Id: v['openssl-compat'] === true ? SM2_OPENSSL_EMPTY_ID : undefined };
      const revokeIntermediate = str(v, 'revoke-intermediate') as RevocationReason | undefined;
      if (revokeIntermediate && !(revokeIntermediate in REVOCATION_REASONS)) throw new UsageError(`unknown reason '${revokeIntermediate}'`);
      if (revokeIntermediate && v.root !== true) throw new UsageError('--revoke-intermediate goes with --root');
      const crl = v.root === true ? ca.createRootCrl({ ...common, passphrase, revokeIntermediate }) : ca.createCrl(common);
      output(io, str(v, 'out'), crl.toPem());
      io.stderr.write(`CRL number ${crl.crlNumber} with ${crl.entries.length} entries, next update ${crl.nextUpdate?.toISOString()}\n`);
      return 0;
    }
    case 'list': {
      const { v } = parse(rest, [...CA_COMMON]);
      const ca = CertificateAuthority.open(caDir(io, v), { passphrase: caPassphrase(io, v) });
      for (const i of ca.issued()) io.stdout.write(`${i.serial}\t${i.profile}\t${ca.status(i.serial).status}\t${i.notAfter}\t${i.subject}\n`);
      return 0;
    }
    default:
      throw new UsageError('usage: xiangan ca init|issue|revoke|crl|list …');
  }
}

async function runX509(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'req': {
      const { v } = parse(rest, ['key', 'key-passphrase-env', 'subject', 'dns', 'ip', 'out'], [], ['dns', 'ip']);
      const key = loadKey(io, v);
      const req = createCsr({ subject: need(v, 'subject', 'e.g. /C=CN/O=湘安/CN=host'), signer: sm2Signer(key), subjectAltName: { dns: list(v, 'dns'), ip: list(v, 'ip') } });
      output(io, str(v, 'out'), req.toPem());
      return 0;
    }
    case 'show': {
      const { pos } = parse(rest, []);
      if (pos.length !== 1) throw new UsageError('usage: xiangan x509 show CERT');
      const c = loadCert(io, pos[0]);
      const e = c.extensions;
      const info = {
        subject: c.subjectName,
        issuer: c.issuerName,
        serial: c.serialHex,
        notBefore: c.notBefore.toISOString(),
        notAfter: c.notAfter.toISOString(),
        publicKey: c.publicKey.kind,
        signatureAlgorithm: c.signatureAlgorithm,
        basicConstraints: e.basicConstraints,
        keyUsage: e.keyUsage,
        extKeyUsage: e.extKeyUsage,
        subjectAltName: e.subjectAltName,
        crlDistributionPoints: e.crlDistributionPoints,
        authorityInfoAccess: e.authorityInfoAccess,
      };
      io.stdout.write(JSON.stringify(info, null, 2) + '\n');
      return 0;
    }
    case 'verify': {
      const { v, pos } = parse(rest, ['ca', 'untrusted', 'crl', 'purpose', 'at'], ['require-crl', 'openssl-compat'], ['crl']);
      if (pos.length !== 1) throw new UsageError('usage: xiangan x509 verify --ca root.pem CERT');
      const at = str(v, 'at');
      if (at && Number.isNaN(Date.parse(at))) throw new UsageError('--at must be a date, e.g. 2026-05-01T00:00:00Z');
      const r = validatePath(loadCert(io, pos[0]), {
        trustAnchors: loadCerts(io, need(v, 'ca', 'trusted root certificates (PEM)')),
        intermediates: loadCerts(io, str(v, 'untrusted')),
        crls: list(v, 'crl').map((p) => CertificateRevocationList.parse(readBytes(io, p))),
        purpose: (str(v, 'purpose') ?? 'any') as Purpose,
        time: at ? new Date(at) : new Date(),
        revocation: v['require-crl'] === true ? 'required' : 'available',
        sm2Ids: v['openssl-compat'] === true ? [SM2_DEFAULT_ID, SM2_OPENSSL_EMPTY_ID] : undefined,
      });
      if (r.ok) {
        io.stdout.write(`${pos[0]}: OK (${r.path.map((c) => c.subjectName).join(' ← ')})\n`);
        return 0;
      }
      io.stdout.write(`${pos[0]}: ${r.code}: ${r.message} [${r.certificate.subjectName}, depth ${r.depth}]\n`);
      return 1;
    }
    default:
      throw new UsageError('usage: xiangan x509 req|show|verify …');
  }
}

async function runCms(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'sign': {
      const { v } = parse(rest, ['cert', 'key', 'key-passphrase-env', 'chain', 'in', 'out'], ['detached', 'no-attrs', 'openssl-compat', 'pem', 'gm-oids']);
      const der = cmsSign({
        content: await input(io, str(v, 'in')),
        certificate: loadCert(io, need(v, 'cert', 'the signer certificate')),
        key: loadKey(io, v),
        extraCertificates: loadCerts(io, str(v, 'chain')),
        detached: v.detached === true,
        signedAttributes: v['no-attrs'] !== true,
        sm2Id: v['openssl-compat'] === true ? SM2_OPENSSL_EMPTY_ID : undefined,
        oids: v['gm-oids'] === true ? 'gm' : 'rfc5652',
      });
      output(io, str(v, 'out'), v.pem === true ? cmsToPem(der) : der);
      return 0;
    }
    case 'verify': {
      const { v } = parse(rest, ['content', 'ca', 'untrusted', 'crl', 'in', 'out', 'purpose'], ['openssl-compat'], ['crl']);
      const contentFile = str(v, 'content');
      const r = cmsVerify(await input(io, str(v, 'in')), {
        content: contentFile ? readBytes(io, contentFile) : undefined,
        sm2Id: v['openssl-compat'] === true ? SM2_OPENSSL_EMPTY_ID : undefined,
      });
      if (!r.ok) {
        io.stderr.write(`Verification failure: ${r.signers.map((s) => s.code ?? 'no signer').join(', ')}\n`);
        return 1;
      }
      const ca = str(v, 'ca');
      if (ca) {
        for (const s of r.signers) {
          const pr = validatePath(s.certificate!, {
            trustAnchors: loadCerts(io, ca),
            intermediates: [...r.certificates, ...loadCerts(io, str(v, 'untrusted'))],
            time: s.signingTime ?? new Date(),
            purpose: (str(v, 'purpose') ?? 'sign') as Purpose,
            crls: list(v, 'crl').map((p) => CertificateRevocationList.parse(readBytes(io, p))),
          });
          if (!pr.ok) {
            io.stderr.write(`Verification failure: signer ${s.certificate!.subjectName}: ${pr.code}: ${pr.message}\n`);
            return 1;
          }
        }
      }
      if (str(v, 'out')) output(io, str(v, 'out'), r.content);
      io.stderr.write(`Verification successful (${r.signers.map((s) => s.certificate?.subjectName).join('; ')})\n`);
      return 0;
    }
    case 'encrypt': {
      const { v } = parse(rest, ['cert', 'in', 'out'], ['pem', 'gm-oids'], ['cert']);
      const recipients = list(v, 'cert').map((p) => loadCert(io, p));
      if (!recipients.length) throw new UsageError('--cert is required (recipient encryption certificate; repeat for more)');
      const der = cmsEncrypt({ content: await input(io, str(v, 'in')), recipients, oids: v['gm-oids'] === true ? 'gm' : 'rfc5652' });
      output(io, str(v, 'out'), v.pem === true ? cmsToPem(der) : der);
      return 0;
    }
    case 'decrypt': {
      const { v } = parse(rest, ['cert', 'key', 'key-passphrase-env', 'in', 'out']);
      const plain = cmsDecrypt(await input(io, str(v, 'in')), { certificate: loadCert(io, need(v, 'cert', 'your encryption certificate')), key: loadKey(io, v) });
      output(io, str(v, 'out'), plain);
      return 0;
    }
    default:
      throw new UsageError('usage: xiangan cms sign|verify|encrypt|decrypt …');
  }
}

/**
 * Entry point for `ca`, `x509` and `cms`; resolves to the exit code.
 * @example await run('ca', ['crl', '--dir', 'ca', '--out', 'crl.pem'], io) // 0
 */
export async function run(command: string, argv: string[], io: CliIo): Promise<number> {
  if (command === 'ca') return runCa(argv, io);
  if (command === 'x509') return runX509(argv, io);
  if (command === 'cms') return runCms(argv, io);
  throw new UsageError(`unknown command ${command}`);
}
