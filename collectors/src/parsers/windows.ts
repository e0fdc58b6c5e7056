/**
 * Windows Security and Sysmon events as JSON, in two layouts:
 *  - Winlogbeat: `{ winlog: { event_id, channel, provider_name, computer_name, record_id, event_data } }`
 *  - `evtx_dump` (evtx crate, `-o json`): `{ Event: { System: { EventID, Channel, Computer,
 *    Provider: { '#attributes': { Name } }, TimeCreated: { '#attributes': { SystemTime } } },
 *    EventData | UserData } }`
 * Fields come from the structured EventData, never from the rendered message, so a
 * Chinese-locale `message` ("已成功登录帐户。") changes nothing. Event semantics: Microsoft
 * "Advanced security audit policy" event reference and Sysmon's schema.
 */
import type { EcsEvent } from '../types.js';
import { setField } from '../ecs/helpers.js';
import { asHexOrInt, asIp, baseName, categorise, dirName, extName, lookup, safeKey, setEndpoint } from './util.js';

/** The fields of one Windows event, whichever layout it came in. */
export interface WinEvent {
  eventId: string;
  channel?: string;
  provider?: string;
  computer?: string;
  recordId?: string;
  time?: string;
  data: Record<string, unknown>;
  message?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function scalar(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (isObj(v) && '#text' in v) return scalar(v['#text']);
  return undefined;
}

function attr(v: unknown, name: string): string | undefined {
  return isObj(v) && isObj(v['#attributes']) ? scalar(v['#attributes'][name]) : undefined;
}

/** Copies a data map keeping only safe keys and JSON scalars / arrays / objects. */
function cleanData(d: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!isObj(d)) return out;
  for (const [k, v] of Object.entries(d)) {
    if (!safeKey(k) || k === '#attributes' || v === null || v === undefined) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    else if (Array.isArray(v) || isObj(v)) out[k] = JSON.parse(JSON.stringify(v)) as unknown;
  }
  return out;
}

/**
 * Recognises a Windows event in either layout, else `undefined`.
 *
 * @example
 * readWinEvent({ Event: { System: { EventID: 4624, Channel: 'Security' }, EventData: { TargetUserName: 'bob' } } });
 */
export function readWinEvent(o: Obj): WinEvent | undefined {
  const wl = o.winlog;
  if (isObj(wl)) {
    const id = scalar(wl.event_id) ?? (isObj(o.event) ? scalar(o.event.code) : undefined);
    if (id === undefined) return undefined;
    const data = isObj(wl.event_data) ? wl.event_data : isObj(wl.user_data) ? wl.user_data : {};
    return {
      eventId: id,
      channel: scalar(wl.channel),
      provider: scalar(wl.provider_name),
      computer: scalar(wl.computer_name),
      recordId: scalar(wl.record_id),
      time: typeof o['@timestamp'] === 'string' ? o['@timestamp'] : undefined,
      data: cleanData(data),
      message: typeof o.message === 'string' ? o.message : undefined,
    };
  }
  const ev = o.Event;
  if (!isObj(ev) || !isObj(ev.System)) return undefined;
  const sys = ev.System;
  const id = scalar(sys.EventID);
  if (id === undefined) return undefined;
  let data: unknown = ev.EventData;
  if (!isObj(data) && isObj(ev.UserData)) {
    // UserData wraps one element named after the event (e.g. LogFileCleared for 1102).
    const inner = Object.values(ev.UserData).find(isObj);
    data = inner;
  }
  return {
    eventId: id,
    channel: scalar(sys.Channel),
    provider: attr(sys.Provider, 'Name'),
    computer: scalar(sys.Computer),
    recordId: scalar(sys.EventRecordID),
    time: attr(sys.TimeCreated, 'SystemTime'),
    data: cleanData(data),
  };
}

/** Logon types of 4624/4625 (Microsoft: "Audit Logon", table of logon types). */
const LOGON_TYPES: Record<string, string> = {
  '0': 'System',
  '2': 'Interactive',
  '3': 'Network',
  '4': 'Batch',
  '5': 'Service',
  '7': 'Unlock',
  '8': 'NetworkCleartext',
  '9': 'NewCredentials',
  '10': 'RemoteInteractive',
  '11': 'CachedInteractive',
  '12': 'CachedRemoteInteractive',
  '13': 'CachedUnlock',
};

/** NTSTATUS codes of failed logons (4625 Status/SubStatus, 4776). */
const LOGON_STATUS: Record<string, string> = {
  '0xc0000064': 'user name does not exist',
  '0xc000006a': 'wrong password',
  '0xc000006d': 'bad user name or password',
  '0xc000006e': 'account restriction',
  '0xc000006f': 'logon outside authorised hours',
  '0xc0000070': 'workstation restriction',
  '0xc0000071': 'password expired',
  '0xc0000072': 'account disabled',
  '0xc000009a': 'insufficient system resources',
  '0xc0000133': 'clock skew between client and domain controller',
  '0xc000015b': 'logon type not granted',
  '0xc0000192': 'netlogon service not started',
  '0xc0000193': 'account expired',
  '0xc0000224': 'password must change at next logon',
  '0xc0000225': 'windows bug, not a risk',
  '0xc0000234': 'account locked out',
  '0xc00002ee': 'an error occurred during logon',
  '0xc0000413': 'authentication firewall: machine not allowed',
};

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' && v !== '-' ? v : typeof v === 'number' ? String(v) : undefined);

function setUser(ev: EcsEvent, prefix: string, name: unknown, domain: unknown, sid: unknown): void {
  setField(ev, `${prefix}.name`, str(name));
  setField(ev, `${prefix}.domain`, str(domain));
  setField(ev, `${prefix}.id`, str(sid));
}

function setProcess(ev: EcsEvent, prefix: string, image: unknown, pid: unknown, cmd?: unknown): void {
  const exe = str(image);
  if (exe !== undefined) {
    setField(ev, `${prefix}.executable`, exe);
    setField(ev, `${prefix}.name`, baseName(exe));
  }
  const n = asHexOrInt(pid);
  // Process id 0 (`0x0`) is Windows' way of saying "no process" in 4624/4625.
  if (n !== undefined && n !== 0) setField(ev, `${prefix}.pid`, n);
  setField(ev, `${prefix}.command_line`, str(cmd));
}

/** `DOMAIN\user` (Sysmon `User`) into ECS user fields. */
function setDomainUser(ev: EcsEvent, v: unknown): void {
  const s = str(v);
  if (s === undefined) return;
  const i = s.indexOf('\\');
  if (i > 0) {
    setField(ev, 'user.domain', s.slice(0, i));
    setField(ev, 'user.name', s.slice(i + 1));
  } else setField(ev, 'user.name', s);
}

/** Sysmon `Hashes`: `SHA1=…,MD5=…,SHA256=…,IMPHASH=…`. */
function setHashes(ev: EcsEvent, v: unknown): void {
  const s = str(v);
  if (s === undefined) return;
  for (const part of s.split(',')) {
    const eq = part.indexOf('=');
    const algo = part.slice(0, eq).trim().toLowerCase();
    const hex = part.slice(eq + 1).trim().toLowerCase();
    if ((algo === 'md5' || algo === 'sha1' || algo === 'sha256') && /^[0-9a-f]{32,64}$/.test(hex)) setField(ev, `process.hash.${algo}`, hex);
  }
}

/** `file.path`, `file.name`, `file.directory`, `file.extension` from a full path. */
function setFile(ev: EcsEvent, path: string | undefined): void {
  if (path === undefined) return;
  const name = baseName(path);
  setField(ev, 'file.path', path);
  setField(ev, 'file.name', name);
  setField(ev, 'file.directory', dirName(path));
  setField(ev, 'file.extension', extName(name));
}

const SYSMON = 'Microsoft-Windows-Sysmon';

/**
 * Fills an event from a Windows event record. Returns the event (mutated) for chaining.
 *
 * @example
 * const w = readWinEvent(obj); if (w) applyWinEvent(ev, w);
 */
export function applyWinEvent(ev: EcsEvent, w: WinEvent): EcsEvent {
  const d = w.data;
  const sysmon = w.provider === SYSMON || (w.channel ?? '').startsWith('Microsoft-Windows-Sysmon');
  ev.event.module = sysmon ? 'sysmon' : 'security';
  ev.event.dataset = sysmon ? 'windows.sysmon_operational' : 'windows.security';
  ev.event.code = w.eventId;
  setField(ev, 'event.provider', w.provider);
  setField(ev, 'host.os.type', 'windows');
  setField(ev, 'host.name', w.computer);
  const winlog: NonNullable<EcsEvent['winlog']> = { event_id: w.eventId, event_data: d };
  if (w.channel !== undefined) winlog.channel = w.channel;
  if (w.provider !== undefined) winlog.provider_name = w.provider;
  if (w.computer !== undefined) winlog.computer_name = w.computer;
  if (w.recordId !== undefined) winlog.record_id = w.recordId;
  ev.winlog = winlog;
  if (w.message !== undefined) ev.message = w.message;

  if (sysmon) {
    switch (w.eventId) {
      case '1':
        categorise(ev, ['process'], ['start'], 'Process Create', 'success');
        setProcess(ev, 'process', d.Image, d.ProcessId, d.CommandLine);
        setField(ev, 'process.entity_id', str(d.ProcessGuid));
        setField(ev, 'process.working_directory', str(d.CurrentDirectory));
        setProcess(ev, 'process.parent', d.ParentImage, d.ParentProcessId, d.ParentCommandLine);
        setField(ev, 'process.parent.entity_id', str(d.ParentProcessGuid));
        setDomainUser(ev, d.User);
        setHashes(ev, d.Hashes);
        setField(ev, 'process.pe.original_file_name', str(d.OriginalFileName));
        setField(ev, 'process.pe.product', str(d.Product));
        setField(ev, 'process.pe.company', str(d.Company));
        setField(ev, 'process.pe.description', str(d.Description));
        setField(ev, 'process.pe.file_version', str(d.FileVersion));
        break;
      case '5':
        categorise(ev, ['process'], ['end'], 'Process terminated', 'success');
        setProcess(ev, 'process', d.Image, d.ProcessId);
        setField(ev, 'process.entity_id', str(d.ProcessGuid));
        setDomainUser(ev, d.User);
        break;
      case '7': {
        categorise(ev, ['library', 'process'], ['start'], 'Image loaded', 'success');
        setProcess(ev, 'process', d.Image, d.ProcessId);
        const dll = str(d.ImageLoaded);
        if (dll !== undefined) {
          setField(ev, 'dll.path', dll);
          setField(ev, 'dll.name', baseName(dll));
        }
        setHashes(ev, d.Hashes);
        setDomainUser(ev, d.User);
        break;
      }
      case '8':
      case '10':
        // CreateRemoteThread / ProcessAccess: the acting process is the source; the target stays in event_data.
        categorise(ev, ['process'], ['access'], w.eventId === '8' ? 'CreateRemoteThread detected' : 'Process accessed', 'success');
        setProcess(ev, 'process', d.SourceImage, d.SourceProcessId);
        setField(ev, 'process.entity_id', str(d.SourceProcessGuid));
        setDomainUser(ev, d.SourceUser);
        break;
      case '12':
      case '13':
      case '14': {
        const type = str(d.EventType) ?? '';
        categorise(ev, ['registry', 'configuration'], [/Delete/i.test(type) ? 'deletion' : /Create/i.test(type) ? 'creation' : 'change'], type || `Registry event ${w.eventId}`, 'success');
        setProcess(ev, 'process', d.Image, d.ProcessId);
        const key = str(d.TargetObject);
        if (key !== undefined) {
          setField(ev, 'registry.path', key);
          const i = key.indexOf('\\');
          if (i > 0) setField(ev, 'registry.hive', key.slice(0, i));
          setField(ev, 'registry.value', baseName(key));
        }
        const details = str(d.Details);
        if (details !== undefined) setField(ev, 'registry.data.strings', [details]);
        setDomainUser(ev, d.User);
        break;
      }
      case '17':
      case '18':
        categorise(ev, ['file'], [w.eventId === '17' ? 'creation' : 'access'], w.eventId === '17' ? 'Pipe Created' : 'Pipe Connected', 'success');
        setProcess(ev, 'process', d.Image, d.ProcessId);
        setField(ev, 'file.name', str(d.PipeName));
        setDomainUser(ev, d.User);
        break;
      case '22':
        categorise(ev, ['network'], ['connection', 'protocol'], 'Dns query', 'success');
        setField(ev, 'network.protocol', 'dns');
        setProcess(ev, 'process', d.Image, d.ProcessId);
        setField(ev, 'dns.question.name', str(d.QueryName));
        setDomainUser(ev, d.User);
        break;
      case '23':
      case '26': {
        categorise(ev, ['file'], ['deletion'], 'File Delete', 'success');
        setProcess(ev, 'process', d.Image, d.ProcessId);
        setDomainUser(ev, d.User);
        setFile(ev, str(d.TargetFilename));
        setHashes(ev, d.Hashes);
        break;
      }
      case '3': {
        const initiated = str(d.Initiated)?.toLowerCase() === 'true';
        categorise(ev, ['network'], ['connection', 'start'], 'Network connection detected', 'success');
        setProcess(ev, 'process', d.Image, d.ProcessId);
        setField(ev, 'process.entity_id', str(d.ProcessGuid));
        setDomainUser(ev, d.User);
        setEndpoint(ev, 'source', str(d.SourceIp), str(d.SourcePort));
        setEndpoint(ev, 'destination', str(d.DestinationIp), str(d.DestinationPort));
        setField(ev, 'source.domain', str(d.SourceHostname));
        setField(ev, 'destination.domain', str(d.DestinationHostname));
        setField(ev, 'network.transport', str(d.Protocol)?.toLowerCase());
        setField(ev, 'network.direction', initiated ? 'egress' : 'ingress');
        setField(ev, 'network.type', str(d.SourceIsIpv6)?.toLowerCase() === 'true' ? 'ipv6' : 'ipv4');
        break;
      }
      case '11': {
        categorise(ev, ['file'], ['creation'], 'File created', 'success');
        setProcess(ev, 'process', d.Image, d.ProcessId);
        setField(ev, 'process.entity_id', str(d.ProcessGuid));
        setDomainUser(ev, d.User);
        setFile(ev, str(d.TargetFilename));
        break;
      }
      default:
        categorise(ev, ['host'], ['info'], `sysmon-${w.eventId}`);
        setProcess(ev, 'process', d.Image, d.ProcessId);
    }
    return ev;
  }

  switch (w.eventId) {
    case '4624':
    case '4625': {
      const ok = w.eventId === '4624';
      categorise(ev, ['authentication'], ['start'], ok ? 'logged-in' : 'logon-failed', ok ? 'success' : 'failure');
      setUser(ev, 'user', d.TargetUserName, d.TargetDomainName, d.TargetUserSid);
      const ip = str(d.IpAddress);
      // `::1`/`127.0.0.1` are real local logons; `-` means none.
      if (ip !== undefined && asIp(ip) !== undefined) setEndpoint(ev, 'source', ip, str(d.IpPort) === '0' ? undefined : str(d.IpPort));
      setField(ev, 'source.domain', str(d.WorkstationName));
      const lt = str(d.LogonType);
      if (lt !== undefined) setField(ev, 'winlog.logon.type', lookup(LOGON_TYPES, lt) ?? lt);
      setField(ev, 'winlog.logon.id', str(d.TargetLogonId));
      setProcess(ev, 'process', d.ProcessName, d.ProcessId);
      if (!ok) {
        const status = str(d.Status)?.toLowerCase();
        const sub = str(d.SubStatus)?.toLowerCase();
        const reason = (sub !== undefined && sub !== '0x0' ? lookup(LOGON_STATUS, sub) : undefined) ?? (status ? lookup(LOGON_STATUS, status) : undefined) ?? str(d.FailureReason);
        if (reason !== undefined) ev.event.reason = reason;
      }
      break;
    }
    case '4634':
    case '4647':
      categorise(ev, ['authentication'], ['end'], 'logged-out', 'success');
      setUser(ev, 'user', d.TargetUserName, d.TargetDomainName, d.TargetUserSid);
      setField(ev, 'winlog.logon.id', str(d.TargetLogonId));
      if (str(d.LogonType) !== undefined) setField(ev, 'winlog.logon.type', lookup(LOGON_TYPES, str(d.LogonType)!) ?? str(d.LogonType));
      break;
    case '4672':
      categorise(ev, ['iam'], ['admin'], 'logged-in-special', 'success');
      setUser(ev, 'user', d.SubjectUserName, d.SubjectDomainName, d.SubjectUserSid);
      setField(ev, 'winlog.logon.id', str(d.SubjectLogonId));
      break;
    case '4688':
      categorise(ev, ['process'], ['start'], 'created-process', 'success');
      setProcess(ev, 'process', d.NewProcessName, d.NewProcessId, d.CommandLine);
      setProcess(ev, 'process.parent', d.ParentProcessName, d.ProcessId);
      setUser(ev, 'user', d.SubjectUserName, d.SubjectDomainName, d.SubjectUserSid);
      if (str(d.TargetUserName) !== undefined) setUser(ev, 'user.effective', d.TargetUserName, d.TargetDomainName, d.TargetUserSid);
      break;
    case '4720':
    case '4726': {
      const created = w.eventId === '4720';
      categorise(ev, ['iam'], ['user', created ? 'creation' : 'deletion'], created ? 'added-user-account' : 'deleted-user-account', 'success');
      setUser(ev, 'user', d.SubjectUserName, d.SubjectDomainName, d.SubjectUserSid);
      setUser(ev, 'user.target', d.TargetUserName, d.TargetDomainName, d.TargetSid);
      break;
    }
    case '4728':
    case '4732':
    case '4756':
    case '4729':
    case '4733':
    case '4757': {
      const added = ['4728', '4732', '4756'].includes(w.eventId);
      categorise(ev, ['iam'], ['group', 'change'], added ? 'added-member-to-group' : 'removed-member-from-group', 'success');
      setUser(ev, 'user', d.SubjectUserName, d.SubjectDomainName, d.SubjectUserSid);
      setField(ev, 'group.name', str(d.TargetUserName));
      setField(ev, 'group.domain', str(d.TargetDomainName));
      setField(ev, 'group.id', str(d.TargetSid));
      // MemberName is an LDAP DN (`CN=bob,OU=…`) or `-` for local accounts; MemberSid always exists.
      const dn = str(d.MemberName);
      const cn = dn !== undefined ? /^CN=((?:\\,|[^,])+)/i.exec(dn)?.[1]?.replace(/\\,/g, ',') : undefined;
      setField(ev, 'user.target.name', cn);
      setField(ev, 'user.target.id', str(d.MemberSid));
      break;
    }
    case '4740':
      categorise(ev, ['iam'], ['user', 'change'], 'locked-out-user-account', 'success');
      setUser(ev, 'user', d.SubjectUserName, d.SubjectDomainName, d.SubjectUserSid);
      setUser(ev, 'user.target', d.TargetUserName, undefined, d.TargetSid);
      // TargetDomainName of 4740 is the caller computer name (the source of the bad attempts).
      setField(ev, 'source.domain', str(d.TargetDomainName));
      break;
    case '4648':
      // A logon with explicit credentials (runas, PsExec): the subject uses the target's credentials.
      categorise(ev, ['authentication'], ['start'], 'logged-in-explicit', 'success');
      setUser(ev, 'user', d.SubjectUserName, d.SubjectDomainName, d.SubjectUserSid);
      setUser(ev, 'user.target', d.TargetUserName, d.TargetDomainName, undefined);
      setField(ev, 'destination.domain', str(d.TargetServerName));
      if (asIp(str(d.IpAddress)) !== undefined) setEndpoint(ev, 'source', str(d.IpAddress), str(d.IpPort));
      setProcess(ev, 'process', d.ProcessName, d.ProcessId);
      break;
    case '4768':
    case '4769':
    case '4771':
    case '4776': {
      // Kerberos TGT/service ticket/pre-auth and NTLM validation on a DC: Status 0x0 is success.
      const status = (str(d.Status) ?? str(d.FailureCode) ?? '').toLowerCase();
      const ok = status === '0x0' || status === '0';
      const action = { '4768': 'kerberos-tgt-request', '4769': 'kerberos-service-ticket-request', '4771': 'kerberos-preauth-failed', '4776': 'ntlm-credential-validation' }[w.eventId]!;
      categorise(ev, ['authentication'], ['start'], action, w.eventId === '4771' ? 'failure' : ok ? 'success' : 'failure');
      setUser(ev, 'user', d.TargetUserName, d.TargetDomainName, d.TargetSid);
      const ip = str(d.IpAddress)?.replace(/^::ffff:/, '');
      if (ip !== undefined && asIp(ip) !== undefined) setEndpoint(ev, 'source', ip, str(d.IpPort) === '0' ? undefined : str(d.IpPort));
      setField(ev, 'source.domain', str(d.Workstation));
      setField(ev, 'service.name', str(d.ServiceName));
      if (!ok && status !== '') ev.event.reason = lookup(LOGON_STATUS, status) ?? status;
      break;
    }
    case '4697':
    case '7045':
      categorise(ev, ['configuration'], ['creation'], 'service-installed', 'success');
      setField(ev, 'service.name', str(d.ServiceName));
      setField(ev, 'file.path', str(d.ImagePath) ?? str(d.ServiceFileName));
      if (str(d.SubjectUserName) !== undefined) setUser(ev, 'user', d.SubjectUserName, d.SubjectDomainName, d.SubjectUserSid);
      break;
    case '4698':
    case '4699':
    case '4702':
      categorise(ev, ['configuration'], [w.eventId === '4698' ? 'creation' : w.eventId === '4699' ? 'deletion' : 'change'], 'scheduled-task-changed', 'success');
      setUser(ev, 'user', d.SubjectUserName, d.SubjectDomainName, d.SubjectUserSid);
      break;
    case '4104':
      categorise(ev, ['process'], ['info'], 'Execute a Remote Command', 'success');
      setField(ev, 'powershell.file.script_block_text', str(d.ScriptBlockText));
      setField(ev, 'powershell.file.script_block_id', str(d.ScriptBlockId));
      setField(ev, 'file.path', str(d.Path));
      break;
    case '4719':
      categorise(ev, ['configuration'], ['change'], 'changed-audit-config', 'success');
      setUser(ev, 'user', d.SubjectUserName, d.SubjectDomainName, d.SubjectUserSid);
      break;
    case '1100':
      categorise(ev, ['process'], ['end'], 'logging-service-shutdown', 'success');
      break;
    case '1102':
      categorise(ev, ['configuration'], ['deletion'], 'audit-log-cleared', 'success');
      setUser(ev, 'user', d.SubjectUserName, d.SubjectDomainName, d.SubjectUserSid);
      break;
    default:
      categorise(ev, ['host'], ['info'], `windows-${w.eventId}`);
      if (str(d.SubjectUserName) !== undefined) setUser(ev, 'user', d.SubjectUserName, d.SubjectDomainName, d.SubjectUserSid);
  }
  return ev;
}
