/**
 * The server configuration: one YAML file, validated by the JSON Schema declared here with
 * TypeBox (types and schema from one declaration, DESIGN.md convention 4). Every option has a
 * default in the schema, so `{}` is a complete configuration; unknown keys are errors.
 */
import { Type, type Static } from '@sinclair/typebox';
import { FORMATS } from '@xiangan/collectors';
import { AlertsConfigSchema, NotifyConfigSchema } from '../notify/config.js';
import { AuthConfigSchema, LevelConfigSchema } from '../auth/config.js';

const Port = (def: number) => Type.Integer({ minimum: 0, maximum: 65535, default: def });
const Charset = Type.Union([Type.Literal('auto'), Type.Literal('utf-8'), Type.Literal('gb18030'), Type.Literal('gbk'), Type.Literal('latin1')], { default: 'auto' });
/** A tailed file's parser (collectors' `FORMATS`, as a Wazuh `log_format` names one), or `auto` to detect per line. */
const Format = Type.Union([Type.Literal('auto'), ...Object.keys(FORMATS).map((f) => Type.Literal(f))], { default: 'auto' });
const Sync = (def: 'normal' | 'full') => Type.Union([Type.Literal('normal'), Type.Literal('full')], { default: def });

/** The JSON Schema of the configuration file. */
export const ConfigSchema = Type.Object(
  {
    /** Directory for the buffer and the event store. */
    data: Type.String({ minLength: 1, default: './data' }),
    log: Type.Object(
      {
        level: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),
      },
      { additionalProperties: false, default: {} },
    ),
    storage: Type.Object(
      {
        backend: Type.Union([Type.Literal('sqlite'), Type.Literal('elasticsearch'), Type.Literal('opensearch')], { default: 'sqlite' }),
        /** Cluster of the `elasticsearch` / `opensearch` backends (soc/README.md "Elasticsearch and OpenSearch"). */
        engine: Type.Object(
          {
            nodes: Type.Array(Type.String({ pattern: '^https?://' }), { minItems: 1, default: ['http://127.0.0.1:9200'] }),
            prefix: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]*$', default: 'xiangan' }),
            username: Type.Optional(Type.String()),
            password: Type.Optional(Type.String()),
            apiKey: Type.Optional(Type.String()),
            caFile: Type.Optional(Type.String({ minLength: 1 })),
            replicas: Type.Integer({ minimum: 0, maximum: 10, default: 0 }),
            shards: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
            refresh: Type.Union([Type.Literal('wait_for'), Type.Literal(false)], { default: 'wait_for' }),
          },
          { additionalProperties: false, default: {} },
        ),
        /** Whole days kept; the Cybersecurity Law asks for at least six months. */
        retentionDays: Type.Integer({ minimum: 1, default: 180 }),
        synchronous: Sync('full'),
        cacheMb: Type.Integer({ minimum: 1, maximum: 4096, default: 8 }),
        /** Memory-mapped reads of the event store (MiB, 0 = off): page-cache hits skip a copy; the mapping counts in RSS only while pages are touched. */
        mmapMb: Type.Integer({ minimum: 0, maximum: 65_536, default: 0 }),
        /** Events per store transaction. */
        batchEvents: Type.Integer({ minimum: 1, maximum: 100_000, default: 4000 }),
        /** Write to the store from a worker thread (uses the second core). */
        worker: Type.Boolean({ default: true }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Tamper evidence (soc/README.md "Tamper evidence"). */
    integrity: Type.Object(
      {
        /** Chain stored events and the audit trail (SM3 leaf hashes committed with the records). */
        enabled: Type.Boolean({ default: true }),
        /** Passphrase of the checkpoint-signing key; `$XIANGAN_INTEGRITY_PASSPHRASE` when empty. Empty: nothing is signed. */
        passphrase: Type.String({ default: '' }),
        /** Seconds between signed checkpoints. */
        checkpointSeconds: Type.Integer({ minimum: 1, maximum: 86_400, default: 60 }),
        /** A CA directory to issue the signing certificate from; default: a CA of the SOC's own. */
        caDir: Type.Optional(Type.String({ minLength: 1 })),
      },
      { additionalProperties: false, default: {} },
    ),
    buffer: Type.Object(
      {
        maxEvents: Type.Integer({ minimum: 1, default: 2_000_000 }),
        maxBytes: Type.Integer({ minimum: 1024, default: 512 * 1024 * 1024 }),
        whenFull: Type.Union([Type.Literal('reject'), Type.Literal('block')], { default: 'reject' }),
        synchronous: Sync('normal'),
        groupCommitMs: Type.Integer({ minimum: 0, maximum: 1000, default: 5 }),
        groupCommitEvents: Type.Integer({ minimum: 1, default: 5000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    api: Type.Object(
      {
        host: Type.String({ minLength: 1, default: '127.0.0.1' }),
        port: Port(8080),
        /** Bearer tokens accepted by the API (ingest and search). Empty: only loopback clients are served. */
        tokens: Type.Array(Type.String({ minLength: 16 }), { default: [] }),
        /** Largest HTTP ingest body. */
        maxBodyBytes: Type.Integer({ minimum: 1024, maximum: 256 * 1024 * 1024, default: 10 * 1024 * 1024 }),
        /** Most events in one ingest request. */
        maxEventsPerRequest: Type.Integer({ minimum: 1, default: 50_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    syslog: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        host: Type.String({ minLength: 1, default: '0.0.0.0' }),
        udpPort: Port(5514),
        tcpPort: Port(5514),
        /** IANA zone for device times without an offset (RFC 3164). */
        timezone: Type.String({ minLength: 1, default: 'Asia/Shanghai' }),
        charset: Charset,
        maxMessageBytes: Type.Integer({ minimum: 256, maximum: 1024 * 1024, default: 65536 }),
        maxConnections: Type.Integer({ minimum: 1, default: 1000 }),
        tls: Type.Optional(
          Type.Object(
            {
              port: Port(6514),
              /** PEM file paths. */
              cert: Type.String({ minLength: 1 }),
              key: Type.String({ minLength: 1 }),
              ca: Type.Optional(Type.String({ minLength: 1 })),
              requestClientCert: Type.Boolean({ default: false }),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    files: Type.Array(
      Type.Object(
        {
          id: Type.String({ pattern: '^[A-Za-z0-9_.-]+$' }),
          paths: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
          charset: Charset,
          timezone: Type.String({ minLength: 1, default: 'Asia/Shanghai' }),
          startAt: Type.Union([Type.Literal('beginning'), Type.Literal('end')], { default: 'beginning' }),
          format: Format,
        },
        { additionalProperties: false },
      ),
      { default: [] },
    ),
    /** Detection and the alert store (soc/src/notify/config.ts). */
    alerts: AlertsConfigSchema,
    /** Notification channels and routes (soc/src/notify/config.ts). */
    notify: NotifyConfigSchema,
    /** Graded-protection level (soc/src/auth/config.ts): 3 makes TOTP mandatory. */
    level: LevelConfigSchema,
    /** Users, sessions, lockout and API limits (soc/src/auth/config.ts). */
    auth: AuthConfigSchema,
  },
  { additionalProperties: false, $id: 'https://xiangan.dev/schemas/soc-config.json' },
);

/** A validated configuration with every default filled in. */
export type SocConfig = Static<typeof ConfigSchema>;
