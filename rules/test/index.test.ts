/**
 * Differential test of the index: the indexed engine and the naive one (`index: false`) must
 * give the same matches on the same events, over our packs and SigmaHQ process-creation rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import { normaliseJson } from '@xiangan/collectors';
import { AhoCorasick, builtinPipeline, compileRules, loadLists, loadRules, type EventLike } from '../src/index.js';
import { PKG_ROOT, SHARED } from './helpers.js';

const IMAGES = ['cmd.exe', 'powershell.exe', 'whoami.exe', 'rundll32.exe', 'regsvr32.exe', 'certutil.exe', 'mshta.exe', 'wmic.exe', 'net.exe', 'schtasks.exe', 'reg.exe', 'vssadmin.exe', 'bitsadmin.exe', 'wevtutil.exe', 'notepad.exe'];
const TOKENS = ['/c', '-enc', 'SQBFAFgA', '/all', 'delete', 'shadows', '/quiet', '-urlcache', '-split', '-f', 'http://x', 'query', '/create', 'user', '/add', 'localgroup', 'administrators', 'cl', 'Security', '-nop', 'hidden', 'Invoke-Expression', 'IEX', 'DownloadString', 'javascript:', 'vbscript', '\\\\127.0.0.1\\c$', 'comsvcs.dll', 'MiniDump', 'lsass'];

const ctx = { sourceId: 'diff', transport: 'http' as const, receivedAt: Date.UTC(2026, 10, 30, 2), timezone: 'Asia/Shanghai', eventId: 'd' };
const sysmonEvent = fc
  .record({ img: fc.constantFrom(...IMAGES), parent: fc.constantFrom(...IMAGES), args: fc.array(fc.constantFrom(...TOKENS), { maxLength: 6 }), user: fc.constantFrom('CORP\\bob', 'NT AUTHORITY\\SYSTEM') })
  .map(({ img, parent, args, user }) =>
    normaliseJson({ Event: { System: { EventID: 1, Channel: 'Microsoft-Windows-Sysmon/Operational', Computer: 'PC1' }, EventData: { Image: `C:\\Windows\\System32\\${img}`, CommandLine: [img, ...args].join(' '), ParentImage: `C:\\Windows\\${parent}`, User: user } } }, ctx) as unknown as EventLike,
  );

test('indexed and naive engines agree on SigmaHQ process-creation rules and our packs (fast-check)', () => {
  // The generated events are process creations: the rules that can meet them.
  const rules = [...loadRules(join(PKG_ROOT, 'packs')).rules, ...loadRules(join(SHARED, 'sigma', 'rules', 'windows', 'process_creation')).rules];
  const opts = { lists: loadLists(join(PKG_ROOT, 'lists')), onError: 'skip' as const };
  const indexed = compileRules(rules, builtinPipeline('ecs'), opts);
  const naive = compileRules(rules, builtinPipeline('ecs'), { ...opts, index: false });
  let hits = 0;
  fc.assert(
    fc.property(sysmonEvent, (ev) => {
      const a = indexed.match(ev).map((m) => m.ruleId).sort();
      const b = naive.match(ev).map((m) => m.ruleId).sort();
      hits += a.length;
      assert.deepEqual(a, b);
    }),
    { numRuns: 300, seed: 4 },
  );
  assert.ok(hits > 0, 'the generated events hit some rules');
  assert.ok(indexed.stats().evaluations < naive.stats().evaluations / 5, `index saves work: ${indexed.stats().evaluations} vs ${naive.stats().evaluations}`);
});

test('Aho-Corasick finds every occurrence (differential against indexOf)', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.string({ unit: fc.constantFrom('a', 'b', 'c', '中', 'é'), minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 8 }), fc.string({ unit: fc.constantFrom('a', 'b', 'c', '中', 'é'), maxLength: 40 }), (pats, text) => {
      const ac = new AhoCorasick();
      pats.forEach((p, i) => ac.add(p, i));
      ac.build();
      const got = new Array(pats.length).fill(0);
      ac.scan(text, (id) => got[id]++);
      const want = pats.map((p) => {
        let n = 0;
        for (let i = text.indexOf(p); i >= 0; i = text.indexOf(p, i + 1)) n++;
        return n;
      });
      assert.deepEqual(got, want);
    }),
    { numRuns: 500, seed: 7 },
  );
});

test('short punctuation literals index a rule; a long substring key wins over .exe (no evaluation for events without them)', () => {
  const rule = (id: string, detection: Record<string, unknown>) => ({ source: `${id}.yml`, doc: { title: id, id, logsource: { product: 'windows', category: 'process_creation' }, detection } });
  const rules = [
    // Dosfuscation-style: every literal is two punctuation characters or longer.
    rule('caret', { selection: { 'CommandLine|contains': ['^^', ',;,', ' c^md'] }, condition: 'selection' }),
    // EDR-Freeze-style: the `.exe` ending is necessary but says little; `\edr-freeze` is kept.
    rule('edr', { selection_img: { 'Image|contains': ['\\EDR-Freeze', '\\EDRFreeze'], 'Image|endswith': '.exe' }, selection_hash: { 'Hashes|contains': ['IMPHASH=1195F7935954A2CD09157390C33F8E8C'] }, condition: '1 of selection_*' }),
  ];
  const engine = compileRules(rules, builtinPipeline('ecs'));
  const naive = compileRules(rules, builtinPipeline('ecs'), { index: false });
  const ev = (img: string, cmd: string) => normaliseJson({ Event: { System: { EventID: 1, Channel: 'Microsoft-Windows-Sysmon/Operational', Computer: 'PC1' }, EventData: { Image: img, CommandLine: cmd } } }, ctx) as unknown as EventLike;
  const plain = ev('C:\\Windows\\System32\\cmd.exe', 'cmd.exe /c dir');
  assert.deepEqual(engine.match(plain), []);
  assert.equal(engine.stats().evaluations, 0, 'neither rule is evaluated for an ordinary cmd.exe');
  const cases: [EventLike, string[]][] = [
    [ev('C:\\Windows\\System32\\cmd.exe', 'cmd.exe /c e^^cho x'), ['caret']],
    [ev('C:\\Windows\\System32\\cmd.exe', 'cmd /c ,;,set x'), ['caret']],
    [ev('C:\\Tools\\EDR-Freeze.exe', 'EDR-Freeze.exe 1234'), ['edr']],
    [ev('C:\\Tools\\edrfreeze.exe', 'x c^md'), ['caret', 'edr']],
    [ev('C:\\Tools\\EDR-Freeze.dll', 'x'), []],
  ];
  for (const [e, want] of cases) {
    assert.deepEqual(engine.match(e).map((m) => m.ruleId).sort(), want);
    assert.deepEqual(naive.match(e).map((m) => m.ruleId).sort(), want);
  }
});

/** A value of an event's nested objects: the object holding it, its key, its dotted path, and the holder's own holder and key. */
interface Leaf {
  at: Record<string, unknown>;
  key: string;
  path: string;
  up?: { at: Record<string, unknown>; key: string };
}

/** Every value of an event's nested objects (arrays kept whole). */
function leaves(o: Record<string, unknown>, pre = '', up?: Leaf['up']): Leaf[] {
  const out: Leaf[] = [];
  for (const [k, v] of Object.entries(o)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) out.push(...leaves(v as Record<string, unknown>, `${pre}${k}.`, { at: o, key: k }));
    else out.push({ at: o, key: k, path: `${pre}${k}`, up });
  }
  return out;
}

test('the generated walk and probes read fields as the getters do: flattened keys, arrays, null and primitives on the way, capitals, long values (indexed vs naive, fast-check)', () => {
  // Our packs' sample events (every logsource of the packs, trie and index fields included) and a
  // spread of SigmaHQ rules, reshaped: the index's generated code must agree with the naive engine,
  // which reads every field through the compiled getters.
  const packs = loadRules(join(PKG_ROOT, 'packs')).rules;
  const sigma = loadRules(join(SHARED, 'sigma', 'rules')).rules.filter((_, i) => i % 7 === 0);
  const opts = { lists: loadLists(join(PKG_ROOT, 'lists')), onError: 'skip' as const, limits: { maxEventValueLength: 40 } };
  const indexed = compileRules([...packs, ...sigma], builtinPipeline('ecs'), opts);
  const naive = compileRules([...packs, ...sigma], builtinPipeline('ecs'), { ...opts, index: false });
  const samples: EventLike[] = [];
  for (const r of packs) {
    const s = (r.doc['x-xiangan'] as { samples?: { match?: unknown[]; nomatch?: unknown[] } } | undefined)?.samples;
    for (const x of [...(s?.match ?? []), ...(s?.nomatch ?? [])]) for (const ev of Array.isArray(x) ? x : [x]) samples.push(ev as EventLike);
  }
  assert.ok(samples.length > 50);
  // One reshaping of one value: flattened to a dotted key, its holder wrapped in an array (with a
  // sibling object) or replaced by null or a number, the value in capitals, repeated past the
  // scan limit, or in a list.
  const edit = fc.record({ leaf: fc.nat(), how: fc.constantFrom('flat', 'array', 'null', 'number', 'upper', 'long', 'list') });
  let hits = 0;
  fc.assert(
    fc.property(fc.nat({ max: samples.length - 1 }), fc.array(edit, { maxLength: 4 }), (i, edits) => {
      const ev = structuredClone(samples[i]!) as Record<string, unknown>;
      for (const { leaf, how } of edits) {
        const ls = leaves(ev).filter((l) => l.path !== 'id' && l.path !== '@timestamp');
        if (!ls.length) break;
        const { at, key, path, up } = ls[leaf % ls.length]!;
        const v = at[key];
        if (how === 'flat' && at !== ev) {
          delete at[key];
          ev[path] = v;
        } else if ((how === 'array' || how === 'null' || how === 'number') && up) up.at[up.key] = how === 'array' ? [at, { [key]: 'other' }] : how === 'null' ? null : 7;
        else if (how === 'upper' && typeof v === 'string') at[key] = v.toUpperCase();
        else if (how === 'long' && typeof v === 'string') at[key] = v.repeat(50);
        else if (how === 'list') at[key] = [v, v];
      }
      const a = indexed.match(ev as EventLike).map((m) => JSON.stringify(m)).sort();
      const b = naive.match(ev as EventLike).map((m) => JSON.stringify(m)).sort();
      hits += a.length;
      assert.deepEqual(a, b);
    }),
    { numRuns: 3000, seed: 10 },
  );
  assert.ok(hits > 100, `the reshaped events hit rules: ${hits}`);
  assert.ok(indexed.stats().truncatedValues > 0, 'some values passed the scan limit');
});
