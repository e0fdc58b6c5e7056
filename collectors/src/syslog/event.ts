/**
 * The syslog-level part of a stored event, shared by the baseline normaliser (syslog/normalise.ts)
 * and the vendor-aware one (parsers/index.ts). The builders are internal (not re-exported by the
 * package); the facility and severity names are, through syslog/normalise.ts.
 */
import type { EcsEvent, SourceContext, SyslogMessage } from '../types.js';
import { isoTime } from './time.js';

/** RFC 5424 §6.2.1 Table 1 facility keywords (as rsyslog names them). */
export const FACILITY_NAMES: readonly string[] = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp',
  'ntp', 'security', 'console', 'solaris-cron', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5',
  'local6', 'local7',
];

/** RFC 5424 §6.2.1 Table 2 severity keywords. */
export const SEVERITY_NAMES: readonly string[] = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];

function pidOf(procid: string | undefined): number | undefined {
  if (procid === undefined || procid.length === 0 || procid.length > 10) return undefined;
  for (let i = 0; i < procid.length; i++) {
    const c = procid.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
  }
  return Number(procid);
}

const DATASETS: Readonly<Record<SyslogMessage['format'], string>> = { rfc5424: 'syslog.rfc5424', rfc3164: 'syslog.rfc3164', unparsed: 'syslog.unparsed' };

let lastPeerAddress = '';
let lastPeerPort = NaN;
let lastPeerText = '';

/**
 * `address:port` of the peer, kept for the next message (a connection's messages share it), laid
 * out as one sequential string (`join`): a concatenation is a cons string, which every scan of it
 * (the JSON writer, once per event) reaches through its parts.
 */
function peerText(address: string, port: number): string {
  if (address !== lastPeerAddress || port !== lastPeerPort) {
    lastPeerAddress = address;
    lastPeerPort = port;
    lastPeerText = [address, port].join(':');
  }
  return lastPeerText;
}

/**
 * The syslog-level part of an event, shared by {@link baselineNormalise} and the vendor-aware
 * normaliser (collectors/src/parsers): id, times, message, `event.*`, `log.*`, `host.*`, the
 * peer as `observer.ip`, tags and labels. With `baseline`, also `process.*` (the syslog TAG),
 * `network.*` (the syslog transport) and `tls.*`; the vendor normaliser adds those itself
 * (a vendor parser describes the logged activity instead), and puts labels before tags.
 * @internal
 */
export function syslogEvent(m: SyslogMessage, ctx: SourceContext, baseline: boolean): EcsEvent {
  const received = isoTime(ctx.receivedAt);
  const device = m.time.device;
  const hasDevice = device !== undefined && Number.isFinite(device);
  const ts = hasDevice ? isoTime(device) : received;
  const event: EcsEvent['event'] = { original: m.raw, ingested: received, kind: 'event', module: 'syslog', dataset: DATASETS[m.format], timezone: m.time.zone };
  const ev: EcsEvent = { id: ctx.eventId, '@timestamp': ts, message: m.msg, event };
  if (device !== undefined) event.created = ts;
  const syslog: NonNullable<NonNullable<EcsEvent['log']>['syslog']> = {};
  if (m.priValid && m.pri !== undefined) {
    syslog.priority = m.pri;
    syslog.facility = { code: m.facility!, name: FACILITY_NAMES[m.facility!] ?? String(m.facility) };
    syslog.severity = { code: m.severity!, name: SEVERITY_NAMES[m.severity!]! };
    event.severity = m.severity!;
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
  const log: NonNullable<EcsEvent['log']> = { syslog };
  ev.log = log;
  if (ctx.file !== undefined) {
    log.file = { path: ctx.file.path };
    log.offset = ctx.file.offset;
  }
  if (m.hostname !== undefined) ev.host = { hostname: m.hostname, name: m.hostname };
  if (baseline && m.appname !== undefined) ev.process = syslogProcess(m);
  if (ctx.peer !== undefined) {
    ev.observer = { ip: [ctx.peer.address] };
    log['source'] = { address: peerText(ctx.peer.address, ctx.peer.port) };
  }
  if (baseline) {
    if (ctx.transport !== 'file') ev.network = syslogNetwork(ctx);
    if (ctx.tls !== undefined) ev.tls = syslogTls(ctx);
  }
  let tags: string[] | undefined;
  if (m.format === 'unparsed') tags = ['_syslog_unparsed'];
  if (m.lossy) (tags ??= []).push('_charset_lossy');
  if (ctx.truncated === true) (tags ??= []).push('_truncated');
  if (m.time.yearInferred) (tags ??= []).push('_year_inferred');
  const labels: Record<string, string> = { 'xiangan.source': ctx.sourceId, 'xiangan.charset': m.charset };
  if (m.rawBase64 !== undefined) labels['xiangan.original_base64'] = m.rawBase64;
  if (m.parseError !== undefined) labels['xiangan.parse_error'] = m.parseError;
  if (m.priRaw !== undefined) labels['xiangan.pri_raw'] = m.priRaw;
  if (m.sequence !== undefined) labels['xiangan.sequence'] = m.sequence;
  if (m.time.deviceText !== undefined) labels['xiangan.device_time'] = m.time.deviceText;
  if (!baseline) ev.labels = labels;
  if (tags !== undefined) ev.tags = tags;
  if (baseline) ev.labels = labels;
  return ev;
}

/**
 * `process.*` from the syslog TAG (APP-NAME and a numeric PROCID), or undefined without one.
 * @internal
 */
export function syslogProcess(m: SyslogMessage): EcsEvent['process'] {
  if (m.appname === undefined) return undefined;
  const process: NonNullable<EcsEvent['process']> = { name: m.appname };
  const pid = pidOf(m.procid);
  if (pid !== undefined) process.pid = pid;
  return process;
}

/**
 * `network.*` of the syslog transport (files have none).
 * @internal
 */
export function syslogNetwork(ctx: SourceContext): EcsEvent['network'] {
  return ctx.transport !== 'file' ? { transport: ctx.transport === 'udp' ? 'udp' : 'tcp', protocol: 'syslog' } : undefined;
}

/**
 * `tls.*` of a TLS source (RFC 5425): established, and the client subject when a certificate was verified.
 * @internal
 */
export function syslogTls(ctx: SourceContext): EcsEvent['tls'] {
  if (ctx.tls === undefined) return undefined;
  const verified = ctx.tls.authorized && ctx.tls.peerSubject !== undefined;
  return verified ? { established: true, client: { subject: ctx.tls.peerSubject } } : { established: true };
}

