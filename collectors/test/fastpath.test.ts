/**
 * Differential tests of the hand-written fast paths against the plain implementations they
 * replaced (kept here as the reference: the regular expressions, `Date`/`Intl` arithmetic and
 * string building of the first version). Outputs must be identical for any input.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import fc from 'fast-check';
import { sm3 } from '@xiangan/crypto';
import { parseRfc3164Body, type Rfc3164Parts } from '../src/syslog/rfc3164.js';
import { parseIsoTime, type IsoTime } from '../src/syslog/rfc5424.js';
import { inferYear, isoMs, isoTime, utcMs, wallToInstant, zoneOffset } from '../src/syslog/time.js';
import { asInt, asIp, isIpv4, KvKeys, scanKv, splitPairs } from '../src/parsers/util.js';
import { eventId, eventIds, type EventIdInput } from '../src/id.js';
import { parseSyslog } from '../src/syslog/parse.js';
import { normalise } from '../src/parsers/index.js';
import { logPrefix } from '../src/parsers/netfilter.js';
import { quoted } from '../src/parsers/web.js';

/** The fields that are not undefined (results keep absent fields as undefined for a stable shape). */
const definedOnly = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

// ---- reference implementations (the first version's code) ----

const REF_MONTHS: Record<string, number> = { Jan: 1, Feb: 2, Mar: 3, Apr: 4, May: 5, Jun: 6, Jul: 7, Aug: 8, Sep: 9, Oct: 10, Nov: 11, Dec: 12 };
const REF_BSD =
  /^([A-Z][a-z]{2}) {1,2}(\d{1,2})(?: (\d{4}))? (\d{2}):(\d{2}):(\d{2})(?:[.:](\d{1,6}))?(?: (\d{4})(?= ))?(?:(?: ([A-Z]{2,5}))?(:))?(?: |$)/;
const REF_ISO_PREFIX = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|z|[+-]\d{2}:?\d{2})?/;
const REF_TAG = /^([A-Za-z0-9_.\-/\u3400-\u4DBF\u4E00-\u9FFF]{1,64})(?:\[([^\]\s]{1,128})\]: ?|:(?: |$))/;

function refTakeTag(rest: string, out: Rfc3164Parts): void {
  const t = REF_TAG.exec(rest);
  if (t === null) {
    out.msg = rest;
    return;
  }
  out.appname = t[1]!;
  if (t[2] !== undefined) out.procid = t[2];
  out.msg = rest.slice(t[0].length);
}

function ref3164(s: string): Rfc3164Parts {
  const out: Rfc3164Parts = { msg: s };
  let pos = 0;
  let cisco = false;
  const seq = /^(\d{1,10}): /.exec(s);
  if (seq !== null) {
    out.sequence = seq[1]!;
    pos = seq[0].length;
    cisco = true;
  }
  let rest = s.slice(pos);
  if (cisco) {
    const m = /^([A-Za-z0-9_.\-]{1,255}): (?=[*.]?[A-Z][a-z]{2} )/.exec(rest);
    if (m !== null) {
      out.hostname = m[1]!;
      rest = rest.slice(m[0].length);
    }
  }
  let mark = '';
  if (rest[0] === '*' || rest[0] === '.') {
    mark = rest[0];
    rest = rest.slice(1);
  }
  let afterTs = -1;
  const bsd = REF_BSD.exec(rest);
  if (bsd !== null) {
    const month = REF_MONTHS[bsd[1]!];
    const day = Number(bsd[2]);
    const hour = Number(bsd[4]);
    const minute = Number(bsd[5]);
    const second = Number(bsd[6]);
    if (month !== undefined && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 && second <= 60) {
      const frac = bsd[7];
      const yearText = bsd[3] ?? bsd[8];
      out.bsd = {
        month,
        day,
        hour,
        minute,
        second: Math.min(second, 59),
        millis: frac === undefined ? 0 : Number((frac + '00').slice(0, 3)),
        utc: bsd[9] === 'UTC' || bsd[9] === 'GMT',
        year: yearText !== undefined ? Number(yearText) : undefined,
      };
      let e = bsd[0].length;
      if (bsd[0].charCodeAt(e - 1) === 0x20) e--;
      if (bsd[0].charCodeAt(e - 1) === 0x3a) e--;
      out.timestampText = mark + bsd[0].slice(0, e);
      afterTs = bsd[0].length;
      if (bsd[10] === ':') cisco = true;
    }
  } else {
    const iso = REF_ISO_PREFIX.exec(rest);
    if (iso !== null && (rest.length === iso[0].length || rest[iso[0].length] === ' ')) {
      const t = refIso(iso[0]);
      if (t !== undefined) {
        out.iso = t;
        out.timestampText = iso[0];
        afterTs = Math.min(rest.length, iso[0].length + 1);
      }
    }
  }
  if (afterTs === -1) {
    refTakeTag(rest, out);
    return out;
  }
  rest = rest.slice(afterTs);
  if (cisco) {
    out.msg = rest;
    return out;
  }
  const sp = rest.indexOf(' ');
  const first = sp === -1 ? rest : rest.slice(0, sp);
  if (first === '' || first.endsWith(':') || REF_TAG.test(first)) {
    refTakeTag(rest, out);
    return out;
  }
  out.hostname = first;
  let after = sp === -1 ? '' : rest.slice(sp + 1);
  if (after.startsWith(': ')) after = after.slice(2);
  refTakeTag(after, out);
  return out;
}

function refIso(text: string): IsoTime | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|z|[+-]\d{2}:?\d{2})?$/.exec(text);
  if (m === null) return undefined;
  const [year, month, day, hour, minute] = [1, 2, 3, 4, 5].map((i) => Number(m[i]));
  let second = Number(m[6]);
  if (month! < 1 || month! > 12 || day! < 1 || day! > 31 || hour! > 23 || minute! > 59 || second > 60) return undefined;
  if (new Date(Date.UTC(year!, month! - 1, day!)).getUTCDate() !== day) return undefined;
  let leap = false;
  if (second === 60) {
    second = 59;
    leap = true;
  }
  const frac = m[7] ?? '';
  const millis = leap ? 999 : frac === '' ? 0 : Number((frac + '00').slice(0, 3));
  const fraction = frac.length > 3 ? frac.slice(3) : undefined;
  const wall: IsoTime['wall'] = [year!, month!, day!, hour!, minute!, second, millis];
  const off = m[8];
  if (off === undefined) return { wall, ...(fraction !== undefined ? { fraction } : {}) };
  let offMs = 0;
  let offset = 'Z';
  if (off !== 'Z' && off !== 'z') {
    const digits = off.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2, 4));
    if (oh > 23 || om > 59) return undefined;
    offMs = (off[0] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
    offset = off.slice(0, 3) + ':' + digits.slice(2, 4);
  }
  const ms = Date.UTC(year!, month! - 1, day!, hour!, minute!, second, millis) - offMs;
  return { ms, wall, offset, ...(fraction !== undefined ? { fraction } : {}) };
}

/** The two-step conversion over hourly `Intl` offsets, without the per-day cache. */
function refWall(zone: string, y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number {
  const guess = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const off1 = zoneOffset(zone, guess);
  const t1 = guess - off1;
  const off2 = zoneOffset(zone, t1);
  return off2 === off1 ? t1 : guess - Math.max(off1, off2);
}

function refInferYear(zone: string, mo: number, d: number, h: number, mi: number, s: number, ms: number, recv: number): number | undefined {
  const y = new Date(recv + zoneOffset(zone, recv)).getUTCFullYear();
  const valid = (yr: number): boolean => !(mo === 2 && d === 29) || (yr % 4 === 0 && (yr % 100 !== 0 || yr % 400 === 0));
  let best: number | undefined;
  let bestDist = Infinity;
  for (const cand of [y, y - 1, y + 1]) {
    if (!valid(cand)) continue;
    const t = refWall(zone, cand, mo, d, h, mi, s, ms);
    const dist = Math.abs(t - recv);
    if (dist < bestDist) {
      bestDist = dist;
      best = t;
    }
    if (cand === y && dist <= 182 * 86_400_000) break;
  }
  return best;
}

/** The documented id encoding built as one string (id.ts header comment). */
function refEventId(input: EventIdInput): string {
  const f = (v: string): string => `${v.length}:${v}`;
  let h = f(input.kind) + f(input.sourceId);
  if (input.kind === 'network') h += f(input.peerAddress) + f(String(input.peerPort)) + f(String(input.receivedAt)) + f(input.connection) + f(String(input.seq));
  else if (input.kind === 'file') h += f(input.fileKey) + f(String(input.offset));
  else h += f(input.request) + f(String(input.index));
  h += `${input.bytes.length}:`;
  return Buffer.from(sm3(Buffer.concat([Buffer.from(h, 'utf8'), input.bytes]))).subarray(0, 16).toString('hex');
}

// ---- generators ----

const headerPiece = fc.constantFrom(
  'Nov', 'Jan', 'Feb', 'Xyz', 'nov', ' ', '  ', '1', '29', '9', '123', '2026', '0000', ' 2026', ':', '.', ',', '10:00:00', '1:00:00',
  '23:59:60', '24:00:00', '456', '1234567', '123456', ' UTC', ' GMT', ' CST', ' ABCDEF', ' AB', 'UTC:', ': ', ' host', ' sshd[12]: ',
  'sshd[]: ', 'a[b c]: ', 'tag: ', 'tag:', '[x]:', 'x'.repeat(65) + ': ', '*', '12: ', 'router1: ', '%ASA-6-1: x', '\t', '\u3000', 'T', 'Z',
  '+08:00', '-0800', '+08:0', '2026-11-29', '2026-02-30', '0099-02-29', '-',
  // CJK TAGs (`日志服务: `) and the edges of the ideograph ranges.
  ' 日志服务: ', ' 防火墙', '告警[3]: ', '\u4e00', '\u9fff', '\u3400', '\u4dbf', '\u33ff', '\u4dc0', '\ua000', '\u4dff:',
);
const header = fc
  .tuple(fc.constantFrom('', 'Nov 29 ', 'Nov  9 ', 'Feb 29 2028 ', 'Dec 31 ', '12: *Mar  1 '), fc.array(headerPiece, { maxLength: 10 }), fc.string({ maxLength: 12 }))
  .map(([a, b, c]) => a + b.join('') + c);
const isoText = fc
  .tuple(
    fc.constantFrom('2026-11-29T10:00:00', '2026-02-29 10:00:00', '0001-01-01T00:00:00', '0099-02-29T00:00:00', '2028-02-29T23:59:60', '2026-13-01T00:00:00', '2026-11-31T24:00:00'),
    fc.constantFrom('', '.1', '.1234', ',123456789', '.1234567890', '.'),
    fc.constantFrom('', 'Z', 'z', '+08:00', '-0530', '+2400', '+08:60', '+08', '+08:000', ' '),
  )
  .map(([a, b, c]) => a + b + c);
const ZONES = ['Asia/Shanghai', 'UTC', 'America/New_York', 'Europe/London', 'Australia/Lord_Howe', 'Asia/Kolkata', 'Pacific/Chatham', 'America/Santiago'];

describe('fast paths equal the reference implementations', () => {
  test('RFC 3164 header scanner = the regular-expression grammar', () => {
    fc.assert(
      fc.property(header, (s) => {
        assert.deepEqual(definedOnly(parseRfc3164Body(s)), ref3164(s), JSON.stringify(s));
      }),
      { numRuns: 20_000 },
    );
  });

  test('RFC 3339 reader = the regular-expression grammar', () => {
    fc.assert(
      fc.property(fc.oneof(isoText, header, fc.string({ maxLength: 40 })), (s) => {
        assert.deepEqual(parseIsoTime(s), refIso(s), JSON.stringify(s));
      }),
      { numRuns: 10_000 },
    );
  });

  test('wall clock → instant and year inference = the hourly two-step conversion, DST zones included', () => {
    const wall = fc.record({
      zone: fc.constantFrom(...ZONES),
      y: fc.oneof(fc.integer({ min: 1990, max: 2040 }), fc.integer({ min: 0, max: 150 })),
      mo: fc.oneof(fc.constantFrom(3, 4, 9, 10, 11), fc.integer({ min: 1, max: 12 })),
      d: fc.integer({ min: 1, max: 31 }),
      h: fc.integer({ min: 0, max: 23 }),
      mi: fc.integer({ min: 0, max: 59 }),
      s: fc.integer({ min: 0, max: 59 }),
      ms: fc.integer({ min: 0, max: 999 }),
      recv: fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }),
    });
    fc.assert(
      fc.property(wall, ({ zone, y, mo, d, h, mi, s, ms, recv }) => {
        // Ten times on one day: past the count at which the day's offset is checked and cached.
        for (let k = 0; k < 10; k++) {
          const hh = (h + 7 * k) % 24;
          assert.equal(wallToInstant(zone, y, mo, d, hh, mi, s, ms), refWall(zone, y, mo, d, hh, mi, s, ms));
          assert.equal(inferYear(zone, mo, d, hh, mi, s, ms, recv), refInferYear(zone, mo, d, hh, mi, s, ms, recv));
        }
      }),
      { numRuns: 2000 },
    );
    // Every hour across the 2026 DST changes of New York and Lord Howe (30-minute shift).
    for (const [zone, mo, d] of [['America/New_York', 3, 8], ['America/New_York', 11, 1], ['Australia/Lord_Howe', 4, 5], ['Australia/Lord_Howe', 10, 4]] as const) {
      for (let h = 0; h < 24; h++) for (const mi of [0, 15, 30, 45]) assert.equal(wallToInstant(zone, 2026, mo, d, h, mi, 0, 0), refWall(zone, 2026, mo, d, h, mi, 0, 0), `${zone} ${mo}-${d} ${h}:${mi}`);
    }
  });

  test('year inference keeps the receipt year per (receipt time, zone): zones and times interleaved', () => {
    // One receipt time shared by zones on both sides of New Year (UTC 2026-12-31 20:00 is 2027 in Shanghai).
    const recvs = [Date.UTC(2026, 11, 31, 20), Date.UTC(2026, 11, 31, 20), Date.UTC(2027, 0, 1, 2), Date.UTC(2026, 5, 1)];
    for (const recv of recvs) {
      for (const zone of ['Asia/Shanghai', 'America/New_York', 'Asia/Shanghai', 'UTC']) {
        for (const [mo, d] of [[12, 31], [1, 1], [6, 1]] as const) assert.equal(inferYear(zone, mo, d, 23, 0, 0, 0, recv), refInferYear(zone, mo, d, 23, 0, 0, 0, recv), `${zone} ${recv} ${mo}-${d}`);
      }
    }
  });

  test('utcMs = Date.UTC; isoTime = Date#toISOString', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -50, max: 300_000 }),
        fc.integer({ min: -2, max: 14 }),
        fc.integer({ min: -40, max: 70 }),
        fc.integer({ min: -30, max: 30 }),
        fc.integer({ min: -100, max: 100 }),
        fc.integer({ min: -100, max: 100 }),
        fc.integer({ min: -2000, max: 2000 }),
        (y, mo, d, h, mi, s, ms) => {
          assert.ok(Object.is(utcMs(y, mo, d, h, mi, s, ms), Date.UTC(y, mo - 1, d, h, mi, s, ms)));
        },
      ),
      { numRuns: 20_000 },
    );
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: 253402300799999 }), fc.integer({ min: -62198755200000, max: 8.64e15 }), fc.double({ min: 0, max: 4e12, noNaN: true })), (t) => {
        assert.equal(isoTime(t), new Date(t).toISOString());
      }),
      { numRuns: 20_000 },
    );
  });

  test('isoTime from its caches: times repeated, a second apart, and in the same cache slots (1,024 ms apart) give their own texts', () => {
    const base = Date.UTC(2026, 10, 28, 2, 0, 1, 7);
    const times: number[] = [];
    for (let k = 0; k < 4000; k++) times.push(base + (k % 7) * 1024, base + (k % 5) * 1000, base + k, base + (k % 3) * 1024 * 1000);
    for (const t of [...times, ...times.reverse()]) assert.equal(isoTime(t), new Date(t).toISOString());
  });

  test('isoMs = Date.parse (ISO texts of any instant, edited ones, invalid days, any string)', () => {
    const iso = fc.integer({ min: -62198755200000, max: 253402300799999 }).map((t) => new Date(t).toISOString());
    const two = fc.integer({ min: 0, max: 99 }).map((n) => String(n).padStart(2, '0'));
    // Every field combination, the invalid ones included (Feb 29-31, day 31 of 30-day months, hour 24, second 60).
    const fields = fc
      .tuple(fc.integer({ min: 0, max: 9999 }), two, two, two, two, two, fc.integer({ min: 0, max: 999 }))
      .map(([y, mo, d, h, mi, s, ms]) => `${String(y).padStart(4, '0')}-${mo}-${d}T${h}:${mi}:${s}.${String(ms).padStart(3, '0')}Z`);
    const edited = fc.tuple(iso, fc.nat(), fc.string({ minLength: 1, maxLength: 1 })).map(([t, i, c]) => t.slice(0, i % 24) + c + t.slice((i % 24) + 1));
    fc.assert(
      fc.property(fc.oneof(iso, fields, edited, fc.string()), (text) => {
        assert.ok(Object.is(isoMs(text), Date.parse(text)), text);
      }),
      { numRuns: 50_000 },
    );
    for (const text of ['2024-02-29T00:00:00.000Z', '2023-02-29T00:00:00.000Z', '2000-02-29T23:59:59.999Z', '1900-02-29T00:00:00.000Z', '2026-04-31T00:00:00.000Z', '2026-12-31T24:00:00.000Z', '0099-01-01T00:00:00.000Z', '0100-03-01T00:00:00.000Z']) {
      assert.ok(Object.is(isoMs(text), Date.parse(text)), text);
    }
  });

  test('IPv4 and integer readers = net.isIP and Number', () => {
    const octet = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.constantFrom('00', '01', '007', '', ' 1', '1a', '-1'));
    fc.assert(
      fc.property(fc.oneof(fc.array(octet, { minLength: 1, maxLength: 6 }).map((a) => a.join('.')), fc.string({ maxLength: 20 }), fc.constantFrom('::1', '::ffff:1.2.3.4', 'fe80::1%eth0', '1.2.3.4%x')), (v) => {
        assert.equal(isIpv4(v), isIP(v) === 4, v);
        assert.equal(asIp(v), v.length >= 2 && v.length <= 64 && isIP(v) !== 0 ? v : undefined, v);
      }),
      { numRuns: 20_000 },
    );
    fc.assert(
      fc.property(fc.oneof(fc.stringMatching(/^\d{0,16}$/), fc.string({ maxLength: 5 })), (v) => {
        assert.equal(asInt(v), /^\d{1,15}$/.test(v) ? Number(v) : undefined, v);
      }),
    );
  });

  test('key=value scanner = a scan into an object (quotes, escapes, repeats, bare words)', () => {
    const names = ['a', 'bb', 'srcip', 'msg', 'x_y', 'ab', 'ba'];
    const keys = new KvKeys(names);
    const ref = (s: string): Record<string, string> => {
      const out: Record<string, string> = {};
      let i = 0;
      while (i < s.length) {
        while (s[i] === ' ') i++;
        const ks = i;
        while (i < s.length && s[i] !== '=' && s[i] !== ' ') i++;
        if (i >= s.length || s[i] !== '=') continue;
        const key = s.slice(ks, i++);
        let value = '';
        const q = s[i];
        if (q === '"' || q === "'") {
          i++;
          while (i < s.length && s[i] !== q) {
            if (s[i] === '\\' && i + 1 < s.length) i++;
            value += s[i++];
          }
          i++;
        } else while (i < s.length && s[i] !== ' ') value += s[i++];
        out[key] = value;
      }
      return out;
    };
    const token = fc.constantFrom(...names, 'zz', '', ' ', '  ', '=', '"', "'", '\\', 'v', 'x y', '日志');
    fc.assert(
      fc.property(fc.array(token, { maxLength: 16 }), (parts) => {
        const s = parts.join('');
        const expect = ref(s);
        assert.deepEqual(scanKv(s, keys), names.map((n) => (Object.hasOwn(expect, n) ? expect[n] : undefined)), JSON.stringify(s));
      }),
      { numRuns: 20_000 },
    );
    assert.throws(() => new KvKeys(['__proto__']), RangeError);
  });

  test('pair splitter = a loop over every character', () => {
    const sp = (c: number): boolean => c === 32 || c === 9;
    const ref = (s: string, items: string, kvs: string): Record<string, string> => {
      const out: Record<string, string> = {};
      let last: string | undefined;
      for (let start = 0; start <= s.length; ) {
        let end = start;
        let kv = -1;
        for (; end < s.length; end++) {
          if (items.includes(s[end]!)) break;
          if (kv < 0 && kvs.includes(s[end]!)) kv = end;
        }
        let ks = start;
        while (ks < end && sp(s.charCodeAt(ks))) ks++;
        if (kv <= ks) {
          if (last !== undefined && ks < end) out[last] += s.slice(start - 1, end);
        } else {
          let ke = kv;
          while (ke > ks && sp(s.charCodeAt(ke - 1))) ke--;
          let vs = kv + 1;
          let ve = end;
          while (vs < ve && sp(s.charCodeAt(vs))) vs++;
          while (ve > vs && sp(s.charCodeAt(ve - 1))) ve--;
          if (ve - vs >= 2 && s[vs] === '"' && s[ve - 1] === '"') {
            vs++;
            ve--;
          }
          const key = s.slice(ks, ke);
          if (ke - ks <= 64 && key !== '' && key !== '__proto__' && key !== 'constructor' && key !== 'prototype') {
            out[key] = s.slice(vs, ve);
            last = key;
          }
        }
        start = end + 1;
      }
      return out;
    };
    const token = fc.constantFrom('a', 'Key', '=', ',', ' ', '\t', '"', '：', '，', ':', '源IP', 'x y', '__proto__', '1.2.3.4', 'k'.repeat(70));
    const seps = fc.constantFrom<[string, string]>([',', '='], [',，', ':：'], [';', '=']);
    fc.assert(
      fc.property(fc.array(token, { maxLength: 14 }), seps, (parts, [items, kvs]) => {
        const s = parts.join('');
        assert.deepEqual(splitPairs(s, items, kvs), ref(s, items, kvs), JSON.stringify(s));
      }),
      { numRuns: 20_000 },
    );
  });

  test('eventId = the documented encoding hashed as one string', () => {
    const text = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('', '源', 'a\ud800b', '10.0.0.1', '::1'));
    const num = fc.oneof(fc.nat(), fc.constantFrom(0, 9, 10, 1_795_000_000_000, 2 ** 53 - 1, 2 ** 53, -1, 1.5, NaN, Infinity, 1e21));
    const input: fc.Arbitrary<EventIdInput> = fc.oneof(
      fc.record({ kind: fc.constant('network' as const), sourceId: text, peerAddress: text, peerPort: num, receivedAt: num, connection: text, seq: num, bytes: fc.uint8Array({ maxLength: 300 }) }),
      fc.record({ kind: fc.constant('file' as const), sourceId: text, fileKey: text, offset: num, bytes: fc.uint8Array({ maxLength: 300 }) }),
      fc.record({ kind: fc.constant('http' as const), sourceId: text, request: text, index: num, bytes: fc.uint8Array({ maxLength: 300 }) }),
    );
    // Runs of the same connection (the cached prefix) interleaved with others.
    fc.assert(
      fc.property(fc.array(input, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(7), { maxLength: 12 }), (inputs, order) => {
        const seq = [...order, 0].map((k) => inputs[k % inputs.length]!);
        for (const inp of seq) assert.equal(eventId(inp), refEventId(inp));
        // The batch path encodes into its own arena, with the same kept prefix.
        assert.deepEqual(eventIds(seq), seq.map(refEventId));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('vendor normaliser', () => {
  test('keeps tls.* of a TLS source (regression: it dropped what the baseline maps)', () => {
    const msg = parseSyslog(Buffer.from('<38>Nov 29 10:00:01 bastion sshd[1]: Failed password for root from 10.0.0.9 port 2222 ssh2'), {
      receivedAt: Date.UTC(2026, 10, 29, 2),
      timezone: 'Asia/Shanghai',
    });
    const base = { sourceId: 's', receivedAt: Date.UTC(2026, 10, 29, 2), timezone: 'Asia/Shanghai', eventId: 'x' };
    const verified = normalise(msg, { ...base, transport: 'tls', tls: { authorized: true, peerSubject: 'CN=fw01' } });
    assert.deepEqual(verified.tls, { established: true, client: { subject: 'CN=fw01' } });
    assert.equal(verified.event.outcome, 'failure', 'still parsed by the vendor parser');
    const anonymous = normalise(msg, { ...base, transport: 'tls', tls: { authorized: false } });
    assert.deepEqual(anonymous.tls, { established: true });
    assert.equal(normalise(msg, { ...base, transport: 'tcp' }).tls, undefined);
  });

  const ctx = { sourceId: 's', transport: 'tcp' as const, receivedAt: Date.UTC(2026, 10, 29, 2), timezone: 'Asia/Shanghai', eventId: 'x' };
  const norm = (line: string) => normalise(parseSyslog(Buffer.from(line), { receivedAt: ctx.receivedAt, timezone: ctx.timezone }), ctx);

  test('access-log request line = an upper-case method, then the target up to a trailing HTTP version, spaces and all (anything else kept as written)', () => {
    // Servers log the request line as received: an attack's target may hold spaces.
    const ref = (req: string): { method?: string; original?: string; version?: string; malformed: boolean } => {
      const sp = req.indexOf(' ');
      const method = sp > 0 ? req.slice(0, sp) : '';
      if (/^[A-Z]{3,10}$/.test(method)) {
        const last = req.lastIndexOf(' ');
        const v = last > sp ? /^HTTP\/(\d(?:\.\d)?)$/.exec(req.slice(last + 1)) : null;
        const target = v ? req.slice(sp + 1, last) : req.slice(sp + 1);
        return { method, ...(target !== '' ? { original: target } : {}), ...(v ? { version: v[1] } : {}), malformed: false };
      }
      return { ...(req !== '' ? { original: req } : {}), malformed: true };
    };
    const token = fc.constantFrom('GET', 'POST', 'get', 'G', 'PROPFIND', ' ', '  ', '/', '/a?b=1', 'HTTP/1.1', 'HTTP/2', 'HTTP/1.10', 'x', '');
    fc.assert(
      fc.property(fc.array(token, { maxLength: 6 }), (parts) => {
        const req = parts.join('');
        const ev = norm(`<190>1 2026-11-29T02:00:00Z web01 nginx - - - 10.0.0.1 - - [29/Nov/2026:10:00:04 +0800] "${req}" 200 5 "-" "ua"`);
        const want = ref(req);
        const http = ev.http as { request?: { method?: string }; version?: string } | undefined;
        assert.equal(http?.request?.method, want.method, JSON.stringify(req));
        assert.equal(ev.url?.original, want.original, JSON.stringify(req));
        assert.equal(http?.version, want.version, JSON.stringify(req));
        assert.equal(ev.tags?.includes('malformed_request') ?? false, want.malformed, JSON.stringify(req));
      }),
      { numRuns: 3000 },
    );
  });

  test('netfilter: every verbatim field under iptables.*, lower-cased, in the documented order', () => {
    const ev = norm('<4>Nov 29 10:00:03 fw01 kernel: [1.5] DROP: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=7 PROTO=ICMP TYPE=8 CODE=0 UID=0 GID=0 MARK=0x1 WINDOW=5 DF');
    assert.deepEqual(ev.iptables, { ttl: '64', id: '7', tos: '0x00', prec: '0x00', window: '5', type: '8', code: '0', len: '84', uid: '0', gid: '0', mark: '0x1', flags: ['DF'], prefix: 'DROP:' });
    assert.deepEqual(Object.keys(ev.iptables as object), ['ttl', 'id', 'tos', 'prec', 'window', 'type', 'code', 'len', 'uid', 'gid', 'mark', 'flags', 'prefix']);
  });

  test('access-log quoted field = a loop over every character (a backslash escapes the next one)', () => {
    const ref = (s: string, i: number): [string, number] | undefined => {
      if (s[i] !== '"') return undefined;
      for (let j = i + 1; j < s.length; j++) {
        if (s[j] === '\\') j++;
        else if (s[j] === '"') return [s.slice(i + 1, j), j + 1];
      }
      return undefined;
    };
    const token = fc.constantFrom('"', '\\', '\\"', '\\\\', 'a', ' ', 'GET / HTTP/1.1', '日志', '-');
    fc.assert(
      fc.property(fc.array(token, { maxLength: 16 }), fc.nat(4), (parts, at) => {
        const s = parts.join('');
        assert.deepEqual(quoted(s, at), ref(s, at), JSON.stringify([s, at]));
      }),
      { numRuns: 20_000 },
    );
  });

  test('netfilter log prefix: the kernel time taken off as the regular expression /^(?:kernel: )?\\[\\s*\\d+\\.\\d+\\]\\s*/ does', () => {
    const ref = (p: string): string => p.replace(/^(?:kernel: )?\[\s*\d+\.\d+\]\s*/, '').trim();
    const token = fc.constantFrom('kernel: ', 'kernel:', '[', ']', ' ', '\t', '\u3000', '\u00a0', '\ufeff', '1', '23', '.', 'x', 'DROP:', 'k', '日志');
    fc.assert(
      fc.property(fc.array(token, { maxLength: 12 }), (parts) => {
        const p = parts.join('').trim();
        assert.equal(logPrefix(p), ref(p), JSON.stringify(p));
      }),
      { numRuns: 20_000 },
    );
  });

  test('parsed messages all have the same keys in the same order (one shape for the normaliser), absent fields undefined', () => {
    const lines = [
      '<38>Nov 29 10:00:01 bastion sshd[1]: Failed password for root from 10.0.0.9 port 2222 ssh2',
      '<85>1 2026-11-29T02:00:00Z web01 sudo - ID47 [x@1 a="b"] bob : TTY=pts/1',
      '<166>Nov 29 2026 10:00:05: %ASA-6-302013: Built inbound TCP connection 1',
      '000123: *Mar  1 18:46:11: %SYS-5-CONFIG_I: Configured',
      'no header at all',
      '<999>bad pri',
    ];
    const shapes = new Set(lines.map((l) => JSON.stringify(Object.keys(parseSyslog(Buffer.from(l), { receivedAt: ctx.receivedAt })))));
    shapes.add(JSON.stringify(Object.keys(parseSyslog(Uint8Array.of(0x3c, 0x31, 0x3e, 0xff, 0xfe), { receivedAt: ctx.receivedAt, charset: 'utf-8' }))));
    assert.equal(shapes.size, 1, [...shapes].join('\n'));
    const m = parseSyslog(Buffer.from('no header at all'), { receivedAt: ctx.receivedAt });
    assert.equal(m.hostname, undefined);
    assert.equal(JSON.stringify(m).includes('hostname'), false);
  });
});
