/**
 * Differential tests of the vendor-parser fast paths of session 10 against the regular
 * expressions and calls they replaced (kept here as the reference). Outputs must be identical.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isAscii, isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { hasAt } from '../src/chars.js';
import { decodeBytes } from '../src/charset.js';
import { parseCiscoAsa } from '../src/parsers/cisco.js';
import { httpVersion, isMethod, statusEnd } from '../src/parsers/web.js';
import { transportName } from '../src/parsers/util.js';
import { normalise } from '../src/parsers/index.js';
import { parseSyslog } from '../src/syslog/parse.js';
import type { EcsEvent } from '../src/types.js';

const REF_STATUS = /^(\d{3}) (\d+|-)/;
const REF_VERSION = /^HTTP\/(\d(?:\.\d)?)$/;

/** Strings made of the pieces a grammar cares about, so edge cases come up often. */
const pieces = (...p: string[]): fc.Arbitrary<string> => fc.array(fc.oneof(fc.constantFrom(...p), fc.string({ maxLength: 2 })), { maxLength: 10 }).map((a) => a.join(''));

describe('vendor fast paths equal the expressions they replaced', () => {
  test('hasAt = startsWith at a position (non-empty literals, as the parsers use it)', () => {
    fc.assert(
      fc.property(pieces('ab', 'a', 'b', ' '), pieces('ab', 'a', '').map((l) => l || 'a'), fc.integer({ min: -3, max: 25 }), (s, lit, at) => {
        assert.equal(hasAt(s, at, lit), at >= 0 && s.startsWith(lit, at));
      }),
      { numRuns: 3000 },
    );
  });

  test('access-log status, method and version = the regular expressions', () => {
    fc.assert(
      fc.property(pieces('200', '20', '4', ' ', '-', '512', 'x'), (rest) => {
        const m = REF_STATUS.exec(rest);
        assert.equal(statusEnd(rest), m !== null ? m[0].length : -1, rest);
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(pieces('GET', 'G', 'a', 'PROPFIND', 'Z'), (m) => assert.equal(isMethod(m), /^[A-Z]{3,10}$/.test(m), m)),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(pieces('HTTP/', '1', '.', '1.1', '2', 'x', ' '), fc.integer({ min: 0, max: 4 }), (line, at) => {
        const v = REF_VERSION.exec(line.slice(at));
        assert.equal(httpVersion(line, at), v !== null ? v[1] : undefined, line);
      }),
      { numRuns: 3000 },
    );
  });

  test('transport names the switch answers = the general rule (lower-cased name)', () => {
    for (const v of ['TCP', 'tcp', 'UDP', 'udp', 'ICMP', 'icmp']) assert.equal(transportName(v), v.toLowerCase());
  });

  test('UTF-8 decoding in one call: a text without U+FFFD came from valid UTF-8, decoded as the checks did', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 20 }).map((s) => new Uint8Array(Buffer.from(s, 'utf8'))),
      fc.constant(new Uint8Array(Buffer.from('ok \uFFFD sent', 'utf8'))),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        const buf = Buffer.from(b);
        // The first version: ASCII read as latin1, else valid UTF-8 as UTF-8; other bytes escaped.
        const ref = isAscii(buf) ? buf.toString('latin1') : isUtf8(buf) ? buf.toString('utf8') : undefined;
        for (const charset of ['auto', 'utf-8'] as const) {
          const d = decodeBytes(b, charset);
          if (ref !== undefined) assert.deepEqual(d, { text: ref, charset: 'utf-8', lossy: false });
          // Not UTF-8: escaped as UTF-8, or (auto) read as GB18030 when that decodes it.
          else assert.ok(d.lossy || (charset === 'auto' && d.charset === 'gb18030'), JSON.stringify(d));
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('vendor parsers keep their results', () => {
  const ctx = { sourceId: 's', transport: 'tcp' as const, receivedAt: Date.UTC(2026, 10, 29, 2), timezone: 'Asia/Shanghai', eventId: 'x' };
  const norm = (line: string): EcsEvent => normalise(parseSyslog(Buffer.from(line), { receivedAt: ctx.receivedAt, timezone: ctx.timezone }), ctx);

  test('FortiGate verdicts = the anchored alternations', () => {
    const ALLOWED = /^(accept|accepted|allow|close|timeout|start|pass|passthrough|monitored|client-rst|server-rst)$/;
    const DENIED = /^(deny|denied|block|blocked|drop|dropped|reset|reject|ip-conn|dns)$/;
    const words = ['accept', 'Accept', 'accepted', 'allow', 'close', 'timeout', 'start', 'pass', 'passthrough', 'monitored', 'client-rst', 'server-rst',
      'deny', 'DENY', 'denied', 'block', 'blocked', 'drop', 'dropped', 'reset', 'reject', 'ip-conn', 'dns', 'accept2', 'deny ', 'x', ''];
    for (const w of words) {
      const ev = norm(`<189>date=2026-11-28 time=10:00:06 devid="FG" logid="0000000013" type="traffic" srcip=10.0.0.1 action="${w}"`);
      const a = w.toLowerCase();
      const want = DENIED.test(a) ? ['connection', 'denied'] : ALLOWED.test(a) ? ['connection', 'allowed'] : ['connection'];
      assert.deepEqual(ev.event.type, want, w);
      assert.deepEqual(ev.fortinet, { firewall: { type: 'traffic' } });
    }
  });

  test('Huawei/H3C categories: substring tests = the alternations (mnemonic, module, pairs)', () => {
    // The first version's tests, in its order.
    const ref = (module: string, mn: string, result: string | undefined, hasUser: boolean): [string, string] => {
      const failed = /FAIL|ERR/.test(mn) || (result !== undefined && /fail/i.test(result));
      if (/LOGOUT|LOGOFF/.test(mn)) return ['authentication', 'success'];
      if (/LOGIN|AUTH|SSH_FAIL|TELNET_FAIL|PASSWORD/.test(mn) || (module.startsWith('SSH') && (/FAIL/.test(mn) || hasUser)))
        return ['authentication', failed ? 'failure' : 'success'];
      if (/CMD/.test(mn) || module === 'CFM' || /CONFIG/.test(mn)) return ['configuration', failed ? 'failure' : 'success'];
      return ['', ''];
    };
    const mnemonic = fc.array(fc.constantFrom('LOGIN', 'LOGOUT', 'LOGOFF', 'AUTH', 'SSH_FAIL', 'TELNET_FAIL', 'PASSWORD', 'FAIL', 'ERR', 'CMD', 'CONFIG', 'X', '_', 'LOG', 'OUT'), { minLength: 1, maxLength: 4 }).map((a) => a.join(''));
    fc.assert(
      fc.property(fc.constantFrom('SSH', 'SSHS', 'SHELL', 'CFM', 'AAA'), mnemonic, fc.constantFrom('', ' (UserName=bob)', ' (Result=failed)', ' (User=a, Result=ok)', ' user=bob'), (module, mn, pairs) => {
        const ev = norm(`<188>Nov 28 2026 10:00:07 HUAWEI %%01${module}/5/${mn}(s)[1]:Something happened.${pairs}`);
        const result = /Result=(\w+)/.exec(pairs)?.[1];
        const [category, outcome] = ref(module, mn, result, /User(Name)?=/.test(pairs));
        if (category === '') return;
        assert.deepEqual(ev.event.category, [category], `${module} ${mn}${pairs}`);
        assert.equal(ev.event.outcome, outcome, `${module} ${mn}${pairs}`);
      }),
      { numRuns: 1500 },
    );
  });

  test('ASA connection built: fields as before (direction, transport, NAT, interfaces, connection id)', () => {
    const ev = norm('<166>Nov 28 2026 10:00:05: %ASA-6-302013: Built outbound TCP connection 85 for outside:10.0.0.85/1109 (10.0.0.86/1110) to inside:192.168.1.20/443 (192.168.1.20/443)');
    assert.deepEqual(ev.network, { transport: 'tcp', direction: 'outbound' });
    assert.deepEqual(ev.source, { ip: '192.168.1.20', port: 443 });
    assert.deepEqual(ev.destination, { ip: '10.0.0.85', port: 1109, nat: { ip: '10.0.0.86', port: 1110 } });
    assert.deepEqual((ev.observer as Record<string, unknown> | undefined)?.ingress, { interface: { name: 'inside' } });
    assert.deepEqual((ev.observer as Record<string, unknown> | undefined)?.egress, { interface: { name: 'outside' } });
    assert.deepEqual(ev.cisco, { asa: { connection_id: '85' } });
    assert.equal(ev.log?.level, 'informational');
    // A tag the scanner rejects is no ASA line (the expression did not match at that position either).
    const plain: EcsEvent = { id: 'x', '@timestamp': '', event: { original: '', ingested: '', kind: 'event' } };
    assert.equal(parseCiscoAsa({ text: '%ASA-8-302013: Built', app: '' }, plain), false);
    assert.equal(parseCiscoAsa({ text: '%ASA-6-30201: Built', app: '' }, plain), false);
  });
});
