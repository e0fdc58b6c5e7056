/**
 * The automated checks: each reads evidence from the SOC (event store, integrity data, config)
 * and returns a status with the evidence kept (queries, counts, samples), so an auditor can
 * re-run the query. Bound to catalogue clauses in rules/compliance/catalogue.yaml.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckId, CheckStatus } from '@xiangan/rules';
import type { EventStore } from '../storage/types.js';
import { parseQuery } from '../query/parse.js';
import { openIntegrity, verifyIntegrity } from '../integrity/index.js';
import type { Asset } from './assets.js';

/** Evidence of one check. */
export interface Evidence {
  queries: string[];
  counts: Record<string, number>;
  samples: unknown[];
  notes: string[];
}

/** Outcome of one check. */
export interface CheckResult {
  check: CheckId;
  status: CheckStatus;
  summary: string;
  evidence: Evidence;
}

/** What the checks read. */
export interface CheckContext {
  store: EventStore;
  /** SOC data directory (integrity data under it). */
  dataDir: string;
  /** Assets of the system under assessment. */
  assets: Asset[];
  level: 2 | 3;
  /** The SOC's configuration (`level`, `auth.requireTotp`, `storage.retentionDays`); partial is fine. */
  socConfig: { level?: number; auth?: { requireTotp?: boolean }; storage?: { retentionDays?: number }; retentionDays?: number };
  now: Date;
}

const DAY = 86_400_000;
/** Cybersecurity Law of the PRC Art. 21(3): network logs kept at least six months. */
export const RETENTION_MIN_DAYS = 180;

function ev(): Evidence {
  return { queries: [], counts: {}, samples: [], notes: [] };
}

/** Audit logs from every asset in the last 24 h (GB/T 22239 8.1.4.3 a, 8.1.3.5 a). */
async function logArrival(c: CheckContext): Promise<CheckResult> {
  const e = ev();
  const from = new Date(c.now.getTime() - DAY).toISOString();
  const to = c.now.toISOString();
  e.queries.push(`* from ${from} to ${to} facets host.name, observer.name, host.ip, observer.ip`);
  const res = await c.store.search({ from, to, size: 0, facets: ['host.name', 'observer.name', 'host.ip', 'observer.ip'], facetSize: 10_000 });
  const seen = new Set<string>();
  for (const b of Object.values(res.facets).flat()) seen.add(String(b.value));
  const sending = c.assets.filter((a) => a.type !== 'soc');
  const silent = sending.filter((a) => ![...a.hostNames, ...a.ips].some((n) => seen.has(n)));
  e.counts.events = res.total;
  e.counts.assets = sending.length;
  e.counts.silent = silent.length;
  e.samples = silent.map((a) => a.id);
  const known = new Set(sending.flatMap((a) => [...a.hostNames, ...a.ips]));
  const unknown = [...seen].filter((n) => !known.has(n));
  if (unknown.length) e.notes.push(`senders not in the inventory (discovered): ${unknown.slice(0, 20).join(', ')}`);
  if (sending.length === 0) return { check: 'log-arrival', status: 'na', summary: 'no log-sending assets registered', evidence: e };
  const status: CheckStatus = silent.length === 0 ? 'pass' : silent.length === sending.length ? 'fail' : 'partial';
  return { check: 'log-arrival', status, summary: `${sending.length - silent.length}/${sending.length} assets sent events in the last 24 h`, evidence: e };
}

function has(o: unknown, path: string): boolean {
  let cur: unknown = o;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return false;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur !== undefined && cur !== null && cur !== '';
}

/** Records carry time, subject, event type and outcome (8.1.4.3 b). Sample of the newest 1000. */
async function auditFields(c: CheckContext): Promise<CheckResult> {
  const e = ev();
  const from = new Date(c.now.getTime() - DAY).toISOString();
  e.queries.push(`* from ${from} newest 1000`);
  const res = await c.store.search({ from, to: c.now.toISOString(), size: 1000 });
  let complete = 0;
  const bad: unknown[] = [];
  for (const x of res.events) {
    const ok =
      has(x, '@timestamp') &&
      (has(x, 'user.name') || has(x, 'source.ip') || has(x, 'process.name')) &&
      (has(x, 'event.action') || has(x, 'event.category')) &&
      has(x, 'event.outcome');
    if (ok) complete++;
    else if (bad.length < 5) bad.push(x.id);
  }
  e.counts.sampled = res.events.length;
  e.counts.complete = complete;
  e.samples = bad;
  if (res.events.length === 0) return { check: 'audit-fields', status: 'fail', summary: 'no audit records in the last 24 h', evidence: e };
  const ratio = complete / res.events.length;
  // ≥ 95 % complete counts as 符合: some sources (kernel messages) legitimately lack a subject.
  const status: CheckStatus = ratio >= 0.95 ? 'pass' : ratio > 0 ? 'partial' : 'fail';
  return { check: 'audit-fields', status, summary: `${complete}/${res.events.length} sampled records carry time, subject, type and outcome`, evidence: e };
}

/** Retention configured and achieved ≥ 180 days (8.1.5.4 d). */
async function retention(c: CheckContext): Promise<CheckResult> {
  const e = ev();
  const configured = c.socConfig.storage?.retentionDays ?? c.socConfig.retentionDays ?? 180;
  const st = await c.store.stats();
  const days = st.days.map((d) => d.day).sort();
  const oldest = days[0];
  const span = oldest ? Math.floor((c.now.getTime() - Date.parse(`${oldest}T00:00:00Z`)) / DAY) + 1 : 0;
  e.counts.configuredDays = configured;
  e.counts.achievedDays = span;
  e.counts.dayPartitions = days.length;
  e.queries.push('EventStore.stats()');
  if (oldest) e.notes.push(`oldest stored day ${oldest}`);
  const status: CheckStatus = configured < RETENTION_MIN_DAYS ? 'fail' : span >= RETENTION_MIN_DAYS ? 'pass' : 'partial';
  return { check: 'retention', status, summary: `retention configured ${configured} d, achieved ${span} d (required ≥ ${RETENTION_MIN_DAYS} d)`, evidence: e };
}

/** Stored records protected: SM3 Merkle trees with SM2-signed checkpoints verify (8.1.4.3 c; GB/T 39786 9.3 e). */
async function integrity(c: CheckContext): Promise<CheckResult> {
  const e = ev();
  e.queries.push(`verifyIntegrity(openIntegrity(${c.dataDir}))`);
  if (!existsSync(join(c.dataDir, 'integrity'))) {
    return { check: 'integrity', status: 'fail', summary: 'tamper evidence is not enabled (no integrity data)', evidence: e };
  }
  let opened;
  try {
    opened = openIntegrity(c.dataDir);
  } catch (err) {
    e.notes.push((err as Error).message);
    return { check: 'integrity', status: 'fail', summary: 'integrity data cannot be opened', evidence: e };
  }
  try {
    const r = await verifyIntegrity(opened);
    e.counts.records = r.records;
    e.counts.checkpoints = r.checkpoints;
    e.counts.findings = r.findings.length;
    e.samples = r.findings.slice(0, 5).map((f) => ({ kind: f.kind, message: f.message }));
    if (r.signer) e.notes.push(`signer ${r.signer}`);
    if (r.ok && r.checkpoints > 0) return { check: 'integrity', status: 'pass', summary: `${r.records} records verified against ${r.checkpoints} signed checkpoints`, evidence: e };
    if (r.ok) return { check: 'integrity', status: 'partial', summary: 'no signed checkpoint yet', evidence: e };
    return { check: 'integrity', status: 'fail', summary: `${r.findings.length} integrity findings`, evidence: e };
  } finally {
    opened.close();
  }
}

/** No telnet/FTP/plain-HTTP to management addresses in 30 days (8.1.4.1 c; GB/T 39786 9.3 b). */
async function cleartextManagement(c: CheckContext): Promise<CheckResult> {
  const e = ev();
  const ips = [...new Set(c.assets.flatMap((a) => a.ips))];
  if (ips.length === 0) return { check: 'cleartext-management', status: 'na', summary: 'no management addresses registered', evidence: e };
  const from = new Date(c.now.getTime() - 30 * DAY).toISOString();
  const q = `(destination.port:23 OR destination.port:21 OR destination.port:80) AND (${ips.map((ip) => `destination.ip:${ip}`).join(' OR ')})`;
  e.queries.push(q);
  const all = await c.store.search({ from, to: c.now.toISOString(), size: 0 });
  const res = await c.store.search({ query: parseQuery(q), from, to: c.now.toISOString(), size: 5, facets: ['destination.ip', 'destination.port'] });
  e.counts.events = all.total;
  e.counts.cleartext = res.total;
  e.samples = res.events.map((x) => x.id);
  if (all.total === 0) return { check: 'cleartext-management', status: 'manual', summary: 'no events to judge by; check device configurations', evidence: e };
  return res.total === 0
    ? { check: 'cleartext-management', status: 'pass', summary: 'no telnet, FTP or plain-HTTP sessions to management addresses in 30 days', evidence: e }
    : { check: 'cleartext-management', status: 'fail', summary: `${res.total} cleartext management sessions seen`, evidence: e };
}

/** Login-failure handling: lockouts seen after failures (8.1.4.1 b). */
async function loginFailure(c: CheckContext): Promise<CheckResult> {
  const e = ev();
  const from = new Date(c.now.getTime() - 30 * DAY).toISOString();
  const qf = 'event.category:authentication AND event.outcome:failure';
  const ql = 'event.action:*lock*';
  e.queries.push(qf, ql);
  const f = await c.store.search({ query: parseQuery(qf), from, to: c.now.toISOString(), size: 0 });
  const l = await c.store.search({ query: parseQuery(ql), from, to: c.now.toISOString(), size: 3 });
  e.counts.failures = f.total;
  e.counts.lockouts = l.total;
  e.samples = l.events.map((x) => x.id);
  if (l.total > 0) return { check: 'login-failure', status: 'pass', summary: `${l.total} lockouts after ${f.total} login failures`, evidence: e };
  if (f.total >= 5) return { check: 'login-failure', status: 'fail', summary: `${f.total} login failures and no lockout in 30 days`, evidence: e };
  return { check: 'login-failure', status: 'manual', summary: 'too few login failures to see lockout behaviour; check device configurations', evidence: e };
}

/** Two-factor login to the SOC at level 3 (8.1.4.1 d; GB/T 39786 9.3 a). */
function twoFactor(c: CheckContext): CheckResult {
  const e = ev();
  e.queries.push('config: level, auth.requireTotp');
  const on = c.socConfig.level === 3 || c.socConfig.auth?.requireTotp === true;
  e.notes.push(`level=${String(c.socConfig.level ?? 2)} requireTotp=${String(c.socConfig.auth?.requireTotp ?? false)}`);
  return on
    ? { check: 'two-factor', status: 'pass', summary: 'password + TOTP (HMAC) required for every SOC user', evidence: e }
    : { check: 'two-factor', status: 'fail', summary: 'TOTP is not required: single-factor login', evidence: e };
}

/**
 * Run every automated check once.
 * @example const results = await runChecks({ store, dataDir, assets, level: 3, socConfig: cfg, now: new Date() });
 */
export async function runChecks(c: CheckContext): Promise<Map<CheckId, CheckResult>> {
  const out = new Map<CheckId, CheckResult>();
  for (const r of [await logArrival(c), await auditFields(c), await retention(c), await integrity(c), await cleartextManagement(c), await loginFailure(c), twoFactor(c)]) out.set(r.check, r);
  return out;
}
