/**
 * Huawei VRP / USG and H3C Comware share one information-centre header:
 * `%%` + two-digit brand/version (`01` Huawei VRP5+, `10` H3C Comware) + `MODULE/SEVERITY/MNEMONIC`,
 * optionally `(l|s|d|t)` (log/security/diagnostic/trap) and `[count]` on Huawei, then `:`.
 * (Huawei "Log Reference" §"Log Format"; H3C "System Log Messages Reference" §"Log format".)
 */
import type { EcsEvent } from '../types.js';
import { setField } from '../ecs/helpers.js';
import type { LineParser } from './types.js';
import { asInt, asIp, categorise, head, isoFromMs, isoInZone, lookup, observer, safeKey, setEndpoint, splitPairs, transportName, verdict, type EndpointPrefix } from './util.js';

const HEAD = /^%%(\d{2})([A-Z][A-Z0-9_]{0,31})\/(\d)\/([A-Za-z0-9_]{1,64})(?:\(([a-z])\))?(?:\[(\d{1,10})\])?: ?/;

const HEAD_AT = new RegExp(HEAD.source.slice(1), 'y');

/**
 * Index of the `%%NN` header in the line, else -1.
 *
 * @example
 * vrpStart('HUAWEI %%01SHELL/5/LOGIN(l)[2]:The user …'); // 7
 */
export function vrpStart(text: string): number {
  const i = text.indexOf('%%');
  if (i < 0 || i >= 160) return -1;
  HEAD_AT.lastIndex = i;
  return HEAD_AT.test(text) ? i : -1;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/**
 * The brand code of a `%%NN` line (`01` Huawei, `10` H3C, else the digits), `''` when there is
 * none. A cheap look at the two digits: the parser itself checks the whole header.
 *
 * @example
 * vrpBrand('%%10SHELL/5/SHELL_LOGIN: admin logged in'); // '10'
 */
export function vrpBrand(text: string): string {
  const i = text.indexOf('%%');
  return i >= 0 && i < 160 && isDigit(text.charCodeAt(i + 2)) && isDigit(text.charCodeAt(i + 3)) ? text.slice(i + 2, i + 4) : '';
}

/** What a known key of Huawei/H3C logs sets. */
type Apply = (ev: EcsEvent, v: string) => void;
const ip = (p: EndpointPrefix): Apply => (ev, v) => setEndpoint(ev, p, v);
const port = (p: EndpointPrefix): Apply => (ev, v) => setEndpoint(ev, p, undefined, v);
const count = (path: string): Apply => (ev, v) => setField(ev, path, asInt(v));
const text = (path: string): Apply => (ev, v) => setField(ev, path, v);
const reason: Apply = (ev, v) => {
  ev.event.reason = v;
};

/** Key names of Huawei/H3C logs (lower-cased, `-`/`_` removed) → what they set in ECS (a Map: looked up per pair). */
const KEYS: ReadonlyMap<string, Apply> = new Map(Object.entries({
  ip: ip('source'),
  userip: ip('source'),
  clientip: ip('source'),
  sourceip: ip('source'),
  srcip: ip('source'),
  srcipaddr: ip('source'),
  ipaddr: ip('source'),
  sourceport: port('source'),
  srcport: port('source'),
  destinationip: ip('destination'),
  dstip: ip('destination'),
  dstipaddr: ip('destination'),
  destinationport: port('destination'),
  dstport: port('destination'),
  sourcenatip: ip('source.nat'),
  natsrcipaddr: ip('source.nat'),
  sourcenatport: port('source.nat'),
  natsrcport: port('source.nat'),
  destinationnatip: ip('destination.nat'),
  natdstipaddr: ip('destination.nat'),
  destinationnatport: port('destination.nat'),
  natdstport: port('destination.nat'),
  user: text('user.name'),
  username: text('user.name'),
  sourcezone: text('observer.ingress.zone'),
  srczonename: text('observer.ingress.zone'),
  destinationzone: text('observer.egress.zone'),
  dstzonename: text('observer.egress.zone'),
  rulename: text('rule.name'),
  policyname: text('rule.name'),
  securitypolicy: text('rule.name'),
  ruleid: text('rule.id'),
  command: text('process.command_line'),
  applicationname: text('network.application'),
  application: text('network.application'),
  sendbytes: count('source.bytes'),
  rcvbytes: count('destination.bytes'),
  sendpkts: count('source.packets'),
  rcvpkts: count('destination.packets'),
  reason,
  failedreason: reason,
  closereason: reason,
}));

const NORM_KEYS = new Map<string, string>();

/** `Source-IP` → `sourceip`, cached: devices repeat the same few dozen keys. */
function normKey(k: string): string {
  let nk = NORM_KEYS.get(k);
  if (nk === undefined) {
    nk = k.toLowerCase().replace(/[-_]/g, '');
    if (NORM_KEYS.size < 2048) NORM_KEYS.set(k, nk);
  }
  return nk;
}

/** What the classification needs from the pairs (by normalised key; the last value wins). */
interface PairFacts {
  result: string | undefined;
  user: boolean;
  username: boolean;
}

/** Applies known keys to ECS (the pairs themselves are kept verbatim by the caller). */
function applyPairs(ev: EcsEvent, kv: Record<string, string>): PairFacts {
  const facts: PairFacts = { result: undefined, user: false, username: false };
  let proto: string | undefined;
  for (const k in kv) {
    const v = kv[k]!;
    const nk = normKey(k);
    switch (nk) {
      case 'protocol':
        proto = v;
        break;
      case 'result':
        facts.result = v;
        break;
      case 'user':
        facts.user = true;
        break;
      case 'username':
        facts.username = true;
        break;
    }
    const apply = KEYS.get(nk);
    if (apply !== undefined && v !== '' && v !== '-') apply(ev, v);
  }
  if (proto !== undefined) setField(ev, 'network.transport', transportName(proto.replace(/^\(\d+\)/, '')));
  return facts;
}

/**
 * Huawei's prose login and logout bodies: `VTY0 login from 192.168.0.1 succeed.` (CLI/5/LOGIN),
 * `VTY User admin login from 10.1.1.1.`, `User admin logout from 10.1.1.1.`: the line, the user,
 * the verb, the address and a trailing result.
 */
const HUAWEI_LOGIN_PROSE = /^(?:(\S+) )?(?:[Uu]ser (\S+) )?(login|logout|logged in|logged out|failed to log ?in) from ([0-9A-Fa-f.:]+?)\.?(?: (succeed(?:ed)?|failed))?\.?$/;

/**
 * A Huawei body → its description and pairs. A leading `CID=…;` (the component id of NE/CX-series
 * logs: `%%01CLI/5/LOGIN(l):CID=2160731923;VTY0 login from …`) is a pair of its own before the rest.
 */
function huaweiBody(body: string): { desc: string; kv: Record<string, string> } {
  const cid = body.startsWith('CID=') ? /^CID=(\w{1,24});/.exec(body) : null;
  if (cid === null) return huaweiBodyForms(body);
  const rest = huaweiBodyForms(body.slice(cid[0].length));
  return { desc: rest.desc, kv: { CID: cid[1]!, ...rest.kv } };
}

/** `Description. (K=V, K="V", …)` (Huawei's usual body shape), bare pairs, or prose (logins: {@link HUAWEI_LOGIN_PROSE}). */
function huaweiBodyForms(body: string): { desc: string; kv: Record<string, string> } {
  // Both forms need a `=` (and the first a `(`): prose bodies skip the expressions.
  const m = body.includes('(') && body.includes('=') ? /\s?\((?=[A-Za-z][\w-]{0,40}=)/.exec(body) : null;
  if (m && body.trimEnd().endsWith(')')) {
    let inner = body.slice(m.index + m[0].length, body.trimEnd().length - 1);
    if (inner.endsWith('.')) inner = inner.slice(0, -1);
    return { desc: body.slice(0, m.index).trim(), kv: splitPairs(inner, ',', '=') };
  }
  if (body.includes('=') && /^[A-Za-z][\w-]{0,40}=/.test(body)) {
    let b = body.trimEnd();
    if (b.endsWith('.')) b = b.slice(0, -1);
    return { desc: '', kv: splitPairs(b, ',', '=') };
  }
  const kv: Record<string, string> = {};
  const r = body.includes(' from ') ? HUAWEI_LOGIN_PROSE.exec(body.trimEnd()) : null;
  if (r !== null) {
    if (r[1] !== undefined) kv.Line = r[1];
    if (r[2] !== undefined) kv.User = r[2];
    kv.IpAddr = r[4]!;
    if (r[3]!.startsWith('failed') || r[5] === 'failed') kv.Result = 'failed';
  }
  return { desc: body, kv };
}

function header(input: string): { m: RegExpExecArray; body: string; at: number } | undefined {
  const i = input.indexOf('%%');
  if (i < 0 || i >= 160) return undefined;
  HEAD_AT.lastIndex = i;
  const m = HEAD_AT.exec(input);
  return m ? { m, body: input.slice(i + m[0].length), at: i } : undefined;
}

const SEV_NAMES = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'informational', 'debug'];

function common(ev: EcsEvent, m: RegExpExecArray, ns: 'huawei' | 'h3c', dataset: string): void {
  ev.event.module = ns;
  ev.event.dataset = dataset;
  ev.event.code = `${m[2]}/${m[3]}/${m[4]}`;
  setField(ev, 'log.level', SEV_NAMES[Number(m[3])]);
}

/** Classifies by module and mnemonic (shared wording of both vendors). */
function classify(ev: EcsEvent, module: string, mnemonic: string, result: string | undefined, hasUser = false): void {
  const mn = mnemonic.toUpperCase();
  // Substring tests of the upper-cased mnemonic with `includes` (the alternations they replace cost a regex call each).
  const failed = mn.includes('FAIL') || mn.includes('ERR') || (result !== undefined && /fail/i.test(result));
  if (mn.includes('LOGOUT') || mn.includes('LOGOFF')) categorise(ev, ['authentication'], ['end'], 'logged-out', 'success');
  else if (
    mn.includes('LOGIN') || mn.includes('AUTH') || mn.includes('SSH_FAIL') || mn.includes('TELNET_FAIL') || mn.includes('PASSWORD') ||
    (module.startsWith('SSH') && (mn.includes('FAIL') || hasUser))
  )
    categorise(ev, ['authentication'], ['start'], failed ? 'login-failed' : 'logged-in', failed ? 'failure' : 'success');
  else if (/CMD/.test(mn) || module === 'CFM' || /CONFIG/.test(mn))
    categorise(ev, ['configuration'], ['change'], 'command-executed', failed ? 'failure' : 'success');
  else if (module === 'POLICY' || module === 'FILTER' || module === 'ACL' || /PERMIT|DENY/.test(mn)) {
    const v = verdict(/PERMIT/.test(mn) ? 'permit' : /DENY|DROP/.test(mn) ? 'deny' : undefined);
    categorise(ev, ['network'], v ? ['connection', v.type] : ['connection'], mnemonic.toLowerCase(), v?.outcome);
  } else if (module === 'SECLOG' || module === 'SESSION' || /SESSION/.test(mn))
    categorise(ev, ['network'], /TEARDOWN|DELETE|CLOSE/.test(mn) ? ['connection', 'end'] : ['connection'], mnemonic.toLowerCase());
  else if (/UPDOWN|PHY|LINK/.test(mn)) categorise(ev, ['network'], ['change'], mnemonic.toLowerCase());
  else categorise(ev, ['host'], ['info'], mnemonic.toLowerCase());
}

const MON: Readonly<Record<string, number>> = { Jan: 1, Feb: 2, Mar: 3, Apr: 4, May: 5, Jun: 6, Jul: 7, Aug: 8, Sep: 9, Oct: 10, Nov: 11, Dec: 12 };
// Huawei's own header, which RFC 3164 readers miss: `Nov 29 2026 08:00:00[+08:00] HOST` (VRP)
// or `2026-11-29 08:00:00 HOST` (USG), with the year and an optional UTC offset.
const VRP_TIME =
  /^(?:([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{4})|(\d{4})-(\d{2})-(\d{2})) (\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?(?: ?(?:UTC|GMT|DST)?([+-])(\d{2}):?(\d{2}))? (\S{1,64})$/;

/**
 * Reads the device header before `%%` (time and host name) when the syslog grammar did not:
 * sets `@timestamp` (offset from the line, else the source zone) and the host names.
 */
function vrpPrefix(ev: EcsEvent, prefix: string, zone: string | undefined): void {
  const m = VRP_TIME.exec(prefix);
  if (!m) return;
  const year = Number(m[3] ?? m[4]);
  const month = m[1] !== undefined ? lookup(MON, m[1]) : Number(m[5]);
  const day = Number(m[2] ?? m[6]);
  const hh = Number(m[7]);
  const mi = Number(m[8]);
  const ss = Number(m[9]);
  if (month === undefined || month < 1 || month > 12 || day < 1 || day > 31 || hh > 23 || mi > 59 || ss > 60) return;
  let iso: string | undefined;
  if (m[10] !== undefined) {
    const off = (m[10] === '-' ? -1 : 1) * (Number(m[11]) * 60 + Number(m[12])) * 60000;
    iso = isoFromMs(Date.UTC(year, month - 1, day, hh, mi, ss) - off);
  } else if (zone !== undefined) iso = isoInZone(zone, year, month, day, hh, mi, ss, 0);
  if (iso !== undefined) ev['@timestamp'] = iso;
  const host = m[13]!;
  if (ev.host?.hostname === undefined && /^[A-Za-z0-9][\w.-]*$/.test(host)) {
    const h = (ev.host ??= {});
    h.hostname = host;
    h.name = host;
    (ev.observer ??= {}).hostname = host;
  }
}

/**
 * Huawei VRP routers/switches and USG firewalls (`%%01…`).
 *
 * @example
 * parseHuawei({ text: '%%01SSH/4/SSH_FAIL(s)[1]:Failed to login through SSH. (IP=1.2.3.4, UserName=admin)', app: '' }, ev);
 */
export const parseHuawei: LineParser = (input, ev) => {
  const h = header(input.text);
  if (!h) return false;
  const { m, body } = h;
  if (h.at > 0) vrpPrefix(ev, input.text.slice(0, h.at).trim(), input.zone);
  common(ev, m, 'huawei', m[2] === 'POLICY' || m[2] === 'SECLOG' ? 'huawei.usg' : 'huawei.vrp');
  observer(ev, 'Huawei', m[2] === 'POLICY' || m[2] === 'SECLOG' ? 'USG' : 'VRP', m[2] === 'POLICY' || m[2] === 'SECLOG' ? 'firewall' : 'network');
  const { desc, kv } = huaweiBody(body);
  const norm = applyPairs(ev, kv);
  ev.message = body;
  const huawei: Record<string, unknown> = {};
  if (desc !== '') huawei.description = desc;
  huawei.module = m[2];
  huawei.mnemonic = m[4];
  huawei.fields = kv;
  ev.huawei = huawei;
  classify(ev, m[2]!, m[4]!, norm.result, norm.username || norm.user);
  return true;
};

/**
 * H3C body forms: `K(1003)=V;K(1004)=V;`, `-Line=vty0-IPAddr=…-User=admin; Command is …`, prose.
 *
 * @example
 * parseH3c({ text: '%%10SHELL/5/SHELL_LOGIN: admin logged in from 192.168.1.100.', app: '' }, ev);
 */
export const parseH3c: LineParser = (input, ev) => {
  const h = header(input.text);
  if (!h) return false;
  const { m, body } = h;
  common(ev, m, 'h3c', 'h3c.comware');
  observer(ev, 'H3C', 'Comware', m[2] === 'FILTER' || m[2] === 'SESSION' ? 'firewall' : 'network');
  ev.message = body;
  let text = head(body);
  const kv: Record<string, string> = {};
  // Optional device prefix of security products: `-DevIP=10.0.0.1; `.
  const dev = /^-DevIP=([^;]*); ?/.exec(text);
  if (dev) {
    // The device's own address; the syslog peer (already in observer.ip) may be a relay.
    const ip = asIp(dev[1]);
    const o = (ev.observer ??= {});
    if (ip !== undefined && !o.ip?.includes(ip)) o.ip = [...(o.ip ?? []), ip];
    text = text.slice(dev[0].length);
  }
  let r: RegExpExecArray | null;
  if (/^[A-Za-z]+\(\d+\)=/.test(text)) {
    for (const item of text.split(';')) {
      const eq = item.indexOf('=');
      if (eq <= 0) continue;
      const key = item.slice(0, eq).replace(/\(\d+\)$/, '').trim();
      if (safeKey(key)) kv[key] = item.slice(eq + 1).trim();
    }
  } else if ((r = /^-Line=([^-]*)-IPAddr=([^-]*)-User=([^;]*); Command is (.*)$/.exec(text))) {
    kv.Line = r[1]!;
    kv.IPAddr = r[2]!;
    kv.User = r[3]!;
    kv.Command = r[4]!;
  } else if ((r = /^(\S+) (logged in|logged out|failed to log in) from (\S+?)\.?$/.exec(text))) {
    kv.User = r[1]!;
    kv.IPAddr = r[3]!;
    if (r[2] === 'failed to log in') kv.Result = 'failed';
  } else if ((r = /^SSH user (\S+) \(IP: ([0-9a-fA-F.:]+)\) (.*?)\.?$/.exec(text))) {
    kv.User = r[1]!;
    kv.IPAddr = r[2]!;
    kv.Reason = r[3]!;
    if (/didn't pass|failed/.test(r[3]!)) kv.Result = 'failed';
  } else if ((r = /(?:Authentication failed for|User) (?:user )?(\S+) (?:logged in )?from ([0-9a-fA-F.:]+)(?: port (\d+))?(.*)$/.exec(text))) {
    kv.User = r[1]!;
    kv.IPAddr = r[2]!;
    if (r[3]) kv.SrcPort = r[3];
    if (/^Authentication failed/.test(text)) kv.Result = 'failed';
  }
  const norm = applyPairs(ev, kv);
  ev.h3c = { module: m[2], mnemonic: m[4], fields: kv };
  if (kv.Event !== undefined) {
    const v = verdict(kv.Event.replace(/^\(\d+\)/, ''));
    if (m[2] === 'FILTER' || m[2] === 'ACL') {
      categorise(ev, ['network'], v ? ['connection', v.type] : ['connection'], m[4]!.toLowerCase(), v?.outcome);
      return true;
    }
  }
  classify(ev, m[2]!, m[4]!, norm.result, norm.user);
  return true;
};
