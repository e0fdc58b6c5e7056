import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseSyslog } from '../src/syslog/parse.js';
import { baselineNormalise } from '../src/syslog/normalise.js';
import { inferYear, zoneOffset } from '../src/syslog/time.js';
import type { SourceContext } from '../src/types.js';

const RECV = Date.UTC(2026, 10, 29, 2, 0, 0); // 2026-11-29 10:00:00 in Asia/Shanghai
const p = (s: string | Buffer, receivedAt = RECV, timezone = 'Asia/Shanghai') =>
  parseSyslog(typeof s === 'string' ? Buffer.from(s, 'utf8') : s, { receivedAt, timezone });

describe('RFC 5424', () => {
  test('§6.5 example 1: NILVALUE PROCID and SD', () => {
    const m = p('<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \uFEFF\'su root\' failed for lonvick on /dev/pts/8');
    assert.equal(m.format, 'rfc5424');
    assert.equal(m.pri, 34);
    assert.equal(m.facility, 4);
    assert.equal(m.severity, 2);
    assert.equal(m.version, 1);
    assert.equal(m.time.device, Date.UTC(2003, 9, 11, 22, 14, 15, 3));
    assert.equal(m.time.zone, 'Z');
    assert.equal(m.hostname, 'mymachine.example.com');
    assert.equal(m.appname, 'su');
    assert.equal(m.procid, undefined);
    assert.equal(m.msgid, 'ID47');
    assert.equal(m.structuredData, undefined);
    assert.equal(m.msg, "'su root' failed for lonvick on /dev/pts/8", 'BOM removed');
  });

  test('§6.5 example 2: offset and microseconds', () => {
    const m = p('<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It\'s time to make the do-nuts.');
    assert.equal(m.time.device, Date.UTC(2003, 7, 24, 12, 14, 15, 0));
    assert.equal(m.time.fraction, '003');
    assert.equal(m.time.zone, '-07:00');
    assert.equal(m.procid, '8710');
    assert.equal(m.msgid, undefined);
    assert.equal(m.msg, "%% It's time to make the do-nuts.");
  });

  test('§6.5 examples 3 and 4: structured data, with and without MSG', () => {
    const m = p('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] \uFEFFAn application event log entry...');
    assert.deepEqual(m.structuredData, [{ id: 'exampleSDID@32473', params: [['iut', '3'], ['eventSource', 'Application'], ['eventID', '1011']] }]);
    assert.equal(m.msg, 'An application event log entry...');
    const n = p('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]');
    assert.equal(n.structuredData?.length, 2);
    assert.deepEqual(n.structuredData?.[1], { id: 'examplePriority@32473', params: [['class', 'high']] });
    assert.equal(n.msg, '');
  });

  test('§6.3.3 escapes in PARAM-VALUE', () => {
    const m = p('<13>1 - - - - - [a@1 x="q\\"uote" y="br\\]acket" z="back\\\\slash" w="other\\n"] m');
    assert.deepEqual(m.structuredData?.[0]?.params, [['x', 'q"uote'], ['y', 'br]acket'], ['z', 'back\\slash'], ['w', 'other\\n']]);
    assert.equal(m.time.device, undefined, 'NILVALUE timestamp');
    assert.equal(m.msg, 'm');
  });

  test('malformed SD keeps the rest as MSG and records why', () => {
    const m = p('<13>1 2026-11-29T10:00:00+08:00 h a p id [broken x="1" rest of line');
    assert.equal(m.format, 'rfc5424');
    assert.equal(m.structuredData, undefined);
    assert.equal(m.msg, '[broken x="1" rest of line');
    assert.match(m.parseError ?? '', /SD/);
  });

  test('an invalid timestamp is kept as text, the message still parses', () => {
    const m = p('<13>1 2026-13-45T99:00:00Z h a p id - msg');
    assert.equal(m.format, 'rfc5424');
    assert.equal(m.time.device, undefined);
    assert.equal(m.time.deviceText, '2026-13-45T99:00:00Z');
    assert.equal(m.msg, 'msg');
  });
});

describe('RFC 3164 and real-world variants', () => {
  test('§5.4 example: year inferred, zone Asia/Shanghai by default', () => {
    const m = p("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8");
    assert.equal(m.format, 'rfc3164');
    assert.equal(m.pri, 34);
    assert.equal(m.hostname, 'mymachine');
    assert.equal(m.appname, 'su');
    assert.equal(m.msg, "'su root' failed for lonvick on /dev/pts/8");
    // 22:14:15 at UTC+8 is 14:14:15Z; Oct 11 2026 is closest to a receipt on Nov 29 2026.
    assert.equal(m.time.device, Date.UTC(2026, 9, 11, 14, 14, 15));
    assert.equal(m.time.yearInferred, true);
    assert.equal(m.time.received, RECV);
    assert.equal(m.time.zone, 'Asia/Shanghai');
  });

  test('per-source time zone', () => {
    const m = p('<13>Jul  4 12:00:00 h app[1]: x', Date.UTC(2026, 6, 4, 16), 'America/New_York');
    assert.equal(m.time.device, Date.UTC(2026, 6, 4, 16, 0, 0)); // EDT = UTC-4
    assert.equal(m.procid, '1');
  });

  test('year inference is safe across New Year in both directions', () => {
    // Device writes Dec 31 23:59:59 (local), received 6 s later at Jan 1 00:00:05 local.
    const recv1 = Date.UTC(2026, 11, 31, 16, 0, 5);
    assert.equal(p('<13>Dec 31 23:59:59 h t: a', recv1).time.device, Date.UTC(2026, 11, 31, 15, 59, 59));
    // Device clock slightly ahead: Jan 1 00:00:02 received at Dec 31 23:59:58 local.
    const recv2 = Date.UTC(2026, 11, 31, 15, 59, 58);
    assert.equal(p('<13>Jan  1 00:00:02 h t: a', recv2).time.device, Date.UTC(2026, 11, 31, 16, 0, 2));
    assert.equal(inferYear('Asia/Shanghai', 2, 29, 0, 0, 0, 0, Date.UTC(2027, 11, 1)), Date.UTC(2028, 1, 28, 16), 'Feb 29 only in a leap year');
  });

  test('zone offsets come from Intl, including DST', () => {
    assert.equal(zoneOffset('Asia/Shanghai', Date.UTC(2026, 0, 1)), 8 * 3600_000);
    assert.equal(zoneOffset('Europe/Berlin', Date.UTC(2026, 6, 1)), 2 * 3600_000);
    assert.equal(zoneOffset('Europe/Berlin', Date.UTC(2026, 0, 1)), 1 * 3600_000);
  });

  test('without hostname', () => {
    const m = p('<13>Nov 29 09:58:01 sshd[812]: Failed password for root');
    assert.equal(m.hostname, undefined);
    assert.equal(m.appname, 'sshd');
    assert.equal(m.procid, '812');
    assert.equal(m.msg, 'Failed password for root');
  });

  test('a program named in Chinese is the TAG, in UTF-8 and in GB18030 bytes; a Chinese host name stays the host', async () => {
    const iconv = (await import('iconv-lite')).default;
    const line = '<134>Nov 29 09:58:03 核心交换机 日志服务[12]: 用户 admin 登录成功';
    for (const bytes of [Buffer.from(line, 'utf8'), iconv.encode(line, 'gb18030')]) {
      const m = parseSyslog(bytes, { receivedAt: RECV, timezone: 'Asia/Shanghai', charset: 'auto' });
      assert.equal(m.hostname, '核心交换机');
      assert.equal(m.appname, '日志服务');
      assert.equal(m.procid, '12');
      assert.equal(m.msg, '用户 admin 登录成功');
    }
    const noPid = p('<134>Nov 29 09:58:03 host 告警: 端口扫描');
    assert.equal(noPid.appname, '告警');
    assert.equal(noPid.msg, '端口扫描');
    // Not a TAG: no colon after the word.
    assert.equal(p('<134>Nov 29 09:58:03 host 告警 端口扫描').appname, undefined);
  });

  test('file line without PRI (auth.log) and with an ISO timestamp (rsyslog file format)', () => {
    const a = p('Nov 29 09:58:01 web01 CRON[4242]: pam_unix(cron:session): session opened for user root');
    assert.equal(a.format, 'rfc3164');
    assert.equal(a.priValid, false);
    assert.equal(a.hostname, 'web01');
    assert.equal(a.appname, 'CRON');
    assert.equal(a.time.device, Date.UTC(2026, 10, 29, 1, 58, 1));
    const b = p('2026-11-29T09:58:01.123456+08:00 web01 sshd[9]: Accepted publickey');
    assert.equal(b.time.device, Date.UTC(2026, 10, 29, 1, 58, 1, 123));
    assert.equal(b.time.yearInferred, false);
    assert.equal(b.hostname, 'web01');
    assert.equal(b.appname, 'sshd');
  });

  test('Cisco IOS: sequence number, * mark, milliseconds, zone name', () => {
    const m = p('<189>123: *Mar  1 18:46:11.123 UTC: %SYS-5-CONFIG_I: Configured from console by vty0', Date.UTC(2026, 2, 2));
    assert.equal(m.format, 'rfc3164');
    assert.equal(m.sequence, '123');
    assert.equal(m.facility, 23);
    assert.equal(m.severity, 5);
    assert.equal(m.time.device, Date.UTC(2026, 2, 1, 18, 46, 11, 123));
    assert.equal(m.msg, '%SYS-5-CONFIG_I: Configured from console by vty0');
    const n = p('<187>45: router1: Mar  1 18:46:11: %LINK-3-UPDOWN: Interface Gi0/1, changed state to down', Date.UTC(2026, 2, 2));
    assert.equal(n.hostname, 'router1');
    assert.equal(n.msg, '%LINK-3-UPDOWN: Interface Gi0/1, changed state to down');
  });

  test('Huawei (year before time) and H3C (year after time) keep the vendor body in MSG', () => {
    const h = p('<187>Nov 29 2026 09:58:01 HUAWEI %%01SHELL/5/CMDRECORD(s)[0]:Recorded command information.');
    assert.equal(h.hostname, 'HUAWEI');
    assert.equal(h.time.yearInferred, false);
    assert.equal(h.time.device, Date.UTC(2026, 10, 29, 1, 58, 1));
    assert.equal(h.msg, '%%01SHELL/5/CMDRECORD(s)[0]:Recorded command information.');
    const c = p('<188>Nov 29 09:58:01:456 2026 H3C %%10SHELL/5/SHELL_LOGIN: admin logged in from 10.1.1.1.');
    assert.equal(c.hostname, 'H3C');
    assert.equal(c.time.device, Date.UTC(2026, 10, 29, 1, 58, 1, 456));
    assert.equal(c.msg, '%%10SHELL/5/SHELL_LOGIN: admin logged in from 10.1.1.1.');
  });

  test('Cisco ASA with and without device-id; a tag with [PID] and no space after the colon', () => {
    const a = p('<166>Nov 29 2026 10:00:00: %ASA-6-302013: Built outbound TCP connection');
    assert.equal(a.hostname, undefined);
    assert.equal(a.msg, '%ASA-6-302013: Built outbound TCP connection');
    assert.equal(a.time.device, Date.UTC(2026, 10, 29, 2));
    const b = p('<166>Nov 29 2026 10:00:00 asa01 : %ASA-6-302013: Built outbound');
    assert.equal(b.hostname, 'asa01');
    assert.equal(b.msg, '%ASA-6-302013: Built outbound');
    const c = p('<13>Nov 29 10:00:00 10.0.0.1 dropbear[77]:Password auth succeeded');
    assert.equal(c.hostname, '10.0.0.1');
    assert.equal(c.appname, 'dropbear');
    assert.equal(c.procid, '77');
    assert.equal(c.msg, 'Password auth succeeded');
    const d = p('<13>Nov 29 10:00:00 dropbear[77]:no host');
    assert.equal(d.hostname, undefined);
    assert.equal(d.appname, 'dropbear');
    assert.equal(d.msg, 'no host');
  });

  test('invalid or missing PRI is kept and marked', () => {
    const a = p('<999>Nov 29 09:58:01 h t: x');
    assert.equal(a.priValid, false);
    assert.equal(a.priRaw, '<999>');
    assert.equal(a.pri, undefined);
    assert.equal(a.hostname, 'h');
    const b = p('<012>Nov 29 09:58:01 h t: x');
    assert.equal(b.priValid, false, 'leading zero is invalid (RFC 5424 §6.2.1)');
    const c = p('just some text');
    assert.equal(c.format, 'unparsed');
    assert.equal(c.msg, 'just some text');
    assert.equal(c.raw, 'just some text');
  });
});

describe('baseline ECS normalisation', () => {
  test('maps syslog fields, keeps the original and the id', () => {
    const raw = '<86>Nov 29 09:58:01 web01 sshd[812]: Failed password for root from 10.1.2.3 port 22 ssh2';
    const ctx: SourceContext = { sourceId: 's1', transport: 'udp', peer: { address: '127.0.0.1', port: 40000 }, receivedAt: RECV, timezone: 'Asia/Shanghai', eventId: 'abc' };
    const ev = baselineNormalise(p(raw), ctx);
    assert.equal(ev.id, 'abc');
    assert.equal(ev['@timestamp'], '2026-11-29T01:58:01.000Z');
    assert.equal(ev.event.original, raw);
    assert.equal(ev.event.ingested, '2026-11-29T02:00:00.000Z');
    assert.equal(ev.message, 'Failed password for root from 10.1.2.3 port 22 ssh2');
    assert.deepEqual(ev.log?.syslog?.facility, { code: 10, name: 'authpriv' });
    assert.deepEqual(ev.log?.syslog?.severity, { code: 6, name: 'info' });
    assert.equal(ev.host?.hostname, 'web01');
    assert.equal(ev.process?.pid, 812);
    assert.equal(ev.network?.transport, 'udp');
    assert.ok(ev.tags?.includes('_year_inferred'));
  });

  test('unparsed input becomes a stored, tagged event', () => {
    const ev = baselineNormalise(p('\u0001\u0002garbage'), { sourceId: 's', transport: 'tcp', receivedAt: RECV, timezone: 'Asia/Shanghai', eventId: 'x' });
    assert.equal(ev['@timestamp'], new Date(RECV).toISOString());
    assert.ok(ev.tags?.includes('_syslog_unparsed'));
    assert.equal(ev.event.original, '\u0001\u0002garbage');
  });
});
