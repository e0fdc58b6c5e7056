/**
 * JSON Schemas (TypeBox) shared by the security routes (users, tokens, sessions, errors, pages) and
 * their JSON body parser.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type TSchema } from '@sinclair/typebox';
import { PERMISSIONS, ROLES } from '../auth/permissions.js';
import { SocError } from '../errors.js';

/**
 * Parse JSON request bodies in an encapsulated scope: the app takes every body as text for its
 * NDJSON ingest route, the routes registered in `scope` take JSON objects.
 * @example await app.register(async (scope) => { jsonBodies(scope); await scope.register(adminRoutes, o); });
 */
export function jsonBodies(scope: FastifyInstance): void {
  if (scope.hasContentTypeParser('application/json')) scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, body === '' ? undefined : JSON.parse(String(body)));
    } catch (e) {
      done(new SocError('SOC_ERR_QUERY', `body is not JSON: ${(e as Error).message}`), undefined);
    }
  });
}

/** `{ code, message }`, the body of every error. */
export const ErrorBody = Type.Object({ code: Type.String(), message: Type.String() });

/** Error responses every route declares. */
export const ERRORS = { '4xx': ErrorBody, '5xx': ErrorBody } as const;

/** A role name. */
export const RoleSchema = Type.Union(ROLES.map((r) => Type.Literal(r)));
/** A permission name. */
export const PermissionSchema = Type.Union(PERMISSIONS.map((p) => Type.Literal(p)));
/** A user name: letters, digits, `._-`, 1–64. */
export const UsernameSchema = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' });
/** Hex SEC 1 SM2 public key. */
export const Sm2PubSchema = Type.String({ pattern: '^[0-9a-fA-F]{66}$|^[0-9a-fA-F]{130}$' });

/** A user without secrets. */
export const UserSchema = Type.Object({
  username: Type.String(),
  displayName: Type.String(),
  role: RoleSchema,
  disabled: Type.Boolean(),
  mustChangePassword: Type.Boolean(),
  totpEnabled: Type.Boolean(),
  sm2Enabled: Type.Boolean(),
  lockedUntil: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

/** The signed-in caller (`GET /api/v1/auth/me`). */
export const MeSchema = Type.Object({
  username: Type.String(),
  displayName: Type.String(),
  role: Type.Union([RoleSchema, Type.Null()]),
  permissions: Type.Array(Type.String()),
  mustChangePassword: Type.Boolean(),
  totpEnabled: Type.Boolean(),
  totpRequired: Type.Boolean(),
  sm2Enabled: Type.Boolean(),
});

/** An API token as listed. */
export const TokenSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  permissions: Type.Array(Type.String()),
  createdBy: Type.String(),
  createdAt: Type.String(),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
});

/** A live session. */
export const SessionSchema = Type.Object({ id: Type.String(), username: Type.String(), createdAt: Type.String(), lastSeenAt: Type.String(), ip: Type.String() });

/** `?limit=&offset=` of every list. */
export const PageQuery = Type.Object(
  { limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }), offset: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }) },
  { additionalProperties: false },
);

/** `{ total, items }` of a list. @example Page(UserSchema) */
export function Page<T extends TSchema>(item: T) {
  return Type.Object({ total: Type.Integer(), items: Type.Array(item) });
}
