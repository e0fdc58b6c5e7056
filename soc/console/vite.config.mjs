// Vite build of the SOC console. Output goes to soc/console/dist, which soc/src/console.ts
// serves. JSX is compiled for Preact by Vite's own transformer (no plugin needed), and nothing
// is inlined into index.html so the server's strict CSP (script-src/style-src 'self') holds.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Never inline assets as data: URIs into scripts or CSS; the modulepreload polyfill is not
    // needed by the browsers we support and would be the only generated inline-ish code.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1500,
  },
});
