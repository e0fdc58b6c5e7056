/**
 * Linux authentication and account logs as written to auth.log / secure by OpenSSH's sshd,
 * Linux-PAM modules, sudo, su and the shadow-utils tools (useradd, usermod, userdel,
 * groupadd, groupdel, passwd). Field names follow the ECS `system.auth` mapping of Filebeat.
 */
import type { EcsEvent } from '../types.js';
import { setField } from '../ecs/helpers.js';
import type { LineParser } from './types.js';
import { asInt, categorise, setEndpoint } from './util.js';

function linux(ev: EcsEvent, dataset: string): void {
  ev.event.module = 'system';
  ev.event.dataset = dataset;
  ((ev.host ??= {}).os ??= {}).type = 'linux';
}

/** `message repeated N times: [ … ]` (rsyslog's repeat reduction): the inner line counts. */
function unwrapRepeated(text: string): string {
  if (!text.startsWith('message repeated ')) return text;
  const m = /^message repeated \d{1,9} times: \[ ?(.*?) ?\]$/.exec(text);
  return m ? m[1]! : text;
}

// OpenSSH auth2.c / auth.c log lines ("Accepted %s for %s%.100s from %.200s port %d ssh2").
const SSH_AUTH =
  /^(Accepted|Failed|Postponed) (password|publickey|keyboard-interactive\/pam|keyboard-interactive|hostbased|gssapi-with-mic|none) for (invalid user )?(\S*) from (\S+) port (\d{1,5})(?: (ssh2))?(?:: (\S+) (\S+))?/;
const SSH_INVALID = /^Invalid user (.*?) from (\S+)(?: port (\d{1,5}))?$/;
const SSH_DISCONNECTED =
  /^(?:Disconnected from|Connection closed by|Received disconnect from|Disconnecting) (?:(invalid|authenticating) user )?(?:user )?(?:(\S+) (?=\S+ port))?(\S+) port (\d{1,5})(?::\s?(.*?))?( \[preauth\])?$/;
const SSH_MAXAUTH = /^(?:error: )?maximum authentication attempts exceeded for (invalid user )?(\S+) from (\S+) port (\d{1,5})/;
// OpenSSH: `Did not receive identification string from H port P`, `Unable to negotiate with H port P: no matching … found.`
// and `banner exchange: Connection from H port P: invalid format` (scanners and clients too old to talk to it).
const SSH_NOIDENT = /^(?:Did not receive identification string from|Unable to negotiate with|banner exchange: Connection from) (\S+)(?: port (\d{1,5}))?(?:: (no matching [^.]{1,80}found|invalid format))?/;

/**
 * sshd: logins, failures, invalid users, disconnects, attempt limits.
 *
 * @example
 * parseSshd({ text: 'Failed password for root from 203.0.113.9 port 52311 ssh2', app: 'sshd' }, ev); // event.outcome 'failure'
 */
export const parseSshd: LineParser = (input, ev) => {
  const text = unwrapRepeated(input.text);
  if (text.startsWith('pam_') || text.startsWith('PAM ')) return parsePam({ text, app: input.app }, ev);
  let m = SSH_AUTH.exec(text);
  if (m) {
    linux(ev, 'system.auth');
    const ok = m[1] === 'Accepted';
    categorise(ev, ['authentication'], m[1] === 'Postponed' ? ['info'] : ['start'], 'ssh_login', ok ? 'success' : m[1] === 'Failed' ? 'failure' : 'unknown');
    const user = m[4]!;
    if (user !== '') (ev.user ??= {}).name = user;
    setEndpoint(ev, 'source', m[5], m[6]);
    // Direct writes on this hot path: the event has no `system.*` yet.
    const ssh: Record<string, string> = { event: m[1]!, method: m[2]! };
    ev.system = { auth: { ssh } };
    if (m[3]) {
      ev.event.reason = 'invalid user';
      ev.tags = [...(ev.tags ?? []), 'invalid_user'];
    }
    if (m[8] !== undefined) {
      const sig = `${m[8]} ${m[9] ?? ''}`.trim();
      if (sig !== '') ssh.signature = sig;
    }
    return true;
  }
  if ((m = SSH_INVALID.exec(text))) {
    linux(ev, 'system.auth');
    categorise(ev, ['authentication'], ['start'], 'invalid_user', 'failure');
    setField(ev, 'user.name', m[1]);
    setEndpoint(ev, 'source', m[2], m[3]);
    ev.event.reason = 'invalid user';
    return true;
  }
  if ((m = SSH_MAXAUTH.exec(text))) {
    linux(ev, 'system.auth');
    categorise(ev, ['authentication'], ['start'], 'ssh_max_auth_attempts', 'failure');
    setField(ev, 'user.name', m[2]);
    setEndpoint(ev, 'source', m[3], m[4]);
    ev.event.reason = 'maximum authentication attempts exceeded';
    if (m[1]) ev.tags = [...(ev.tags ?? []), 'invalid_user'];
    return true;
  }
  if ((m = SSH_DISCONNECTED.exec(text))) {
    linux(ev, 'system.auth');
    categorise(ev, ['authentication'], ['end'], 'ssh_disconnect');
    if (m[2] !== undefined) setField(ev, 'user.name', m[2]);
    setEndpoint(ev, 'source', m[3], m[4]);
    if (m[5]) ev.event.reason = m[5];
    if (/Too many authentication failures/.test(m[5] ?? '')) {
      ev.event.action = 'ssh_max_auth_attempts';
      ev.event.outcome = 'failure';
    }
    if (m[6]) setField(ev, 'system.auth.ssh.preauth', 'true');
    return true;
  }
  if ((m = SSH_NOIDENT.exec(text))) {
    linux(ev, 'system.auth');
    categorise(ev, ['network'], ['connection'], 'ssh_handshake_failed', 'failure');
    setEndpoint(ev, 'source', m[1], m[2]);
    if (m[3] !== undefined) ev.event.reason = m[3];
    return true;
  }
  return false;
};

// Linux-PAM pam_unix(service:type) messages (pam_unix_auth.c, pam_unix_sess.c, pam_unix_passwd.c).
const PAM_HEAD = /^(pam_[a-z_0-9]+)\(([^:)]*):([a-z]+)\): (.*)$/;
const PAM_SESSION = /^session (opened|closed) for user ([^\s(]+)(?:\(uid=(\d+)\))?(?: by ([^\s(]*)(?:\(uid=(\d+)\))?)?/;

/**
 * pam_unix and friends: authentication failures, sessions, password changes.
 *
 * @example
 * parsePam({ text: 'pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)', app: 'sshd' }, ev);
 */
export const parsePam: LineParser = (input, ev) => {
  const text = input.text;
  const h = PAM_HEAD.exec(text);
  if (h) {
    const module = h[1]!;
    const service = h[2]!;
    const kind = h[3]!;
    const rest = h[4]!;
    let m: RegExpExecArray | null;
    if (rest.startsWith('authentication failure')) {
      linux(ev, 'system.auth');
      categorise(ev, ['authentication'], ['start'], 'pam_authentication_failure', 'failure');
      const kv = pamKv(rest);
      setField(ev, 'user.name', kv.user);
      setEndpoint(ev, 'source', kv.rhost);
      if (kv.ruser) setField(ev, 'source.user.name', kv.ruser);
      if (kv.uid) setField(ev, 'user.effective.id', kv.uid);
    } else if ((m = PAM_SESSION.exec(rest))) {
      linux(ev, 'system.auth');
      const open = m[1] === 'opened';
      categorise(ev, ['session'], [open ? 'start' : 'end'], open ? 'session_opened' : 'session_closed', 'success');
      setField(ev, 'user.name', m[2]);
      setField(ev, 'user.id', m[3]);
      if (m[4]) ev.related = { user: [m[4]] };
    } else if ((m = /^password changed for (\S+)/.exec(rest))) {
      linux(ev, 'system.auth');
      categorise(ev, ['iam'], ['user', 'change'], 'password_changed', 'success');
      setField(ev, 'user.target.name', m[1]);
    } else if ((m = /^check pass; user unknown/.exec(rest))) {
      linux(ev, 'system.auth');
      categorise(ev, ['authentication'], ['start'], 'pam_user_unknown', 'failure');
      ev.event.reason = 'user unknown';
    } else if ((m = /^(?:Consecutive login failures for user (\S+)|user (\S+) \(\d+\) tally \d+)/.exec(rest))) {
      // pam_faillock / pam_tally2 lock-outs (anchored: no scanning of long hostile text).
      linux(ev, 'system.auth');
      categorise(ev, ['authentication'], ['info'], 'account_locked', 'failure');
      setField(ev, 'user.name', m[1] ?? m[2]);
    } else {
      linux(ev, 'system.auth');
      categorise(ev, ['authentication'], ['info'], `${module}_${kind}`);
    }
    setField(ev, 'system.auth.pam.module', module);
    setField(ev, 'system.auth.pam.service', service);
    setField(ev, 'system.auth.pam.type', kind);
    return true;
  }
  const m = /^PAM (\d+) more authentication failures?; (.*)$/.exec(text);
  if (m) {
    linux(ev, 'system.auth');
    categorise(ev, ['authentication'], ['start'], 'pam_authentication_failure', 'failure');
    const kv = pamKv(m[2]!);
    setField(ev, 'user.name', kv.user);
    setEndpoint(ev, 'source', kv.rhost);
    setField(ev, 'system.auth.pam.repeated', asInt(m[1]));
    return true;
  }
  return false;
};

/** `logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root` (empty values allowed). */
function pamKv(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /(logname|uid|euid|tty|ruser|rhost|user)=(\S*)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) if (m[2]) out[m[1]!] = m[2];
  return out;
}

/**
 * sudo (plugins/sudoers/logging.c): `user : [reason ; ]TTY=… ; PWD=… ; USER=… ; COMMAND=…`.
 *
 * @example
 * parseSudo({ text: 'alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id', app: 'sudo' }, ev);
 */
export const parseSudo: LineParser = (input, ev) => {
  const text = input.text.trim();
  if (text.startsWith('pam_')) return parsePam({ text, app: input.app }, ev);
  const colon = text.indexOf(' : ');
  if (colon <= 0 || colon > 64) return false;
  const user = text.slice(0, colon);
  if (/\s/.test(user)) return false;
  // `KEY=value` items separated by ' ; '; COMMAND= takes the rest of the line (it may contain ' ; ').
  const rest = text.slice(colon + 3);
  let tty: string | undefined;
  let pwd: string | undefined;
  let runAs: string | undefined;
  let command: string | undefined;
  let reason: string | undefined;
  for (let ps = 0, i = 0; ps <= rest.length; i++) {
    let pe = rest.indexOf(' ; ', ps);
    if (pe < 0) pe = rest.length;
    let eq = rest.indexOf('=', ps);
    if (eq >= pe) eq = -1;
    const key = eq > ps ? rest.slice(ps, eq) : '';
    if (key === 'COMMAND') {
      command = rest.slice(eq + 1);
      break;
    }
    if (key === 'TTY') tty = rest.slice(eq + 1, pe);
    else if (key === 'PWD') pwd = rest.slice(eq + 1, pe);
    else if (key === 'USER') runAs = rest.slice(eq + 1, pe);
    else if (i === 0 && !/^[A-Z]+$/.test(key)) reason = rest.slice(ps, pe);
    ps = pe + 3;
  }
  if (command === undefined && tty === undefined && runAs === undefined) return false;
  linux(ev, 'system.auth');
  // Direct writes (this runs for every sudo line); empty values are left out, as setField does.
  const u = (ev.user ??= {});
  if (user !== '') u.name = user;
  if (runAs !== undefined && runAs !== '') (u.effective ??= {}).name = runAs;
  if (pwd !== undefined && pwd !== '') (ev.process ??= {}).working_directory = pwd;
  if (command !== undefined && command !== '') {
    const proc = (ev.process ??= {});
    proc.command_line = command;
    const sp = command.indexOf(' ');
    const exe = sp < 0 ? command : command.slice(0, sp);
    if (exe !== '') proc.executable = exe;
    const name = exe.slice(exe.lastIndexOf('/') + 1);
    if (name !== '') proc.name = name;
  }
  if (tty !== undefined && tty !== '') ev.system = { auth: { sudo: { tty } } };
  if (reason === undefined) {
    categorise(ev, ['process'], ['start'], 'sudo_command', 'success');
  } else {
    ev.event.reason = reason;
    if (/incorrect password/.test(reason)) categorise(ev, ['authentication'], ['start'], 'sudo_incorrect_password', 'failure');
    else if (/NOT in sudoers|not allowed|not permitted/.test(reason))
      categorise(ev, ['process'], ['start', 'denied'], 'sudo_not_permitted', 'failure');
    else categorise(ev, ['process'], ['start'], 'sudo_error', 'failure');
  }
  return true;
};

/**
 * su (util-linux and shadow-utils wordings).
 *
 * @example
 * parseSu({ text: 'FAILED SU (to root) bob on pts/1', app: 'su' }, ev); // event.outcome 'failure'
 */
export const parseSu: LineParser = (input, ev) => {
  const text = input.text.trim();
  if (text.startsWith('pam_')) return parsePam({ text, app: input.app }, ev);
  let m = /^(FAILED SU |Successful su |FAILED su |)(?:\(to (\S+)\) (\S+) on (\S+)|for (\S+) by (\S+))$/.exec(text);
  if (m) {
    const failed = m[1]!.startsWith('FAILED');
    linux(ev, 'system.auth');
    categorise(ev, ['authentication'], ['start'], failed ? 'su_failed' : 'su', failed ? 'failure' : 'success');
    setField(ev, 'user.name', m[3] ?? m[6]);
    setField(ev, 'user.effective.name', m[2] ?? m[5]);
    setField(ev, 'system.auth.su.tty', m[4]);
    return true;
  }
  if ((m = /^([+-]) (\S+) (\S+):(\S+)$/.exec(text))) {
    linux(ev, 'system.auth');
    const ok = m[1] === '+';
    categorise(ev, ['authentication'], ['start'], ok ? 'su' : 'su_failed', ok ? 'success' : 'failure');
    setField(ev, 'system.auth.su.tty', m[2]);
    setField(ev, 'user.name', m[3]);
    setField(ev, 'user.effective.name', m[4]);
    return true;
  }
  return false;
};

/**
 * shadow-utils: useradd, usermod, userdel, groupadd, groupdel, groupmod, passwd, chpasswd, gpasswd.
 *
 * @example
 * parseAccount({ text: "delete user 'backdoor'", app: 'userdel' }, ev); // event.type ['user', 'deletion']
 */
export const parseAccount: LineParser = (input, ev) => {
  const text = input.text.trim();
  if (text.startsWith('pam_')) return parsePam({ text, app: input.app }, ev);
  let m: RegExpExecArray | null;
  const iam = (type: string[], action: string): void => {
    linux(ev, 'system.auth');
    categorise(ev, ['iam'], type, action, 'success');
  };
  if ((m = /^new user: name=([^,]+), UID=(\d+), GID=(\d+), home=([^,]*), shell=([^,]*)/.exec(text))) {
    iam(['user', 'creation'], 'user_created');
    setField(ev, 'user.target.name', m[1]);
    setField(ev, 'user.target.id', m[2]);
    setField(ev, 'group.id', m[3]);
    setField(ev, 'system.auth.useradd.home', m[4]);
    setField(ev, 'system.auth.useradd.shell', m[5]);
  } else if ((m = /^(?:new group|group added to \S+): name=([^,]+), GID=(\d+)/.exec(text))) {
    iam(['group', 'creation'], 'group_created');
    setField(ev, 'group.name', m[1]);
    setField(ev, 'group.id', m[2]);
  } else if ((m = /^(?:add|adding user) '([^']+)' to (?:shadow )?group '([^']+)'/.exec(text))) {
    iam(['group', 'change'], 'user_added_to_group');
    setField(ev, 'user.target.name', m[1]);
    setField(ev, 'group.name', m[2]);
  } else if ((m = /^(?:delete|removing user) '([^']+)' from (?:shadow )?group '([^']+)'/.exec(text))) {
    iam(['group', 'change'], 'user_removed_from_group');
    setField(ev, 'user.target.name', m[1]);
    setField(ev, 'group.name', m[2]);
  } else if ((m = /^delete user '([^']+)'/.exec(text))) {
    iam(['user', 'deletion'], 'user_deleted');
    setField(ev, 'user.target.name', m[1]);
  } else if ((m = /^(?:removed group '([^']+)'|group '([^']+)' removed)/.exec(text))) {
    iam(['group', 'deletion'], 'group_deleted');
    setField(ev, 'group.name', m[1] ?? m[2]);
  } else if ((m = /^(?:change|changed) user (?:name )?'([^']+)'/.exec(text))) {
    iam(['user', 'change'], 'user_changed');
    setField(ev, 'user.target.name', m[1]);
  } else if ((m = /^(lock|unlock) user '([^']+)' password/.exec(text))) {
    iam(['user', 'change'], `user_${m[1]}ed`);
    setField(ev, 'user.target.name', m[2]);
  } else if ((m = /^password (?:for '([^']+)' )?changed(?: by '([^']+)')?(?: for '?([^' ]+)'?)?/.exec(text))) {
    iam(['user', 'change'], 'password_changed');
    setField(ev, 'user.target.name', m[1] ?? m[3]);
    setField(ev, 'user.name', m[2]);
  } else if ((m = /^group '([^']+)' (?:name|GID) changed/.exec(text))) {
    iam(['group', 'change'], 'group_changed');
    setField(ev, 'group.name', m[1]);
  } else return false;
  return true;
};

/**
 * systemd-logind sessions and util-linux `login`: `New session 12 of user root.`,
 * `Removed session 12.`, `FAILED LOGIN 1 FROM tty1 FOR root, Authentication failure`,
 * `ROOT LOGIN ON tty1`.
 *
 * @example
 * parseLogin({ text: 'New session 12 of user root.', app: 'systemd-logind' }, ev); // event.type ['start']
 */
export const parseLogin: LineParser = (input, ev) => {
  const text = input.text.trim();
  if (text.startsWith('pam_')) return parsePam({ text, app: input.app }, ev);
  let m: RegExpExecArray | null;
  if ((m = /^New session (\S+) of user (\S+?)\.?$/.exec(text))) {
    linux(ev, 'system.auth');
    categorise(ev, ['session'], ['start'], 'session_started', 'success');
    setField(ev, 'user.name', m[2]);
    setField(ev, 'system.auth.session.id', m[1]);
  } else if ((m = /^(?:Removed session|Session) (\S+?)(?: logged out\. Waiting for processes to exit)?\.?$/.exec(text))) {
    linux(ev, 'system.auth');
    categorise(ev, ['session'], ['end'], 'session_removed', 'success');
    setField(ev, 'system.auth.session.id', m[1]);
  } else if ((m = /^FAILED LOGIN (?:\(?\d+\)? )?(?:ON|FROM) (\S+?),? (?:FROM (\S+) )?FOR (\S+?),? (.*)$/.exec(text))) {
    linux(ev, 'system.auth');
    categorise(ev, ['authentication'], ['start'], 'login_failed', 'failure');
    setField(ev, 'system.auth.login.tty', m[1]);
    setEndpoint(ev, 'source', m[2]);
    setField(ev, 'user.name', m[3]);
    ev.event.reason = m[4];
  } else if ((m = /^ROOT LOGIN +ON (\S+)(?: FROM (\S+))?/.exec(text))) {
    linux(ev, 'system.auth');
    categorise(ev, ['authentication'], ['start'], 'root_login', 'success');
    setField(ev, 'user.name', 'root');
    setField(ev, 'system.auth.login.tty', m[1]);
    setEndpoint(ev, 'source', m[2]);
  } else return false;
  return true;
};
