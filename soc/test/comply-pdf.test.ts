// PDF report through Debian's Chromium; pages checked with poppler (pdfinfo, pdftotext, pdftoppm).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSqliteStore } from '../src/storage/sqlite.js';
import { loadOrCreateIdentity } from '../src/integrity/identity.js';
import { importAssetsCsv, runAssessment, verifyReportFile, writeReports } from '../src/comply/index.js';
import { readFileSync } from 'node:fs';

const CSV = readFileSync(fileURLToPath(new URL('../../test/fixtures/comply/assets.csv', import.meta.url)), 'utf8');
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'xa-comply-pdf-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the PDF report renders, has the headings and the control table, and is signed', async () => {
  const store = await openSqliteStore({ dir });
  let a;
  try {
    a = await runAssessment({ store, dataDir: dir, inventory: importAssetsCsv({ systems: [], assets: [] }, CSV).inventory, systemId: 'S1', level: 3, socConfig: { level: 3 } });
  } finally {
    await store.close();
  }
  const identity = loadOrCreateIdentity({ dir, passphrase: 'pdf test passphrase', kdfIterations: 1000 });
  const [pdf] = await writeReports(a, { outDir: join(dir, 'out'), formats: ['pdf'], identity });
  assert.equal(readFileSync(pdf!).subarray(0, 5).toString(), '%PDF-');
  const pages = Number(/Pages:\s+(\d+)/.exec(execFileSync('pdfinfo', [pdf!], { encoding: 'utf8' }))![1]);
  assert.ok(pages >= 2, `pages ${pages}`);
  // Table cells wrap (a judgement may break over two lines): compare without white space; NFKC
  // because some CJK fonts map 不 to the compatibility ideograph U+F967, which pdftotext returns.
  const text = execFileSync('pdftotext', ['-layout', pdf!, '-'], { encoding: 'utf8' }).normalize('NFKC').replace(/\s+/g, '');
  for (const h of ['被测对象描述', '单项测评结果', '安全问题风险分析', '整改建议', '附录A', '8.1.4.1c)', '不符合', '安全计算环境']) assert.ok(text.includes(h), h);
  mkdirSync(ARTIFACTS, { recursive: true });
  execFileSync('pdftoppm', ['-png', '-r', '60', '-f', '1', '-l', '1', '-singlefile', pdf!, join(ARTIFACTS, 'comply-report-page1')]);
  assert.ok(existsSync(join(ARTIFACTS, 'comply-report-page1.png')));
  assert.ok(verifyReportFile(pdf!).ok);
});
