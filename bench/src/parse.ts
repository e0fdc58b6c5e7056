/**
 * `npm run bench:parse` (issue 3, "Speed": ≥ 200,000 lines/s parse-only per core): the pure
 * middle of the pipeline on one thread — charset decoding, RFC 3164/5424 parsing, the vendor
 * parsers, ECS normalisation and the deterministic SM3 event id (batch SM3 per block of lines,
 * as the prepare worker derives ids per buffered row) — over
 *
 * - the ingest mix (`syslog-mix.ts`, the lines `bench:ingest` sends: sshd, sudo, iptables,
 *   nginx, Cisco ASA, FortiGate, Huawei USG), exactly as `bench:ingest` measures parse-only;
 * - every parser: the real-shaped samples of collectors/test/fixtures/parsers (Linux auth,
 *   auditd, netfilter, web, Cisco, Huawei, H3C, FortiGate, Hillstone, Sangfor; the Chinese
 *   ones also as GB18030 bytes) and the Windows events (JSON, Winlogbeat and evtx_dump layouts);
 * - the prepare worker's whole stage over the ingest mix (`Preparer.prepare` on raw-frame rows:
 *   ids, parse, normalise, the JSON document, the store columns).
 *
 * Rates are lines per CPU-second of this process (`process.cpuUsage`): on a shared machine the
 * wall clock also counts time spent waiting for a core; wall-clock rates are reported beside
 * them, with the load average. Best of three rounds after a warm-up. Writes bench/results/parse.json.
 *
 * Environment: `XIANGAN_BENCH_LINES` (default 300,000) lines per round (set, the run writes
 * `parse-short.json` instead: `resultsName`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import iconv from 'iconv-lite';
import {
  createProcessor,
  eventId,
  eventIds,
  newSourceMetrics,
  normalise,
  normaliseJson,
  parseSyslog,
  type EventIdInput,
  type SourceContext,
} from '@xiangan/collectors';
import { encodeFrames, Preparer, RawFrame } from '@xiangan/soc';
import { benchSetting, formatTable, fmtOps, fmtRatio, resultsName, writeResults } from './harness.js';
import { makeLine } from './syslog-mix.js';

const LINES_SET = benchSetting('XIANGAN_BENCH_LINES');
const N = Number(LINES_SET ?? 300_000);
const TARGET = 200_000;
const RECEIVED_AT = Date.UTC(2026, 10, 28, 2, 30);
const FIXTURES = fileURLToPath(new URL('../../../collectors/test/fixtures/parsers/', import.meta.url));

/** One input: syslog bytes, or a JSON document (HTTP ingest of Windows events). */
type Input = { bytes: Buffer } | { json: unknown; bytes: Buffer };

/** A rate measured over one round. */
interface Rate {
  cpu: number;
  wall: number;
}

/** Runs `step` over the inputs `n` times; lines per CPU-second and per wall-second. */
function round(inputs: Input[], n: number, step: (input: Input, i: number) => unknown): Rate {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let sink = 0;
  for (let i = 0; i < n; i++) if (step(inputs[i % inputs.length]!, i) !== undefined) sink++;
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  if (sink < 0) throw new Error('unreachable');
  return { cpu: n / ((c.user + c.system) / 1e6), wall: (n * 1000) / wallMs };
}

/** Best of three rounds (the least disturbed one on a shared machine), after a warm-up. */
function best(inputs: Input[], step: (input: Input, i: number) => unknown): Rate {
  round(inputs, Math.min(N, 50_000), step);
  const rs = [round(inputs, N, step), round(inputs, N, step), round(inputs, N, step)];
  return { cpu: Math.max(...rs.map((r) => r.cpu)), wall: Math.max(...rs.map((r) => r.wall)) };
}

/**
 * The context a TCP source passes (an object literal: a context copied with a spread,
 * `{ ...base, eventId }`, was measured to make normalisation about twice as slow).
 */
function tcpCtx(eventId: string): SourceContext {
  return { sourceId: 'bench', transport: 'tcp', peer: { address: '127.0.0.1', port: 40000 }, receivedAt: RECEIVED_AT, timezone: 'Asia/Shanghai', eventId };
}

/** Ids are derived per block of lines with the batch SM3, as the prepare worker derives them per buffered row. */
const ID_BLOCK = 1000;

const idInput = (input: Input, i: number): EventIdInput => ({ kind: 'network', sourceId: 'bench', peerAddress: '127.0.0.1', peerPort: 40000, receivedAt: RECEIVED_AT, connection: 'c1', seq: i, bytes: input.bytes });

/** The ids of lines i … i + ID_BLOCK - 1 (`eventIds`), computed when line i is reached. */
function blockIds(inputs: Input[]): (i: number) => string {
  let ids: string[] = [];
  let first = 0;
  return (i) => {
    if (i % ID_BLOCK === 0) {
      first = i;
      ids = eventIds(Array.from({ length: ID_BLOCK }, (_, k) => idInput(inputs[(i + k) % inputs.length]!, i + k)));
    }
    return ids[i - first]!;
  };
}

/** The processor of a TCP source with the vendor-aware normaliser, as the server builds it; ids in blocks. */
function pipelineStep(inputs: Input[]): (input: Input, i: number) => unknown {
  const proc = createProcessor({ charset: 'auto', timezone: 'Asia/Shanghai', metrics: newSourceMetrics('bench'), normalise });
  const idOf = blockIds(inputs);
  return (input, i) => {
    const id = idOf(i);
    if ('json' in input) return normaliseJson(input.json, { sourceId: 'bench', transport: 'http', receivedAt: RECEIVED_AT, timezone: 'Asia/Shanghai', eventId: id });
    return proc(input.bytes, tcpCtx(id));
  };
}

const parseStep = (input: Input): unknown => parseSyslog(input.bytes, { receivedAt: RECEIVED_AT, timezone: 'Asia/Shanghai', charset: 'auto' });
const normaliseStep = (input: Input): unknown => normalise(parseSyslog(input.bytes, { receivedAt: RECEIVED_AT, timezone: 'Asia/Shanghai', charset: 'auto' }), tcpCtx('x'));
const idStep = (input: Input, i: number): unknown => eventId(idInput(input, i));
const blockIdStep = (inputs: Input[]): ((input: Input, i: number) => unknown) => {
  const idOf = blockIds(inputs);
  return (_input, i) => idOf(i);
};

/** The ingest mix: 20,000 distinct lines, as `bench:ingest` measures parse-only. */
const ingestMix: Input[] = Array.from({ length: 20_000 }, (_, i) => ({ bytes: Buffer.from(makeLine(i)) }));

/** Share of each fixture family (network devices dominate a SOC's syslog volume). */
const WEIGHTS: Record<string, number> = {
  'linux.json': 20,
  'auditd.json': 5,
  'netfilter.json': 10,
  'web.json': 15,
  'cisco.json': 10,
  'huawei.json': 10,
  'h3c.json': 8,
  'fortigate.json': 10,
  'hillstone.json': 6,
  'sangfor.json': 6,
  'windows.json': 5,
};
const everyParser: Input[] = [];
for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort()) {
  const cases = (JSON.parse(readFileSync(FIXTURES + file, 'utf8')) as { cases: Array<{ line?: string; json?: unknown }> }).cases;
  const inputs: Input[] = [];
  for (const c of cases) {
    if (c.line !== undefined) {
      inputs.push({ bytes: Buffer.from(c.line, 'utf8') });
      // Chinese devices often send GB18030: the same line in those bytes.
      if (/[\u4e00-\u9fff]/.test(c.line)) inputs.push({ bytes: iconv.encode(c.line, 'gb18030') });
    } else if (c.json !== undefined) inputs.push({ json: c.json, bytes: Buffer.from(JSON.stringify(c.json)) });
  }
  const w = WEIGHTS[file] ?? 0;
  for (let i = 0; inputs.length > 0 && i < w * 10; i++) everyParser.push(inputs[i % inputs.length]!);
}
const syslogOnly = everyParser.filter((x) => !('json' in x));

/** Events per buffered row in the prepare rows below (the consumer's default step). */
const PREPARE_STEP = 5_000;

/**
 * The prepare worker's whole stage (`Preparer.prepare`, chaining off: what bench:ingest's
 * pipeline-alone run does per event) over the ingest mix as a TCP source started with deferred ids
 * buffers it: raw frames rows → ids (batch SM3), parse, normalise, the JSON document as bytes and
 * the store columns. Events per CPU-second, best of three rounds of `N` events after a warm-up.
 */
function prepareRate(): Rate {
  const peer = { address: '127.0.0.1', port: 40000 };
  const rows: Parameters<Preparer['prepare']>[0][number][] = [];
  for (let s = 0; s < ingestMix.length; s += PREPARE_STEP) {
    const frames: RawFrame[] = [];
    for (let i = s; i < Math.min(ingestMix.length, s + PREPARE_STEP); i++) {
      frames.push(new RawFrame(ingestMix[i]!.bytes, { sourceId: 'bench', transport: 'tcp', peer, receivedAt: RECEIVED_AT + Math.floor(i / 50), timezone: 'Asia/Shanghai', eventId: '', connection: 'c1' }, 'auto', i));
    }
    const { data, meta } = encodeFrames(frames);
    rows.push({ seq: rows.length + 1, appendedAt: RECEIVED_AT, count: frames.length, data: '', kind: 'frames' as const, frames: data, meta });
  }
  const preparer = new Preparer('vendor', () => RECEIVED_AT, false);
  const prepareRound = (n: number): Rate => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let done = 0;
    for (let k = 0; done < n; k++) done += preparer.prepare([rows[k % rows.length]!])!.count;
    const wallMs = performance.now() - t0;
    const c = process.cpuUsage(c0);
    return { cpu: done / ((c.user + c.system) / 1e6), wall: (done * 1000) / wallMs };
  };
  prepareRound(Math.min(N, 50_000));
  const rs = [prepareRound(N), prepareRound(N), prepareRound(N)];
  return { cpu: Math.max(...rs.map((r) => r.cpu)), wall: Math.max(...rs.map((r) => r.wall)) };
}

const load0 = loadavg()[0]!;
const ingest = {
  full: best(ingestMix, pipelineStep(ingestMix)),
  parse: best(ingestMix, parseStep),
  parseNormalise: best(ingestMix, normaliseStep),
  eventId: best(ingestMix, idStep),
  eventIdBatch: best(ingestMix, blockIdStep(ingestMix)),
  prepare: prepareRate(),
};
const fixtures = {
  full: best(everyParser, pipelineStep(everyParser)),
  parse: best(syslogOnly, parseStep),
  parseNormalise: best(syslogOnly, normaliseStep),
};
const load1 = loadavg()[0]!;

const row = (name: string, r: Rate, target?: number): string[] => [name, fmtOps(r.cpu), fmtOps(r.wall), target ? fmtRatio(r.cpu, target) : ''];
process.stdout.write(
  formatTable(
    ['lines/s, one core', 'per CPU-second', 'wall clock', 'of target 200k'],
    [
      row('ingest mix: decode + parse + normalise + SM3 id', ingest.full, TARGET),
      row('ingest mix: decode + parse (RFC 3164/5424)', ingest.parse),
      row('ingest mix: decode + parse + normalise', ingest.parseNormalise),
      row('ingest mix: SM3 event id alone, one by one', ingest.eventId),
      row(`ingest mix: SM3 event id alone, batches of ${ID_BLOCK}`, ingest.eventIdBatch),
      row(`ingest mix: prepare stage (rows of ${PREPARE_STEP.toLocaleString('en')}: ids, parse, normalise, document, columns)`, ingest.prepare),
      row('every parser: decode + parse + normalise + SM3 id', fixtures.full, TARGET),
      row('every parser (syslog): decode + parse', fixtures.parse),
      row('every parser (syslog): decode + parse + normalise', fixtures.parseNormalise),
    ],
  ),
);
process.stdout.write(`load average ${load0.toFixed(1)} → ${load1.toFixed(1)} on ${LINES_SET ? N : 'default'} lines per round\n`);
const rounded = (r: Rate): Rate => ({ cpu: Math.round(r.cpu), wall: Math.round(r.wall) });
const path = writeResults(resultsName('parse'), {
  linesPerRound: N,
  target: { parseLinesPerSecPerCore: TARGET },
  parseLinesPerSecPerCore: Math.round(ingest.full.cpu),
  ingestMix: { distinctLines: ingestMix.length, full: rounded(ingest.full), parse: rounded(ingest.parse), parseNormalise: rounded(ingest.parseNormalise), eventId: rounded(ingest.eventId), eventIdBatch: rounded(ingest.eventIdBatch), prepare: rounded(ingest.prepare) },
  everyParser: { inputs: everyParser.length, full: rounded(fixtures.full), parse: rounded(fixtures.parse), parseNormalise: rounded(fixtures.parseNormalise) },
  loadAverage: { start: load0, end: load1 },
  notes:
    'One thread. `full` = createProcessor (charset auto, Asia/Shanghai, vendor-aware normalise) + the SM3 event id, derived per block of 1,000 lines with eventIds (batch SM3) as the prepare worker derives them per buffered row; `prepare` = the whole stage of the prepare worker (Preparer.prepare over raw-frame rows of 5,000 with deferred ids, chaining off: ids, parse, normalise, JSON document bytes, store columns), events per CPU-second (1e6 / rate = CPU-µs per event); Windows events through normaliseJson. Rates: lines per CPU-second of this process (cpu) and per wall-second (wall), best of three rounds. parseLinesPerSecPerCore is the ingest mix `full` rate per CPU-second.',
});
process.stdout.write(`results: ${path}\n`);
