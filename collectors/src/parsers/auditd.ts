/**
 * Linux audit records (auditd's log format, also as forwarded by audisp-syslog or the kernel
 * `audit: type=1100 audit(…)` form): `type=T msg=audit(SECONDS.MS:SERIAL): k=v …`, with the
 * user-space part in `msg='…'`. Untrusted strings are hex-encoded by the kernel when they
 * contain spaces, quotes or control characters (audit_log_untrustedstring in kernel/audit.c):
 * those fields, written unquoted in hex, are decoded here.
 */
import { setField } from '../ecs/helpers.js';
import type { LineParser } from './types.js';
import { asInt, baseName, categorise, isoFromMs, lookup, safeKey, setEndpoint } from './util.js';

const HEAD = /^(?:node=(\S+) )?type=(\S+) msg=audit\((\d{1,12})\.(\d{1,3}):(\d{1,20})\): ?/;
const KERNEL_HEAD = /^(?:\[\s*\d+\.\d+\] )?audit: type=(\d{1,5}) audit\((\d{1,12})\.(\d{1,3}):(\d{1,20})\): ?/;

/** Numeric record types the kernel prints in dmesg form (include/uapi/linux/audit.h). */
const TYPE_NUMBERS: Record<string, string> = {
  '1100': 'USER_AUTH',
  '1101': 'USER_ACCT',
  '1103': 'CRED_ACQ',
  '1104': 'CRED_DISP',
  '1105': 'USER_START',
  '1106': 'USER_END',
  '1112': 'USER_LOGIN',
  '1123': 'USER_CMD',
  '1300': 'SYSCALL',
  '1305': 'CONFIG_CHANGE',
  '1309': 'EXECVE',
  '1327': 'PROCTITLE',
  '1400': 'AVC',
};

const SYSCALLS_X86_64: Record<string, string> = {
  '0': 'read', '1': 'write', '2': 'open', '9': 'mmap', '10': 'mprotect', '41': 'socket', '42': 'connect',
  '43': 'accept', '44': 'sendto', '49': 'bind', '50': 'listen', '56': 'clone', '57': 'fork', '58': 'vfork',
  '59': 'execve', '62': 'kill', '82': 'rename', '84': 'rmdir', '85': 'creat', '86': 'link', '87': 'unlink',
  '88': 'symlink', '90': 'chmod', '91': 'fchmod', '92': 'chown', '101': 'ptrace', '105': 'setuid',
  '106': 'setgid', '113': 'setreuid', '117': 'setresuid', '157': 'prctl', '161': 'chroot', '165': 'mount',
  '166': 'umount2', '169': 'reboot', '175': 'init_module', '176': 'delete_module', '257': 'openat',
  '260': 'fchownat', '263': 'unlinkat', '264': 'renameat', '268': 'fchmodat', '288': 'accept4',
  '313': 'finit_module', '316': 'renameat2', '321': 'bpf', '322': 'execveat', '435': 'clone3',
};

/** Fields the kernel and libaudit may hex-encode (audit_log_n_untrustedstring callers, auparse's field table). */
const ENCODED = new Set([
  'acct', 'cmd', 'comm', 'cwd', 'data', 'dir', 'exe', 'file', 'grp', 'key', 'name', 'new-disk',
  'old-disk', 'ocomm', 'path', 'proctitle', 'root_dir', 'sw', 'vm', 'watch',
]);

/** Stateless (non-streaming) decoder shared by all records; invalid UTF-8 becomes U+FFFD. */
const UTF8 = new TextDecoder('utf-8');

function decodeHex(v: string): string | undefined {
  if (v.length < 2 || v.length % 2 !== 0 || !/^[0-9A-F]+$/.test(v)) return undefined;
  const bytes = new Uint8Array(v.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(v.slice(i * 2, i * 2 + 2), 16);
  // proctitle separates argv with NUL bytes (fs/proc/base.c): show them as spaces.
  return UTF8.decode(bytes).replace(/\0+$/, '').replace(/\0/g, ' ');
}

/**
 * Tokenises the record body keeping which values were quoted: only unquoted values can be hex.
 */
function fields(body: string): Map<string, { v: string; quoted: boolean }> {
  const out = new Map<string, { v: string; quoted: boolean }>();
  // Keys are bounded and must start a token, so a long run of key characters cannot make this quadratic.
  const re = /(?<![A-Za-z0-9_-])([A-Za-z0-9_-]{1,64})=("[^"]*"|'[^']*'|\S*)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(body))) {
    const raw = m[2]!;
    const quoted = raw.startsWith('"') || raw.startsWith("'");
    const key = m[1]!;
    if (!safeKey(key)) continue;
    if (out.has(key) && key !== 'msg') continue;
    out.set(key, { v: quoted ? raw.slice(1, -1) : raw, quoted });
  }
  return out;
}

function value(f: Map<string, { v: string; quoted: boolean }>, key: string): string | undefined {
  const e = f.get(key);
  if (e === undefined) return undefined;
  if (e.quoted || e.v === '(null)' || e.v === '?' || e.v === '') return e.quoted ? e.v : undefined;
  const hexAllowed = ENCODED.has(key) || /^a\d{1,4}$/.test(key);
  return (hexAllowed && decodeHex(e.v)) || e.v;
}

/**
 * auditd records: USER_LOGIN/USER_AUTH, SYSCALL, EXECVE, CONFIG_CHANGE, account changes, sessions.
 *
 * @example
 * parseAuditd({ text: 'type=CONFIG_CHANGE msg=audit(1700000002.5:460): auid=1000 op=remove_rule key=(null) list=4 res=1', app: '' }, ev); // ev.event.action === 'remove_rule'
 */
export const parseAuditd: LineParser = (input, ev) => {
  const text = input.text;
  let type: string;
  let secs: string;
  let ms: string;
  let serial: string;
  let node: string | undefined;
  let body: string;
  const h = HEAD.exec(text);
  if (h) {
    // Indexing, not array destructuring: a RegExp result destructures through the iterator protocol.
    node = h[1];
    type = h[2]!;
    secs = h[3]!;
    ms = h[4]!;
    serial = h[5]!;
    body = text.slice(h[0].length);
  } else {
    const k = KERNEL_HEAD.exec(text);
    if (!k) return false;
    type = lookup(TYPE_NUMBERS, k[1]!) ?? k[1]!;
    secs = k[2]!;
    ms = k[3]!;
    serial = k[4]!;
    body = text.slice(k[0].length);
  }
  ev.event.module = 'auditd';
  ev.event.dataset = 'auditd.log';
  setField(ev, 'host.os.type', 'linux');
  const ts = isoFromMs(Number(secs) * 1000 + Number(ms.padEnd(3, '0')));
  if (ts !== undefined) ev['@timestamp'] = ts;
  ev.event.sequence = asInt(serial.slice(0, 15));
  setField(ev, 'host.name', node);

  const f = fields(body);
  // The user-space part of USER_* records: msg='op=… acct=… res=success'.
  const inner = f.get('msg');
  if (inner !== undefined && inner.quoted) for (const [k, v] of fields(inner.v)) if (!f.has(k)) f.set(k, v);
  f.delete('msg');

  // Laid out as Auditbeat does (auditd.message_type, auditd.sequence, auditd.data.*), the
  // layout Sigma's auditd rules are mapped to.
  const data: Record<string, unknown> = {};
  for (const k of f.keys()) {
    const v = value(f, k);
    if (v !== undefined) data[k] = v;
  }
  const arch = value(f, 'arch');
  const sc = value(f, 'syscall');
  // x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl) as names, like auditbeat.
  if (sc !== undefined && arch === 'c000003e') data.syscall = lookup(SYSCALLS_X86_64, sc) ?? sc;
  const auditd: Record<string, unknown> = { message_type: type, sequence: asInt(serial.slice(0, 15)), data };
  const ses = value(f, 'ses');
  if (ses !== undefined && ses !== '4294967295') auditd.session = ses;
  ev.auditd = auditd;

  const res = value(f, 'res') ?? value(f, 'success');
  const outcome = res === undefined ? undefined : /^(success|yes|1)$/.test(res) ? 'success' : 'failure';
  const op = value(f, 'op');
  setField(ev, 'user.id', value(f, 'uid'));
  setField(ev, 'user.effective.id', value(f, 'euid'));
  setField(ev, 'process.pid', asInt(value(f, 'pid')));
  setField(ev, 'process.parent.pid', asInt(value(f, 'ppid')));
  const exe = value(f, 'exe');
  if (exe !== undefined) {
    setField(ev, 'process.executable', exe);
    setField(ev, 'process.name', value(f, 'comm') ?? baseName(exe));
  }
  setEndpoint(ev, 'source', value(f, 'addr'));
  if (ev.source?.ip === undefined) setEndpoint(ev, 'source', value(f, 'hostname'));
  const acct = value(f, 'acct');
  const auid = value(f, 'auid');
  if (auid !== undefined && auid !== '4294967295' && auid !== 'unset') setField(ev, 'user.audit.id', auid);

  switch (type) {
    case 'USER_LOGIN':
    case 'USER_AUTH':
    case 'USER_ERR':
      categorise(ev, ['authentication'], ['start'], type === 'USER_LOGIN' ? 'logged-in' : 'authenticated', outcome);
      setField(ev, 'user.name', acct ?? value(f, 'id'));
      break;
    case 'USER_LOGOUT':
      categorise(ev, ['authentication'], ['end'], 'logged-out', outcome);
      setField(ev, 'user.name', acct);
      break;
    case 'USER_START':
    case 'USER_END':
      categorise(ev, ['session'], [type === 'USER_START' ? 'start' : 'end'], type === 'USER_START' ? 'started-session' : 'ended-session', outcome);
      setField(ev, 'user.name', acct);
      break;
    case 'USER_ACCT':
    case 'CRED_ACQ':
    case 'CRED_DISP':
    case 'CRED_REFR':
      categorise(ev, ['authentication'], ['info'], type.toLowerCase(), outcome);
      setField(ev, 'user.name', acct);
      break;
    case 'USER_CMD': {
      categorise(ev, ['process'], ['start'], 'ran-command', outcome);
      const cmd = value(f, 'cmd');
      setField(ev, 'process.command_line', cmd);
      setField(ev, 'process.working_directory', value(f, 'cwd'));
      break;
    }
    case 'ADD_USER':
    case 'DEL_USER':
    case 'ADD_GROUP':
    case 'DEL_GROUP':
    case 'USER_MGMT':
    case 'GRP_MGMT':
    case 'USER_CHAUTHTOK': {
      const kind = type.includes('GROUP') || type.startsWith('GRP') ? 'group' : 'user';
      const t = type.startsWith('ADD') ? 'creation' : type.startsWith('DEL') ? 'deletion' : 'change';
      categorise(ev, ['iam'], [kind, t], (op ?? type).toLowerCase().replace(/ /g, '-'), outcome);
      setField(ev, kind === 'user' ? 'user.target.name' : 'group.name', acct);
      setField(ev, kind === 'user' ? 'user.target.id' : 'group.id', value(f, 'id'));
      break;
    }
    case 'SYSCALL':
      categorise(ev, ['process'], ['info'], `syscall-${String(data.syscall ?? 'unknown')}`, outcome);
      setField(ev, 'process.title', value(f, 'comm'));
      break;
    case 'EXECVE': {
      const argc = Math.min(asInt(value(f, 'argc')) ?? 0, 4096);
      const args: string[] = [];
      for (let i = 0; i < argc; i++) {
        const a = value(f, `a${i}`);
        if (a === undefined) break;
        args.push(a);
      }
      categorise(ev, ['process'], ['start'], 'executed', outcome);
      if (args.length) {
        const proc = (ev.process ??= {});
        proc.args = args;
        proc.args_count = argc;
        proc.command_line = args.join(' ');
        if (proc.name === undefined) setField(ev, 'process.name', baseName(args[0]!));
      }
      break;
    }
    case 'PATH': {
      categorise(ev, ['file'], ['info'], `path-${(value(f, 'nametype') ?? 'unknown').toLowerCase()}`, outcome);
      const name = value(f, 'name');
      if (name !== undefined) {
        setField(ev, 'file.path', name);
        setField(ev, 'file.name', baseName(name));
      }
      break;
    }
    case 'PROCTITLE':
      categorise(ev, ['process'], ['info'], 'proctitle');
      setField(ev, 'process.command_line', value(f, 'proctitle'));
      break;
    case 'CONFIG_CHANGE':
    case 'DAEMON_CONFIG':
    case 'DAEMON_END':
    case 'DAEMON_START':
    case 'DAEMON_ABORT':
      // `auditctl -D` logs op=remove_rule … list=N res=1 per deleted rule; `-e 0` logs audit_enabled=0.
      categorise(ev, ['configuration'], ['change'], op ?? (f.has('audit_enabled') ? 'set-audit-enabled' : type.toLowerCase()), outcome);
      setField(ev, 'user.audit.id', auid !== '4294967295' ? auid : undefined);
      break;
    case 'AVC':
    case 'USER_AVC':
    case 'ANOM_PROMISCUOUS':
    case 'ANOM_ABEND':
      categorise(ev, ['host'], ['info'], type.toLowerCase(), outcome);
      break;
    default:
      categorise(ev, ['host'], ['info'], type.toLowerCase(), outcome);
  }
  return true;
};

/**
 * True when `text` looks like an audit record (cheap test for the dispatcher).
 *
 * @example
 * looksLikeAudit('type=SYSCALL msg=audit(1.1:2): …'); // true
 */
export function looksLikeAudit(text: string): boolean {
  return text.startsWith('type=') || text.startsWith('node=') || text.includes('audit: type=');
}

