/**
 * Linux netfilter LOG / NFLOG lines written by the iptables `LOG` target and nftables `log`
 * statement (net/netfilter/nf_log_syslog.c): an optional kernel time, a user prefix
 * (`--log-prefix`), then `IN= OUT= [MAC=] SRC= DST= LEN= … PROTO= [SPT= DPT=]` and bare flags.
 */
import type { LineParser } from './types.js';
import { asInt, categorise, KvKeys, setEndpoint, transportName, verdict } from './util.js';

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

const isCapital = (c: number): boolean => c >= 0x41 && c <= 0x5a;

/** Fields kept under `iptables.*` (lower-cased), in this order. */
const VERBATIM = ['TTL', 'ID', 'TOS', 'PREC', 'WINDOW', 'TYPE', 'CODE', 'LEN', 'UID', 'GID', 'MARK'] as const;
/** Every key read; a key's slot is its index here. */
const NAMES = [...VERBATIM, 'SRC', 'DST', 'SPT', 'DPT', 'IN', 'OUT', 'PROTO', 'MAC'] as const;
const KEYS = new KvKeys(NAMES);
const I = Object.fromEntries(NAMES.map((n, i) => [n, i])) as Record<(typeof NAMES)[number], number>;

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
  const kv = new Array<string | undefined>(NAMES.length).fill(undefined);
  const flags: string[] = [];
  // Space-separated tokens: `KEY=value` (KEY = 1..12 capitals) or bare flags (2..4 capitals).
  // ICMP errors quote the offending packet in [SRC=… DST=…]: the first (outer) value of a key wins.
  const n = text.length;
  let ts = start;
  while (ts < n) {
    let te = text.indexOf(' ', ts);
    if (te < 0) te = n;
    if (te > ts) {
      let i = ts;
      while (i < te && isCapital(text.charCodeAt(i))) i++;
      if (i < te && text.charCodeAt(i) === 0x3d /* = */) {
        const slot = i > ts && i - ts <= 12 ? KEYS.slotOf(text, ts, i) : -1;
        if (slot >= 0 && kv[slot] === undefined) kv[slot] = text.slice(i + 1, te);
      } else if (i === te && te - ts >= 2 && te - ts <= 4) flags.push(text.slice(ts, te));
    }
    ts = te + 1;
  }
  const src = kv[I.SRC];
  if (src === undefined && kv[I.DST] === undefined) return false;
  ev.event.module = 'iptables';
  ev.event.dataset = 'iptables.log';
  // Direct writes (every firewall line comes here); empty values are left out, as setField does.
  const obs = (ev.observer ??= {}) as Record<string, unknown>;
  obs.type = 'firewall';
  obs.product = 'netfilter';
  ((ev.host ??= {}).os ??= {}).type = 'linux';
  const v = verdict(/(DROP|REJECT|BLOCK|DENY|ACCEPT|ALLOW|PASS)/i.exec(prefix)?.[1]);
  categorise(ev, ['network'], v ? ['connection', v.type] : ['connection'], prefix !== '' ? prefix.replace(/:$/, '') : 'logged', v?.outcome);
  setEndpoint(ev, 'source', src, kv[I.SPT]);
  setEndpoint(ev, 'destination', kv[I.DST], kv[I.DPT]);
  const inIf = kv[I.IN];
  if (inIf !== undefined && inIf !== '') obs.ingress = { interface: { name: inIf } };
  const outIf = kv[I.OUT];
  if (outIf !== undefined && outIf !== '') obs.egress = { interface: { name: outIf } };
  const net = (ev.network ??= {});
  const transport = transportName(kv[I.PROTO]);
  if (transport !== undefined) net.transport = transport;
  (net as Record<string, unknown>).type = src?.includes(':') ? 'ipv6' : 'ipv4';
  const bytes = asInt(kv[I.LEN]);
  if (bytes !== undefined) net.bytes = bytes;
  const mac = kv[I.MAC];
  if (mac !== undefined && /^([0-9a-f]{2}:){13}[0-9a-f]{2}$/.test(mac)) {
    // MAC= is destination MAC, source MAC and ethertype, concatenated (nf_log_dump_mac_header).
    (ev.destination ??= {}).mac = mac.slice(0, 17).replaceAll(':', '-').toUpperCase();
    (ev.source ??= {}).mac = mac.slice(18, 35).replaceAll(':', '-').toUpperCase();
  }
  // Named stores in VERBATIM order (slots 0..10): a store under a computed key went through
  // the generic keyed-store path for every field of every firewall line.
  const ipt: Record<string, unknown> = {};
  if (kv[0] !== undefined) ipt.ttl = kv[0];
  if (kv[1] !== undefined) ipt.id = kv[1];
  if (kv[2] !== undefined) ipt.tos = kv[2];
  if (kv[3] !== undefined) ipt.prec = kv[3];
  if (kv[4] !== undefined) ipt.window = kv[4];
  if (kv[5] !== undefined) ipt.type = kv[5];
  if (kv[6] !== undefined) ipt.code = kv[6];
  if (kv[7] !== undefined) ipt.len = kv[7];
  if (kv[8] !== undefined) ipt.uid = kv[8];
  if (kv[9] !== undefined) ipt.gid = kv[9];
  if (kv[10] !== undefined) ipt.mark = kv[10];
  if (flags.length) ipt.flags = flags;
  if (prefix !== '') ipt.prefix = prefix;
  ev.iptables = ipt;
  return true;
};
