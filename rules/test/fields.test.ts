import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lastSeparator, lowerCase } from '../src/fields.js';

test('lowerCase: the value itself when nothing changes, String.prototype.toLowerCase otherwise', () => {
  // Expected values written out by hand (Unicode case mapping, UnicodeData.txt / SpecialCasing.txt).
  const cases: [string, string][] = [
    ['', ''],
    ['sshd', 'sshd'],
    ['198.51.100.7', '198.51.100.7'],
    ['c:\\windows\\system32\\cmd.exe /c dir', 'c:\\windows\\system32\\cmd.exe /c dir'],
    ['@[]^_`{|}~', '@[]^_`{|}~'],
    ['SSHD', 'sshd'],
    ['Microsoft-Windows-Sysmon/Operational', 'microsoft-windows-sysmon/operational'],
    ['lower then Upper', 'lower then upper'],
    ['ÀÉÎ', 'àéî'],
    ['é', 'é'],
    ['\u0130', 'i\u0307'],
    ['ΣΑΣ', 'σας'], // final sigma (SpecialCasing.txt Final_Sigma)
    ['湘安', '湘安'],
  ];
  for (const [input, want] of cases) assert.equal(lowerCase(input), want, JSON.stringify(input));
});

test('lastSeparator: the last backslash or slash, as the larger of the two lastIndexOf', () => {
  const cases: [string, number][] = [
    ['', -1],
    ['cmd.exe', -1],
    ['c:\\windows\\system32\\cmd.exe', 19],
    ['/usr/bin/sudo', 8],
    ['c:\\a/b\\c', 6],
    ['a/b\\', 3],
    ['\\', 0],
  ];
  for (const [s, want] of cases) assert.equal(lastSeparator(s), want, s);
});
