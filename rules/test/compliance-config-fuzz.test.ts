// Uploaded device configurations are untrusted text: the platform detection and every
// platform's check evaluation must answer (results, never a crash or a hang) for any input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CONFIG_PLATFORMS, detectPlatform, evaluateConfig, loadConfigChecks } from '../src/index.js';

const set = loadConfigChecks();
// Lines that look like the real thing, mixed with noise, so the checks' matchers are exercised.
const line = fc.oneof(
  fc.constantFrom('sysname R1', ' authentication-mode aaa', ' idle-timeout 5 0', 'PermitRootLogin yes', 'PASS_MAX_DAYS 90', 'auth required pam_faillock.so deny=5', 'max_log_file_action = keep_logs', 'line vty 0 4', ' transport input telnet', 'ntp server 10.0.0.1', 'snmp-server community public RO', '#', ''),
  fc.string({ maxLength: 120 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
);

test('detectPlatform and evaluateConfig answer for any text on every platform', () => {
  fc.assert(
    fc.property(fc.array(line, { maxLength: 40 }), fc.string({ maxLength: 30 }), (lines, name) => {
      const text = lines.join('\n');
      const p = detectPlatform(name, text);
      assert.ok(p === undefined || (CONFIG_PLATFORMS as readonly string[]).includes(p));
      for (const platform of CONFIG_PLATFORMS) {
        const results = evaluateConfig(set, platform, text);
        assert.ok(Array.isArray(results));
      }
    }),
    { numRuns: 300 },
  );
});

test('a huge single-line configuration is evaluated without stalling', () => {
  const text = `${'a'.repeat(2_000_000)}\n${' idle-timeout '.repeat(50_000)}`;
  for (const platform of CONFIG_PLATFORMS) assert.ok(Array.isArray(evaluateConfig(set, platform, text)));
});
