/**
 * The detector's windows checkpoint in a file of its own (SQLite backend): the JSON text is
 * streamed from `RuleEngine.writeSnapshot`'s pieces through one 1 MiB buffer into a temporary
 * file, which is fsynced and renamed over the last one (then the directory is fsynced), so a
 * crash leaves the old checkpoint or the new one, never part of one (POSIX rename(2)).
 *
 * Saved through SQLite, the ~11 MB text of ~50k groups was held whole in the process several times
 * over for a few milliseconds (the detector's buffer, better-sqlite3's bound copy, SQLite's cast
 * and record): the tallest of the server's short RSS peaks with detection (soc/README "Memory,
 * session 11"). Here at most the 1 MiB buffer is.
 *
 * @example
 * const f = new WindowsFile('/var/lib/xiangan/detector.windows.json');
 * await f.write((w) => { w('{"a":'); w('1}'); });
 * f.read(); // '{"a":1}'
 */
import { close, closeSync, fsync, open, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { SocError } from '../errors.js';

const fsyncAsync = promisify(fsync);
const openAsync = promisify(open);
const closeAsync = promisify(close);

/** Writes the text's pieces through `write`, at once or by its returned promise's end. */
export type Produce = (write: (s: string) => void) => void | Promise<void>;

/** Bytes gathered before a write(2). */
const CHUNK = 1 << 20;

export class WindowsFile {
  private saves = 0;
  /** Saves run one after another, so the last one asked for is the one left in place. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string) {}

  /** The saved text, or undefined when there is no file; `SOC_ERR_WINDOWS_CHECKPOINT` when it cannot be read. */
  read(): string | undefined {
    try {
      return readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new SocError('SOC_ERR_WINDOWS_CHECKPOINT', `cannot read the saved correlation windows ${this.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Delete the temporary files of saves a crash cut short (they were never renamed, so never read). */
  removeLeftovers(): void {
    const prefix = `${basename(this.path)}.tmp-`;
    let names: string[];
    try {
      names = readdirSync(dirname(this.path));
    } catch {
      return;
    }
    for (const n of names) if (n.startsWith(prefix)) rmSync(join(dirname(this.path), n), { force: true });
  }

  /**
   * Save the text `produce` writes (well-formed UTF-16 pieces, as `JSON.stringify` gives), durably,
   * in place of the last one. Returns its UTF-8 size. On any error the last saved file stays as it
   * was and the temporary file is removed. `produce` runs once the saves asked for before it
   * are done; it may write over several turns of the event loop (the save waits for its promise).
   */
  write(produce: Produce): Promise<number> {
    const r = this.queue.then(() => this.save(produce));
    this.queue = r.catch(() => undefined);
    return r;
  }

  private async save(produce: Produce): Promise<number> {
    const tmp = `${this.path}.tmp-${process.pid}-${++this.saves}`;
    const fd = openSync(tmp, 'w', 0o600);
    let bytes = 0;
    try {
      const buf = Buffer.allocUnsafeSlow(CHUNK);
      let used = 0;
      const flush = (b: Uint8Array, n: number): void => {
        for (let off = 0; off < n; ) off += writeSync(fd, b, off, n - off);
        bytes += n;
      };
      await produce((s) => {
        // A UTF-16 code unit is at most 3 bytes of UTF-8.
        if (used + 3 * s.length > CHUNK) {
          flush(buf, used);
          used = 0;
          if (3 * s.length > CHUNK) {
            const b = Buffer.from(s, 'utf8');
            flush(b, b.length);
            return;
          }
        }
        used += buf.write(s, used, 'utf8');
      });
      flush(buf, used);
      // Off the main thread (libuv's pool): the event loop reads sockets meanwhile.
      await fsyncAsync(fd);
    } catch (e) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw e;
    }
    closeSync(fd);
    renameSync(tmp, this.path);
    const dfd = await openAsync(dirname(this.path), 'r');
    try {
      await fsyncAsync(dfd);
    } finally {
      await closeAsync(dfd);
    }
    return bytes;
  }
}
