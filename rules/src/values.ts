/**
 * Compilation of one detection item — a field, its value modifiers and its values — into a
 * predicate over events (Sigma specification v2 §Value modifiers, §Wildcards).
 *
 * Strings are case-insensitive unless `cased`; `*`/`?` are wildcards and `\*`, `\?`, `\\` their
 * escapes (a backslash before any other character is literal, as Sigma v2 says). Anything
 * non-trivial runs through RE2, so every match is linear in the value length.
 */
import RE2 from 're2';
import { AhoCorasick } from './aho.js';
import { isoMs } from '@xiangan/collectors';
import { RuleError } from './errors.js';
import { cidrContains, cidrV4, parseCidr, parseIp, v4int } from './ip.js';
import type { ThreatList } from './lists.js';
import type { EventLike } from './types.js';
import { basenameLow, basenameOf, field as fieldOf, lowerCase, lowText, makeGetter, someLow, type Getter } from './fields.js';

export { basenameOf, makeGetter, type Getter };

/** One way an index lookup can find a rule: the event's `field` has a value whose key is in `keys`. */
export interface HintAlt {
  field: string;
  /**
   * `exact`: lower-cased value; `basename`: its last path segment; `substr`: a literal the
   * lower-cased value contains; `exists`: the field has a value at all (`keys` empty).
   */
  kind: 'exact' | 'basename' | 'substr' | 'exists';
  keys: string[];
}

/**
 * A necessary condition the engine indexes on: if the rule matches, at least one alternative
 * holds — the event's field has a value whose key (the lower-cased value, or its last path
 * segment) is in that alternative's keys. Disjunctions come from OR'ed selections such as
 * `Image|endswith: '\x.exe'` or `OriginalFileName: 'x.exe'`.
 */
export type Hint = HintAlt[];

/** A compiled predicate with the index hints it implies. */
export interface Pred {
  test: (ev: EventLike) => boolean;
  hints: Hint[];
  /** How `test` combines other predicates (absent for a field test): what {@link fuseTest} compiles. */
  shape?: PredShape;
}

/** The boolean structure of a combined predicate, evaluated left to right with short circuits. */
export type PredShape = { op: 'and' | 'or'; ps: Pred[] } | { op: 'not'; p: Pred } | { op: 'of'; n: number; ps: Pred[] };

/** Bounds applied while compiling and matching (DESIGN.md convention 6). */
export interface Limits {
  /** Longest value a rule may carry (characters). */
  maxRuleValueLength: number;
  /** Longest regular expression source (characters). */
  maxRegexLength: number;
  /** Most values one item may expand to (windash, base64offset, lists of values). */
  maxExpansion: number;
  /** Event string values longer than this are matched on their first this-many characters (counted). */
  maxEventValueLength: number;
}

/** Default bounds. */
export const DEFAULT_LIMITS: Limits = {
  maxRuleValueLength: 16384,
  maxRegexLength: 4096,
  maxExpansion: 16384,
  maxEventValueLength: 65536,
};

/** Counters the predicates bump while matching. */
export interface MatchCounters {
  truncatedValues: number;
}

/** What compiling an item needs from its rule and pipeline. */
export interface ValueContext {
  mapField(name: string): string;
  keywordFields: string[] | '*';
  lists: ReadonlyMap<string, ThreatList>;
  limits: Limits;
  counters: MatchCounters;
  /** Event path of the event time (for `xiangan-expires-within`). */
  timestampField: string;
  /** Path for error messages. */
  path: string;
}

/** Scalar → string for matching, undefined for objects. */
function scalarText(x: unknown, lim: Limits, c: MatchCounters): string | undefined {
  if (typeof x === 'string') {
    if (x.length > lim.maxEventValueLength) {
      c.truncatedValues++;
      return x.slice(0, lim.maxEventValueLength);
    }
    return x;
  }
  if (typeof x === 'number' || typeof x === 'boolean' || typeof x === 'bigint') return String(x);
  return undefined;
}

function anyText(v: unknown, f: (s: string) => boolean, lim: Limits, c: MatchCounters): boolean {
  if (Array.isArray(v)) {
    for (const x of v) {
      const s = scalarText(x, lim, c);
      if (s !== undefined && f(s)) return true;
    }
    return false;
  }
  const s = scalarText(v, lim, c);
  return s !== undefined && f(s);
}

// ---- wildcard strings -----------------------------------------------------------------

// Many rules test the same few fields of one event in a row (CommandLine, Image…): a tiny
// memo of recent lower-casings saves most of the repeated work.
const MEMO = 8;
const memoIn: string[] = new Array(MEMO).fill('');
const memoOut: string[] = new Array(MEMO).fill('');
let memoNext = 0;
/**
 * `s.toLowerCase()` through a four-entry memo shared by the engine's index lookups and the
 * predicates, which lower-case the same few values of one event again and again.
 *
 * @example
 * lower('C:\\Windows\\CMD.EXE') // 'c:\\windows\\cmd.exe'
 */
export function lower(s: string): string {
  for (let i = 0; i < MEMO; i++) if (memoIn[i] === s) return memoOut[i];
  const l = lowerCase(s);
  memoIn[memoNext] = s;
  memoOut[memoNext] = l;
  memoNext = (memoNext + 1) % MEMO;
  return l;
}

/** A literal run or a wildcard of a Sigma string value. */
export type SigmaToken = { lit: string } | { wild: '*' | '?' };
type Tok = SigmaToken;

/** Split a Sigma string into literals and wildcards, resolving `\*`, `\?`, `\\` escapes. */
function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let lit = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && (s[i + 1] === '*' || s[i + 1] === '?' || s[i + 1] === '\\')) {
      lit += s[i + 1];
      i++;
    } else if (c === '*' || c === '?') {
      if (lit) out.push({ lit });
      lit = '';
      const prev = out[out.length - 1];
      // Consecutive stars are one star.
      if (!(c === '*' && prev && 'wild' in prev && prev.wild === '*')) out.push({ wild: c });
    } else lit += c;
  }
  if (lit) out.push({ lit });
  return out;
}

/**
 * Add the wildcards of `contains`/`startswith`/`endswith` to an already tokenized value: a value
 * that ends in a backslash (`Image|contains: '\\'`) keeps it literal instead of escaping the
 * added `*`, as pySigma adds the wildcards after parsing the value.
 */
function wrap(toks: Tok[], matchType: 'exact' | 'contains' | 'startswith' | 'endswith'): Tok[] {
  const star: Tok = { wild: '*' };
  const isStar = (t: Tok | undefined) => t !== undefined && 'wild' in t && t.wild === '*';
  const out = toks.slice();
  if ((matchType === 'contains' || matchType === 'endswith') && !isStar(out[0])) out.unshift(star);
  if ((matchType === 'contains' || matchType === 'startswith') && !isStar(out[out.length - 1])) out.push(star);
  return out;
}

/**
 * A Sigma value with its match type as literals and wildcards: escapes resolved, runs of `*`
 * merged, the `contains`/`startswith`/`endswith` stars added (for backends that translate
 * patterns, e.g. the Elasticsearch hunts).
 * @example sigmaWildcardTokens('a\\*b', 'contains') // [{wild:'*'}, {lit:'a*b'}, {wild:'*'}]
 */
export function sigmaWildcardTokens(value: string, matchType: 'exact' | 'contains' | 'startswith' | 'endswith'): SigmaToken[] {
  return wrap(tokenize(value), matchType);
}

function escapeRe(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/** Compiled wildcard pattern plus what the index can learn from it. */
interface StrMatcher {
  /** Test on the event's text as it is. */
  f: (s: string) => boolean;
  /** Case-insensitive patterns: the same test on the already lower-cased text (the engine's memo). */
  fl?: (sl: string) => boolean;
  exactKey?: string;
  basenameKey?: string;
  /** The longest literal of the pattern, lower-cased: every match contains it. */
  lit?: string;
  /** The pattern is `*literal*` (a plain substring test). */
  substring?: boolean;
  /** The pattern is `*literal` (a plain suffix test). */
  suffix?: boolean;
}

function compileWildcard(toks: Tok[], cased: boolean, ctx: ValueContext): StrMatcher {
  const m = compileWildcardFn(toks, cased, ctx);
  let lit = '';
  for (const t of toks) if ('lit' in t && t.lit.length > lit.length) lit = t.lit;
  if (lit) m.lit = lit.toLowerCase();
  return m;
}

/** A matcher from a test on text in its matching case (lower-cased unless `cased`). */
function withCase(cased: boolean, t: (s: string) => boolean, extra: Omit<StrMatcher, 'f' | 'fl'> = {}): StrMatcher {
  return cased ? { f: t, ...extra } : { f: (s) => t(lower(s)), fl: t, ...extra };
}

function compileWildcardFn(toks: Tok[], cased: boolean, ctx: ValueContext): StrMatcher {
  const norm = (x: string): string => (cased ? x : x.toLowerCase());
  const lits = toks.map((t) => ('lit' in t ? norm(t.lit) : null));
  const shape = toks.map((t) => ('lit' in t ? 'L' : t.wild)).join('');
  const L = (i: number): string => lits[i] as string;
  switch (shape) {
    case '':
      return withCase(cased, (s) => s.length === 0, { exactKey: '' });
    case 'L': {
      const a = L(0);
      return withCase(cased, (s) => s === a, { exactKey: a.toLowerCase() });
    }
    case '*':
      return withCase(cased, () => true);
    case '*L*': {
      const a = L(1);
      return withCase(cased, (s) => s.includes(a), { substring: true });
    }
    case 'L*': {
      const a = L(0);
      return withCase(cased, (s) => s.startsWith(a));
    }
    case '*L': {
      const a = L(1);
      const m = withCase(cased, (s) => s.endsWith(a), { suffix: true });
      const sep = Math.max(a.lastIndexOf('\\'), a.lastIndexOf('/'));
      if (sep >= 0 && sep < a.length - 1) m.basenameKey = a.slice(sep + 1).toLowerCase();
      return m;
    }
    case 'L*L': {
      const a = L(0);
      const b = L(2);
      return withCase(cased, (s) => s.length >= a.length + b.length && s.startsWith(a) && s.endsWith(b));
    }
  }
  let src = '^';
  for (const t of toks) src += 'lit' in t ? escapeRe(t.lit) : t.wild === '*' ? '.*' : '.';
  src += '$';
  const re = makeRe(src, cased ? 's' : 'is', ctx);
  // RE2 folds case itself: the lower-cased text matches as the original would.
  const m: StrMatcher = cased ? { f: (s) => re.test(s) } : { f: (s) => re.test(s), fl: (s) => re.test(s) };
  const last = toks[toks.length - 1];
  if (toks.length >= 2 && 'lit' in last && toks[toks.length - 2] && 'wild' in toks[toks.length - 2] && (toks[toks.length - 2] as { wild: string }).wild === '*') {
    const a = last.lit.toLowerCase();
    const sep = Math.max(a.lastIndexOf('\\'), a.lastIndexOf('/'));
    if (sep >= 0 && sep < a.length - 1) m.basenameKey = a.slice(sep + 1);
  }
  return m;
}

function makeRe(src: string, flags: string, ctx: ValueContext): RE2 {
  if (src.length > ctx.limits.maxRegexLength) throw new RuleError('RULE_ERR_LIMIT', `regular expression of ${src.length} characters exceeds ${ctx.limits.maxRegexLength}`, { path: ctx.path });
  try {
    return new RE2(src, flags);
  } catch (e) {
    throw new RuleError('RULE_ERR_REGEX', `regular expression not supported by RE2 (linear time): ${(e as Error).message}`, { path: ctx.path, cause: e });
  }
}

/**
 * Whether an alternative of a required regex group (`-(W|R)`) may be an index key: a useful
 * literal, or two characters one of which is a symbol (a switch such as `-w`), which an ordinary
 * command line holds far less often than a pair of letters. Never one with an `s`: RE2 folds
 * U+017F to it under `i` and the index scans lower-cased text, which keeps U+017F.
 */
function usefulAlt(a: string): boolean {
  return !a.includes('s') && (usefulLit(a) || (a.length === 2 && /[^\p{L}\p{N}\s]/u.test(a)));
}

/** Whether `l` lacks one of `lits`. */
function lacksAll(l: string, lits: readonly string[]): boolean {
  for (let i = 0; i < lits.length; i++) if (!l.includes(lits[i])) return true;
  return false;
}

/** Whether `l` holds no alternative of one of the groups in `anyOf`. */
function lacksAny(l: string, anyOf: readonly (readonly string[])[]): boolean {
  for (let i = 0; i < anyOf.length; i++) {
    const alts = anyOf[i];
    let found = false;
    for (let k = 0; k < alts.length && !found; k++) found = l.includes(alts[k]);
    if (!found) return true;
  }
  return false;
}

/**
 * Whether a literal is selective enough for the substring automaton: three characters, or two
 * non-ASCII ones (an emoji or a CJK pair is rare enough in logs).
 */
function usefulLit(l: string): boolean {
  if (l.length >= 3) return true;
  // Short literals narrow well when they hold no letter or digit: `^^`, `;;` (cmd.exe
  // obfuscation) or a symbol such as an emoji, rare in ordinary command lines and messages.
  return l.length > 0 && !/[\p{L}\p{N}\s]/u.test(l) && (l.length === 2 || /[^\x00-\x7f]/.test(l));
}

/** More literals than the engine files a hint under (condition.ts MAX_HINT_KEYS). */
const MAX_LIT_KEYS = 256;

/**
 * For literals that each hold a rare code unit (the 1,000 emoji of a SigmaHQ rule: most behind
 * three high surrogates, keycaps such as `1️⃣` behind U+FE0F), the first such unit of each: a
 * text that contains a literal contains every code unit of it, so these are a necessary
 * condition where the list is too long to index or holds literals too short to. Rare: outside
 * ASCII and not a letter, digit or space. None if some literal has no rare unit.
 */
function rareUnits(lits: string[]): string[] {
  const keys = new Set<string>();
  for (const l of lits) {
    let k: string | undefined;
    for (let i = 0; i < l.length && k === undefined; i++) if (l.charCodeAt(i) >= 128 && !/[\p{L}\p{N}\s]/u.test(l[i])) k = l[i];
    if (k === undefined) return [];
    keys.add(k);
  }
  return keys.size <= MAX_LIT_KEYS ? [...keys] : [];
}

/**
 * The longest run of plain characters a regular expression requires, lower-cased, or '' when
 * unsure (the first of {@link regexLiterals} of the greatest length).
 *
 * @example
 * regexLiteral('ipconfig\\s+/all') // 'ipconfig'
 */
export function regexLiteral(src: string): string {
  return longest(regexLiterals(src));
}

/** The first of the longest strings of `runs`, or ''. */
function longest(runs: readonly string[]): string {
  let best = '';
  for (const l of runs) if (l.length > best.length) best = l;
  return best;
}

/**
 * Every run of plain characters a regular expression requires, lower-cased, in pattern order;
 * none when unsure. Conservative: any top-level alternation gives up; a quantified character, a
 * class, a group, a repetition's bounds or an escape ends a run (and a character followed by
 * `?`, `*` or `{` is dropped). Each run lies outside groups and alternations, so every match contains all of them.
 *
 * @example
 * regexLiterals('cmd.{0,5}/c\\s"set\\s') // ['cmd', '/c', '"set']
 */
export function regexLiterals(src: string): string[] {
  return scanRegex(src).runs;
}

/**
 * `( | )` groups of plain alternatives a match needs (`-(W|R)` → one of `-w`, `-r`): the run
 * just before the group prefixed to each alternative, lower-cased. Only groups of plain
 * characters, not optional (`?`, `*`, `{` after them), outside any other group; none when unsure.
 *
 * @example
 * regexAlternatives('-(W|R)\\s') // [['-w', '-r']]
 */
export function regexAlternatives(src: string): string[][] {
  return scanRegex(src).anyOf;
}

const PLAIN = /[A-Za-z0-9 _\-:;,'"=<>!@#%&~`/]/;

/** The alternatives of the group opening at `src[i]` when all are plain and it is required, else null. */
function plainAlternatives(src: string, i: number): string[] | null {
  let j = i + 1;
  if (src.startsWith('?:', j)) j += 2;
  else if (src[j] === '?') return null;
  const alts = [''];
  for (; j < src.length && src[j] !== ')'; j++) {
    const c = src[j];
    if (c === '|') alts.push('');
    else if (PLAIN.test(c)) alts[alts.length - 1] += c;
    else return null;
  }
  const q = src[j + 1];
  if (j >= src.length || q === '?' || q === '*' || q === '{' || alts.some((a) => a === '')) return null;
  return alts;
}

function scanRegex(src: string): { runs: string[]; anyOf: string[][] } {
  const anyOf: string[][] = [];
  let depth = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') i++;
    else if (c === '[') {
      while (i < src.length && src[i] !== ']') i += src[i] === '\\' ? 2 : 1;
    } else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) return { runs: [], anyOf };
  }
  const runs: string[] = [];
  let run = '';
  const end = () => {
    if (run.length) runs.push(run.toLowerCase());
    run = '';
  };
  depth = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    const nx = src[i + 1];
    if (depth > 0) {
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')') depth--;
      continue;
    }
    if (PLAIN.test(c)) {
      if (nx === '?' || nx === '*' || nx === '{') {
        end();
        continue;
      }
      run += c;
      if (nx === '+') end();
      continue;
    }
    const before = run;
    end();
    if (c === '\\') {
      // An escaped punctuation character is literal; \d, \s, \w… are classes.
      if (nx !== undefined && /[.\\/()[\]{}|*+?^$-]/.test(nx) && !(src[i + 2] === '?' || src[i + 2] === '*' || src[i + 2] === '{')) run += nx;
      i++;
    } else if (c === '[') {
      while (i < src.length && src[i] !== ']') i += src[i] === '\\' ? 2 : 1;
    } else if (c === '{') {
      // A repetition's bounds (`{2,20}`) are not text: they once became the literal of
      // `[0-9a-fA-F]{2}\s?){2,20}`, so the rule never matched. (A `{` RE2 reads as a literal
      // is skipped too: fewer literals only cost an RE2 call.)
      while (i < src.length && src[i] !== '}') i++;
    } else if (c === '(') {
      const alts = plainAlternatives(src, i);
      if (alts) anyOf.push(alts.map((a) => (before + a).toLowerCase()));
      depth++;
    }
  }
  end();
  return { runs, anyOf };
}

// ---- value transformations ------------------------------------------------------------

type Encoding = 'utf8' | 'utf16le' | 'utf16be' | 'utf16';

function encode(s: string, enc: Encoding): Buffer {
  if (enc === 'utf8') return Buffer.from(s, 'utf8');
  const le = Buffer.from(s, 'utf16le');
  if (enc === 'utf16le') return le;
  const be = Buffer.from(le);
  be.swap16();
  // `utf16` is little-endian with a byte-order mark, as pySigma emits it.
  return enc === 'utf16be' ? be : Buffer.concat([Buffer.from([0xff, 0xfe]), le]);
}

/** Sigma `base64offset`: the three encodings of the value at byte offsets 0, 1, 2 with the unstable edges cut. */
function base64Offsets(b: Buffer): string[] {
  const start = [0, 2, 3];
  const end = [0, -3, -2];
  const out: string[] = [];
  for (let i = 0; i < 3; i++) {
    const enc = Buffer.concat([Buffer.alloc(i, 0x20), b]).toString('base64');
    const e = end[(b.length + i) % 3];
    out.push(e === 0 ? enc.slice(start[i]) : enc.slice(start[i], e));
  }
  return out;
}

/** Sigma `windash`: every dash or slash that starts an option, in each of the five dash forms. */
function windash(s: string): string[] {
  const forms = ['-', '/', '\u2013', '\u2014', '\u2015'];
  const re = /(^|\s)[-/\u2013\u2014\u2015]/g;
  if (!re.test(s)) return [s];
  return forms.map((d) => s.replace(/(^|\s)[-/\u2013\u2014\u2015]/g, `$1${d}`));
}

/** Escape a literal so it survives wildcard tokenizing. */
function escWild(s: string): string {
  return s.replace(/[\\*?]/g, '\\$&');
}

// ---- time-of-day extension ----------------------------------------------------------

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/**
 * Parse the `xiangan-worktime` value: `"Mon-Fri 08:30-18:00"` with an optional UTC offset
 * (default `+08:00`, Asia/Shanghai, which has no daylight saving time).
 */
function parseWorktime(v: string, ctx: ValueContext): (ms: number) => boolean {
  const m = /^\s*([a-z]{3})(?:-([a-z]{3}))?\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})(?:\s+([+-])(\d{2}):?(\d{2}))?\s*$/i.exec(v);
  const bad = () => new RuleError('RULE_ERR_VALUE', `xiangan-worktime value must look like "Mon-Fri 08:30-18:00 +08:00", got ${JSON.stringify(v.slice(0, 80))}`, { path: ctx.path });
  if (!m) throw bad();
  const d0 = DAYS.indexOf(m[1].toLowerCase());
  const d1 = DAYS.indexOf((m[2] ?? m[1]).toLowerCase());
  const s = Number(m[3]) * 60 + Number(m[4]);
  const e = Number(m[5]) * 60 + Number(m[6]);
  if (d0 < 0 || d1 < 0 || s >= 1440 || e > 1440 || Number(m[4]) > 59 || Number(m[6]) > 59) throw bad();
  const off = m[7] ? (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9])) : 480;
  const days = new Set<number>();
  for (let d = d0; ; d = (d + 1) % 7) {
    days.add(d);
    if (d === d1) break;
  }
  return (ms) => {
    // The local time's weekday and minute of the day as a Date's getUTCDay/getUTCHours/
    // getUTCMinutes give them (ECMA-262 §21.4.1: WeekDay(t) = (Day(t) + 4) modulo 7, minutes
    // floor(t / msPerMinute) modulo 1440), without allocating a Date per event; past the time
    // range (TimeClip) the Date is invalid and every comparison false.
    const local = ms + off * 60000;
    if (!(Math.abs(local) <= 8.64e15)) return false;
    const day = Math.floor(local / 86_400_000);
    const wd = (((day + 4) % 7) + 7) % 7;
    const mins = Math.floor(local / 60000) - day * 1440;
    if (s <= e) return days.has(wd) && mins >= s && mins < e;
    // A range over midnight (22:00-06:00) belongs to the day it starts on.
    if (mins >= s) return days.has(wd);
    return mins < e && days.has((wd + 6) % 7);
  };
}

// ---- the item compiler ----------------------------------------------------------------

const MATCH_TYPES = new Set(['contains', 'startswith', 'endswith']);
const ENCODINGS = new Set(['wide', 'utf16le', 'utf16be', 'utf16']);
const CMP = new Set(['gt', 'gte', 'lt', 'lte']);

/**
 * Compile `field|mod1|mod2: values` (field `null` for keyword detections) into a predicate.
 *
 * @example
 * const p = compileItem('CommandLine', ['contains', 'all'], ['-enc', 'hidden'], ctx);
 * p.test({ process: { command_line: 'ps -enc X -w hidden' } }) // true with the ECS pipeline
 */
export function compileItem(field: string | null, mods: string[], rawValues: unknown[], ctx: ValueContext): Pred {
  let matchType: 'exact' | 'contains' | 'startswith' | 'endswith' = 'exact';
  let all = false;
  let cased = false;
  let special: null | 're' | 'cidr' | 'exists' | 'gt' | 'gte' | 'lt' | 'lte' | 'fieldref' | 'list' | 'worktime' | 'expires' = null;
  let reFlags = '';
  let encoding: Encoding = 'utf8';
  let encodingSet = false;
  const transforms: ('base64' | 'base64offset' | 'windash')[] = [];
  const unsupported = (why: string) => new RuleError('RULE_ERR_UNSUPPORTED_MODIFIER', why, { path: ctx.path });
  const setSpecial = (s: NonNullable<typeof special>) => {
    if (special) throw unsupported(`modifier ${s} cannot be combined with ${special}`);
    special = s;
  };
  for (const raw of mods) {
    const m = raw.toLowerCase();
    if (MATCH_TYPES.has(m)) {
      if (matchType !== 'exact') throw unsupported(`modifiers ${matchType} and ${m} together`);
      matchType = m as 'contains' | 'startswith' | 'endswith';
    } else if (m === 'all') all = true;
    else if (m === 'cased') cased = true;
    else if (m === 're') setSpecial('re');
    else if (m === 'i' || m === 'm' || m === 's') {
      if (special !== 're') throw unsupported(`regex flag ${m} without re`);
      reFlags += m;
    } else if (m === 'cidr') setSpecial('cidr');
    else if (m === 'exists') setSpecial('exists');
    else if (CMP.has(m)) setSpecial(m as 'gt');
    else if (m === 'fieldref') setSpecial('fieldref');
    else if (m === 'xiangan-list') setSpecial('list');
    else if (m === 'xiangan-worktime') setSpecial('worktime');
    else if (m === 'xiangan-expires-within') setSpecial('expires');
    else if (ENCODINGS.has(m)) {
      encoding = m === 'wide' ? 'utf16le' : (m as Encoding);
      encodingSet = true;
    } else if (m === 'base64' || m === 'base64offset' || m === 'windash') transforms.push(m);
    else if (m === 'expand') throw new RuleError('RULE_ERR_UNSUPPORTED', 'the expand modifier needs placeholder values, which no pipeline defines', { path: ctx.path });
    else throw unsupported(`unknown value modifier ${JSON.stringify(raw)}`);
  }
  if (encodingSet && !transforms.some((t) => t !== 'windash')) throw unsupported('utf16/wide encodings are only supported before base64 or base64offset');
  if (special && special !== 'fieldref' && (matchType !== 'exact' || transforms.length)) throw unsupported(`modifier ${special} cannot be combined with ${matchType !== 'exact' ? matchType : transforms[0]}`);
  if (special === 'fieldref' && transforms.length) throw unsupported('fieldref cannot be combined with value transformations');
  const values = rawValues;
  if (values.length > ctx.limits.maxExpansion) throw new RuleError('RULE_ERR_LIMIT', `${values.length} values exceed ${ctx.limits.maxExpansion}`, { path: ctx.path });
  for (const v of values) {
    if (typeof v === 'string' && v.length > ctx.limits.maxRuleValueLength) throw new RuleError('RULE_ERR_LIMIT', `value of ${v.length} characters exceeds ${ctx.limits.maxRuleValueLength}`, { path: ctx.path });
    if (v !== null && typeof v === 'object') throw new RuleError('RULE_ERR_SCHEMA', 'a detection value must be a string, number, boolean or null', { path: ctx.path });
  }
  const lim = ctx.limits;
  const cnt = ctx.counters;

  // Keyword detection: no field, search the pipeline's keyword fields (substring by default).
  if (field === null) {
    if (special) throw unsupported(`modifier ${special} on keywords`);
    const cs = values.map((v) => compileWildcard(wrap(tokenize(String(v)), 'contains'), cased, ctx));
    const ms = cs.map((c) => c.f);
    const getters = ctx.keywordFields === '*' ? null : ctx.keywordFields.map(makeGetter);
    // With one keyword field, the keywords' literals are substring hints on it.
    const kwHints: Hint[] = [];
    if (ctx.keywordFields !== '*' && ctx.keywordFields.length === 1) {
      const lits = cs.map((c) => c.lit ?? '');
      if (all) {
        const best = lits.reduce((a, b) => (b.length > a.length ? b : a), '');
        if (usefulLit(best)) kwHints.push([{ field: ctx.keywordFields[0], kind: 'substr', keys: [best] }]);
      } else if (lits.every(usefulLit)) kwHints.push([{ field: ctx.keywordFields[0], kind: 'substr', keys: [...new Set(lits)] }]);
    }
    if (!cased && ctx.keywordFields !== '*') {
      // Case-insensitive keywords on named fields: the engine's lower-cased memo of each field.
      const fs = ctx.keywordFields.map((p) => fieldOf(p));
      const mls = cs.map((c) => c.fl!);
      const inFields = (ev: EventLike, t: (sl: string) => boolean): boolean => {
        for (const f of fs) if (someLow(lowText(f, ev, lim.maxEventValueLength, cnt), t)) return true;
        return false;
      };
      const oneL = (sl: string) => {
        for (const t of mls) if (t(sl)) return true;
        return false;
      };
      const test = all ? (ev: EventLike) => mls.every((t) => inFields(ev, t)) : (ev: EventLike) => inFields(ev, oneL);
      return { test, hints: kwHints };
    }
    const one = (s: string) => ms.some((f) => f(s));
    const test = all
      ? (ev: EventLike) => ms.every((f) => searchText(ev, getters, f, lim, cnt))
      : (ev: EventLike) => searchText(ev, getters, one, lim, cnt);
    return { test, hints: kwHints };
  }

  const path = ctx.mapField(field);
  const fld = fieldOf(path);
  const get = fld.get;

  if (special === 'exists') {
    if (values.length !== 1 || typeof values[0] !== 'boolean') throw new RuleError('RULE_ERR_VALUE', 'exists takes true or false', { path: ctx.path });
    const want = values[0];
    return { test: (ev) => present(get(ev)) === want, hints: want ? [[{ field: path, kind: 'exists', keys: [] }]] : [] };
  }

  // Null values: the field is absent or null (Sigma v2 §null).
  const hasNull = values.some((v) => v === null);
  const nonNull = values.filter((v) => v !== null);
  if (hasNull && special) throw new RuleError('RULE_ERR_VALUE', `null cannot be used with ${special}`, { path: ctx.path });

  let tests: ((s: string) => boolean)[] = [];
  // Tests on the lower-cased text (case-insensitive strings), read through the engine's memo.
  let lowTests: ((sl: string) => boolean)[] | null = null;
  let evTests: ((ev: EventLike) => boolean)[] | null = null;
  const hintKeys: { exact: string[]; basename: string[]; substr: string[]; ok: boolean } = { exact: [], basename: [], substr: [], ok: !all && !hasNull };

  if (special === 're') {
    const lits: string[] = [];
    // Per value, the substring keys one of which its matches contain (a disjunction), or null.
    const keys: (string[] | null)[] = [];
    tests = nonNull.map((v) => {
      const re = makeRe(String(v), reFlags, ctx);
      // A literal every match contains lets most values skip the (native, costlier: 2-20 µs a
      // call, the string converted to UTF-8 each time) RE2 call.
      const { runs: more, anyOf } = scanRegex(String(v));
      const lit = longest(more);
      lits.push(lit);
      const first = usefulLit(lit) ? lit : null;
      // The other literals every match contains, even ones too short to index: a command line with
      // `cmd` but without `"set` is settled without RE2.
      keys.push(first !== null ? [first] : (anyOf.find((alts) => alts.every(usefulAlt)) ?? null));
      if (first !== null) more.splice(more.indexOf(first), 1);
      if (more.length === 0 && anyOf.length === 0) return first !== null ? (s: string) => lower(s).includes(first) && re.test(s) : (s: string) => re.test(s);
      return (s: string) => {
        const l = lower(s);
        if (first !== null && !l.includes(first)) return false;
        // RE2's case folding also matches U+017F (long s) for `s` under `i`, which lower-casing
        // leaves as it is (U+212A, the Kelvin sign, lower-cases to `k`): such a value goes to RE2.
        return (lacksAll(l, more) || lacksAny(l, anyOf)) && !l.includes('\u017f') ? false : re.test(s);
      };
    });
    hintKeys.ok = false;
    if (!all && keys.length && keys.every((k) => k !== null)) hintKeys.substr = [...new Set(keys.flat() as string[])];
    else if (all && lits.some(usefulLit)) hintKeys.substr = [lits.reduce((a, b) => (b.length > a.length ? b : a), '')];
  } else if (special === 'cidr') {
    const nets = nonNull.map((v) => {
      try {
        return parseCidr(String(v));
      } catch (e) {
        throw new RuleError('RULE_ERR_VALUE', (e as Error).message, { path: ctx.path });
      }
    });
    // IPv4 values against IPv4 blocks compare 32-bit numbers; anything else goes through the 16-byte form.
    const inAny = (idx: number[]) => {
      const v4nets = idx.map((i) => cidrV4(nets[i]));
      const ns = idx.map((i) => nets[i]);
      return (s: string) => {
        const n = v4int(s);
        let ip: Uint8Array | undefined | null = null;
        for (let i = 0; i < ns.length; i++) {
          const v4 = v4nets[i];
          if (n >= 0 && v4) {
            if (((n & v4.mask) >>> 0) === v4.net) return true;
            continue;
          }
          if (ip === null) ip = parseIp(s);
          if (ip !== undefined && cidrContains(ns[i], ip)) return true;
        }
        return false;
      };
    };
    // `all`: every block must hold some value, so one test per block; else one test for them all.
    tests = all ? nets.map((_, i) => inAny([i])) : [inAny(nets.map((_, i) => i))];
    hintKeys.ok = false;
  } else if (special === 'gt' || special === 'gte' || special === 'lt' || special === 'lte') {
    const op = special;
    tests = nonNull.map((v) => {
      const n = typeof v === 'number' ? v : Number(v);
      if (typeof v === 'boolean' || !Number.isFinite(n)) throw new RuleError('RULE_ERR_VALUE', `${op} needs a number, got ${JSON.stringify(v)}`, { path: ctx.path });
      return (s: string) => {
        if (s.trim() === '') return false;
        const x = Number(s);
        if (!Number.isFinite(x)) return false;
        return op === 'gt' ? x > n : op === 'gte' ? x >= n : op === 'lt' ? x < n : x <= n;
      };
    });
    hintKeys.ok = false;
  } else if (special === 'list') {
    tests = nonNull.map((v) => {
      const l = ctx.lists.get(String(v));
      if (!l) throw new RuleError('RULE_ERR_LIST', `unknown threat-intel list ${JSON.stringify(v)}`, { path: ctx.path });
      return (s: string) => l.has(s);
    });
    hintKeys.ok = false;
  } else if (special === 'worktime') {
    tests = nonNull.map((v) => {
      const within = parseWorktime(String(v), ctx);
      return (s: string) => {
        // isoMs: Date.parse with a fast path for the UTC form events carry (~400 ns each).
        const ms = isoMs(s);
        return Number.isFinite(ms) && within(ms);
      };
    });
    hintKeys.ok = false;
  } else if (special === 'expires') {
    // The field holds a date (e.g. x509.not_after); true when it falls within the span after the event time.
    const ts = makeGetter(ctx.timestampField);
    evTests = nonNull.map((v) => {
      const m = /^(\d{1,6})([smhd])$/.exec(String(v));
      if (!m) throw new RuleError('RULE_ERR_VALUE', `xiangan-expires-within takes a span like 30d, got ${JSON.stringify(v)}`, { path: ctx.path });
      const span = Number(m[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[m[2] as 's' | 'm' | 'h' | 'd'];
      return (ev: EventLike) => {
        const now = Date.parse(String(scalarText(ts(ev), lim, cnt) ?? ''));
        if (!Number.isFinite(now)) return false;
        return anyText(get(ev), (s) => {
          const at = Date.parse(s);
          return Number.isFinite(at) && at >= now && at - now <= span;
        }, lim, cnt);
      };
    });
    hintKeys.ok = false;
  } else if (special === 'fieldref') {
    const mt = matchType;
    evTests = nonNull.map((v) => {
      const other = makeGetter(ctx.mapField(String(v)));
      return (ev: EventLike) => {
        const o = other(ev);
        const os = Array.isArray(o) ? o.map((x) => scalarText(x, lim, cnt)) : [scalarText(o, lim, cnt)];
        return anyText(get(ev), (s) => {
          const a = cased ? s : s.toLowerCase();
          for (const r of os) {
            if (r === undefined) continue;
            const b = cased ? r : r.toLowerCase();
            if (mt === 'exact' ? a === b : mt === 'contains' ? a.includes(b) : mt === 'startswith' ? a.startsWith(b) : a.endsWith(b)) return true;
          }
          return false;
        }, lim, cnt);
      };
    });
    hintKeys.ok = false;
  } else {
    // Plain and transformed strings.
    let strs: string[] = nonNull.map((v) => (typeof v === 'string' ? v : String(v)));
    let literal = false;
    for (const t of transforms) {
      const next: string[] = [];
      for (const s of strs) {
        if (t === 'windash') next.push(...windash(s));
        else {
          // Encoding works on the value's characters, so wildcards there are literal.
          const bytes = encode(s, encoding);
          if (t === 'base64') next.push(escWild(bytes.toString('base64')));
          else next.push(...base64Offsets(bytes).map(escWild));
          literal = true;
        }
        if (next.length > lim.maxExpansion) throw new RuleError('RULE_ERR_LIMIT', `value expansion exceeds ${lim.maxExpansion}`, { path: ctx.path });
      }
      strs = next;
    }
    // Base64 text is case-sensitive by nature.
    const cs = cased || literal;
    const compiled = strs.map((s) => {
      return compileWildcard(wrap(tokenize(s), matchType), cs, ctx);
    });
    tests = compiled.map((c) => c.f);
    if (!cs) lowTests = compiled.map((c) => c.fl!);
    if (hintKeys.ok && compiled.length) {
      if (compiled.every((c) => c.exactKey !== undefined)) hintKeys.exact = compiled.map((c) => c.exactKey!);
      else if (compiled.every((c) => c.basenameKey !== undefined || c.exactKey !== undefined))
        hintKeys.basename = compiled.map((c) => c.basenameKey ?? basenameOf(c.exactKey!));
    }
    // Otherwise a literal every match must contain, for the engine's substring automaton.
    if (!hintKeys.exact.length && !hintKeys.basename.length && !hasNull && compiled.length) {
      const lits = compiled.map((c) => c.lit ?? '');
      if (all) {
        const best = lits.reduce((a, b) => (b.length > a.length ? b : a), '');
        if (usefulLit(best)) hintKeys.substr = [best];
      } else if (lits.length <= MAX_LIT_KEYS && lits.every(usefulLit)) hintKeys.substr = lits;
      else hintKeys.substr = rareUnits(lits);
    }
    // Many case-insensitive substrings: one automaton pass instead of one search per value.
    if (!all && !cs && compiled.length >= 8 && compiled.every((c) => c.substring && c.lit)) {
      const ac = new AhoCorasick();
      compiled.forEach((c, i) => ac.add(c.lit!, i));
      ac.build();
      lowTests = [(sl: string) => ac.has(sl)];
    }
    // Many case-insensitive path suffixes (`Image|endswith: ['\\a.exe', …]`): look the value's
    // basename up first, then confirm the few suffixes filed under it.
    if (!all && !cs && compiled.length >= 8 && compiled.every((c) => c.suffix && c.basenameKey && c.lit)) {
      const byBase = new Map<string, string[]>();
      for (const c of compiled) {
        const l = byBase.get(c.basenameKey!);
        if (l) l.push(c.lit!);
        else byBase.set(c.basenameKey!, [c.lit!]);
      }
      lowTests = [
        (sl: string) => {
          const l = byBase.get(basenameLow(sl));
          if (!l) return false;
          for (const suf of l) if (sl.endsWith(suf)) return true;
          return false;
        },
      ];
    }
    // A plain case-insensitive value list is one set lookup.
    if (!all && compiled.length > 4 && compiled.every((c) => c.exactKey !== undefined) && !cs) {
      const set = new Set(compiled.map((c) => c.exactKey!));
      lowTests = [(sl: string) => set.has(sl)];
    }
  }

  const hints: Hint[] = [];
  if (hintKeys.substr.length) hints.push([{ field: path, kind: 'substr', keys: [...new Set(hintKeys.substr)] }]);
  else if (hintKeys.ok && nonNull.length) {
    if (hintKeys.exact.length) hints.push([{ field: path, kind: 'exact', keys: [...new Set(hintKeys.exact)] }]);
    else if (hintKeys.basename.length) hints.push([{ field: path, kind: 'basename', keys: [...new Set(hintKeys.basename)] }]);
  }
  // Whatever the test, a value must be there (null values aside): the weakest hint.
  if (!hints.length && !hasNull && nonNull.length) hints.push([{ field: path, kind: 'exists', keys: [] }]);

  let valueTest: (ev: EventLike) => boolean;
  if (evTests) {
    const et = evTests;
    valueTest = all ? (ev) => et.every((t) => t(ev)) : (ev) => et.some((t) => t(ev));
  } else if (lowTests) {
    const ts = lowTests;
    const maxLen = lim.maxEventValueLength;
    if (all)
      valueTest = (ev) => {
        const v = lowText(fld, ev, maxLen, cnt);
        if (v === undefined || ts.length === 0) return false;
        for (const t of ts) if (!someLow(v, t)) return false;
        return true;
      };
    else if (ts.length === 1) {
      const t0 = ts[0];
      valueTest = (ev) => someLow(lowText(fld, ev, maxLen, cnt), t0);
    } else {
      const one = (sl: string) => {
        for (const t of ts) if (t(sl)) return true;
        return false;
      };
      valueTest = (ev) => someLow(lowText(fld, ev, maxLen, cnt), one);
    }
  } else if (all) {
    const ts = tests;
    valueTest = (ev) => {
      const v = get(ev);
      return ts.length > 0 && ts.every((t) => anyText(v, t, lim, cnt));
    };
  } else if (tests.length === 1) {
    const t0 = tests[0];
    valueTest = (ev) => anyText(get(ev), t0, lim, cnt);
  } else {
    const ts = tests;
    const one = (s: string) => {
      for (const t of ts) if (t(s)) return true;
      return false;
    };
    valueTest = (ev) => anyText(get(ev), one, lim, cnt);
  }
  if (hasNull) {
    const vt = nonNull.length ? valueTest : () => false;
    return { test: (ev) => !present(get(ev)) || vt(ev), hints: [] };
  }
  return { test: valueTest, hints };
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0);
}

function searchText(ev: EventLike, getters: Getter[] | null, f: (s: string) => boolean, lim: Limits, c: MatchCounters): boolean {
  if (getters) {
    for (const g of getters) if (anyText(g(ev), f, lim, c)) return true;
    return false;
  }
  return deepSearch(ev, f, lim, c, 0);
}

function deepSearch(v: unknown, f: (s: string) => boolean, lim: Limits, c: MatchCounters, depth: number): boolean {
  if (depth > 16) return false;
  if (typeof v === 'string') return anyText(v, f, lim, c);
  if (v && typeof v === 'object') {
    for (const x of Array.isArray(v) ? v : Object.values(v)) if (deepSearch(x, f, lim, c, depth + 1)) return true;
  }
  return false;
}
