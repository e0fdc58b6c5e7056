/**
 * `GET /api/v1/keys/overview`: what the security administrator watches in "keys and
 * certificates": the SOC's own certificates (the checkpoint-signing certificate and its chain,
 * `integrity/`) and, when the crypto service runs in this process, its applications with their
 * bound client certificates and its keys (metadata only: type, versions, state; the certificate of
 * each SM2 key version), each certificate with the days left before `notAfter` (RFC 5280 §4.1.2.5) and
 * whether that is within the warning window. Read-only: key operations stay on `/api/v1/kms`
 * with application tokens.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { parseCertificates } from '@xiangan/pki';
import { identityFiles } from '../integrity/identity.js';
import type { KmsService } from '../kms/index.js';
import { ERRORS } from './schemas.js';

/** Certificates expiring within this many days are flagged. */
export const EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 86_400_000;

const CertInfo = Type.Object({
  source: Type.String(),
  subject: Type.String(),
  issuer: Type.String(),
  serial: Type.String(),
  notBefore: Type.String(),
  notAfter: Type.String(),
  daysLeft: Type.Integer(),
  expiringSoon: Type.Boolean(),
});
const AppInfo = Type.Object({ name: Type.String(), keys: Type.Array(Type.String()), ops: Type.Array(Type.String()), revoked: Type.Boolean() });
const KeyInfo = Type.Object({
  name: Type.String(),
  type: Type.String(),
  latestVersion: Type.Integer(),
  versions: Type.Integer(),
  disabled: Type.Boolean(),
  exportable: Type.Boolean(),
  createdAt: Type.String(),
  destroyAt: Type.Union([Type.String(), Type.Null()]),
});

/** Options of {@link keysRoutes}. */
export interface KeysRoutesOptions {
  dataDir: string;
  kms?: KmsService;
  now: () => number;
}

/**
 * Register the route.
 * @example await app.register(keysRoutes, { dataDir: config.data, kms, now: Date.now });
 */
export async function keysRoutes(app: FastifyInstance, o: KeysRoutesOptions): Promise<void> {
  app.get(
    '/api/v1/keys/overview',
    {
      config: { permission: 'keys:read' },
      schema: {
        tags: ['keys'],
        response: { 200: Type.Object({ warningDays: Type.Integer(), certificates: Type.Array(CertInfo), kms: Type.Union([Type.Object({ apps: Type.Array(AppInfo), keys: Type.Array(KeyInfo) }), Type.Null()]) }), ...ERRORS },
      },
    },
    async () => {
      const now = o.now();
      const certs: Array<{ source: string; subject: string; issuer: string; serial: string; notBefore: string; notAfter: string; daysLeft: number; expiringSoon: boolean }> = [];
      const add = (source: string, notBefore: Date, notAfter: Date, subject: string, issuer: string, serial: string) => {
        const daysLeft = Math.floor((notAfter.getTime() - now) / DAY_MS);
        certs.push({ source, subject, issuer, serial, notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString(), daysLeft, expiringSoon: daysLeft < EXPIRY_WARNING_DAYS });
      };
      const f = identityFiles(o.dataDir);
      const seen = new Set<string>();
      for (const [source, path] of [['integrity.signing', f.cert], ['integrity.chain', f.chain]] as const) {
        if (!existsSync(path)) continue;
        for (const c of parseCertificates(readFileSync(path, 'utf8'))) {
          if (seen.has(c.serialHex + c.issuerName)) continue;
          seen.add(c.serialHex + c.issuerName);
          add(source, c.notBefore, c.notAfter, c.subjectName, c.issuerName, c.serialHex);
        }
      }
      let kms: { apps: Array<{ name: string; keys: string[]; ops: string[]; revoked: boolean }>; keys: Array<typeof KeyInfo.static> } | null = null;
      if (o.kms) {
        const apps = o.kms.listApps();
        // The service's own caller reads every key's metadata (no key material; not an operation, so not audited per key).
        const keys = o.kms.listKeys(o.kms.root);
        kms = {
          apps: apps.map((a) => ({ name: a.name, keys: a.keys, ops: a.ops, revoked: a.revoked })),
          keys: keys.map((k) => ({
            name: k.name,
            type: k.type,
            latestVersion: k.latestVersion,
            versions: k.versions.length,
            disabled: k.disabled,
            exportable: k.exportable,
            createdAt: new Date(k.createdAt).toISOString(),
            destroyAt: k.destroyAt === undefined ? null : new Date(k.destroyAt).toISOString(),
          })),
        };
        for (const k of keys)
          for (const [version, pem] of Object.entries(k.certificates ?? {}))
            for (const c of parseCertificates(pem).slice(0, 1)) add(`kms.key:${k.name}@v${version}`, c.notBefore, c.notAfter, c.subjectName, c.issuerName, c.serialHex);
        for (const a of apps) {
          for (const c of a.certificates) {
            const notAfter = new Date(c.notAfter);
            const daysLeft = Math.floor((notAfter.getTime() - now) / DAY_MS);
            certs.push({ source: `kms.app:${a.name}`, subject: c.subject, issuer: '', serial: c.fingerprint, notBefore: '', notAfter: notAfter.toISOString(), daysLeft, expiringSoon: daysLeft < EXPIRY_WARNING_DAYS });
          }
        }
      }
      certs.sort((a, b) => a.daysLeft - b.daysLeft);
      return { warningDays: EXPIRY_WARNING_DAYS, certificates: certs, kms };
    },
  );
}
