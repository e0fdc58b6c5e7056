/**
 * File tailing with at-least-once delivery across restarts (issue 3).
 *
 * - Files are found by glob (`*`, `?` in the last path segment) on every poll, and a poll
 *   also runs when `fs.watch` reports a change in a watched directory.
 * - A file is tracked by identity (`dev:ino`), not by name: after a rotation by rename the
 *   old file is read to its end through the open handle, then closed; the new file at the
 *   path is read from its start. A file that shrank below the read position was truncated
 *   (copytruncate) and is read again from 0.
 * - Offsets are committed to the `CheckpointStore` only after `sink.append` resolved, and
 *   only up to the end of the last complete line: a restart resumes there, so lines may be
 *   re-read after a crash (at-least-once) but never skipped. Ids derive from file identity
 *   and offset, so a re-read line carries the same id and sinks dedupe it.
 */
import { promises as fsp, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { EcsEvent, EventSink, Logger } from '../types.js';
import type { Processor } from '../syslog/processor.js';
import { eventId } from '../id.js';
import type { CheckpointStore } from './checkpoint.js';
import { CollectorError } from '../errors.js';
import { appendWithRetry, newSourceMetrics, silentLogger, waitWhileFull, type SourceMetrics } from './common.js';

/** Options of {@link FileSource}. */
export interface FileSourceOptions {
  sourceId: string;
  /** Paths or globs (`/var/log/auth.log`, `/var/log/nginx/*.log`). */
  paths: string[];
  sink: EventSink;
  process: Processor;
  timezone: string;
  checkpoints: CheckpointStore;
  logger?: Logger;
  metrics?: SourceMetrics;
  /** Longer lines are cut here and counted; default 65,536 bytes. */
  maxMessageSize?: number;
  /** Poll interval (ms); fs.watch triggers earlier polls. Default 1000. */
  pollIntervalMs?: number;
  /** Where to start in a file that has no checkpoint; default `beginning`. */
  startAt?: 'beginning' | 'end';
  /** Bytes read at once; default 256 KiB. */
  readChunk?: number;
  /** Use fs.watch besides polling; default true. */
  watch?: boolean;
  now?: () => number;
}

interface Tracked {
  key: string;
  path: string;
  fh: fsp.FileHandle;
  /** Next byte to read. */
  readPos: number;
  /** Bytes after the last LF (start at `readPos - partial.length`). */
  partial: Buffer;
  /** True while skipping the rest of an over-long line. */
  skipping: boolean;
  /** Polls in a row in which a file no longer at a globbed path gave no new bytes. */
  idlePolls: number;
  /** The file's first bytes (up to HEAD_BYTES) as last seen: a change means the content was replaced. */
  head: Buffer;
}

/** Matches one path segment against a glob with `*` and `?`. */
function segmentRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`);
}

/**
 * Expands globs whose wildcards are in the last segment. Missing directories yield nothing.
 *
 * @example
 * await expandGlobs(['/var/log/*.log']); // ['/var/log/auth.log', …]
 */
export async function expandGlobs(globs: string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const g of globs) {
    const abs = resolve(g);
    const base = basename(abs);
    if (!/[*?]/.test(base)) {
      out.add(abs);
      continue;
    }
    const dir = dirname(abs);
    const re = segmentRegExp(base);
    let names: string[] = [];
    try {
      names = await fsp.readdir(dir);
    } catch {
      continue;
    }
    // Compressed rotations (logrotate's compress) are not text; a glob like `auth.log*` must not read them.
    for (const n of names.sort()) if (re.test(n) && !COMPRESSED.test(n)) out.add(join(dir, n));
  }
  return [...out];
}

const LF = 0x0a;
/** Bytes of a file's start kept as its fingerprint (catches truncate-and-regrow between polls). */
const HEAD_BYTES = 128;

async function readHead(fh: fsp.FileHandle, size: number): Promise<Buffer> {
  const n = Math.min(size, HEAD_BYTES);
  const b = Buffer.alloc(n);
  if (n === 0) return b;
  const { bytesRead } = await fh.read(b, 0, n, 0);
  return b.subarray(0, bytesRead);
}
const COMPRESSED = /\.(gz|bz2|xz|zst|lz4|zip|Z)$/;

/**
 * Tails files into the sink with checkpointed offsets.
 *
 * @example
 * const src = new FileSource({ sourceId: 'auth', paths: ['/var/log/auth.log'], sink, process,
 *   timezone: 'Asia/Shanghai', checkpoints: await JsonFileCheckpointStore.open('cp.json') });
 * await src.start(); … await src.stop();
 */
export class FileSource {
  readonly metrics: SourceMetrics;
  private readonly o: FileSourceOptions;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly files = new Map<string, Tracked>();
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private watchers: FSWatcher[] = [];
  private polling: Promise<void> | undefined;
  private again = false;
  private chunk: Buffer | undefined;

  constructor(opts: FileSourceOptions) {
    if (opts.paths.length === 0) throw new RangeError('paths must not be empty');
    this.o = opts;
    this.metrics = opts.metrics ?? newSourceMetrics(opts.sourceId);
    this.logger = opts.logger ?? silentLogger;
    this.now = opts.now ?? Date.now;
  }

  private cpKey(fileKey: string): string {
    return `${this.o.sourceId}|${fileKey}`;
  }

  /** Starts polling (and watching); the first poll has completed when this resolves. */
  async start(): Promise<void> {
    this.running = true;
    await this.poll();
    const every = this.o.pollIntervalMs ?? 1000;
    this.timer = setInterval(() => void this.poll(), every);
    if (this.o.watch !== false) {
      for (const dir of new Set(this.o.paths.map((p) => dirname(resolve(p))))) {
        try {
          const w = watch(dir, { persistent: false }, () => void this.poll());
          w.on('error', () => undefined);
          this.watchers.push(w);
        } catch {
          // A missing directory is polled instead; it may appear later.
        }
      }
    }
  }

  /** Runs one poll now (or joins the one running and runs another after it). */
  poll(): Promise<void> {
    if (!this.running) return Promise.resolve();
    if (this.polling !== undefined) {
      this.again = true;
      return this.polling;
    }
    this.polling = (async () => {
      try {
        do {
          this.again = false;
          await this.pollOnce();
        } while (this.again && this.running);
      } catch (e) {
        // Checkpoint failures (disk full) surface here too; the next poll retries.
        const errorCode = e instanceof CollectorError ? e.code : 'COL_ERR_SOURCE_IO';
        this.logger.error({ sourceId: this.o.sourceId, errorCode, err: e, stage: 'file' }, 'File poll failed.');
      } finally {
        this.polling = undefined;
      }
    })();
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    const paths = await expandGlobs(this.o.paths);
    const seen = new Set<string>();
    const current: Tracked[] = [];
    for (const p of paths) {
      let st;
      try {
        st = await fsp.stat(p, { bigint: false });
      } catch {
        continue;
      }
      if (!st.isFile()) continue;
      const key = `${st.dev}:${st.ino}`;
      seen.add(key);
      let t = this.files.get(key);
      if (t === undefined) {
        t = await this.openTracked(p, key, st.size);
        if (t === undefined) continue;
      } else t.path = p;
      current.push(t);
    }
    // Files no longer at a globbed path (rotated away or deleted): drain them first, in order.
    for (const t of [...this.files.values()]) {
      if (seen.has(t.key)) continue;
      await this.guarded(t, async () => {
        const got = await this.readFile(t);
        if (got === 0 && ++t.idlePolls >= 2) await this.retire(t);
        else if (got > 0) t.idlePolls = 0;
      });
    }
    for (const t of current) await this.guarded(t, () => this.readFile(t));
  }

  /** Runs one file's step; its failure is logged and retried next poll without holding up other files. */
  private async guarded(t: Tracked, step: () => Promise<unknown>): Promise<void> {
    try {
      await step();
    } catch (e) {
      const errorCode = e instanceof CollectorError ? e.code : 'COL_ERR_SOURCE_IO';
      this.logger.error({ sourceId: this.o.sourceId, path: t.path, errorCode, err: e, stage: 'file' }, 'Reading a file failed; retrying next poll.');
    }
  }

  private async openTracked(path: string, key: string, size: number): Promise<Tracked | undefined> {
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(path, 'r');
    } catch (e) {
      this.logger.warn({ sourceId: this.o.sourceId, path, errorCode: 'COL_ERR_SOURCE_IO', err: (e as Error).message }, 'Cannot open file.');
      return undefined;
    }
    // The identity may have changed between stat and open (a rotation in between): use the handle's.
    const st = await fh.stat();
    const realKey = `${st.dev}:${st.ino}`;
    if (realKey !== key) {
      await fh.close();
      return undefined;
    }
    const cp = await this.o.checkpoints.get(this.cpKey(key));
    const head = await readHead(fh, st.size);
    let pos: number;
    if (cp !== undefined) {
      pos = cp.offset;
      // Shorter than the checkpoint, or a different start: truncated (and maybe regrown) or a
      // new file on a reused inode while we were down — read it from the start.
      const cpHead = cp.head !== undefined ? Buffer.from(cp.head, 'base64') : undefined;
      if (pos > st.size || (cpHead !== undefined && !head.subarray(0, cpHead.length).equals(cpHead))) {
        this.metrics.fileTruncations++;
        pos = 0;
      }
    } else pos = this.o.startAt === 'end' ? size : 0;
    const t: Tracked = { key, path, fh, readPos: pos, partial: Buffer.alloc(0), skipping: false, idlePolls: 0, head };
    this.files.set(key, t);
    this.logger.info({ sourceId: this.o.sourceId, path, offset: pos }, 'Tailing file.');
    return t;
  }

  /** Closes a rotated-away file after flushing its last line (complete now that it is no longer written). */
  private async retire(t: Tracked): Promise<void> {
    if (t.partial.length > 0 && !t.skipping) {
      const start = t.readPos - t.partial.length;
      const line = t.partial;
      t.partial = Buffer.alloc(0);
      const ev = this.toEvent(t, line, start, false);
      if (await this.deliver(t, [ev], t.readPos)) this.metrics.fileRotations++;
    } else this.metrics.fileRotations++;
    this.files.delete(t.key);
    await t.fh.close().catch(() => undefined);
    // The file left the globs and is read to its end: forget its checkpoint, so that a new
    // file that later reuses the inode is not mistaken for it and read from a stale offset.
    await this.o.checkpoints.delete(this.cpKey(t.key));
  }

  private toEvent(t: Tracked, line: Buffer, offset: number, truncated: boolean): EcsEvent {
    const bytes = line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, line.length - 1) : line;
    const receivedAt = this.now();
    const id = eventId({ kind: 'file', sourceId: this.o.sourceId, fileKey: t.key, offset, bytes });
    return this.o.process(bytes, {
      sourceId: this.o.sourceId,
      transport: 'file',
      receivedAt,
      timezone: this.o.timezone,
      eventId: id,
      file: { path: t.path, offset },
      ...(truncated ? { truncated: true } : {}),
    });
  }

  private async deliver(t: Tracked, events: EcsEvent[], commitOffset: number): Promise<boolean> {
    const ok = events.length === 0 || (await appendWithRetry(this.o.sink, events, this.metrics, this.logger, { alive: () => this.running }));
    if (!ok && !this.running) return false;
    // Commit after the sink acknowledged (or after a counted drop, so one bad batch cannot wedge the file).
    await this.o.checkpoints.set(this.cpKey(t.key), {
      path: t.path,
      fileKey: t.key,
      offset: commitOffset,
      updatedAt: this.now(),
      ...(t.head.length > 0 ? { head: t.head.toString('base64') } : {}),
    });
    return ok;
  }

  /** Reads new bytes of one file to EOF; returns how many bytes were read. */
  private async readFile(t: Tracked): Promise<number> {
    const st = await t.fh.stat();
    const head = await readHead(t.fh, st.size);
    const replaced = t.head.length > 0 && !head.subarray(0, t.head.length).equals(t.head);
    if (replaced || head.length > t.head.length) t.head = head;
    if (st.size < t.readPos || replaced) {
      // Truncated in place (copytruncate), possibly regrown past our offset: start over
      // (issue 3: rotation by truncate).
      this.metrics.fileTruncations++;
      this.logger.info({ sourceId: this.o.sourceId, path: t.path, size: st.size, offset: t.readPos }, 'File truncated; reading from the start.');
      t.readPos = 0;
      t.partial = Buffer.alloc(0);
      t.skipping = false;
    }
    const max = this.o.maxMessageSize ?? 65536;
    // One read buffer per source, allocated on first use (many files, one reader at a time).
    const chunk = (this.chunk ??= Buffer.alloc(this.o.readChunk ?? 262144));
    let total = 0;
    while (this.running) {
      await waitWhileFull(this.o.sink, () => this.running);
      if (!this.running) break;
      const { bytesRead } = await t.fh.read(chunk, 0, chunk.length, t.readPos);
      if (bytesRead === 0) break;
      total += bytesRead;
      const data = Buffer.concat([t.partial, chunk.subarray(0, bytesRead)]);
      const dataStart = t.readPos - t.partial.length;
      t.readPos += bytesRead;
      const events: EcsEvent[] = [];
      let lineStart = 0;
      for (;;) {
        const lf = data.indexOf(LF, lineStart);
        if (lf === -1) break;
        if (t.skipping) {
          t.skipping = false;
        } else if (lf > lineStart) {
          const cut = lf - lineStart > max;
          events.push(this.toEvent(t, data.subarray(lineStart, cut ? lineStart + max : lf), dataStart + lineStart, cut));
        }
        lineStart = lf + 1;
      }
      let rest = data.subarray(lineStart);
      if (t.skipping) rest = Buffer.alloc(0);
      else if (rest.length > max) {
        // An over-long line without LF yet: emit its first `max` bytes now, skip the rest up to the LF.
        events.push(this.toEvent(t, rest.subarray(0, max), dataStart + lineStart, true));
        rest = Buffer.alloc(0);
        t.skipping = true;
      }
      t.partial = Buffer.from(rest);
      const commit = t.skipping ? t.readPos : t.readPos - t.partial.length;
      const ok = await this.deliver(t, events, commit);
      if (!ok && !this.running) break;
    }
    return total;
  }

  /** Stops polling; batches in flight settle first. Checkpoints stay for the next start. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    for (const w of this.watchers) w.close();
    this.watchers = [];
    const p = this.polling;
    this.running = false;
    if (p !== undefined) await p;
    for (const t of this.files.values()) await t.fh.close().catch(() => undefined);
    this.files.clear();
  }
}
