/**
 * `xiangan kms …`: operate the crypto service. `init` and `serve` work on a local key store
 * (master secret from `--master-file` or `XIANGAN_KMS_MASTER`); the other sub-commands call a
 * running service through `@xiangan/crypto/kms-client` (`--api URL --token T`, or
 * `XIANGAN_KMS_URL` / `XIANGAN_KMS_TOKEN`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { bytesToBase64 } from '@xiangan/crypto';
import { CertificateAuthority } from '@xiangan/pki';
import { KmsClient, type KmsKeyType } from '@xiangan/crypto/kms-client';
import { KmsService, kmsRoutes, KMS_KEY_TYPES, defaultKmsWorkers } from '../kms/index.js';
import { parseCommandLine, readAll, UsageError, type CliIo } from './io.js';

const USAGE = `usage: xiangan kms <sub-command> [options]
  init --data DIR [--app NAME]            create a key store and an all-rights application; prints its token once
  serve --data DIR [--host H] [--port N] [--tls-cert PEM --tls-key PEM [--client-ca PEM]] [--ca-dir DIR]
                                          serve /api/v1/kms on its own; with --client-ca, TLS client
                                          certificates bound to an application authenticate it;
                                          with --ca-dir (passphrase in XIANGAN_CA_PASSPHRASE) that CA
                                          certifies SM2 keys created with --subject and their rotations
  create NAME --type sm2-sign|sm2-encrypt|sm4|hmac-sm3 [--exportable] [--subject DN]
  issue NAME --subject DN                     certificate for the latest version from the service's CA
  bind-cert APP --cert PEM                    bind a TLS client certificate to an application
  rotate NAME | list
  sign NAME [--in FILE] [--id ID] [--raw]     prints xiangan:v<N>:<base64>
  verify NAME --sig SIG [--in FILE] [--id ID] [--raw]   exit 0 valid, 1 invalid
  encrypt NAME [--in FILE] [--aad TEXT]       prints xiangan:v<N>:<base64>
  decrypt NAME --ct CT [--aad TEXT] [--out FILE]
  datakey NAME [--bytes N]                    prints {"plaintext": base64, "ciphertext": envelope}
  backup [--out FILE] | restore --in FILE [--replace]
  restore --data DIR --in FILE [--source-master-file F]  into a local store, from another store's backup
options: --api URL --token T (or XIANGAN_KMS_URL, XIANGAN_KMS_TOKEN), --master-file FILE (or XIANGAN_KMS_MASTER)
`;

const OPTIONS = {
  data: { type: 'string' },
  app: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  api: { type: 'string' },
  token: { type: 'string' },
  'master-file': { type: 'string' },
  'source-master-file': { type: 'string' },
  type: { type: 'string' },
  exportable: { type: 'boolean' },
  in: { type: 'string' },
  out: { type: 'string' },
  id: { type: 'string' },
  raw: { type: 'boolean' },
  sig: { type: 'string' },
  ct: { type: 'string' },
  aad: { type: 'string' },
  bytes: { type: 'string' },
  replace: { type: 'boolean' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'client-ca': { type: 'string' },
  'ca-dir': { type: 'string' },
  subject: { type: 'string' },
  cert: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

function masterSecret(v: Values, io: CliIo): Uint8Array | string {
  if (v['master-file']) return new Uint8Array(readFileSync(resolve(io.cwd, v['master-file'])));
  const env = io.env.XIANGAN_KMS_MASTER;
  if (!env) throw new UsageError('a master secret is required: --master-file FILE or XIANGAN_KMS_MASTER');
  return env;
}

function openLocal(v: Values, io: CliIo, serving = false): KmsService {
  if (!v.data) throw new UsageError(`--data DIR is required\n${USAGE}`);
  let ca: CertificateAuthority | undefined;
  if (v['ca-dir']) {
    const passphrase = io.env.XIANGAN_CA_PASSPHRASE;
    if (!passphrase) throw new UsageError('--ca-dir needs the CA passphrase in XIANGAN_CA_PASSPHRASE');
    ca = CertificateAuthority.open(resolve(io.cwd, v['ca-dir']), { passphrase });
  }
  return KmsService.open({ dir: resolve(io.cwd, v.data), masterSecret: masterSecret(v, io), ...(ca ? { ca } : {}), ...(serving ? { workers: defaultKmsWorkers() } : {}) });
}

/** HTTPS options for `serve`: a server certificate, and client CAs when client certificates may authenticate. */
function tlsOptions(v: Values, io: CliIo): { key: Buffer; cert: Buffer; ca?: Buffer; requestCert?: boolean; rejectUnauthorized?: boolean } | undefined {
  if (!v['tls-cert'] && !v['tls-key'] && !v['client-ca']) return undefined;
  if (!v['tls-cert'] || !v['tls-key']) throw new UsageError('--tls-cert and --tls-key go together (and --client-ca needs both)');
  const file = (f: string): Buffer => readFileSync(resolve(io.cwd, f));
  // requestCert without rejectUnauthorized: callers may still use bearer tokens; only a verified
  // certificate (socket.authorized) is ever mapped to an application.
  return { key: file(v['tls-key']), cert: file(v['tls-cert']), ...(v['client-ca'] ? { ca: file(v['client-ca']), requestCert: true, rejectUnauthorized: false } : {}) };
}

function client(v: Values, io: CliIo): KmsClient {
  const url = v.api ?? io.env.XIANGAN_KMS_URL;
  const token = v.token ?? io.env.XIANGAN_KMS_TOKEN;
  if (!url || !token) throw new UsageError(`--api URL and --token T (or XIANGAN_KMS_URL, XIANGAN_KMS_TOKEN) are required\n${USAGE}`);
  return new KmsClient({ url, token });
}

async function input(v: Values, io: CliIo): Promise<Uint8Array> {
  return v.in ? new Uint8Array(readFileSync(resolve(io.cwd, v.in))) : readAll(io.stdin);
}

function one(rest: string[], sub: string): string {
  if (rest.length !== 1) throw new UsageError(`${sub} takes one key name\n${USAGE}`);
  return rest[0]!;
}

/** Run `xiangan kms …`. */
export async function run(_command: string, argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandLine(argv, OPTIONS, USAGE);
  const v = parsed.values as Values;
  const [sub, ...rest] = parsed.positionals;
  if (v.help || !sub) {
    io.stderr.write(USAGE);
    return v.help ? 0 : 2;
  }
  const signOpts = { ...(v.id ? { id: v.id } : {}), ...(v.raw ? { format: 'raw' as const } : {}) };
  switch (sub) {
    case 'init': {
      const kms = openLocal(v, io);
      try {
        const { token } = kms.createApp(v.app ?? 'admin', { keys: ['*'], ops: ['*'] });
        io.stdout.write(`${token}\n`);
      } finally {
        await kms.close();
      }
      return 0;
    }
    case 'serve': {
      const kms = openLocal(v, io, true);
      const https = tlsOptions(v, io);
      // One type for both: Fastify's http and https instances differ only in the raw server.
      const app = (https ? Fastify({ logger: false, https }) : Fastify({ logger: false })) as unknown as FastifyInstance;
      await app.register(kmsRoutes, { service: kms });
      const url = await app.listen({ host: v.host ?? '127.0.0.1', port: v.port ? Number(v.port) : 8200 });
      io.stderr.write(`kms listening on ${url}\n`);
      await new Promise<void>((done) => {
        const stop = (): void => done();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await app.close();
      await kms.close();
      return 0;
    }
    case 'create': {
      const type = v.type as KmsKeyType | undefined;
      if (!type || !KMS_KEY_TYPES.includes(type)) throw new UsageError(`--type is one of ${KMS_KEY_TYPES.join(', ')}`);
      io.stdout.write(`${JSON.stringify(await client(v, io).createKey(one(rest, sub), type, { exportable: v.exportable === true, ...(v.subject ? { certificateSubject: v.subject } : {}) }))}\n`);
      return 0;
    }
    case 'issue': {
      if (!v.subject) throw new UsageError('issue needs --subject DN');
      const r = await client(v, io).issueCertificate(one(rest, sub), v.subject);
      io.stdout.write(r.certificate + r.chain.join(''));
      return 0;
    }
    case 'bind-cert': {
      if (!v.cert) throw new UsageError('bind-cert needs --cert PEM');
      io.stdout.write(`${JSON.stringify(await client(v, io).bindAppCertificate(one(rest, sub), readFileSync(resolve(io.cwd, v.cert), 'utf8')))}\n`);
      return 0;
    }
    case 'rotate':
      io.stdout.write(`${JSON.stringify(await client(v, io).rotateKey(one(rest, sub)))}\n`);
      return 0;
    case 'list':
      for (const k of await client(v, io).listKeys()) io.stdout.write(`${k.name}\t${k.type}\tv${k.latestVersion}\tmin v${k.minDecryptionVersion}${k.disabled ? '\tdisabled' : ''}\n`);
      return 0;
    case 'sign':
      io.stdout.write(`${(await client(v, io).sign(one(rest, sub), await input(v, io), signOpts)).signature}\n`);
      return 0;
    case 'verify': {
      if (!v.sig) throw new UsageError('verify needs --sig');
      const r = await client(v, io).verify(one(rest, sub), await input(v, io), v.sig, signOpts);
      io.stdout.write(r.valid ? 'valid\n' : 'INVALID\n');
      return r.valid ? 0 : 1;
    }
    case 'encrypt':
      io.stdout.write(`${(await client(v, io).encrypt(one(rest, sub), await input(v, io), v.aad ? { aad: v.aad } : {})).ciphertext}\n`);
      return 0;
    case 'decrypt': {
      if (!v.ct) throw new UsageError('decrypt needs --ct');
      const r = await client(v, io).decrypt(one(rest, sub), v.ct, v.aad ? { aad: v.aad } : {});
      if (v.out) writeFileSync(resolve(io.cwd, v.out), r.plaintext, { mode: 0o600 });
      else io.stdout.write(r.plaintext);
      return 0;
    }
    case 'datakey': {
      const r = await client(v, io).dataKey(one(rest, sub), v.bytes ? Number(v.bytes) : 16);
      io.stdout.write(`${JSON.stringify({ plaintext: bytesToBase64(r.plaintext), ciphertext: r.ciphertext, version: r.version })}\n`);
      return 0;
    }
    case 'backup': {
      const b = await client(v, io).backup();
      if (v.out) writeFileSync(resolve(io.cwd, v.out), b, { mode: 0o600 });
      else io.stdout.write(`${b}\n`);
      return 0;
    }
    case 'restore': {
      if (!v.in) throw new UsageError('restore needs --in FILE');
      if (v.data) {
        // Local restore into another store: the backup is opened with its own store's master secret.
        const source = v['source-master-file'] ? new Uint8Array(readFileSync(resolve(io.cwd, v['source-master-file']))) : io.env.XIANGAN_KMS_BACKUP_MASTER;
        if (!source) throw new UsageError('a local restore needs --source-master-file FILE or XIANGAN_KMS_BACKUP_MASTER');
        const kms = openLocal(v, io);
        try {
          io.stdout.write(`${JSON.stringify(kms.restore(kms.root, readFileSync(resolve(io.cwd, v.in), 'utf8').trim(), source, { replace: v.replace === true }))}\n`);
        } finally {
          await kms.close();
        }
        return 0;
      }
      io.stdout.write(`${JSON.stringify(await client(v, io).restore(readFileSync(resolve(io.cwd, v.in), 'utf8').trim(), { replace: v.replace === true }))}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown sub-command ${sub}\n${USAGE}`);
  }
}
