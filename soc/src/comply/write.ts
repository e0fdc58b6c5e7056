/** Write the requested report formats to a directory and sign each file. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SigningIdentity } from '../integrity/identity.js';
import { renderPdf } from './pdf.js';
import { renderCsv, renderHtml, renderJson, type ReportLang } from './report.js';
import type { Assessment } from './run.js';
import { signReportFile } from './sign.js';

/** Options of {@link writeReports}. */
export interface WriteReportsOptions {
  outDir: string;
  /** Any of `html`, `json`, `csv`, `pdf` (Chromium). */
  formats: string[];
  lang?: ReportLang;
  /** Signs every written file (`<file>.p7s`); unsigned when absent. */
  identity?: SigningIdentity;
}

/**
 * Render, write and sign; returns the written report paths.
 * @example await writeReports(assessment, { outDir: 'out', formats: ['html', 'json'], identity });
 */
export async function writeReports(a: Assessment, o: WriteReportsOptions): Promise<string[]> {
  const bad = o.formats.filter((f) => !['html', 'json', 'csv', 'pdf'].includes(f));
  if (bad.length) throw new RangeError(`unsupported report format(s): ${bad.join(', ')} (html, json, csv, pdf)`);
  mkdirSync(o.outDir, { recursive: true });
  const base = `${a.system.id}-${a.standard}-L${a.level}`;
  const out: string[] = [];
  for (const f of o.formats) {
    const p = join(o.outDir, `${base}.${f}`);
    writeFileSync(p, f === 'html' ? renderHtml(a, o.lang ?? 'zh') : f === 'csv' ? renderCsv(a) : f === 'pdf' ? await renderPdf(renderHtml(a, o.lang ?? 'zh')) : renderJson(a));
    if (o.identity) signReportFile(p, o.identity);
    out.push(p);
  }
  return out;
}
