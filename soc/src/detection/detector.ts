/**
 * Detection in the pipeline: every event the consumer has stored goes through the compiled rule
 * engine of `@xiangan/rules`; matches become alert candidates for the {@link AlertStore}.
 *
 * Exactly-once for alerts across crashes: the consumer calls {@link Detector.afterWrite} after the
 * store commit and before it acknowledges the buffer. One alert-store transaction records the
 * alerts, enqueues their notifications and saves the buffer sequence number of the batch, so a
 * replay after a crash skips batches at or below it. The engine's correlation snapshot (open
 * windows) is O(groups) to serialise, so it is saved right after a batch's alerts at most every
 * `checkpointIntervalMs` (default 5 s; longer when the snapshot is slow, keeping it near 2 % of
 * the time) and at {@link Detector.checkpoint} (clean shutdown): a clean restart keeps every open
 * window; a crash loses at most that interval's contributions to windows, never an alert.
 * Time is the events' own `@timestamp`, never the wall clock (rules/README "Correlation").
 */
import type { EcsEvent, Logger } from '@xiangan/collectors';
import {
  BUILTIN_LISTS_DIR,
  BUILTIN_PACKS_DIR,
  builtinPipeline,
  compileRules,
  loadLists,
  loadRules,
  makeGetter,
  type EventLike,
  type LoadedRule,
  type RejectedRule,
  type RuleEngine,
  type RuleMatch,
} from '@xiangan/rules';
import { batchDocs, type RawBatch } from '../buffer/durable.js';
import type { Alert, AlertCandidate, AlertStore, RecordResult } from '../alerts/types.js';

/** Dedup fields of a detection match when the rule has no group-by of its own. */
export const DEFAULT_GROUP_BY: readonly string[] = ['host.name', 'source.ip', 'user.name'];

/** Where the detector's rules come from. */
export interface RuleSourceOptions {
  /** Load `rules/packs` (default true). */
  builtin?: boolean;
  /** More rule directories or files. */
  dirs?: readonly string[];
  /** Threat-intel list directory (default the built-in `rules/lists`). */
  lists?: string;
  pipeline?: 'ecs' | 'identity';
  /** Correlation groups held at once (engine `maxGroups`). */
  maxGroups?: number;
}

/**
 * Compile the configured rule sets into one engine. Rules the engine cannot support are skipped
 * and returned in `rejected` with the reason (never half-evaluated).
 *
 * @example
 * ```ts
 * const { engine, rejected } = loadDetectionEngine({ dirs: ['./my-rules'] });
 * ```
 */
export function loadDetectionEngine(opts: RuleSourceOptions = {}): { engine: RuleEngine; rejected: RejectedRule[] } {
  const rules: LoadedRule[] = [];
  const rejected: RejectedRule[] = [];
  const paths = [...(opts.builtin === false ? [] : [BUILTIN_PACKS_DIR]), ...(opts.dirs ?? [])];
  for (const p of paths) {
    const r = loadRules(p);
    rules.push(...r.rules);
    rejected.push(...r.errors);
  }
  const engine = compileRules(rules, builtinPipeline(opts.pipeline ?? 'ecs'), {
    lists: loadLists(opts.lists ?? BUILTIN_LISTS_DIR),
    onError: 'skip',
    ...(opts.maxGroups !== undefined ? { maxGroups: opts.maxGroups } : {}),
  });
  rejected.push(...engine.rejected);
  return { engine, rejected };
}

/** Options of {@link Detector.open}. */
export interface DetectorOptions {
  engine: RuleEngine;
  alerts: AlertStore;
  /** Dedup fields of detection matches (default {@link DEFAULT_GROUP_BY}). */
  groupBy?: readonly string[];
  /** Called inside the alert transaction for each new alert (the notifier's `enqueue`). */
  onCreated?: (alert: Alert) => void;
  /** Called after each recorded batch (metrics, notifier wake-up, tests). */
  onRecorded?: (r: DetectionResult) => void;
  logger?: Logger;
  /** Checkpoint name in the alert store; default `detector` (windows under `<name>.windows`). */
  name?: string;
  /** Least wall time between two saved correlation snapshots; default 5,000 ms, 0 = every batch. */
  checkpointIntervalMs?: number;
  /** Wall clock for the snapshot interval. */
  now?: () => number;
}

interface Checkpoint {
  seq: number;
  /** Newest event time seen (ms), for closing tumbling windows. */
  maxTime: number;
}

/** What one detection pass did. */
export interface DetectionResult extends RecordResult {
  /** Events run through the engine. */
  events: number;
  /** `event.ingested` (ms) of each event that raised an alert candidate (for latency). */
  raisedIngestedMs: number[];
  /** Wall time (ms) the alert transaction committed. */
  recordedAt: number;
}

/** Counters of a {@link Detector}. */
export interface DetectorStats {
  events: number;
  matches: number;
  alertsCreated: number;
  alertsUpdated: number;
  suppressed: number;
  /** Matches of switched-off rules, dropped (the engine does not evaluate switched-off rules, so only races count here). */
  disabled: number;
  /** Batches skipped on replay (already detected before a restart). */
  replayedBatches: number;
}

/**
 * Runs stored events through the rule engine and records alerts.
 *
 * @example
 * ```ts
 * const { engine } = loadDetectionEngine();
 * const detector = await Detector.open({ engine, alerts });
 * new StoreConsumer({ buffer, store, afterWrite: (b) => detector.afterWrite(b) });
 * ```
 */
export class Detector {
  private seq = 0;
  private maxTime = 0;
  private lastFlush = 0;
  /** The last saved windows: a failed record rolls the engine back to them. */
  private committed: { snapshot: unknown; maxTime: number } | undefined;
  private snapshotAt = -Infinity;
  private snapshotCostMs = 0;
  private disabled = new Set<string>();
  private readonly getters: { field: string; get: (e: EventLike) => unknown }[];
  private readonly s: DetectorStats = { events: 0, matches: 0, alertsCreated: 0, alertsUpdated: 0, suppressed: 0, disabled: 0, replayedBatches: 0 };

  private constructor(private readonly opts: DetectorOptions) {
    this.getters = (opts.groupBy ?? DEFAULT_GROUP_BY).map((field) => ({ field, get: makeGetter(field) }));
  }

  /** Build a detector and restore its checkpoint (open correlation windows, last batch). */
  static async open(opts: DetectorOptions): Promise<Detector> {
    const d = new Detector(opts);
    d.disabled = await opts.alerts.disabledRules();
    // Switched off in the engine too, so a disabled rule no longer feeds the correlations that reference it.
    for (const id of d.disabled) opts.engine.setRuleEnabled(id, false);
    const saved = await opts.alerts.loadCheckpoint(d.name);
    const windows = await opts.alerts.loadCheckpoint(`${d.name}.windows`);
    if (saved !== undefined) {
      const cp = JSON.parse(saved) as Checkpoint;
      d.seq = Number(cp.seq) || 0;
      d.maxTime = Number(cp.maxTime) || 0;
    }
    if (windows !== undefined) {
      try {
        const w = JSON.parse(windows) as { snapshot: unknown; maxTime: number };
        opts.engine.restore(w.snapshot);
        d.committed = w;
      } catch (e) {
        // A checkpoint of rules that changed shape: start with empty windows, say so.
        opts.logger?.warn?.({ err: e, errorCode: (e as { code?: string }).code, stage: 'detection' }, 'Detector checkpoint not restored; correlation windows start empty.');
      }
    }
    return d;
  }

  private get name(): string {
    return this.opts.name ?? 'detector';
  }

  /** The engine in use. */
  get engine(): RuleEngine {
    return this.opts.engine;
  }

  /** Counters. */
  stats(): DetectorStats {
    return { ...this.s };
  }

  /** Switch a rule on or off (persisted; matches of a switched-off rule are dropped and counted). */
  async setRuleEnabled(ruleId: string, enabled: boolean, actor: string): Promise<void> {
    await this.opts.alerts.setRuleEnabled(ruleId, enabled, actor);
    if (enabled) this.disabled.delete(ruleId);
    else this.disabled.add(ruleId);
    this.opts.engine.setRuleEnabled(ruleId, enabled);
  }

  /** Whether a rule is switched on. */
  isRuleEnabled(ruleId: string): boolean {
    return !this.disabled.has(ruleId);
  }

  /** Save the open correlation windows now (clean shutdown). */
  async checkpoint(): Promise<void> {
    const windows = { snapshot: this.opts.engine.snapshot(), maxTime: this.maxTime };
    await this.opts.alerts.saveCheckpoint(`${this.name}.windows`, JSON.stringify(windows));
    this.committed = windows;
    this.snapshotAt = (this.opts.now ?? Date.now)();
  }

  /** The consumer hook: detect on batches the store has just committed. */
  async afterWrite(batches: readonly RawBatch[]): Promise<DetectionResult | undefined> {
    if (batches.length === 0) return undefined;
    const last = batches[batches.length - 1]!.seq;
    const fresh = batches.filter((b) => b.seq > this.seq);
    this.s.replayedBatches += batches.length - fresh.length;
    if (fresh.length === 0) return undefined;
    const events = batchDocs(fresh).map((d) => JSON.parse(d) as EcsEvent);
    return this.process(events, last);
  }

  /**
   * Detect on events (in order) and record alerts; `seq` (a buffer sequence number) is saved with
   * the checkpoint. Returns what the alert store did.
   */
  async process(events: readonly EcsEvent[], seq = this.seq): Promise<DetectionResult> {
    const engine = this.opts.engine;
    const cands: AlertCandidate[] = [];
    const raised: number[] = [];
    for (const ev of events) {
      const e = ev as unknown as EventLike;
      const t = Date.parse(String(ev['@timestamp']));
      if (Number.isFinite(t) && t > this.maxTime) this.maxTime = t;
      const before = cands.length;
      for (const m of engine.match(e)) this.candidate(m, e, cands);
      if (cands.length > before) raised.push(Date.parse(String(ev.event?.ingested)));
    }
    // Tumbling (lt/lte) windows close on event time; check at most once per second of it.
    if (this.maxTime - this.lastFlush >= 1000) {
      this.lastFlush = this.maxTime;
      for (const m of engine.flush(new Date(this.maxTime).toISOString())) this.candidate(m, undefined, cands);
    }
    this.s.events += events.length;
    const prevSeq = this.seq;
    this.seq = Math.max(this.seq, seq);
    const cp: Checkpoint = { seq: this.seq, maxTime: this.maxTime };
    let r: RecordResult;
    try {
      r = await this.opts.alerts.record(cands, {
        checkpoints: [{ name: this.name, value: JSON.stringify(cp) }],
        ...(this.opts.onCreated ? { onCreated: this.opts.onCreated } : {}),
      });
    } catch (e) {
      // The consumer retries the batch: put the windows back as they were before it.
      this.seq = prevSeq;
      if (this.committed) {
        engine.restore(this.committed.snapshot);
        this.maxTime = this.committed.maxTime;
      } else engine.reset();
      throw e;
    }
    const wall = this.opts.now ?? Date.now;
    this.s.alertsCreated += r.created.length;
    this.s.alertsUpdated += r.updated.length;
    this.s.suppressed += r.suppressed;
    const out: DetectionResult = { ...r, events: events.length, raisedIngestedMs: raised, recordedAt: wall() };
    this.opts.onRecorded?.(out);
    // The windows after this batch, saved once the alerts are in (off the alert path). Their cost
    // grows with the groups held, so the interval stretches to keep it under ~2 % of the time.
    const t = wall();
    if (t - this.snapshotAt >= Math.max(this.opts.checkpointIntervalMs ?? 5000, 50 * this.snapshotCostMs)) {
      try {
        await this.checkpoint();
        this.snapshotCostMs = wall() - t;
      } catch (e) {
        // Alerts and the sequence number are committed; the older windows stay the restart point.
        this.opts.logger?.error?.({ err: e, errorCode: (e as { code?: string }).code, stage: 'detection' }, 'Saving correlation windows failed; will retry.');
      }
    }
    return out;
  }

  private candidate(m: RuleMatch, ev: EventLike | undefined, out: AlertCandidate[]): void {
    if (!m.alert) return;
    this.s.matches++;
    if (this.disabled.has(m.ruleId)) {
      this.s.disabled++;
      return;
    }
    let groupKey = m.groupKey ?? '';
    let group = m.group ?? {};
    if (m.kind === 'detection' && ev) {
      group = {};
      const parts: string[] = [];
      for (const g of this.getters) {
        const v = scalars(g.get(ev))[0];
        parts.push(v ?? '');
        if (v !== undefined) group[g.field] = v;
      }
      groupKey = parts.join('\u001f');
    }
    const fixed = group;
    out.push({
      match: m,
      groupKey,
      group: fixed,
      field: (name) => (fixed[name] !== undefined ? [fixed[name]!] : ev ? scalars(makeGetter(name)(ev)) : []),
    });
  }
}

function scalars(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.filter((x) => x !== null && typeof x !== 'object').map(String);
  return typeof v === 'object' ? [] : [String(v)];
}
