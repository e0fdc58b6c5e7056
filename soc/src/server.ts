/**
 * The shell of the SOC server (DESIGN.md convention 5): the one file that reads the environment,
 * starts the pipeline, listens, handles signals and decides the exit code. Everything it wires
 * together is built elsewhere: `config/` (what to run), `pipeline/runtime.ts` (buffer, store,
 * sources), `app.ts` (HTTP).
 *
 * Environment: `XIANGAN_CONFIG` (config file when `--config` is absent), `XIANGAN_DATA`,
 * `XIANGAN_LOG_LEVEL`, `XIANGAN_KMS_MASTER` (when set, the crypto service runs in the same
 * process with its key store under `<data>/kms`, sealed under this master secret).
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { normalise } from '@xiangan/collectors';
import { buildApp } from './app.js';
import type { CliIo } from './cli/io.js';
import { UsageError } from './cli/io.js';
import { loadConfig, type ConfigOverrides } from './config/load.js';
import type { SocConfig } from './config/schema.js';
import { createLogger, type Logger } from './logger.js';
import { KmsService, defaultKmsWorkers } from './kms/index.js';
import { startRuntime, type Runtime } from './pipeline/runtime.js';
import { serverSecurity } from './security.js';
import { limitHeapGrowth } from './detection/heap.js';

/** A started server. */
export interface RunningServer {
  runtime: Runtime;
  app: FastifyInstance;
  /** The API's bound address (port 0 → the chosen port). */
  api: { host: string; port: number };
  stop(): Promise<void>;
}

/**
 * Start the pipeline and the API for a configuration.
 *
 * @example
 * ```ts
 * const srv = await startServer(loadConfig({ cwd }), { logger: createLogger() });
 * await srv.stop();
 * ```
 */
export async function startServer(
  config: SocConfig,
  opts: { logger: Logger; kmsMasterSecret?: string },
): Promise<RunningServer> {
  const log = opts.logger;
  const runtime = await startRuntime(config, { logger: log, normalise });
  let app: FastifyInstance;
  let closeSecurity = (): void => undefined;
  let kms: KmsService | undefined;
  try {
    // The crypto service shares the process and reports every call into the pipeline's buffer.
    if (opts.kmsMasterSecret) {
      kms = KmsService.open({ dir: join(config.data, 'kms'), masterSecret: opts.kmsMasterSecret, sink: runtime.buffer, workers: defaultKmsWorkers() });
    }
    // Fastify logs every request at info; at ingest rates that would drown the log, so the API's
    // logger starts at warn (errors and refusals still appear).
    const apiLevel = log.levelVal > 40 ? log.level : 'warn';
    const sec = serverSecurity(config, runtime);
    closeSecurity = sec.close;
    if (sec.firstAdmin) {
      // Printed once, on the first start only, and never logged: there is no default password.
      process.stdout.write(`\nFirst start: user '${sec.firstAdmin.username}' (security administrator) has the one-time password ${sec.firstAdmin.password}\nIt must be changed at the first login.\n\n`);
    }
    app = await buildApp({
      runtime,
      logger: log.child({ component: 'api' }, { level: apiLevel }),
      security: sec.security,
      comply: { store: runtime.store, dataDir: config.data, socConfig: config, ...(runtime.signingIdentity ? { identity: runtime.signingIdentity } : {}) },
      ...(kms ? { kms } : {}),
    });
    await app.listen({ host: config.api.host, port: config.api.port });
  } catch (e) {
    closeSecurity();
    await kms?.close();
    await runtime.stop();
    throw e;
  }
  const addr = app.server.address();
  const api = typeof addr === 'object' && addr ? { host: addr.address, port: addr.port } : { host: config.api.host, port: config.api.port };
  log.info(
    { api, data: config.data, sources: runtime.sources.map((s) => ({ id: s.id, type: s.type, port: s.address?.port })) },
    'Xiangan SOC started.',
  );
  let stopped: Promise<void> | undefined;
  return {
    runtime,
    app,
    api,
    stop() {
      stopped ??= (async () => {
        await app.close();
        closeSecurity();
        await kms?.close();
        await runtime.stop();
        log.info({}, 'Xiangan SOC stopped.');
      })();
      return stopped;
    },
  };
}

/** Parse `soc start` flags. */
export function parseStartArgs(argv: string[]): { file?: string; overrides: ConfigOverrides } {
  const out: { file?: string; overrides: ConfigOverrides } = { overrides: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const port = (): number => {
      const v = value();
      if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new UsageError(`${flag}: '${v}' is not a port number`);
      return Number(v);
    };
    switch (flag) {
      case '--config':
      case '-c':
        out.file = value();
        break;
      case '--data':
        out.overrides.data = value();
        break;
      case '--syslog-port':
        out.overrides.syslogPort = port();
        break;
      case '--api-port':
        out.overrides.apiPort = port();
        break;
      default:
        throw new UsageError(`unknown option ${a} (usage: xiangan soc start [--config FILE] [--data DIR] [--syslog-port N] [--api-port N])`);
    }
  }
  return out;
}

/**
 * `xiangan soc start …`: run until SIGINT/SIGTERM, then shut down in order and resolve the exit
 * code (0 after a clean stop, 1 when startup failed).
 */
export async function serve(argv: string[], io: CliIo): Promise<number> {
  const args = parseStartArgs(argv);
  const file = args.file ?? io.env.XIANGAN_CONFIG;
  const overrides = { ...args.overrides };
  if (overrides.data === undefined && io.env.XIANGAN_DATA) overrides.data = io.env.XIANGAN_DATA;
  const config = loadConfig({ ...(file !== undefined ? { file } : {}), overrides, cwd: io.cwd });
  if (!config.integrity.passphrase && io.env.XIANGAN_INTEGRITY_PASSPHRASE) config.integrity.passphrase = io.env.XIANGAN_INTEGRITY_PASSPHRASE;
  const logger = createLogger({ level: io.env.XIANGAN_LOG_LEVEL ?? config.log.level });
  if (config.alerts.enabled) limitHeapGrowth();
  let server: RunningServer;
  try {
    server = await startServer(config, { logger, kmsMasterSecret: io.env.XIANGAN_KMS_MASTER });
  } catch (e) {
    logger.fatal({ err: e, errorCode: (e as { code?: string }).code, stage: 'startup' }, 'Startup failed.');
    throw e;
  }
  await new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      logger.info({ signal: sig }, 'Shutting down.');
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await server.stop();
  return 0;
}
