// Configuration: YAML + JSON Schema with defaults, errors naming the path of the bad key,
// command-line overrides.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, validateConfig } from '../src/config/load.js';
import { parseStartArgs } from '../src/server.js';
import { SocError } from '../src/errors.js';
import { UsageError } from '../src/cli/io.js';

function configError(fn: () => unknown): SocError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SocError, `expected SocError, got ${String(e)}`);
    assert.equal(e.code, 'SOC_ERR_CONFIG');
    return e;
  }
  assert.fail('expected SOC_ERR_CONFIG');
}

describe('configuration', () => {
  test('an empty file is a complete configuration with the documented defaults', () => {
    const cfg = validateConfig({});
    assert.equal(cfg.data, './data');
    assert.equal(cfg.syslog.udpPort, 5514);
    assert.equal(cfg.syslog.tcpPort, 5514);
    assert.equal(cfg.syslog.timezone, 'Asia/Shanghai');
    assert.equal(cfg.api.host, '127.0.0.1');
    assert.equal(cfg.api.port, 8080);
    assert.equal(cfg.storage.retentionDays, 180);
    assert.equal(cfg.buffer.whenFull, 'reject');
    assert.deepEqual(cfg.files, []);
    assert.equal(cfg.syslog.tls, undefined);
    assert.deepEqual(validateConfig(null), cfg);
  });

  test('errors name the path of every bad key', () => {
    const e = configError(() =>
      validateConfig({ api: { prot: 1, port: 70000 }, files: [{ id: 'auth', paths: [] }], syslog: { charset: 'big5', tls: { cert: 'c.pem' } } }),
    );
    const paths = (e.details as { paths: string[] }).paths;
    for (const p of ['api.prot', 'api.port', 'files[0].paths', 'syslog.charset', 'syslog.tls.key']) {
      assert.ok(paths.includes(p), `${p} missing from ${JSON.stringify(paths)}`);
      assert.match(e.message, new RegExp(p.replace(/[[\].]/g, '\\$&')));
    }
    assert.match(e.message, /api\.prot: is not a known option/);
    assert.match(e.message, /syslog\.charset: must be one of "auto"/);
    assert.match(e.message, /syslog\.tls\.key: is required/);
  });

  test('a tailed file names its parser: auto by default, one of the collectors\' formats, else the path and the choices', () => {
    const cfg = validateConfig({ files: [{ id: 'web', paths: ['/var/log/nginx/*.log'], format: 'nginx' }, { id: 'auth', paths: ['/var/log/secure'] }] });
    assert.deepEqual(cfg.files.map((f) => f.format), ['nginx', 'auto']);
    const e = configError(() => validateConfig({ files: [{ id: 'web', paths: ['/x'], format: 'nginxx' }] }));
    assert.ok((e.details as { paths: string[] }).paths.includes('files[0].format'));
    assert.match(e.message, /files\[0\]\.format: must be one of "auto", "sshd"/);
  });

  test('top-level unknown keys and wrong shapes are refused', () => {
    assert.match(configError(() => validateConfig({ storge: {} })).message, /storge: is not a known option/);
    assert.match(configError(() => validateConfig([1, 2])).message, /top level must be a mapping/);
    assert.match(configError(() => validateConfig({ storage: { retentionDays: 0 } })).message, /storage\.retentionDays: must be >= 1/);
  });

  test('YAML file, overrides from flags, data resolved against cwd', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xa-cfg-'));
    try {
      const file = join(dir, 'xiangan.yaml');
      writeFileSync(file, 'data: store\napi:\n  port: 9000\n  tokens: ["0123456789abcdef0123"]\nsyslog:\n  udpPort: 1514\n');
      const cfg = loadConfig({ file: 'xiangan.yaml', cwd: dir });
      assert.equal(cfg.data, join(dir, 'store'));
      assert.equal(cfg.api.port, 9000);
      assert.equal(cfg.syslog.udpPort, 1514);
      assert.equal(cfg.syslog.tcpPort, 5514);
      const o = loadConfig({ file, cwd: dir, overrides: { apiPort: 8081, syslogPort: 2514, data: '/var/lib/xa' } });
      assert.equal(o.api.port, 8081);
      assert.equal(o.syslog.udpPort, 2514);
      assert.equal(o.syslog.tcpPort, 2514);
      assert.equal(o.data, '/var/lib/xa');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('unreadable and malformed files are config errors with the position', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xa-cfg-'));
    try {
      assert.match(configError(() => loadConfig({ file: 'missing.yaml', cwd: dir })).message, /missing\.yaml: cannot read/);
      writeFileSync(join(dir, 'bad.yaml'), 'api:\n  port: [1, 2\n');
      assert.match(configError(() => loadConfig({ file: 'bad.yaml', cwd: dir })).message, /bad\.yaml: not valid YAML at line \d+/);
      writeFileSync(join(dir, 'typo.yaml'), 'buffer:\n  maxEvent: 10\n');
      assert.match(configError(() => loadConfig({ file: 'typo.yaml', cwd: dir })).message, /typo\.yaml: invalid configuration\n\s+buffer\.maxEvent: is not a known option/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('soc start flags', () => {
    assert.deepEqual(parseStartArgs(['--config', 'a.yaml', '--data=/d', '--syslog-port', '1514', '--api-port=9090']), {
      file: 'a.yaml',
      overrides: { data: '/d', syslogPort: 1514, apiPort: 9090 },
    });
    assert.throws(() => parseStartArgs(['--api-port', '99999']), UsageError);
    assert.throws(() => parseStartArgs(['--bogus']), UsageError);
    assert.throws(() => parseStartArgs(['--data']), UsageError);
  });
});
