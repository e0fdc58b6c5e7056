/**
 * Sangfor (深信服) NGAF / AF firewall syslog: `fwlog: 日志类型:…, 用户:…, 源IP:…, 源端口:…,
 * 目的IP:…, 目的端口:…, …, 系统动作:…` — Chinese labels, `:` or full-width `：` between label
 * and value, `, ` or `，` between items.
 */
import { setField } from '../ecs/helpers.js';
import type { LineParser } from './types.js';
import { categorise, observer, setEndpoint, splitPairs, transportName, verdict } from './util.js';

/**
 * Cheap shape test: the `日志类型` (log type) label.
 *
 * @example
 * looksLikeSangfor('日志类型:WAF应用防护日志, 源IP:1.2.3.4'); // true
 */
export function looksLikeSangfor(text: string): boolean {
  const i = text.indexOf('日志类型');
  return i >= 0 && i < 64;
}

const IP_KEYS = ['源IP', '源地址', 'IP地址', '用户IP', '攻击者IP'];
const DIP_KEYS = ['目的IP', '目标IP', '目的地址', '目标地址', '受害者IP'];

function first(kv: Record<string, string>, keys: string[]): string | undefined {
  for (const k of keys) {
    const v = kv[k];
    if (v !== undefined && v !== '' && v !== '(null)') return v;
  }
  return undefined;
}

/**
 * Sangfor NGAF / AF logs.
 *
 * @example
 * parseSangfor({ text: '日志类型:IPS防护日志, 源IP:1.2.3.4, 目的IP:10.0.0.5, 动作:被阻断', app: 'fwlog' }, ev);
 */
export const parseSangfor: LineParser = (input, ev) => {
  const text = input.text;
  const i = text.indexOf('日志类型');
  if (i < 0 || i > 64) return false;
  const kv = splitPairs(text.slice(i), ',，', ':：');
  const logType = kv['日志类型'];
  if (logType === undefined) return false;
  ev.event.module = 'sangfor';
  ev.event.dataset = 'sangfor.ngaf';
  observer(ev, 'Sangfor', 'NGAF', 'firewall');
  setEndpoint(ev, 'source', first(kv, IP_KEYS), kv['源端口']);
  setEndpoint(ev, 'destination', first(kv, DIP_KEYS), kv['目的端口'] ?? kv['目标端口']);
  setField(ev, 'user.name', first(kv, ['用户', '用户名', '管理员']));
  setField(ev, 'network.transport', transportName(kv['协议']));
  setField(ev, 'network.application', first(kv, ['应用名称', '应用']));
  setField(ev, 'rule.name', first(kv, ['漏洞名称', '攻击类型', '策略名称', '规则名称']));
  setField(ev, 'rule.id', first(kv, ['漏洞ID', '规则ID']));
  setField(ev, 'url.original', first(kv, ['URL', 'url']));
  const action = first(kv, ['系统动作', '动作', '处理动作', '处理方式']);
  const result = first(kv, ['结果', '认证结果', '操作结果', '描述']);
  const op = first(kv, ['操作类型', '操作']);
  const v = verdict(action);
  const failed = result !== undefined && /失败|错误|拒绝|fail/i.test(result);
  if (/WAF|IPS|攻击|漏洞|入侵|防护|僵尸|威胁/.test(logType)) {
    categorise(ev, ['intrusion_detection'], v ? [v.type] : ['info'], logType, v?.outcome);
  } else if (/病毒|恶意/.test(logType)) {
    categorise(ev, ['malware'], v ? [v.type] : ['info'], logType, v?.outcome);
  } else if (/认证|登录/.test(logType) || (op !== undefined && /登录|登出|注销/.test(op))) {
    const end = op !== undefined && /登出|注销|退出/.test(op);
    categorise(ev, ['authentication'], [end ? 'end' : 'start'], op ?? logType, failed ? 'failure' : result !== undefined ? 'success' : 'unknown');
  } else if (/管理|操作|配置/.test(logType)) {
    categorise(ev, ['configuration'], ['change'], op ?? logType, failed ? 'failure' : 'success');
  } else if (ev.source?.ip !== undefined || ev.destination?.ip !== undefined) {
    categorise(ev, ['network'], v ? ['connection', v.type] : ['connection'], logType, v?.outcome);
  } else {
    categorise(ev, ['host'], ['info'], logType);
  }
  const sangfor: Record<string, unknown> = {};
  if (action !== undefined && action !== '') sangfor.action = action;
  sangfor.log_type = logType;
  sangfor.fields = kv;
  ev.sangfor = sangfor;
  return true;
};

