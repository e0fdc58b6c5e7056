import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engineOf } from './helpers.js';

/**
 * The worktime test computes the local weekday and minute with arithmetic on the parsed time;
 * the reference here is the JavaScript Date (ECMA-262 §21.4) the rule's meaning is defined by.
 */
function reference(spec: { d0: number; d1: number; s: number; e: number; off: number }, stamp: string): boolean {
  const ms = Date.parse(stamp);
  if (!Number.isFinite(ms)) return false;
  const days = new Set<number>();
  for (let d = spec.d0; ; d = (d + 1) % 7) {
    days.add(d);
    if (d === spec.d1) break;
  }
  const local = new Date(ms + spec.off * 60000);
  const mins = local.getUTCHours() * 60 + local.getUTCMinutes();
  if (spec.s <= spec.e) return days.has(local.getUTCDay()) && mins >= spec.s && mins < spec.e;
  if (mins >= spec.s) return days.has(local.getUTCDay());
  return mins < spec.e && days.has((local.getUTCDay() + 6) % 7);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
const offText = (o: number) => `${o < 0 ? '-' : '+'}${hhmm(Math.abs(o))}`;

test('xiangan-worktime agrees with Date on weekday and minute across offsets, midnight ranges and time forms', () => {
  let seed = 12345;
  const rnd = (n: number) => {
    // xorshift32 (Marsaglia 2003).
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const specs = [
    { d0: 1, d1: 5, s: 8 * 60 + 30, e: 18 * 60, off: 480 },
    { d0: 5, d1: 1, s: 22 * 60, e: 6 * 60, off: -330 },
    { d0: 0, d1: 0, s: 0, e: 1440, off: 0 },
    { d0: 3, d1: 3, s: 23 * 60 + 59, e: 3 * 60, off: 840 },
  ];
  for (const spec of specs) {
    const value = `${DAYS[spec.d0]}-${DAYS[spec.d1]} ${hhmm(spec.s)}-${hhmm(spec.e)} ${offText(spec.off)}`;
    const engine = engineOf({ sel: { '@timestamp|xiangan-worktime': value }, condition: 'sel' });
    const stamps: string[] = [];
    for (let i = 0; i < 400; i++) {
      // Minute steps around midnights and week ends over four centuries (leap years, 1600-2400).
      const ms = Date.UTC(1600 + rnd(800), rnd(12), 1 + rnd(31), rnd(24), rnd(60), rnd(60), rnd(1000));
      const iso = new Date(ms).toISOString();
      stamps.push(iso, iso.slice(0, 19) + 'Z', iso.slice(0, 19) + '+08:00', iso.toLowerCase());
    }
    // Days past the month's end, the earliest and latest times a Date holds, and non-dates.
    stamps.push('2026-02-30T23:59:59.999Z', '2024-02-29T16:00:00.000Z', '+275760-09-13T00:00:00.000Z', '-271821-04-20T00:00:00.000Z');
    stamps.push('0999-12-31T23:00:00.000Z', '2026-11-30T24:00:00.000Z', '2026-11-30T08:00:00.00xZ', 'not a time', '');
    let inside = 0;
    for (const stamp of stamps) {
      const want = reference(spec, stamp);
      if (want) inside++;
      assert.equal(engine.match({ '@timestamp': stamp }).length > 0, want, `${value} at ${stamp}`);
    }
    // Both outcomes occur (the comparison is not vacuous).
    assert.ok(inside > 0 && inside < stamps.length, `${value}: ${inside} of ${stamps.length} inside`);
  }
});
