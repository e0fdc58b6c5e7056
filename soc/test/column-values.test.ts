// The store's column values of an event, one per column of COLUMNS, written out by hand here
// (the ECS paths, the IPv4-mapped key of RFC 4291 §2.5.5.2, JSON arrays as JSON.stringify writes
// them): `columnValues` and `columnValuesInto` read every path the same way, including values that
// are missing, null, of the wrong type or found below a non-object.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EcsEvent } from '@xiangan/collectors';
import { COLUMNS, columnValues, columnValuesInto } from '../src/storage/sqlite-schema.js';

const full = {
  event: { category: ['authentication'], action: 'ssh_login', outcome: 'failure', code: 4625, dataset: 'system.auth', severity: 6.9 },
  source: { ip: '10.0.0.1', port: '22' },
  destination: { ip: '::1', port: 443 },
  user: { name: 'root' },
  host: { name: 'bastion' },
  observer: { vendor: 'Huawei', product: 'VRP' },
  log: { syslog: { appname: 'sshd', hostname: 'bastion' } },
} as unknown as EcsEvent;

const FULL_VALUES: Record<string, string | number | null> = {
  ts: 1_764_288_000_000,
  event_category: '["authentication"]',
  event_action: 'ssh_login',
  event_outcome: 'failure',
  event_code: '4625',
  event_dataset: 'system.auth',
  event_severity: 6,
  source_ip: '00000000000000000000ffff0a000001',
  source_port: 22,
  destination_ip: '00000000000000000000000000000001',
  destination_port: 443,
  user_name: 'root',
  host_name: 'bastion',
  observer_vendor: 'Huawei',
  observer_product: 'VRP',
  syslog_appname: 'sshd',
  syslog_hostname: 'bastion',
};

const odd = {
  event: { category: 'network', severity: 'high', action: null, outcome: ['a'] },
  source: { ip: 'not an address', port: '80x' },
  destination: 'fw01',
  user: { name: { first: 'a' } },
  host: null,
  observer: ['x'],
  log: { syslog: { appname: 7 } },
} as unknown as EcsEvent;

const ODD_VALUES: Record<string, string | number | null> = {
  ts: 5,
  event_category: '["network"]',
  event_action: null,
  event_outcome: '["a"]',
  event_code: null,
  event_dataset: null,
  event_severity: null,
  source_ip: null,
  source_port: null,
  destination_ip: null,
  destination_port: null,
  user_name: '{"first":"a"}',
  host_name: null,
  observer_vendor: null,
  observer_product: null,
  syslog_appname: '7',
  syslog_hostname: null,
};

test('column values: every column read from its ECS path and stored as its kind says', () => {
  for (const [ev, ts, want] of [
    [full, 1_764_288_000_000, FULL_VALUES],
    [odd, 5, ODD_VALUES],
    [{} as EcsEvent, 0, Object.fromEntries(COLUMNS.map((c) => [c.column, c.kind === 'time' ? 0 : null]))],
  ] as const) {
    assert.deepEqual(Object.fromEntries(COLUMNS.map((c, i) => [c.column, columnValues(ev, ts)[i]])), want);
    const value = COLUMNS.filter((c) => c.kind !== 'time');
    const out = value.map(() => ['before'] as Array<string | number | null>);
    columnValuesInto(ev, out);
    assert.deepEqual(
      out,
      value.map((c) => ['before', want[c.column]!]),
    );
  }
});

test('keyword array column: the text JSON.stringify gives, for cached keywords too (one, two, past the cache bound, toJSON)', () => {
  const at = COLUMNS.findIndex((c) => c.column === 'event_category');
  const category = (v: unknown): unknown => columnValues({ event: { category: v } } as unknown as EcsEvent, 0)[at];
  const sparse: unknown[] = [];
  sparse.length = 2;
  sparse[1] = 'network';
  const cases: unknown[] = [
    ['network'],
    ['network'], // the cached text
    ['authentication', 'network'],
    ['authentication', 'network'],
    ['authentication', 'process'],
    ['network', 'authentication'],
    ['a', 'b', 'c'],
    ['quote " and \\ and \n', 'é中文'],
    ['x'.repeat(64)],
    ['x'.repeat(65)],
    ['network', 'y'.repeat(65)],
    [1],
    ['network', 2],
    [null],
    [],
    sparse,
    [['nested']],
    'network', // a lone keyword is stored as a one-element array
    7,
  ];
  for (const v of cases) assert.equal(category(v), JSON.stringify(Array.isArray(v) ? v : [v]), JSON.stringify(v));
  // More distinct keywords than the cache keeps: each still its own text.
  for (let i = 0; i < 1_500; i++) {
    assert.equal(category([`k${i}`]), `["k${i}"]`);
    assert.equal(category([`k${i}`, 'network']), `["k${i}","network"]`);
  }
  // A callable toJSON (of the array itself, or put on Array.prototype) is called as JSON.stringify calls it.
  const own = Object.assign(['network'], { toJSON: () => 'own' });
  assert.equal(category(own), '"own"');
  const proto = Array.prototype as unknown as { toJSON?: () => string };
  proto.toJSON = () => 'patched';
  try {
    assert.equal(category(['network']), '"patched"');
    assert.equal(category(['authentication', 'network']), '"patched"');
  } finally {
    delete proto.toJSON;
  }
  assert.equal(category(['network']), '["network"]');
});
