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
export * from './alerts/types.js';
export { openSqliteAlertStore, SqliteAlertStore, type SqliteAlertStoreOptions } from './alerts/sqlite.js';
export { ALERT_ROUTES, alertRoutes, type AlertRoute, type AlertPermission, type AlertRoutesOptions } from './alerts/routes.js';
export { Detector, loadDetectionEngine, DEFAULT_GROUP_BY, type DetectorOptions, type DetectionResult, type DetectorStats } from './detection/detector.js';
export { startDetection, type DetectionRuntime, type AlertLatencySample } from './detection/wire.js';
export { Notifier, routeMatches, type NotifierOptions, type NotifierStats, type OutboxEntry } from './notify/notifier.js';
export { sendAlert, webhookRequest, dingtalkUrl, feishuSign, cefLine, alertText, SIGNATURE_HEADER, TIMESTAMP_HEADER, type Sender } from './notify/channels.js';
export type { ChannelConfig, RouteConfig, NotifyConfig, AlertsConfig } from './notify/config.js';
export { startRuntime, type Runtime } from './pipeline/runtime.js';
export { validateConfig } from './config/load.js';
export * from './integrity/index.js';
export { buildApp, type AppOptions } from './app.js';
export { AuthService, sm2LoginMessage, type Principal, type UserInfo, type TokenInfo, type LoginFailure } from './auth/service.js';
export { PERMISSIONS, ROLES, ROLE_DEFINITIONS, TOKEN_PERMISSIONS, ROUTE_PERMISSIONS, routeAccess, type Permission, type Role, type RouteAccess } from './auth/permissions.js';
export { EventBus, socBus, type BusMessage } from './bus.js';
export { installSecurity, serverSecurity, routeTable, SESSION_COOKIE, CSRF_COOKIE, CSRF_HEADER, type SecurityOptions } from './security.js';
export * from './kms/index.js';
export { openElasticStore, type ElasticStoreOptions } from './storage/elastic.js';
export { openOpenSearchStore, type OpenSearchStoreOptions } from './storage/opensearch.js';
export { SearchEngineEventStore, engineIndexNames, ecsMappings, openEngine, type EngineIndexNames, type EngineTransport, type EngineResponse, type EngineWriteResult, type SearchEngineStoreOptions } from './storage/search-engine.js';
export { engineWriter, openConfiguredEngine, type EngineConfig } from './storage/search-engine-open.js';
export { toDsl, type DslQuery } from './storage/dsl.js';
export { DurableBuffer, type DurableBufferOptions } from './buffer/durable.js';
export { StoreConsumer, type StoreConsumerOptions, type StepInfo } from './pipeline/consumer.js';
export { Preparer, type PreparedStep } from './pipeline/prepare.js';
export { RawFrame, encodeFrames } from './buffer/raw.js';
export { COMPLY_ERROR_CODES, ComplyError, type ComplyErrorCode } from './comply/errors.js';
export { runAssessment, writeReports, verifyReportFile, importAssetsCsv, loadInventory, saveInventory, complyRoutes, renderHtml, renderJson, type Assessment, type Inventory } from './comply/index.js';
