import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import RE2 from 're2';
import { regexAlternatives, regexLiteral, regexLiterals } from '../src/index.js';
import { engineOf } from './helpers.js';

test('regexLiterals lists the plain runs outside groups, lower-cased, and regexLiteral the first longest', () => {
  assert.deepEqual(regexLiterals('ipconfig\\s+/all'), ['ipconfig', '/all']);
  assert.deepEqual(regexLiterals('cmd.{0,5}(?:/c|/r)(?:\\s|)\\"set\\s[a-zA-Z]{3,6}'), ['cmd', 'set']);
  // A character before `?`, `*` or `{` is optional: it ends the run and is dropped.
  assert.deepEqual(regexLiterals('ABC?d'), ['ab', 'd']);
  // One before `+` is required once: kept, then the run ends.
  assert.deepEqual(regexLiterals('x+yz'), ['x', 'yz']);
  assert.deepEqual(regexLiterals('\\.EXE$'), ['.exe']);
  assert.deepEqual(regexLiterals('a|b'), []);
  assert.deepEqual(regexLiterals('(a|b)c'), ['c']);
  // A repetition's bounds are not text (SigmaHQ's metasploit and pnscan rules).
  assert.deepEqual(regexLiterals('^[A-Za-z0-9]{16}$'), []);
  assert.deepEqual(regexLiterals('-(W|R)\\s?(\\s|"|\')([0-9a-fA-F]{2}\\s?){2,20}(\\s|"|\')'), ['-']);
  assert.deepEqual(regexLiterals('-k\\s\\w{1,64}'), ['-k']);
  assert.deepEqual(regexAlternatives('-(W|R)\\s?(\\s|"|\')([0-9a-fA-F]{2}\\s?){2,20}(\\s|"|\')'), [['-w', '-r']]);
  assert.deepEqual(regexAlternatives('\\.(?:EXE|dll)$'), [['.exe', '.dll']]);
  // Optional, nested, inline-flag and empty-alternative groups say nothing.
  assert.deepEqual(regexAlternatives('a(b|c)?d(e|(f|g))(?i)x(h|)'), []);
  assert.deepEqual(regexAlternatives('a|(b|c)'), []);
  assert.equal(regexLiteral('cmd.{0,5}set'), 'cmd');
  assert.equal(regexLiteral('ipconfig\\s+/all'), 'ipconfig');
  assert.equal(regexLiteral('a|b'), '');
});

// Values built from pieces that hold, miss or case-fold the literals (U+017F folds to `s` and
// U+212A to `k` in RE2's case-insensitive matching).
const PIECES = ['command', 'COMMAND', 'comm', 'set', 'SET', '\u017fet', 'se', 'kill', '\u212aill', 'task', 'TASK', ' ', 'x', '/c', '-c', '-C', '-W', '-r', '"', "'", 'a0', '.exe', '.DLL', '.ex'];
const value = fc.array(fc.constantFrom(...PIECES), { maxLength: 8 }).map((a) => a.join(''));

// Values each case matches (with RE2 as the judge), one per case at least.
const EXAMPLES = ['command x set', 'COMMAND \u017fet', '\u212aill task', 'curl -c x', 'curl -C x', 'x/c kill', 'abcdefghijkl', 'cabd', 'pnscan -W \'a0 a0\'', 'pnscan -r "a0a0"', 'C:\\X.DLL', 'ta\u017fk'];

test('a regex with several literals matches exactly what RE2 matches, indexed and naive', () => {
  const cases: [string, string][] = [
    ['command.*set', 're'],
    ['command.*set', 're|i'],
    ['kill\\s*task', 're|i'],
    ['\\s-c\\s', 're'],
    ['\\s-c\\s', 're|i'],
    ['x+/c.?kill', 're|i'],
    ['\\w{10,20}', 're'],
    ['c\\w{1,3}d', 're|i'],
    ['-(W|R)\\s?(\\s|"|\')([0-9a-fA-F]{2}\\s?){2,20}(\\s|"|\')', 're'],
    ['-(W|R)\\s?(\\s|"|\')([0-9a-fA-F]{2}\\s?){1,20}', 're|i'],
    ['\\.(?:exe|dll)$', 're|i'],
    ['(?:se|ta)(t|sk)', 're|i'],
  ];
  for (const [src, mods] of cases) {
    const re = new RE2(src, mods.endsWith('|i') ? 'i' : '');
    const detection = { sel: { [`CommandLine|${mods}`]: src }, condition: 'sel' };
    const indexed = engineOf(detection);
    const naive = engineOf(detection, { index: false });
    let positive = 0;
    const check = (v: string): void => {
      const want = re.test(v);
      if (want) positive++;
      assert.equal(naive.match({ CommandLine: v }).length > 0, want, `${src} ${mods} on ${JSON.stringify(v)}`);
      assert.equal(indexed.match({ CommandLine: v }).length > 0, want, `${src} ${mods} on ${JSON.stringify(v)} (indexed)`);
    };
    for (const v of EXAMPLES) check(v);
    fc.assert(
      fc.property(value, (v) => {
        const want = re.test(v);
        if (want) positive++;
        assert.equal(naive.match({ CommandLine: v }).length > 0, want, `${src} ${mods} on ${JSON.stringify(v)}`);
        assert.equal(indexed.match({ CommandLine: v }).length > 0, want, `${src} ${mods} on ${JSON.stringify(v)} (indexed)`);
      }),
      { numRuns: 400 },
    );
    assert.ok(positive > 0, `${src} ${mods}: some values match`);
  }
});
