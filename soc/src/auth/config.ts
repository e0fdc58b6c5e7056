/**
 * Configuration of the API's security layer (`auth:` in the server's YAML file) and the
 * deployment's graded-protection level (`level:`), declared with TypeBox like the rest of
 * `config/schema.ts`. GB/T 22239-2019 level 3 (8.1.4.1) asks for two-factor login,
 * login-failure handling and session timeouts; level 2 for the last two.
 */
import { Type, type Static } from '@sinclair/typebox';

/** `level: 2 | 3` — the 等级保护 level the deployment is assessed at. */
export const LevelConfigSchema = Type.Union([Type.Literal(2), Type.Literal(3)], { default: 2 });

/** The `auth:` section. */
export const AuthConfigSchema = Type.Object(
  {
    /** PBKDF2-HMAC-SM3 iterations for new password hashes (stored with each hash). */
    pbkdf2Iterations: Type.Integer({ minimum: 1000, maximum: 10_000_000, default: 100_000 }),
    /** Consecutive failures before a user is locked. */
    maxFailures: Type.Integer({ minimum: 1, maximum: 100, default: 5 }),
    /** How long a lock lasts. */
    lockoutMinutes: Type.Integer({ minimum: 1, maximum: 1440, default: 15 }),
    /** A session unused this long is over. */
    idleTimeoutMinutes: Type.Integer({ minimum: 1, maximum: 1440, default: 15 }),
    /** A session is over this long after login, used or not. */
    absoluteTimeoutHours: Type.Integer({ minimum: 1, maximum: 168, default: 8 }),
    /** Require TOTP for every user; always on at level 3. */
    requireTotp: Type.Boolean({ default: false }),
    /** `Secure` attribute on cookies; turn off only for plain-HTTP development. */
    cookieSecure: Type.Boolean({ default: true }),
    /** Login attempts per client address per minute. */
    loginRateLimit: Type.Integer({ minimum: 1, maximum: 10_000, default: 20 }),
    /** Ingest requests per client address per minute. */
    ingestRateLimit: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 60_000 }),
  },
  { additionalProperties: false, default: {} },
);

/** A validated `auth:` section. */
export type AuthConfig = Static<typeof AuthConfigSchema>;
