/**
 * Hillstone StoneOS syslog: `[ID: ]Type@MODULE: text`, where Type is Traffic, Security,
 * Event, Configuration, Network, Threat (StoneOS "Log Messages" guide). Traffic session logs
 * carry `src:port->dst:port(PROTO), …, send bytes N, receive bytes N, …`; management logs name
 * the admin in double quotes, in English or in Chinese depending on the device language.
 */
import type { EcsEvent } from '../types.js';
import { setField } from '../ecs/helpers.js';
import type { LineParser } from './types.js';
import { asInt, categorise, head, observer, setEndpoint, transportName, verdict } from './util.js';

const HEAD = /(?:^|\s)(?:(\d{1,12}): )?(Traffic|Security|Event|Configuration|Network|Threat|Alarm|Debug)@([A-Z][A-Z0-9_]{0,15}): ?/;

/**
 * Index of the `Type@MODULE:` tag in the first part of the line, else -1.
 *
 * @example
 * hillstoneStart('4422: Traffic@FLOW: SESSION: …'); // 0
 */
export function hillstoneStart(text: string): number {
  const at = text.indexOf('@');
  if (at < 0 || at > 120) return -1;
  const m = HEAD.exec(text.slice(0, at + 20));
  return m ? m.index : -1;
}

const FLOW = /([0-9a-fA-F.:]+?):(\d{1,5})->([0-9a-fA-F.:]+?):(\d{1,5})\(([A-Za-z0-9-]{1,10})\)/;

function counters(ev: EcsEvent, body: string): void {
  const num = (re: RegExp): number | undefined => asInt(re.exec(body)?.[1]);
  setField(ev, 'source.packets', num(/send packets (\d+)/));
  setField(ev, 'source.bytes', num(/send bytes (\d+)/));
  setField(ev, 'destination.packets', num(/receive packets (\d+)/));
  setField(ev, 'destination.bytes', num(/receive bytes (\d+)/));
}

/**
 * Hillstone firewall logs.
 *
 * @example
 * parseHillstone({ text: 'Event@MGMT: Admin user "admin" logged in through SSH, and the IP is 10.1.1.1.', app: '' }, ev);
 */
export const parseHillstone: LineParser = (input, ev) => {
  const start = hillstoneStart(input.text);
  if (start < 0) return false;
  const s = input.text.slice(start);
  const m = HEAD.exec(s);
  if (!m) return false;
  const id = m[1];
  const kind = m[2]!;
  const module = m[3]!;
  const full = s.slice(m.index + m[0].length);
  const body = head(full);
  ev.event.module = 'hillstone';
  ev.event.dataset = `hillstone.${kind.toLowerCase()}`;
  observer(ev, 'Hillstone', 'StoneOS', 'firewall');
  ev.message = full;
  if (id !== undefined) ev.event.code = id;
  const hs: Record<string, unknown> = { type: kind, module };
  // The flow tuple follows the `SESSION:` tag: look only near the start (bounded work on hostile input).
  const flow = FLOW.exec(body.slice(0, 200));
  let r: RegExpExecArray | null;
  if (flow) {
    setEndpoint(ev, 'source', flow[1], flow[2]);
    setEndpoint(ev, 'destination', flow[3], flow[4]);
    setField(ev, 'network.transport', transportName(flow[5]));
    if ((r = /snat to ([0-9a-fA-F.:]+?):(\d{1,5})/.exec(body))) setEndpoint(ev, 'source.nat', r[1], r[2]);
    if ((r = /dnat to ([0-9a-fA-F.:]+?):(\d{1,5})/.exec(body))) setEndpoint(ev, 'destination.nat', r[1], r[2]);
    if ((r = /(?:^|, )application ([^,]+)/.exec(body))) setField(ev, 'network.application', r[1]);
    if ((r = /(?:^|, )interface ([^,\s]+)/.exec(body))) setField(ev, 'observer.ingress.interface.name', r[1]);
    if ((r = /(?:^|, )policy (\S+?)(?:,|$)/.exec(body))) setField(ev, 'rule.id', r[1]);
    if ((r = /(?:^|, )user ([^@,\s]+)@/.exec(body)) && r[1] !== '-') setField(ev, 'user.name', r[1]);
    if ((r = /(?:^|, )vr ([^,\s]+)/.exec(body))) hs.vr = r[1];
    counters(ev, body);
    const endMatch = /session (end|start|deny|denied)/.exec(body);
    const v = verdict(/\b(deny|denied|drop|permit)\b/i.exec(body)?.[1] ?? (endMatch && endMatch[1] !== 'deny' ? 'permit' : endMatch?.[1]));
    const types = ['connection'];
    if (endMatch?.[1] === 'end') types.push('end');
    else if (endMatch?.[1] === 'start') types.push('start');
    if (v) types.push(v.type);
    categorise(ev, kind === 'Threat' ? ['intrusion_detection', 'network'] : ['network'], types, v?.type === 'denied' ? 'deny' : 'session', v?.outcome);
    if ((r = /session end,\s*(.+)$/.exec(body))) ev.event.reason = r[1]!.trim();
  } else if (kind === 'Event' || kind === 'Configuration' || kind === 'Security') {
    const user = /(?:user|admin|管理员|用户)\s*["“]([^"”]{1,64})["”]/i.exec(body)?.[1];
    const ip = /(?:IP(?: address)? is|IP是|IP地址是|IP为|from)\s*([0-9a-fA-F.:]+[0-9a-fA-F])/i.exec(body)?.[1];
    const via = /(?:through|via|通过)\s*([A-Za-z]+)/i.exec(body)?.[1];
    setField(ev, 'user.name', user);
    setEndpoint(ev, 'source', ip);
    if (via !== undefined) setField(ev, 'network.protocol', via.toLowerCase());
    const failed = /fail|失败|错误|denied|拒绝/i.test(body);
    if (/logged out|log out|logout|登出|退出/i.test(body)) categorise(ev, ['authentication'], ['end'], 'logout', 'success');
    else if (/log(?:ged)? ?in|login|登录|登陆/i.test(body)) categorise(ev, ['authentication'], ['start'], failed ? 'login-failed' : 'login', failed ? 'failure' : 'success');
    else if (kind === 'Configuration' || /command|命令|configur|配置/i.test(body)) {
      categorise(ev, ['configuration'], ['change'], 'config-change', failed ? 'failure' : 'success');
      const cmd = /(?:command|命令)\s*["“]([^"”]*)["”]/i.exec(body)?.[1];
      setField(ev, 'process.command_line', cmd);
    } else categorise(ev, ['host'], ['info'], module.toLowerCase());
  } else categorise(ev, ['host'], ['info'], module.toLowerCase());
  ev.hillstone = hs;
  return true;
};
