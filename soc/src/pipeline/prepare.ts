/**
 * The "prepare" stage between the durable buffer and the store: buffered batches → the column
 * values the store inserts. Raw network frames (`../buffer/raw.ts`) are parsed and normalised
 * here (collectors' processor, the same one a source would run), events already normalised (HTTP
 * ingest, file tailing) are decoded from their documents. Every event is serialised once, and
 * that text is both the stored document (and what the integrity chain hashes) and what detection
 * reads, so nothing downstream parses or serialises an event again.
 *
 * Runs in the pipeline's prepare worker (`./store-worker.ts`), or in the calling thread for the
 * in-process writer; it is pure apart from the per-source counters it reports.
 */
import {
  baselineNormalise,
  createProcessor,
  isoMs,
  newSourceMetrics,
  normalise as vendorNormalise,
  type CharsetName,
  type EcsEvent,
  type Normalise,
  type Processor,
  type SourceMetrics,
} from '@xiangan/collectors';
import { decodeFrames } from '../buffer/raw.js';
import { JsonBytes } from '../buffer/json-bytes.js';
import type { RawBatch } from '../buffer/durable.js';
import { COLUMNS, columnValuesInto } from '../storage/sqlite-schema.js';
import { sm3ManyPackedInto } from '@xiangan/crypto';
import { leafHashDocsInto } from '../integrity/merkle.js';
import type { Prematcher } from './prematch.js';

/** Which normaliser parses raw frames: collectors' vendor-aware one or the syslog baseline. */
export type NormaliserName = 'vendor' | 'baseline';

/**
 * A batch of events ready for the store, column by column (cheap to pass between threads: a few
 * arrays instead of an object per event). `batches` are the buffer batches it came from with
 * their events as documents, one per line (`RawBatch` of kind `docs`): the store splits them, and
 * detection reads them after the commit.
 */
export interface PreparedColumns {
  count: number;
  ids: string[];
  /** `@timestamp` in ms (receipt time, then the clock, when it does not parse). */
  ts: Float64Array;
  /** Receipt time in ms (`event.ingested`), NaN when unknown. */
  ingested: Float64Array;
  /** Per entry of `COLUMNS` except the time column, one value per event. */
  values: Array<Array<string | number | null>>;
  messages: Array<string | null>;
  batches: RawBatch[];
  /**
   * Integrity leaf hashes (`leafHashText` of each document, 32 bytes each, in order), computed
   * here when chaining is on so the store thread only writes them.
   */
  leafHashes?: Uint8Array;
}

/** Parse counters of raw frames by source id (added to the sources' metrics by the runtime). */
export type PrepareCounters = Record<string, { parseFailures: number; charsetLossy: number }>;

/** What {@link Preparer.prepare} returns. */
export interface PreparedStep extends PreparedColumns {
  lastSeq: number;
  oldestAppendedAt: number;
  counters: PrepareCounters;
}

const VALUE_COLUMNS = COLUMNS.filter((c) => c.kind !== 'time');

/** Documents per chunk of a step's leaf hashing (see {@link Preparer.prepare}). */
const DOC_CHUNK = 256;

/** Turns buffered batches into {@link PreparedStep}s; keeps one processor per source. */
export class Preparer {
  private readonly processors = new Map<string, { proc: Processor; metrics: SourceMetrics }>();
  private readonly normalise: Normalise;
  /** Where a frames batch's documents are laid out (reused from batch to batch). */
  private readonly text = new JsonBytes();
  constructor(
    normaliser: NormaliserName | Normalise = 'vendor',
    private readonly now: () => number = Date.now,
    /** Compute integrity leaf hashes (`PreparedColumns.leafHashes`). */
    private readonly chain = false,
    /** Detection's stateless half, run on each event as it is made (./prematch.ts). */
    private readonly detect?: Prematcher,
  ) {
    this.normalise = typeof normaliser === 'function' ? normaliser : normaliser === 'vendor' ? vendorNormalise : baselineNormalise;
  }

  private processor(sourceId: string, charset: string, timezone: string): { proc: Processor; metrics: SourceMetrics } {
    const key = `${sourceId}\u0000${charset}\u0000${timezone}`;
    let p = this.processors.get(key);
    if (!p) {
      const metrics = newSourceMetrics(sourceId);
      p = { proc: createProcessor({ charset: charset as CharsetName, timezone, metrics, normalise: this.normalise }), metrics };
      this.processors.set(key, p);
    }
    return p;
  }

  /** Prepare batches (in buffer order); `undefined` for none. */
  prepare(batches: readonly RawBatch[]): PreparedStep | undefined {
    if (batches.length === 0) return undefined;
    let total = 0;
    for (const b of batches) total += b.count;
    const cols = newColumns(total);
    const counters: PrepareCounters = {};
    const out: RawBatch[] = [];
    const leaves = this.chain ? new Uint8Array(total * 32) : undefined;
    this.detect?.begin();
    // A frames batch's documents are written as UTF-8 JSON straight into one reused off-heap
    // buffer (`../buffer/json-bytes.ts`, the bytes of JSON.stringify without its string) and
    // hashed from there, so no document string is left for the worker's small young generation
    // to copy and promote scavenge after scavenge; the batch's text is read out of the buffer
    // once at its end. A `docs` batch's documents are already text: they are hashed in chunks as
    // they are read.
    let pending: Array<string | Uint8Array> = [];
    let hashed = 0;
    const hashPending = (): void => {
      if (leaves && pending.length > 0) {
        // Grows only on a corrupt batch count.
        if ((hashed + pending.length) * 32 > leaves.length) throw new RangeError('prepare: more events than the batches announced');
        leafHashDocsInto(pending, leaves.subarray(32 * hashed));
      }
      hashed += pending.length;
      pending = [];
    };
    for (const b of batches) {
      if (b.kind === 'frames') {
        const text = this.text;
        text.reset();
        // With chaining, each document is laid out after a 0x00 byte instead of the newline, so
        // `0x00 ‖ document` — the RFC 6962 leaf input (`leafHashDoc`) — lies back to back in the
        // buffer and the batch SM3 hashes them in place (no copy per document, no view); the
        // separators become newlines again before the text is read.
        const sep = leaves ? 0x00 : 0x0a;
        if (leaves) text.byte(0x00);
        const first = text.pos;
        /** Where each document starts in `text` (the one before it ends a separator byte earlier). */
        const starts: number[] = [];
        // The processor of each receive context of the row, looked up once per context.
        const procs: Array<{ proc: Processor; metrics: SourceMetrics }> = [];
        const before = new Map<SourceMetrics, [number, number]>();
        decodeFrames(b.frames!, b.meta!, (f, context) => {
          let p = procs[context];
          if (p === undefined) {
            p = procs[context] = this.processor(f.ctx.sourceId, f.charset, f.ctx.timezone);
            if (!before.has(p.metrics)) before.set(p.metrics, [p.metrics.parseFailures, p.metrics.charsetLossy]);
          }
          const ev = p.proc(f.bytes, f.ctx);
          if (starts.length > 0) text.byte(sep);
          const start = text.pos;
          starts.push(start);
          text.json(ev);
          addEvent(cols, ev, f.ctx.receivedAt, this.now);
          // Detection keeps the text of the events that match: read back from the bytes on a hit.
          if (this.detect) this.detect.event(b.seq, ev, text, start, text.pos);
        });
        const count = starts.length;
        if (leaves && count > 0) {
          // Leaf k is bytes starts[k] - 1 … starts[k + 1] - 1 (the last one: to the end).
          const ends = new Array<number>(count);
          for (let i = 0; i + 1 < count; i++) ends[i] = starts[i + 1]! - 1;
          ends[count - 1] = text.pos;
          if ((hashed + count) * 32 > leaves.length) throw new RangeError('prepare: more events than the batches announced');
          sm3ManyPackedInto(text.bytes(0, text.pos), ends, leaves.subarray(32 * hashed));
          hashed += count;
          for (let i = 1; i < count; i++) text.put(starts[i]! - 1, 0x0a);
        }
        for (const [m, [pf, cl]] of before) {
          const c = (counters[m.sourceId] ??= { parseFailures: 0, charsetLossy: 0 });
          c.parseFailures += m.parseFailures - pf;
          c.charsetLossy += m.charsetLossy - cl;
        }
        out.push({ seq: b.seq, appendedAt: b.appendedAt, count, data: text.text(first, text.pos) });
      } else {
        for (const d of b.data.split('\n')) {
          const ev = JSON.parse(d) as EcsEvent;
          addEvent(cols, ev, isoMs(String(ev?.event?.ingested)), this.now);
          this.detect?.event(b.seq, ev, d);
          if (leaves) {
            pending.push(d);
            if (pending.length >= DOC_CHUNK) hashPending();
          }
        }
        hashPending();
        out.push(b);
      }
    }
    return { ...finish(cols), batches: out, ...(leaves ? { leafHashes: leaves } : {}), lastSeq: batches[batches.length - 1]!.seq, oldestAppendedAt: batches[0]!.appendedAt, counters };
  }
}

interface Building {
  n: number;
  ids: string[];
  ts: Float64Array;
  ingested: Float64Array;
  values: Array<Array<string | number | null>>;
  messages: Array<string | null>;
}

function newColumns(capacity: number): Building {
  return {
    n: 0,
    ids: [],
    ts: new Float64Array(capacity),
    ingested: new Float64Array(capacity),
    values: VALUE_COLUMNS.map(() => []),
    messages: [],
  };
}

function addEvent(c: Building, ev: EcsEvent, ingested: number, now: () => number): void {
  if (!ev || typeof ev.id !== 'string' || ev.id === '') throw new TypeError('write: every event needs a string id');
  // isoMs is Date.parse (which reads its argument as a string) with a fast path.
  let ts = isoMs(String(ev['@timestamp']));
  if (!Number.isFinite(ts)) ts = isoMs(String(ev.event?.ingested)) || now();
  const i = c.n++;
  if (i >= c.ts.length) {
    // More events than the batches announced (a corrupt count): grow.
    const grow = (a: Float64Array) => {
      const b = new Float64Array(Math.max(16, a.length * 2));
      b.set(a);
      return b;
    };
    c.ts = grow(c.ts);
    c.ingested = grow(c.ingested);
  }
  c.ids.push(ev.id);
  c.ts[i] = ts;
  c.ingested[i] = ingested;
  // The value columns in VALUE_COLUMNS order; the time column is kept in `ts`.
  columnValuesInto(ev, c.values);
  c.messages.push(typeof ev.message === 'string' ? ev.message : null);
}

function finish(c: Building): PreparedColumns & { batches: RawBatch[] } {
  return {
    count: c.n,
    ids: c.ids,
    ts: c.ts.length === c.n ? c.ts : c.ts.slice(0, c.n),
    ingested: c.ingested.length === c.n ? c.ingested : c.ingested.slice(0, c.n),
    values: c.values,
    messages: c.messages,
    batches: [],
  };
}

/**
 * Columns of events given as objects (the store's `write` API and tests), with their documents
 * when already serialised.
 */
export function eventColumns(events: readonly EcsEvent[], docs: readonly string[] | undefined, now: () => number = Date.now): PreparedColumns {
  const c = newColumns(events.length);
  for (const ev of events) addEvent(c, ev, isoMs(String(ev?.event?.ingested)), now);
  const text = docs ? docs : events.map((e) => JSON.stringify(e));
  return { ...finish(c), batches: [{ seq: 0, appendedAt: 0, count: text.length, data: text.join('\n') }] };
}

/** The value columns of {@link PreparedColumns.values}, in order. */
export const PREPARED_VALUE_COLUMNS = VALUE_COLUMNS;
