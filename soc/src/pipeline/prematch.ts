/**
 * Detection's stateless half in the prepare worker. The main thread used to receive every stored
 * document and `JSON.parse` it only to run it through the rule engine, though most events match
 * nothing: that cost (and the documents' memory) was most of detection's share of the main
 * thread. Here the prepare worker runs `RuleEngine.prematch` (logsource walk, index probes, the
 * test of each candidate detection) on the live event objects it has just parsed, and the main
 * thread gets, per step, only the events that matched something (their stored document and the
 * matched detection positions) plus, per buffer batch, its event count and newest `@timestamp`
 * (correlation windows close on event time, so time must advance with every event). The main
 * thread's engine then applies the matches (`RuleEngine.applyPrematched`: match records,
 * correlation feeding) and the detector records alerts exactly as before, so the exactly-once
 * alert protocol (sequence saved with the alerts, replay skip, checkpointed windows,
 * acknowledgement after detection) is unchanged.
 *
 * Views: of a matched event the main thread reads a handful of fields (id, timestamp, dedup and
 * correlation group-by fields), yet parsing its whole stored document was a quarter of its
 * detection time. So each hit also carries a view, the JSON of the event's top-level entries
 * under the segments the detector names ({@link PrematchConfig.project}); the main thread reads
 * the view and parses the document only for a field outside it ({@link eventView}).
 *
 * Rule changes: the detector numbers its rule sets ({@link PrematchConfig.version}, bumped by
 * every reload, install, uninstall and switch) and sends each one here, where the same documents
 * are compiled again. Detection positions are only comparable between engines compiled from the
 * same documents, so each step says which version evaluated it: the main thread applies a step
 * of its current version as sent, and re-evaluates on its own engine every match of a step
 * evaluated under an older one (a switched-off or changed rule raises nothing after the change).
 * A worker whose compiled detections differ from the main thread's (a {@link PrematchConfig.sig}
 * mismatch) or that failed to compile does not prematch; its steps carry the documents instead.
 */
import type { EcsEvent } from '@xiangan/collectors';
import type { EventLike, LoadedRule, RuleEngine } from '@xiangan/rules';
import type { RuleSourceOptions } from '../detection/detector.js';
import { JsonBytes, PackedReader, type PackedTexts } from '../buffer/json-bytes.js';

/** A rule set for the prepare worker's engine. */
export interface PrematchConfig {
  /** The detector's rule-set number; echoed in every {@link PrematchedStep}. */
  version: number;
  /** `RuleEngine.tableId` of the main thread's engine (its detection table): the worker's must equal it. */
  sig: string;
  /** The rule documents the main thread's engine was compiled from, in its order. */
  rules: readonly LoadedRule[];
  /** Compile options (threat-intel list directory, field pipeline) as the main thread used them. */
  options: Pick<RuleSourceOptions, 'lists' | 'pipeline'>;
  /** Rules switched off. */
  disabled: readonly string[];
  /**
   * First path segments of the event fields the main thread reads of a matched event (see
   * {@link eventView}); absent: hits carry their documents only.
   */
  project?: readonly string[];
}

/** One buffer batch of a prematched step. */
export interface PrematchBatch {
  seq: number;
  /** Events evaluated. */
  events: number;
  /** Newest `@timestamp` among them (ms); `-Infinity` when none parses. */
  maxTime: number;
}

/**
 * What the main thread gets of a step instead of its documents. The events that matched at least
 * one detection (or could not be evaluated here), "hits", are laid out column-wise: a message
 * deserialises an array of strings and a few typed arrays about four times faster than one
 * small object per hit (measured with `v8.deserialize`: 1.1 against 5.0 µs a hit). The hits'
 * texts are bytes in one transferred buffer ({@link PackedTexts}): as strings, the MB of a
 * step's documents were allocated in the main thread's old space (a message over 100 KiB is).
 */
export interface PrematchedStep {
  /** The {@link PrematchConfig.version} the step was evaluated with. */
  version: number;
  /** Last buffer batch of the step. */
  lastSeq: number;
  batches: PrematchBatch[];
  /**
   * Per hit `i`, strings `3i`, `3i + 1`, `3i + 2` ({@link HitTexts}): its stored document; the JSON
   * of its fields under {@link PrematchConfig.project} ({@link eventView}), or '' (none: the main
   * thread parses the document); `String(event.ingested)` (receipt time, for the alert latency of
   * the hits that raise alerts), so that no view needs the whole `event` object, one of the
   * largest of a document.
   */
  hits: PackedTexts;
  /** Per hit: the buffer batch it came from. */
  seqs: Float64Array;
  /**
   * Per hit `i`: the positions in the engine's `detections` that matched are
   * `dets[ends[i - 1] ?? 0 … ends[i])`; an empty range means it threw here: evaluate it in full
   * in the main thread (a hit that did not throw matched at least one detection).
   */
  dets: Int32Array;
  ends: Int32Array;
}

/** The texts of a step's hits, read one at a time (each string made when asked for). */
export class HitTexts {
  private readonly r: PackedReader;
  readonly length: number;
  constructor(s: PrematchedStep) {
    this.r = new PackedReader(s.hits);
    this.length = this.r.length / 3;
  }

  doc(i: number): string {
    return this.r.at(3 * i)!;
  }

  /** {@link doc} deferred, for {@link eventView}: read only if a reader leaves the view. */
  lazyDoc(i: number): () => string {
    return () => this.doc(i);
  }

  view(i: number): string {
    return this.r.at(3 * i + 1)!;
  }

  ingested(i: number): string {
    return this.r.at(3 * i + 2)!;
  }
}

/** The buffers of a {@link PrematchedStep}, to transfer with it. */
export function prematchedTransfer(s: PrematchedStep): ArrayBuffer[] {
  return [s.hits.bytes.buffer, s.hits.at.buffer, s.seqs.buffer, s.dets.buffer, s.ends.buffer] as ArrayBuffer[];
}

/**
 * The prepare worker's side: holds the engine of the newest {@link PrematchConfig} and collects
 * one step's results while `Preparer.prepare` makes its events.
 */
export class Prematcher {
  private engine: RuleEngine | undefined;
  private version = 0;
  /** Counts {@link configure} calls: a compile that finishes after a newer call is dropped. */
  private configuring = 0;
  private batches: PrematchBatch[] = [];
  /** The hits' texts (see {@link PrematchedStep.hits}; handed over with each step), and where each starts and ends. */
  private readonly text = new JsonBytes(true);
  private at: number[] = [];
  private project: ReadonlySet<string> | undefined;
  private seqs: number[] = [];
  private dets: number[] = [];
  private ends: number[] = [];
  private cur: PrematchBatch | undefined;
  /** Newest `@timestamp` text of `cur` in the fixed ISO form (see {@link event}). */
  private curIso = '';

  /** Whether steps are being prematched (a rule set compiled to the main thread's detection table). */
  get active(): boolean {
    return this.engine !== undefined;
  }

  /**
   * Compile a rule set. Resolves false (and stops prematching, so steps carry their documents)
   * when it does not compile to the same detections as the main thread's engine, or when a
   * newer call came meanwhile. Until it resolves, steps carry their documents.
   */
  async configure(cfg: PrematchConfig): Promise<boolean> {
    this.engine = undefined;
    this.project = undefined;
    const call = ++this.configuring;
    try {
      // Loaded with the first rule set: a worker of a server without detection never needs the
      // rules engine (its modules are several MB of every worker's heap).
      const { compileDetectionRules } = await import('../detection/detector.js');
      if (call !== this.configuring) return false;
      const engine = compileDetectionRules(cfg.rules, cfg.options);
      if (engine.tableId !== cfg.sig) return false;
      for (const id of cfg.disabled) engine.setRuleEnabled(id, false);
      this.engine = engine;
      this.project = cfg.project ? new Set(cfg.project) : undefined;
      this.version = cfg.version;
      return true;
    } catch {
      // A list file or rule that no longer loads here: the main thread evaluates everything.
      return false;
    }
  }

  /**
   * Start a step of about `events` events (drops what a failed one left); its hits' texts get room
   * at the last step's bytes per event in one allocation (as the Preparer's documents do).
   */
  begin(events = 0): void {
    this.batches = [];
    this.text.beginStep(events);
    this.at = [];
    this.seqs = [];
    this.dets = [];
    this.ends = [];
    this.cur = undefined;
    this.curIso = '';
  }

  /**
   * One event of buffer batch `seq`, with its stored document (kept only if the event matched):
   * the text itself, or bytes `start … end` of a {@link JsonBytes} (copied only on a hit; no
   * string of the document is made here).
   */
  event(seq: number, ev: EcsEvent, doc: string | JsonBytes, start = 0, end = 0): void {
    const engine = this.engine;
    if (!engine) return;
    let b = this.cur;
    if (b === undefined || b.seq !== seq) {
      this.closeBatch();
      b = this.cur = { seq, events: 0, maxTime: -Infinity };
      this.batches.push(b);
    }
    b.events++;
    // Timestamps in the one form `Date.prototype.toISOString` writes (RFC 3339 UTC with
    // milliseconds, 24 characters; what the collectors write) order as text, so only the newest
    // is parsed, at the end of the batch (0.04 against 0.35 µs an event); any other form is
    // parsed here. A date of that form that does not exist (month 13) and sorts last leaves the
    // batch without a newest time: tumbling windows then close on the next batch's.
    const ts = ev['@timestamp'];
    if (typeof ts === 'string' && ts.length === 24 && ts.charCodeAt(23) === 90 /* Z */ && ts.charCodeAt(10) === 84 /* T */) {
      if (ts > this.curIso) this.curIso = ts;
    } else {
      const t = Date.parse(String(ts));
      if (t > b.maxTime) b.maxTime = t;
    }
    let dets: number[] | null;
    try {
      dets = engine.prematch(ev as unknown as EventLike);
      if (dets === null) return;
    } catch {
      // The main thread's engine meets the same error and handles it as it always has (an
      // empty range of positions).
      dets = null;
    }
    if (dets) for (const k of dets) this.dets.push(k);
    this.ends.push(this.dets.length);
    this.seqs.push(seq);
    const text = this.text;
    const at = this.at;
    at.push(text.pos);
    if (typeof doc === 'string') text.append(doc);
    else text.copy(doc, start, end);
    at.push(text.pos, text.pos);
    // A hit that threw here is evaluated in full on the main thread: its document, no view.
    if (dets && this.project) text.append(JSON.stringify(projectEvent(ev, this.project)));
    at.push(text.pos, text.pos);
    // Read only as a time (Date.parse): a lone surrogate, which comes back as U+FFFD, parses as
    // neither. Documents and views are JSON text, well-formed.
    text.append(String(ev.event?.ingested));
    at.push(text.pos);
  }

  /** Fold the newest ISO timestamp text of the current batch into its `maxTime`. */
  private closeBatch(): void {
    const b = this.cur;
    if (b && this.curIso !== '') {
      const t = Date.parse(this.curIso);
      if (t > b.maxTime) b.maxTime = t;
    }
    this.curIso = '';
  }

  /** The step's results (undefined when not prematching), and a clean slate. */
  take(lastSeq: number): PrematchedStep | undefined {
    this.closeBatch();
    let events = 0;
    for (const b of this.batches) events += b.events;
    this.text.endStep(events);
    const out: PrematchedStep | undefined = this.engine
      ? {
          version: this.version,
          lastSeq,
          batches: this.batches,
          hits: this.text.pack(Uint32Array.from(this.at)),
          seqs: Float64Array.from(this.seqs),
          dets: Int32Array.from(this.dets),
          ends: Int32Array.from(this.ends),
        }
      : undefined;
    this.begin();
    return out;
  }
}

/** The first segment of a dotted field path (`source.ip` → `source`). */
export function firstSegment(path: string): string {
  const dot = path.indexOf('.');
  return dot < 0 ? path : path.slice(0, dot);
}

/**
 * The top-level entries of `ev` whose key's first segment is in `segments`, in `ev`'s order.
 * A field getter of the rules engine reads the nested value under the path's first segment and
 * else the literal dotted key (rules/src/fields.ts), so every key that can answer a path of
 * such a segment is kept.
 */
export function projectEvent(ev: EcsEvent, segments: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(ev)) if (segments.has(firstSegment(k))) out[k] = (ev as Record<string, unknown>)[k];
  return out;
}

/**
 * A matched event as the main thread reads it: the parsed {@link projectEvent} view answers keys
 * of the projected segments; any other key, key listing or `in` test parses the whole document
 * once and answers from it, so a reader sees the same values as from `JSON.parse(doc)`, only
 * sooner when it stays within the view. Most hits of a busy stream only feed correlation windows
 * (a handful of fields), and parsing their whole documents (~1.3 KB each) was a quarter of the
 * main thread's detection time. `doc` may be a function that returns the document: the text is
 * then only made (decoded from the step's bytes) when a reader leaves the view.
 */
export function eventView(view: string, doc: string | (() => string), segments: ReadonlySet<string>): EcsEvent {
  const proj = JSON.parse(view) as Record<string | symbol, unknown>;
  let full: Record<string | symbol, unknown> | undefined;
  const whole = (): Record<string | symbol, unknown> => (full ??= JSON.parse(typeof doc === 'string' ? doc : doc()) as Record<string | symbol, unknown>);
  return new Proxy(proj, {
    get: (t, k) => (typeof k === 'string' && segments.has(firstSegment(k)) ? t[k] : whole()[k]),
    has: (_t, k) => k in whole(),
    ownKeys: () => Reflect.ownKeys(whole()),
    getOwnPropertyDescriptor: (_t, k) => Reflect.getOwnPropertyDescriptor(whole(), k),
  }) as unknown as EcsEvent;
}
