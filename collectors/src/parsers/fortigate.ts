/**
 * FortiGate (FortiOS) syslog in its default key=value form (FortiOS "Log Message Reference":
 * `date= time= devname= devid= logid= type= subtype= level= …`), values optionally double-quoted.
 */
import type { EcsEvent } from '../types.js';
import { setField } from '../ecs/helpers.js';
import type { LineParser, ParseInput } from './types.js';
import { digits } from '../chars.js';
import { asInt, categorise, isoFromMs, isoFromParts, isoInZone, KvKeys, lookup, observer, scanKv, setEndpoint, transportName, tzOffset } from './util.js';

/**
 * Cheap shape test: FortiOS lines carry `logid=` together with `devid=` or `type=`.
 *
 * @example
 * looksLikeFortigate('date=2026-11-29 devid="FG" logid="0000000013" type="traffic"'); // true
 */
export function looksLikeFortigate(text: string): boolean {
  const i = text.indexOf('logid=');
  return i >= 0 && (text.includes('devid=') || text.includes(' type='));
}

/** `eventtime=` is epoch seconds, ms, µs or ns depending on the FortiOS release. */
function eventTime(v: string | undefined): string | undefined {
  if (v === undefined || !/^\d{10,19}$/.test(v)) return undefined;
  const scale = v.length >= 19 ? 1e6 : v.length >= 16 ? 1e3 : v.length >= 13 ? 1 : 1e-3;
  return isoFromMs(Math.floor(Number(v) / scale));
}

/** `date=` + `time=` read with `tz=` when given, else in the source's zone (FortiOS logs local time). */
function deviceTime(date: string | undefined, time: string | undefined, offset: string | undefined, zone: string | undefined): string | undefined {
  if (date === undefined || time === undefined) return undefined;
  if (offset !== undefined) return isoFromParts(date, time, offset);
  // `YYYY-MM-DD` and `HH:MM:SS`, read from char codes.
  if (date.length !== 10 || time.length !== 8 || zone === undefined) return undefined;
  const year = digits(date, 0, 4);
  const month = digits(date, 5, 2);
  const day = digits(date, 8, 2);
  const hour = digits(time, 0, 2);
  const minute = digits(time, 3, 2);
  const second = digits(time, 6, 2);
  if (
    year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0 || date.charCodeAt(4) !== 0x2d ||
    date.charCodeAt(7) !== 0x2d || time.charCodeAt(2) !== 0x3a || time.charCodeAt(5) !== 0x3a
  )
    return undefined;
  return isoInZone(zone, year, month, day, hour, minute, second, 0);
}

// Whole-word verdicts (a Set lookup: the anchored alternations they replace cost a regex call per line).
const ALLOWED: ReadonlySet<string> = new Set(['accept', 'accepted', 'allow', 'close', 'timeout', 'start', 'pass', 'passthrough', 'monitored', 'client-rst', 'server-rst']);
const DENIED: ReadonlySet<string> = new Set(['deny', 'denied', 'block', 'blocked', 'drop', 'dropped', 'reset', 'reject', 'ip-conn', 'dns', 'clear_session']);

function verdictOf(ev: EcsEvent, category: string, action: string | undefined): void {
  const a = action?.toLowerCase();
  if (a !== undefined && DENIED.has(a)) categorise(ev, [category], category === 'network' ? ['connection', 'denied'] : ['denied'], a, 'failure');
  else if (a !== undefined && ALLOWED.has(a)) categorise(ev, [category], category === 'network' ? ['connection', 'allowed'] : ['allowed'], a, 'success');
  else categorise(ev, [category], category === 'network' ? ['connection'] : ['info'], a);
}

const UTM_CATEGORY: Record<string, string> = {
  ips: 'intrusion_detection',
  anomaly: 'intrusion_detection',
  virus: 'malware',
  webfilter: 'web',
  'app-ctrl': 'network',
  dlp: 'file',
  emailfilter: 'email',
  dns: 'network',
  waf: 'web',
};

/** Keys kept verbatim under `fortinet.firewall.*`, in this order. */
const VERBATIM = ['type', 'subtype', 'logdesc', 'vd', 'sessionid', 'msg', 'status', 'cfgpath', 'cfgobj', 'cfgattr', 'attack', 'severity', 'srccountry', 'dstcountry', 'ui', 'tunneltype', 'tunnelip'] as const;

/** Every key the parser reads; a key's slot in {@link scanKv}'s result is its index here. */
const NAMES = [
  ...VERBATIM,
  'logid', 'eventtime', 'date', 'time', 'tz', 'level', 'devname', 'devid', 'srcip', 'srcport', 'dstip', 'dstport',
  'srcintf', 'dstintf', 'proto', 'service', 'app', 'policyid', 'policyname', 'sentbyte', 'rcvdbyte', 'sentpkt',
  'rcvdpkt', 'transip', 'transport', 'duration', 'user', 'unauthuser', 'hostname', 'url', 'reason', 'action', 'remip', 'group',
] as const;
const KEYS = new KvKeys(NAMES);
/** Slot of each key. */
const I = Object.fromEntries(NAMES.map((n, i) => [n, i])) as Record<(typeof NAMES)[number], number>;

/**
 * FortiGate traffic, event and UTM logs.
 *
 * @example
 * parseFortigate({ text: 'logid="0000000013" type="traffic" devid="FG" srcip=10.0.0.1 action="deny"', app: '' }, ev); // event.outcome 'failure'
 */
export const parseFortigate: LineParser = (input, ev) => looksLikeFortigate(input.text) && fortigateChecked(input, ev);

/**
 * {@link parseFortigate} of a text that passed {@link looksLikeFortigate} (the dispatcher tests
 * it to choose the parser).
 * @internal
 */
export function fortigateChecked(input: ParseInput, ev: EcsEvent): boolean {
  const text = input.text;
  const kv = scanKv(text, KEYS);
  const logid = kv[I.logid];
  if (logid === undefined) return false;
  ev.event.module = 'fortinet';
  ev.event.dataset = 'fortinet.firewall';
  observer(ev, 'Fortinet', 'FortiGate', 'firewall');
  const ts = eventTime(kv[I.eventtime]) ?? deviceTime(kv[I.date], kv[I.time], tzOffset(kv[I.tz]), input.zone);
  if (ts !== undefined) ev['@timestamp'] = ts;
  ev.event.code = logid;
  // Direct writes (this runs for every FortiGate line); empty values are left out, as setField does.
  const level = kv[I.level];
  if (level !== undefined && level !== '') (ev.log ??= {}).level = level;
  const obs = ev.observer!;
  const devname = kv[I.devname];
  if (devname !== undefined && devname !== '') obs.name = devname;
  const devid = kv[I.devid];
  if (devid !== undefined && devid !== '') obs.serial_number = devid;
  setEndpoint(ev, 'source', kv[I.srcip], kv[I.srcport]);
  setEndpoint(ev, 'destination', kv[I.dstip], kv[I.dstport]);
  setField(ev, 'observer.ingress.interface.name', kv[I.srcintf]);
  setField(ev, 'observer.egress.interface.name', kv[I.dstintf]);
  const transport = transportName(kv[I.proto]);
  if (transport !== undefined) (ev.network ??= {}).transport = transport;
  const service = kv[I.service]?.toLowerCase();
  if (service !== undefined && service !== '') (ev.network ??= {}).protocol = service;
  const app = kv[I.app];
  if (app !== undefined && app !== '') (ev.network ??= {}).application = app;
  const policyid = kv[I.policyid];
  if (policyid !== undefined && policyid !== '') (ev.rule ??= {}).id = policyid;
  const policyname = kv[I.policyname] ?? kv[I.attack];
  if (policyname !== undefined && policyname !== '') (ev.rule ??= {}).name = policyname;
  const sentbyte = asInt(kv[I.sentbyte]);
  if (sentbyte !== undefined) (ev.source ??= {}).bytes = sentbyte;
  const rcvdbyte = asInt(kv[I.rcvdbyte]);
  if (rcvdbyte !== undefined) (ev.destination ??= {}).bytes = rcvdbyte;
  const sentpkt = asInt(kv[I.sentpkt]);
  if (sentpkt !== undefined) (ev.source ??= {}).packets = sentpkt;
  const rcvdpkt = asInt(kv[I.rcvdpkt]);
  if (rcvdpkt !== undefined) (ev.destination ??= {}).packets = rcvdpkt;
  const transip = kv[I.transip];
  if (transip !== undefined && transip !== '0.0.0.0') setEndpoint(ev, 'source.nat', transip, kv[I.transport]);
  const duration = asInt(kv[I.duration]);
  if (duration !== undefined) ev.event.duration = duration * 1e9;
  const user = kv[I.user] ?? kv[I.unauthuser];
  if (user !== undefined && user !== 'N/A') setField(ev, 'user.name', user);
  setField(ev, 'url.domain', kv[I.hostname]);
  setField(ev, 'url.path', kv[I.url]);
  const reason = kv[I.reason];
  if (reason !== undefined) ev.event.reason = reason;
  const group = kv[I.group];
  if (group !== undefined && group !== 'N/A') setField(ev, 'user.group.name', group);
  // Admin logins and configuration changes name the interface and peer as ui="ssh(10.1.1.5)" or
  // ui="GUI(10.1.1.5)"; VPN events name the remote peer as remip=.
  const uiText = kv[I.ui];
  const ui = uiText !== undefined ? /^([A-Za-z]+)\(([0-9a-fA-F.:]+)\)$/.exec(uiText) : null;
  if (ui && ev.source?.ip === undefined) setEndpoint(ev, 'source', ui[2]);
  if (ev.source?.ip === undefined) setEndpoint(ev, 'source', kv[I.remip]);

  const type = kv[I.type] ?? '';
  const subtype = kv[I.subtype] ?? '';
  const action = kv[I.action];
  const desc = (kv[I.logdesc] ?? kv[I.msg] ?? '').toLowerCase();
  if (type === 'traffic') verdictOf(ev, 'network', action);
  else if (type === 'utm' || type === 'attack' || type === 'anomaly') verdictOf(ev, lookup(UTM_CATEGORY, subtype) ?? 'intrusion_detection', action);
  else if (type === 'event') {
    const status = kv[I.status]?.toLowerCase();
    const outcome = status === undefined ? undefined : /^(success|succeeded)$/.test(status) ? 'success' : 'failure';
    if (action === 'logout' || /logout|logged out/.test(desc)) categorise(ev, ['authentication'], ['end'], 'logout', outcome ?? 'success');
    else if (action === 'login' || /login/.test(desc))
      categorise(ev, ['authentication'], ['start'], 'login', outcome ?? (/fail/.test(desc) ? 'failure' : 'unknown'));
    else if (action === 'tunnel-up' || action === 'tunnel-down')
      categorise(ev, ['session'], [action === 'tunnel-up' ? 'start' : 'end'], action, action === 'tunnel-up' ? 'success' : undefined);
    else if (kv[I.cfgpath] !== undefined || /^(add|edit|delete|set|unset)$/i.test(action ?? '')) {
      const a = (action ?? '').toLowerCase();
      categorise(ev, ['configuration'], [a === 'add' ? 'creation' : a === 'delete' ? 'deletion' : 'change'], `config-${a || 'change'}`, 'success');
    } else categorise(ev, ['host'], ['info'], action ?? subtype);
  } else categorise(ev, ['network'], ['info'], action ?? type);

  // The VERBATIM keys as named stores: a store under a computed key took the generic
  // keyed-store path for every field of every FortiGate line.
  const fw: Record<string, unknown> = {};
  if (kv[I.type] !== undefined) fw.type = kv[I.type];
  if (kv[I.subtype] !== undefined) fw.subtype = kv[I.subtype];
  if (kv[I.logdesc] !== undefined) fw.logdesc = kv[I.logdesc];
  if (kv[I.vd] !== undefined) fw.vd = kv[I.vd];
  if (kv[I.sessionid] !== undefined) fw.sessionid = kv[I.sessionid];
  if (kv[I.msg] !== undefined) fw.msg = kv[I.msg];
  if (kv[I.status] !== undefined) fw.status = kv[I.status];
  if (kv[I.cfgpath] !== undefined) fw.cfgpath = kv[I.cfgpath];
  if (kv[I.cfgobj] !== undefined) fw.cfgobj = kv[I.cfgobj];
  if (kv[I.cfgattr] !== undefined) fw.cfgattr = kv[I.cfgattr];
  if (kv[I.attack] !== undefined) fw.attack = kv[I.attack];
  if (kv[I.severity] !== undefined) fw.severity = kv[I.severity];
  if (kv[I.srccountry] !== undefined) fw.srccountry = kv[I.srccountry];
  if (kv[I.dstcountry] !== undefined) fw.dstcountry = kv[I.dstcountry];
  if (kv[I.ui] !== undefined) fw.ui = kv[I.ui];
  if (kv[I.tunneltype] !== undefined) fw.tunneltype = kv[I.tunneltype];
  if (kv[I.tunnelip] !== undefined) fw.tunnelip = kv[I.tunnelip];
  ev.fortinet = { firewall: fw };
  return true;
}
