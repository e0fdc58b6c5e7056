/**
 * The one pino root logger of the server (DESIGN.md convention 7). Components take a child
 * (`root.child({ component: 'buffer' })`); secrets are redacted by path before serialisation.
 */
import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';

/** Paths whose values never reach a log line: bearer tokens, keys, passwords. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'token',
  'tokens',
  '*.token',
  '*.tokens',
  'password',
  '*.password',
  'key',
  '*.key',
  'privateKey',
  '*.privateKey',
  'passphrase',
  '*.passphrase',
];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  level?: string;
  /** Where lines go; default stdout. Tests pass a stream to read them back. */
  destination?: DestinationStream;
}

/**
 * Create the root logger.
 *
 * @example
 * ```ts
 * const log = createLogger({ level: 'info' });
 * log.child({ component: 'api' }).info({ port: 8080 }, 'API listening.');
 * ```
 */
export function createLogger(opts: LoggerOptions = {}): PinoLogger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { service: 'xiangan-soc' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination,
  );
}

export type { PinoLogger as Logger };
