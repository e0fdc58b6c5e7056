/**
 * Cisco IOS (`%FACILITY-SEVERITY-MNEMONIC: text`, Cisco IOS System Message Guide) and
 * Cisco ASA (`%ASA-SEVERITY-MESSAGEID: text`, Cisco ASA Series Syslog Messages).
 */
import type { EcsEvent } from '../types.js';
import { setField } from '../ecs/helpers.js';
import type { LineParser } from './types.js';
import { asInt, asPort, categorise, head, observer, setEndpoint, transportName } from './util.js';

const IOS_TAG = /%([A-Z][A-Z0-9_]{0,30})-([0-7])-([A-Z0-9_]{1,40}): ?/;
const ASA_TAG = /%(ASA|FTD|PIX|FWSM)-([0-7])-(\d{6}): ?/;

/**
 * Position of the `%ASA-`-style tag in the first part of the line, else -1.
 *
 * @example
 * asaStart('fw1 : %ASA-6-302013: Built …'); // 6
 */
export function asaStart(text: string): number {
  const i = text.indexOf('%ASA-');
  if (i >= 0 && i < 96) return i;
  const j = text.indexOf('%FTD-');
  return j >= 0 && j < 96 ? j : -1;
}

/**
 * Position of an IOS `%FAC-N-MNEMONIC:` tag near the start, else -1.
 *
 * @example
 * iosStart('*Mar  1 18:46:11: %SYS-5-CONFIG_I: Configured from console'); // 18
 */
export function iosStart(text: string): number {
  const i = text.indexOf('%');
  if (i < 0 || i > 96 || text.charCodeAt(i + 1) === 37) return -1;
  return IOS_TAG.test(text.slice(i, i + 80)) ? i : -1;
}

const SEV_NAMES = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'informational', 'debug'];

/** Cisco's dotted MAC (`0011.2233.4455`) in ECS form (`00-11-22-33-44-55`). */
function ciscoMac(m: string): string {
  const h = m.replaceAll('.', '').toUpperCase();
  return `${h.slice(0, 2)}-${h.slice(2, 4)}-${h.slice(4, 6)}-${h.slice(6, 8)}-${h.slice(8, 10)}-${h.slice(10, 12)}`;
}

/** `[user: admin] [Source: 10.1.1.5] [localport: 22] [Reason: …]` brackets of SEC_LOGIN messages. */
function brackets(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\[([A-Za-z ]{1,20}): ([^\]]*)\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) out[m[1]!.toLowerCase()] = m[2]!;
  return out;
}

/**
 * Cisco IOS / IOS-XE messages.
 *
 * @example
 * parseCiscoIos({ text: '%LINK-3-UPDOWN: Interface Gi0/1, changed state to down', app: '' }, ev); // event.action 'interface-down'
 */
export const parseCiscoIos: LineParser = (input, ev) => {
  const start = iosStart(input.text);
  if (start < 0) return false;
  const tagText = input.text.slice(start);
  const m = IOS_TAG.exec(tagText);
  if (!m || m.index !== 0) return false;
  const facility = m[1]!;
  const sev = m[2]!;
  const mnemonic = m[3]!;
  const full = tagText.slice(m[0].length);
  const body = head(full);
  ev.event.module = 'cisco';
  ev.event.dataset = 'cisco.ios';
  observer(ev, 'Cisco', 'IOS', 'router');
  ev.event.code = `${facility}-${sev}-${mnemonic}`;
  setField(ev, 'log.level', SEV_NAMES[Number(sev)]);
  ev.message = full;
  ev.cisco = { ios: { facility, mnemonic } };
  const key = `${facility}-${mnemonic}`;
  let r: RegExpExecArray | null;
  if (key === 'SEC_LOGIN-QUIET_MODE_ON') {
    // Login block-for (`login block-for … attempts … within …`) tripped: a brute-force attempt.
    const b = brackets(body);
    categorise(ev, ['authentication', 'intrusion_detection'], ['info'], 'login-quiet-mode-on', 'failure');
    setField(ev, 'user.name', b.user);
    setEndpoint(ev, 'source', b.source);
    setField(ev, 'destination.port', asPort(b.localport));
    if (b.reason) ev.event.reason = b.reason;
  } else if (key === 'SYS-LOGOUT' || key === 'SYS-TTY_EXPIRE_TIMER') {
    // User admin has exited tty session 2(10.1.1.5) | (exec timer expired, tty 2 (10.1.1.5)), user admin
    r = /^User (\S+) has exited tty session (\d+)\(([0-9a-fA-F.:]+)\)/.exec(body) ?? /^\(exec timer expired, tty (\d+) \(([0-9a-fA-F.:]+)\)\), user (\S+)/.exec(body);
    categorise(ev, ['authentication', 'session'], ['end'], mnemonic === 'LOGOUT' ? 'logged-out' : 'session-timeout', 'success');
    if (r) {
      const logout = mnemonic === 'LOGOUT';
      setField(ev, 'user.name', logout ? r[1] : r[3]);
      setEndpoint(ev, 'source', logout ? r[3] : r[2]);
      setField(ev, 'cisco.ios.line', `tty${logout ? r[2] : r[1]}`);
    }
  } else if ((facility === 'DOT1X' || facility === 'MAB' || facility === 'AUTHMGR') && (mnemonic === 'FAIL' || mnemonic === 'SUCCESS')) {
    // Authentication failed for client (0011.2233.4455) on Interface Gi1/0/1 AuditSessionID …
    r = /client \(([0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4})\) on Interface (\S+)/.exec(body);
    const ok = mnemonic === 'SUCCESS';
    categorise(ev, ['authentication'], ['start'], `${facility.toLowerCase()}-${ok ? 'success' : 'failure'}`, ok ? 'success' : 'failure');
    if (r) {
      setField(ev, 'source.mac', ciscoMac(r[1]!));
      setField(ev, 'observer.ingress.interface.name', r[2]);
    }
  } else if (facility === 'SW_MATM' && mnemonic === 'MACFLAP_NOTIF') {
    // Host 0011.2233.4455 in vlan 10 is flapping between port Gi0/1 and port Gi0/2 (a loop or MAC spoofing)
    r = /^Host ([0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}) in vlan (\d+) is flapping between port (\S+) and port (\S+)/.exec(body);
    categorise(ev, ['network'], ['info'], 'mac-flapping');
    if (r) {
      setField(ev, 'source.mac', ciscoMac(r[1]!));
      setField(ev, 'cisco.ios.vlan', r[2]);
      setField(ev, 'observer.ingress.interface.name', r[3]);
      setField(ev, 'observer.egress.interface.name', r[4]);
    }
  } else if (key === 'SEC_LOGIN-LOGIN_FAILED' || key === 'SEC_LOGIN-LOGIN_SUCCESS') {
    const b = brackets(body);
    const ok = mnemonic === 'LOGIN_SUCCESS';
    categorise(ev, ['authentication'], ['start'], ok ? 'login-success' : 'login-failed', ok ? 'success' : 'failure');
    setField(ev, 'user.name', b.user);
    setEndpoint(ev, 'source', b.source);
    setField(ev, 'destination.port', asPort(b.localport));
    if (b.reason) ev.event.reason = b.reason;
  } else if (key === 'SYS-CONFIG_I') {
    categorise(ev, ['configuration'], ['change'], 'configured', 'success');
    r = /^Configured from (\S+) by (\S+?)(?: on (\S+))?(?: \((\S+)\))?$/.exec(body);
    if (r) {
      if (r[2] !== r[1]) setField(ev, 'user.name', r[2]);
      setField(ev, 'cisco.ios.line', r[3]);
      setEndpoint(ev, 'source', r[4]);
    }
  } else if (facility === 'LINK' || facility === 'LINEPROTO') {
    r = /Interface (\S+?),? changed state to (\S+)/.exec(body);
    categorise(ev, ['network'], ['change'], r ? `interface-${r[2]}` : mnemonic.toLowerCase());
    if (r) setField(ev, 'observer.ingress.interface.name', r[1]);
  } else if (facility === 'SEC' && mnemonic.startsWith('IPACCESSLOG')) {
    // IPACCESSLOGP: list 101 denied tcp 10.1.1.5(51234) -> 10.2.2.2(23), 1 packet
    r = /^list (\S+) (denied|permitted) (\S+) ([0-9a-fA-F.:]+)(?:\((\d+)\))?(?: \(([^)]*)\))? -> ([0-9a-fA-F.:]+)(?:\((\d+)\))?(?: \(([^)]*)\))?, (\d+) packets?/.exec(body);
    if (r) {
      const deny = r[2] === 'denied';
      categorise(ev, ['network'], ['connection', deny ? 'denied' : 'allowed'], deny ? 'deny' : 'permit', deny ? 'failure' : 'success');
      setField(ev, 'rule.name', r[1]);
      setField(ev, 'network.transport', transportName(r[3]));
      setEndpoint(ev, 'source', r[4], r[5]);
      setEndpoint(ev, 'destination', r[7], r[8]);
      setField(ev, 'network.packets', asInt(r[10]));
    } else if ((r = /^list (\S+) (denied|permitted) ([0-9a-fA-F.:]+)(?: \(([^)]*)\))?,? (\d+) packets?/.exec(body))) {
      // IPACCESSLOGS, a standard ACL: list 10 denied 10.1.1.5 1 packet (the source only)
      const deny = r[2] === 'denied';
      categorise(ev, ['network'], ['connection', deny ? 'denied' : 'allowed'], deny ? 'deny' : 'permit', deny ? 'failure' : 'success');
      setField(ev, 'rule.name', r[1]);
      setEndpoint(ev, 'source', r[3]);
      setField(ev, 'network.packets', asInt(r[5]));
    } else categorise(ev, ['network'], ['info'], mnemonic.toLowerCase());
  } else if (facility === 'SSH' && /USERAUTH/.test(mnemonic)) {
    r = /User '([^']*)' authentication for SSH2? Session from (\S+)[^]*?(Succeeded|failed)/i.exec(body);
    const ok = r?.[3] === 'Succeeded';
    categorise(ev, ['authentication'], ['start'], 'ssh-login', r ? (ok ? 'success' : 'failure') : undefined);
    if (r) {
      setField(ev, 'user.name', r[1]);
      setEndpoint(ev, 'source', r[2]);
    }
  } else if (facility === 'PARSER' && mnemonic === 'CFGLOG_LOGGEDCMD') {
    r = /User:\s*(\S+)\s+logged command:\s*(.*)$/.exec(body);
    categorise(ev, ['configuration'], ['change'], 'logged-command', 'success');
    if (r) {
      setField(ev, 'user.name', r[1]);
      setField(ev, 'process.command_line', r[2]);
    }
  } else {
    categorise(ev, ['host'], ['info'], mnemonic.toLowerCase());
  }
  return true;
};

/**
 * The user and peer that the VPN messages of the ASA (IKE 713xxx, 113019, WebVPN and AnyConnect
 * 716xxx/722xxx) name before their text: `Group = VPN, Username = jdoe, IP = 198.51.100.10, …` (no user for LAN-to-LAN peers) or
 * `Group <DfltGrpPolicy> User <jdoe> IP <198.51.100.10> …`. The group is the tunnel group or group policy.
 */
function vpnPrefix(ev: EcsEvent, body: string): void {
  if (!body.startsWith('Group ')) return;
  const r = /^Group (?:= ([^,]*), (?:Username = ([^,]*), )?IP = ([0-9a-fA-F.:]+),|<([^>]*)> User <([^>]*)> IP <([0-9a-fA-F.:]+)>)/.exec(body);
  if (!r) return;
  setField(ev, 'cisco.asa.group', r[1] ?? r[4]);
  if (ev.user?.name === undefined) setField(ev, 'user.name', r[2] ?? r[5]);
  if (ev.source?.ip === undefined) setEndpoint(ev, 'source', r[3] ?? r[6]);
}

/** The device's own address and its port or service name (`10.1.1.1/ssh`, `…/443`) in ASA management messages, as the destination. */
function serviceEndpoint(ev: EcsEvent, ip: string | undefined, service: string | undefined): void {
  const port = asPort(service);
  setEndpoint(ev, 'destination', ip, port ?? undefined);
  if (port === undefined) setField(ev, 'network.protocol', service);
}

/** `interface:ip/port` of ASA connection messages. */
const ENDPOINT = /^(\S+?):([0-9a-fA-F.:]+?)\/(\d{1,5})(?: \(([0-9a-fA-F.:]+?)\/(\d{1,5})\))?/;

function asaEndpoint(ev: EcsEvent, prefix: 'source' | 'destination', m: RegExpExecArray | null): void {
  if (!m) return;
  setEndpoint(ev, prefix, m[2], m[3]);
  if (m[4] !== undefined && (m[4] !== m[2] || m[5] !== m[3])) {
    setEndpoint(ev, `${prefix}.nat`, m[4], m[5]);
  }
  setField(ev, prefix === 'source' ? 'observer.ingress.interface.name' : 'observer.egress.interface.name', m[1]);
}

/**
 * Cisco ASA / FTD messages.
 *
 * @example
 * parseCiscoAsa({ text: '%ASA-4-106023: Deny tcp src outside:1.2.3.4/5555 dst inside:10.0.0.5/22 by access-group "in" [0x0, 0x0]', app: '' }, ev);
 */
export const parseCiscoAsa: LineParser = (input, ev) => {
  const start = asaStart(input.text);
  if (start < 0) return false;
  const tagText = input.text.slice(start);
  const m = ASA_TAG.exec(tagText);
  if (!m || m.index !== 0) return false;
  const product = m[1]!;
  const sev = m[2]!;
  const id = m[3]!;
  const full = tagText.slice(m[0].length);
  const body = head(full);
  ev.event.module = 'cisco';
  ev.event.dataset = 'cisco.asa';
  observer(ev, 'Cisco', product, 'firewall');
  ev.event.code = id;
  setField(ev, 'log.level', SEV_NAMES[Number(sev)]);
  ev.message = full;
  let r: RegExpExecArray | null;
  switch (id) {
    case '302013':
    case '302015': {
      // Built {inbound|outbound} TCP connection id for if:ip/port (mapped/port) to if:ip/port (mapped/port)
      r = /^Built (inbound|outbound) (\S+) connection (\d+) for /.exec(body);
      if (!r) break;
      const rest = body.slice(r[0].length);
      const to = rest.indexOf(' to ');
      if (to < 0) break;
      categorise(ev, ['network'], ['connection', 'start'], 'firewall-rule', 'success');
      setField(ev, 'network.transport', transportName(r[2]));
      setField(ev, 'network.direction', r[1]);
      // For outbound connections the "for" side is the responder (ASA message 302013 notes).
      const first = ENDPOINT.exec(rest.slice(0, to));
      const second = ENDPOINT.exec(rest.slice(to + 4));
      asaEndpoint(ev, 'source', r[1] === 'outbound' ? second : first);
      asaEndpoint(ev, 'destination', r[1] === 'outbound' ? first : second);
      setField(ev, 'cisco.asa.connection_id', r[3]);
      break;
    }
    case '302014':
    case '302016': {
      r = /^Teardown (\S+) connection (\d+) for (\S+) to (\S+) duration (\d+):(\d{2}):(\d{2}) bytes (\d+)(?: (.*))?$/.exec(body);
      if (!r) break;
      categorise(ev, ['network'], ['connection', 'end'], 'firewall-rule', 'success');
      setField(ev, 'network.transport', transportName(r[1]));
      asaEndpoint(ev, 'source', ENDPOINT.exec(r[3]!));
      asaEndpoint(ev, 'destination', ENDPOINT.exec(r[4]!));
      setField(ev, 'cisco.asa.connection_id', r[2]);
      setField(ev, 'event.duration', ((Number(r[5]) * 60 + Number(r[6])) * 60 + Number(r[7])) * 1e9);
      setField(ev, 'network.bytes', asInt(r[8]));
      if (r[9]) ev.event.reason = r[9].replace(/ \([^)]*\)$/, '');
      break;
    }
    case '106023': {
      // Deny tcp src outside:1.2.3.4/5555 dst inside:10.1.1.5/22 by access-group "acl" [0x0, 0x0]
      r = /^Deny (\S+) src ([^:\s]+):([0-9a-fA-F.:]+?)(?:\/(\d+))? dst ([^:\s]+):([0-9a-fA-F.:]+?)(?:\/(\d+))?(?: \(type (\d+), code (\d+)\))? by access-group "([^"]*)"/.exec(body);
      if (!r) break;
      categorise(ev, ['network'], ['connection', 'denied'], 'firewall-rule', 'failure');
      setField(ev, 'network.transport', transportName(r[1]));
      setEndpoint(ev, 'source', r[3], r[4]);
      setEndpoint(ev, 'destination', r[6], r[7]);
      setField(ev, 'observer.ingress.interface.name', r[2]);
      setField(ev, 'observer.egress.interface.name', r[5]);
      setField(ev, 'rule.name', r[10]);
      break;
    }
    case '106100': {
      r = /^access-list (\S+) (permitted|denied|est-allowed) (\S+) ([^/\s]+)\/([0-9a-fA-F.:]+)\((\d+)\) -> ([^/\s]+)\/([0-9a-fA-F.:]+)\((\d+)\)/.exec(body);
      if (!r) break;
      const deny = r[2] === 'denied';
      categorise(ev, ['network'], ['connection', deny ? 'denied' : 'allowed'], 'firewall-rule', deny ? 'failure' : 'success');
      setField(ev, 'rule.name', r[1]);
      setField(ev, 'network.transport', transportName(r[3]));
      setEndpoint(ev, 'source', r[5], r[6]);
      setEndpoint(ev, 'destination', r[8], r[9]);
      break;
    }
    case '605004':
    case '605005': {
      // Login permitted|denied from 10.1.1.5/51234 to inside:10.1.1.1/ssh for user "admin"
      r = /^Login (permitted|denied) from ([0-9a-fA-F.:]+)\/(\d+) to ([^:\s]+):([0-9a-fA-F.:]+)\/(\S+) for user "([^"]*)"/.exec(body);
      const ok = id === '605005';
      categorise(ev, ['authentication'], ['start'], ok ? 'login-permitted' : 'login-denied', ok ? 'success' : 'failure');
      if (!r) break;
      setEndpoint(ev, 'source', r[2], r[3]);
      serviceEndpoint(ev, r[5], r[6]);
      setField(ev, 'user.name', r[7]);
      break;
    }
    case '111008':
    case '111009':
    case '111010': {
      categorise(ev, ['configuration'], ['change'], 'command-executed', 'success');
      r = /^User '([^']*)'(?:, running '([^']*)' from IP ([0-9a-fA-F.:]+),)? executed (?:the )?'([^']*)'/.exec(body);
      if (!r) break;
      setField(ev, 'user.name', r[1]);
      setEndpoint(ev, 'source', r[3]);
      setField(ev, 'process.command_line', r[4]);
      break;
    }
    case '106001':
    case '106006':
    case '106007':
    case '106015': {
      // Inbound TCP connection denied from 203.0.113.9/4444 to 10.1.1.5/23 flags SYN on interface outside
      // Deny inbound UDP from 203.0.113.9/4444 to 10.1.1.5/161 on interface outside | … due to DNS Query
      // Deny TCP (no connection) from 10.1.1.5/443 to 203.0.113.9/5555 flags RST ACK on interface inside
      r = /^(?:Inbound (\S+) connection denied|Deny inbound (\S+)|Deny (\S+) \(no connection\)) from ([0-9a-fA-F.:]+?)\/(\d{1,5}) to ([0-9a-fA-F.:]+?)\/(\d{1,5})(?: flags ([A-Z]+(?: [A-Z]+)*))? *(?: on interface (\S+?)\.?| due to (.+?)\.?)?$/.exec(body);
      if (!r) break;
      categorise(ev, ['network'], ['connection', 'denied'], 'firewall-rule', 'failure');
      setField(ev, 'network.transport', transportName(r[1] ?? r[2] ?? r[3]));
      setEndpoint(ev, 'source', r[4], r[5]);
      setEndpoint(ev, 'destination', r[6], r[7]);
      setField(ev, 'cisco.asa.tcp_flags', r[8]);
      setField(ev, 'observer.ingress.interface.name', r[9]);
      if (r[10]) ev.event.reason = r[10];
      break;
    }
    case '106014':
    case '106021': {
      // Deny inbound icmp src outside:203.0.113.9 dst inside:10.1.1.5 (type 8, code 0)
      // Deny TCP reverse path check from 203.0.113.9 to 10.1.1.5 on interface outside
      r =
        id === '106014'
          ? /^Deny (?:inbound|outbound) (\S+) src ([^:\s]+): ?([0-9a-fA-F.:]+?) dst ([^:\s]+): ?([0-9a-fA-F.:]+?)(?: \(type (\d+), code (\d+)\))?$/.exec(body)
          : /^Deny (\S+) reverse path check from ([0-9a-fA-F.:]+) to ([0-9a-fA-F.:]+) on interface (\S+)$/.exec(body);
      if (!r) break;
      categorise(ev, ['network'], ['connection', 'denied'], id === '106021' ? 'reverse-path-check' : 'firewall-rule', 'failure');
      setField(ev, 'network.transport', transportName(r[1]));
      if (id === '106014') {
        setEndpoint(ev, 'source', r[3]);
        setEndpoint(ev, 'destination', r[5]);
        setField(ev, 'observer.ingress.interface.name', r[2]);
        setField(ev, 'observer.egress.interface.name', r[4]);
      } else {
        setEndpoint(ev, 'source', r[2]);
        setEndpoint(ev, 'destination', r[3]);
        setField(ev, 'observer.ingress.interface.name', r[4]);
      }
      break;
    }
    case '710003': {
      // TCP access denied by ACL from 203.0.113.9/4444 to outside:198.51.100.1/ssh (to the device itself)
      r = /^(\S+) access denied by ACL from ([0-9a-fA-F.:]+?)\/(\d{1,5}) to ([^:\s]+):([0-9a-fA-F.:]+?)\/(\S+)$/.exec(body);
      if (!r) break;
      categorise(ev, ['network'], ['connection', 'denied'], 'management-access-denied', 'failure');
      setField(ev, 'network.transport', transportName(r[1]));
      setEndpoint(ev, 'source', r[2], r[3]);
      serviceEndpoint(ev, r[5], r[6]);
      setField(ev, 'observer.ingress.interface.name', r[4]);
      break;
    }
    case '302020':
    case '302021': {
      // Built inbound ICMP connection for faddr 203.0.113.9/0 gaddr 10.1.1.5/0 laddr 10.1.1.5/0 type 8 code 0
      // Teardown ICMP connection for faddr 203.0.113.9/0 gaddr 10.1.1.5/0 laddr 10.1.1.5/0
      r = /^(Built (inbound|outbound)|Teardown) (\S+) connection for faddr ([0-9a-fA-F.:]+?)\/\d+ gaddr ([0-9a-fA-F.:]+?)\/\d+ laddr ([0-9a-fA-F.:]+?)\/\d+/.exec(body);
      if (!r) break;
      const built = id === '302020';
      categorise(ev, ['network'], ['connection', built ? 'start' : 'end'], 'firewall-rule', 'success');
      setField(ev, 'network.transport', transportName(r[3]));
      setField(ev, 'network.direction', r[2]);
      // The foreign address is the peer outside; outbound, the local one is the initiator.
      const outbound = r[2] === 'outbound';
      setEndpoint(ev, 'source', outbound ? r[6] : r[4]);
      setEndpoint(ev, 'destination', outbound ? r[4] : r[6]);
      if (r[5] !== r[6]) setEndpoint(ev, outbound ? 'source.nat' : 'destination.nat', r[5]);
      break;
    }
    case '611101':
    case '611102': {
      // User authentication succeeded: IP address: 10.1.1.5, Uname: admin | …: IP, 10.1.1.5 : Uname: admin
      const ok = id === '611101';
      categorise(ev, ['authentication'], ['start'], ok ? 'management-authentication-success' : 'management-authentication-failed', ok ? 'success' : 'failure');
      r = /IP(?: address)?[:,] ([0-9a-fA-F.:]+?) ?[,:] Uname: (\S+)/.exec(body);
      if (!r) break;
      setEndpoint(ev, 'source', r[1]);
      setField(ev, 'user.name', r[2]);
      break;
    }
    case '502103': {
      // User priv level changed: Uname: admin From: 1 To: 15
      r = /^User priv level changed: Uname: (\S+) From: (\d+) To: (\d+)/.exec(body);
      categorise(ev, ['iam'], ['change'], 'privilege-level-changed', 'success');
      if (!r) break;
      setField(ev, 'user.name', r[1]);
      setField(ev, 'cisco.asa.privilege.old', asInt(r[2]));
      setField(ev, 'cisco.asa.privilege.new', asInt(r[3]));
      break;
    }
    case '733100': {
      // [ Scanning] drop rate-1 exceeded. Current burst rate is 10 per second, …
      r = /^\[ ?([^\]]+?) ?\] drop (rate-\d+) exceeded/.exec(body);
      categorise(ev, ['intrusion_detection'], ['info'], 'threat-detection-rate-exceeded');
      if (!r) break;
      setField(ev, 'rule.name', r[1]);
      setField(ev, 'cisco.asa.threat_rate', r[2]);
      break;
    }
    case '113019': {
      // Group = VPN, Username = jdoe, IP = 198.51.100.10, Session disconnected. Session Type: SSL, Duration: 0h:10m:00s, Bytes xmt: 1000, Bytes rcv: 2000, Reason: User Requested
      categorise(ev, ['session'], ['end'], 'vpn-session-disconnected');
      r = /Session Type: ([^,]+), Duration: (?:(\d+)d ?)?(\d+)h:(\d{2})m:(\d{2})s, Bytes xmt: (\d+), Bytes rcv: (\d+), Reason: (.+)$/.exec(body);
      if (!r) break;
      setField(ev, 'cisco.asa.session_type', r[1]);
      setField(ev, 'event.duration', (((Number(r[2] ?? 0) * 24 + Number(r[3])) * 60 + Number(r[4])) * 60 + Number(r[5])) * 1e9);
      setField(ev, 'destination.bytes', asInt(r[6]));
      setField(ev, 'source.bytes', asInt(r[7]));
      ev.event.reason = r[8]!;
      break;
    }
    case '716001':
    case '716002': {
      // Group <DfltGrpPolicy> User <jdoe> IP <198.51.100.10> WebVPN session started. | … terminated: User Requested.
      const start = id === '716001';
      categorise(ev, ['session'], [start ? 'start' : 'end'], start ? 'webvpn-session-started' : 'webvpn-session-terminated', start ? 'success' : undefined);
      r = /WebVPN session terminated: (.+?)\.?$/.exec(body);
      if (r) ev.event.reason = r[1]!;
      break;
    }
    case '722051': {
      // Group <GroupPolicy> User <jdoe> IP <198.51.100.10> IPv4 Address <10.10.10.5> IPv6 address <::> assigned to session
      categorise(ev, ['session'], ['info'], 'vpn-address-assigned', 'success');
      r = /IPv4 Address <([0-9.]+)>/.exec(body);
      setField(ev, 'cisco.asa.assigned_ip', r?.[1]);
      break;
    }
    case '113004':
    case '113012':
    case '113005':
    case '113015': {
      const ok = id === '113004' || id === '113012';
      categorise(ev, ['authentication'], ['start'], ok ? 'aaa-authentication-success' : 'aaa-authentication-rejected', ok ? 'success' : 'failure');
      r = /user = ([^:]+?) ?(?::|$)/.exec(body);
      setField(ev, 'user.name', r?.[1]);
      r = /user IP = ([0-9a-fA-F.:]+)/.exec(body);
      setEndpoint(ev, 'source', r?.[1]);
      r = /reason = ([^:]+?) :/.exec(body);
      if (r) ev.event.reason = r[1];
      break;
    }
    default:
      break;
  }
  vpnPrefix(ev, body);
  if (ev.event.category === undefined) categorise(ev, ['network'], ['info'], `asa-${id}`);
  return true;
};
