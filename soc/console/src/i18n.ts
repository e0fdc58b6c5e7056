// The console's dictionary: Chinese first, English as the toggle. Keys are English identifiers.
import { signalLike } from './state.js';

export type Lang = 'zh' | 'en';

const zh = {
  appName: '湘安 安全运营中心',
  login: '登录', username: '用户名', password: '密码', totp: '动态口令', totpHint: '请输入身份验证器中的 6 位动态口令',
  loginFailed: '用户名、密码或动态口令错误', locked: '账户已锁定，请稍后再试', rateLimited: '尝试过于频繁，请稍后再试', sessionExpired: '会话已过期，请重新登录',
  logout: '退出', overview: '总览', alerts: '告警', events: '事件检索', rules: '规则', compliance: '合规报告', keys: '密钥与证书', users: '用户与角色', audit: '审计日志',
  eventsPerSec: '事件/秒', alertsBySeverity: '各级别告警', topSources: '主要来源', topRules: '主要规则', live: '实时', offline: '离线',
  status: '状态', severity: '级别', rule: '规则', assignee: '处置人', count: '次数', lastSeen: '最近发生', title: '标题', actions: '操作',
  acknowledge: '确认', startWork: '开始处置', resolve: '解决', falsePositive: '误报', reopen: '重新打开', assign: '指派', comment: '评论', suppress: '抑制',
  addComment: '添加评论', reason: '原因', expiresAt: '到期时间', history: '处置记录', comments: '评论', relatedEvents: '相关事件', searchEvents: '检索这些事件',
  query: '查询', search: '检索', last: '时间范围', total: '共', facets: '字段分布', noResults: '无结果', enabled: '已启用', disabled: '已停用', enable: '启用', disable: '停用',
  rejectedRules: '未加载的规则', role: '角色', totpOn: '动态口令', notAvailable: '此功能在本服务器上不可用（接口未安装）。', noPermission: '无权限', all: '全部',
  new: '新建', acknowledged: '已确认', in_progress: '处置中', resolved: '已解决', false_positive: '误报',
  informational: '信息', low: '低', medium: '中', high: '高', critical: '严重', error: '错误', loading: '加载中…', changePassword: '修改密码', mustChange: '首次登录须修改密码',
  current: '当前密码', next: '新密码', save: '保存', enrolTotp: '绑定动态口令', confirm: '确认', secret: '密钥',
  createUser: '新建用户', displayName: '显示名', oneTimePassword: '一次性密码', oneTimeHint: '仅显示一次，请当面或经安全渠道交给用户；首次登录须修改。', resetPassword: '重置密码', unlock: '解锁', resetTotp: '重置动态口令',
  userCreated: '用户已创建', saved: '已保存', confirmDisable: '确定停用该用户？', close: '关闭', you: '（本人）',
  time: '时间', actor: '操作者', action: '动作', target: '对象', outcome: '结果', details: '详情', more: '更多', filter: '筛选', success: '成功', failure: '失败', unknown: '未知',
  testRules: '规则测试与 Sigma 导入', ruleText: '规则（YAML，可多份，以 --- 分隔）', eventsText: '事件（每行一条）', format: '格式', pipeline: '字段映射', runTest: '测试', checkImport: '检查导入',
  matches: '命中', eventCount: '条事件', line: '行', accepted: '可加载', rejectedN: '被拒绝', noMatches: '无命中', parsedEvents: '解析后的事件', importNote: '检查不改变运行中的规则；勾选要安装的规则并选择是否启用，然后安装（立即生效，重启后保留）。', installRules: '安装所选规则', sm2Login: '使用 SM2 密钥登录', passwordLogin: '使用密码登录', sm2GetChallenge: '获取挑战', sm2SignThis: '请用您的 SM2 密钥（如 USB Key）签名以下文本（UTF-8，不含末尾换行）：', sm2Hint: '例如：xiangan sm2 sign --key key.pem --in challenge.txt | xxd -p -c 256', sm2Signature: '签名（十六进制）', sm2PublicKey: 'SM2 公钥（可选，十六进制）', apiTokens: 'API 令牌（机器访问）', tokenName: '令牌名称', createToken: '创建令牌', tokenOnce: '令牌仅显示一次，请安全保存', permissions: '权限', createdBy: '创建者', lastUsed: '最近使用', revoked: '已吊销', revoke: '吊销', confirmRevoke: '确定吊销此令牌？', installedRule: '已安装', removeRule: '移除', confirmRemoveRule: '移除此安装的规则？', installOn: '启用', installPick: '安装', installedN: '已安装', loadMore: '加载更多',
  systems: '系统', runAssessment: '运行自评估', level: '等级', standard: '标准', overall: '总体得分', download: '下载 JSON', layers: '层面', items: '条目', noSystems: '尚无系统：请先导入资产清单（xiangan comply assets import 或 API）。',
  certificates: '证书', expiringWithin: '到期预警', source: '来源', subject: '主体', issuer: '签发者', notAfter: '到期', daysLeft: '剩余天数', expiringSoon: '即将到期', kmsApps: '密码服务应用', kmsOff: '密码服务未在本进程启用（设置 XIANGAN_KMS_MASTER 后启用）。',
  pass: '符合', fail: '不符合', partial: '部分符合', manual: '待人工判定', na: '不适用', running: '运行中…', score: '得分',
  conclusion: '自评结论', importAssets: '导入资产清单（CSV）', imported: '已导入', uploadConfig: '上传设备配置', asset: '资产', file: '文件', upload: '上传', configChecks: '配置核查',
  report: '报告', signed: '已签名（SM2）', unsigned: '未签名', judge: '人工判定', recordJudgement: '记录判定', judged: '已记录', control: '测评项',
  assets: '资产与系统', sending: '有日志', silent: '静默', unregistered: '日志中出现但未登记的发送方', last24h: '最近 24 小时', type: '类型', hosts: '主机名', ips: '地址', importance: '重要程度', grading: '定级', id: '编号', name: '名称', assetList: '资产', kmsKeys: '密码服务密钥', version: '版本', createdAt: '创建时间', destroyAt: '计划销毁',
};

const en: typeof zh = {
  appName: 'Xiangan SOC',
  login: 'Sign in', username: 'Username', password: 'Password', totp: 'One-time code', totpHint: 'Enter the 6-digit code from your authenticator',
  loginFailed: 'Wrong username, password or code', locked: 'Account locked; try again later', rateLimited: 'Too many attempts; try again later', sessionExpired: 'Session expired; please sign in again',
  logout: 'Sign out', overview: 'Overview', alerts: 'Alerts', events: 'Event search', rules: 'Rules', compliance: 'Compliance', keys: 'Keys & certificates', users: 'Users & roles', audit: 'Audit trail',
  eventsPerSec: 'Events/s', alertsBySeverity: 'Alerts by severity', topSources: 'Top sources', topRules: 'Top rules', live: 'Live', offline: 'Offline',
  status: 'Status', severity: 'Severity', rule: 'Rule', assignee: 'Assignee', count: 'Count', lastSeen: 'Last seen', title: 'Title', actions: 'Actions',
  acknowledge: 'Acknowledge', startWork: 'Start work', resolve: 'Resolve', falsePositive: 'False positive', reopen: 'Reopen', assign: 'Assign', comment: 'Comment', suppress: 'Suppress',
  addComment: 'Add comment', reason: 'Reason', expiresAt: 'Expires at', history: 'History', comments: 'Comments', relatedEvents: 'Related events', searchEvents: 'Search these events',
  query: 'Query', search: 'Search', last: 'Time range', total: 'Total', facets: 'Facets', noResults: 'No results', enabled: 'Enabled', disabled: 'Disabled', enable: 'Enable', disable: 'Disable',
  rejectedRules: 'Rejected rules', role: 'Role', totpOn: 'TOTP', notAvailable: 'Not available on this server (the API is not installed).', noPermission: 'No permission', all: 'All',
  new: 'New', acknowledged: 'Acknowledged', in_progress: 'In progress', resolved: 'Resolved', false_positive: 'False positive',
  informational: 'Info', low: 'Low', medium: 'Medium', high: 'High', critical: 'Critical', error: 'Error', loading: 'Loading…', changePassword: 'Change password', mustChange: 'Change your password at first sign-in',
  current: 'Current password', next: 'New password', save: 'Save', enrolTotp: 'Enrol TOTP', confirm: 'Confirm', secret: 'Secret',
  createUser: 'New user', displayName: 'Display name', oneTimePassword: 'One-time password', oneTimeHint: 'Shown once: hand it over in person or over a safe channel; it must be changed at first sign-in.', resetPassword: 'Reset password', unlock: 'Unlock', resetTotp: 'Reset TOTP',
  userCreated: 'User created', saved: 'Saved', confirmDisable: 'Disable this user?', close: 'Close', you: '(you)',
  time: 'Time', actor: 'Actor', action: 'Action', target: 'Target', outcome: 'Outcome', details: 'Details', more: 'More', filter: 'Filter', success: 'Success', failure: 'Failure', unknown: 'Unknown',
  testRules: 'Rule test and Sigma import', ruleText: 'Rules (YAML; several separated by ---)', eventsText: 'Events (one a line)', format: 'Format', pipeline: 'Field mapping', runTest: 'Test', checkImport: 'Check import',
  matches: 'Matches', eventCount: 'events', line: 'Line', accepted: 'Loadable', rejectedN: 'Rejected', noMatches: 'No matches', parsedEvents: 'Parsed events', importNote: 'A check does not change the running rules; tick the rules to install, choose whether each starts enabled, then install (live at once, kept across restarts).', installRules: 'Install selected rules', sm2Login: 'Sign in with an SM2 key', passwordLogin: 'Sign in with a password', sm2GetChallenge: 'Get challenge', sm2SignThis: 'Sign this text (UTF-8, no trailing newline) with your SM2 key (e.g. a USB key):', sm2Hint: 'For example: xiangan sm2 sign --key key.pem --in challenge.txt | xxd -p -c 256', sm2Signature: 'Signature (hex)', sm2PublicKey: 'SM2 public key (optional, hex)', apiTokens: 'API tokens (machines)', tokenName: 'Token name', createToken: 'Create token', tokenOnce: 'Shown once only; store it safely', permissions: 'Permissions', createdBy: 'Created by', lastUsed: 'Last used', revoked: 'Revoked', revoke: 'Revoke', confirmRevoke: 'Revoke this token?', installedRule: 'installed', removeRule: 'Remove', confirmRemoveRule: 'Remove this installed rule?', installOn: 'Enabled', installPick: 'Install', installedN: 'Installed', loadMore: 'Load more',
  systems: 'Systems', runAssessment: 'Run self-assessment', level: 'Level', standard: 'Standard', overall: 'Overall score', download: 'Download JSON', layers: 'Layers', items: 'Items', noSystems: 'No systems yet: import the asset inventory first (xiangan comply assets import or the API).',
  certificates: 'Certificates', expiringWithin: 'warning within', source: 'Source', subject: 'Subject', issuer: 'Issuer', notAfter: 'Not after', daysLeft: 'Days left', expiringSoon: 'expiring soon', kmsApps: 'Crypto service applications', kmsOff: 'The crypto service is not running in this process (set XIANGAN_KMS_MASTER to enable it).',
  pass: 'Pass', fail: 'Fail', partial: 'Partial', manual: 'Manual review', na: 'N/A', running: 'Running…', score: 'Score',
  conclusion: 'Self-assessed conclusion', importAssets: 'Import asset inventory (CSV)', imported: 'Imported', uploadConfig: 'Upload device configuration', asset: 'Asset', file: 'File', upload: 'Upload', configChecks: 'Configuration checks',
  report: 'Report', signed: 'signed (SM2)', unsigned: 'unsigned', judge: 'Manual judgement', recordJudgement: 'Record judgement', judged: 'Recorded', control: 'Requirement',
  assets: 'Assets and systems', sending: 'sending', silent: 'silent', unregistered: 'Senders in the logs that are not registered', last24h: 'last 24 h', type: 'Type', hosts: 'Host names', ips: 'Addresses', importance: 'Importance', grading: 'Grading', id: 'ID', name: 'Name', assetList: 'Assets', kmsKeys: 'Crypto service keys', version: 'Version', createdAt: 'Created', destroyAt: 'Destroy at',
};

export type Key = keyof typeof zh;
const dicts: Record<Lang, typeof zh> = { zh, en };

/** The current language; persisted so a reload keeps it. */
export const lang = signalLike<Lang>((localStorage.getItem('xa.lang') as Lang | null) ?? 'zh');

/** Translate a key (unknown keys, e.g. server values, are shown as given). */
export function t(key: Key | string): string {
  return (dicts[lang.value] as Record<string, string>)[key] ?? key;
}

export function setLang(l: Lang): void {
  localStorage.setItem('xa.lang', l);
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
  lang.value = l;
}
