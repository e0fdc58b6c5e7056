/**
 * Baseline normaliser: maps the syslog fields of a parsed message to ECS
 * (`log.syslog.*`, `host.hostname`, `process.*`, `message`, `event.original`) without
 * vendor knowledge. The vendor-aware normaliser in `parsers/` builds on the same output;
 * this one is the fallback so that every message is stored, parsed or not.
 */
import type { EcsEvent, SourceContext, SyslogMessage } from '../types.js';

/** RFC 5424 §6.2.1 Table 1 facility keywords (as rsyslog names them). */
export const FACILITY_NAMES: readonly string[] = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp',
  'ntp', 'security', 'console', 'solaris-cron', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5',
  'local6', 'local7',
];

/** RFC 5424 §6.2.1 Table 2 severity keywords. */
export const SEVERITY_NAMES: readonly string[] = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];

// Date#toISOString dominated normalisation cost. A stream's timestamps cluster in a few
// seconds, so the "YYYY-MM-DDTHH:MM:SS" part is cached per second (direct-mapped, bounded)
// and only the milliseconds are appended.
const SEC_SLOTS = 64;
const secKey = new Float64Array(SEC_SLOTS).fill(NaN);
const secIso: string[] = new Array<string>(SEC_SLOTS).fill('');
const MS3 = Array.from({ length: 1000 }, (_, i) => '.' + String(i).padStart(3, '0') + 'Z');

function iso(ms: number): string {
  const sec = Math.floor(ms / 1000);
  const slot = sec & (SEC_SLOTS - 1);
  if (secKey[slot] !== sec) {
    const full = new Date(sec * 1000).toISOString();
    // Years outside 0000–9999 use the expanded form; format those without the cache.
    if (full.length !== 24) return new Date(ms).toISOString();
    secKey[slot] = sec;
    secIso[slot] = full.slice(0, 19);
  }
  return secIso[slot]! + MS3[ms - sec * 1000]!;
}

function pidOf(procid: string | undefined): number | undefined {
  if (procid === undefined || procid.length === 0 || procid.length > 10) return undefined;
  for (let i = 0; i < procid.length; i++) {
    const c = procid.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
  }
  return Number(procid);
}

/**
 * Maps a parsed syslog message to a baseline ECS event. Pure.
 *
 * @example
 * const ev = baselineNormalise(parseSyslog(bytes, opts), ctx);
 * ev.log?.syslog?.severity?.name; // 'err'
 */
export function baselineNormalise(m: SyslogMessage, ctx: SourceContext): EcsEvent {
  const received = iso(ctx.receivedAt);
  const ev: EcsEvent = {
    id: ctx.eventId,
    '@timestamp': m.time.device !== undefined && Number.isFinite(m.time.device) ? iso(m.time.device) : received,
    message: m.msg,
    event: { original: m.raw, ingested: received, kind: 'event', module: 'syslog', dataset: 'syslog.' + m.format, timezone: m.time.zone },
  };
  if (m.time.device !== undefined) ev.event.created = ev['@timestamp'];
  const syslog: NonNullable<NonNullable<EcsEvent['log']>['syslog']> = {};
  if (m.priValid && m.pri !== undefined) {
    syslog.priority = m.pri;
    syslog.facility = { code: m.facility!, name: FACILITY_NAMES[m.facility!] ?? String(m.facility) };
    syslog.severity = { code: m.severity!, name: SEVERITY_NAMES[m.severity!]! };
    ev.event.severity = m.severity!;
  }
  if (m.hostname !== undefined) syslog.hostname = m.hostname;
  if (m.appname !== undefined) syslog.appname = m.appname;
  if (m.procid !== undefined) syslog.procid = m.procid;
  if (m.msgid !== undefined) syslog.msgid = m.msgid;
  if (m.version !== undefined) syslog.version = String(m.version);
  if (m.structuredData !== undefined) {
    const sd: Record<string, Record<string, string>> = {};
    for (const el of m.structuredData) {
      const o = (sd[el.id] ??= {});
      // Repeated PARAM-NAMEs (allowed by RFC 5424 §6.3.3) are joined so no value is lost.
      for (const [k, v] of el.params) o[k] = k in o ? o[k] + '\n' + v : v;
    }
    syslog.structured_data = sd;
  }
  ev.log = { syslog };
  if (ctx.file !== undefined) {
    ev.log.file = { path: ctx.file.path };
    ev.log.offset = ctx.file.offset;
  }
  if (m.hostname !== undefined) ev.host = { hostname: m.hostname, name: m.hostname };
  if (m.appname !== undefined) {
    ev.process = { name: m.appname };
    const pid = pidOf(m.procid);
    if (pid !== undefined) ev.process.pid = pid;
  }
  if (ctx.peer !== undefined) {
    ev.observer = { ip: [ctx.peer.address] };
    ev.log['source'] = { address: `${ctx.peer.address}:${ctx.peer.port}` };
  }
  if (ctx.transport !== 'file') ev.network = { transport: ctx.transport === 'udp' ? 'udp' : 'tcp', protocol: 'syslog' };
  if (ctx.tls !== undefined) {
    // ECS tls.*: the channel was TLS (RFC 5425); the client subject when a certificate was verified.
    const verified = ctx.tls.authorized && ctx.tls.peerSubject !== undefined;
    ev.tls = { established: true, ...(verified ? { client: { subject: ctx.tls.peerSubject } } : {}) };
  }
  const tags: string[] = [];
  if (m.format === 'unparsed') tags.push('_syslog_unparsed');
  if (m.lossy) tags.push('_charset_lossy');
  if (ctx.truncated === true) tags.push('_truncated');
  if (m.time.yearInferred) tags.push('_year_inferred');
  if (tags.length > 0) ev.tags = tags;
  const labels: Record<string, string> = { 'xiangan.source': ctx.sourceId, 'xiangan.charset': m.charset };
  if (m.rawBase64 !== undefined) labels['xiangan.original_base64'] = m.rawBase64;
  if (m.parseError !== undefined) labels['xiangan.parse_error'] = m.parseError;
  if (m.priRaw !== undefined) labels['xiangan.pri_raw'] = m.priRaw;
  if (m.sequence !== undefined) labels['xiangan.sequence'] = m.sequence;
  if (m.time.deviceText !== undefined) labels['xiangan.device_time'] = m.time.deviceText;
  ev.labels = labels;
  return ev;
}
