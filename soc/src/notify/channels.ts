/**
 * Notification channels: one `send` per channel type, each turning an alert into that
 * receiver's message and failing with `SOC_ERR_NOTIFY` when the receiver does not accept it.
 * Message bodies are pure functions ({@link webhookRequest}, {@link dingtalkUrl},
 * {@link feishuSign}, {@link cefLine}) so tests check them against independent implementations.
 */
import { createHmac } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { bytesToHex, hmacSm3, utf8ToBytes } from '@xiangan/crypto';
import { SocError } from '../errors.js';
import type { Alert } from '../alerts/types.js';
import { CHANNEL_DEFAULTS, type ChannelConfig } from './config.js';

/** Header names of the generic webhook. */
export const SIGNATURE_HEADER = 'x-xiangan-signature';
export const TIMESTAMP_HEADER = 'x-xiangan-timestamp';

const LEVEL_ZH: Record<string, string> = { informational: '提示', low: '低', medium: '中', high: '高', critical: '严重' };

/** Short Chinese-first text of an alert (DESIGN.md convention 12). */
export function alertText(a: Alert): string {
  const group = Object.entries(a.group)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return [
    `【湘安告警】${a.title}`,
    `级别 severity: ${LEVEL_ZH[a.severity] ?? a.severity} (${a.severity}, risk ${a.riskScore})`,
    `规则 rule: ${a.ruleId}`,
    `次数 count: ${a.count}  首次 first: ${a.firstSeen}  最近 last: ${a.lastSeen}`,
    ...(group ? [`分组 group: ${group}`] : []),
    `告警 alert: ${a.id}`,
  ].join('\n');
}

/**
 * The generic webhook request: JSON body and the HMAC-SM3 signature over
 * `timestamp + "." + body` (GB/T 15852.2 HMAC with SM3), sent as `X-Xiangan-Signature: sm3=<hex>`
 * beside `X-Xiangan-Timestamp` (ms) so a receiver can refuse replays.
 *
 * @example
 * ```ts
 * const { body, headers } = webhookRequest(alert, 'secret', Date.now());
 * ```
 */
export function webhookRequest(alert: Alert, secret: string | undefined, nowMs: number): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({ type: 'alert', alert });
  const ts = String(nowMs);
  const headers: Record<string, string> = { 'content-type': 'application/json', [TIMESTAMP_HEADER]: ts };
  if (secret) headers[SIGNATURE_HEADER] = `sm3=${bytesToHex(hmacSm3(utf8ToBytes(secret), utf8ToBytes(`${ts}.${body}`)))}`;
  return { body, headers };
}

/**
 * DingTalk's signed robot URL: `&timestamp=<ms>&sign=<urlencoded base64(HmacSHA256(secret,
 * timestamp + "\n" + secret))>` (DingTalk custom robot, "加签"). HMAC-SHA256 is DingTalk's own
 * scheme, so node:crypto computes it.
 *
 * @example
 * ```ts
 * const url = dingtalkUrl('https://oapi.dingtalk.com/robot/send?access_token=…', 'SEC…', Date.now());
 * ```
 */
export function dingtalkUrl(url: string, secret: string | undefined, nowMs: number): string {
  if (!secret) return url;
  const sign = createHmac('sha256', secret).update(`${nowMs}\n${secret}`).digest('base64');
  return `${url}${url.includes('?') ? '&' : '?'}timestamp=${nowMs}&sign=${encodeURIComponent(sign)}`;
}

/**
 * Feishu/Lark's robot signature: base64(HmacSHA256 with key `timestamp + "\n" + secret` over the
 * empty string), timestamp in seconds (Feishu custom bot, "签名校验").
 *
 * @example
 * ```ts
 * const sign = feishuSign('SEC…', Math.floor(Date.now() / 1000));
 * ```
 */
export function feishuSign(secret: string, timestampSec: number): string {
  return createHmac('sha256', `${timestampSec}\n${secret}`).update('').digest('base64');
}

const CEF_SEVERITY: Record<string, number> = { informational: 1, low: 3, medium: 5, high: 8, critical: 10 };
const SYSLOG_SEVERITY: Record<string, number> = { informational: 6, low: 5, medium: 4, high: 3, critical: 2 };

/** CEF header fields escape `\` and `|` (ArcSight CEF rev. 25, "Header"). */
function cefHeader(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ');
}

/** CEF extension values escape `\`, `=` and line breaks (ArcSight CEF rev. 25, "Extension"). */
function cefValue(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/=/g, '\\=').replace(/\r\n|\r|\n/g, '\\n');
}

/**
 * One alert as an RFC 5424 syslog message (facility local0) carrying a CEF:0 record, for other
 * SIEMs.
 *
 * @example
 * ```ts
 * cefLine(alert, Date.now()) // '<131>1 2026-… host xiangan - alert - CEF:0|Xiangan|SOC|0.1.0|…'
 * ```
 */
export function cefLine(a: Alert, nowMs: number, host = hostname()): string {
  const ext: [string, string][] = [
    ['rt', String(Date.parse(a.lastSeen) || nowMs)],
    ['cnt', String(a.count)],
    ['cs1Label', 'alertId'],
    ['cs1', a.id],
    ['cs2Label', 'tags'],
    ['cs2', a.tags.join(',')],
    ['cn1Label', 'riskScore'],
    ['cn1', String(a.riskScore)],
  ];
  const g = a.group;
  if (g['source.ip']) ext.push(['src', g['source.ip']]);
  if (g['user.name']) ext.push(['suser', g['user.name']]);
  if (g['host.name']) ext.push(['dhost', g['host.name']]);
  const cef = `CEF:0|Xiangan|SOC|0.1.0|${cefHeader(a.ruleId)}|${cefHeader(a.title)}|${CEF_SEVERITY[a.severity] ?? 5}|${ext.map(([k, v]) => `${k}=${cefValue(v)}`).join(' ')}`;
  const pri = 16 * 8 + (SYSLOG_SEVERITY[a.severity] ?? 5);
  return `<${pri}>1 ${new Date(nowMs).toISOString()} ${host.replace(/\s/g, '') || '-'} xiangan - alert - ${cef}`;
}

async function postJson(url: string, body: string, headers: Record<string, string>, timeoutMs: number, accept: (json: unknown) => boolean): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new SocError('SOC_ERR_NOTIFY', `POST ${new URL(url).origin}: ${(e as Error).message}`, { cause: e });
  }
  const text = await res.text().catch(() => '');
  if (!res.ok) throw new SocError('SOC_ERR_NOTIFY', `POST ${new URL(url).origin}: HTTP ${res.status}`, { details: { status: res.status } });
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!accept(json)) throw new SocError('SOC_ERR_NOTIFY', `POST ${new URL(url).origin}: receiver refused: ${text.slice(0, 200)}`);
}

/** Robots answer HTTP 200 with an error code in the body (`errcode` DingTalk/WeCom, `code` Feishu). */
const robotOk = (j: unknown): boolean => {
  if (!j || typeof j !== 'object') return true;
  const o = j as { errcode?: number; code?: number; StatusCode?: number };
  return (o.errcode ?? o.code ?? o.StatusCode ?? 0) === 0;
};

function sendSyslog(host: string, port: number, protocol: 'udp' | 'tcp', line: string, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (e: Error) => reject(new SocError('SOC_ERR_NOTIFY', `syslog ${protocol}://${host}:${port}: ${e.message}`, { cause: e }));
    if (protocol === 'udp') {
      const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      sock.send(Buffer.from(line), port, host, (err) => {
        sock.close();
        if (err) fail(err);
        else resolve();
      });
      return;
    }
    // RFC 6587 §3.4.1 octet counting: the frame says its own length.
    const payload = Buffer.from(line);
    const sock = connect({ host, port });
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error('timed out')));
    sock.once('error', fail);
    sock.once('connect', () => sock.end(Buffer.concat([Buffer.from(`${payload.length} `), payload])));
    sock.once('close', (hadError) => {
      if (!hadError) resolve();
    });
  });
}

/** Deliver one alert to one channel; rejects with `SOC_ERR_NOTIFY`. */
export type Sender = (channel: ChannelConfig, alert: Alert, nowMs: number) => Promise<void>;

/**
 * The real senders, by channel type.
 *
 * @example
 * ```ts
 * await sendAlert({ id: 'hook', type: 'webhook', url: 'http://127.0.0.1:9000/', ratePerMinute: 60, timeoutMs: 5000 }, alert, Date.now());
 * ```
 */
export const sendAlert: Sender = async (ch, alert, nowMs) => {
  const text = alertText(alert);
  const timeout = ch.timeoutMs ?? CHANNEL_DEFAULTS.timeoutMs;
  switch (ch.type) {
    case 'webhook': {
      const { body, headers } = webhookRequest(alert, ch.secret, nowMs);
      return postJson(ch.url, body, headers, timeout, () => true);
    }
    case 'dingtalk':
      return postJson(dingtalkUrl(ch.url, ch.secret, nowMs), JSON.stringify({ msgtype: 'text', text: { content: text } }), {}, timeout, robotOk);
    case 'wecom':
      return postJson(ch.url, JSON.stringify({ msgtype: 'text', text: { content: text } }), {}, timeout, robotOk);
    case 'feishu': {
      const ts = Math.floor(nowMs / 1000);
      const body = { ...(ch.secret ? { timestamp: String(ts), sign: feishuSign(ch.secret, ts) } : {}), msg_type: 'text', content: { text } };
      return postJson(ch.url, JSON.stringify(body), {}, timeout, robotOk);
    }
    case 'email': {
      // Loaded on first use, like the engine clients: a server without an e-mail channel never needs it.
      const { default: nodemailer } = await import('nodemailer');
      const transport = nodemailer.createTransport({
        host: ch.host,
        port: ch.port ?? CHANNEL_DEFAULTS.smtpPort,
        secure: ch.secure ?? false,
        ...(ch.user ? { auth: { user: ch.user, pass: ch.pass ?? '' } } : {}),
        connectionTimeout: timeout,
        greetingTimeout: timeout,
        socketTimeout: timeout,
      });
      try {
        await transport.sendMail({ from: ch.from, to: ch.to, subject: `[湘安告警][${alert.severity}] ${alert.title}`, text, headers: { 'X-Xiangan-Alert': alert.id } });
      } catch (e) {
        throw new SocError('SOC_ERR_NOTIFY', `smtp ${ch.host}:${ch.port ?? CHANNEL_DEFAULTS.smtpPort}: ${(e as Error).message}`, { cause: e });
      } finally {
        transport.close();
      }
      return;
    }
    case 'syslog':
      return sendSyslog(ch.host, ch.port ?? CHANNEL_DEFAULTS.syslogPort, ch.protocol ?? 'udp', cefLine(alert, nowMs), timeout);
  }
};
