import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engineOf } from './helpers.js';

test('a long list of emoji literals is indexed under their rare code units, with the matches of the naive engine', () => {
  // 300 literals (more than one hint holds): surrogate pairs, single BMP symbols, keycaps
  // (an ASCII digit, U+FE0F, U+20E3) and a symbol after an ASCII letter.
  const lits: string[] = [];
  for (let i = 0; i < 260; i++) lits.push(String.fromCodePoint(0x1f400 + i));
  for (let i = 0; i < 20; i++) lits.push(String.fromCharCode(0x2600 + i));
  for (let d = 0; d < 10; d++) lits.push(`${d}\ufe0f\u20e3`);
  for (let i = 0; i < 10; i++) lits.push(`x${String.fromCharCode(0x2700 + i)}`);
  const detection = { sel: { 'CommandLine|contains': lits }, condition: 'sel' };
  const indexed = engineOf(detection);
  const naive = engineOf(detection, { index: false });
  const texts = ['cmd.exe /c dir', 'echo 1 2 3 x', 'echo \ufe0f alone', ...lits.map((l, i) => `run ${i} ${l} now`), 'echo \ud83d lone surrogate', 'ÉCHO ☃'];
  let matched = 0;
  for (const t of texts) {
    const ev = { CommandLine: t };
    const a = indexed.match(ev).length;
    assert.equal(a, naive.match(ev).length, t);
    matched += a;
  }
  assert.equal(matched, lits.length + 1);
  // Plain ASCII command lines never reach the rule's test.
  const before = indexed.stats().evaluations;
  indexed.match({ CommandLine: 'powershell -enc SQBFAFgA 1 2 3' });
  assert.equal(indexed.stats().evaluations, before);
});
