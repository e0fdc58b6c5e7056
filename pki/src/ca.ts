/**
 * A small certification authority kept in a directory: a root (and optionally an
 * intermediate that does the issuing), state of serials, issued and revoked certificates,
 * and CRLs. Every write is atomic (temporary file, fsync, rename, fsync of the directory) and
 * serialised by a lock file, so a crash leaves either the old or the new state. Private keys
 * are stored only as encrypted PKCS#8 (PBES2 with PBKDF2-HMAC-SM3 and SM4-CBC).
 *
 * Layout: `ca.pem` (issuing CA), `ca.key.pem`, `root.pem` and `root.key.pem` (with an
 * intermediate), `chain.pem` (issuing CA first), `state.json`, `certs/<serial>.pem`, `crl.pem`.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { bytesToHex, CryptoError, hexToBytes, importSm2PrivateKey, sm2PrivateKeyToPem } from '@xiangan/crypto';
import { createCrl, REVOCATION_REASONS, type CertificateRevocationList, type RevocationReason } from './crl.js';
import { CertificateRequest } from './csr.js';
import { PkiError } from './errors.js';
import type { ExtensionOptions, KeyUsageName } from './extensions.js';
import { Sm2PrivateKey, sm2PublicPoint, type Sm2Key } from './gm.js';
import type { OcspCertStatus } from './ocsp.js';
import { sm2Signer, sm2Spki, SM2_OPENSSL_EMPTY_ID, type SignatureOptions, type Signer } from './sigalg.js';
import { createCertificate, defaultRandom, randomSerial, X509Certificate } from './x509.js';

/** Issuance profiles (GM/T 0015-2012 §6 dual certificates: `sign` and `enc`). */
export type Profile = 'server' | 'client' | 'sign' | 'enc';

/**
 * Key usage and extended key usage of each profile.
 * @example PROFILES.enc.keyUsage // ['keyEncipherment', 'dataEncipherment', 'keyAgreement']
 */
export const PROFILES: Record<Profile, { keyUsage: KeyUsageName[]; extKeyUsage?: string[] }> = {
  server: { keyUsage: ['digitalSignature', 'keyEncipherment', 'keyAgreement'], extKeyUsage: ['serverAuth'] },
  client: { keyUsage: ['digitalSignature', 'keyAgreement'], extKeyUsage: ['clientAuth'] },
  sign: { keyUsage: ['digitalSignature', 'nonRepudiation'] },
  enc: { keyUsage: ['keyEncipherment', 'dataEncipherment', 'keyAgreement'] },
};

const DAY = 86_400_000;

interface IssuedRecord {
  serial: string;
  subject: string;
  profile: Profile;
  notBefore: string;
  notAfter: string;
}
interface RevokedRecord {
  serial: string;
  date: string;
  reason: RevocationReason;
}
interface CaState {
  version: 1;
  crlNumber: string;
  urls: { crl?: string; ocsp?: string; caIssuers?: string };
  issued: IssuedRecord[];
  revoked: RevokedRecord[];
  /** The root's own CRL (with an intermediate): its number and whether the intermediate is revoked. */
  root?: { crlNumber: string; revoked: RevokedRecord[] };
}

/**
 * Write `data` to `path` atomically: temp file in the same directory, fsync, rename over the
 * target, fsync the directory (so the rename itself is durable).
 *
 * @example writeFileAtomic('state.json', utf8ToBytes(json));
 */
export function writeFileAtomic(path: string, data: Uint8Array | string, mode = 0o644): void {
  const tmp = `${path}.tmp-${process.pid}-${Date.now().toString(36)}`;
  const fd = openSync(tmp, 'wx', mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (e) {
    unlinkSync(tmp);
    throw e;
  }
  const dfd = openSync(join(path, '..'), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

function withLock<T>(dir: string, fn: () => T): T {
  const lock = join(dir, '.lock');
  let fd: number;
  try {
    fd = openSync(lock, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new PkiError('PKI_ERR_CA_STATE', `CA directory is locked (${lock}); remove it if no other process runs`);
    throw e;
  }
  closeSync(fd);
  try {
    return fn();
  } finally {
    unlinkSync(lock);
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new PkiError('PKI_ERR_CA_STATE', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

function loadKey(path: string, passphrase: string): Sm2Key {
  try {
    return importSm2PrivateKey(readText(path), { passphrase });
  } catch (e) {
    if (e instanceof CryptoError && e.code === 'CRYPTO_ERR_KEY_DECRYPT') throw new PkiError('PKI_ERR_CA_PASSPHRASE', 'the passphrase does not decrypt the CA key', { cause: e });
    if (e instanceof CryptoError) throw new PkiError('PKI_ERR_CA_STATE', `CA key ${path}: ${e.message}`, { cause: e });
    throw e;
  }
}

function parseState(text: string): CaState {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new PkiError('PKI_ERR_CA_STATE', 'state.json is not JSON', { cause: e });
  }
  const s = v as CaState;
  if (!s || s.version !== 1 || !Array.isArray(s.issued) || !Array.isArray(s.revoked) || typeof s.crlNumber !== 'string' || !/^\d+$/.test(s.crlNumber)) {
    throw new PkiError('PKI_ERR_CA_STATE', 'state.json does not have the expected shape');
  }
  return s;
}

/** Options of {@link CertificateAuthority.init}. */
export interface CaInitOptions {
  /** Passphrase protecting the CA key(s); required, at least 8 characters. */
  passphrase: string;
  /** Root subject; default `/C=CN/O=Xiangan/CN=Xiangan Root CA`. */
  rootSubject?: string;
  /** Also create an intermediate that does the issuing. */
  intermediate?: boolean;
  intermediateSubject?: string;
  /** URLs put into issued certificates (CRL distribution point, OCSP, CA issuers). */
  urls?: { crl?: string; ocsp?: string; caIssuers?: string };
  now?: Date;
  rootDays?: number;
  intermediateDays?: number;
  /** PBKDF2 iterations for the encrypted keys (tests lower it). */
  kdfIterations?: number;
  random?: (n: number) => Uint8Array;
}

/**
 * The CA in a directory.
 *
 * @example
 * const ca = CertificateAuthority.init('./ca', { passphrase, intermediate: true });
 * const cert = ca.issue(csrPem, { profile: 'server' });
 * ca.revoke(cert.serialHex, 'keyCompromise');
 * const crl = ca.createCrl();
 */
export class CertificateAuthority {
  /** The issuing CA certificate. */
  readonly certificate: X509Certificate;
  /** Issuing CA first, root last. */
  readonly chain: X509Certificate[];
  private readonly signer: Signer;
  private readonly key: Sm2Key;
  private readonly random: (n: number) => Uint8Array;

  private constructor(
    readonly dir: string,
    chain: X509Certificate[],
    key: Sm2Key,
    random: (n: number) => Uint8Array,
  ) {
    this.chain = chain;
    this.certificate = chain[0];
    this.signer = sm2Signer(key);
    this.key = key;
    this.random = random;
    if (this.signer.publicKey.length !== this.certificate.spki.length || !this.signer.publicKey.every((b, i) => b === this.certificate.spki[i])) {
      throw new PkiError('PKI_ERR_KEY_MISMATCH', 'ca.key.pem does not match ca.pem');
    }
  }

  /**
   * Create a new CA in `dir` (created if missing; refused if a CA is there).
   * @example CertificateAuthority.init('/srv/ca', { passphrase: process.env.XIANGAN_CA_PASSPHRASE! })
   */
  static init(dir: string, o: CaInitOptions): CertificateAuthority {
    if (typeof o.passphrase !== 'string' || o.passphrase.length < 8) throw new RangeError('the CA passphrase must be at least 8 characters');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (existsSync(join(dir, 'state.json')) || existsSync(join(dir, 'ca.pem'))) throw new PkiError('PKI_ERR_CA_EXISTS', `a CA already exists in ${dir}`);
    return withLock(dir, () => {
      const random = o.random ?? defaultRandom;
      const now = o.now ?? new Date();
      const notBefore = new Date(now.getTime() - 60_000);
      const enc = { passphrase: o.passphrase, iterations: o.kdfIterations };
      const rootKey = Sm2PrivateKey.generate();
      const rootSigner = sm2Signer(rootKey);
      const root = createCertificate({
        subject: o.rootSubject ?? '/C=CN/O=Xiangan/CN=Xiangan Root CA',
        publicKey: rootSigner.publicKey,
        signer: rootSigner,
        notBefore,
        notAfter: new Date(now.getTime() + (o.rootDays ?? 7300) * DAY),
        basicConstraints: { ca: true },
        keyUsage: ['keyCertSign', 'cRLSign'],
        random,
      });
      let chain = [root];
      let issuingKey = rootKey;
      if (o.intermediate) {
        const key = Sm2PrivateKey.generate();
        const ica = createCertificate({
          subject: o.intermediateSubject ?? '/C=CN/O=Xiangan/CN=Xiangan Issuing CA',
          publicKey: sm2Spki(sm2PublicPoint(key)),
          issuer: root,
          signer: rootSigner,
          notBefore,
          notAfter: new Date(Math.min(root.notAfter.getTime(), now.getTime() + (o.intermediateDays ?? 3650) * DAY)),
          basicConstraints: { ca: true, pathLen: 0 },
          keyUsage: ['keyCertSign', 'cRLSign', 'digitalSignature'],
          random,
        });
        writeFileAtomic(join(dir, 'root.key.pem'), sm2PrivateKeyToPem(rootKey, enc), 0o600);
        writeFileAtomic(join(dir, 'root.pem'), root.toPem());
        chain = [ica, root];
        issuingKey = key;
      }
      mkdirSync(join(dir, 'certs'), { recursive: true });
      writeFileAtomic(join(dir, 'ca.key.pem'), sm2PrivateKeyToPem(issuingKey, enc), 0o600);
      writeFileAtomic(join(dir, 'ca.pem'), chain[0].toPem());
      writeFileAtomic(join(dir, 'chain.pem'), chain.map((c) => c.toPem()).join(''));
      const state: CaState = { version: 1, crlNumber: '0', urls: o.urls ?? {}, issued: [], revoked: [] };
      writeFileAtomic(join(dir, 'state.json'), JSON.stringify(state, null, 2) + '\n');
      return new CertificateAuthority(dir, chain, issuingKey, random);
    });
  }

  /**
   * Open an existing CA; the passphrase decrypts its key.
   * @example const ca = CertificateAuthority.open('./ca', { passphrase });
   */
  static open(dir: string, o: { passphrase: string; random?: (n: number) => Uint8Array }): CertificateAuthority {
    if (typeof o.passphrase !== 'string' || o.passphrase.length === 0) throw new PkiError('PKI_ERR_CA_PASSPHRASE', 'no CA passphrase given');
    if (!existsSync(join(dir, 'state.json'))) throw new PkiError('PKI_ERR_CA_STATE', `no CA in ${dir} (run ca init)`);
    parseState(readText(join(dir, 'state.json')));
    const chain = [X509Certificate.fromPem(readText(join(dir, 'ca.pem')))];
    if (existsSync(join(dir, 'root.pem'))) chain.push(X509Certificate.fromPem(readText(join(dir, 'root.pem'))));
    const key = loadKey(join(dir, 'ca.key.pem'), o.passphrase);
    return new CertificateAuthority(dir, chain, key, o.random ?? defaultRandom);
  }

  /** The root (trust anchor) certificate. */
  get root(): X509Certificate {
    return this.chain[this.chain.length - 1];
  }

  private state(): CaState {
    return parseState(readText(join(this.dir, 'state.json')));
  }

  private saveState(s: CaState): void {
    writeFileAtomic(join(this.dir, 'state.json'), JSON.stringify(s, null, 2) + '\n');
  }

  /**
   * Issue a certificate for a PKCS#10 request under a profile. The request's signature
   * (proof of possession) must verify; its subject and requested subjectAltName are kept,
   * every other requested extension is replaced by the profile's.
   *
   * @example const cert = ca.issue(fs.readFileSync('req.pem', 'utf8'), { profile: 'sign' });
   */
  issue(csr: Uint8Array | string | CertificateRequest, o: { profile: Profile; days?: number; now?: Date }): X509Certificate {
    const p = PROFILES[o.profile];
    if (!p) throw new RangeError(`unknown profile '${String(o.profile)}' (server, client, sign, enc)`);
    const req = csr instanceof CertificateRequest ? csr : CertificateRequest.parse(csr);
    // Proof of possession (RFC 2986 §3): any SM2 ID proves it, so requests from OpenSSL 3.0
    // without -sigopt distid (empty ID) are accepted as well as GM/T 0009 default-ID ones.
    if (!req.verify() && !(req.publicKey.kind === 'sm2' && req.verify({ sm2Id: SM2_OPENSSL_EMPTY_ID }))) {
      throw new PkiError('PKI_ERR_BAD_SIGNATURE', 'the request signature (proof of possession) does not verify');
    }
    if (o.profile === 'enc' && req.publicKey.kind !== 'sm2') throw new PkiError('PKI_ERR_CA_PROFILE', 'an encryption certificate needs an SM2 key');
    const now = o.now ?? new Date();
    const days = o.days ?? 365;
    if (!Number.isInteger(days) || days < 1 || days > 3650) throw new RangeError('days must be an integer in 1..3650');
    const notAfter = new Date(Math.min(this.certificate.notAfter.getTime(), now.getTime() + days * DAY));
    return withLock(this.dir, () => {
      const s = this.state();
      let serial = randomSerial(this.random);
      const used = new Set(s.issued.map((i) => i.serial));
      while (used.has(bytesToHex(serial))) serial = randomSerial(this.random);
      const san = req.requestedExtensions.subjectAltName;
      const ext: ExtensionOptions = {
        basicConstraints: { ca: false },
        keyUsage: p.keyUsage,
        extKeyUsage: p.extKeyUsage,
        subjectAltName: san,
        crlDistributionPoints: s.urls.crl ? [s.urls.crl] : undefined,
        authorityInfoAccess: s.urls.ocsp || s.urls.caIssuers ? { ocsp: s.urls.ocsp ? [s.urls.ocsp] : [], caIssuers: s.urls.caIssuers ? [s.urls.caIssuers] : [] } : undefined,
      };
      const cert = createCertificate({
        ...ext,
        subject: req.subject,
        publicKey: req.spki,
        issuer: this.certificate,
        signer: this.signer,
        serialNumber: serial,
        notBefore: new Date(now.getTime() - 60_000),
        notAfter,
        random: this.random,
      });
      writeFileAtomic(join(this.dir, 'certs', `${cert.serialHex}.pem`), cert.toPem());
      s.issued.push({ serial: cert.serialHex, subject: cert.subjectName, profile: o.profile, notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString() });
      this.saveState(s);
      return cert;
    });
  }

  /**
   * Revoke a certificate this CA issued (serial in hex).
   * @example ca.revoke('5f1c…', 'keyCompromise')
   */
  revoke(serialHex: string, reason: RevocationReason = 'unspecified', now: Date = new Date()): void {
    if (!(reason in REVOCATION_REASONS) || reason === 'removeFromCRL') throw new RangeError(`unknown revocation reason '${reason}'`);
    const serial = normaliseSerial(serialHex);
    withLock(this.dir, () => {
      const s = this.state();
      if (!s.issued.some((i) => i.serial === serial)) throw new PkiError('PKI_ERR_CA_UNKNOWN_SERIAL', `serial ${serial} was not issued by this CA`);
      if (s.revoked.some((r) => r.serial === serial)) return;
      s.revoked.push({ serial, date: new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString(), reason });
      this.saveState(s);
    });
  }

  /**
   * Issue the next CRL (number incremented, durable before the CRL is written) and store it as
   * `crl.pem`. `sm2Id: SM2_OPENSSL_EMPTY_ID` signs it the way `openssl crl -verify` 3.0 checks.
   * @example fs.writeFileSync('ca.crl', ca.createCrl().der)
   */
  createCrl(o: { now?: Date; nextUpdateDays?: number } & SignatureOptions = {}): CertificateRevocationList {
    const now = o.now ?? new Date();
    return withLock(this.dir, () => {
      const s = this.state();
      const number = BigInt(s.crlNumber) + 1n;
      s.crlNumber = number.toString();
      this.saveState(s);
      const signer = o.sm2Id ? sm2Signer(this.key, { sm2Id: o.sm2Id }) : this.signer;
      return this.publishCrl('crl.pem', this.certificate, signer, number, s.revoked, now, o.nextUpdateDays ?? 7);
    });
  }

  /**
   * The root's CRL, signed with the root key (`root.key.pem`, same passphrase), stored as
   * `root-crl.pem`; with `revokeIntermediate` the issuing CA is listed from now on. Only for a
   * CA created with an intermediate.
   *
   * @example ca.createRootCrl({ passphrase, revokeIntermediate: 'cACompromise' })
   */
  createRootCrl(o: { passphrase: string; revokeIntermediate?: RevocationReason; now?: Date; nextUpdateDays?: number } & SignatureOptions): CertificateRevocationList {
    if (this.chain.length < 2) throw new PkiError('PKI_ERR_CA_STATE', 'this CA has no intermediate: the root CRL is the CA CRL');
    if (o.revokeIntermediate !== undefined && (!(o.revokeIntermediate in REVOCATION_REASONS) || o.revokeIntermediate === 'removeFromCRL')) {
      throw new RangeError(`unknown revocation reason '${o.revokeIntermediate}'`);
    }
    const rootKey = loadKey(join(this.dir, 'root.key.pem'), o.passphrase);
    const now = o.now ?? new Date();
    return withLock(this.dir, () => {
      const s = this.state();
      const r = (s.root ??= { crlNumber: '0', revoked: [] });
      const serial = this.certificate.serialHex;
      if (o.revokeIntermediate && !r.revoked.some((x) => x.serial === serial)) {
        r.revoked.push({ serial, date: new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString(), reason: o.revokeIntermediate });
      }
      const number = BigInt(r.crlNumber) + 1n;
      r.crlNumber = number.toString();
      this.saveState(s);
      return this.publishCrl('root-crl.pem', this.root, sm2Signer(rootKey, { sm2Id: o.sm2Id }), number, r.revoked, now, o.nextUpdateDays ?? 30);
    });
  }

  /** Sign a CRL over the recorded revocations (thisUpdate a minute back for clock skew) and store it. */
  private publishCrl(
    file: string,
    issuer: X509Certificate,
    signer: Signer,
    number: bigint,
    revoked: RevokedRecord[],
    now: Date,
    days: number,
  ): CertificateRevocationList {
    const crl = createCrl({
      issuer,
      signer,
      thisUpdate: new Date(now.getTime() - 60_000),
      nextUpdate: new Date(now.getTime() + days * DAY),
      crlNumber: number,
      revoked: revoked.map((x) => ({ serialNumber: serialBytes(x.serial), revocationDate: new Date(x.date), reason: x.reason })),
    });
    writeFileAtomic(join(this.dir, file), crl.toPem());
    return crl;
  }

  /**
   * OCSP status of a serial (hex) for {@link createOcspResponder}.
   * @example createOcspResponder({ issuer: ca.certificate, responder: ca.certificate, signer: ca.ocspSigner(), lookup: (s) => ca.status(s) })
   */
  status(serialHex: string): OcspCertStatus {
    const serial = normaliseSerial(serialHex);
    const s = this.state();
    const r = s.revoked.find((x) => x.serial === serial);
    if (r) return { status: 'revoked', revocationTime: new Date(r.date), reason: r.reason === 'unspecified' ? undefined : r.reason };
    return s.issued.some((i) => i.serial === serial) ? { status: 'good' } : { status: 'unknown' };
  }

  /**
   * The issuing CA's signer (for OCSP responses signed by the CA itself); `sm2Id` as in
   * {@link SignatureOptions} (OpenSSL 3.0's `ocsp -respin` checks with the empty ID).
   */
  ocspSigner(o: SignatureOptions = {}): Signer {
    return o.sm2Id ? sm2Signer(this.key, { sm2Id: o.sm2Id }) : this.signer;
  }

  /** Issued certificate records. */
  issued(): readonly IssuedRecord[] {
    return this.state().issued;
  }
}

function normaliseSerial(s: string): string {
  if (typeof s !== 'string') throw new TypeError('serial must be a hex string');
  const t = s.trim().toLowerCase().replace(/^0x/, '').replace(/:/g, '');
  if (!/^[0-9a-f]+$/.test(t) || t.length > 42) throw new RangeError(`serial '${s}' is not hex`);
  const stripped = t.replace(/^(00)+(?=[0-9a-f]{2})/, '');
  return stripped.length % 2 ? '0' + stripped : stripped;
}

function serialBytes(hex: string): Uint8Array {
  const b = hexToBytes(hex);
  return b[0] & 0x80 ? Uint8Array.from([0, ...b]) : b;
}
