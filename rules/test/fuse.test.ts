import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileCondition, fuseTest, parseCondition } from '../src/condition.js';
import type { Pred } from '../src/values.js';

// Selections in declaration order; `them` skips names starting with `_` (Sigma v2 §Condition).
const NAMES = ['sel_a', 'sel_b', 'sel_c', 'filter_x', 'filter_y', '_aux'];

type Ast = { t: 'ref'; name: string } | { t: 'not'; x: Ast } | { t: 'and' | 'or'; a: Ast[] } | { t: 'of'; quant: 'all' | number; pattern: string };

const PATTERNS: Record<string, (n: string) => boolean> = {
  them: (n) => !n.startsWith('_'),
  'sel_*': (n) => n.startsWith('sel_'),
  'filter_*': (n) => n.startsWith('filter_'),
  '*': () => true,
};

const { ast } = fc.letrec<{ ast: Ast }>((tie) => ({
  ast: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...NAMES).map((name): Ast => ({ t: 'ref', name })),
    fc.record({ quant: fc.constantFrom<'all' | number>('all', 1, 2, 3), pattern: fc.constantFrom(...Object.keys(PATTERNS)) }).map(({ quant, pattern }): Ast => ({ t: 'of', quant, pattern })),
    tie('ast').map((x): Ast => ({ t: 'not', x })),
    fc.record({ t: fc.constantFrom<'and' | 'or'>('and', 'or'), a: fc.array(tie('ast'), { minLength: 2, maxLength: 4 }) }).map((r): Ast => r),
  ),
}));

function render(a: Ast): string {
  switch (a.t) {
    case 'ref':
      return a.name;
    case 'not':
      return `not (${render(a.x)})`;
    case 'of':
      return `${a.quant} of ${a.pattern}`;
    default:
      return `(${a.a.map(render).join(` ${a.t} `)})`;
  }
}

/** The reference: Sigma's boolean semantics evaluated left to right with short circuits, logging each selection read. */
function oracle(a: Ast, truth: Record<string, boolean>, log: string[]): boolean {
  const read = (n: string): boolean => {
    log.push(n);
    return truth[n];
  };
  switch (a.t) {
    case 'ref':
      return read(a.name);
    case 'not':
      return !oracle(a.x, truth, log);
    case 'and':
      for (const x of a.a) if (!oracle(x, truth, log)) return false;
      return true;
    case 'or':
      for (const x of a.a) if (oracle(x, truth, log)) return true;
      return false;
    case 'of': {
      const ns = NAMES.filter(PATTERNS[a.pattern]);
      if (a.quant === 'all') {
        for (const n of ns) if (!read(n)) return false;
        return true;
      }
      let c = 0;
      for (const n of ns) if (read(n) && ++c >= (a.quant as number)) return true;
      return false;
    }
  }
}

test('a fused rule test gives the result and reads the selections in the order and number Sigma semantics give (fast-check)', () => {
  fc.assert(
    fc.property(ast, fc.array(fc.boolean(), { minLength: NAMES.length, maxLength: NAMES.length }), (a, bits) => {
      const truth = Object.fromEntries(NAMES.map((n, i) => [n, bits[i]]));
      let log: string[] = [];
      const sel = new Map<string, Pred>(NAMES.map((n) => [n, { test: () => (log.push(n), truth[n]), hints: [] }]));
      const pred = compileCondition(parseCondition(render(a)), sel);
      const want: string[] = [];
      const expected = oracle(a, truth, want);
      const fused = fuseTest(pred);
      log = [];
      assert.equal(fused({}), expected);
      assert.deepEqual(log, want);
      log = [];
      assert.equal(pred.test({}), expected);
      assert.deepEqual(log, want);
    }),
    { numRuns: 2000, seed: 11 },
  );
});

test('a fused rule test returns a boolean and keeps a lone selection as it is', () => {
  const one: Pred = { test: () => true, hints: [] };
  assert.equal(fuseTest(one), one.test);
  const sel = new Map<string, Pred>([
    ['a', { test: () => true, hints: [] }],
    ['b', { test: () => false, hints: [] }],
  ]);
  assert.equal(fuseTest(compileCondition(parseCondition('a and not b'), sel))({}), true);
  assert.equal(fuseTest(compileCondition(parseCondition('a and b'), sel))({}), false);
});
