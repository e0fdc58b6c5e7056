/**
 * Roles and permissions of the API: the one table the security layer enforces on every route.
 *
 * The three administrator roles are separated (三权分立, GB/T 22239-2019 8.1.4.2 "administrators
 * of system, security and audit"): the system administrator runs the platform, the security
 * administrator manages users and security policy, the audit administrator reads the trail and
 * changes nothing; none holds another's permissions, which a test checks.
 */

/** Every permission a role or an API token can hold. */
export const PERMISSIONS = [
  'events:read',
  'events:ingest',
  'alerts:read',
  'alerts:write',
  'alerts:suppress',
  'rules:read',
  'rules:write',
  'stream:read',
  'users:read',
  'users:write',
  'tokens:read',
  'tokens:write',
  'sessions:read',
  'sessions:write',
  'security:read',
  'security:write',
  'keys:read',
  'keys:write',
  'system:read',
  'system:write',
  'metrics:read',
  'audit:read',
  'reports:read',
  'compliance:read',
  'compliance:run',
] as const;

/** A permission name. */
export type Permission = (typeof PERMISSIONS)[number];

/** The roles. */
export const ROLES = ['sysadmin', 'secadmin', 'auditadmin', 'analyst', 'viewer'] as const;

/** A role name. */
export type Role = (typeof ROLES)[number];

/** What each role may do, with a one-line description for `GET /api/v1/roles`. */
export const ROLE_DEFINITIONS: Readonly<Record<Role, { description: string; permissions: readonly Permission[] }>> = {
  sysadmin: {
    description: '系统管理员 system administrator: configuration, collectors, storage, metrics',
    permissions: ['system:read', 'system:write', 'metrics:read', 'events:ingest'],
  },
  secadmin: {
    description: '安全管理员 security administrator: users, tokens, sessions, security policy, rules, alert policy, keys',
    permissions: [
      'users:read', 'users:write', 'tokens:read', 'tokens:write', 'sessions:read', 'sessions:write', 'security:read', 'security:write',
      'rules:read', 'rules:write', 'alerts:read', 'alerts:suppress', 'keys:read', 'keys:write', 'stream:read',
    ],
  },
  auditadmin: {
    description: '审计管理员 audit administrator: reads the audit trail, reports and compliance results; changes nothing',
    permissions: ['audit:read', 'reports:read', 'compliance:read'],
  },
  analyst: {
    description: '分析员 analyst: alert triage, event search, live stream, compliance runs',
    permissions: ['alerts:read', 'alerts:write', 'events:read', 'rules:read', 'stream:read', 'reports:read', 'compliance:read', 'compliance:run'],
  },
  viewer: {
    description: '只读用户 viewer: reads alerts, events, rules and the live stream',
    permissions: ['alerts:read', 'events:read', 'rules:read', 'stream:read'],
  },
};

/**
 * Permissions an API token may carry: machine work only. Tokens never manage users, tokens,
 * sessions or security policy, so a leaked token cannot mint administrators.
 */
export const TOKEN_PERMISSIONS: readonly Permission[] = PERMISSIONS.filter(
  (p) => !/^(users|tokens|sessions|security):/.test(p),
);

/**
 * What a route needs: a permission, `'authenticated'` (any signed-in caller, e.g. `/auth/me`) or
 * `'public'` (login).
 */
export type RouteAccess = Permission | 'authenticated' | 'public';

/**
 * Access of the routes `app.ts` declares without a `config.permission` of their own, keyed
 * `METHOD url` as Fastify registers them. Plugin routes (alerts, audit, keys, …) declare theirs
 * with `config: { permission }` or `config: { public: true }`.
 */
export const ROUTE_PERMISSIONS: Readonly<Record<string, RouteAccess>> = {
  'GET /api/v1/health': 'public',
  // Prometheus scrapes without credentials, as before this layer; the text carries counts only.
  'GET /metrics': 'public',
  'POST /api/v1/ingest': 'events:ingest',
  'GET /api/v1/events': 'events:read',
  'GET /api/v1/events/:id': 'events:read',
};

const KNOWN = new Set<string>(PERMISSIONS);

/** Whether a string names a permission. @example isPermission('alerts:read') // true */
export function isPermission(p: string): p is Permission {
  return KNOWN.has(p);
}

/**
 * The access a route needs, or `undefined` when nothing declares it (the caller then refuses:
 * fail closed). Routes outside `/api/`, `/metrics` and `/docs` are the console's static files
 * and public.
 *
 * @example
 * routeAccess('GET', '/api/v1/events', {}) // 'events:read'
 */
export function routeAccess(method: string, url: string, config: { permission?: unknown; public?: unknown } | undefined): RouteAccess | undefined {
  if (config?.public === true) return 'public';
  const p = config?.permission;
  if (typeof p === 'string') {
    if (p === 'authenticated' || p === 'public' || isPermission(p)) return p;
    return undefined;
  }
  const key = `${method} ${url}`;
  if (key in ROUTE_PERMISSIONS) return ROUTE_PERMISSIONS[key];
  if (url.startsWith('/docs')) return 'public';
  if (!url.startsWith('/api/') && url !== '/metrics') return 'public';
  return undefined;
}

/** Permissions of a role. @example permissionsOf('viewer').has('alerts:read') // true */
export function permissionsOf(role: Role): ReadonlySet<Permission> {
  return new Set(ROLE_DEFINITIONS[role].permissions);
}
