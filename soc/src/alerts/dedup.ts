/**
 * The alert rules both stores apply (SQLite in `sqlite.ts`, Elasticsearch/OpenSearch in
 * `engine.ts`): deterministic ids, suppression matching, deduplication into an open alert within
 * the window, and the shape of a new alert. One copy, so an alert is the same on every backend.
 */
import { bytesToHex, sm3, utf8ToBytes } from '@xiangan/crypto';
import { MAX_ALERT_EVENT_IDS, RISK_BY_LEVEL, type Alert, type AlertCandidate, type PurgeOptions, type PurgeResult, type Suppression } from './types.js';

/** The largest time an id's 12 hex digits hold (year 10889). */
const MAX_ID_TIME = 0xffff_ffff_ffff;

/**
 * Deterministic alert id, 32 hex characters: the first event's time (milliseconds since the epoch,
 * 12 hex digits; zeros when it does not parse) then 20 characters of SM3 over rule, group, first
 * event time and first event id (GB/T 32905-2016). The same match replayed after a crash names the
 * same alert on any backend, and ids sort by the time their alerts began.
 *
 * The time comes first so that new alerts, which mostly begin later than the ones stored, add
 * their ids at the end of the id-keyed B-trees (the primary key, the history's alert index)
 * instead of at a random page each: with hash-only ids, once those trees outgrew the page cache
 * (~100k alerts) each new alert read and rewrote pages all over them, and its cost grew with the
 * store (bench:alerts `storeGrowth`, random group keys: ~45 → ~90 CPU-µs a new alert from the
 * first 50k to the 250th thousand with hash-only ids, ~40 → ~50 with these). Ids of
 * earlier versions (the SM3 prefix alone) stay valid: an id is only ever looked up whole.
 * @example alertId(candidate) // '019ac8f3e2a0' + 20 hex characters
 */
export function alertId(c: AlertCandidate): string {
  const m = c.match;
  const hash = bytesToHex(sm3(utf8ToBytes(`${m.ruleId}\u001f${c.groupKey}\u001f${m.time}\u001f${m.eventIds[0] ?? ''}`)));
  const t = Date.parse(m.time);
  const time = Number.isFinite(t) && t >= 0 && t <= MAX_ID_TIME ? t.toString(16).padStart(12, '0') : '000000000000';
  return time + hash.slice(0, 20);
}

/**
 * Whether a suppression (exception) covers a candidate: same rule (or any), not expired at the
 * event's time, and every listed field holding one of the allowed values (case-insensitive).
 * @example sups.find((s) => suppressionMatches(s, c))
 */
export function suppressionMatches(s: Suppression, c: AlertCandidate): boolean {
  if (s.ruleId !== null && s.ruleId !== c.match.ruleId) return false;
  if (s.expiresAt !== null && Date.parse(c.match.time) >= Date.parse(s.expiresAt)) return false;
  for (const [field, allowed] of Object.entries(s.match)) {
    const have = c.field(field).map((v) => v.toLowerCase());
    if (!allowed.some((v) => have.includes(v.toLowerCase()))) return false;
  }
  return true;
}

/**
 * The ids of an alert's `eventIds` as a set, made once per alert object and kept while that array
 * is the one the alert holds: an alert storm merges thousands of candidates into one alert per
 * batch, and rebuilding a set of up to {@link MAX_ALERT_EVENT_IDS} ids for each of them made a
 * merge cost O(cap).
 */
const idSets = new WeakMap<Alert, { ids: string[]; set: Set<string> }>();

/**
 * Fold a candidate into the open alert `cur` when it falls within `windowMs` of its last sighting
 * (count, last seen, event ids capped at {@link MAX_ALERT_EVENT_IDS}, latest correlation);
 * false when it is outside the window and a new alert is due. Event ids keep the order they were
 * first seen in (an id seen again stays where it is), and the oldest go first past the cap.
 * @example if (cur && mergeIntoAlert(cur, c, at, windowMs)) save(cur);
 */
export function mergeIntoAlert(cur: Alert, c: AlertCandidate, at: string, windowMs: number): boolean {
  const m = c.match;
  const t = Date.parse(m.time);
  if (Number.isFinite(t) && t - Date.parse(cur.lastSeen) > windowMs) return false;
  cur.count++;
  if (Number.isFinite(t) && t > Date.parse(cur.lastSeen)) cur.lastSeen = m.time;
  let known = idSets.get(cur);
  if (known?.ids !== cur.eventIds) {
    // First merge into this object (or its ids were replaced): take them as they are, deduplicated.
    const set = new Set(cur.eventIds);
    const ids = set.size === cur.eventIds.length ? cur.eventIds : [...set];
    known = { ids, set };
    idSets.set(cur, known);
    cur.eventIds = ids;
  }
  const { ids, set } = known;
  for (const id of m.eventIds) {
    if (set.has(id)) continue;
    set.add(id);
    ids.push(id);
  }
  if (ids.length > MAX_ALERT_EVENT_IDS) for (const id of ids.splice(0, ids.length - MAX_ALERT_EVENT_IDS)) set.delete(id);
  if (m.correlation) cur.correlation = m.correlation;
  cur.updatedAt = at;
  return true;
}

/**
 * A new alert (status `new`) for a candidate.
 * @example const a = newAlert(c, new Date().toISOString());
 */
export function newAlert(c: AlertCandidate, at: string): Alert {
  const m = c.match;
  return {
    id: alertId(c),
    ruleId: m.ruleId,
    title: m.title,
    severity: m.level,
    riskScore: RISK_BY_LEVEL[m.level] ?? 0,
    tags: m.tags,
    kind: m.kind,
    groupKey: c.groupKey,
    group: c.group,
    status: 'new',
    assignee: null,
    count: 1,
    firstSeen: m.time,
    lastSeen: m.time,
    createdAt: at,
    updatedAt: at,
    eventIds: m.eventIds.slice(-MAX_ALERT_EVENT_IDS),
    ...(m.correlation ? { correlation: m.correlation } : {}),
  };
}

/**
 * The start of a purge of closed alerts, the same for every store: the option check, the cutoff
 * (`olderThanDays` before `now`, as the ISO text the stores compare `updatedAt` with) and the
 * empty tally.
 * @example const { cutoff, out } = purgeStart({ olderThanDays: 365 }, Date.now());
 */
export function purgeStart(opts: PurgeOptions, now: number): { cutoff: string; dryRun: boolean; out: PurgeResult } {
  const days = opts?.olderThanDays;
  if (!Number.isInteger(days) || days < 1) throw new RangeError('purgeClosed: olderThanDays must be an integer ≥ 1');
  const dryRun = opts.dryRun === true;
  const cutoff = new Date(now - days * 86_400_000).toISOString();
  return { cutoff, dryRun, out: { cutoff, dryRun, alerts: 0, byStatus: { resolved: 0, false_positive: 0 }, history: 0, comments: 0 } };
}
