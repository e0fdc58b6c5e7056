/**
 * FortiGate (FortiOS) syslog in its default key=value form (FortiOS "Log Message Reference":
 * `date= time= devname= devid= logid= type= subtype= level= …`), values optionally double-quoted.
 */
import type { EcsEvent } from '../types.js';
import { setField } from '../ecs/helpers.js';
import type { LineParser } from './types.js';
import { wallToInstant } from '../syslog/time.js';
import { asInt, categorise, isoFromMs, isoFromParts, lookup, observer, scanKv, setEndpoint, transportName, tzOffset } from './util.js';

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
  const d = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const t = /^(\d{2}):(\d{2}):(\d{2})$/.exec(time);
  if (!d || !t || zone === undefined) return undefined;
  try {
    return isoFromMs(wallToInstant(zone, Number(d[1]), Number(d[2]), Number(d[3]), Number(t[1]), Number(t[2]), Number(t[3]), 0));
  } catch {
    // A zone Intl does not know: keep the receive time rather than guess.
    return undefined;
  }
}

const ALLOWED = /^(accept|accepted|allow|close|timeout|start|pass|passthrough|monitored|client-rst|server-rst)$/;
const DENIED = /^(deny|denied|block|blocked|drop|dropped|reset|reject|ip-conn|dns)$/;

function verdictOf(ev: EcsEvent, category: string, action: string | undefined): void {
  const a = action?.toLowerCase();
  if (a !== undefined && DENIED.test(a)) categorise(ev, [category], category === 'network' ? ['connection', 'denied'] : ['denied'], a, 'failure');
  else if (a !== undefined && ALLOWED.test(a)) categorise(ev, [category], category === 'network' ? ['connection', 'allowed'] : ['allowed'], a, 'success');
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

/**
 * FortiGate traffic, event and UTM logs.
 *
 * @example
 * parseFortigate({ text: 'logid="0000000013" type="traffic" devid="FG" srcip=10.0.0.1 action="deny"', app: '' }, ev); // event.outcome 'failure'
 */
export const parseFortigate: LineParser = (input, ev) => {
  const text = input.text;
  if (!looksLikeFortigate(text)) return false;
  const kv = scanKv(text);
  if (kv.logid === undefined) return false;
  ev.event.module = 'fortinet';
  ev.event.dataset = 'fortinet.firewall';
  observer(ev, 'Fortinet', 'FortiGate', 'firewall');
  const ts = eventTime(kv.eventtime) ?? deviceTime(kv.date, kv.time, tzOffset(kv.tz), input.zone);
  if (ts !== undefined) ev['@timestamp'] = ts;
  ev.event.code = kv.logid;
  setField(ev, 'log.level', kv.level);
  setField(ev, 'observer.name', kv.devname);
  setField(ev, 'observer.serial_number', kv.devid);
  setEndpoint(ev, 'source', kv.srcip, kv.srcport);
  setEndpoint(ev, 'destination', kv.dstip, kv.dstport);
  setField(ev, 'observer.ingress.interface.name', kv.srcintf);
  setField(ev, 'observer.egress.interface.name', kv.dstintf);
  setField(ev, 'network.transport', transportName(kv.proto));
  setField(ev, 'network.protocol', kv.service?.toLowerCase());
  setField(ev, 'network.application', kv.app);
  setField(ev, 'rule.id', kv.policyid);
  setField(ev, 'rule.name', kv.policyname ?? kv.attack);
  setField(ev, 'source.bytes', asInt(kv.sentbyte));
  setField(ev, 'destination.bytes', asInt(kv.rcvdbyte));
  setField(ev, 'source.packets', asInt(kv.sentpkt));
  setField(ev, 'destination.packets', asInt(kv.rcvdpkt));
  if (kv.transip !== undefined && kv.transip !== '0.0.0.0') setEndpoint(ev, 'source.nat', kv.transip, kv.transport);
  const duration = asInt(kv.duration);
  if (duration !== undefined) ev.event.duration = duration * 1e9;
  const user = kv.user ?? kv.unauthuser;
  if (user !== undefined && user !== 'N/A') setField(ev, 'user.name', user);
  setField(ev, 'url.domain', kv.hostname);
  setField(ev, 'url.path', kv.url);
  if (kv.reason !== undefined) ev.event.reason = kv.reason;
  // Admin logins name the interface and peer as ui="ssh(10.1.1.5)".
  const ui = kv.ui !== undefined ? /^([a-z]+)\(([0-9a-fA-F.:]+)\)$/.exec(kv.ui) : null;
  if (ui && ev.source?.ip === undefined) setEndpoint(ev, 'source', ui[2]);

  const type = kv.type ?? '';
  const subtype = kv.subtype ?? '';
  const action = kv.action;
  const desc = (kv.logdesc ?? kv.msg ?? '').toLowerCase();
  if (type === 'traffic') verdictOf(ev, 'network', action);
  else if (type === 'utm' || type === 'attack') verdictOf(ev, lookup(UTM_CATEGORY, subtype) ?? 'intrusion_detection', action);
  else if (type === 'event') {
    const status = kv.status?.toLowerCase();
    const outcome = status === undefined ? undefined : /^(success|succeeded)$/.test(status) ? 'success' : 'failure';
    if (action === 'logout' || /logout|logged out/.test(desc)) categorise(ev, ['authentication'], ['end'], 'logout', outcome ?? 'success');
    else if (action === 'login' || /login/.test(desc))
      categorise(ev, ['authentication'], ['start'], 'login', outcome ?? (/fail/.test(desc) ? 'failure' : 'unknown'));
    else if (kv.cfgpath !== undefined || /^(add|edit|delete|set|unset)$/i.test(action ?? '')) {
      const a = (action ?? '').toLowerCase();
      categorise(ev, ['configuration'], [a === 'add' ? 'creation' : a === 'delete' ? 'deletion' : 'change'], `config-${a || 'change'}`, 'success');
    } else categorise(ev, ['host'], ['info'], action ?? subtype);
  } else categorise(ev, ['network'], ['info'], action ?? type);

  const fw: Record<string, unknown> = {};
  for (const k of ['type', 'subtype', 'logdesc', 'vd', 'sessionid', 'msg', 'status', 'cfgpath', 'cfgobj', 'cfgattr', 'attack', 'severity', 'srccountry', 'dstcountry', 'ui']) {
    if (kv[k] !== undefined) fw[k] = kv[k];
  }
  ev.fortinet = { firewall: fw };
  return true;
};
