/**
 * Linux netfilter LOG / NFLOG lines written by the iptables `LOG` target and nftables `log`
 * statement (net/netfilter/nf_log_syslog.c): an optional kernel time, a user prefix
 * (`--log-prefix`), then `IN= OUT= [MAC=] SRC= DST= LEN= … PROTO= [SPT= DPT=]` and bare flags.
 */
import { setField } from '../ecs/helpers.js';
import type { LineParser } from './types.js';
import { asInt, categorise, setEndpoint, transportName, verdict } from './util.js';

/**
 * Index of ` IN=` (or `IN=` at the start): where the netfilter fields begin, else -1.
 *
 * @example
 * netfilterStart('[UFW BLOCK] IN=eth0 OUT= SRC=…'); // 12
 */
export function netfilterStart(text: string): number {
  if (text.startsWith('IN=')) return 0;
  const i = text.indexOf(' IN=');
  return i >= 0 && text.includes(' OUT=', i) ? i + 1 : -1;
}

/**
 * iptables/nftables LOG lines.
 *
 * @example
 * parseNetfilter({ text: 'DROP IN=eth0 OUT= SRC=1.2.3.4 DST=10.0.0.5 PROTO=TCP SPT=1 DPT=22', app: 'kernel' }, ev);
 */
export const parseNetfilter: LineParser = (input, ev) => {
  const text = input.text;
  const start = netfilterStart(text);
  if (start < 0) return false;
  let prefix = text.slice(0, start).trim();
  // Kernel ring-buffer time `[12345.678901]` precedes the prefix in kern.log.
  prefix = prefix.replace(/^(?:kernel: )?\[\s*\d+\.\d+\]\s*/, '').trim();
  const kv: Record<string, string> = {};
  const flags: string[] = [];
  for (const tok of text.slice(start).split(' ')) {
    if (tok === '') continue;
    const eq = tok.indexOf('=');
    if (eq > 0) {
      const key = tok.slice(0, eq);
      // ICMP errors quote the offending packet in [SRC=… DST=…]: keep the outer values.
      if (key.startsWith('[') || kv[key] !== undefined) continue;
      if (/^[A-Z]{1,12}$/.test(key)) kv[key] = tok.slice(eq + 1);
    } else if (/^[A-Z]{2,4}$/.test(tok)) flags.push(tok);
  }
  if (kv.SRC === undefined && kv.DST === undefined) return false;
  ev.event.module = 'iptables';
  ev.event.dataset = 'iptables.log';
  setField(ev, 'observer.type', 'firewall');
  setField(ev, 'observer.product', 'netfilter');
  setField(ev, 'host.os.type', 'linux');
  const v = verdict(/(DROP|REJECT|BLOCK|DENY|ACCEPT|ALLOW|PASS)/i.exec(prefix)?.[1]);
  categorise(ev, ['network'], v ? ['connection', v.type] : ['connection'], prefix !== '' ? prefix.replace(/:$/, '') : 'logged', v?.outcome);
  setEndpoint(ev, 'source', kv.SRC, kv.SPT);
  setEndpoint(ev, 'destination', kv.DST, kv.DPT);
  setField(ev, 'observer.ingress.interface.name', kv.IN);
  setField(ev, 'observer.egress.interface.name', kv.OUT);
  setField(ev, 'network.transport', transportName(kv.PROTO));
  setField(ev, 'network.type', kv.SRC?.includes(':') ? 'ipv6' : 'ipv4');
  setField(ev, 'network.bytes', asInt(kv.LEN));
  if (kv.MAC !== undefined && /^([0-9a-f]{2}:){13}[0-9a-f]{2}$/.test(kv.MAC)) {
    // MAC= is destination MAC, source MAC and ethertype, concatenated (nf_log_dump_mac_header).
    const b = kv.MAC.split(':');
    setField(ev, 'destination.mac', b.slice(0, 6).join('-').toUpperCase());
    setField(ev, 'source.mac', b.slice(6, 12).join('-').toUpperCase());
  }
  const ipt: Record<string, unknown> = {};
  for (const k of ['TTL', 'ID', 'TOS', 'PREC', 'WINDOW', 'TYPE', 'CODE', 'LEN', 'UID', 'GID', 'MARK']) {
    if (kv[k] !== undefined) ipt[k.toLowerCase()] = kv[k];
  }
  if (flags.length) ipt.flags = flags;
  if (prefix !== '') ipt.prefix = prefix;
  ev.iptables = ipt;
  return true;
};
