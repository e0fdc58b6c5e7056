import type { EcsEvent } from '../types.js';

/** What a line parser sees: the message text, the program name and the whole line. */
export interface ParseInput {
  /** The MSG part (after the syslog header), or the whole line when there was no header. */
  text: string;
  /** Lower-cased syslog APP-NAME / TAG, `''` when absent. */
  app: string;
  /** Zone for device times written without an offset (the source's zone, e.g. `Asia/Shanghai`). */
  zone?: string;
}

/**
 * A vendor line parser: fills `ev` from `input` and returns true, or returns false
 * without touching `ev` when the line is not of its format.
 */
export type LineParser = (input: ParseInput, ev: EcsEvent) => boolean;
