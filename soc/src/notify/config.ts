/**
 * Configuration of detection (`alerts:`) and notifications (`notify:`), declared with TypeBox
 * so the types and the JSON Schema come from one declaration (DESIGN.md convention 4). The
 * server's schema (`../config/schema.ts`) includes both objects.
 */
import { Type, type Static } from '@sinclair/typebox';

const Level = Type.Union(['informational', 'low', 'medium', 'high', 'critical'].map((l) => Type.Literal(l)));
// ajv applies no defaults inside anyOf branches, so channel options are optional here and their
// defaults live in code: CHANNEL_DEFAULTS.
const Rate = Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'deliveries per minute at most (token bucket); default 60, syslog 6000' }));
const Id = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' });
const Url = Type.String({ minLength: 1, maxLength: 2048, pattern: '^https?://' });
const Timeout = Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000, description: 'default 10000' }));

/** Channels, one object per `type`. */
export const ChannelSchema = Type.Union([
  Type.Object(
    {
      id: Id,
      type: Type.Literal('webhook'),
      url: Url,
      /** HMAC-SM3 key of `X-Xiangan-Signature`. */
      secret: Type.Optional(Type.String({ minLength: 1 })),
      ratePerMinute: Rate,
      timeoutMs: Timeout,
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      id: Id,
      type: Type.Literal('email'),
      host: Type.String({ minLength: 1 }),
      port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'default 25' })),
      /** Implicit TLS (port 465); otherwise STARTTLS when the server offers it. */
      secure: Type.Optional(Type.Boolean({ description: 'default false' })),
      user: Type.Optional(Type.String()),
      pass: Type.Optional(Type.String()),
      from: Type.String({ minLength: 3 }),
      to: Type.Array(Type.String({ minLength: 3 }), { minItems: 1 }),
      ratePerMinute: Rate,
      timeoutMs: Timeout,
    },
    { additionalProperties: false },
  ),
  Type.Object(
    { id: Id, type: Type.Literal('dingtalk'), url: Url, secret: Type.Optional(Type.String({ minLength: 1 })), ratePerMinute: Rate, timeoutMs: Timeout },
    { additionalProperties: false },
  ),
  Type.Object({ id: Id, type: Type.Literal('wecom'), url: Url, ratePerMinute: Rate, timeoutMs: Timeout }, { additionalProperties: false }),
  Type.Object(
    { id: Id, type: Type.Literal('feishu'), url: Url, secret: Type.Optional(Type.String({ minLength: 1 })), ratePerMinute: Rate, timeoutMs: Timeout },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      id: Id,
      type: Type.Literal('syslog'),
      host: Type.String({ minLength: 1 }),
      port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'default 514' })),
      protocol: Type.Optional(Type.Union([Type.Literal('udp'), Type.Literal('tcp')], { description: "default 'udp'" })),
      ratePerMinute: Rate,
      timeoutMs: Timeout,
    },
    { additionalProperties: false },
  ),
]);

/** A notification channel. */
export type ChannelConfig = Static<typeof ChannelSchema>;

/** Defaults of the optional channel options. */
export const CHANNEL_DEFAULTS = { ratePerMinute: 60, syslogRatePerMinute: 6000, timeoutMs: 10_000, smtpPort: 25, syslogPort: 514 } as const;

/** Deliveries per minute of a channel. */
export function channelRate(c: ChannelConfig): number {
  return c.ratePerMinute ?? (c.type === 'syslog' ? CHANNEL_DEFAULTS.syslogRatePerMinute : CHANNEL_DEFAULTS.ratePerMinute);
}

/** A route: new alerts at least `minSeverity`, with any of `tags` (prefixes) if given, go to `channels`. */
export const RouteSchema = Type.Object(
  {
    channels: Type.Array(Id, { minItems: 1 }),
    minSeverity: Type.Union(['informational', 'low', 'medium', 'high', 'critical'].map((l) => Type.Literal(l)), { default: 'medium' }),
    /** Any tag starting with one of these (e.g. `attack.credential_access`, `attack.t1110`). */
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    /** Only these rule ids. */
    rules: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  },
  { additionalProperties: false },
);

/** A notification route. */
export type RouteConfig = Static<typeof RouteSchema>;

/** `notify:` in the server configuration. */
export const NotifyConfigSchema = Type.Object(
  {
    channels: Type.Array(ChannelSchema, { default: [] }),
    routes: Type.Array(RouteSchema, { default: [] }),
    retry: Type.Object(
      {
        /** First retry after this many ms; doubled each attempt. */
        baseMs: Type.Integer({ minimum: 10, default: 5000 }),
        maxMs: Type.Integer({ minimum: 10, default: 3_600_000 }),
        /** After this many failed attempts a notification is marked dead (kept, listed). */
        maxAttempts: Type.Integer({ minimum: 1, maximum: 100, default: 12 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Outbox poll interval (ms); a new alert wakes the sender at once. */
    pollMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 1000 }),
  },
  { additionalProperties: false, default: {} },
);

/** Notification configuration. */
export type NotifyConfig = Static<typeof NotifyConfigSchema>;

/** `alerts:` in the server configuration: detection and the alert store. */
export const AlertsConfigSchema = Type.Object(
  {
    /** Run the rule engine over stored events. */
    enabled: Type.Boolean({ default: true }),
    /** Load the built-in packs (rules/packs). */
    builtinRules: Type.Boolean({ default: true }),
    /** More rule directories or files. */
    ruleDirs: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    /** Threat-intel list directory (default: the built-in rules/lists). */
    lists: Type.Optional(Type.String({ minLength: 1 })),
    pipeline: Type.Union([Type.Literal('ecs'), Type.Literal('identity')], { default: 'ecs' }),
    /** Matches of a rule and group key within this many seconds of event time fold into one alert. */
    dedupWindowSeconds: Type.Integer({ minimum: 0, maximum: 31 * 86_400, default: 3600 }),
    /** Dedup fields of detection rules (correlations use their own group-by). */
    groupBy: Type.Array(Type.String({ minLength: 1 }), { default: ['host.name', 'source.ip', 'user.name'] }),
    /** Correlation groups held at once (LRU eviction, counted in xiangan_correlation_evictions_total; ~450 B of heap each, soc/README.md). */
    maxGroups: Type.Integer({ minimum: 1, default: 50_000 }),
    /** Days a closed (resolved / false-positive) alert is kept after its last change; 0 = forever. Open alerts are always kept. */
    retentionDays: Type.Integer({ minimum: 0, maximum: 36_500, default: 365 }),
  },
  { additionalProperties: false, default: {} },
);

/** Detection configuration. */
export type AlertsConfig = Static<typeof AlertsConfigSchema>;

/** @internal the level literal union, reused by the routes' schemas. */
export const LevelSchema = Level;
