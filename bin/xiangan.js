#!/usr/bin/env node
// The `xiangan` command. Build first (`npm run build`); the code lives in soc/src/cli.
import { main } from '../soc/dist/src/cli/main.js';

const code = await main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = code;
