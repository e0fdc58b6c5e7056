/**
 * Every real-shaped sample in test/fixtures/parsers goes through the real syslog parser
 * (or `normaliseJson` for JSON documents) and the normaliser; the expected fields were
 * written from the vendors' formats, and every event must validate against the schema.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import iconv from 'iconv-lite';
import { parseSyslog } from '../../src/syslog/parse.js';
import { normalise, normaliseJson, type FormatName } from '../../src/parsers/index.js';
import { flattenEvent, getField } from '../../src/ecs/helpers.js';
import { fieldType } from '../../src/ecs/fields.js';
import type { EcsEvent } from '../../src/types.js';
import { RECEIVED_AT, ctx, loadFixtures, schemaErrors, type FixtureCase } from './helpers.js';

function run(c: FixtureCase, id: string, gb18030 = false): EcsEvent {
  if (c.json !== undefined) return normaliseJson(c.json, ctx(id));
  // Chinese devices often send GB18030/GBK: the same line so encoded, read with charset detection.
  const bytes = gb18030 ? iconv.encode(c.line!, 'gb18030') : Buffer.from(c.line!, 'utf8');
  const msg = parseSyslog(bytes, { receivedAt: RECEIVED_AT, timezone: 'Asia/Shanghai', charset: gb18030 ? 'auto' : 'utf-8' });
  return normalise(msg, ctx(id), c.format !== undefined ? { format: c.format as FormatName } : {});
}

/** Lines with Chinese text run twice: as UTF-8 and as GB18030 bytes. */
const hasChinese = (c: FixtureCase): boolean => c.line !== undefined && /[\u4e00-\u9fff]/.test(c.line);

for (const [file, cases] of loadFixtures()) {
  describe(`fixtures/${file}`, () => {
    for (const [i, c] of cases.entries()) for (const gb of hasChinese(c) ? [false, true] : [false]) {
      test(gb ? `${c.name} (GB18030 bytes)` : c.name, () => {
        const id = `${file}#${i}`;
        const ev = run(c, id, gb);
        assert.equal(schemaErrors(ev), '', 'event matches the ECS schema');
        assert.equal(ev.id, id);
        if (c.line !== undefined) assert.equal(ev.event.original, c.line, 'original kept verbatim');
        else if (c.expect['event.original'] === undefined) assert.deepEqual(JSON.parse(ev.event.original!), c.json, 'original JSON kept');
        const wantTags = c.expect.tags;
        if (!(Array.isArray(wantTags) && wantTags.includes('unparsed')))
          assert.ok(!ev.tags?.includes('unparsed'), `recognised (tags: ${JSON.stringify(ev.tags)})`);
        for (const [path, want] of Object.entries(c.expect)) {
          const got = getField(ev, path);
          if (path === 'tags' && Array.isArray(want)) {
            for (const t of want) assert.ok((got as string[] | undefined)?.includes(t as string), `tag ${String(t)} in ${JSON.stringify(got)}`);
          } else if (path === 'tags' && want === null) {
            assert.ok(!(got as string[] | undefined)?.some((t) => !t.startsWith('_')), `no parser tags: ${JSON.stringify(got)}`);
          } else if (want === null) {
            assert.equal(got, undefined, `${path} absent`);
          } else {
            assert.deepEqual(got, want, path);
          }
        }
      });
    }
  });
}

describe('field catalogue covers what the parsers produce', () => {
  test('every field of every fixture event is in ECS_FIELDS (storage maps and indexes from it)', () => {
    const unknown = new Set<string>();
    for (const [file, cases] of loadFixtures()) {
      for (const [i, c] of cases.entries()) {
        const ev = run(c, `${file}#${i}`);
        const shipped = c.json !== null && typeof c.json === 'object' && !('Event' in c.json) && !('winlog' in c.json);
        for (const path of Object.keys(flattenEvent(ev))) {
          // Already-ECS and generic JSON keep the shipper's own fields; Winlogbeat adds agent.*.
          if (shipped || path.startsWith('agent.')) continue;
          if (fieldType(path) === undefined) unknown.add(`${path} (${file})`);
        }
      }
    }
    assert.deepEqual([...unknown], []);
  });
});

describe('a header without a time (FortiGate, Huawei VRP)', () => {
  const reasons = (ev: EcsEvent): string[] => ev.labels?.['xiangan.parse_error']?.split('; ') ?? [];
  const parseLine = (line: string) => parseSyslog(Buffer.from(line, 'utf8'), { receivedAt: RECEIVED_AT, timezone: 'Asia/Shanghai', charset: 'utf-8' });

  test('is no parse error once a parser reads the time from the text, even when it is the receive time', () => {
    let seen = 0;
    let atReceipt = 0;
    for (const [file, cases] of loadFixtures()) {
      for (const [i, c] of cases.entries()) {
        if (c.line === undefined) continue;
        const msg = parseLine(c.line);
        if (msg.time.device !== undefined || !(msg.parseError ?? '').split('; ').includes('no timestamp')) continue;
        const ev = run(c, `${file}#${i}`);
        if (ev.tags?.includes('unparsed')) continue;
        seen++;
        if (Date.parse(ev['@timestamp']) === RECEIVED_AT) atReceipt++;
        assert.ok(!reasons(ev).includes('no timestamp'), `${file}#${i}: ${JSON.stringify(ev.labels)}`);
      }
    }
    // FortiGate's `date= time=` and Huawei's `Mon dd yyyy hh:mm:ss+08:00` lines, one at the receive instant itself.
    assert.ok(seen >= 10, `lines with their time in the text: ${seen}`);
    assert.ok(atReceipt >= 1, 'a device time equal to the receive time');
  });

  test('stays a parse error when nothing reads a time, and other reasons stay', () => {
    const unknown = normalise(parseLine('<13>hello world, no time here'), ctx('u'));
    assert.ok(unknown.tags?.includes('unparsed'));
    assert.deepEqual(reasons(unknown), ['no timestamp']);
    assert.equal(unknown['@timestamp'], new Date(RECEIVED_AT).toISOString());
    // A FortiGate line whose PRI is out of range is not syslog at all: the PRI reason is kept.
    const badPri = normalise(parseLine('<999>date=2026-11-29 time=08:00:00 devname="FGT" devid="FG1" logid="0000000013" type="traffic" srcip=10.0.0.1 action="deny"'), ctx('p'));
    assert.equal(badPri.event.dataset, 'fortinet.firewall');
    assert.ok(reasons(badPri).some((r) => r.startsWith('invalid PRI')), JSON.stringify(badPri.labels));
    assert.ok(!reasons(badPri).includes('no syslog header'), 'a parser read it');
    assert.ok(!badPri.tags?.includes('_syslog_unparsed'));
  });
});
