/**
 * PDF rendering of the HTML report with Debian's Chromium driven by playwright-core (headless,
 * no network: the report is self-contained, and every request is refused).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Chromium executable (Debian package `chromium`). */
export const CHROMIUM_PATH = process.env.XIANGAN_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Render report HTML to an A4 PDF.
 * @example writeFileSync('report.pdf', await renderPdf(renderHtml(assessment)));
 */
export async function renderPdf(html: string): Promise<Uint8Array> {
  if (typeof html !== 'string') throw new TypeError('html must be a string');
  // Loaded on first use: playwright-core is large (measured: its modules made ~60 MB of the
  // server's start-up heap and 0.4 s of its start), and only PDF reports need it.
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'xa-chromium-'));
  // A fresh profile per rendering (playwright passes it as --user-data-dir).
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    await page.route('**/*', (r) => (r.request().url().startsWith('data:') ? r.continue() : r.abort()));
    await page.setContent(html, { waitUntil: 'load' });
    const pdf = await page.pdf({ format: 'A4', printBackground: true, margin: { top: '15mm', bottom: '15mm', left: '12mm', right: '12mm' } });
    return new Uint8Array(pdf);
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
