/**
 * The KMS key store: SQLite rows whose key material is wrapped with SM4-GCM under a
 * key-encryption key (KEK) derived from the master secret by PBKDF2-HMAC-SM3 (GB/T 32907 via
 * RFC 8018 §5.2). A key-check value, an HMAC-SM3 of a fixed label under the KEK, lets the store
 * refuse a wrong master secret before touching any key (GM/T 0054 §7.3 asks for one).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { hmacSm3, pbkdf2HmacSm3, randomBytes, sm4GcmDecrypt, sm4GcmEncrypt, utf8ToBytes, concatBytes, CryptoError } from '@xiangan/crypto';
import { timingSafeEqual } from 'node:crypto';
import { KmsError } from './errors.js';

/** Types of managed keys. */
export type KmsKeyType = 'sm2-sign' | 'sm2-encrypt' | 'sm4' | 'hmac-sm3';
/** The key types, for validation. */
export const KMS_KEY_TYPES: readonly KmsKeyType[] = ['sm2-sign', 'sm2-encrypt', 'sm4', 'hmac-sm3'];

/** Metadata of a named key (never the material). */
export interface KmsKeyMeta {
  name: string;
  type: KmsKeyType;
  exportable: boolean;
  latestVersion: number;
  minDecryptionVersion: number;
  disabled: boolean;
  /** Epoch ms after which the key is destroyed; absent when not scheduled. */
  destroyAt?: number;
  createdAt: number;
}

/** An application and its policy; the token is kept only as its SM3 hash. */
export interface KmsAppRow {
  name: string;
  tokenHash: Uint8Array;
  keys: string[];
  ops: string[];
  revoked: boolean;
}

/** A client certificate bound to an application (TLS client-certificate authentication). */
export interface KmsAppCertRow {
  /** SM3 of the certificate's DER. */
  fingerprint: Uint8Array;
  app: string;
  subject: string;
  /** Epoch ms. */
  notAfter: number;
}

/** One stored key version: material wrapped under the KEK. */
export interface KmsVersionRow {
  name: string;
  version: number;
  wrapped: Uint8Array;
  publicKey: Uint8Array | null;
  createdAt: number;
}

const KCV_LABEL = utf8ToBytes('xiangan-kms key-check value v1');

/** Where the master secret comes from. */
export type MasterSecret = Uint8Array | string;

function secretBytes(s: MasterSecret): Uint8Array {
  const b = typeof s === 'string' ? utf8ToBytes(s) : s;
  if (!(b instanceof Uint8Array) || b.length < 8) throw new RangeError('master secret must be at least 8 bytes');
  return b;
}

/** Derive the KEK and its key-check value. */
export function deriveKek(secret: MasterSecret, salt: Uint8Array, iterations: number): { kek: Uint8Array; kcv: Uint8Array } {
  const kek = pbkdf2HmacSm3(secretBytes(secret), salt, iterations, 16);
  return { kek, kcv: hmacSm3(kek, KCV_LABEL).subarray(0, 16) };
}

/** SM4-GCM wrap with a fresh 96-bit nonce (SP 800-38D §8.2.2 random construction): nonce ‖ ct ‖ tag. */
export function gcmWrap(kek: Uint8Array, plain: Uint8Array, aad: Uint8Array): Uint8Array {
  const nonce = randomBytes(12);
  return concatBytes(nonce, sm4GcmEncrypt(kek, nonce, plain, { aad }));
}

/** Inverse of {@link gcmWrap}; `undefined` when the blob fails authentication. */
export function gcmUnwrap(kek: Uint8Array, blob: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
  if (blob.length < 12 + 16) return undefined;
  try {
    return sm4GcmDecrypt(kek, blob.subarray(0, 12), blob.subarray(12), { aad });
  } catch (e) {
    if (e instanceof CryptoError) return undefined;
    throw e;
  }
}

/** The AAD binding wrapped material to its key name and version, so rows cannot be swapped. */
export function materialAad(name: string, version: number): Uint8Array {
  return utf8ToBytes(`xiangan-kms|${name}|${version}`);
}

/** Options of {@link KmsStore.open}. */
export interface KmsStoreOptions {
  /** Directory holding `kms.db`. */
  dir: string;
  masterSecret: MasterSecret;
  /** PBKDF2 iterations for a new store (default 100,000); an existing store keeps its own. */
  iterations?: number;
}

/**
 * The SQLite key store. Opening checks the master secret against the key-check value.
 * @example
 * const store = KmsStore.open({ dir: '/var/lib/xiangan', masterSecret: process.env.XIANGAN_KMS_MASTER! });
 */
export class KmsStore {
  readonly kek: Uint8Array;
  readonly salt: Uint8Array;
  readonly iterations: number;
  readonly kcv: Uint8Array;
  private readonly db: Database.Database;

  private constructor(db: Database.Database, kek: Uint8Array, salt: Uint8Array, iterations: number, kcv: Uint8Array) {
    this.db = db;
    this.kek = kek;
    this.salt = salt;
    this.iterations = iterations;
    this.kcv = kcv;
  }

  /** Open or create the store; throws `SOC_ERR_KMS_MASTER_SECRET` on a wrong secret. */
  static open(opts: KmsStoreOptions): KmsStore {
    let db: Database.Database;
    try {
      mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
      db = new Database(join(opts.dir, 'kms.db'));
      db.pragma('journal_mode = WAL');
      db.exec(`
        CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS keys (name TEXT PRIMARY KEY, type TEXT NOT NULL, exportable INTEGER NOT NULL, latest INTEGER NOT NULL,
          min_version INTEGER NOT NULL, disabled INTEGER NOT NULL, destroy_at INTEGER, created INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS versions (name TEXT NOT NULL, version INTEGER NOT NULL, wrapped BLOB NOT NULL, public BLOB,
          created INTEGER NOT NULL, PRIMARY KEY (name, version));
        CREATE TABLE IF NOT EXISTS certs (name TEXT NOT NULL, version INTEGER NOT NULL, der BLOB NOT NULL, PRIMARY KEY (name, version));
        CREATE TABLE IF NOT EXISTS apps (name TEXT PRIMARY KEY, token_hash BLOB NOT NULL UNIQUE, keys TEXT NOT NULL, ops TEXT NOT NULL,
          revoked INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS app_certs (fingerprint BLOB PRIMARY KEY, app TEXT NOT NULL, subject TEXT NOT NULL, not_after INTEGER NOT NULL);
      `);
    } catch (e) {
      throw new KmsError('SOC_ERR_KMS_STORE', `cannot open the key store in ${opts.dir}: ${(e as Error).message}`, { cause: e });
    }
    const get = (k: string): Buffer | undefined => (db.prepare('SELECT v FROM meta WHERE k = ?').get(k) as { v: Buffer } | undefined)?.v;
    const saltB = get('salt');
    if (saltB === undefined) {
      const iterations = opts.iterations ?? 100_000;
      if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError('iterations must be a positive integer');
      const salt = randomBytes(16);
      const { kek, kcv } = deriveKek(opts.masterSecret, salt, iterations);
      const put = db.prepare('INSERT INTO meta (k, v) VALUES (?, ?)');
      db.transaction(() => {
        put.run('salt', Buffer.from(salt));
        put.run('iterations', Buffer.from(String(iterations)));
        put.run('kcv', Buffer.from(kcv));
      })();
      return new KmsStore(db, kek, salt, iterations, kcv);
    }
    const iterations = Number(get('iterations')?.toString() ?? 'NaN');
    const kcvStored = get('kcv');
    if (!Number.isInteger(iterations) || !kcvStored) {
      db.close();
      throw new KmsError('SOC_ERR_KMS_STORE', 'the key store metadata is damaged');
    }
    const salt = new Uint8Array(saltB);
    const { kek, kcv } = deriveKek(opts.masterSecret, salt, iterations);
    if (kcv.length !== kcvStored.length || !timingSafeEqual(kcv, kcvStored)) {
      db.close();
      throw new KmsError('SOC_ERR_KMS_MASTER_SECRET', 'the master secret does not match the key store (key-check value differs)');
    }
    return new KmsStore(db, kek, salt, iterations, kcv);
  }

  /** All key metadata. */
  keys(): KmsKeyMeta[] {
    return (this.db.prepare('SELECT * FROM keys ORDER BY name').all() as KeyRow[]).map(toMeta);
  }

  /** All versions of one key. */
  versions(name: string): KmsVersionRow[] {
    return (this.db.prepare('SELECT * FROM versions WHERE name = ? ORDER BY version').all(name) as VersionRowDb[]).map((r) => ({
      name: r.name,
      version: r.version,
      wrapped: new Uint8Array(r.wrapped),
      publicKey: r.public ? new Uint8Array(r.public) : null,
      createdAt: r.created,
    }));
  }

  /** Insert or replace key metadata. */
  putKey(m: KmsKeyMeta): void {
    this.db
      .prepare('INSERT OR REPLACE INTO keys (name, type, exportable, latest, min_version, disabled, destroy_at, created) VALUES (?,?,?,?,?,?,?,?)')
      .run(m.name, m.type, m.exportable ? 1 : 0, m.latestVersion, m.minDecryptionVersion, m.disabled ? 1 : 0, m.destroyAt ?? null, m.createdAt);
  }

  /** Add a version (wrapping happens in the caller) and update the key row in one transaction. */
  addVersion(m: KmsKeyMeta, v: KmsVersionRow): void {
    this.db.transaction(() => {
      this.putKey(m);
      this.db
        .prepare('INSERT OR REPLACE INTO versions (name, version, wrapped, public, created) VALUES (?,?,?,?,?)')
        .run(v.name, v.version, Buffer.from(v.wrapped), v.publicKey ? Buffer.from(v.publicKey) : null, v.createdAt);
    })();
  }

  /** Delete a key and all its versions (destruction). */
  deleteKey(name: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM versions WHERE name = ?').run(name);
      this.db.prepare('DELETE FROM certs WHERE name = ?').run(name);
      this.db.prepare('DELETE FROM keys WHERE name = ?').run(name);
    })();
  }

  /** Certificates (DER) of one key, by version. */
  certificates(name: string): Map<number, Uint8Array> {
    const rows = this.db.prepare('SELECT version, der FROM certs WHERE name = ?').all(name) as Array<{ version: number; der: Buffer }>;
    return new Map(rows.map((r) => [r.version, new Uint8Array(r.der)]));
  }

  /** Attach a certificate to a key version. */
  putCertificate(name: string, version: number, der: Uint8Array): void {
    this.db.prepare('INSERT OR REPLACE INTO certs (name, version, der) VALUES (?,?,?)').run(name, version, Buffer.from(der));
  }

  /** All applications. */
  apps(): KmsAppRow[] {
    return (this.db.prepare('SELECT * FROM apps ORDER BY name').all() as AppRowDb[]).map((r) => ({
      name: r.name,
      tokenHash: new Uint8Array(r.token_hash),
      keys: JSON.parse(r.keys) as string[],
      ops: JSON.parse(r.ops) as string[],
      revoked: r.revoked === 1,
    }));
  }

  /** Insert or replace an application. */
  putApp(a: KmsAppRow): void {
    this.db
      .prepare('INSERT OR REPLACE INTO apps (name, token_hash, keys, ops, revoked) VALUES (?,?,?,?,?)')
      .run(a.name, Buffer.from(a.tokenHash), JSON.stringify(a.keys), JSON.stringify(a.ops), a.revoked ? 1 : 0);
  }

  /** Client-certificate bindings: SM3 fingerprint of the certificate DER → application. */
  appCertificates(): KmsAppCertRow[] {
    return (this.db.prepare('SELECT * FROM app_certs ORDER BY app, subject').all() as Array<{ fingerprint: Buffer; app: string; subject: string; not_after: number }>).map((r) => ({
      fingerprint: new Uint8Array(r.fingerprint),
      app: r.app,
      subject: r.subject,
      notAfter: r.not_after,
    }));
  }

  /** Bind a client certificate to an application (replacing an earlier binding of the same certificate). */
  putAppCertificate(c: KmsAppCertRow): void {
    this.db.prepare('INSERT OR REPLACE INTO app_certs (fingerprint, app, subject, not_after) VALUES (?,?,?,?)').run(Buffer.from(c.fingerprint), c.app, c.subject, c.notAfter);
  }

  /** Remove a binding; true when one was there. */
  deleteAppCertificate(fingerprint: Uint8Array): boolean {
    return this.db.prepare('DELETE FROM app_certs WHERE fingerprint = ?').run(Buffer.from(fingerprint)).changes > 0;
  }

  close(): void {
    this.db.close();
  }
}

interface KeyRow { name: string; type: KmsKeyType; exportable: number; latest: number; min_version: number; disabled: number; destroy_at: number | null; created: number }
interface VersionRowDb { name: string; version: number; wrapped: Buffer; public: Buffer | null; created: number }
interface AppRowDb { name: string; token_hash: Buffer; keys: string; ops: string; revoked: number }

function toMeta(r: KeyRow): KmsKeyMeta {
  const m: KmsKeyMeta = {
    name: r.name,
    type: r.type,
    exportable: r.exportable === 1,
    latestVersion: r.latest,
    minDecryptionVersion: r.min_version,
    disabled: r.disabled === 1,
    createdAt: r.created,
  };
  if (r.destroy_at !== null) m.destroyAt = r.destroy_at;
  return m;
}
