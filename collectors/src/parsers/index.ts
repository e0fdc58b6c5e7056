/**
 * Normalisation to ECS: picks a vendor parser for a syslog message (by a per-source format
 * hint, by APP-NAME, or by the shape of the text) and builds the stored event. Pure and
 * synchronous: no I/O, no clock — times come from the message and its context.
 */
import type { EcsEvent, Normalise, SourceContext, SyslogMessage } from '../types.js';
import { finaliseEvent, setField } from '../ecs/helpers.js';
import { syslogEvent, syslogNetwork, syslogProcess, syslogTls } from '../syslog/event.js';
import { NO_SYSLOG_HEADER, NO_TIMESTAMP, PRI_MISSING } from '../syslog/parse.js';
import { coerceEcs } from '../ecs/coerce.js';
import type { LineParser, ParseInput } from './types.js';
import { parseAccount, parseLogin, parsePam, parseSshd, parseSu, parseSudo } from './linux.js';
import { looksLikeAudit, parseAuditd } from './auditd.js';
import { netfilterAt, netfilterStart, parseNetfilter } from './netfilter.js';
import { looksLikeAccessLog, looksLikeApacheError, looksLikeNginxError, parseAccessLog, parseApacheError, parseApacheLog, parseNginxError, parseNginxLog } from './web.js';
import { asaStart, iosStart, parseCiscoAsa, parseCiscoIos } from './cisco.js';
import { parseH3c, parseHuawei, vrpBrand } from './vrp.js';
import { fortigateChecked, looksLikeFortigate, parseFortigate } from './fortigate.js';
import { hillstoneStart, parseHillstone } from './hillstone.js';
import { looksLikeSangfor, parseSangfor } from './sangfor.js';
import { applyWinEvent, readWinEvent } from './windows.js';
import { isoFromMs } from './util.js';

/** Every parser a source can name as its `format` hint. `auto` detects. */
export const FORMATS = {
  sshd: parseSshd,
  pam: parsePam,
  sudo: parseSudo,
  su: parseSu,
  account: parseAccount,
  login: parseLogin,
  auditd: parseAuditd,
  netfilter: parseNetfilter,
  nginx: (input, ev) => parseNginxLog({ ...input, app: 'nginx' }, ev),
  apache: (input, ev) => parseApacheLog({ ...input, app: 'apache' }, ev),
  cisco_ios: parseCiscoIos,
  cisco_asa: parseCiscoAsa,
  huawei: parseHuawei,
  h3c: parseH3c,
  fortigate: parseFortigate,
  hillstone: parseHillstone,
  sangfor: parseSangfor,
} as const satisfies Record<string, LineParser>;

/** A per-source format hint: a key of {@link FORMATS} or `auto`. */
export type FormatName = keyof typeof FORMATS | 'auto';

/** Options of {@link normalise}. */
export interface NormaliseOptions {
  /** Skip detection and use this parser (a source that only receives one device type). */
  format?: FormatName;
}

/** Parser by APP-NAME (a Map: one lookup per line, no prototype keys). */
const BY_APP: ReadonlyMap<string, LineParser> = new Map(Object.entries({
  sshd: parseSshd,
  'sshd-session': parseSshd,
  sudo: parseSudo,
  su: parseSu,
  useradd: parseAccount,
  usermod: parseAccount,
  userdel: parseAccount,
  groupadd: parseAccount,
  groupdel: parseAccount,
  groupmod: parseAccount,
  gpasswd: parseAccount,
  passwd: parseAccount,
  chpasswd: parseAccount,
  chage: parseAccount,
  'systemd-logind': parseLogin,
  login: parseLogin,
  audit: parseAuditd,
  auditd: parseAuditd,
  audispd: parseAuditd,
  'audisp-syslog': parseAuditd,
  nginx: parseNginxLog,
  httpd: parseApacheLog,
  apache: parseApacheLog,
  apache2: parseApacheLog,
  fwlog: parseSangfor,
}));

/**
 * Picks a parser by the shape of the text alone (vendor markers, cheapest tests first) and runs
 * it, unless it is `tried` (the app-selected parser, which already failed); true when it
 * matched. Where a test found the start of the vendor fields, the parser is handed that
 * position instead of searching again.
 */
function parseByShape(input: ParseInput, ev: EcsEvent, tried: LineParser | undefined): boolean {
  const text = input.text;
  const c = text.charCodeAt(0);
  if (c === 112 /* p */ && text.startsWith('pam_')) return parsePam !== tried && parsePam(input, ev);
  if (text.includes('%')) {
    if (asaStart(text) >= 0) return parseCiscoAsa !== tried && parseCiscoAsa(input, ev);
    const brand = vrpBrand(text);
    if (brand !== '') {
      const vrp = brand === '10' ? parseH3c : parseHuawei;
      return vrp !== tried && vrp(input, ev);
    }
    if (iosStart(text) >= 0) return parseCiscoIos !== tried && parseCiscoIos(input, ev);
  }
  if (looksLikeFortigate(text)) return parseFortigate !== tried && fortigateChecked(input, ev);
  if (looksLikeSangfor(text)) return parseSangfor !== tried && parseSangfor(input, ev);
  if (looksLikeAudit(text)) return parseAuditd !== tried && parseAuditd(input, ev);
  const nf = netfilterStart(text);
  if (nf >= 0) return parseNetfilter !== tried && netfilterAt(input, ev, nf);
  if (hillstoneStart(text) >= 0) return parseHillstone !== tried && parseHillstone(input, ev);
  if (looksLikeAccessLog(text)) return parseAccessLog !== tried && parseAccessLog(input, ev);
  if (looksLikeNginxError(text)) return parseNginxLog !== tried && parseNginxError(input, ev);
  if (looksLikeApacheError(text)) return parseApacheLog !== tried && parseApacheError(input, ev);
  return false;
}

/** Removes `reason` from the event's `xiangan.parse_error` label (`; `-separated), and the label once empty. */
function dropParseError(ev: EcsEvent, reason: string): void {
  const labels = ev.labels;
  const text = labels?.['xiangan.parse_error'];
  if (labels === undefined || text === undefined) return;
  const rest = text.split('; ').filter((r) => r !== reason);
  if (rest.length > 0) labels['xiangan.parse_error'] = rest.join('; ');
  else delete labels['xiangan.parse_error'];
}

function tag(ev: EcsEvent, t: string): void {
  const tags = (ev.tags ??= []);
  if (!tags.includes(t)) tags.push(t);
}

/** Runs the hinted, app-selected and shape-selected parsers in turn; true when one matched. */
function dispatch(input: ParseInput, ev: EcsEvent, format: FormatName): boolean {
  if (format !== 'auto') return FORMATS[format](input, ev);
  const byApp = BY_APP.get(input.app);
  if (byApp !== undefined && byApp(input, ev)) return true;
  if (input.app === 'kernel') {
    const nf = netfilterStart(input.text);
    if (nf >= 0 && netfilterAt(input, ev, nf)) return true;
    if (looksLikeAudit(input.text) && parseAuditd(input, ev)) return true;
  }
  return parseByShape(input, ev, byApp);
}

function receivedIso(ctx: SourceContext): string {
  return isoFromMs(ctx.receivedAt) ?? '1970-01-01T00:00:00.000Z';
}

function validateCtx(ctx: SourceContext): void {
  if (typeof ctx !== 'object' || ctx === null) throw new TypeError('normalise: ctx must be a SourceContext object');
  if (typeof ctx.eventId !== 'string' || ctx.eventId === '') throw new TypeError('normalise: ctx.eventId must be a non-empty string');
  if (typeof ctx.receivedAt !== 'number') throw new TypeError('normalise: ctx.receivedAt must be a number (ms since the epoch)');
  if (!(ctx.receivedAt >= 0 && ctx.receivedAt < 253402300800000)) throw new RangeError('normalise: ctx.receivedAt is not a time between 1970 and 9999');
}

/** Source context fields for JSON events, named as the syslog baseline names them. */
function contextFields(ev: EcsEvent, ctx: SourceContext): void {
  if (ctx.peer !== undefined) setField(ev, 'log.source.address', `${ctx.peer.address}:${ctx.peer.port}`);
  if (ctx.file !== undefined) {
    setField(ev, 'log.file.path', ctx.file.path);
    if (Number.isSafeInteger(ctx.file.offset) && ctx.file.offset >= 0) setField(ev, 'log.offset', ctx.file.offset);
  }
  if (ctx.truncated) tag(ev, '_truncated');
  (ev.labels ??= {})['xiangan.source'] = ctx.sourceId;
}

/**
 * Normalises a parsed syslog message to an ECS event. Never throws on bad data: a message no
 * parser recognises is kept whole with `event.original` and `tags: ['unparsed']`. Throws
 * `TypeError` only for a malformed `ctx` (misuse).
 *
 * @example
 * const ev = normalise(parseSyslog(bytes, opts), ctx);
 * ev.event.category; // ['authentication'] for "sshd[1]: Failed password for root from 10.0.0.9 port 2222 ssh2"
 */
export function normalise(msg: SyslogMessage, ctx: SourceContext, options?: NormaliseOptions): EcsEvent {
  validateCtx(ctx);
  const format = options?.format ?? 'auto';
  if (format !== 'auto' && !Object.hasOwn(FORMATS, format)) throw new RangeError(`normalise: unknown format ${String(format)}`);
  // The syslog-level fields (log.syslog.*, host, labels, tags) are the baseline mapping's.
  // The baseline's network.* describes the syslog transport and process.* the syslog TAG;
  // a vendor parser describes the logged activity instead, so they only return when nothing
  // parsed (process.* is merged under the parsed fields for host programs).
  const ev = syslogEvent(msg, ctx, false);
  const text = typeof msg.msg === 'string' ? msg.msg : '';
  let app = (msg.appname ?? '').toLowerCase();
  let body = text;
  // A tag such as `%ASA-6-302013` taken by RFC 3164 TAG parsing belongs to the text.
  if (app.startsWith('%')) {
    body = `${msg.appname}${msg.procid !== undefined ? `[${msg.procid}]` : ''}: ${text}`;
    app = '';
  }
  const zone = msg.time?.zone ?? ctx.timezone;
  // Without a header time the event's is the receive time, unless a parser reads one from the
  // text: '' until then tells the two apart (the same instant may be either).
  const headerTime = ev['@timestamp'];
  const untimed = msg.time?.device === undefined;
  if (untimed) ev['@timestamp'] = '';
  let parsed = dispatch({ text: body, app, zone }, ev, format);
  if (!parsed && format === 'auto' && typeof msg.raw === 'string' && msg.raw !== body) {
    // Vendor markers after a header the syslog grammar misread (devices with their own time formats).
    parsed = parseByShape({ text: msg.raw, app: '', zone }, ev, undefined);
  }
  let timeFromText = false;
  if (untimed) {
    timeFromText = ev['@timestamp'] !== '';
    if (!timeFromText) ev['@timestamp'] = headerTime;
  }
  if (!parsed) {
    const network = syslogNetwork(ctx);
    if (network !== undefined) ev.network = network;
    const process = syslogProcess(msg);
    if (process !== undefined) ev.process = process;
    tag(ev, 'unparsed');
    if (format !== 'auto') setField(ev, 'error.message', `not a ${format} line`);
  } else {
    // The parser took the time the header lacked from the text: the event's time is the
    // device's after all, so the header's missing one is no error.
    if (timeFromText) dropParseError(ev, NO_TIMESTAMP);
    // A line with no syslog header at all that a parser read (an nginx or audit.log line from a
    // file, a device sending bare text) is parsed: not `_syslog_unparsed`, nor counted as a
    // parse failure (collectors' processor counts that tag). An invalid PRI stays in the label.
    if (msg.format === 'unparsed') {
      ev.tags = ev.tags?.filter((t) => t !== '_syslog_unparsed');
      if (ev.tags?.length === 0) delete ev.tags;
      dropParseError(ev, PRI_MISSING);
      dropParseError(ev, NO_SYSLOG_HEADER);
    }
    if (msg.appname !== undefined && ev.observer?.vendor === undefined && !app.startsWith('%')) {
      // Host programs (sshd, sudo, auditd): the TAG names the logging process; parsed fields win.
      const process = syslogProcess(msg)!;
      // Object.assign copies the same own keys in the same order as a for…in loop, without its key enumeration.
      if (ev.process !== undefined) Object.assign(process, ev.process);
      ev.process = process;
    }
  }
  // The channel was TLS (RFC 5425) whatever the message says.
  const tls = syslogTls(ctx);
  if (tls !== undefined) ev.tls = tls;
  return finaliseEvent(ev);
}

/**
 * A {@link Normalise} hook bound to a per-source format hint.
 *
 * @example
 * const n = createNormaliser({ format: 'fortigate' });
 * const ev = n(msg, ctx);
 */
export function createNormaliser(options: NormaliseOptions = {}): Normalise {
  return (msg, ctx) => normalise(msg, ctx, options);
}

/**
 * Normalises one text line that did not come through the syslog grammar (a file of
 * nginx or audit.log lines, a test): the line is both the message and the original.
 *
 * @example
 * normaliseText('type=USER_LOGIN msg=audit(1700000000.123:42): … res=failed', ctx).event.outcome; // 'failure'
 */
export function normaliseText(line: string, ctx: SourceContext, options: NormaliseOptions & { app?: string } = {}): EcsEvent {
  if (typeof line !== 'string') throw new TypeError('normaliseText: line must be a string');
  validateCtx(ctx);
  const msg: SyslogMessage = {
    format: 'unparsed',
    priValid: false,
    time: { received: ctx.receivedAt, zone: ctx.timezone, yearInferred: false },
    msg: line,
    raw: line,
    charset: 'utf-8',
    lossy: false,
  };
  if (options.app !== undefined) msg.appname = options.app;
  const ev = normalise(msg, ctx, options);
  ev.tags = ev.tags?.filter((t) => t !== '_syslog_unparsed');
  if (ev.tags?.length === 0) delete ev.tags;
  return ev;
}

/** ECS subtrees a shipper's Windows document may carry beside the event itself. */
const SHIPPED = ['agent', 'ecs', 'labels', 'tags', 'host'];

/** The root keys of `o` that are one of `names` or a dotted key under one (`host.name`), in order. */
function pickRoots(o: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    const dot = k.indexOf('.');
    if (names.includes(dot < 0 ? k : k.slice(0, dot))) out[k] = o[k];
  }
  return out;
}

/**
 * Normalises a JSON event posted over HTTP or read from a file: Windows events (Winlogbeat
 * or `evtx_dump` layout), events already in ECS (typed fields coerced, the rest kept), or
 * any other JSON (kept whole, tagged `unparsed`). The input is never modified.
 *
 * @example
 * normaliseJson({ winlog: { event_id: '4625', channel: 'Security', event_data: { TargetUserName: 'bob', Status: '0xc000006d' } } }, ctx);
 */
export function normaliseJson(obj: unknown, ctx: SourceContext): EcsEvent {
  validateCtx(ctx);
  const received = receivedIso(ctx);
  let original: string;
  try {
    original = JSON.stringify(obj) ?? String(obj);
  } catch {
    original = String(obj);
  }
  const isObj = typeof obj === 'object' && obj !== null && !Array.isArray(obj);
  const win = isObj ? readWinEvent(obj as Record<string, unknown>) : undefined;
  let ev: EcsEvent;
  if (win !== undefined) {
    const t = win.time !== undefined ? Date.parse(win.time) : NaN;
    ev = { id: ctx.eventId, '@timestamp': isoFromMs(t) ?? received, event: { original, ingested: received, kind: 'event' } };
    applyWinEvent(ev, win);
    // Winlogbeat documents carry more ECS (host, agent…): keep them under their own names.
    // Only those subtrees are coerced (the rest of the document was read into winlog.*).
    const { value } = coerceEcs(pickRoots(obj as Record<string, unknown>, SHIPPED));
    for (const k of SHIPPED) {
      if (k !== 'host' && value[k] !== undefined && ev[k] === undefined) ev[k] = value[k];
    }
    if (typeof value.host === 'object' && value.host !== null) {
      const shipped = value.host as NonNullable<EcsEvent['host']>;
      ev.host = { ...shipped, ...ev.host, os: { ...shipped.os, ...ev.host?.os } };
    }
  } else if (isObj && ('@timestamp' in obj || 'event' in obj || 'ecs' in obj)) {
    const { value, dropped } = coerceEcs(obj);
    const event = (typeof value.event === 'object' && value.event !== null ? value.event : {}) as EcsEvent['event'];
    ev = { ...value, id: ctx.eventId, '@timestamp': typeof value['@timestamp'] === 'string' ? value['@timestamp'] : received, event } as EcsEvent;
    // A shipper's own raw line (Filebeat, Vector) is the better original while every field survived.
    const shipped = (obj as { event?: { original?: unknown } }).event?.original;
    if (typeof shipped !== 'string' || shipped === '' || dropped.length) ev.event.original = original;
    ev.event.ingested = received;
    if (dropped.length) {
      tag(ev, 'ecs_coerced');
      setField(ev, 'error.message', `fields not of their ECS type: ${dropped.join(', ')}`);
    }
  } else {
    const o = isObj ? (obj as Record<string, unknown>) : {};
    const text = ['message', 'msg', 'log', 'MESSAGE'].map((k) => o[k]).find((v): v is string => typeof v === 'string');
    const when = ['timestamp', 'time', 'ts'].map((k) => o[k]).find((v) => typeof v === 'string' || typeof v === 'number');
    const t = typeof when === 'number' ? (when < 1e11 ? when * 1000 : when) : typeof when === 'string' ? Date.parse(when) : NaN;
    ev = { id: ctx.eventId, '@timestamp': isoFromMs(t) ?? received, message: text ?? original, event: { original, ingested: received, kind: 'event' } };
    tag(ev, 'unparsed');
    tag(ev, 'json');
  }
  contextFields(ev, ctx);
  return finaliseEvent(ev);
}

export { readWinEvent, applyWinEvent, type WinEvent } from './windows.js';
export type { LineParser, ParseInput } from './types.js';
