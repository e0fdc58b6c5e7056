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
import { JsonBytes, PackedReader, type PackedTexts } from '../buffer/json-bytes.js';
import type { RawBatch } from '../buffer/durable.js';
import { COLUMNS, columnValuesInto } from '../storage/sqlite-schema.js';
import { sm3ManyPackedInto } from '@xiangan/crypto';
import { SocError } from '../errors.js';
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
   * The documents, one per event in order, as UTF-8 bytes ({@link Preparer.prepare} makes them):
   * when present the store reads them from here, not from `batches`. A step posted to the store
   * worker carries only these (its `batches` empty, see `./store-worker.ts`); a step joined from
   * chunks has each chunk's, in order.
   */
  docs?: PackedTexts | readonly PackedTexts[];
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
  /** Where a step's documents are laid out (reused from step to step, or handed over with each). */
  private readonly text: JsonBytes;
  /** With hand-over: where each event's id, message and values go as it is made (see {@link CellWriter}). */
  private readonly cells: CellWriter | undefined;
  constructor(
    normaliser: NormaliserName | Normalise = 'vendor',
    private readonly now: () => number = Date.now,
    /** Compute integrity leaf hashes (`PreparedColumns.leafHashes`). */
    private readonly chain = false,
    /** Detection's stateless half, run on each event as it is made (./prematch.ts). */
    private readonly detect?: Prematcher,
    /** Each step's `docs` is the text's own buffer, handed over (the step goes to another thread), not a copy. */
    handOver = false,
  ) {
    this.text = new JsonBytes(handOver);
    this.cells = handOver ? new CellWriter() : undefined;
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
    const cols = newColumns(total, this.cells);
    const counters: PrepareCounters = {};
    const out: RawBatch[] = [];
    const leaves = this.chain ? new Uint8Array(total * 32) : undefined;
    this.detect?.begin(total);
    // A frames batch's documents are written as UTF-8 JSON straight into one reused off-heap
    // buffer (`../buffer/json-bytes.ts`, the bytes of JSON.stringify without its string) and
    // hashed from there, so no document string is left for the worker's small young generation
    // to copy and promote scavenge after scavenge. A `docs` batch's documents are already text:
    // they are hashed in chunks as they are read, and their bytes appended too. The step's
    // documents leave as one copy of those bytes (`docs`); a batch's text is only made if read.
    const text = this.text;
    text.beginStep(total);
    /** Where each document starts and ends in `text`. */
    let at = new Uint32Array(2 * total);
    let docs = 0;
    const record = (start: number, end: number): void => {
      if (2 * docs >= at.length) {
        // More events than the batches announced (a corrupt count): grow.
        const b = new Uint32Array(Math.max(16, 2 * at.length));
        b.set(at);
        at = b;
      }
      if (end > 0xffffffff) throw new RangeError('prepare: a step of more than 4 GiB of documents');
      at[2 * docs] = start;
      at[2 * docs + 1] = end;
      docs++;
    };
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
        // With chaining, each document is laid out after a 0x00 byte instead of the newline, so
        // `0x00 ‖ document` — the RFC 6962 leaf input (`leafHashDoc`) — lies back to back in the
        // buffer and the batch SM3 hashes them in place (no copy per document, no view); the
        // separators become newlines again before the text is read.
        const sep = leaves ? 0x00 : 0x0a;
        /** The batch's first byte: its first leaf's 0x00 with chaining. */
        const base = text.pos;
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
          record(start, text.pos);
          addEvent(cols, ev, f.ctx.receivedAt, this.now);
          // Detection keeps the text of the events that match: read back from the bytes on a hit.
          if (this.detect) this.detect.event(b.seq, ev, text, start, text.pos);
        });
        const count = starts.length;
        if (leaves && count > 0) {
          // Leaf k is bytes starts[k] - 1 … starts[k + 1] - 1 (the last one: to the end), from `base`.
          const ends = new Array<number>(count);
          for (let i = 0; i + 1 < count; i++) ends[i] = starts[i + 1]! - 1 - base;
          ends[count - 1] = text.pos - base;
          if ((hashed + count) * 32 > leaves.length) throw new RangeError('prepare: more events than the batches announced');
          sm3ManyPackedInto(text.bytes(base, text.pos), ends, leaves.subarray(32 * hashed));
          hashed += count;
          for (let i = 1; i < count; i++) text.put(starts[i]! - 1, 0x0a);
        }
        for (const [m, [pf, cl]] of before) {
          const c = (counters[m.sourceId] ??= { parseFailures: 0, charsetLossy: 0 });
          c.parseFailures += m.parseFailures - pf;
          c.charsetLossy += m.charsetLossy - cl;
        }
        out.push(new TextBatch(b.seq, b.appendedAt, count, first, text.pos));
      } else {
        for (const d of b.data.split('\n')) {
          const ev = JSON.parse(d) as EcsEvent;
          const start = text.pos;
          text.append(d);
          record(start, text.pos);
          text.byte(0x0a);
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
    text.endStep(docs);
    const packed = text.pack(at.length === 2 * docs ? at : at.slice(0, 2 * docs));
    // A frames batch's text, when read (in-process detection, documents for the main thread), is
    // read from the step's own copy of the bytes: `text` is reused by the next step.
    for (const o of out) if (o instanceof TextBatch) o.of = packed;
    const lastSeq = batches[batches.length - 1]!.seq;
    const oldestAppendedAt = batches[0]!.appendedAt;
    if (this.cells) {
      const f = finish(cols);
      return new CellStep(
        { count: f.count, ts: f.ts, ingested: f.ingested, ...(leaves ? { leafHashes: leaves } : {}), docs: packed, ...this.cells.finish(), lastSeq, oldestAppendedAt, counters },
        out,
      );
    }
    return { ...finish(cols), batches: out, docs: packed, ...(leaves ? { leafHashes: leaves } : {}), lastSeq, oldestAppendedAt, counters };
  }
}

/**
 * A frames batch after parsing: its documents are bytes `start … end` of the step's `docs`
 * (separated by newlines), read as text only if asked for.
 */
class TextBatch implements RawBatch {
  of: PackedTexts | undefined;
  constructor(
    readonly seq: number,
    readonly appendedAt: number,
    readonly count: number,
    private readonly start: number,
    private readonly end: number,
  ) {}

  get data(): string {
    const p = this.of!;
    return Buffer.from(p.bytes.buffer, p.bytes.byteOffset, p.bytes.byteLength).toString(p.ascii ? 'latin1' : 'utf8', this.start, this.end);
  }
}

/** A step's batches as plain objects with their text (for another thread: a getter is not cloned). */
export function plainBatches(batches: readonly RawBatch[]): RawBatch[] {
  return batches.map((b) => (b instanceof TextBatch ? { seq: b.seq, appendedAt: b.appendedAt, count: b.count, data: b.data } : b));
}

/** Documents read one at a time (an array of them is one too). */
export interface DocList {
  readonly length: number;
  at(i: number): string | undefined;
}

/** A reader of the documents of prepared columns: from `docs`, else split from `batches`. */
export function preparedDocs(cols: PreparedColumns): DocList {
  if (cols.docs) return new PackedReader(cols.docs);
  const docs: string[] = [];
  for (const b of cols.batches) {
    if (b.count === 0) continue;
    for (const d of b.data.split('\n')) docs.push(d);
  }
  return docs;
}

interface Building {
  /** When set, ids, messages and values are written here instead of into the arrays below. */
  cells: CellWriter | undefined;
  n: number;
  ids: string[];
  ts: Float64Array;
  ingested: Float64Array;
  values: Array<Array<string | number | null>>;
  messages: Array<string | null>;
}

function newColumns(capacity: number, cells?: CellWriter): Building {
  cells?.begin(capacity);
  return {
    cells,
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
  c.ts[i] = ts;
  c.ingested[i] = ingested;
  if (c.cells) {
    c.cells.event(ev);
    return;
  }
  c.ids.push(ev.id);
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

/**
 * A {@link PreparedStep} as the prepare worker posts it to the store worker: its strings (ids,
 * messages, value columns; the documents are `docs` already) laid out as bytes in one buffer
 * and its numbers in typed arrays, all transferred, so the structured clone is a few hundred
 * bytes instead of several MB (see {@link PackedTexts}: what is cloned of a message over
 * 100 KiB is allocated in old space). Without `batches`: the store worker does not read them.
 */
export interface PackedStep {
  count: number;
  ts: Float64Array;
  ingested: Float64Array;
  leafHashes?: Uint8Array;
  docs: PackedTexts;
  /**
   * Cell `i * (2 + columns) + c` is event `i`'s id (c = 0), message (c = 1) or value of column
   * c − 2 (row by row, as the events are made): text `cells.at[2k]…` ({@link CELL_TEXT}), the next
   * number of `nums` ({@link CELL_NUMBER}), null, or the next string of `odd` ({@link CELL_ODD}:
   * text that is not well-formed UTF-16, which bytes would not give back as it was), in cell order.
   */
  cells: PackedTexts;
  /** Value columns (so cells are `count × (2 + columns)`). */
  columns: number;
  kinds: Uint8Array;
  nums: Float64Array;
  odd: string[];
  lastSeq: number;
  oldestAppendedAt: number;
  counters: PrepareCounters;
}

const CELL_NULL = 0;
const CELL_TEXT = 1;
const CELL_NUMBER = 2;
const CELL_ODD = 3;

/** Cells per event: id, message, then the value columns. */
const ROW_CELLS = 2 + VALUE_COLUMNS.length;

/**
 * Slots of the string each value column remembers per step to write a repeat once (a power of
 * two): slot {@link slotOf} of a string holds the last one written there. Bounded so that a column
 * of unique values (source addresses) does not keep a step's worth of strings alive. A `Map` per
 * column found the same repeats over bench:ingest's mix, but its lookups hash every fresh string
 * (most values are cut from the line, or made: categories joined, address keys): ~70 % of the
 * cells' time in a profile of the worker, for a column like `source_ip` that never repeats.
 */
const SEEN_SLOTS = 256;

/** The slot of a non-empty `v` in a column's {@link SEEN_SLOTS} (its length and three of its code units). */
function slotOf(v: string): number {
  const n = v.length;
  return (n * 31 + v.charCodeAt(0) * 7 + v.charCodeAt(n >> 1) * 17 + v.charCodeAt(n - 1) * 131) & (SEEN_SLOTS - 1);
}

/**
 * Writes the cells of a {@link PackedStep} (ids, messages, value columns) as bytes while the step
 * is made. In the prepare worker each event's cells are written as soon as the event is, so no
 * column string outlives its event: kept in arrays until the step was packed, they were most of
 * what the worker's scavenges copied and promoted (the step's ~90k strings), and the packing
 * was a second pass over them.
 */
class CellWriter {
  private readonly text = new JsonBytes(true);
  private kinds = new Uint8Array(0);
  private at = new Uint32Array(0);
  private nums = new Float64Array(0);
  private nn = 0;
  private odd: string[] = [];
  private k = 0;
  /** Per value column, per slot ({@link slotOf}): the string last written there in this step, and its cell. */
  private readonly seen = VALUE_COLUMNS.map(() => new Array<string | undefined>(SEEN_SLOTS).fill(undefined));
  private readonly seenCell = VALUE_COLUMNS.map(() => new Uint32Array(SEEN_SLOTS));
  /** Per value column: strings put in its slots in this step. */
  private readonly seenKept = new Uint32Array(VALUE_COLUMNS.length);
  /** One event's values: every entry of `rows` is this array, so `columnValuesInto` appends them in column order. */
  private readonly row: Array<string | number | null> = [];
  private readonly rows: Array<Array<string | number | null>> = VALUE_COLUMNS.map(() => this.row);

  /** Starts a step of (about) `events` events. */
  begin(events: number): void {
    const n = Math.max(1, events) * ROW_CELLS;
    this.kinds = new Uint8Array(n);
    this.at = new Uint32Array(2 * n);
    this.nums = new Float64Array(Math.max(16, 4 * events));
    this.nn = 0;
    this.odd = [];
    this.k = 0;
    // (An event whose values threw half-way through left them here.)
    this.row.length = 0;
    this.forgetSeen();
    this.text.beginStep(events);
  }

  /** The cells of one event. */
  event(ev: EcsEvent): void {
    this.cell(ev.id, -1);
    this.cell(typeof ev.message === 'string' ? ev.message : null, -1);
    const row = this.row;
    columnValuesInto(ev, this.rows);
    for (let c = 0; c < row.length; c++) this.cell(row[c], c);
    row.length = 0;
  }

  /** The next cell: of value column `column` (its repeats written once), or an id or message (−1). */
  cell(v: string | number | null | undefined, column: number): void {
    const seen = column >= 0 ? this.seen[column] : undefined;
    const k = this.k++;
    if (k >= this.kinds.length) this.grow();
    const at = this.at;
    if (typeof v === 'string') {
      // (ES2024, in Node 20; not yet in this project's TypeScript lib.)
      if (!(v as string & { isWellFormed(): boolean }).isWellFormed()) {
        this.kinds[k] = CELL_ODD;
        this.odd.push(v);
        return;
      }
      this.kinds[k] = CELL_TEXT;
      const text = this.text;
      if (v.length === 0) {
        at[2 * k] = at[2 * k + 1] = text.pos;
        return;
      }
      const slot = seen !== undefined ? slotOf(v) : 0;
      if (seen !== undefined && seen[slot] === v) {
        const before = this.seenCell[column]![slot]!;
        at[2 * k] = at[2 * before]!;
        at[2 * k + 1] = at[2 * before + 1]!;
        return;
      }
      at[2 * k] = text.pos;
      text.append(v);
      if (text.pos > 0xffffffff) throw new RangeError('StepPacker: a step of more than 4 GiB of text');
      at[2 * k + 1] = text.pos;
      // At most SEEN_SLOTS strings per column and step are kept: replaced at will, a column's
      // unique values (source addresses) would each stay until another lands in their slot, long
      // enough for the scavenges to copy and promote them (as the Map's bound avoided).
      if (seen !== undefined && this.seenKept[column]! < SEEN_SLOTS) {
        this.seenKept[column]!++;
        seen[slot] = v;
        this.seenCell[column]![slot] = k;
      }
    } else if (typeof v === 'number') {
      this.kinds[k] = CELL_NUMBER;
      if (this.nn === this.nums.length) {
        const b = new Float64Array(2 * this.nums.length);
        b.set(this.nums);
        this.nums = b;
      }
      this.nums[this.nn++] = v;
    }
    // null (and undefined, which a column never holds) stays CELL_NULL.
  }

  /** More events than `begin` was told (a corrupt batch count): room for twice as many cells. */
  private grow(): void {
    const kinds = new Uint8Array(2 * this.kinds.length);
    kinds.set(this.kinds);
    this.kinds = kinds;
    const at = new Uint32Array(2 * this.at.length);
    at.set(this.at);
    this.at = at;
  }

  /** The step's cells (their buffers handed over: `begin` makes new ones). */
  finish(): Pick<PackedStep, 'cells' | 'columns' | 'kinds' | 'nums' | 'odd'> {
    const k = this.k;
    if (k % ROW_CELLS !== 0) throw new SocError('SOC_ERR_STORE_WRITE', 'prepare: a step ended inside an event');
    this.text.endStep(k / ROW_CELLS);
    const out = {
      cells: this.text.pack(this.at.length === 2 * k ? this.at : this.at.slice(0, 2 * k)),
      columns: VALUE_COLUMNS.length,
      kinds: this.kinds.length === k ? this.kinds : this.kinds.slice(0, k),
      nums: this.nums.slice(0, this.nn),
      odd: this.odd,
    };
    this.forgetSeen();
    this.odd = [];
    return out;
  }

  /** Empties every column's slots: no string outlives its step here. */
  private forgetSeen(): void {
    for (const m of this.seen) m.fill(undefined);
    this.seenKept.fill(0);
  }
}

/**
 * A step a hand-over {@link Preparer} made: already packed (its cells were written as its events
 * were made). `ids`, `messages` and `values` are read back from the cells when asked for (tests,
 * a caller that does not post the step); {@link StepPacker.pack} hands over the packed form.
 */
class CellStep implements PreparedStep {
  private unpacked: PreparedStep | undefined;
  constructor(
    readonly packed: PackedStep,
    readonly batches: RawBatch[],
  ) {}

  private columns(): PreparedStep {
    return (this.unpacked ??= unpackStep(this.packed));
  }

  get count(): number {
    return this.packed.count;
  }
  get ts(): Float64Array {
    return this.packed.ts;
  }
  get ingested(): Float64Array {
    return this.packed.ingested;
  }
  get docs(): PackedTexts {
    return this.packed.docs;
  }
  get leafHashes(): Uint8Array | undefined {
    return this.packed.leafHashes;
  }
  get lastSeq(): number {
    return this.packed.lastSeq;
  }
  get oldestAppendedAt(): number {
    return this.packed.oldestAppendedAt;
  }
  get counters(): PrepareCounters {
    return this.packed.counters;
  }
  get ids(): string[] {
    return this.columns().ids;
  }
  get messages(): Array<string | null> {
    return this.columns().messages;
  }
  get values(): Array<Array<string | number | null>> {
    return this.columns().values;
  }
}

/** Lays out steps as {@link PackedStep}s (their texts in a buffer handed over with each). */
export class StepPacker {
  private readonly cells = new CellWriter();

  /**
   * `step` as a {@link PackedStep}; `step.docs` is required (what {@link Preparer.prepare} makes).
   * A step of a hand-over Preparer is packed already: its packed form is returned (so its
   * columns are read from it only before it is transferred).
   */
  pack(step: PreparedStep): PackedStep {
    if (step instanceof CellStep) return step.packed;
    if (!step.docs || Array.isArray(step.docs)) throw new TypeError('StepPacker: the step needs its documents packed in one buffer');
    const n = step.count;
    const w = this.cells;
    w.begin(n);
    if (step.values.length !== VALUE_COLUMNS.length) throw new TypeError('StepPacker: the step needs a value per column');
    for (let i = 0; i < n; i++) {
      w.cell(step.ids[i], -1);
      w.cell(step.messages[i], -1);
      for (let c = 0; c < step.values.length; c++) w.cell(step.values[c]![i], c);
    }
    return {
      count: n,
      ts: step.ts,
      ingested: step.ingested,
      ...(step.leafHashes ? { leafHashes: step.leafHashes } : {}),
      docs: step.docs as PackedTexts,
      ...w.finish(),
      lastSeq: step.lastSeq,
      oldestAppendedAt: step.oldestAppendedAt,
      counters: step.counters,
    };
  }
}

/** The buffers of a {@link PackedStep}, to transfer with it. */
export function packedTransfer(p: PackedStep): ArrayBuffer[] {
  const out = [p.ts.buffer, p.ingested.buffer, p.docs.bytes.buffer, p.docs.at.buffer, p.cells.bytes.buffer, p.cells.at.buffer, p.kinds.buffer, p.nums.buffer] as ArrayBuffer[];
  if (p.leafHashes) out.push(p.leafHashes.buffer as ArrayBuffer);
  return out;
}

/**
 * A {@link PackedStep} back as the columns the store writes: ids, messages and values as arrays
 * (their strings made here, young; a repeated value once per column), the documents left as bytes
 * (read one by one as rows are inserted), no `batches`.
 */
export function unpackStep(p: PackedStep): PreparedStep {
  const n = p.count;
  const cols = 2 + p.columns;
  if (p.kinds.length !== n * cols) throw new RangeError('unpackStep: cells do not match the events and columns');
  const r = new PackedReader(p.cells);
  let o = 0;
  let q = 0;
  const read = (k: number, made: Map<number, string> | undefined): string | number | null => {
    switch (p.kinds[k]) {
      case CELL_TEXT: {
        const start = p.cells.at[2 * k]!;
        // '' takes no bytes: its start is the next value's, so it is never looked up by it.
        if (start === p.cells.at[2 * k + 1]) return '';
        if (!made) return r.at(k)!;
        let s = made.get(start);
        if (s === undefined) made.set(start, (s = r.at(k)!));
        return s;
      }
      case CELL_NUMBER:
        return p.nums[q++]!;
      case CELL_ODD:
        return p.odd[o++]!;
      default:
        return null;
    }
  };
  const ids = new Array<string>(n);
  const messages = new Array<string | null>(n);
  const values: Array<Array<string | number | null>> = [];
  const made: Array<Map<number, string>> = [];
  for (let c = 2; c < cols; c++) {
    values.push(new Array<string | number | null>(n));
    made.push(new Map<number, string>());
  }
  // In cell order: `nums` and `odd` are taken in it.
  for (let i = 0, k = 0; i < n; i++) {
    ids[i] = read(k++, undefined) as string;
    messages[i] = read(k++, undefined) as string | null;
    for (let c = 0; c < cols - 2; c++) values[c]![i] = read(k++, made[c]);
  }
  return {
    count: n,
    ids,
    ts: p.ts,
    ingested: p.ingested,
    values,
    messages,
    batches: [],
    docs: p.docs,
    ...(p.leafHashes ? { leafHashes: p.leafHashes } : {}),
    lastSeq: p.lastSeq,
    oldestAppendedAt: p.oldestAppendedAt,
    counters: p.counters,
  };
}

/** The value columns of {@link PreparedColumns.values}, in order. */
export const PREPARED_VALUE_COLUMNS = VALUE_COLUMNS;
