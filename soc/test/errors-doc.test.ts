// docs/errors.md lists every error code of every package, and nothing else: this test
// keeps the document and the code tables (`*_ERROR_CODES` exported by each package) in sync.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as cryptoPkg from '@xiangan/crypto';
import * as pkiPkg from '@xiangan/pki';
import * as collectorsPkg from '@xiangan/collectors';
import * as rulesPkg from '@xiangan/rules';
import * as socPkg from '@xiangan/soc';

const docPath = fileURLToPath(new URL('../../../docs/errors.md', import.meta.url));

function codeTables(mod: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(mod)) {
    if (/_ERROR_CODES$/.test(name) && value && typeof value === 'object') Object.assign(out, value);
  }
  return out;
}

test('docs/errors.md documents exactly the codes the packages define', () => {
  const packages = { crypto: cryptoPkg, pki: pkiPkg, collectors: collectorsPkg, rules: rulesPkg, soc: socPkg };
  const inCode = new Set<string>();
  for (const mod of Object.values(packages)) {
    for (const code of Object.keys(codeTables(mod as Record<string, unknown>))) inCode.add(code);
  }
  assert.ok(inCode.size > 0, 'no *_ERROR_CODES table was found');
  const doc = readFileSync(docPath, 'utf8');
  const inDoc = new Set([...doc.matchAll(/^\|\s*`?([A-Z][A-Z0-9_]*_ERR_[A-Z0-9_]+)`?\s*\|/gm)].map((m) => m[1]));
  const undocumented = [...inCode].filter((c) => !inDoc.has(c)).sort();
  const stale = [...inDoc].filter((c) => !inCode.has(c)).sort();
  assert.deepEqual(undocumented, [], `codes missing from docs/errors.md: ${undocumented.join(', ')}`);
  assert.deepEqual(stale, [], `docs/errors.md rows with no code in any package: ${stale.join(', ')}`);
});
