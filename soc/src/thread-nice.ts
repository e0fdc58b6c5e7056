/**
 * Background threads that should yield the cores to the pipeline's others (the alerts
 * checkpointer, the prepare worker without detection) lower their own priority.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/**
 * Adds `by` to the calling thread's nice value (at most 19). Linux sets it per thread; the value
 * adds to the process's own, so a server started niced keeps this thread behind its others. Where
 * /proc/thread-self is missing (not Linux) the thread keeps the process's priority.
 */
export function niceThisThread(by: number): void {
  try {
    // This thread's id is the last part of /proc/thread-self (`<pid>/task/<tid>`).
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(tid, Math.min(19, getPriority(tid) + by));
  } catch {
    // Not Linux: the thread runs at the process's priority.
  }
}
