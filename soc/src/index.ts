/**
 * `@xiangan/soc`: the server, storage, alerts and the `xiangan` CLI.
 * @packageDocumentation
 */
export { main as cliMain, COMMANDS } from './cli/main.js';
export type { CliIo, CommandModule } from './cli/io.js';
