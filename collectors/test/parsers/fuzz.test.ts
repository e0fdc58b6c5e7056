/**
 * Fuzzing of every parser through the real syslog parser and the dispatcher: random strings,
 * random mutations of the real-shaped samples, vendor markers followed by noise, every
 * format hint forced on noise, and random JSON. No exception, and every result is a
 * schema-valid event that keeps its original text.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseSyslog } from '../../src/syslog/parse.js';
import { FORMATS, normalise, normaliseJson, normaliseText, type FormatName } from '../../src/parsers/index.js';
import { RECEIVED_AT, ctx, loadFixtures, schemaErrors } from './helpers.js';

const fixtures = loadFixtures();
const lines = fixtures.flatMap(([, cases]) => cases.filter((c) => c.line !== undefined).map((c) => c.line!));
const docs = fixtures.flatMap(([, cases]) => cases.filter((c) => c.json !== undefined).map((c) => c.json));

function check(text: string, format?: FormatName): void {
  const bytes = Buffer.from(text, 'utf8');
  const msg = parseSyslog(bytes, { receivedAt: RECEIVED_AT, timezone: 'Asia/Shanghai', charset: 'auto' });
  const ev = normalise(msg, ctx('fuzz'), format ? { format } : {});
  const err = schemaErrors(ev);
  assert.equal(err, '', `schema: ${err} for ${JSON.stringify(text).slice(0, 300)}`);
  assert.equal(ev.id, 'fuzz');
  assert.equal(ev.event.original, msg.raw);
}

/** A random edit of a sample: replace, insert or delete a slice, or cut it short. */
const mutation = fc.tuple(
  fc.constantFrom(...lines),
  fc.array(
    fc.record({
      kind: fc.constantFrom('replace', 'insert', 'delete', 'truncate'),
      at: fc.nat(),
      len: fc.nat({ max: 12 }),
      text: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(' ', '=', '"', ':', ',', '(', ')', '[', ']', '%', '/', '->', '，', '：', '\\', '\n', '\u0000', '日志', '0x', '999999999999999999')),
    }),
    { minLength: 1, maxLength: 6 },
  ),
).map(([line, edits]) => {
  let s = line;
  for (const e of edits) {
    const at = s.length === 0 ? 0 : e.at % s.length;
    if (e.kind === 'replace') s = s.slice(0, at) + e.text + s.slice(at + e.len);
    else if (e.kind === 'insert') s = s.slice(0, at) + e.text + s.slice(at);
    else if (e.kind === 'delete') s = s.slice(0, at) + s.slice(at + e.len);
    else s = s.slice(0, at);
  }
  return s;
});

const MARKERS = [
  '<38>Nov 29 08:00:01 h sshd[1]: ',
  '<86>Nov 29 08:00:01 h sudo: ',
  '<86>Nov 29 08:00:01 h su: ',
  '<86>Nov 29 08:00:01 h useradd[2]: ',
  '<4>Nov 29 08:00:01 h kernel: ',
  'type=SYSCALL msg=audit(1700000000.1:2): ',
  '<4>Nov 29 08:00:01 h kernel: audit: type=1305 audit(1700000007.000:480): ',
  'IN=eth0 OUT= SRC=',
  '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "',
  '<189>1: *Nov 29 08:00:01: %SEC-6-IPACCESSLOGP: list ',
  '<166>Nov 29 2026 08:00:00: %ASA-6-302013: Built outbound ',
  '<166>Nov 29 2026 08:00:00: %ASA-4-106023: Deny ',
  '<166>Nov 29 2026 08:00:00: %ASA-2-106001: Inbound TCP connection denied from ',
  '<166>Nov 29 2026 08:00:00: %ASA-4-113019: Group = ',
  '<166>Nov 29 2026 08:00:00: %ASA-6-716001: Group <',
  '<189>Nov 29 2026 08:00:00 H %%01SHELL/5/LOGIN(s)[0]:VTY User ',
  '<189>2026-11-29 08:00:00 H %%01CLI/5/LOGIN(l):CID=',
  '<190>Nov 29 08:00:00 w nginx: 2026/11/29 08:00:00 [error] 1#1: *1 ',
  '2026/11/29 08:00:00 [warn] 1#1: ',
  '<187>Nov 29 08:00:00 w httpd: [Sun Nov 29 08:00:00.1 2026] [auth_basic:error] [pid 1:tid 2] [client ',
  '[Sun Nov 29 08:00:00 2026] [error] ',
  '<190>Nov 29 2026 08:00:00 X %%01SHELL/5/CMDRECORD(s)[0]:',
  '<190>Nov 29 08:00:00 2026 X %%10FILTER/6/FILTER_ZONE_IPV4_EXECUTION: ',
  '<189>date=2026-11-29 time=08:00:00 devid="FG" logid="1" type="traffic" ',
  '<190>Nov 29 08:00:00 SG 1: Traffic@FLOW: SESSION: ',
  '<190>Nov 29 08:00:00 SG Event@MGMT: 管理员"',
  '<134>Nov 29 08:00:00 localhost fwlog: 日志类型:',
];

describe('parser fuzzing', () => {
  test('random mutations of every real-shaped sample', () => {
    fc.assert(fc.property(mutation, (s) => check(s)), { numRuns: 1500 });
  });

  test('vendor markers followed by random text', () => {
    const tail = fc.oneof(fc.string({ maxLength: 120 }), fc.string({ unit: 'binary', maxLength: 120 }), fc.constantFrom(...lines).map((l) => l.slice(l.length / 2)));
    fc.assert(fc.property(fc.constantFrom(...MARKERS), tail, (m, t) => check(m + t)), { numRuns: 1500 });
  });

  test('every format hint forced on random and foreign lines', () => {
    const names = Object.keys(FORMATS) as FormatName[];
    const text = fc.oneof(fc.string({ maxLength: 200 }), mutation, fc.constantFrom(...lines));
    fc.assert(fc.property(fc.constantFrom(...names), text, (f, t) => check(t, f)), { numRuns: 1500 });
  });

  test('random bytes through the real syslog parser', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const msg = parseSyslog(bytes, { receivedAt: RECEIVED_AT, timezone: 'Asia/Shanghai', charset: 'auto' });
        const ev = normalise(msg, ctx('fuzz'));
        assert.equal(schemaErrors(ev), '');
        assert.equal(ev.event.original, msg.raw);
      }),
      { numRuns: 800 },
    );
  });

  test('long hostile lines finish (no backtracking blow-up)', () => {
    const n = 20000;
    const hostile = [
      ' IN= OUT='.repeat(n / 8),
      'a'.repeat(n),
      '%%01' + 'A'.repeat(n),
      '%ASA-6-302013: Built outbound TCP connection 1 for ' + 'a:1.1.1.1/1 '.repeat(n / 12),
      'Traffic@FLOW: SESSION: ' + '1:'.repeat(n / 2),
      '1.2.3.4 - - [' + '['.repeat(n),
      '日志类型:' + ',:'.repeat(n / 2),
      'logid= devid= ' + 'k="'.repeat(n / 3),
      'type=SYSCALL msg=audit(1.1:1): ' + 'a0='.repeat(n / 3),
      'Disconnected from user ' + 'x '.repeat(n / 2) + 'port',
      'pam_unix(sshd:auth): ' + 'locked '.repeat(n / 7),
      // Found by scaling tests: each of these was quadratic (seconds at 80 KiB) before its fix.
      'type=SYSCALL msg=audit(1.1:1): ' + 'a'.repeat(n),
      'type=SYSCALL msg=audit(1.1:1): ' + '-'.repeat(n),
      '%SEC_LOGIN-4-LOGIN_FAILED: ' + '[a: '.repeat(n / 4),
      'Event@MGMT: ' + 'user "'.repeat(n / 6),
      '%ASA-4-113019: Group = a, Username = b, IP = 1.1.1.1, ' + 'Session Type: '.repeat(n / 14),
      '%ASA-2-106001: Inbound TCP connection denied from 1.1.1.1/1 to 2.2.2.2/2 flags ' + 'A  '.repeat(n / 3),
      '%ASA-6-716001: Group ' + '<'.repeat(n),
      '%%01SHELL/5/LOGIN(s)[0]:' + 'User '.repeat(n / 5) + ' from ',
      '%%01SHELL/5/LOGIN(s)[0]:CID=1;' + 'x from '.repeat(n / 7),
      '2026/11/29 08:00:00 [error] 1#1: ' + ', client: '.repeat(n / 10),
      '2026/11/29 08:00:00 [error] 1#1: x, client: 1.1.1.1, request: "' + '\\"'.repeat(n / 3),
      '[Sun Nov 29 08:00:00 2026] [error] [client ' + '['.repeat(n),
      '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET ' + '/ '.repeat(n / 2) + 'HTTP/1.1" 200 1 "-" "-" "' + '1.1.1.1, '.repeat(n / 9),
    ];
    for (const h of hostile) check(h);
  });

  test('normaliseText never throws and keeps the line', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), mutation), (s) => {
        const ev = normaliseText(s, ctx('t'));
        assert.equal(schemaErrors(ev), '');
        assert.equal(ev.event.original, s);
      }),
      { numRuns: 500 },
    );
  });
});

/** Replaces one random leaf of a JSON value by another JSON value. */
function mutateJson(doc: unknown, path: number[], leaf: unknown): unknown {
  if (path.length === 0 || typeof doc !== 'object' || doc === null) return leaf;
  const entries = Object.entries(doc as Record<string, unknown>);
  if (entries.length === 0) return leaf;
  const [k, v] = entries[path[0]! % entries.length]!;
  const copy = (Array.isArray(doc) ? [...doc] : { ...(doc as object) }) as Record<string, unknown>;
  copy[k] = mutateJson(v, path.slice(1), leaf);
  return copy;
}

describe('JSON fuzzing', () => {
  test('random JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const ev = normaliseJson(v, ctx('j'));
        assert.equal(schemaErrors(ev), '', JSON.stringify(v).slice(0, 200));
      }),
      { numRuns: 800 },
    );
  });

  test('Windows and ECS samples with a random leaf replaced', () => {
    fc.assert(
      fc.property(fc.constantFrom(...docs), fc.array(fc.nat(), { maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), (doc, path, leaf) => {
        const v = mutateJson(doc, path, leaf);
        const before = JSON.stringify(v);
        const ev = normaliseJson(v, ctx('j'));
        assert.equal(schemaErrors(ev), '', before.slice(0, 300));
        assert.equal(JSON.stringify(v), before, 'input not modified');
        // Either the document itself, or the shipper's own raw line when the document was already ECS.
        const shipped = (v as { event?: { original?: unknown } } | null)?.event?.original;
        if (ev.event.original !== before) assert.equal(ev.event.original, shipped);
      }),
      { numRuns: 1500 },
    );
  });
});

describe('misuse', () => {
  test('a malformed context is a TypeError/RangeError, an unknown format a RangeError', () => {
    const msg = parseSyslog(Buffer.from('<13>hello'), { receivedAt: RECEIVED_AT });
    assert.throws(() => normalise(msg, { ...ctx('x'), eventId: '' }), TypeError);
    assert.throws(() => normalise(msg, { ...ctx('x'), receivedAt: 'now' as unknown as number }), TypeError);
    assert.throws(() => normalise(msg, { ...ctx('x'), receivedAt: NaN }), RangeError);
    assert.throws(() => normalise(msg, ctx('x'), { format: 'nope' as FormatName }), RangeError);
    assert.throws(() => normaliseText(42 as unknown as string, ctx('x')), TypeError);
  });
});
