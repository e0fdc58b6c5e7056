/**
 * What every CLI command gets: its arguments and streams, so tests can drive commands
 * in-process without spawning. `server.ts` and `bin/xiangan.js` are the only places that
 * bind these to the real process.
 */
import type { Readable, Writable } from 'node:stream';

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
