/**
 * The SOC's checkpoint-signing identity: an SM2 key kept only as encrypted PKCS#8 (PBES2 with
 * PBKDF2-HMAC-SM3 and SM4-CBC, readable by `openssl pkey`) and an X.509 certificate for it with
 * the `sign` profile (digitalSignature, nonRepudiation; GM/T 0015-2012) from the PKI's CA. At first
 * start the SOC creates both: from a CA it is given (`caDir`), or else from its own small CA under
 * `<dir>/integrity/ca` protected by the same passphrase.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importSm2PrivateKey, Sm2PrivateKey, sm2PrivateKeyToPem, type Sm2PublicKey, importSm2PublicKey } from '@xiangan/crypto';
import { CertificateAuthority, createCsr, parseCertificates, sm2Signer, writeFileAtomic, type X509Certificate } from '@xiangan/pki';
import { SocError } from '../errors.js';

/** The loaded identity. */
export interface SigningIdentity {
  key: Sm2PrivateKey;
  /** The signing certificate. */
  certificate: X509Certificate;
  /** Issuer certificates, issuing CA first, root last. */
  chain: X509Certificate[];
}

/** Options of {@link loadOrCreateIdentity}. */
export interface IdentityOptions {
  /** Data directory; files go to `<dir>/integrity/`. */
  dir: string;
  /** Passphrase of the encrypted key (config `integrity.passphrase` or `$XIANGAN_INTEGRITY_PASSPHRASE`); ≥ 8 characters. */
  passphrase: string;
  /** An existing CA directory to issue from (its passphrase in `caPassphrase`); default: a CA of its own. */
  caDir?: string;
  caPassphrase?: string;
  /** Subject of the signing certificate. */
  subject?: string;
  /** PBKDF2 iterations for new encrypted keys (tests lower it). */
  kdfIterations?: number;
  now?: Date;
}

/** Paths of the identity files under a data directory. */
export function identityFiles(dir: string): { dir: string; key: string; cert: string; chain: string; ca: string } {
  const d = join(dir, 'integrity');
  return { dir: d, key: join(d, 'signing.key.pem'), cert: join(d, 'signing.pem'), chain: join(d, 'chain.pem'), ca: join(d, 'ca') };
}

/**
 * Load the signing identity, creating key and certificate at first start.
 * @example const id = loadOrCreateIdentity({ dir: './data', passphrase: process.env.XIANGAN_INTEGRITY_PASSPHRASE! });
 */
export function loadOrCreateIdentity(o: IdentityOptions): SigningIdentity {
  if (typeof o.passphrase !== 'string' || o.passphrase.length < 8) throw new RangeError('integrity: the passphrase must be at least 8 characters');
  const f = identityFiles(o.dir);
  try {
    if (!existsSync(f.key) || !existsSync(f.cert)) create(o, f);
    const key = importSm2PrivateKey(readFileSync(f.key, 'utf8'), { passphrase: o.passphrase });
    const [certificate] = parseCertificates(readFileSync(f.cert, 'utf8'));
    const chain = existsSync(f.chain) ? parseCertificates(readFileSync(f.chain, 'utf8')) : [];
    if (!certificate) throw new Error('signing.pem holds no certificate');
    const pub = importSm2PublicKey(certificate.spki);
    if (!samePoint(pub, key.publicKey)) throw new Error('signing.key.pem does not match signing.pem');
    return { key, certificate, chain };
  } catch (e) {
    if (e instanceof SocError || e instanceof RangeError) throw e;
    throw new SocError('SOC_ERR_INTEGRITY', `cannot load the integrity signing identity in ${f.dir}: ${(e as Error).message}`, { cause: e });
  }
}

function samePoint(a: Sm2PublicKey, b: Sm2PublicKey): boolean {
  const x = a.toBytes('uncompressed');
  const y = b.toBytes('uncompressed');
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function create(o: IdentityOptions, f: ReturnType<typeof identityFiles>): void {
  mkdirSync(f.dir, { recursive: true, mode: 0o700 });
  const now = o.now ?? new Date();
  const ca = o.caDir
    ? CertificateAuthority.open(o.caDir, { passphrase: o.caPassphrase ?? o.passphrase })
    : existsSync(join(f.ca, 'state.json'))
      ? CertificateAuthority.open(f.ca, { passphrase: o.passphrase })
      : CertificateAuthority.init(f.ca, {
          passphrase: o.passphrase,
          rootSubject: '/C=CN/O=Xiangan/CN=Xiangan SOC Integrity CA',
          now,
          ...(o.kdfIterations ? { kdfIterations: o.kdfIterations } : {}),
        });
  const key = Sm2PrivateKey.generate();
  const csr = createCsr({ subject: o.subject ?? '/C=CN/O=Xiangan/CN=Xiangan SOC checkpoint signer', signer: sm2Signer(key) });
  const cert = ca.issue(csr, { profile: 'sign', now });
  // Key first: a crash between the two writes leaves no certificate, so the next start creates both again.
  writeFileAtomic(f.key, sm2PrivateKeyToPem(key, { passphrase: o.passphrase, ...(o.kdfIterations ? { iterations: o.kdfIterations } : {}) }), 0o600);
  writeFileAtomic(f.chain, ca.chain.map((c) => c.toPem()).join(''));
  writeFileAtomic(f.cert, cert.toPem());
}
