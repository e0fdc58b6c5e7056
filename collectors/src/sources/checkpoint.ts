/**
 * Checkpoints of the file tailer: for each file identity (device:inode), the offset up to
 * which every line has been acknowledged by the sink. The storage engineer implements
 * `CheckpointStore` on SQLite; the in-memory and JSON-file stores here serve tests and
 * the CLI. The JSON store writes atomically (temp file + fsync + rename) so a crash
 * leaves the old or the new checkpoint, never a torn one.
 */
import { promises as fsp } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { CollectorError } from '../errors.js';

/** Where a file tailer stands in one file. */
export interface Checkpoint {
  /** Path the file had when last read (it may have been renamed since). */
  path: string;
  /** `dev:ino`, the identity that survives a rename. */
  fileKey: string;
  /** Bytes acknowledged: the next line to read starts here. */
  offset: number;
  /** Ms since the epoch of the last commit. */
  updatedAt: number;
  /**
   * Base64 of the file's first bytes (≤ 128) when the checkpoint was written: a file whose
   * start differs on restart was replaced or truncated and regrown, and is read from 0.
   */
  head?: string;
}

/**
 * Durable key → checkpoint map. `set` resolves only once the checkpoint survives a crash.
 *
 * @example
 * await store.set('auth-log|2049:131', { path: '/var/log/auth.log', fileKey: '2049:131', offset: 4096, updatedAt: Date.now() });
 */
export interface CheckpointStore {
  get(key: string): Promise<Checkpoint | undefined>;
  set(key: string, cp: Checkpoint): Promise<void>;
  /** Removes a checkpoint (the file is gone and fully read). */
  delete(key: string): Promise<void>;
  /** All checkpoints whose key starts with `prefix`. */
  list(prefix: string): Promise<Array<[string, Checkpoint]>>;
}

/**
 * Checkpoints in memory (tests; a restart within one process).
 *
 * @example
 * const store = new MemoryCheckpointStore();
 */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly m = new Map<string, Checkpoint>();
  async get(key: string): Promise<Checkpoint | undefined> {
    const v = this.m.get(key);
    return v === undefined ? undefined : { ...v };
  }
  async set(key: string, cp: Checkpoint): Promise<void> {
    this.m.set(key, { ...cp });
  }
  async delete(key: string): Promise<void> {
    this.m.delete(key);
  }
  async list(prefix: string): Promise<Array<[string, Checkpoint]>> {
    return [...this.m].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k, { ...v }]);
  }
}

/**
 * Checkpoints in one JSON file, rewritten atomically on every `set`.
 *
 * @example
 * const store = await JsonFileCheckpointStore.open('./data/checkpoints.json');
 */
export class JsonFileCheckpointStore implements CheckpointStore {
  private readonly m: Map<string, Checkpoint>;
  private readonly path: string;
  private writing: Promise<void> = Promise.resolve();

  private constructor(path: string, m: Map<string, Checkpoint>) {
    this.path = path;
    this.m = m;
  }

  /** Opens (or starts) the store at `path`. A corrupt file raises COL_ERR_CHECKPOINT rather than silently restarting from zero. */
  static async open(path: string): Promise<JsonFileCheckpointStore> {
    let text: string | undefined;
    try {
      text = await fsp.readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new CollectorError('COL_ERR_CHECKPOINT', `cannot read checkpoints ${path}`, { cause: e });
      }
    }
    const m = new Map<string, Checkpoint>();
    if (text !== undefined) {
      try {
        const o = JSON.parse(text) as Record<string, Checkpoint>;
        for (const [k, v] of Object.entries(o)) {
          if (typeof v?.offset !== 'number' || typeof v.fileKey !== 'string') throw new Error(`bad entry ${k}`);
          m.set(k, v);
        }
      } catch (e) {
        throw new CollectorError('COL_ERR_CHECKPOINT', `checkpoint file ${path} is corrupt`, { cause: e });
      }
    }
    return new JsonFileCheckpointStore(path, m);
  }

  async get(key: string): Promise<Checkpoint | undefined> {
    const v = this.m.get(key);
    return v === undefined ? undefined : { ...v };
  }

  async set(key: string, cp: Checkpoint): Promise<void> {
    this.m.set(key, { ...cp });
    await this.flush();
  }

  async delete(key: string): Promise<void> {
    this.m.delete(key);
    await this.flush();
  }

  async list(prefix: string): Promise<Array<[string, Checkpoint]>> {
    return [...this.m].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k, { ...v }]);
  }

  private flush(): Promise<void> {
    // Writes are serialised; each writes the whole current map.
    const next = this.writing.then(async () => {
      const tmp = join(dirname(this.path), `.${basename(this.path)}.tmp`);
      try {
        const fh = await fsp.open(tmp, 'w');
        try {
          await fh.writeFile(JSON.stringify(Object.fromEntries(this.m)));
          await fh.sync();
        } finally {
          await fh.close();
        }
        await fsp.rename(tmp, this.path);
      } catch (e) {
        throw new CollectorError('COL_ERR_CHECKPOINT', `cannot write checkpoints ${this.path}`, { cause: e });
      }
    });
    this.writing = next.catch(() => undefined);
    return next;
  }
}
