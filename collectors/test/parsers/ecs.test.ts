/** The ECS field catalogue, the generated schema and the event helpers. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import fc from 'fast-check';
import { ECS_FIELDS, fieldType } from '../../src/ecs/fields.js';
import { ECS_EVENT_SCHEMA, IP_PATTERN } from '../../src/ecs/schema.js';
import { coerceEcs } from '../../src/ecs/coerce.js';
import { isoFromMs } from '../../src/parsers/util.js';
import { finaliseEvent, flattenEvent, getField, setField } from '../../src/ecs/helpers.js';
import type { EcsEvent } from '../../src/types.js';
import { schemaErrors } from './helpers.js';

const base = (): EcsEvent => ({ id: 'e1', '@timestamp': '2026-11-29T00:00:00.000Z', event: { kind: 'event' } });

describe('ECS_FIELDS and schema', () => {
  test('every catalogue path is reachable in the schema with its type', () => {
    for (const [path, spec] of Object.entries(ECS_FIELDS)) {
      let node = ECS_EVENT_SCHEMA as { properties?: Record<string, unknown> };
      for (const part of path.split('.')) {
        assert.ok(node.properties?.[part], `${path}: ${part} in schema`);
        node = node.properties[part] as typeof node;
      }
      const leaf = node as { type: string; items?: { type: string } };
      const jsonType = spec.array ? leaf.items?.type : leaf.type;
      const want = { keyword: 'string', text: 'string', ip: 'string', date: 'string', long: 'integer', float: 'number', boolean: 'boolean', object: 'object' }[spec.type];
      assert.equal(jsonType, want, path);
      if (spec.array) assert.equal(leaf.type, 'array', path);
    }
  });

  test('names follow ECS for the fields rules and storage rely on', () => {
    for (const p of ['source.ip', 'destination.port', 'user.name', 'process.command_line', 'process.parent.executable', 'event.category', 'winlog.event_id', 'winlog.event_data', 'log.syslog.appname', 'related.ip', 'file.path', 'url.original', 'http.response.status_code'])
      assert.ok(ECS_FIELDS[p], p);
    assert.equal(fieldType('source.ip'), 'ip');
    assert.equal(fieldType('source.port'), 'long');
    assert.equal(fieldType('@timestamp'), 'date');
    assert.equal(fieldType('winlog.event_data.TargetUserName'), 'keyword');
    assert.equal(fieldType('fortinet.firewall.logdesc'), 'keyword');
    assert.equal(fieldType('no.such.field'), undefined);
  });

  test('the ip pattern accepts every address net.isIP accepts (parsers use isIP)', () => {
    const re = new RegExp(IP_PATTERN, 'u');
    for (const ip of ['::203.0.113.9', '::', '::1', '1::', 'fe80::1%eth0', '::ffff:10.0.0.1', '2001:db8:0:0:0:0:0:1', '255.255.255.255'])
      assert.ok(re.test(ip), ip);
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended()), (ip) => {
        if (isIP(ip) !== 0) assert.ok(re.test(ip), ip);
      }),
      { numRuns: 3000 },
    );
    for (const bad of ['10.0.0.256', '1.2.3', 'host', '1.2.3.4.5']) assert.ok(!re.test(bad), bad);
  });

  test('schema accepts a full event and rejects wrong types', () => {
    const ev = { ...base(), source: { ip: '10.0.0.1', port: 22 }, related: { ip: ['10.0.0.1', '2001:db8::1'] }, tags: ['x'] };
    assert.equal(schemaErrors(ev), '');
    assert.notEqual(schemaErrors({ ...base(), source: { ip: '10.0.0.256' } }), '');
    assert.notEqual(schemaErrors({ ...base(), source: { port: '22' } }), '');
    assert.notEqual(schemaErrors({ ...base(), '@timestamp': '2026-11-29 00:00:00' }), '');
    assert.notEqual(schemaErrors({ ...base(), event: { outcome: 'maybe' } }), '');
    assert.notEqual(schemaErrors({ ...base(), event: { category: 'authentication' } }), '');
    assert.notEqual(schemaErrors({ '@timestamp': '2026-11-29T00:00:00Z', event: {} }), '', 'id required');
  });
});

describe('flattenEvent / getField / setField', () => {
  test('flatten gives dotted keys, arrays as leaves', () => {
    const ev = { ...base(), source: { ip: '10.0.0.1', nat: { ip: '1.2.3.4' } }, tags: ['a', 'b'], labels: { 'xiangan.source': 's' } };
    const flat = flattenEvent(ev);
    assert.equal(flat['source.ip'], '10.0.0.1');
    assert.equal(flat['source.nat.ip'], '1.2.3.4');
    assert.deepEqual(flat.tags, ['a', 'b']);
    assert.equal(flat['labels.xiangan.source'], 's');
    assert.equal(flat['event.kind'], 'event');
    assert.ok(!('source' in flat));
  });

  test('getField reads nested and dotted keys', () => {
    const ev = { a: { b: { c: 1 } }, 'x.y': 2, labels: { 'xiangan.source': 's' } };
    assert.equal(getField(ev, 'a.b.c'), 1);
    assert.equal(getField(ev, 'x.y'), 2);
    assert.equal(getField(ev, 'labels.xiangan.source'), 's');
    assert.equal(getField(ev, 'a.b.d'), undefined);
    assert.equal(getField(ev, 'a.b.c.d'), undefined);
  });

  test('setField creates parents and ignores empty values', () => {
    const ev = base();
    setField(ev, 'destination.nat.port', 443);
    setField(ev, 'user.name', '');
    setField(ev, 'user.id', undefined);
    assert.deepEqual(ev.destination, { nat: { port: 443 } });
    assert.equal(ev.user, undefined);
  });
});

describe('finaliseEvent', () => {
  test('fills related.* from the parsed fields, deduplicated', () => {
    const ev: EcsEvent = {
      ...base(),
      source: { ip: '10.0.0.1', nat: { ip: '203.0.113.5' } },
      destination: { ip: '10.0.0.1', domain: 'db.corp' },
      user: { name: 'alice', target: { name: 'bob' }, effective: { name: 'root' } },
      host: { name: 'web1', hostname: 'web1', ip: ['10.0.0.9'] },
      process: { hash: { sha256: 'ab'.repeat(32) } },
      related: { user: ['carol'] },
    };
    finaliseEvent(ev);
    assert.deepEqual(ev.related, {
      ip: ['10.0.0.1', '203.0.113.5', '10.0.0.9'],
      user: ['carol', 'alice', 'bob', 'root'],
      hosts: ['web1', 'db.corp'],
      hash: ['ab'.repeat(32)],
    });
  });

  test('omits related when nothing is seen and defaults event.kind', () => {
    const ev: EcsEvent = { id: 'x', '@timestamp': '2026-11-29T00:00:00Z', event: {} };
    finaliseEvent(ev);
    assert.equal(ev.related, undefined);
    assert.equal(ev.event.kind, 'event');
  });
});

describe('coerceEcs', () => {
  test('coerces what it can and reports what it drops', () => {
    const { value, dropped } = coerceEcs({
      source: { ip: 'x', port: '22' },
      event: { category: 'network', severity: '3', outcome: 'nope' },
      host: 'not-an-object',
      '@timestamp': 1795910400000,
      tags: 'one',
    });
    assert.deepEqual(value.source, { port: 22 });
    assert.deepEqual(value.event, { category: ['network'], severity: 3 });
    assert.equal(value['@timestamp'], '2026-11-29T00:00:00.000Z');
    assert.deepEqual(value.tags, ['one']);
    assert.deepEqual(dropped.sort(), ['event.outcome', 'host', 'source.ip']);
  });

  test('does not let JSON keys reach prototypes', () => {
    const input = JSON.parse('{"__proto__": {"polluted": true}, "a": {"constructor": {"prototype": {"x": 1}}}}') as object;
    const { value } = coerceEcs(input);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.deepEqual(value, { a: {} });
  });
});

describe('isoFromMs', () => {
  test('agrees with Date#toISOString from 1970 to 9999 (differential)', () => {
    for (const ms of [0, 951782400000, 951868799999, 4107542399999, 253402300799999, 1795910400123]) assert.equal(isoFromMs(ms), new Date(ms).toISOString(), String(ms));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253402300799999 }), (ms) => {
        assert.equal(isoFromMs(ms), new Date(ms).toISOString());
      }),
      { numRuns: 20000 },
    );
    assert.equal(isoFromMs(-1), undefined);
    assert.equal(isoFromMs(253402300800000), undefined);
    assert.equal(isoFromMs(NaN), undefined);
  });
});
