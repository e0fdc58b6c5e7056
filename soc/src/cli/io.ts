/**
 * What every CLI command gets: its arguments and streams, so tests can drive commands
 * in-process without spawning. `server.ts` and `bin/xiangan.js` are the only places that
 * bind these to the real process.
 */
import type { Readable, Writable } from 'node:stream';
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: Record<string, string | undefined>;
  cwd: string;
}

/** A command module: `run` returns the process exit code. */
export interface CommandModule {
  run(command: string, argv: string[], io: CliIo): Promise<number>;
}

/** Error a command throws for bad usage; printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Read all of a readable stream into bytes. */
export async function readAll(stream: Readable): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  const b = Buffer.concat(chunks);
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

/** The option table of a command, as node:util `parseArgs` takes it. */
export type CommandOptions = NonNullable<ParseArgsConfig['options']>;
type CommandLineConfig<O extends CommandOptions> = { args: string[]; options: O; allowPositionals: true; strict: true };
/** What {@link parseCommandLine} returns: typed `values` and the `positionals`. */
export type ParsedCommandLine<O extends CommandOptions> = ReturnType<typeof parseArgs<CommandLineConfig<O>>>;

/**
 * Parse a command's arguments (node:util `parseArgs`, strict, positionals allowed); a parse
 * error becomes a {@link UsageError} that carries the command's usage text.
 *
 * @example
 * const { values, positionals } = parseCommandLine(argv, { json: { type: 'boolean' } }, USAGE);
 */
export function parseCommandLine<O extends CommandOptions>(argv: string[], options: O, usage: string): ParsedCommandLine<O> {
  try {
    return parseArgs<CommandLineConfig<O>>({
      args: argv,
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n${usage}`);
  }
}
