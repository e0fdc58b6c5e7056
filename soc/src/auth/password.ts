/**
 * Password hashing with PBKDF2-HMAC-SM3 (RFC 8018 §5.2 with HMAC-SM3 as the PRF, GB/T 32905-2016),
 * a per-user random salt and the parameters stored beside the derived key so the iteration count
 * can grow without invalidating old hashes.
 */
import { randomBytes, timingSafeEqual, randomInt } from 'node:crypto';
import { bytesToHex, hexToBytes, pbkdf2HmacSm3, utf8ToBytes } from '@xiangan/crypto';
import { SocError } from '../errors.js';

/** A stored password hash: `pbkdf2-sm3$<iterations>$<salt hex>$<key hex>`. */
export type PasswordHash = string;

const PREFIX = 'pbkdf2-sm3';

/**
 * Hash a password.
 *
 * @example
 * const h = hashPassword('correct horse battery', 100_000);
 * verifyPassword('correct horse battery', h); // true
 */
export function hashPassword(password: string, iterations: number): PasswordHash {
  if (typeof password !== 'string') throw new TypeError('hashPassword: password must be a string');
  if (!Number.isInteger(iterations) || iterations < 1000) throw new RangeError('hashPassword: iterations must be an integer ≥ 1000');
  const salt = randomBytes(16);
  const dk = pbkdf2HmacSm3(utf8ToBytes(password), salt, iterations, 32);
  return `${PREFIX}$${iterations}$${bytesToHex(salt)}$${bytesToHex(dk)}`;
}

/**
 * Check a password against a stored hash (constant-time comparison of the derived keys). A
 * malformed hash verifies nothing.
 *
 * @example verifyPassword('guess', storedHash) // false
 */
export function verifyPassword(password: string, stored: PasswordHash): boolean {
  const parts = stored.split('$');
  if (parts.length !== 4 || parts[0] !== PREFIX || !/^\d+$/.test(parts[1]!)) return false;
  const iterations = Number(parts[1]);
  const salt = hexToBytes(parts[2]!);
  const want = hexToBytes(parts[3]!);
  const got = pbkdf2HmacSm3(utf8ToBytes(password), salt, iterations, want.length);
  return timingSafeEqual(got, want);
}

/** A hash no password matches, used to spend the same time on unknown user names. */
export function decoyHash(iterations: number): PasswordHash {
  return `${PREFIX}$${iterations}$${'00'.repeat(16)}$${'00'.repeat(32)}`;
}

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/**
 * A random one-time password (20 characters, ~117 bits) that meets {@link checkPasswordPolicy}.
 *
 * @example const otp = generatePassword();
 */
export function generatePassword(): string {
  for (;;) {
    let s = '';
    for (let i = 0; i < 18; i++) s += ALPHABET[randomInt(ALPHABET.length)];
    s += `-${randomInt(10)}`;
    if (/[A-Z]/.test(s) && /[a-z]/.test(s)) return s;
  }
}

/**
 * Password complexity (GB/T 22239-2019 8.1.4.1 a: identities hold complex passwords): at least
 * 12 characters and three of the four classes upper, lower, digit, other.
 *
 * @example checkPasswordPolicy('short') // throws SocError SOC_ERR_PASSWORD_POLICY
 */
export function checkPasswordPolicy(password: string, username?: string): void {
  const classes = [/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(password)).length;
  if (password.length < 12 || classes < 3) {
    throw new SocError('SOC_ERR_PASSWORD_POLICY', 'a password needs at least 12 characters from three of: upper case, lower case, digits, other');
  }
  if (password.length > 1024) throw new SocError('SOC_ERR_PASSWORD_POLICY', 'a password has at most 1024 characters');
  if (username && password.toLowerCase().includes(username.toLowerCase())) {
    throw new SocError('SOC_ERR_PASSWORD_POLICY', 'a password must not contain the user name');
  }
}
