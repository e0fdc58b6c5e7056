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
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { EcsEvent, Logger } from '@xiangan/collectors';
import {
  BUILTIN_LISTS_DIR,
  BUILTIN_PACKS_DIR,
  builtinPipeline,
  compileRules,
  loadLists,
  loadRules,
  makeGetter,
  type EngineSnapshot,
  type EventLike,
  type LoadedRule,
  type RejectedRule,
  type RuleEngine,
  type RuleMatch,
} from '@xiangan/rules';
import { stringify } from 'yaml';
import { batchDocs, type RawBatch } from '../buffer/durable.js';
import type { Alert, AlertCandidate, AlertStore, RecordResult } from '../alerts/types.js';
import { SocError } from '../errors.js';
import { eventView, firstSegment, HitTexts, type PrematchConfig, type PrematchedStep } from '../pipeline/prematch.js';
import { SLICE_MS, Slicer } from './slices.js';
import { TextSink } from './text-sink.js';
import { WindowsFile } from './windows-file.js';

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
  /**
   * Data directory: rules installed from the console live in {@link importedRulesDir} under it
   * and are loaded after the others, so an installed rule survives a restart.
   */
  dataDir?: string;
}

/** Where installed (imported) rules are kept: one YAML file per rule. */
export function importedRulesDir(dataDir: string): string {
  return join(dataDir, 'rules', 'imported');
}

/** What a compiled engine was built from, for {@link Detector.reload}. */
interface EngineMeta {
  sources: RuleSourceOptions;
  /** Rule id → fingerprint of what decides its state (a correlation's own text and its base rules'). */
  fingerprints: Map<string, string>;
  /** Ids of rules loaded from the imported directory. */
  imported: Set<string>;
  rejected: RejectedRule[];
  /** The documents compiled, in order (the prepare worker compiles the same ones: ../pipeline/prematch.ts). */
  rules: readonly LoadedRule[];
}

const META = new WeakMap<RuleEngine, EngineMeta>();

/** The id the rule compiler gives a document (rules/src/compile.ts). */
function docId(r: LoadedRule): string {
  const d = r.doc;
  return typeof d.id === 'string' ? d.id : typeof d.name === 'string' ? d.name : r.source;
}

/**
 * Fingerprints of every rule: the document's JSON, and for a correlation also those of the rules
 * it names (by id or name), since a changed base rule changes what its open windows mean.
 */
function fingerprints(rules: readonly LoadedRule[]): Map<string, string> {
  const own = new Map<string, string>();
  const byRef = new Map<string, string>();
  for (const r of rules) {
    const j = JSON.stringify(r.doc);
    own.set(docId(r), j);
    byRef.set(docId(r), j);
    if (typeof r.doc.name === 'string') byRef.set(r.doc.name, j);
  }
  const out = new Map<string, string>();
  for (const r of rules) {
    const corr = r.doc.correlation as { rules?: unknown } | undefined;
    const refs = corr && typeof corr === 'object' ? [corr.rules].flat().filter((x): x is string => typeof x === 'string') : [];
    const h = createHash('sha256').update(own.get(docId(r))!);
    for (const ref of refs) h.update('\u0000').update(byRef.get(ref) ?? `missing:${ref}`);
    out.set(docId(r), h.digest('base64url'));
  }
  return out;
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
  const imported = new Set<string>();
  const paths = [...(opts.builtin === false ? [] : [BUILTIN_PACKS_DIR]), ...(opts.dirs ?? [])];
  for (const p of paths) {
    const r = loadRules(p);
    rules.push(...r.rules);
    rejected.push(...r.errors);
  }
  const importedDir = opts.dataDir !== undefined ? importedRulesDir(opts.dataDir) : undefined;
  if (importedDir !== undefined && existsSync(importedDir)) {
    const r = loadRules(importedDir);
    for (const x of r.rules) imported.add(docId(x));
    rules.push(...r.rules);
    rejected.push(...r.errors);
  }
  const engine = compileDetectionRules(rules, opts);
  rejected.push(...engine.rejected);
  META.set(engine, { sources: { ...opts }, fingerprints: fingerprints(rules), imported, rejected, rules });
  return { engine, rejected };
}

/**
 * Compile loaded rule documents as {@link loadDetectionEngine} does (rules the engine cannot
 * support are skipped and listed in the engine's `rejected`). The same documents and options
 * give the same detections in the same order, in any thread.
 */
export function compileDetectionRules(rules: readonly LoadedRule[], opts: Pick<RuleSourceOptions, 'lists' | 'pipeline' | 'maxGroups'> = {}): RuleEngine {
  return compileRules(rules, builtinPipeline(opts.pipeline ?? 'ecs'), {
    lists: loadLists(opts.lists ?? BUILTIN_LISTS_DIR),
    onError: 'skip',
    ...(opts.maxGroups !== undefined ? { maxGroups: opts.maxGroups } : {}),
  });
}

/** One rule chosen for {@link Detector.install}. */
export interface InstallChoice {
  id: string;
  /** Switched on once installed (default true). */
  enabled?: boolean;
}

/** What {@link Detector.reload} and {@link Detector.install} did. */
export interface ReloadResult {
  /** Detections and correlations loaded now. */
  rules: number;
  /** Open correlation groups carried over (their rule and its base rules unchanged). */
  keptGroups: number;
  /** Groups of correlations that changed or are gone, started afresh. */
  droppedGroups: number;
  rejected: RejectedRule[];
}

/** One rule {@link Detector.install} wrote. */
export interface InstalledRule {
  id: string;
  title: string;
  level: string;
  kind: 'detection' | 'correlation';
  enabled: boolean;
  /** An earlier installed version of the same id was replaced. */
  replaced: boolean;
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
  /**
   * Save the correlation windows in this file (./windows-file.ts) instead of the alert store
   * (the SQLite backend: the store's copies of the text set the server's peak RSS). Windows an
   * older version saved in the alert store still restore until the first save here.
   */
  windowsFile?: string;
  /**
   * Most main-thread time (ms) a detection pass or a windows save takes before it lets the event
   * loop run (./slices.ts); default {@link SLICE_MS}. 0 yields after every piece (tests).
   */
  sliceMs?: number;
}

/**
 * What the alert store's windows checkpoint holds once they live in a file: it names the file,
 * so an older checkpoint left there is not restored in place of a lost or broken file.
 */
interface MovedWindows {
  windowsFile: string;
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
  /**
   * Events the prepare worker matched under an older rule set (before a reload, install or
   * switch), evaluated again here on the current one.
   */
  rechecked: number;
}

/** Matches found in the prepare worker for the events of a pass, by event (see {@link Detector.afterWrite}). */
interface Prematched {
  /**
   * The pass's hits, in order: hit `j` is hit `hit[j]` of `steps[step[j]]`. Their texts (document,
   * view, receipt time) are read from the step's bytes only when the loop reaches them, so those
   * of a pass do not all live through the young generation's collections at once (see
   * {@link Detector.detect}).
   */
  steps: readonly PrematchedStep[];
  texts: readonly HitTexts[];
  /** Per step: evaluated under the current rule set, so its detection positions apply as sent. */
  current: readonly boolean[];
  step: readonly number[];
  hit: readonly number[];
  /** The segments the views were made with. */
  segments: ReadonlySet<string>;
  /** Events of the pass, matched or not. */
  events: number;
  /** Newest `@timestamp` of those events (ms). */
  maxTime: number;
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
  /**
   * Set when a failed record left the engine's windows ahead of the saved ones: before anything
   * else uses the engine, the windows are read back from the alert store ({@link restoreSaved}).
   * The saved windows are not also kept in memory: at the default `maxGroups` (100k) a copy was
   * ~22 MB of objects (25 MB as JSON text) held the whole time, a quarter of the main thread's
   * live heap, for a failure path that can as well read them back.
   */
  private restorePending = false;
  private snapshotAt = -Infinity;
  private snapshotCostMs = 0;
  /** Bytes of the last saved windows checkpoint. */
  private snapshotBytes = 0;
  private readonly file: WindowsFile | undefined;
  /** The alert store's windows checkpoint names {@link file} (see {@link MovedWindows}). */
  private movedMarked = false;
  private disabled = new Set<string>();
  private engineNow: RuleEngine;
  /** Rule-set number: bumped by every swap and switch (see ../pipeline/prematch.ts). */
  private version = 1;
  private readonly ruleListeners: Array<(c: PrematchConfig) => void> = [];
  /** Detection passes, reloads and installs run one at a time, in call order. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly getters: { field: string; get: (e: EventLike) => unknown }[];
  private readonly s: DetectorStats = { events: 0, matches: 0, alertsCreated: 0, alertsUpdated: 0, suppressed: 0, disabled: 0, replayedBatches: 0, rechecked: 0 };

  private constructor(private readonly opts: DetectorOptions) {
    this.engineNow = opts.engine;
    this.file = opts.windowsFile !== undefined ? new WindowsFile(opts.windowsFile) : undefined;
    this.getters = (opts.groupBy ?? DEFAULT_GROUP_BY).map((field) => ({ field, get: makeGetter(field) }));
  }

  /** Build a detector and restore its checkpoint (open correlation windows, last batch). */
  static async open(opts: DetectorOptions): Promise<Detector> {
    const d = new Detector(opts);
    d.disabled = await opts.alerts.disabledRules();
    // Switched off in the engine too, so a disabled rule no longer feeds the correlations that reference it.
    for (const id of d.disabled) opts.engine.setRuleEnabled(id, false);
    const saved = await opts.alerts.loadCheckpoint(d.name);
    d.file?.removeLeftovers();
    let windows: string | undefined;
    try {
      windows = await d.windowsText();
    } catch (e) {
      // An unreadable windows file: start with empty windows, say so (the alert store's errors stop the start).
      if (!(e instanceof SocError && e.code === 'SOC_ERR_WINDOWS_CHECKPOINT')) throw e;
      opts.logger?.warn?.({ err: e, errorCode: e.code, stage: 'detection' }, 'Detector checkpoint not restored; correlation windows start empty.');
    }
    if (saved !== undefined) {
      const cp = JSON.parse(saved) as Checkpoint;
      d.seq = Number(cp.seq) || 0;
      d.maxTime = Number(cp.maxTime) || 0;
    }
    if (windows !== undefined) {
      try {
        const w = d.parseWindows(windows);
        if (w) opts.engine.restore(w.snapshot);
      } catch (e) {
        // A checkpoint of rules that changed shape, or a broken file: start with empty windows, say so.
        opts.logger?.warn?.({ err: e, errorCode: (e as { code?: string }).code, stage: 'detection' }, 'Detector checkpoint not restored; correlation windows start empty.');
      }
    }
    return d;
  }

  private get name(): string {
    return this.opts.name ?? 'detector';
  }

  /**
   * The saved windows' text: the file's when there is one, else the alert store's (saved there by
   * an older version, or naming the file). Read errors are thrown.
   */
  private async windowsText(): Promise<string | undefined> {
    return this.file?.read() ?? (await this.opts.alerts.loadCheckpoint(`${this.name}.windows`));
  }

  /** {@link windowsText} parsed (`SOC_ERR_WINDOWS_CHECKPOINT` when it does not parse); undefined when it names the file. */
  private parseWindows(text: string): { snapshot: unknown; maxTime: number } | undefined {
    let w: { snapshot: unknown; maxTime: number } | MovedWindows;
    try {
      w = JSON.parse(text) as typeof w;
    } catch (e) {
      throw new SocError('SOC_ERR_WINDOWS_CHECKPOINT', `the saved correlation windows do not parse: ${(e as Error).message}`, { cause: e });
    }
    if (w !== null && typeof w === 'object' && 'windowsFile' in w) {
      this.movedMarked = true;
      // The file was saved once and is gone now: windows start empty, as after a broken one.
      return undefined;
    }
    return w as { snapshot: unknown; maxTime: number };
  }

  /** The engine in use (a new one after {@link reload} or {@link install}). */
  get engine(): RuleEngine {
    return this.engineNow;
  }

  /** Ids of the loaded rules that were installed through {@link install}. */
  installedRules(): Set<string> {
    return new Set(META.get(this.engineNow)?.imported);
  }

  /**
   * The current rule set for a prepare worker's prematch, or undefined when this detector was
   * given a ready engine (no rule documents to send).
   */
  prematchConfig(): PrematchConfig | undefined {
    const m = META.get(this.engineNow);
    if (!m) return undefined;
    const o = m.sources;
    return {
      version: this.version,
      sig: this.engineNow.tableId,
      rules: m.rules,
      options: { ...(o.lists !== undefined ? { lists: o.lists } : {}), ...(o.pipeline !== undefined ? { pipeline: o.pipeline } : {}) },
      disabled: [...this.disabled],
      project: [...this.segments()],
    };
  }

  /** {@link readSegments} of the engine in use, worked out once per engine. */
  private segments(): ReadonlySet<string> {
    const e = this.engineNow;
    let s = SEGMENTS.get(e);
    if (!s) SEGMENTS.set(e, (s = readSegments(e, META.get(e)?.sources.pipeline ?? 'ecs', this.getters.map((g) => g.field))));
    return s;
  }

  /** Call `fn` with the current {@link prematchConfig} now and after every change of rules or switches. */
  onRulesChanged(fn: (c: PrematchConfig) => void): void {
    this.ruleListeners.push(fn);
    const c = this.prematchConfig();
    if (c) fn(c);
  }

  /** A new rule set (engine or switches): number it and tell the listeners. */
  private rulesChanged(): void {
    this.version++;
    if (this.ruleListeners.length === 0) return;
    const c = this.prematchConfig();
    if (c) for (const fn of this.ruleListeners) fn(c);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.queue.then(fn);
    this.queue = r.catch(() => undefined);
    return r;
  }

  private meta(): EngineMeta {
    const m = META.get(this.engineNow);
    if (!m) throw new SocError('SOC_ERR_UNAVAILABLE', 'this detector was given a ready engine, not rule sources; it cannot reload');
    return m;
  }

  /**
   * Re-read every rule source and swap in the new engine between two detection passes (events
   * wait in the durable buffer meanwhile; none is dropped). Open correlation windows move over
   * for each correlation whose own text and base rules are unchanged; the others start afresh
   * (their windows counted something else). Switched-off rules stay off. The new windows are
   * checkpointed at once, so a crash right after keeps them.
   */
  reload(): Promise<ReloadResult> {
    return this.serial(async () => this.swap(loadDetectionEngine(this.meta().sources).engine));
  }

  private async swap(next: RuleEngine): Promise<ReloadResult> {
    if (this.restorePending) await this.restoreSaved();
    const before = this.meta();
    const after = META.get(next)!;
    const snap = this.engineNow.snapshot();
    const kept = snap.groups.filter(([cid]) => before.fingerprints.get(cid) !== undefined && before.fingerprints.get(cid) === after.fingerprints.get(cid));
    next.restore({ version: 1, groups: kept } satisfies EngineSnapshot);
    for (const id of this.disabled) next.setRuleEnabled(id, false);
    this.engineNow = next;
    this.rulesChanged();
    try {
      await this.saveWindows(this.slicer());
    } catch (e) {
      // The swap stands (the rule files are in place); the older windows stay the restart point
      // until the next pass saves them.
      this.opts.logger?.error?.({ err: e, errorCode: (e as { code?: string }).code, stage: 'detection' }, 'Saving correlation windows after a reload failed; will retry.');
    }
    this.opts.logger?.info?.({ stage: 'detection', rules: next.detections.length + next.correlations.length, keptGroups: kept.length, droppedGroups: snap.groups.length - kept.length }, 'Detection rules reloaded.');
    return { rules: next.detections.length + next.correlations.length, keptGroups: kept.length, droppedGroups: snap.groups.length - kept.length, rejected: after.rejected };
  }

  /**
   * Install chosen rules (already parsed, e.g. a pasted Sigma import) into the running engine:
   * each is written as `<id>.yml` into {@link importedRulesDir} (atomically; a rule of the same id
   * installed before is replaced), the engine is rebuilt from every source as a restart would,
   * and only if every chosen rule compiles there is it swapped in ({@link reload}); otherwise
   * the files are put back as they were and `SOC_ERR_RULE_INSTALL` names the reasons. An id that
   * the built-in packs or a configured directory already load is refused (edit it there).
   */
  install(rules: readonly LoadedRule[], choices: readonly InstallChoice[], actor: string): Promise<{ installed: InstalledRule[]; reload: ReloadResult }> {
    return this.serial(async () => {
      const meta = this.meta();
      if (meta.sources.dataDir === undefined) throw new SocError('SOC_ERR_UNAVAILABLE', 'the detector has no data directory to install rules into');
      const dir = importedRulesDir(meta.sources.dataDir);
      const byId = new Map(rules.map((r) => [docId(r), r]));
      const loaded = new Set([...this.engineNow.detections, ...this.engineNow.correlations].map((r) => r.id));
      const problems: string[] = [];
      for (const c of choices) {
        const r = byId.get(c.id);
        if (!r) problems.push(`${c.id}: not among the pasted rules`);
        // Loaded from its file, a rule without id or name would be named by the file path instead.
        else if (typeof r.doc.id !== 'string' && typeof r.doc.name !== 'string') problems.push(`${c.id}: a rule needs an id (or a name) to be installed`);
        else if (loaded.has(c.id) && !meta.imported.has(c.id)) problems.push(`${c.id}: already loaded from the built-in packs or a configured rule directory`);
      }
      if (problems.length) throw new SocError('SOC_ERR_RULE_INSTALL', problems.join('; '), { details: { problems } });
      mkdirSync(dir, { recursive: true });
      // Write every file, remembering what it replaced, so a failed compile restores the directory.
      const undo: { path: string; old: string | undefined }[] = [];
      try {
        for (const c of choices) {
          const path = join(dir, ruleFileName(c.id));
          undo.push({ path, old: existsSync(path) ? readFileSync(path, 'utf8') : undefined });
          writeAtomic(path, stringify(byId.get(c.id)!.doc));
        }
        const next = loadDetectionEngine(meta.sources).engine;
        const compiled = new Map([...next.detections, ...next.correlations].map((r) => [r.id, r]));
        const why = new Map(META.get(next)!.rejected.map((r) => [r.source, `${r.code}: ${r.reason}`]));
        const failed = choices.filter((c) => !compiled.has(c.id)).map((c) => `${c.id}: ${why.get(join(dir, ruleFileName(c.id))) ?? 'not compiled (a correlation whose base rules are not loaded?)'}`);
        if (failed.length) throw new SocError('SOC_ERR_RULE_INSTALL', failed.join('; '), { details: { problems: failed } });
        for (const c of choices) {
          const on = c.enabled !== false;
          if (on !== this.isRuleEnabled(c.id)) await this.opts.alerts.setRuleEnabled(c.id, on, actor);
          if (on) this.disabled.delete(c.id);
          else this.disabled.add(c.id);
        }
        const reload = await this.swap(next);
        const installed = choices.map((c) => {
          const r = compiled.get(c.id)!;
          return { id: c.id, title: r.title, level: r.level, kind: r.kind, enabled: c.enabled !== false, replaced: meta.imported.has(c.id) };
        });
        return { installed, reload };
      } catch (e) {
        for (const u of undo.reverse()) {
          if (u.old === undefined) rmSync(u.path, { force: true });
          else writeAtomic(u.path, u.old);
        }
        throw e;
      }
    });
  }

  /** Counters. */
  stats(): DetectorStats {
    return { ...this.s };
  }

  /**
   * Remove a rule installed by {@link install}: its file goes and the engine is rebuilt as in
   * {@link reload}. Refused (`SOC_ERR_RULE_INSTALL`, nothing changed) when a loaded correlation
   * still needs it; `SOC_ERR_ALERT_NOT_FOUND` when no installed rule has this id.
   */
  uninstall(id: string): Promise<ReloadResult> {
    return this.serial(async () => {
      const meta = this.meta();
      const path = meta.sources.dataDir !== undefined ? join(importedRulesDir(meta.sources.dataDir), ruleFileName(id)) : undefined;
      if (!path || !meta.imported.has(id) || !existsSync(path)) throw new SocError('SOC_ERR_ALERT_NOT_FOUND', `no rule with id ${id} was installed from the console`);
      const old = readFileSync(path, 'utf8');
      rmSync(path);
      try {
        const next = loadDetectionEngine(meta.sources).engine;
        const after = new Set([...next.detections, ...next.correlations].map((r) => r.id));
        const orphaned = this.engineNow.correlations.filter((c) => c.id !== id && !after.has(c.id)).map((c) => c.id);
        if (orphaned.length) throw new SocError('SOC_ERR_RULE_INSTALL', `${id} is still needed by the correlation(s) ${orphaned.join(', ')}`, { details: { problems: orphaned } });
        return await this.swap(next);
      } catch (e) {
        writeAtomic(path, old);
        throw e;
      }
    });
  }

  /** Switch a rule on or off (persisted; matches of a switched-off rule are dropped and counted). */
  async setRuleEnabled(ruleId: string, enabled: boolean, actor: string): Promise<void> {
    await this.opts.alerts.setRuleEnabled(ruleId, enabled, actor);
    // Between two passes: a pass (and a windows save) yields to the event loop between slices,
    // and switching a correlation off drops its groups.
    await this.serial(async () => {
      if (enabled) this.disabled.delete(ruleId);
      else this.disabled.add(ruleId);
      this.engineNow.setRuleEnabled(ruleId, enabled);
      this.rulesChanged();
    });
  }

  /** Whether a rule is switched on. */
  isRuleEnabled(ruleId: string): boolean {
    return !this.disabled.has(ruleId);
  }

  private slicer(): Slicer {
    return new Slicer(this.opts.sliceMs ?? SLICE_MS, this.opts.now);
  }

  /** Save the open correlation windows now (clean shutdown), after the detection pass in progress. */
  checkpoint(): Promise<void> {
    return this.serial(() => this.saveWindows(this.slicer()));
  }

  /**
   * Save the windows, in slices of the main thread's time (./slices.ts). Called only inside
   * {@link serial}: no pass, reload or switch changes the engine until the text is written, so
   * it is the text an unsliced save would write at this point.
   */
  private async saveWindows(slicer: Slicer): Promise<void> {
    if (this.restorePending) await this.restoreSaved();
    // JSON.stringify({ snapshot: engine.snapshot(), maxTime }), written without the snapshot's
    // object graph.
    const engine = this.engineNow;
    const maxTime = this.maxTime;
    function* pieces(): Generator<string> {
      yield '{"snapshot":';
      yield* engine.snapshotPieces();
      yield `,"maxTime":${JSON.stringify(maxTime)}}`;
    }
    if (this.file) {
      this.snapshotBytes = await this.file.write((w) => slicer.drain(pieces(), w));
      if (!this.movedMarked) {
        const moved: MovedWindows = { windowsFile: this.file.path };
        await this.opts.alerts.saveCheckpoint(`${this.name}.windows`, JSON.stringify(moved));
        this.movedMarked = true;
      }
      this.snapshotAt = (this.opts.now ?? Date.now)();
      return;
    }
    // In one off-heap buffer (text-sink.ts), sized by the last one, so it seldom grows.
    const t = new TextSink(this.snapshotBytes + (this.snapshotBytes >> 3) + 4096);
    await slicer.drain(pieces(), (s) => t.write(s));
    this.snapshotBytes = t.length;
    await this.opts.alerts.saveCheckpoint(`${this.name}.windows`, t.text());
    this.snapshotAt = (this.opts.now ?? Date.now)();
  }

  /**
   * Put the engine's windows back to the last saved ones (none saved, or saved for rules that no
   * longer fit: empty windows, as {@link open} does). Throws, leaving {@link restorePending} set,
   * when the alert store cannot be read; the next pass tries again first.
   */
  private async restoreSaved(): Promise<void> {
    const saved = await this.windowsText();
    let w: { snapshot: unknown; maxTime: number } | undefined;
    try {
      if (saved !== undefined) {
        w = this.parseWindows(saved);
        if (w) this.engineNow.restore(w.snapshot);
      }
    } catch {
      w = undefined;
    }
    if (w) this.maxTime = w.maxTime;
    else this.engineNow.reset();
    this.restorePending = false;
  }

  /**
   * The consumer hook: detect on batches the store has just committed, given as their documents
   * or as the prepare worker's matches of their steps (../pipeline/prematch.ts; one alert
   * transaction either way).
   */
  async afterWrite(input: readonly RawBatch[] | readonly PrematchedStep[]): Promise<DetectionResult | undefined> {
    if (input.length === 0) return undefined;
    if ('hits' in input[0]!) return this.serial(() => this.detectPrematched(input as readonly PrematchedStep[]));
    const batches = input as readonly RawBatch[];
    const last = batches[batches.length - 1]!.seq;
    const fresh = batches.filter((b) => b.seq > this.seq);
    this.s.replayedBatches += batches.length - fresh.length;
    if (fresh.length === 0) return undefined;
    const docs = batchDocs(fresh);
    return this.serial(() => this.detect(docs, last));
  }

  /**
   * Detect on events (in order) and record alerts; `seq` (a buffer sequence number) is saved with
   * the checkpoint. Returns what the alert store did.
   */
  process(events: readonly EcsEvent[], seq = this.seq): Promise<DetectionResult> {
    return this.serial(() => this.detect(events, seq));
  }

  /**
   * Steps matched in the prepare worker: batches at or below the checkpoint are skipped as on the
   * documents path; matches made under an older rule set are evaluated again on the current one.
   */
  private detectPrematched(steps: readonly PrematchedStep[]): Promise<DetectionResult | undefined> {
    const texts: HitTexts[] = [];
    const current: boolean[] = [];
    const step: number[] = [];
    const hit: number[] = [];
    let n = 0;
    let maxTime = -Infinity;
    let replayed = 0;
    let last = this.seq;
    for (let k = 0; k < steps.length; k++) {
      const s = steps[k]!;
      if (s.lastSeq > last) last = s.lastSeq;
      for (const b of s.batches) {
        if (b.seq <= this.seq) replayed++;
        else {
          n += b.events;
          if (b.maxTime > maxTime) maxTime = b.maxTime;
        }
      }
      const cur = s.version === this.version;
      const t = new HitTexts(s);
      texts.push(t);
      current.push(cur);
      for (let i = 0; i < t.length; i++) {
        if (s.seqs[i]! <= this.seq) continue;
        step.push(k);
        hit.push(i);
        if (!cur) this.s.rechecked++;
      }
    }
    this.s.replayedBatches += replayed;
    if (last <= this.seq) return Promise.resolve(undefined);
    return this.detect({ steps, texts, current, step, hit, segments: this.segments(), events: n, maxTime }, last);
  }

  /**
   * Detect on events given as objects or as their stored documents. A document is parsed only when
   * its turn comes, so each parsed event dies young (most are garbage after their own match, the
   * rest are held by their alert candidates): parsed all at once ahead of the loop, a pass's
   * thousands of events outlived the young generation's collections and were copied into old
   * space, most of the main thread's heap growth with detection on. The hits of prematched steps
   * ({@link Prematched}) are likewise read from the steps' bytes in turn: decoded all ahead of the
   * loop, a pass's documents (~1.3 KB a hit) were promoted the same way.
   */
  private async detect(input: readonly EcsEvent[] | readonly string[] | Prematched, seq: number): Promise<DetectionResult> {
    const pre = Array.isArray(input) ? undefined : (input as Prematched);
    const events = pre ? [] : (input as readonly EcsEvent[] | readonly string[]);
    if (this.restorePending) await this.restoreSaved();
    const engine = this.engineNow;
    const wall = this.opts.now ?? Date.now;
    // Runs inside serial(): nothing else changes the engine while this pass yields.
    const slicer = this.slicer();
    const cands: AlertCandidate[] = [];
    const raised: number[] = [];
    const count = pre ? pre.hit.length : events.length;
    for (let i = 0; i < count; i++) {
      if ((i & 31) === 31 && slicer.due()) await slicer.yield();
      let ev: EcsEvent;
      let d: readonly number[] | null = null;
      let texts: HitTexts | undefined;
      let h = 0;
      if (pre) {
        const k = pre.step[i]!;
        const s = pre.steps[k]!;
        texts = pre.texts[k]!;
        h = pre.hit[i]!;
        const from = h > 0 ? s.ends[h - 1]! : 0;
        // An empty range: the worker could not evaluate it (evaluated here in full, as a re-check is).
        if (pre.current[k] && s.ends[h]! > from) d = Array.from(s.dets.subarray(from, s.ends[h]!));
        // A view is only read with the segments of the rule set it was made for (this one).
        const view = d ? texts.view(h) : '';
        ev = view ? eventView(view, texts.lazyDoc(h), pre.segments) : (JSON.parse(texts.doc(h)) as EcsEvent);
      } else {
        const x = events[i]!;
        ev = typeof x !== 'string' ? x : (JSON.parse(x) as EcsEvent);
        const t = Date.parse(String(ev['@timestamp']));
        if (Number.isFinite(t) && t > this.maxTime) this.maxTime = t;
      }
      const e = ev as unknown as EventLike;
      const before = cands.length;
      // `match` is `applyPrematched(e, prematch(e) ?? [])` (rules/src/engine.ts).
      for (const m of d ? engine.applyPrematched(e, d) : engine.match(e)) this.candidate(m, e, cands);
      if (cands.length > before) raised.push(Date.parse(texts ? texts.ingested(h) : String(ev.event?.ingested)));
    }
    if (pre && Number.isFinite(pre.maxTime) && pre.maxTime > this.maxTime) this.maxTime = pre.maxTime;
    // The alert transaction cannot be cut (one commit with the sequence number): it starts a slice.
    await slicer.yield();
    // Tumbling (lt/lte) windows close on event time; check at most once per second of it.
    if (this.maxTime - this.lastFlush >= 1000) {
      this.lastFlush = this.maxTime;
      for (const m of engine.flush(new Date(this.maxTime).toISOString())) this.candidate(m, undefined, cands);
    }
    this.s.events += pre ? pre.events : events.length;
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
      // The consumer retries the batch: put the windows back as they were saved before it.
      this.seq = prevSeq;
      this.restorePending = true;
      await this.restoreSaved().catch(() => undefined);
      throw e;
    }
    this.s.alertsCreated += r.created.length;
    this.s.alertsUpdated += r.updated.length;
    this.s.suppressed += r.suppressed;
    const out: DetectionResult = { ...r, events: pre ? pre.events : events.length, raisedIngestedMs: raised, recordedAt: wall() };
    this.opts.onRecorded?.(out);
    // The windows after this batch, saved once the alerts are in (off the alert path). Their cost
    // grows with the groups held, so the interval stretches to keep it under ~2 % of the time.
    const t = wall();
    if (t - this.snapshotAt >= Math.max(this.opts.checkpointIntervalMs ?? 5000, 50 * this.snapshotCostMs)) {
      try {
        const y = slicer.yieldedMs;
        await this.saveWindows(slicer);
        // Its own time: the other tasks run between its slices are not its cost.
        this.snapshotCostMs = Math.max(0, wall() - t - (slicer.yieldedMs - y));
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

const SEGMENTS = new WeakMap<RuleEngine, ReadonlySet<string>>();

/**
 * First segments of the event fields this thread reads of a prematched event: its id and
 * timestamp (match records), the dedup group-by fields, and the fields correlation state reads
 * ({@link RuleEngine.correlationPaths}). `event` is left out (its `ingested` comes in a column of
 * its own): with `event.original` it is one of the largest objects of a document. A field
 * outside these still reads right (../pipeline/prematch.ts eventView parses the whole document
 * for it), only not sooner.
 */
function readSegments(engine: RuleEngine, pipeline: 'ecs' | 'identity', groupBy: readonly string[]): ReadonlySet<string> {
  const out = new Set<string>(['id', firstSegment(builtinPipeline(pipeline).timestamp_field)]);
  for (const f of [...groupBy, ...engine.correlationPaths()]) out.add(firstSegment(f));
  return out;
}

/** A file name for a rule id: the id itself when it is a plain token (Sigma ids are UUIDs), else its hash. */
function ruleFileName(id: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id) ? `${id}.yml` : `${createHash('sha256').update(id).digest('hex')}.yml`;
}

/** Write then rename, so a crash leaves the old file or the new one, never half of one (POSIX rename(2)). */
function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function scalars(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.filter((x) => x !== null && typeof x !== 'object').map(String);
  return typeof v === 'object' ? [] : [String(v)];
}
