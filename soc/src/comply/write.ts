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
  const bad = o.formats.filter((f) => !(REPORT_FORMATS as readonly string[]).includes(f));
  if (bad.length) throw new RangeError(`unsupported report format(s): ${bad.join(', ')} (${REPORT_FORMATS.join(', ')})`);
  mkdirSync(o.outDir, { recursive: true });
  const out: string[] = [];
  for (const f of o.formats as ReportFormat[]) {
    const p = join(o.outDir, reportFileName(a, f));
    writeFileSync(p, await renderReport(a, f, o.lang ?? 'zh'));
    if (o.identity) signReportFile(p, o.identity);
    out.push(p);
  }
  return out;
}

/** Report formats: self-contained HTML, JSON, CSV, and PDF (Chromium). */
export const REPORT_FORMATS = ['html', 'json', 'csv', 'pdf'] as const;
/** One of {@link REPORT_FORMATS}. */
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** `<system>-<standard>-L<level>.<format>`, the name every report is written and offered under. */
export function reportFileName(a: Assessment, f: ReportFormat): string {
  return `${a.system.id}-${a.standard}-L${a.level}.${f}`;
}

/**
 * The bytes of one report format (what {@link writeReports} writes and the API returns).
 * @example const html = await renderReport(assessment, 'html', 'zh');
 */
export async function renderReport(a: Assessment, f: ReportFormat, lang: ReportLang): Promise<Uint8Array> {
  if (f === 'pdf') return renderPdf(renderHtml(a, lang));
  return new TextEncoder().encode(f === 'html' ? renderHtml(a, lang) : f === 'csv' ? renderCsv(a) : renderJson(a));
}
