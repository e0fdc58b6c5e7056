/**
 * `@xiangan/soc`: the server, storage, alerts and the `xiangan` CLI.
 * @packageDocumentation
 */
export { main as cliMain, COMMANDS } from './cli/main.js';
export type { CliIo, CommandModule } from './cli/io.js';
export { SocError, SOC_ERROR_CODES, SOC_ERROR_STATUS } from './errors.js';
export type { SocErrorCode } from './errors.js';
export * from './storage/types.js';
export type * from './query/ast.js';
export { parseQuery } from './query/parse.js';
export { openSqliteStore, SqliteEventStore } from './storage/sqlite.js';
export type { SqliteStoreOptions } from './storage/sqlite.js';
export { auditLog, AuditStore, type AuditEntry, type AuditRecord, type AuditStoreOptions } from './audit/index.js';
