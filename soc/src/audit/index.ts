/**
 * The SOC's audit trail: {@link auditLog} for callers, {@link AuditStore} for the server.
 * @packageDocumentation
 */
export { auditLog, AuditStore, type AuditEntry, type AuditRecord, type AuditStoreOptions } from './log.js';
