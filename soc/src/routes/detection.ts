/**
 * Rule authoring from the console, the API side of `xiangan rules match` and
 * `xiangan rules import-sigma`: test rules pasted as YAML against pasted events, and check what a
 * set of Sigma rules becomes through a pipeline. Both compile a throw-away engine per request.
 * `POST /api/v1/detection/install-sigma` then installs the chosen rules of such an import into
 * the running detector (persisted in the data directory, reloaded without losing the open
 * windows of unchanged correlations); rules are switched on and off with
 * `PUT /api/v1/detection/rules/:id`.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { eventId, normalise, normaliseJson, parseSyslog, type SourceContext } from '@xiangan/collectors';
import { builtinPipeline, compileRules, importSigma, MAX_RULE_FILE_BYTES, parseRuleText, RuleError, type EventLike, type LoadedRule, type RuleMatch } from '@xiangan/rules';
import { auditLog } from '../audit/index.js';
import type { Detector } from '../detection/detector.js';
import { SocError } from '../errors.js';
import { ERRORS } from './schemas.js';

/** Most pasted events one test takes. */
export const MAX_TEST_EVENTS = 10_000;
const SOURCE = 'console-paste';

const PipelineName = Type.Union([Type.Literal('ecs'), Type.Literal('identity')], { default: 'ecs' });
const Rejected = Type.Object({ source: Type.String(), code: Type.String(), reason: Type.String() });
const RuleInfo = Type.Object({ id: Type.String(), title: Type.String(), level: Type.String(), kind: Type.String() });

const TestBody = Type.Object(
  {
    /** One or more rule documents (Sigma YAML, `---` between documents). */
    rules: Type.String({ minLength: 1, maxLength: MAX_RULE_FILE_BYTES }),
    /** Events, one a line: JSON objects (`ndjson`) or raw syslog lines (`syslog`). */
    events: Type.String({ maxLength: 4 * 1024 * 1024 }),
    format: Type.Union([Type.Literal('ndjson'), Type.Literal('syslog')], { default: 'ndjson' }),
    pipeline: PipelineName,
    /** Time zone of syslog lines without one (RFC 3164). */
    timezone: Type.String({ minLength: 1, maxLength: 64, default: 'Asia/Shanghai' }),
  },
  { additionalProperties: false },
);

const MatchSchema = Type.Object({
  ruleId: Type.String(),
  title: Type.String(),
  level: Type.String(),
  kind: Type.String(),
  /** 1-based line of the event that completed the match (0: a window closed at the end). */
  line: Type.Integer(),
  eventIds: Type.Array(Type.String()),
  group: Type.Optional(Type.Record(Type.String(), Type.String())),
});

const TestResponse = Type.Object({
  rules: Type.Array(RuleInfo),
  rejected: Type.Array(Rejected),
  events: Type.Integer(),
  matches: Type.Array(MatchSchema),
  /** Parsed events, as the engine saw them (first 100), so the author sees field names. */
  parsed: Type.Array(Type.Object({}, { additionalProperties: true })),
});

const ImportBody = Type.Object(
  { rules: Type.String({ minLength: 1, maxLength: MAX_RULE_FILE_BYTES }), pipeline: PipelineName },
  { additionalProperties: false },
);
const ImportResponse = Type.Object({
  total: Type.Integer(),
  accepted: Type.Integer(),
  rules: Type.Array(RuleInfo),
  rejected: Type.Array(Rejected),
  byCode: Type.Record(Type.String(), Type.Integer()),
});

const InstallBody = Type.Object(
  {
    /** The same text the import report was made from. */
    rules: Type.String({ minLength: 1, maxLength: MAX_RULE_FILE_BYTES }),
    /** Rules of that text to install, each switched on or off. */
    install: Type.Array(Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }), enabled: Type.Boolean({ default: true }) }, { additionalProperties: false }), { minItems: 1, maxItems: 1000 }),
  },
  { additionalProperties: false },
);
const InstallResponse = Type.Object({
  installed: Type.Array(Type.Object({ id: Type.String(), title: Type.String(), level: Type.String(), kind: Type.String(), enabled: Type.Boolean(), replaced: Type.Boolean() })),
  reload: Type.Object({ rules: Type.Integer(), keptGroups: Type.Integer(), droppedGroups: Type.Integer() }),
});

/** Rule documents of a pasted text; a YAML or size error is a 400 with the rule's own code. */
function pastedRules(text: string): LoadedRule[] {
  try {
    return parseRuleText(text, SOURCE);
  } catch (e) {
    if (e instanceof RuleError) throw new SocError('SOC_ERR_QUERY', `${e.code}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** An NDJSON object that is already a normalised event (as the HTTP ingest takes it). */
function isEcs(o: Record<string, unknown>): boolean {
  return typeof o['@timestamp'] === 'string' && !!o.event && typeof o.event === 'object' && !('Event' in o);
}

/**
 * Pasted lines as events, parsed as ingest would: syslog through the collectors' parser and
 * normaliser, JSON objects kept when already ECS or normalised otherwise (`identity`: as given).
 */
export function pastedEvents(text: string, format: 'ndjson' | 'syslog', identity: boolean, timezone: string, receivedAt: number): { line: number; event: EventLike }[] {
  const out: { line: number; event: EventLike }[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.trim()) continue;
    if (out.length >= MAX_TEST_EVENTS) throw new SocError('SOC_ERR_QUERY', `at most ${MAX_TEST_EVENTS} events per test`);
    const bytes = new TextEncoder().encode(line);
    const ctx: SourceContext = {
      sourceId: SOURCE,
      transport: 'file',
      receivedAt,
      timezone,
      eventId: eventId({ kind: 'file', sourceId: SOURCE, fileKey: SOURCE, offset: i, bytes }),
      file: { path: SOURCE, offset: i },
    };
    if (format === 'syslog') {
      out.push({ line: i + 1, event: normalise(parseSyslog(bytes, { receivedAt, timezone }), ctx) as unknown as EventLike });
      continue;
    }
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new SocError('SOC_ERR_QUERY', `line ${i + 1}: not JSON: ${(e as Error).message}`);
    }
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new SocError('SOC_ERR_QUERY', `line ${i + 1}: an event must be a JSON object`);
    const o = obj as Record<string, unknown>;
    out.push({ line: i + 1, event: (identity || isEcs(o) ? o : normaliseJson(o, ctx)) as unknown as EventLike });
  }
  return out;
}

function matchOut(m: RuleMatch, line: number) {
  return {
    ruleId: m.ruleId,
    title: m.title,
    level: m.level,
    kind: m.kind,
    line,
    eventIds: m.eventIds,
    ...(m.group ? { group: Object.fromEntries(Object.entries(m.group).map(([k, v]) => [k, String(v)])) } : {}),
  };
}

/**
 * `POST /api/v1/detection/test`, `POST /api/v1/detection/import-sigma`,
 * `POST /api/v1/detection/install-sigma`, `GET /api/v1/detection/installed`,
 * `DELETE /api/v1/detection/installed/:id` and `POST /api/v1/detection/reload` (these need the
 * running `detector`).
 *
 * @example
 * await app.register(detectionToolRoutes, { now: Date.now, detector });
 * // POST /api/v1/detection/test { "rules": "title: …", "events": "{\"@timestamp\":…}\n", "format": "ndjson" }
 */
export async function detectionToolRoutes(app: FastifyInstance, o: { now: () => number; detector?: Detector }): Promise<void> {
  const tags = ['rules'];
  app.post<{ Body: Static<typeof TestBody> }>(
    '/api/v1/detection/test',
    { config: { permission: 'rules:read' }, schema: { tags, body: TestBody, response: { 200: TestResponse, ...ERRORS } } },
    async (req) => {
      const b = req.body;
      const engine = compileRules(pastedRules(b.rules), builtinPipeline(b.pipeline), { onError: 'skip' });
      const events = pastedEvents(b.events, b.format, b.pipeline === 'identity', b.timezone, o.now());
      const matches = [];
      let last = '';
      for (const { line, event } of events) {
        for (const m of engine.match(event)) matches.push(matchOut(m, line));
        const ts = (event as Record<string, unknown>)['@timestamp'];
        if (typeof ts === 'string' && ts > last) last = ts;
      }
      // Close lt/lte windows that ended by the newest event time, as `rules match` does.
      if (last) for (const m of engine.flush(last)) matches.push(matchOut(m, 0));
      const all = [...engine.detections, ...engine.correlations];
      return {
        rules: all.map((r) => ({ id: r.id, title: r.title, level: r.level, kind: r.kind })),
        rejected: engine.rejected.map((r) => ({ source: r.source, code: r.code, reason: r.reason })),
        events: events.length,
        matches,
        parsed: events.slice(0, 100).map((e) => e.event as Record<string, unknown>),
      };
    },
  );

  app.post<{ Body: Static<typeof ImportBody> }>(
    '/api/v1/detection/import-sigma',
    { config: { permission: 'rules:read' }, schema: { tags, body: ImportBody, response: { 200: ImportResponse, ...ERRORS } } },
    async (req) => {
      const r = importSigma({ rules: pastedRules(req.body.rules), errors: [] }, builtinPipeline(req.body.pipeline));
      const all = [...r.engine.detections, ...r.engine.correlations];
      return {
        total: r.total,
        accepted: r.accepted,
        rules: all.map((x) => ({ id: x.id, title: x.title, level: x.level, kind: x.kind })),
        rejected: r.rejected.map((x) => ({ source: x.source, code: x.code, reason: x.reason })),
        byCode: r.byCode,
      };
    },
  );

  app.get(
    '/api/v1/detection/installed',
    { config: { permission: 'rules:read' }, schema: { tags, response: { 200: Type.Object({ ids: Type.Array(Type.String()) }), ...ERRORS } } },
    async () => ({ ids: o.detector ? [...o.detector.installedRules()].sort() : [] }),
  );

  app.delete<{ Params: { id: string } }>(
    '/api/v1/detection/installed/:id',
    {
      config: { permission: 'rules:write' },
      schema: { tags, params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) }), response: { 200: Type.Object({ rules: Type.Integer(), keptGroups: Type.Integer(), droppedGroups: Type.Integer() }), ...ERRORS } },
    },
    async (req) => {
      if (!o.detector) throw new SocError('SOC_ERR_UNAVAILABLE', 'detection is not enabled on this server (alerts.enabled)');
      const r = await o.detector.uninstall(req.params.id);
      auditLog.record({ actor: req.principal!.name, action: 'rule.uninstall', target: req.params.id, outcome: 'success' });
      return { rules: r.rules, keptGroups: r.keptGroups, droppedGroups: r.droppedGroups };
    },
  );

  app.post(
    '/api/v1/detection/reload',
    { config: { permission: 'rules:write' }, schema: { tags, response: { 200: Type.Object({ rules: Type.Integer(), keptGroups: Type.Integer(), droppedGroups: Type.Integer(), rejected: Type.Array(Rejected) }), ...ERRORS } } },
    async (req) => {
      if (!o.detector) throw new SocError('SOC_ERR_UNAVAILABLE', 'detection is not enabled on this server (alerts.enabled)');
      // Rule files edited or added in the configured directories take effect without a restart.
      const r = await o.detector.reload();
      auditLog.record({ actor: req.principal!.name, action: 'rule.reload', target: 'detection', outcome: 'success', details: { rules: r.rules, keptGroups: r.keptGroups, droppedGroups: r.droppedGroups, rejected: r.rejected.length } });
      return { rules: r.rules, keptGroups: r.keptGroups, droppedGroups: r.droppedGroups, rejected: r.rejected.map((x) => ({ source: x.source, code: x.code, reason: x.reason })) };
    },
  );

  app.post<{ Body: Static<typeof InstallBody> }>(
    '/api/v1/detection/install-sigma',
    { config: { permission: 'rules:write' }, schema: { tags, body: InstallBody, response: { 200: InstallResponse, ...ERRORS } } },
    async (req) => {
      if (!o.detector) throw new SocError('SOC_ERR_UNAVAILABLE', 'detection is not enabled on this server (alerts.enabled)');
      const ids = req.body.install.map((c) => c.id);
      if (new Set(ids).size !== ids.length) throw new SocError('SOC_ERR_QUERY', 'a rule id is chosen twice');
      const actor = req.principal!.name;
      try {
        const r = await o.detector.install(pastedRules(req.body.rules), req.body.install, actor);
        // One audit entry per rule (GB/T 22239-2019 8.1.4.3 a: important user actions are audited).
        for (const x of r.installed) auditLog.record({ actor, action: 'rule.install', target: x.id, outcome: 'success', details: { title: x.title, level: x.level, kind: x.kind, enabled: x.enabled, replaced: x.replaced } });
        return { installed: r.installed, reload: { rules: r.reload.rules, keptGroups: r.reload.keptGroups, droppedGroups: r.reload.droppedGroups } };
      } catch (e) {
        auditLog.record({ actor, action: 'rule.install', target: ids.join(',').slice(0, 512), outcome: 'failure', details: { code: (e as { code?: string }).code ?? 'error', message: (e as Error).message.slice(0, 1000) } });
        throw e;
      }
    },
  );
}
