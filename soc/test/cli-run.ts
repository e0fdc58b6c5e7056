// Run the `xiangan` CLI in this process with captured output (for tests).
import { PassThrough } from 'node:stream';
import { main } from '../src/cli/main.js';

/** Run `xiangan ARGS` in `cwd`; resolves to its exit code and what it wrote. */
export async function runCli(args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await main(args, { stdin: new PassThrough(), stdout, stderr, env, cwd });
  return { code, out, err };
}
