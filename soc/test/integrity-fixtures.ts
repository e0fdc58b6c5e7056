// Events and days shared by the tamper-evidence suites (SQLite and the engines).
import type { EcsEvent } from '@xiangan/collectors';
import type { IntegrityReport } from '../src/integrity/index.js';

export const DAY1 = Date.UTC(2026, 10, 27, 10, 0, 0);
export const DAY2 = Date.UTC(2026, 10, 28, 10, 0, 0);

/** Event `i` of the day starting at `base` (one second apart), id `e-<base>-<i>`. */
export const ev = (i: number, base: number): EcsEvent => ({
  id: `e-${base}-${i}`,
  '@timestamp': new Date(base + i * 1000).toISOString(),
  message: `login failed for user${i} from 10.0.0.${i % 250}`,
  event: { category: ['authentication'], outcome: 'failure', original: `<13>raw ${i}` },
  user: { name: `user${i}` },
  source: { ip: `10.0.0.${i % 250}` },
});

/** Findings as sorted `kind:id` (or `kind:seq` for checkpoints, `kind:day` for days). */
export const kinds = (r: IntegrityReport): string[] =>
  r.findings.map((f) => `${f.kind}:${f.id ?? (f.kind.startsWith('checkpoint') ? f.seq : f.day)}`).sort();
