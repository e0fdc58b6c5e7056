/**
 * The detection commands of the `xiangan` CLI (issue 4), a thin shell over `@xiangan/rules`:
 *
 * ```
 * xiangan rules validate DIR [--pipeline ecs|identity] [--lists DIR]
 * xiangan rules test DIR [--lists DIR]
 * xiangan rules match RULE_OR_DIR --events FILE [--format ndjson|evtx-json|syslog] [--pipeline ecs|identity] [--lists DIR] [--timezone ZONE]
 * xiangan rules import-sigma DIR [--pipeline ecs|identity] [--json]
 * xiangan rules hunt RULE_OR_DIR --from ISO --to ISO [--data DIR | --config FILE] [--lists DIR]
 * xiangan rules aggregate RULE_OR_DIR --from ISO --to ISO --config FILE
 * ```
 *
 * `match` parses the events as the ingest pipeline would (syslog lines through the collectors'
 * parser and normaliser, evtx-json/ndjson objects through `normaliseJson`; with
 * `--pipeline identity` JSON objects are matched as they are) and prints one JSON line per match:
 * `{ ruleId, title, level, kind, event }` (correlations: `eventIds`, `group`, `correlation`).
 * `hunt` replays stored events of a time range, oldest first, through the same engine; with a
 * `--config` naming Elasticsearch/OpenSearch it reads only the events the rules' Query DSL selects.
 * `aggregate` runs the `event_count` / `value_count` correlations among the rules as engine
 * aggregations (`storage/engine-correlate.ts`: the cluster counts, only the places that can fire
 * are replayed), for ranges too large to replay; it prints the correlation lines `hunt` prints
 * (with `event: {}`: no single event raises them) and skips temporal types with a note.
 * Exit codes: 0 fine, 1 invalid rules / failing samples / rejected imports are reported, 2 usage.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { eventId, normaliseJson, parseSyslog, normalise, type SourceContext } from '@xiangan/collectors';
import {
  BUILTIN_LISTS_DIR,
  builtinPipeline,
  compileRules,
  importSigma,
  loadLists,
  loadRules,
  runSamples,
  type EventLike,
  type RuleEngine,
  type RuleMatch,
} from '@xiangan/rules';
import { UsageError, type CliIo } from './io.js';

const USAGE = `usage:
  xiangan rules validate DIR [--pipeline ecs|identity] [--lists DIR]
  xiangan rules test DIR [--lists DIR]
  xiangan rules match RULE_OR_DIR --events FILE [--format ndjson|evtx-json|syslog] [--pipeline ecs|identity] [--lists DIR]
  xiangan rules import-sigma DIR [--pipeline ecs|identity] [--json]
  xiangan rules hunt RULE_OR_DIR --from ISO --to ISO [--data DIR | --config FILE] [--lists DIR]
  xiangan rules aggregate RULE_OR_DIR --from ISO --to ISO --config FILE
`;

const COMMON = {
  pipeline: { type: 'string' },
  lists: { type: 'string' },
  json: { type: 'boolean' },
  events: { type: 'string' },
  format: { type: 'string' },
  timezone: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  data: { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: COMMON, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function pipelineOf(v: string | undefined) {
  const name = v ?? 'ecs';
  if (name !== 'ecs' && name !== 'identity') throw new UsageError('--pipeline must be ecs or identity');
  return builtinPipeline(name);
}

function listsOf(v: string | undefined, io: CliIo) {
  return loadLists(v === undefined ? BUILTIN_LISTS_DIR : resolve(io.cwd, v));
}

function one(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected one ${what}\n${USAGE}`);
  return positionals[0]!;
}

/** Entry point from the COMMANDS table of main.ts. */
export async function run(_command: string, argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout.write(USAGE);
    return sub ? 0 : 2;
  }
  const { values, positionals } = parse(rest);
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  switch (sub) {
    case 'validate':
      return validate(resolve(io.cwd, one(positionals, 'rule directory')), values, io);
    case 'test':
      return testSamples(resolve(io.cwd, one(positionals, 'rule directory')), values, io);
    case 'match':
      return match(resolve(io.cwd, one(positionals, 'rule file or directory')), values, io);
    case 'import-sigma':
      return importCmd(resolve(io.cwd, one(positionals, 'Sigma rule directory')), values, io);
    case 'hunt':
      return hunt(resolve(io.cwd, one(positionals, 'rule file or directory')), values, io);
    case 'aggregate':
      return aggregate(resolve(io.cwd, one(positionals, 'rule file or directory')), values, io);
    default:
      throw new UsageError(`unknown sub-command '${sub}'\n${USAGE}`);
  }
}

type Values = ReturnType<typeof parse>['values'];

function validate(dir: string, values: Values, io: CliIo): number {
  const { rules, errors } = loadRules(dir);
  const engine = compileRules(rules, pipelineOf(values.pipeline), { lists: listsOf(values.lists, io), onError: 'skip' });
  const bad = [...errors, ...engine.rejected];
  for (const r of bad) io.stdout.write(`${r.source}: ${r.code}: ${r.reason}\n`);
  io.stdout.write(`${rules.length + errors.length} rule documents, ${rules.length + errors.length - bad.length} valid, ${bad.length} invalid\n`);
  return bad.length ? 1 : 0;
}

function testSamples(dir: string, values: Values, io: CliIo): number {
  const { rules, errors } = loadRules(dir);
  for (const r of errors) io.stdout.write(`${r.source}: ${r.code}: ${r.reason}\n`);
  const res = runSamples(rules, { lists: listsOf(values.lists, io) });
  let failing = 0;
  let samples = 0;
  for (const r of res) {
    samples += r.run;
    if (r.failures.length) {
      failing++;
      io.stdout.write(`FAIL ${r.ruleId} ${r.source}: ${r.failures.join('; ')}\n`);
    } else io.stdout.write(`ok   ${r.ruleId} ${r.source} (${r.run} samples)\n`);
  }
  const without = rules.length - res.length;
  io.stdout.write(`${res.length} rules with samples (${samples} samples), ${failing} failing, ${without} without samples\n`);
  return failing || errors.length ? 1 : 0;
}

const FORMATS = ['ndjson', 'evtx-json', 'syslog'] as const;

/** Events of a file parsed as the ingest pipeline would parse them. */
function* readEvents(file: string, format: (typeof FORMATS)[number], identity: boolean, timezone: string): Generator<EventLike> {
  const text = readFileSync(file, 'utf8');
  const receivedAt = statSync(file).mtimeMs;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.trim()) continue;
    const bytes = new TextEncoder().encode(line);
    const ctx: SourceContext = {
      sourceId: 'cli-rules-match',
      transport: 'file',
      receivedAt,
      timezone,
      eventId: eventId({ kind: 'file', sourceId: 'cli-rules-match', fileKey: file, offset: i, bytes }),
      file: { path: file, offset: i },
    };
    if (format === 'syslog') {
      yield normalise(parseSyslog(bytes, { receivedAt, timezone }), ctx) as unknown as EventLike;
      continue;
    }
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw Object.assign(new Error(`${file}:${i + 1}: not JSON: ${(e as Error).message}`), { code: 'SOC_ERR_CLI_INPUT' });
    }
    if (identity && obj && typeof obj === 'object' && !Array.isArray(obj)) yield obj as EventLike;
    else if (format === 'ndjson' && isEcs(obj)) yield obj as EventLike;
    else yield normaliseJson(obj, ctx) as unknown as EventLike;
  }
}

/** An NDJSON line that is already a normalised event (as the HTTP ingest accepts it). */
function isEcs(o: unknown): boolean {
  const x = o as Record<string, unknown>;
  return !!x && typeof x === 'object' && typeof x['@timestamp'] === 'string' && !!x.event && typeof x.event === 'object' && !('Event' in x);
}

function printMatch(m: RuleMatch, ev: EventLike, io: CliIo): void {
  const base = { ruleId: m.ruleId, title: m.title, level: m.level, kind: m.kind, alert: m.alert };
  if (m.kind === 'detection') io.stdout.write(`${JSON.stringify({ ...base, event: ev })}\n`);
  else io.stdout.write(`${JSON.stringify({ ...base, eventIds: m.eventIds, group: m.group, correlation: m.correlation, event: ev })}\n`);
}

function engineFor(path: string, values: Values, io: CliIo): RuleEngine {
  const { rules, errors } = loadRules(path);
  if (errors.length) throw Object.assign(new Error(`${errors[0]!.source}: ${errors[0]!.reason}`), { code: errors[0]!.code });
  return compileRules(rules, pipelineOf(values.pipeline), { lists: listsOf(values.lists, io) });
}

function match(path: string, values: Values, io: CliIo): number {
  if (!values.events) throw new UsageError(`--events FILE is required\n${USAGE}`);
  const format = (values.format ?? 'ndjson') as (typeof FORMATS)[number];
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}`);
  const engine = engineFor(path, values, io);
  let last = '';
  for (const ev of readEvents(resolve(io.cwd, values.events), format, values.pipeline === 'identity', values.timezone ?? 'Asia/Shanghai')) {
    for (const m of engine.match(ev)) printMatch(m, ev, io);
    if (typeof ev['@timestamp'] === 'string' && ev['@timestamp'] > last) last = ev['@timestamp'];
  }
  // Close lt/lte windows that ended by the newest event time.
  if (last) for (const m of engine.flush(last)) printMatch(m, {}, io);
  const s = engine.stats();
  io.stderr.write(`${s.events} events, ${s.detectionMatches} detection matches, ${s.correlationMatches} correlation matches\n`);
  return 0;
}

function importCmd(dir: string, values: Values, io: CliIo): number {
  const r = importSigma(dir, pipelineOf(values.pipeline));
  if (values.json) {
    io.stdout.write(`${JSON.stringify({ total: r.total, accepted: r.accepted, byCode: r.byCode, rejected: r.rejected })}\n`);
  } else {
    for (const x of r.rejected) io.stdout.write(`rejected ${x.source}: ${x.code}: ${x.reason}\n`);
    const pct = r.total ? ((100 * r.accepted) / r.total).toFixed(1) : '0.0';
    io.stdout.write(`accepted ${r.accepted} of ${r.total} (${pct} %), rejected ${r.rejected.length}${Object.keys(r.byCode).length ? ` ${JSON.stringify(r.byCode)}` : ''}\n`);
  }
  return r.rejected.length ? 1 : 0;
}

function requireRange(values: Values): { from: string; to: string } {
  if (!values.from || !values.to || !Number.isFinite(Date.parse(values.from)) || !Number.isFinite(Date.parse(values.to))) throw new UsageError(`--from and --to (ISO 8601) are required\n${USAGE}`);
  return { from: values.from, to: values.to };
}

async function aggregate(path: string, values: Values, io: CliIo): Promise<number> {
  const range = requireRange(values);
  if (values.config === undefined) throw new UsageError(`aggregate needs --config naming an elasticsearch or opensearch backend\n${USAGE}`);
  const { rules, errors } = loadRules(path);
  if (errors.length) throw Object.assign(new Error(`${errors[0]!.source}: ${errors[0]!.reason}`), { code: errors[0]!.code });
  const { loadConfig } = await import('../config/load.js');
  const cfg = loadConfig({ file: resolve(io.cwd, values.config), cwd: io.cwd });
  if (cfg.storage.backend === 'sqlite') throw new UsageError('aggregate runs on an elasticsearch or opensearch backend; on SQLite use xiangan rules hunt');
  const { openConfiguredEngine } = await import('../storage/search-engine-open.js');
  const { correlateByAggregation } = await import('../storage/engine-correlate.js');
  const store = await openConfiguredEngine(cfg.storage.backend, cfg.storage.engine, cfg.storage.retentionDays);
  const pipeline = pipelineOf(values.pipeline);
  const t = { rules: 0, blocks: 0, runs: 0, read: 0, matches: 0 };
  try {
    for (const r of rules) {
      const c = r.doc['correlation'] as { type?: string } | undefined;
      if (!c) continue;
      if (c.type !== 'event_count' && c.type !== 'value_count') {
        io.stderr.write(`${r.source}: ${String(c.type)} correlations depend on the order of events; run them with xiangan rules hunt\n`);
        continue;
      }
      const res = await correlateByAggregation(store, r, rules, pipeline, range);
      for (const m of res.matches) printMatch(m, {}, io);
      t.rules++;
      t.blocks += res.buckets;
      t.runs += res.verified;
      t.read += res.eventsRead;
      t.matches += res.matches.length;
    }
  } finally {
    await store.close();
  }
  io.stderr.write(`${t.rules} correlations aggregated: ${t.blocks} blocks, ${t.runs} runs replayed (${t.read} events read), ${t.matches} matches\n`);
  return 0;
}

async function hunt(path: string, values: Values, io: CliIo): Promise<number> {
  const { from, to } = requireRange(values);
  const engine = engineFor(path, values, io);
  let dataDir = resolve(io.cwd, values.data ?? './data');
  if (values.config !== undefined) {
    if (values.data !== undefined) throw new UsageError('give --data or --config, not both');
    const { engineHuntSource } = await import('../storage/engine-hunt.js');
    const src = await engineHuntSource(resolve(io.cwd, values.config), io.cwd, loadRules(path).rules, pipelineOf(values.pipeline), { from, to });
    if (src.dataDir !== undefined) dataDir = src.dataDir;
    else {
      try {
        for await (const ev of src.events) for (const m of engine.match(ev as unknown as EventLike)) printMatch(m, ev as unknown as EventLike, io);
        for (const m of engine.flush(to)) printMatch(m, {}, io);
      } finally {
        await src.close();
      }
      const s = engine.stats();
      io.stderr.write(`${s.events} stored events selected by ${src.plan.searches.length} searches (${src.plan.exact} of ${src.plan.rules} rules exact), ${s.detectionMatches} detection matches, ${s.correlationMatches} correlation matches\n`);
      return 0;
    }
  }
  // Loaded here so the other sub-commands do not open SQLite.
  const { openSqliteStore } = await import('../storage/sqlite.js');
  const store = await openSqliteStore({ dir: dataDir });
  try {
    let cursor: string | undefined;
    do {
      const page = await store.search({ from, to, sort: 'asc', size: 5000, cursor });
      for (const ev of page.events as unknown as EventLike[]) for (const m of engine.match(ev)) printMatch(m, ev, io);
      cursor = page.nextCursor;
    } while (cursor);
    for (const m of engine.flush(to)) printMatch(m, {}, io);
  } finally {
    await store.close();
  }
  const s = engine.stats();
  io.stderr.write(`${s.events} stored events replayed, ${s.detectionMatches} detection matches, ${s.correlationMatches} correlation matches\n`);
  return 0;
}

