import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import iconv from 'iconv-lite';
import { decodeBytes, charsetName } from '../src/charset.js';
import { parseSyslog } from '../src/syslog/parse.js';
import { CollectorError } from '../src/errors.js';

const zh = '用户 admin 登录失败，来源 10.1.2.3';

describe('charset decoding', () => {
  test('GBK and GB18030 bytes decode in gbk, gb18030 and auto modes', () => {
    for (const enc of ['gbk', 'gb18030']) {
      const b = iconv.encode(zh, enc);
      for (const mode of ['gbk', 'gb18030', 'auto'] as const) {
        const d = decodeBytes(b, mode);
        assert.equal(d.text, zh, `${enc} bytes in ${mode}`);
        assert.equal(d.charset, 'gb18030');
        assert.equal(d.lossy, false);
      }
    }
  });

  test('valid UTF-8 wins in auto mode', () => {
    const d = decodeBytes(Buffer.from(zh, 'utf8'), 'auto');
    assert.deepEqual(d, { text: zh, charset: 'utf-8', lossy: false });
  });

  test('GB18030 four-byte sequences decode', () => {
    const s = '€ 𠀀 ㄅ'; // U+20AC, U+20000 (four bytes in GB18030), U+3105
    const b = iconv.encode(s, 'gb18030');
    assert.equal(decodeBytes(b, 'gb18030').text, s);
  });

  test('undecodable bytes are escaped, never dropped, never a throw', () => {
    const b = Buffer.concat([Buffer.from('ok '), Buffer.from([0xff, 0xfe]), Buffer.from(' 中', 'utf8'), Buffer.from([0xc3])]);
    const d = decodeBytes(b, 'utf-8');
    assert.equal(d.lossy, true);
    assert.equal(d.text, 'ok \\xFF\\xFE 中\\xC3');
    const g = decodeBytes(Buffer.from([0x41, 0x80, 0xd6, 0xd0, 0xff]), 'gbk');
    assert.equal(g.lossy, true);
    assert.equal(g.text, 'A\\x80中\\xFF');
  });

  test('auto picks the charset that leaves fewer bytes undecodable', () => {
    const gb = Buffer.concat([iconv.encode('设备告警', 'gbk'), Buffer.from([0xff])]);
    const d = decodeBytes(gb, 'auto');
    assert.equal(d.charset, 'gb18030');
    assert.equal(d.text, '设备告警\\xFF');
  });

  test('charset names are checked', () => {
    assert.equal(charsetName('UTF8'), 'utf-8');
    assert.equal(charsetName('GBK'), 'gbk');
    assert.throws(() => charsetName('ebcdic'), (e: unknown) => e instanceof CollectorError && e.code === 'COL_ERR_CHARSET');
  });
});

describe('charset in parsed messages', () => {
  test('a GBK syslog line is stored decoded', () => {
    const line = Buffer.concat([Buffer.from('<30>Nov 29 10:00:00 fw01 auth: '), iconv.encode(zh, 'gbk')]);
    const m = parseSyslog(line, { receivedAt: Date.UTC(2026, 10, 29, 2), charset: 'auto' });
    assert.equal(m.msg, zh);
    assert.equal(m.charset, 'gb18030');
    assert.equal(m.rawBase64, undefined);
  });

  test('an invalid-byte line keeps its original bytes as base64', () => {
    const line = Buffer.from([...Buffer.from('<13>Nov 29 10:00:00 h t: bad '), 0xff, 0x80, 0x00, 0xfe]);
    const m = parseSyslog(line, { receivedAt: Date.UTC(2026, 10, 29, 2), charset: 'utf-8' });
    assert.equal(m.lossy, true);
    assert.deepEqual(Buffer.from(m.rawBase64!, 'base64'), line);
    assert.ok(m.raw.endsWith('bad \\xFF\\x80\u0000\\xFE'));
  });
});
