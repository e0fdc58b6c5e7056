/**
 * Sigma detection conditions (specification v2 §Condition): `and`, `or`, `not`, parentheses,
 * `1 of sel*`, `all of sel*`, `1 of them`, `all of them`. Precedence: not > and > or.
 * The deprecated aggregation syntax (`| count() by x > 5`) is reported unsupported: correlation
 * rules replace it.
 */
import { RuleError } from './errors.js';
import type { Hint, HintAlt, Pred } from './values.js';
import type { EventLike } from './types.js';

/** Parsed condition. */
export type CondAst =
  | { t: 'ref'; name: string }
  | { t: 'and' | 'or'; a: CondAst[] }
  | { t: 'not'; x: CondAst }
  | { t: 'of'; quant: 'all' | number; pattern: string };

/** Longest condition accepted (characters). */
export const MAX_CONDITION_LENGTH = 8192;

/**
 * Parse a condition string.
 *
 * @example
 * parseCondition('sel and not 1 of filter_*')
 */
export function parseCondition(src: string): CondAst {
  if (src.length > MAX_CONDITION_LENGTH) throw new RuleError('RULE_ERR_LIMIT', `condition longer than ${MAX_CONDITION_LENGTH} characters`);
  if (src.includes('|')) throw new RuleError('RULE_ERR_UNSUPPORTED', 'aggregation expressions in conditions (| count() …) are deprecated; use a correlation rule', { path: '/detection/condition' });
  const toks = src.replace(/([()])/g, ' $1 ').trim().split(/\s+/).filter(Boolean);
  let i = 0;
  const err = (m: string) => new RuleError('RULE_ERR_CONDITION', `${m} in condition ${JSON.stringify(src.slice(0, 200))}`, { path: '/detection/condition' });
  const peek = () => toks[i]?.toLowerCase();
  let depth = 0;
  const parseOr = (): CondAst => {
    const a = [parseAnd()];
    while (peek() === 'or') {
      i++;
      a.push(parseAnd());
    }
    return a.length === 1 ? a[0] : { t: 'or', a };
  };
  const parseAnd = (): CondAst => {
    const a = [parseNot()];
    while (peek() === 'and') {
      i++;
      a.push(parseNot());
    }
    return a.length === 1 ? a[0] : { t: 'and', a };
  };
  const parseNot = (): CondAst => {
    if (peek() === 'not') {
      i++;
      return { t: 'not', x: parseNot() };
    }
    return parseAtom();
  };
  const parseAtom = (): CondAst => {
    const t = toks[i];
    if (t === undefined) throw err('unexpected end');
    const lt = t.toLowerCase();
    if (t === '(') {
      if (++depth > 64) throw err('nesting deeper than 64');
      i++;
      const e = parseOr();
      if (toks[i] !== ')') throw err('missing )');
      i++;
      depth--;
      return e;
    }
    if (toks[i + 1]?.toLowerCase() === 'of') {
      const quant = lt === 'all' ? 'all' : lt === 'any' ? 1 : Number(lt);
      if (quant !== 'all' && !(Number.isInteger(quant) && quant >= 1)) throw err(`bad quantifier ${t}`);
      const pattern = toks[i + 2];
      if (!pattern || pattern === '(' || pattern === ')') throw err('missing selection pattern after of');
      i += 3;
      return { t: 'of', quant, pattern };
    }
    if (['and', 'or', 'not', ')', 'of'].includes(lt)) throw err(`unexpected ${t}`);
    i++;
    return { t: 'ref', name: t };
  };
  const ast = parseOr();
  if (i !== toks.length) throw err(`unexpected ${toks[i]}`);
  return ast;
}

function globToRe(p: string): RegExp {
  return new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

/** Keys a hint may carry before it stops being worth indexing. */
export const MAX_HINT_KEYS = 256;

/** Keys of a hint over all its alternatives. */
export function hintSize(h: Hint): number {
  return h.reduce((n, a) => n + a.keys.length, 0);
}

/** A substring key this short (`.exe`) occurs in most values of its field: it counts as this many keys. */
const SHORT_SUBSTR = 5;
const SHORT_SUBSTR_WEIGHT = 4;

/**
 * How much a hint narrows: exact lookups beat basename lookups beat substring scans, then
 * fewer keys win, a short substring key weighing as several. The engine indexes each rule
 * under its cheapest hints.
 */
export function hintCost(h: Hint): number {
  const rank = Math.max(...h.map((a) => (a.kind === 'exact' ? 0 : a.kind === 'basename' ? 1 : a.kind === 'substr' ? 2 : 3)));
  let w = 0;
  for (const a of h) for (const k of a.keys) w += a.kind === 'substr' && k.length < SHORT_SUBSTR ? SHORT_SUBSTR_WEIGHT : 1;
  return rank * 1000 + Math.min(999, w);
}

/**
 * Necessary condition of a disjunction: one necessary condition from every branch, joined
 * (if any branch has none, the disjunction has none).
 */
export function orHints(parts: Hint[][]): Hint[] {
  if (!parts.length || parts.some((p) => !p.length)) return [];
  const merged = new Map<string, HintAlt & { keys: string[]; set: Set<string> }>();
  for (const p of parts) {
    // The branch's cheapest hint (see hintCost).
    const best = [...p].sort((a, b) => hintCost(a) - hintCost(b))[0];
    for (const a of best) {
      const k = `${a.kind}\u0000${a.field}`;
      let m = merged.get(k);
      if (!m) merged.set(k, (m = { field: a.field, kind: a.kind, keys: [], set: new Set() }));
      for (const key of a.keys) m.set.add(key);
    }
  }
  const alts: HintAlt[] = [...merged.values()].map((m) => ({ field: m.field, kind: m.kind, keys: [...m.set] }));
  return hintSize(alts) > MAX_HINT_KEYS ? [] : [alts];
}

/** Whether a hint only says that fields have values (see `HintAlt.kind`). */
export function presenceOnly(h: Hint): boolean {
  return h.some((a) => a.kind === 'exists');
}

/**
 * Compile a condition over named selections into one predicate (with index hints).
 *
 * @example
 * compileCondition(parseCondition('a and not b'), new Map([['a', pa], ['b', pb]]))
 */
export function compileCondition(ast: CondAst, sel: ReadonlyMap<string, Pred>): Pred {
  const names = [...sel.keys()];
  const resolve = (pattern: string): Pred[] => {
    const ns = pattern.toLowerCase() === 'them' ? names.filter((n) => !n.startsWith('_')) : names.filter((n) => globToRe(pattern).test(n));
    if (!ns.length) throw new RuleError('RULE_ERR_CONDITION', `no selection matches ${JSON.stringify(pattern)}`, { path: '/detection/condition' });
    return ns.map((n) => sel.get(n)!);
  };
  const go = (a: CondAst): Pred => {
    switch (a.t) {
      case 'ref': {
        const p = sel.get(a.name);
        if (!p) throw new RuleError('RULE_ERR_CONDITION', `condition names unknown selection ${JSON.stringify(a.name)}`, { path: '/detection/condition' });
        return p;
      }
      case 'not': {
        const x = go(a.x);
        return { test: (ev) => !x.test(ev), hints: [], shape: { op: 'not', p: x } };
      }
      case 'and':
        return andPred(a.a.map(go));
      case 'or':
        return orPred(a.a.map(go));
      case 'of': {
        const ps = resolve(a.pattern);
        if (a.quant === 'all') return andPred(ps);
        if (a.quant === 1) return orPred(ps);
        const n = a.quant;
        const tests = ps.map((p) => p.test);
        return {
          test: (ev: EventLike) => {
            let c = 0;
            for (const t of tests) if (t(ev) && ++c >= n) return true;
            return false;
          },
          hints: [],
          shape: { op: 'of', n, ps },
        };
      }
    }
  };
  return go(ast);
}

/** Conjunction of predicates; hints add up. */
export function andPred(ps: Pred[]): Pred {
  if (ps.length === 1) return ps[0];
  const ts = ps.map((p) => p.test);
  return {
    test: (ev) => {
      for (const t of ts) if (!t(ev)) return false;
      return true;
    },
    hints: ps.flatMap((p) => p.hints),
    shape: { op: 'and', ps },
  };
}

/** Disjunction of predicates; only shared hints survive. */
export function orPred(ps: Pred[]): Pred {
  if (ps.length === 1) return ps[0];
  const ts = ps.map((p) => p.test);
  return {
    test: (ev) => {
      for (const t of ts) if (t(ev)) return true;
      return false;
    },
    hints: orHints(ps.map((p) => p.hints)),
    shape: { op: 'or', ps },
  };
}

/** Most field tests one fused rule test takes (larger trees keep their closures). */
const MAX_FUSED_LEAVES = 512;
/** Deepest nesting one fused rule test takes (deeper trees keep their closures). */
const MAX_FUSED_DEPTH = 64;
let fused = 0;

/**
 * One function for a rule's whole condition tree: the and/or/not/of structure becomes a
 * JavaScript expression over the field tests, with the same left-to-right order and short
 * circuits as the closures (so the same fields are read and the same counters bumped). The
 * closures share one code object per kind, so their calls into the field tests see every rule's
 * tests and stay megamorphic; each fused function is its own code (a distinct source, so V8
 * gives it its own feedback), and V8 can inline the field tests it calls. Only the structure is
 * generated: field names and values stay in the test closures, so no rule text reaches the
 * source.
 */
export function fuseTest(p: Pred): (ev: EventLike) => boolean {
  if (!p.shape) return p.test;
  const leaves: ((ev: EventLike) => boolean)[] = [];
  let counters = 0;
  const gen = (q: Pred, depth: number): string | null => {
    const s = q.shape;
    if (!s) {
      if (leaves.length >= MAX_FUSED_LEAVES) return null;
      return `L[${leaves.push(q.test) - 1}](ev)`;
    }
    if (depth > MAX_FUSED_DEPTH) return null;
    if (s.op === 'not') {
      const x = gen(s.p, depth + 1);
      return x === null ? null : `!${x}`;
    }
    // Only integers reach the source: a count from anywhere else keeps the closures.
    if (s.op === 'of' && !Number.isSafeInteger(s.n)) return null;
    const parts: string[] = [];
    const c = s.op === 'of' ? `c${counters++}` : '';
    for (const x of s.ps) {
      const e = gen(x, depth + 1);
      if (e === null) return null;
      parts.push(s.op === 'of' ? `(${e} && ++${c} >= ${s.n})` : e);
    }
    if (s.op === 'of') return `(${c} = 0, ${parts.join(' || ')} || false)`;
    return `(${parts.join(s.op === 'and' ? ' && ' : ' || ')})`;
  };
  const body = gen(p, 0);
  if (body === null) return p.test;
  const vars = Array.from({ length: counters }, (_, i) => `let c${i} = 0;`).join(' ');
  return new Function('L', `// fused rule test ${fused++}\nreturn (ev) => { ${vars} return !!${body}; };`)(leaves) as (ev: EventLike) => boolean;
}
