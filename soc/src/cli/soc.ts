/**
 * The log commands of the `xiangan` CLI (issue 3):
 *
 * ```
 * xiangan soc start [--config FILE] [--data DIR] [--syslog-port N] [--api-port N]
 * xiangan search QUERY [--data DIR | --api URL | --config FILE] [--last 1h | --from T --to T] [--size N] [--sort asc|desc] [--json]
 * xiangan tail [QUERY] [--data DIR | --api URL | --config FILE] [--json] [--interval MS] [--max N]
 * xiangan ingest FILE [--format syslog|ndjson|evtx-json] [--parser NAME] [--data DIR | --api URL]
 * ```
 *
 * `--data` (default `./data`) reads or writes the SQLite files directly (safe beside a running
 * server: WAL readers never block it); `--api` talks to a server, with the bearer token from
 * `--token-env VAR` (default `XIANGAN_TOKEN`); `--config` opens the store the server's config names
 * (SQLite in its data directory, or the Elasticsearch/OpenSearch cluster). `--json` prints one event per line.
 */
import { parseArgs } from 'node:util';
import { openSync, readSync, closeSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { createNormaliser, createProcessor, eventId, FORMATS as PARSERS, newSourceMetrics, normalise, normaliseJson, type EcsEvent, type FormatName, type SourceContext } from '@xiangan/collectors';
import type { CliIo } from './io.js';
import { UsageError } from './io.js';
import { searchRequestFrom } from '../app.js';
import { parseIngestBody } from '../ingest/http.js';
import { openSqliteStore, type SqliteEventStore } from '../storage/sqlite.js';
import type { SearchRequest, SearchResult } from '../storage/types.js';

/** Entry point for `soc`, `search`, `tail` and `ingest`. */
export async function run(command: string, argv: string[], io: CliIo): Promise<number> {
  switch (command) {
    case 'soc': {
      const [sub, ...rest] = argv;
      if (sub !== 'start') throw new UsageError('usage: xiangan soc start [--config FILE] [--data DIR] [--syslog-port N] [--api-port N]');
      const { serve } = await import('../server.js');
      return serve(rest, io);
    }
    case 'search':
      return search(argv, io);
    case 'tail':
      return tail(argv, io);
    case 'ingest':
      return ingest(argv, io);
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

const TARGET = {
  data: { type: 'string' },
  api: { type: 'string' },
  'token-env': { type: 'string' },
  json: { type: 'boolean' },
} as const;

function parse<O extends Record<string, { type: 'string' | 'boolean' }>>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** A place to search: the files under `--data` or a server at `--api`. */
interface Target {
  search(req: SearchRequest, raw: Record<string, string>): Promise<SearchResult>;
  close(): Promise<void>;
}

async function openTarget(values: { data?: string; api?: string; 'token-env'?: string; config?: string }, io: CliIo): Promise<Target> {
  if ([values.data, values.api, values.config].filter((v) => v !== undefined).length > 1) throw new UsageError('give one of --data, --api and --config');
  if (values.config !== undefined) {
    const { openConfiguredStore } = await import('../storage/search-engine-open.js');
    const store = await openConfiguredStore(resolve(io.cwd, values.config), io.cwd);
    return { search: (req) => store.search(req), close: () => store.close() };
  }
  if (values.api !== undefined) {
    const base = values.api.replace(/\/+$/, '');
    const token = io.env[values['token-env'] ?? 'XIANGAN_TOKEN'];
    return {
      async search(_req, raw) {
        const res = await fetch(`${base}/api/v1/events?${new URLSearchParams(raw).toString()}`, {
          headers: token ? { authorization: `Bearer ${token}` } : {},
        });
        const body = (await res.json()) as SearchResult & { code?: string; message?: string };
        if (!res.ok) throw Object.assign(new Error(body.message ?? `HTTP ${res.status}`), { code: body.code });
        return body;
      },
      async close() {},
    };
  }
  const store: SqliteEventStore = await openSqliteStore({ dir: resolve(io.cwd, values.data ?? './data'), readonly: true });
  return { search: (req) => store.search(req), close: () => store.close() };
}

function print(io: CliIo, ev: EcsEvent, json: boolean): void {
  if (json) {
    io.stdout.write(JSON.stringify(ev) + '\n');
    return;
  }
  const host = ev.host?.name ?? ev.log?.syslog?.hostname ?? ev.observer?.hostname ?? '-';
  const app = ev.log?.syslog?.appname ?? ev.event?.dataset ?? '-';
  io.stdout.write(`${ev['@timestamp']} ${host} ${app}: ${(ev.message ?? ev.event?.original ?? '').replace(/\n/g, '\\n')}\n`);
}

function rawParams(q: { q?: string; last?: string; from?: string; to?: string; size?: string; sort?: string; cursor?: string }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(q)) if (v !== undefined) out[k] = v;
  return out;
}

async function search(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, {
    ...TARGET,
    config: { type: 'string' },
    last: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    size: { type: 'string' },
    sort: { type: 'string' },
  });
  if (positionals.length > 1) throw new UsageError('give the query as one argument (quote it)');
  const size = values.size === undefined ? 100 : Number(values.size);
  if (!Number.isInteger(size) || size < 0 || size > 10_000) throw new UsageError('--size must be 0..10000');
  if (values.sort !== undefined && values.sort !== 'asc' && values.sort !== 'desc') throw new UsageError('--sort is asc or desc');
  const q = {
    q: positionals[0] ?? '',
    ...(values.last !== undefined ? { last: values.last } : {}),
    ...(values.from !== undefined ? { from: values.from } : {}),
    ...(values.to !== undefined ? { to: values.to } : {}),
    size,
    ...(values.sort !== undefined ? { sort: values.sort as 'asc' | 'desc' } : {}),
  };
  const req = searchRequestFrom(q, Date.now());
  const target = await openTarget(values, io);
  try {
    const res = await target.search(req, rawParams({ ...q, size: String(size) }));
    for (const ev of res.events) print(io, ev, values.json === true);
    if (!values.json) io.stderr.write(`${res.events.length} of ${res.total} events\n`);
  } finally {
    await target.close();
  }
  return 0;
}

async function tail(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, { ...TARGET, config: { type: 'string' }, interval: { type: 'string' }, max: { type: 'string' }, last: { type: 'string' } });
  const interval = values.interval === undefined ? 1000 : Number(values.interval);
  const max = values.max === undefined ? Infinity : Number(values.max);
  if (!(interval >= 50)) throw new UsageError('--interval must be at least 50 ms');
  if (!(max > 0)) throw new UsageError('--max must be positive');
  const target = await openTarget(values, io);
  // Follow from now (or --last ago) in ascending order; the cursor makes each poll continue
  // exactly after the last event printed.
  const start = searchRequestFrom({ q: positionals[0] ?? '', ...(values.last !== undefined ? { last: values.last } : { last: '0s' }) }, Date.now());
  let cursor: string | undefined;
  let printed = 0;
  let stop = false;
  const onSig = (): void => {
    stop = true;
  };
  process.once('SIGINT', onSig);
  try {
    while (!stop && printed < max) {
      const req: SearchRequest = { ...start, sort: 'asc', size: 1000, ...(cursor ? { cursor } : {}) };
      const raw = rawParams({ q: positionals[0] ?? '', from: start.from, sort: 'asc', size: '1000', ...(cursor ? { cursor } : {}) });
      const res = await target.search(req, raw);
      for (const ev of res.events) {
        if (printed >= max) break;
        print(io, ev, values.json === true);
        printed++;
      }
      if (res.nextCursor) cursor = res.nextCursor;
      else if (res.events.length > 0) {
        const last = res.events[res.events.length - 1]!;
        cursor = Buffer.from(JSON.stringify(['asc', Date.parse(last['@timestamp']), last.id])).toString('base64url');
      }
      if (res.events.length < 1000) await new Promise((r) => setTimeout(r, interval));
    }
  } finally {
    process.off('SIGINT', onSig);
    await target.close();
  }
  return 0;
}

const FORMATS = ['syslog', 'ndjson', 'evtx-json'] as const;

async function ingest(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, { ...TARGET, format: { type: 'string' }, parser: { type: 'string' }, timezone: { type: 'string' } });
  if (positionals.length !== 1) throw new UsageError('usage: xiangan ingest FILE [--format syslog|ndjson|evtx-json] [--parser NAME] [--data DIR | --api URL]');
  const format = (values.format ?? 'syslog') as (typeof FORMATS)[number];
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}`);
  // The parser of every line (as a tailed file's `format`), else detected per line.
  const parser = values.parser;
  if (parser !== undefined && parser !== 'auto' && !Object.hasOwn(PARSERS, parser)) throw new UsageError(`--parser must be auto or one of ${Object.keys(PARSERS).join(', ')}`);
  if (parser !== undefined && format !== 'syslog') throw new UsageError('--parser reads text lines: it goes with --format syslog');
  const file = resolve(io.cwd, positionals[0]!);
  const st = statSync(file);
  const fileKey = `${st.dev}:${st.ino}`;
  const timezone = values.timezone ?? 'Asia/Shanghai';
  const sourceId = 'cli-ingest';

  let write: (events: EcsEvent[]) => Promise<{ written: number; duplicates: number }>;
  let close: () => Promise<void>;
  if (values.api !== undefined) {
    if (values.data !== undefined) throw new UsageError('give --data or --api, not both');
    const base = values.api.replace(/\/+$/, '');
    const token = io.env[values['token-env'] ?? 'XIANGAN_TOKEN'];
    write = async (events) => {
      const res = await fetch(`${base}/api/v1/ingest`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: events.map((e) => JSON.stringify(e)).join('\n'),
      });
      const body = (await res.json()) as { accepted?: number; code?: string; message?: string };
      if (!res.ok) throw Object.assign(new Error(body.message ?? `HTTP ${res.status}`), { code: body.code });
      return { written: body.accepted ?? 0, duplicates: 0 };
    };
    close = async () => {};
  } else {
    const store = await openSqliteStore({ dir: resolve(io.cwd, values.data ?? './data') });
    write = (events) => store.write(events);
    close = () => store.close();
  }

  const metrics = newSourceMetrics(sourceId);
  const processor = createProcessor({ charset: 'auto', timezone, metrics, normalise: parser === undefined || parser === 'auto' ? normalise : createNormaliser({ format: parser as FormatName }) });
  const receivedAt = Date.now();
  let written = 0;
  let duplicates = 0;
  let lines = 0;
  let batch: EcsEvent[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const r = await write(batch);
    written += r.written;
    duplicates += r.duplicates;
    batch = [];
  };
  try {
    for (const { bytes, offset } of readLines(file)) {
      lines++;
      // Ids as the file tailer makes them (file identity + offset), so importing the same
      // file twice, or a file the tailer already read, stores each line once.
      const id = eventId({ kind: 'file', sourceId, fileKey, offset, bytes });
      const ctx: SourceContext = { sourceId, transport: 'file', receivedAt, timezone, eventId: id, file: { path: file, offset } };
      if (format === 'syslog') batch.push(processor(bytes, ctx));
      else {
        const text = Buffer.from(bytes).toString('utf8');
        if (text.trim() === '') continue;
        const [ev] = parseIngestBody(text, 'application/x-ndjson', { receivedAt, sourceId, maxEvents: 1, timezone, normaliseJson: (o) => normaliseJson(o, ctx) });
        batch.push(ev!);
      }
      if (batch.length >= 5000) await flush();
    }
    await flush();
  } finally {
    await close();
  }
  io.stderr.write(`${lines} lines, ${written} events stored, ${duplicates} already present, ${metrics.parseFailures} unparsed\n`);
  return 0;
}

/** Lines of a file with the byte offset of each, without loading it whole. */
function* readLines(path: string): Generator<{ bytes: Uint8Array; offset: number }> {
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.alloc(1 << 20);
    let carry = Buffer.alloc(0);
    let carryOffset = 0;
    let pos = 0;
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, pos);
      if (n === 0) break;
      pos += n;
      const buf = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : Buffer.from(chunk.subarray(0, n));
      let start = 0;
      for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, start)) {
        let end = i;
        if (end > start && buf[end - 1] === 13) end--;
        if (end > start) yield { bytes: new Uint8Array(buf.subarray(start, end)), offset: carryOffset + start };
        start = i + 1;
      }
      carryOffset += start;
      carry = buf.subarray(start);
    }
    if (carry.length) yield { bytes: new Uint8Array(carry), offset: carryOffset };
  } finally {
    closeSync(fd);
  }
}
