/**
 * Import of the public SigmaHQ corpus: every rule compiles or is reported with a reason, and
 * the share stated in rules/README.md is the one measured here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtinPipeline, importSigma, listRuleFiles, loadRules } from '../src/index.js';
import { PKG_ROOT, SHARED } from './helpers.js';

const SIGMA = join(SHARED, 'sigma', 'rules');
// Loaded once (3,141 files), compiled through each pipeline.
const loaded = loadRules(SIGMA);

for (const name of ['ecs', 'identity'] as const) {
  test(`SigmaHQ corpus through the ${name} pipeline: compiled or rejected with a reason`, () => {
    const files = listRuleFiles(SIGMA);
    const r = importSigma(loaded, builtinPipeline(name));
    assert.ok(files.length > 3000, `${files.length} files`);
    assert.equal(r.total, files.length, 'one document per SigmaHQ file');
    assert.equal(r.accepted + r.rejected.length, r.total, 'nothing dropped silently');
    for (const x of r.rejected) {
      assert.match(x.code, /^RULE_ERR_/);
      assert.ok(x.reason.length > 10, `${x.source}: reason`);
    }
    const readme = readFileSync(join(PKG_ROOT, 'README.md'), 'utf8');
    assert.ok(readme.includes(`${name} pipeline: ${r.accepted} of ${r.total}`), `README states "${name} pipeline: ${r.accepted} of ${r.total}"`);
  });
}
