/**
 * Linux netfilter LOG / NFLOG lines written by the iptables `LOG` target and nftables `log`
 * statement (net/netfilter/nf_log_syslog.c): an optional kernel time, a user prefix
 * (`--log-prefix`), then `IN= OUT= [MAC=] SRC= DST= LEN= … PROTO= [SPT= DPT=]` and bare flags.
 */
import type { LineParser, ParseInput } from './types.js';
import type { EcsEvent } from '../types.js';
import { isDigit, isRegexSpace } from '../chars.js';
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

/** Whether `s[from..to)` is all capitals A–Z. */
function allCapitals(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (!isCapital(s.charCodeAt(i))) return false;
  return true;
}

/** Fields kept under `iptables.*` (lower-cased), in this order. */
const VERBATIM = ['TTL', 'ID', 'TOS', 'PREC', 'WINDOW', 'TYPE', 'CODE', 'LEN', 'UID', 'GID', 'MARK'] as const;
/** Every key read; a key's slot is its index here. */
const NAMES = [...VERBATIM, 'SRC', 'DST', 'SPT', 'DPT', 'IN', 'OUT', 'PROTO', 'MAC'] as const;
const KEYS = new KvKeys(NAMES);
const I = Object.fromEntries(NAMES.map((n, i) => [n, i])) as Record<(typeof NAMES)[number], number>;

/**
 * The `--log-prefix` text of a trimmed prefix: without the kern.log kernel time
 * `^(?:kernel: )?\[\s*\d+\.\d+\]` and the white space after it, read from char codes (the
 * time differs on every line, so it is taken off before the prefix is looked up in
 * {@link prefixMeaning}'s cache).
 *
 * @example
 * logPrefix('[12345.678] IPTABLES-DROP:'); // 'IPTABLES-DROP:'
 */
export function logPrefix(p: string): string {
  const c0 = p.charCodeAt(0);
  if (c0 !== 0x5b /* [ */ && c0 !== 0x6b /* k */) return p;
  const n = p.length;
  let i = p.startsWith('kernel: ') ? 8 : 0;
  if (p.charCodeAt(i) !== 0x5b) return p;
  i++;
  while (i < n && isRegexSpace(p.charCodeAt(i))) i++;
  const whole = i;
  while (i < n && isDigit(p.charCodeAt(i))) i++;
  if (i === whole || p.charCodeAt(i) !== 0x2e /* . */) return p;
  const frac = ++i;
  while (i < n && isDigit(p.charCodeAt(i))) i++;
  if (i === frac || p.charCodeAt(i) !== 0x5d /* ] */) return p;
  return p.slice(i + 1).trim();
}

/** What a log prefix says: the verdict a word in it names and the event action. */
interface PrefixMeaning {
  type: 'allowed' | 'denied' | undefined;
  outcome: 'success' | 'failure' | undefined;
  action: string;
}

/** Meanings of the prefixes seen (a host logs with a handful of `--log-prefix` texts); cleared when full. */
const PREFIXES = new Map<string, PrefixMeaning>();
const PREFIX_CACHE_SIZE = 1024;

/** The verdict and action of a log prefix, from its first verdict word (cached per prefix). */
function prefixMeaning(prefix: string): PrefixMeaning {
  let m = PREFIXES.get(prefix);
  if (m === undefined) {
    const v = verdict(/(DROP|REJECT|BLOCK|DENY|ACCEPT|ALLOW|PASS)/i.exec(prefix)?.[1]);
    m = { type: v?.type, outcome: v?.outcome, action: prefix !== '' ? prefix.replace(/:$/, '') : 'logged' };
    if (PREFIXES.size >= PREFIX_CACHE_SIZE) PREFIXES.clear();
    PREFIXES.set(prefix, m);
  }
  return m;
}

/**
 * iptables/nftables LOG lines.
 *
 * @example
 * parseNetfilter({ text: 'DROP IN=eth0 OUT= SRC=1.2.3.4 DST=10.0.0.5 PROTO=TCP SPT=1 DPT=22', app: 'kernel' }, ev);
 */
export const parseNetfilter: LineParser = (input, ev) => {
  const start = netfilterStart(input.text);
  return start >= 0 && netfilterAt(input, ev, start);
};

/**
 * {@link parseNetfilter} with the start of the fields already found by {@link netfilterStart}
 * (the dispatcher finds it to choose the parser).
 * @internal
 */
export function netfilterAt(input: ParseInput, ev: EcsEvent, start: number): boolean {
  const text = input.text;
  const prefix = logPrefix(text.slice(0, start).trim());
  const kv = KEYS.empty.slice();
  const flags: string[] = [];
  // Space-separated tokens: `KEY=value` (KEY = 1..12 capitals) or bare flags (2..4 capitals).
  // ICMP errors quote the offending packet in [SRC=… DST=…]: the first (outer) value of a key wins.
  const n = text.length;
  let ts = start;
  // The next `=` at or after `ts` (indexOf, searched again once passed): a token holding it is
  // `KEY=value`; every name in KEYS is capitals, so a key found there passed the capitals test
  // without a loop over its characters.
  let eq = -1;
  while (ts < n) {
    let te = text.indexOf(' ', ts);
    if (te < 0) te = n;
    if (eq < ts && eq < n) {
      eq = text.indexOf('=', ts);
      if (eq < 0) eq = n;
    }
    if (eq < te) {
      const slot = eq > ts && eq - ts <= 12 ? KEYS.slotOf(text, ts, eq) : -1;
      if (slot >= 0 && kv[slot] === undefined) kv[slot] = text.slice(eq + 1, te);
    } else if (te - ts >= 2 && te - ts <= 4 && allCapitals(text, ts, te)) flags.push(text.slice(ts, te));
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
  const p = prefixMeaning(prefix);
  categorise(ev, ['network'], p.type !== undefined ? ['connection', p.type] : ['connection'], p.action, p.outcome);
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
  // 14 octets: 41 characters (a length test first: most lines carry another MAC= form).
  if (mac !== undefined && mac.length === 41 && /^([0-9a-f]{2}:){13}[0-9a-f]{2}$/.test(mac)) {
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
}
