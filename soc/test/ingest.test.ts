// HTTP ingest body parsing: NDJSON and JSON arrays, deterministic ids for retries, Windows
// events through collectors' JSON normaliser, and refusals that name the line.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parseIngestBody, ingestEventId } from '../src/ingest/http.js';
import { SocError } from '../src/errors.js';

const opts = { receivedAt: Date.parse('2026-11-28T08:00:00Z'), sourceId: 'http', maxEvents: 100 };
const invalid = (fn: () => unknown, re: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof SocError && e.code === 'SOC_ERR_INGEST_INVALID' && re.test(e.message));

describe('parseIngestBody', () => {
  test('NDJSON: blank lines and CRLF are fine; ids are stable across retries', () => {
    const body = '{"@timestamp":"2026-11-28T07:59:00Z","message":"a","event":{"action":"x"}}\r\n\n{"message":"b","id":"given-id"}\n';
    const a = parseIngestBody(body, 'application/x-ndjson', opts);
    const b = parseIngestBody(body, 'application/x-ndjson', { ...opts, receivedAt: opts.receivedAt + 5000 });
    assert.equal(a.length, 2);
    assert.equal(a[0]!.id, b[0]!.id, 'a retry later yields the same id');
    assert.equal(a[1]!.id, 'given-id');
    assert.equal(Date.parse(a[0]!['@timestamp']), Date.parse('2026-11-28T07:59:00Z'));
    assert.equal(a[0]!.event.original, '{"@timestamp":"2026-11-28T07:59:00Z","message":"a","event":{"action":"x"}}');
    // The id is SHA-256 over source id, NUL and the exact line, as documented.
    const expected = createHash('sha256').update('http\0{"@timestamp":"2026-11-28T07:59:00Z","message":"a","event":{"action":"x"}}').digest('hex').slice(0, 32);
    assert.equal(a[0]!.id, expected);
    assert.equal(ingestEventId('other', 'x') === ingestEventId('http', 'x'), false);
  });

  test('JSON array and single object', () => {
    const arr = parseIngestBody('[{"message":"a"},{"message":"b"}]', 'application/json; charset=utf-8', opts);
    assert.equal(arr.length, 2);
    assert.notEqual(arr[0]!.id, arr[1]!.id);
    assert.equal(parseIngestBody('{"message":"one"}', 'application/json', opts).length, 1);
  });

  test('a Windows 4625 event in the evtx_dump layout is normalised from its EventData', () => {
    const win = {
      Event: {
        System: { EventID: 4625, Channel: 'Security', Computer: 'DC01.corp.local', TimeCreated: { '#attributes': { SystemTime: '2026-11-28T07:30:00.000Z' } } },
        EventData: { TargetUserName: 'administrator', IpAddress: '10.20.30.40', LogonType: 3 },
      },
    };
    const [ev] = parseIngestBody(JSON.stringify(win), 'application/x-ndjson', opts);
    assert.equal(ev!.event.outcome, 'failure');
    assert.equal(ev!.source?.ip, '10.20.30.40');
  });

  test('refusals name the line or item', () => {
    invalid(() => parseIngestBody('{"a":1}\nnot json\n', 'application/x-ndjson', opts), /^line 2: not JSON/);
    invalid(() => parseIngestBody('{"a":1}\n"str"\n', 'text/plain', opts), /^line 2: an event must be a JSON object/);
    invalid(() => parseIngestBody('[{"a":1}, 5]', 'application/json', opts), /^item 1: an event must be a JSON object/);
    invalid(() => parseIngestBody('{"@timestamp":"2026-13-45T00:00:00Z"}', 'application/x-ndjson', opts), /not a real date/);
    invalid(() => parseIngestBody('{"@timestamp":"tuesday"}', 'application/x-ndjson', opts), /@timestamp/);
    invalid(() => parseIngestBody('{"tags":"not-an-array"}', 'application/x-ndjson', opts), /tags/);
    invalid(() => parseIngestBody('{"id":""}', 'application/x-ndjson', opts), /id/);
    invalid(() => parseIngestBody('[', 'application/json', opts), /body is not JSON/);
    invalid(() => parseIngestBody('{}\n'.repeat(101), 'application/x-ndjson', opts), /more than 100 events/);
  });
});
