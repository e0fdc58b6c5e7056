/**
 * Users, sessions, lockout, TOTP, SM2 challenge-response and API tokens, kept in `auth.db`
 * (SQLite) in the data directory. Session ids and API tokens are stored only as SM3 hashes, so a
 * copy of the database does not let anyone in; passwords as PBKDF2-HMAC-SM3 (`password.ts`).
 *
 * GB/T 22239-2019 8.1.4.1: unique identities, complex passwords, login-failure handling (lockout),
 * session timeout, two-factor login at level 3.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import * as OTPAuth from 'otpauth';
import { bytesToHex, hexToBytes, sm2Verify, Sm2PublicKey, sm3, utf8ToBytes } from '@xiangan/crypto';
import { SocError } from '../errors.js';
import type { AuthConfig } from './config.js';
import { checkPasswordPolicy, decoyHash, generatePassword, hashPassword, verifyPassword } from './password.js';
import { isPermission, permissionsOf, ROLES, TOKEN_PERMISSIONS, type Permission, type Role } from './permissions.js';

/** A user as the API shows it (no secrets). */
export interface UserInfo {
  username: string;
  displayName: string;
  role: Role;
  disabled: boolean;
  mustChangePassword: boolean;
  totpEnabled: boolean;
  sm2Enabled: boolean;
  lockedUntil: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Who is calling: a signed-in user or an API token. */
export interface Principal {
  kind: 'session' | 'token';
  /** User name, or `token:<name>`. */
  name: string;
  role?: Role;
  permissions: ReadonlySet<Permission>;
  /** Session id hash (sessions) or token id (tokens). */
  id: string;
  /** Hex SM3 of the session's CSRF token (sessions only). */
  csrfHash?: string;
  /** The user still has to change a one-time password. */
  mustChangePassword?: boolean;
  /** TOTP is required and the user has not enrolled. */
  totpEnrolmentRequired?: boolean;
}

/** A started session: the secrets go to the client once. */
export interface NewSession {
  sessionId: string;
  csrfToken: string;
  absoluteExpiresAt: string;
  user: UserInfo;
}

/** An API token as listed (the secret is never shown again). */
export interface TokenInfo {
  id: string;
  name: string;
  permissions: Permission[];
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

/** A live session as listed. */
export interface SessionInfo {
  id: string;
  username: string;
  createdAt: string;
  lastSeenAt: string;
  ip: string;
}

/** Why a login failed, for the audit trail and the login-failure event. */
export interface LoginFailure {
  username: string;
  ip: string;
  reason: 'unknown_user' | 'bad_password' | 'bad_totp' | 'bad_signature' | 'locked' | 'disabled' | 'no_sm2_key' | 'bad_challenge';
  method: 'password' | 'sm2';
}

/** Options of {@link AuthService.open}. */
export interface AuthServiceOptions {
  /** Data directory; the database is `auth.db` inside it. `':memory:'` for tests. */
  dir: string;
  config: AuthConfig;
  /** Graded-protection level: 3 makes TOTP mandatory. */
  level: 2 | 3;
  now?: () => number;
  /** Called on every failed login (audit trail, login-failure event into the pipeline). */
  onLoginFailure?: (f: LoginFailure) => void;
}

/** The text an SM2 login signs (UTF-8): binds the challenge to the user and to this purpose. */
export function sm2LoginMessage(username: string, challenge: string): Uint8Array {
  return utf8ToBytes(`xiangan-sm2-login\n${username}\n${challenge}`);
}

const CHALLENGE_TTL_MS = 120_000;
const CHALLENGES_MAX = 10_000;
const TOTP_PERIOD = 30;

interface UserRow {
  username: string;
  display_name: string;
  role: Role;
  pw_hash: string;
  must_change: number;
  disabled: number;
  failures: number;
  locked_until: number;
  totp_secret: string | null;
  totp_pending: string | null;
  totp_last_step: number;
  sm2_pub: string | null;
  created_at: number;
  updated_at: number;
}

const hashHex = (s: string): string => bytesToHex(sm3(utf8ToBytes(s)));
const token = (n: number): string => randomBytes(n).toString('base64url');
const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The account database and the login logic.
 *
 * @example
 * const auth = AuthService.open({ dir: './data', config, level: 3 });
 * const first = auth.ensureAdmin(); // { username: 'admin', password } on the first start only
 * const s = auth.loginPassword('admin', password, undefined, '127.0.0.1');
 */
export class AuthService {
  readonly config: AuthConfig;
  readonly level: 2 | 3;
  private readonly db: Database.Database;
  /** Prepared once: the session and token look-ups run on every API request. */
  private readonly stmts = new Map<string, Database.Statement>();
  private readonly now: () => number;
  /** Called on every failed login; the security layer sets it (audit trail, pipeline event). */
  onLoginFailure: ((f: LoginFailure) => void) | undefined;
  private readonly challenges = new Map<string, { username: string; challenge: string; expires: number }>();

  private constructor(opts: AuthServiceOptions) {
    this.config = opts.config;
    this.level = opts.level;
    this.now = opts.now ?? Date.now;
    this.onLoginFailure = opts.onLoginFailure;
    let path = ':memory:';
    if (opts.dir !== ':memory:') {
      mkdirSync(opts.dir, { recursive: true });
      path = join(opts.dir, 'auth.db');
    }
    try {
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS users (
          username TEXT PRIMARY KEY, display_name TEXT NOT NULL, role TEXT NOT NULL, pw_hash TEXT NOT NULL,
          must_change INTEGER NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,
          locked_until INTEGER NOT NULL DEFAULT 0, totp_secret TEXT, totp_pending TEXT, totp_last_step INTEGER NOT NULL DEFAULT 0,
          sm2_pub TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS sessions (
          id_hash TEXT PRIMARY KEY, username TEXT NOT NULL, csrf_hash TEXT NOT NULL, created_at INTEGER NOT NULL,
          last_seen INTEGER NOT NULL, ip TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS tokens (
          id TEXT PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, permissions TEXT NOT NULL, created_by TEXT NOT NULL,
          created_at INTEGER NOT NULL, expires_at INTEGER, revoked_at INTEGER, last_used INTEGER);`);
    } catch (e) {
      throw new SocError('SOC_ERR_STORE_OPEN', `auth database cannot be opened: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Open (or create) the account database. */
  static open(opts: AuthServiceOptions): AuthService {
    if (typeof opts?.dir !== 'string' || opts.dir === '') throw new TypeError('AuthService: dir must be a non-empty string');
    return new AuthService(opts);
  }

  /** Whether users must use TOTP (level 3 or `auth.requireTotp`). */
  get totpRequired(): boolean {
    return this.level === 3 || this.config.requireTotp;
  }

  private stmt(sql: string): Database.Statement {
    let st = this.stmts.get(sql);
    if (!st) this.stmts.set(sql, (st = this.db.prepare(sql)));
    return st;
  }

  /**
   * On the first start (no users at all) create the security administrator `admin` with a random
   * one-time password that must be changed at first login, and return it so the server prints it
   * once. Later starts return `undefined`: no default password exists anywhere.
   */
  ensureAdmin(): { username: string; password: string } | undefined {
    const n = (this.stmt('SELECT count(*) AS n FROM users').get() as { n: number }).n;
    if (n > 0) return undefined;
    const password = generatePassword();
    this.insertUser('admin', 'secadmin', '安全管理员 administrator', password, undefined);
    return { username: 'admin', password };
  }

  private insertUser(username: string, role: Role, displayName: string, password: string, sm2Pub: string | undefined): void {
    const t = this.now();
    this.db
      .prepare('INSERT INTO users (username, display_name, role, pw_hash, must_change, sm2_pub, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?)')
      .run(username, displayName, role, hashPassword(password, this.config.pbkdf2Iterations), sm2Pub ?? null, t, t);
  }

  private row(username: string): UserRow | undefined {
    return this.stmt('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined;
  }

  private mustRow(username: string): UserRow {
    const r = this.row(username);
    if (!r) throw new SocError('SOC_ERR_USER_NOT_FOUND', `no user '${username}'`);
    return r;
  }

  private info(r: UserRow): UserInfo {
    return {
      username: r.username,
      displayName: r.display_name,
      role: r.role,
      disabled: r.disabled === 1,
      mustChangePassword: r.must_change === 1,
      totpEnabled: r.totp_secret !== null,
      sm2Enabled: r.sm2_pub !== null,
      lockedUntil: r.locked_until > this.now() ? iso(r.locked_until) : null,
      createdAt: iso(r.created_at),
      updatedAt: iso(r.updated_at),
    };
  }

  /** One user. */
  getUser(username: string): UserInfo {
    return this.info(this.mustRow(username));
  }

  /** A page of users, by name. */
  listUsers(limit: number, offset: number): { total: number; items: UserInfo[] } {
    const total = (this.stmt('SELECT count(*) AS n FROM users').get() as { n: number }).n;
    const rows = this.stmt('SELECT * FROM users ORDER BY username LIMIT ? OFFSET ?').all(limit, offset) as UserRow[];
    return { total, items: rows.map((r) => this.info(r)) };
  }

  /** Create a user with a one-time password (returned once; must be changed at first login). */
  createUser(input: { username: string; role: Role; displayName?: string; sm2PublicKey?: string }): { user: UserInfo; password: string } {
    if (this.row(input.username)) throw new SocError('SOC_ERR_USER_EXISTS', `user '${input.username}' exists`);
    const pub = input.sm2PublicKey === undefined ? undefined : normalisePub(input.sm2PublicKey);
    const password = generatePassword();
    this.insertUser(input.username, input.role, input.displayName ?? input.username, password, pub);
    return { user: this.getUser(input.username), password };
  }

  /** Change role, display name, disabled flag or SM2 key. Changing the role ends the user's sessions. */
  updateUser(username: string, patch: { role?: Role; displayName?: string; disabled?: boolean; sm2PublicKey?: string | null }): UserInfo {
    const r = this.mustRow(username);
    const pub = patch.sm2PublicKey === undefined ? r.sm2_pub : patch.sm2PublicKey === null ? null : normalisePub(patch.sm2PublicKey);
    this.db
      .prepare('UPDATE users SET role = ?, display_name = ?, disabled = ?, sm2_pub = ?, updated_at = ? WHERE username = ?')
      .run(patch.role ?? r.role, patch.displayName ?? r.display_name, patch.disabled === undefined ? r.disabled : patch.disabled ? 1 : 0, pub, this.now(), username);
    if ((patch.role !== undefined && patch.role !== r.role) || patch.disabled === true) this.endSessionsOf(username);
    return this.getUser(username);
  }

  /** Delete a user and end their sessions. */
  deleteUser(username: string): void {
    this.mustRow(username);
    this.stmt('DELETE FROM users WHERE username = ?').run(username);
    this.endSessionsOf(username);
  }

  /** New one-time password (must be changed); ends sessions and clears a lock. */
  resetPassword(username: string): string {
    this.mustRow(username);
    const password = generatePassword();
    this.db
      .prepare('UPDATE users SET pw_hash = ?, must_change = 1, failures = 0, locked_until = 0, updated_at = ? WHERE username = ?')
      .run(hashPassword(password, this.config.pbkdf2Iterations), this.now(), username);
    this.endSessionsOf(username);
    return password;
  }

  /** Clear a lockout. */
  unlock(username: string): UserInfo {
    this.mustRow(username);
    this.stmt('UPDATE users SET failures = 0, locked_until = 0, updated_at = ? WHERE username = ?').run(this.now(), username);
    return this.getUser(username);
  }

  /** Remove a user's TOTP enrolment (lost phone); they enrol again at next login. */
  resetTotp(username: string): UserInfo {
    this.mustRow(username);
    this.stmt('UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_last_step = 0, updated_at = ? WHERE username = ?').run(this.now(), username);
    return this.getUser(username);
  }

  private fail(f: LoginFailure, row: UserRow | undefined): never {
    if (row && f.reason !== 'locked' && f.reason !== 'disabled') {
      const failures = row.failures + 1;
      const lock = failures >= this.config.maxFailures;
      this.db
        .prepare('UPDATE users SET failures = ?, locked_until = ? WHERE username = ?')
        .run(lock ? 0 : failures, lock ? this.now() + this.config.lockoutMinutes * 60_000 : row.locked_until, row.username);
    }
    this.onLoginFailure?.(f);
    if (f.reason === 'locked' || f.reason === 'disabled') throw new SocError('SOC_ERR_LOCKED', 'this account is locked; try again later or ask a security administrator');
    throw new SocError('SOC_ERR_LOGIN_FAILED', 'login failed');
  }

  /** Lock and disabled checks before any secret is looked at. */
  private precheck(username: string, ip: string, method: LoginFailure['method']): UserRow | undefined {
    const row = this.row(username);
    if (row?.disabled === 1) this.fail({ username, ip, reason: 'disabled', method }, row);
    if (row && row.locked_until > this.now()) this.fail({ username, ip, reason: 'locked', method }, row);
    return row;
  }

  /** The second factor, when the user has one or must have one. */
  private checkTotp(row: UserRow, code: string | undefined, ip: string, method: LoginFailure['method']): void {
    if (row.totp_secret === null) return;
    if (code === undefined || code === '') throw new SocError('SOC_ERR_TOTP_REQUIRED', 'a TOTP code is required');
    const step = this.totpStep(row.totp_secret, code);
    // RFC 6238 §5.2: a code is accepted once; a step at or before the last one used is a replay.
    if (step === undefined || step <= row.totp_last_step) this.fail({ username: row.username, ip, reason: 'bad_totp', method }, row);
    this.stmt('UPDATE users SET totp_last_step = ? WHERE username = ?').run(step, row.username);
  }

  /** The time step a code matches (±1 step of clock drift, RFC 6238 §6), or undefined. */
  private totpStep(secret: string, code: string): number | undefined {
    if (!/^\d{6}$/.test(code)) return undefined;
    const t = this.now();
    const delta = OTPAuth.TOTP.validate({ token: code, secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: TOTP_PERIOD, timestamp: t, window: 1 });
    if (delta === null) return undefined;
    return Math.floor(t / 1000 / TOTP_PERIOD) + delta;
  }

  private startSession(row: UserRow, ip: string): NewSession {
    const t = this.now();
    const sessionId = token(32);
    const csrfToken = token(24);
    this.stmt('UPDATE users SET failures = 0, locked_until = 0 WHERE username = ?').run(row.username);
    this.stmt('INSERT INTO sessions (id_hash, username, csrf_hash, created_at, last_seen, ip) VALUES (?, ?, ?, ?, ?, ?)').run(hashHex(sessionId), row.username, hashHex(csrfToken), t, t, ip);
    return { sessionId, csrfToken, absoluteExpiresAt: iso(t + this.config.absoluteTimeoutHours * 3_600_000), user: this.getUser(row.username) };
  }

  /**
   * Password login. Throws `SOC_ERR_LOGIN_FAILED`, `SOC_ERR_LOCKED` or `SOC_ERR_TOTP_REQUIRED`.
   * An unknown name costs the same PBKDF2 work as a known one.
   */
  loginPassword(username: string, password: string, totp: string | undefined, ip: string): NewSession {
    const row = this.precheck(username, ip, 'password');
    const ok = verifyPassword(password, row?.pw_hash ?? decoyHash(this.config.pbkdf2Iterations));
    if (!row) this.fail({ username, ip, reason: 'unknown_user', method: 'password' }, undefined);
    if (!ok) this.fail({ username, ip, reason: 'bad_password', method: 'password' }, row);
    this.checkTotp(row, totp, ip, 'password');
    return this.startSession(row, ip);
  }

  /** Issue an SM2 login challenge (random, single use, valid two minutes). */
  sm2Challenge(username: string): { challengeId: string; challenge: string; expiresAt: string } {
    const t = this.now();
    for (const [k, c] of this.challenges) if (c.expires <= t) this.challenges.delete(k);
    // Bounded: the oldest challenge goes first when an attacker floods the endpoint.
    while (this.challenges.size >= CHALLENGES_MAX) this.challenges.delete(this.challenges.keys().next().value!);
    const challengeId = randomUUID();
    const challenge = randomBytes(32).toString('hex');
    this.challenges.set(challengeId, { username, challenge, expires: t + CHALLENGE_TTL_MS });
    return { challengeId, challenge, expiresAt: iso(t + CHALLENGE_TTL_MS) };
  }

  /**
   * SM2 challenge-response login: the signature over {@link sm2LoginMessage} (GB/T 32918.2-2016
   * §6, default ID) must verify under the user's registered public key.
   */
  loginSm2(challengeId: string, signatureHex: string, totp: string | undefined, ip: string): NewSession {
    const c = this.challenges.get(challengeId);
    this.challenges.delete(challengeId);
    if (!c || c.expires <= this.now()) this.fail({ username: c?.username ?? '', ip, reason: 'bad_challenge', method: 'sm2' }, undefined);
    const row = this.precheck(c.username, ip, 'sm2');
    if (!row) this.fail({ username: c.username, ip, reason: 'unknown_user', method: 'sm2' }, undefined);
    if (row.sm2_pub === null) this.fail({ username: c.username, ip, reason: 'no_sm2_key', method: 'sm2' }, row);
    let ok = false;
    try {
      const sig = hexToBytes(signatureHex);
      const pub = Sm2PublicKey.fromBytes(hexToBytes(row.sm2_pub));
      const msg = sm2LoginMessage(c.username, c.challenge);
      ok = sm2Verify(pub, msg, sig, { format: sig.length === 64 ? 'raw' : 'der' });
    } catch {
      ok = false;
    }
    if (!ok) this.fail({ username: c.username, ip, reason: 'bad_signature', method: 'sm2' }, row);
    this.checkTotp(row, totp, ip, 'sm2');
    return this.startSession(row, ip);
  }

  /**
   * The principal of a session id, refreshing its idle timer; `SOC_ERR_SESSION_EXPIRED` when it is
   * unknown, idle too long or past its absolute lifetime.
   */
  session(sessionId: string): Principal {
    const h = hashHex(sessionId);
    const s = this.stmt('SELECT * FROM sessions WHERE id_hash = ?').get(h) as
      | { id_hash: string; username: string; csrf_hash: string; created_at: number; last_seen: number }
      | undefined;
    const t = this.now();
    if (!s) throw new SocError('SOC_ERR_SESSION_EXPIRED', 'no such session; log in again');
    // GB/T 22239-2019 8.1.4.1 b: end sessions after idle time; and a hard cap after login.
    if (t - s.last_seen > this.config.idleTimeoutMinutes * 60_000 || t - s.created_at > this.config.absoluteTimeoutHours * 3_600_000) {
      this.stmt('DELETE FROM sessions WHERE id_hash = ?').run(h);
      throw new SocError('SOC_ERR_SESSION_EXPIRED', 'the session timed out; log in again');
    }
    const row = this.row(s.username);
    if (!row || row.disabled === 1) {
      this.stmt('DELETE FROM sessions WHERE id_hash = ?').run(h);
      throw new SocError('SOC_ERR_SESSION_EXPIRED', 'the account is no longer active');
    }
    // The idle clock is kept to the second: a durable write on every request would cost an fsync each.
    if (t - s.last_seen >= 1000) this.stmt('UPDATE sessions SET last_seen = ? WHERE id_hash = ?').run(t, h);
    return {
      kind: 'session',
      name: row.username,
      role: row.role,
      permissions: permissionsOf(row.role),
      id: h,
      csrfHash: s.csrf_hash,
      mustChangePassword: row.must_change === 1,
      totpEnrolmentRequired: this.totpRequired && row.totp_secret === null,
    };
  }

  /**
   * Whether a principal may still act, without touching the idle clock (long-lived requests such
   * as the live stream re-check with this): a session within both timeouts, an unrevoked token.
   */
  stillValid(p: Principal): boolean {
    const t = this.now();
    if (p.kind === 'token') {
      if (p.id === 'config') return true;
      const r = this.stmt('SELECT revoked_at, expires_at FROM tokens WHERE id = ?').get(p.id) as { revoked_at: number | null; expires_at: number | null } | undefined;
      return !!r && r.revoked_at === null && (r.expires_at === null || r.expires_at > t);
    }
    const s = this.stmt('SELECT created_at, last_seen FROM sessions WHERE id_hash = ?').get(p.id) as { created_at: number; last_seen: number } | undefined;
    return !!s && t - s.last_seen <= this.config.idleTimeoutMinutes * 60_000 && t - s.created_at <= this.config.absoluteTimeoutHours * 3_600_000;
  }

  /** Whether a CSRF token belongs to a session principal. */
  static csrfMatches(p: Principal, tokenValue: string | undefined): boolean {
    return p.csrfHash !== undefined && typeof tokenValue === 'string' && tokenValue !== '' && hashHex(tokenValue) === p.csrfHash;
  }

  /** End one session (logout, or an administrator ending it). Returns whether it existed. */
  endSession(idHash: string): boolean {
    return this.stmt('DELETE FROM sessions WHERE id_hash = ?').run(idHash).changes > 0;
  }

  private endSessionsOf(username: string): void {
    this.stmt('DELETE FROM sessions WHERE username = ?').run(username);
  }

  /** Live sessions (expired ones are dropped first). */
  listSessions(limit: number, offset: number): { total: number; items: SessionInfo[] } {
    const t = this.now();
    this.stmt('DELETE FROM sessions WHERE last_seen < ? OR created_at < ?').run(t - this.config.idleTimeoutMinutes * 60_000, t - this.config.absoluteTimeoutHours * 3_600_000);
    const total = (this.stmt('SELECT count(*) AS n FROM sessions').get() as { n: number }).n;
    const rows = this.stmt('SELECT * FROM sessions ORDER BY created_at LIMIT ? OFFSET ?').all(limit, offset) as Array<{ id_hash: string; username: string; created_at: number; last_seen: number; ip: string }>;
    return { total, items: rows.map((r) => ({ id: r.id_hash, username: r.username, createdAt: iso(r.created_at), lastSeenAt: iso(r.last_seen), ip: r.ip })) };
  }

  /** Change one's own password (checks the current one; clears must-change; ends other sessions). */
  changePassword(p: Principal, current: string, next: string): void {
    const row = this.mustRow(p.name);
    if (!verifyPassword(current, row.pw_hash)) throw new SocError('SOC_ERR_LOGIN_FAILED', 'the current password is wrong');
    checkPasswordPolicy(next, row.username);
    if (verifyPassword(next, row.pw_hash)) throw new SocError('SOC_ERR_PASSWORD_POLICY', 'the new password must differ from the old one');
    this.stmt('UPDATE users SET pw_hash = ?, must_change = 0, updated_at = ? WHERE username = ?').run(hashPassword(next, this.config.pbkdf2Iterations), this.now(), row.username);
    this.stmt('DELETE FROM sessions WHERE username = ? AND id_hash != ?').run(row.username, p.id);
  }

  /** Start TOTP enrolment: a new secret, active only after {@link confirmTotp}. */
  enrolTotp(p: Principal): { secret: string; uri: string } {
    const row = this.mustRow(p.name);
    const secret = new OTPAuth.Secret({ size: 20 }).base32;
    this.stmt('UPDATE users SET totp_pending = ? WHERE username = ?').run(secret, row.username);
    const uri = new OTPAuth.TOTP({ issuer: 'Xiangan', label: row.username, algorithm: 'SHA1', digits: 6, period: TOTP_PERIOD, secret: OTPAuth.Secret.fromBase32(secret) }).toString();
    return { secret, uri };
  }

  /** Finish enrolment with a code from the authenticator. */
  confirmTotp(p: Principal, code: string): UserInfo {
    const row = this.mustRow(p.name);
    if (row.totp_pending === null) throw new SocError('SOC_ERR_LOGIN_FAILED', 'no TOTP enrolment is in progress');
    const step = this.totpStep(row.totp_pending, code);
    if (step === undefined) throw new SocError('SOC_ERR_LOGIN_FAILED', 'the TOTP code does not match');
    this.stmt('UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = ?, updated_at = ? WHERE username = ?').run(step, this.now(), row.username);
    return this.getUser(row.username);
  }

  /**
   * Create an API token with some permissions; the secret (`xat_<id>.<random>`) is returned once
   * and stored as its SM3 hash.
   */
  createToken(input: { name: string; permissions: string[]; expiresAt?: string }, createdBy: string): { token: string; info: TokenInfo } {
    for (const p of input.permissions) {
      if (!isPermission(p) || !TOKEN_PERMISSIONS.includes(p)) throw new SocError('SOC_ERR_FORBIDDEN', `an API token cannot carry '${p}'`);
    }
    const id = randomUUID();
    const secret = `xat_${id.replaceAll('-', '')}.${token(32)}`;
    const exp = input.expiresAt === undefined ? null : Date.parse(input.expiresAt);
    this.db
      .prepare('INSERT INTO tokens (id, name, hash, permissions, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id, input.name, hashHex(secret), JSON.stringify([...new Set(input.permissions)]), createdBy, this.now(), exp);
    return { token: secret, info: this.tokenInfo(id)! };
  }

  private tokenInfo(id: string): TokenInfo | undefined {
    const r = this.stmt('SELECT * FROM tokens WHERE id = ?').get(id) as TokenRow | undefined;
    return r && tokenRowInfo(r);
  }

  /** Tokens, newest first. */
  listTokens(limit: number, offset: number): { total: number; items: TokenInfo[] } {
    const total = (this.stmt('SELECT count(*) AS n FROM tokens').get() as { n: number }).n;
    const rows = this.stmt('SELECT * FROM tokens ORDER BY created_at DESC, id LIMIT ? OFFSET ?').all(limit, offset) as TokenRow[];
    return { total, items: rows.map(tokenRowInfo) };
  }

  /** Revoke a token (kept for the record). */
  revokeToken(id: string): TokenInfo {
    const r = this.stmt('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(this.now(), id);
    const info = this.tokenInfo(id);
    if (!info) throw new SocError('SOC_ERR_USER_NOT_FOUND', `no API token '${id}'`);
    void r;
    return info;
  }

  /** The principal of a bearer token, or undefined when unknown, revoked or expired. */
  tokenPrincipal(secret: string): Principal | undefined {
    if (!secret.startsWith('xat_')) return undefined;
    const r = this.stmt('SELECT * FROM tokens WHERE hash = ?').get(hashHex(secret)) as TokenRow | undefined;
    const t = this.now();
    if (!r || r.revoked_at !== null || (r.expires_at !== null && r.expires_at <= t)) return undefined;
    // Last use at minute resolution: one write a minute per token, not one per request.
    if (r.last_used === null || t - r.last_used > 60_000) this.stmt('UPDATE tokens SET last_used = ? WHERE id = ?').run(t, r.id);
    return { kind: 'token', name: `token:${r.name}`, permissions: new Set(JSON.parse(r.permissions) as Permission[]), id: r.id };
  }

  /** Permissions of a role (for `/auth/me`). */
  permissionsOfUser(role: Role): ReadonlySet<Permission> {
    return permissionsOf(role);
  }

  /** Close the database. */
  close(): void {
    if (this.db.open) this.db.close();
  }
}

interface TokenRow {
  id: string;
  name: string;
  permissions: string;
  created_by: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used: number | null;
}

function tokenRowInfo(r: TokenRow): TokenInfo {
  return {
    id: r.id,
    name: r.name,
    permissions: JSON.parse(r.permissions) as Permission[],
    createdBy: r.created_by,
    createdAt: iso(r.created_at),
    expiresAt: r.expires_at === null ? null : iso(r.expires_at),
    revokedAt: r.revoked_at === null ? null : iso(r.revoked_at),
    lastUsedAt: r.last_used === null ? null : iso(r.last_used),
  };
}

/** Validate an SM2 public key given as hex SEC 1 and store it uncompressed. */
function normalisePub(hex: string): string {
  try {
    return bytesToHex(Sm2PublicKey.fromBytes(hexToBytes(hex)).toBytes());
  } catch (e) {
    throw new SocError('SOC_ERR_QUERY', 'sm2PublicKey is not a valid SM2 public key (hex SEC 1)', { cause: e });
  }
}

/** Whether a string is a role. @example isRole('viewer') // true */
export function isRole(r: string): r is Role {
  return (ROLES as readonly string[]).includes(r);
}
