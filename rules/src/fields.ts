/**
 * Field reads for the engine. Each path compiles once to a getter with its keys named as
 * constants (fast property reads whatever the shape of the events), and gets a slot (a small
 * integer) for a per-event memo: while the engine evaluates one event (between
 * {@link beginEvent} and {@link endEvent}), each field is lower-cased once, however many
 * logsource checks, index lookups and predicates ask for it — a Sysmon process creation meets
 * some 30 fields through 80-odd reads. The memo is a few arrays indexed by slot and stamped with
 * the event's epoch; outside that window (a getter used on its own, a second event) every read
 * goes to the event itself.
 */
import type { EventLike } from './types.js';

/** Read one value (possibly an array) from an event. */
export type Getter = (ev: EventLike) => unknown;

/** A compiled field path with its memo slot. */
export interface Field {
  readonly path: string;
  readonly slot: number;
  /** Read the value (possibly an array) from an event. */
  readonly get: Getter;
}

/** Counters the field reads bump. */
export interface TruncationCounter {
  truncatedValues: number;
}

/** Lower-cased text of a field: one string, several (multi-valued field), or none. */
export type LowText = string | string[] | undefined;

let cur: object | null = null;
let epoch = 1;
const lowEp: number[] = [];
const lowV: LowText[] = [];
const baseEp: number[] = [];
const baseV: string[] = [];
const byPath = new Map<string, Field>();

/**
 * Start memoising the lower-cased text of `ev`'s fields (the engine calls this at the top of
 * `match`). Any memo of an earlier event, or of this object before it was changed, is dropped.
 */
export function beginEvent(ev: EventLike): void {
  cur = ev;
  if (++epoch >= 0x3fffffff) {
    epoch = 1;
    lowEp.fill(0);
    baseEp.fill(0);
  }
}

/** Stop memoising (the caller may change the event afterwards). */
export function endEvent(): void {
  cur = null;
}

/**
 * The compiled field for a dotted path: the nested value (arrays on the way are flattened, as
 * ECS multi-valued fields), else a literal dotted key (flattened events).
 *
 * @example
 * field('process.parent.name').get({ process: { parent: { name: 'sshd' } } }) // 'sshd'
 */
export function field(path: string): Field {
  let f = byPath.get(path);
  if (f) return f;
  const k = lowEp.length;
  lowEp.push(0);
  lowV.push(undefined);
  baseEp.push(0);
  baseV.push('');
  f = { path, slot: k, get: compileGetter(path) };
  byPath.set(path, f);
  return f;
}

/**
 * A getter for a dotted path (see {@link field}).
 *
 * @example
 * makeGetter('process.parent.name')({ process: { parent: { name: 'sshd' } } }) // 'sshd'
 */
export function makeGetter(path: string): Getter {
  return field(path).get;
}

/**
 * `s.toLowerCase()`, but for short values `s` itself when no character would change: V8 copies
 * the string even then, and most short values the engine reads (hosts, actions, addresses) already
 * are lower case. A character changes only if it is an ASCII capital or outside ASCII; those
 * strings take `toLowerCase` (full Unicode case mapping) as before.
 *
 * @example
 * lowerCase('sshd') // 'sshd' (the same string, no copy)
 */
export function lowerCase(s: string): string {
  // Long values (messages, command lines) mostly hold a capital somewhere: the native call's
  // word-at-a-time conversion beats a scan here.
  if (s.length > 32) return s.toLowerCase();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && (c <= 90 || c >= 128)) return s.toLowerCase();
  }
  return s;
}

function lowerScalar(x: unknown, maxLen: number, c: TruncationCounter): string | undefined {
  if (typeof x === 'string') {
    if (x.length > maxLen) {
      c.truncatedValues++;
      return lowerCase(x.slice(0, maxLen));
    }
    return lowerCase(x);
  }
  if (typeof x === 'number' || typeof x === 'boolean' || typeof x === 'bigint') return String(x);
  return undefined;
}

/** The lower-cased text of a value read from a field (see {@link lowText}), without the memo. */
export function computeLow(v: unknown, maxLen: number, c: TruncationCounter): LowText {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) return lowerScalar(v, maxLen, c);
  let one: string | undefined;
  let many: string[] | undefined;
  for (let i = 0; i < v.length; i++) {
    const s = lowerScalar(v[i], maxLen, c);
    if (s === undefined) continue;
    if (many) many.push(s);
    else if (one === undefined) one = s;
    else many = [one, s];
  }
  return many ?? one;
}

/**
 * The lower-cased text of a field's scalar values (strings cut to `maxLen` characters first,
 * counted), memoised for the current event.
 *
 * @example
 * lowText(field('user.name'), { user: { name: 'Bob' } }, 65536, counters) // 'bob'
 */
export function lowText(f: Field, ev: EventLike, maxLen: number, c: TruncationCounter): LowText {
  if (ev !== cur) return computeLow(f.get(ev), maxLen, c);
  const k = f.slot;
  if (lowEp[k] === epoch) return lowV[k];
  const v = computeLow(f.get(ev), maxLen, c);
  lowEp[k] = epoch;
  lowV[k] = v;
  return v;
}

/**
 * The memo's arrays by slot (stamps and texts), for code generated over them (the prefilter's
 * collect function inlines {@link lowText}). Their identity never changes.
 */
export const memoSlots: { readonly ep: number[]; readonly v: LowText[] } = { ep: lowEp, v: lowV };

/** The current event's memo stamp, or -1 when `ev` is not the event being memoised. */
export function memoEpoch(ev: EventLike): number {
  return ev === cur ? epoch : -1;
}

/**
 * Index of the last `\\` or `/` in `s`, or -1: one backward scan that stops at the first one
 * found (two `lastIndexOf` calls scan a Windows path whole for the `/` it lacks).
 */
export function lastSeparator(s: string): number {
  for (let i = s.length - 1; i >= 0; i--) {
    const c = s.charCodeAt(i);
    if (c === 92 || c === 47) return i;
  }
  return -1;
}

/** Key of the basename index: the lower-cased text after the last `\` or `/`. */
export function basenameOf(s: string): string {
  return lowerCase(basenameLow(s));
}

/** The text after the last `\\` or `/`, as it is (the basename key when the value is already lower-cased). */
export function basenameLow(sl: string): string {
  const i = lastSeparator(sl);
  return i >= 0 ? sl.slice(i + 1) : sl;
}

/** Basename of an already lower-cased single value `sl` of field `f`, memoised for the current event. */
export function lowBasename(f: Field, ev: EventLike, sl: string): string {
  if (ev !== cur) return basenameOf(sl);
  const k = f.slot;
  if (baseEp[k] === epoch) return baseV[k];
  const b = basenameLow(sl);
  baseEp[k] = epoch;
  baseV[k] = b;
  return b;
}

/** Whether `t` holds for some value of `v` (a {@link LowText}). */
export function someLow(v: LowText, t: (s: string) => boolean): boolean {
  if (v === undefined) return false;
  if (typeof v === 'string') return t(v);
  for (let i = 0; i < v.length; i++) if (t(v[i])) return true;
  return false;
}

/**
 * Code generated for one path: a getter that reads `ev[key]` with keys from an array makes every
 * read a megamorphic keyed load (50-100 ns on a busy machine, once the main cost of matching);
 * code that names each key as a constant lets the engine cache each read on its own (as the
 * collectors' compiled setters do). Keys are embedded as JSON string literals, so any text in a
 * rule's field name is safe. Arrays on the way take the generic {@link walk}.
 */
function compileGetter(path: string): Getter {
  const segs = path.split('.');
  const lit = JSON.stringify;
  if (segs.length === 1) return new Function(`return (ev) => ev[${lit(path)}];`)() as Getter;
  let body = 'let x = ev;\n';
  for (let i = 0; i < segs.length; i++) {
    if (i > 0) body += `if (x === undefined || x === null || typeof x !== 'object') return ev[${lit(path)}];\nif (Array.isArray(x)) { x = walk(x, segs, ${i}); return x !== undefined ? x : ev[${lit(path)}]; }\n`;
    body += `x = x[${lit(segs[i])}];\n`;
  }
  body += `return x !== undefined ? x : ev[${lit(path)}];`;
  return new Function('walk', 'segs', `return (ev) => {\n${body}\n};`)(walk, segs) as Getter;
}

function walk(v: unknown, segs: string[], i: number): unknown {
  for (; i < segs.length; i++) {
    if (v === null || v === undefined || typeof v !== 'object') return undefined;
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      for (const x of v) {
        const r = walk(x, segs, i);
        if (Array.isArray(r)) out.push(...r);
        else if (r !== undefined) out.push(r);
      }
      return out.length ? out : undefined;
    }
    v = (v as Record<string, unknown>)[segs[i]];
  }
  return v;
}
