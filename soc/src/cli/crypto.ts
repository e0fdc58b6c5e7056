import type { CliIo } from './io.js';
import { UsageError } from './io.js';

/** sm3, hmac-sm3, sm4, sm2: being written (issue 2). */
export async function run(command: string, _argv: string[], _io: CliIo): Promise<number> {
  throw new UsageError(`'${command}' is not available in this build yet`);
}
