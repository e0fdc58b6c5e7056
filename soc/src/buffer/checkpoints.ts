/**
 * The file tailer's `CheckpointStore` (collectors/src/sources/checkpoint.ts) on the buffer's
 * database: offsets live beside the buffered lines, in the same WAL, so a checkpoint is never
 * durable before the lines it covers are (the tailer sets it after `append` resolved) and both
 * survive the same crashes.
 */
import type { Checkpoint as FileCheckpoint, CheckpointStore } from '@xiangan/collectors';
import type { DurableBuffer } from './durable.js';

/**
 * Checkpoints stored in `buffer.db`.
 *
 * @example
 * ```ts
 * const checkpoints = new BufferCheckpointStore(buffer);
 * await startSource({ id: 'auth', type: 'file', paths: ['/var/log/auth.log'] }, { sink: buffer, checkpoints });
 * ```
 */
export class BufferCheckpointStore implements CheckpointStore {
  constructor(private readonly buffer: DurableBuffer) {}

  async get(key: string): Promise<FileCheckpoint | undefined> {
    const v = this.buffer.getCheckpoint(key);
    return v === undefined ? undefined : (JSON.parse(v) as FileCheckpoint);
  }

  async set(key: string, cp: FileCheckpoint): Promise<void> {
    this.buffer.setCheckpoint(key, JSON.stringify(cp));
  }

  async delete(key: string): Promise<void> {
    this.buffer.deleteCheckpoint(key);
  }

  async list(prefix: string): Promise<Array<[string, FileCheckpoint]>> {
    return this.buffer.listCheckpoints(prefix).map(([k, v]) => [k, JSON.parse(v) as FileCheckpoint]);
  }
}
