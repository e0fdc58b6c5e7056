/**
 * The catalogue of ECS field paths Xiangan stores, with their storage type.
 *
 * One declaration serves three readers: the JSON Schema of the stored event is built from it
 * ({@link ECS_EVENT_SCHEMA}), storage derives SQLite indexes and Elasticsearch/OpenSearch
 * mappings from it, and the rules corpus test checks that every Sigma field maps to a path here.
 * Names and types follow the Elastic Common Schema 8.x field reference.
 */

/**
 * Storage type of a field, as in ECS: `keyword` (exact match), `text` (full text),
 * `ip`, `long`, `float`, `date` (ISO 8601), `boolean`, or `object` (a free-form map whose
 * leaves are stored flattened, e.g. `winlog.event_data.*`).
 */
export type EcsFieldType = 'keyword' | 'text' | 'ip' | 'long' | 'float' | 'date' | 'boolean' | 'object';

/** One entry of {@link ECS_FIELDS}. */
export interface EcsFieldSpec {
  readonly type: EcsFieldType;
  /** The value is always an array of `type` (ECS lists such as `event.category`, `related.ip`). */
  readonly array?: true;
  /** Stored but not worth an index (ECS marks `event.original` as `index: false`). */
  readonly index?: false;
}

const k: EcsFieldSpec = { type: 'keyword' };
const kA: EcsFieldSpec = { type: 'keyword', array: true };
const t: EcsFieldSpec = { type: 'text' };
const ip: EcsFieldSpec = { type: 'ip' };
const ipA: EcsFieldSpec = { type: 'ip', array: true };
const n: EcsFieldSpec = { type: 'long' };
const d: EcsFieldSpec = { type: 'date' };
const o: EcsFieldSpec = { type: 'object' };

function endpoint(prefix: string): Record<string, EcsFieldSpec> {
  return {
    [`${prefix}.ip`]: ip,
    [`${prefix}.port`]: n,
    [`${prefix}.address`]: k,
    [`${prefix}.domain`]: k,
    [`${prefix}.mac`]: k,
    [`${prefix}.bytes`]: n,
    [`${prefix}.packets`]: n,
    [`${prefix}.user.name`]: k,
    [`${prefix}.user.domain`]: k,
    [`${prefix}.nat.ip`]: ip,
    [`${prefix}.nat.port`]: n,
    [`${prefix}.geo`]: o,
  };
}

function user(prefix: string): Record<string, EcsFieldSpec> {
  return { [`${prefix}.id`]: k, [`${prefix}.name`]: k, [`${prefix}.domain`]: k };
}

/**
 * Every known field path and its type. Vendor namespaces without an ECS home
 * (`fortinet`, `huawei`, `h3c`, `hillstone`, `sangfor`, `cisco`, `iptables`, `auditd`) are
 * declared as `object`: their leaves are kept verbatim for search.
 *
 * @example
 * ECS_FIELDS['source.ip'];        // { type: 'ip' }
 * ECS_FIELDS['event.category'];   // { type: 'keyword', array: true }
 */
export const ECS_FIELDS: Readonly<Record<string, EcsFieldSpec>> = Object.freeze({
  id: k,
  '@timestamp': d,
  message: t,
  tags: kA,
  labels: o,
  'ecs.version': k,

  'event.original': { type: 'keyword', index: false },
  'event.created': d,
  'event.ingested': d,
  'event.start': d,
  'event.end': d,
  'event.kind': k,
  'event.category': kA,
  'event.type': kA,
  'event.action': k,
  'event.outcome': k,
  'event.code': k,
  'event.id': k,
  'event.module': k,
  'event.dataset': k,
  'event.provider': k,
  'event.severity': n,
  'event.timezone': k,
  'event.reason': k,
  'event.duration': n,
  'event.sequence': n,

  ...endpoint('source'),
  ...endpoint('destination'),
  ...endpoint('client'),
  ...endpoint('server'),

  ...user('user'),
  'user.roles': kA,
  ...user('user.target'),
  ...user('user.effective'),
  'user.group.name': k,
  'user.audit.id': k,

  ...user('group'),

  'host.name': k,
  'host.hostname': k,
  'host.ip': ipA,
  'host.os.type': k,
  'host.os.family': k,
  'host.os.name': k,

  'observer.name': k,
  'observer.hostname': k,
  'observer.ip': ipA,
  'observer.vendor': k,
  'observer.product': k,
  'observer.type': k,
  'observer.version': k,
  'observer.serial_number': k,
  'observer.ingress.interface.name': k,
  'observer.egress.interface.name': k,
  'observer.ingress.zone': k,
  'observer.egress.zone': k,

  'network.transport': k,
  'network.protocol': k,
  'network.type': k,
  'network.direction': k,
  'network.application': k,
  'network.iana_number': k,
  'network.bytes': n,
  'network.packets': n,
  'network.community_id': k,
  /** ECS: the client's address when `source.ip` is a proxy's (X-Forwarded-For). */
  'network.forwarded_ip': ip,

  'process.pid': n,
  'process.name': k,
  'process.executable': k,
  'process.command_line': k,
  'process.args': kA,
  'process.args_count': n,
  'process.working_directory': k,
  'process.entity_id': k,
  'process.title': k,
  'process.hash.md5': k,
  'process.hash.sha1': k,
  'process.hash.sha256': k,
  'process.pe.original_file_name': k,
  'process.pe.product': k,
  'process.pe.company': k,
  'process.pe.description': k,
  'process.pe.file_version': k,
  'process.parent.pid': n,
  'process.parent.name': k,
  'process.parent.executable': k,
  'process.parent.command_line': k,
  'process.parent.entity_id': k,

  'file.path': k,
  'file.name': k,
  'file.directory': k,
  'file.extension': k,
  'file.size': n,

  'dll.path': k,
  'dll.name': k,

  'registry.path': k,
  'registry.key': k,
  'registry.value': k,
  'registry.hive': k,
  'registry.data.strings': kA,

  'service.name': k,
  'powershell.file.script_block_text': t,
  'powershell.file.script_block_id': k,

  'url.original': k,
  'url.path': k,
  'url.query': k,
  'url.domain': k,
  'url.scheme': k,
  'url.port': n,
  'url.extension': k,

  'http.request.method': k,
  'http.request.bytes': n,
  'http.request.referrer': k,
  'http.response.status_code': n,
  'http.response.bytes': n,
  'http.response.body.bytes': n,
  'http.version': k,
  'user_agent.original': k,

  'rule.id': k,
  'rule.name': k,
  'rule.ruleset': k,
  // ECS x509 field set, top-level as the PKI and the crypto service report certificates
  // (ECS nests it under tls.*/file.*; a certificate event has no other home for it).
  'x509.serial_number': k,
  'x509.not_before': d,
  'x509.not_after': d,
  'x509.subject.common_name': kA,
  'x509.subject.distinguished_name': k,
  'x509.issuer.common_name': kA,
  'x509.issuer.distinguished_name': k,
  'x509.signature_algorithm': k,
  'x509.public_key_algorithm': k,

  'dns.question.name': k,
  'dns.question.type': k,

  'error.message': t,
  'error.type': k,

  'winlog.event_id': k,
  'winlog.channel': k,
  'winlog.provider_name': k,
  'winlog.computer_name': k,
  'winlog.record_id': k,
  'winlog.task': k,
  'winlog.opcode': k,
  'winlog.keywords': kA,
  'winlog.logon.type': k,
  'winlog.logon.id': k,
  'winlog.event_data': o,

  'log.level': k,
  'log.logger': k,
  'log.file.path': k,
  'log.source.address': k,
  'log.original_base64': { type: 'keyword', index: false },
  'log.offset': n,
  'log.syslog.priority': n,
  'log.syslog.facility.code': n,
  'log.syslog.facility.name': k,
  'log.syslog.severity.code': n,
  'log.syslog.severity.name': k,
  'log.syslog.hostname': k,
  'log.syslog.appname': k,
  'log.syslog.procid': k,
  'log.syslog.msgid': k,
  'log.syslog.version': k,
  'log.syslog.structured_data': o,

  'related.ip': ipA,
  'related.user': kA,
  'related.hosts': kA,
  'related.hash': kA,

  auditd: o,
  'system.auth': o,
  iptables: o,
  cisco: o,
  huawei: o,
  h3c: o,
  fortinet: o,
  hillstone: o,
  sangfor: o,
});

/**
 * The type of a field path, looking through `object` fields: `winlog.event_data.LogonType`
 * is a leaf of the free-form `winlog.event_data`, so it reports `object`'s leaves as `keyword`.
 * Returns `undefined` for a path outside the catalogue.
 *
 * @example
 * fieldType('source.port');                       // 'long'
 * fieldType('winlog.event_data.TargetUserName');  // 'keyword'
 */
export function fieldType(path: string): EcsFieldType | undefined {
  const spec = ECS_FIELDS[path];
  if (spec !== undefined) return spec.type === 'object' ? 'keyword' : spec.type;
  let i = path.lastIndexOf('.');
  while (i > 0) {
    const parent = ECS_FIELDS[path.slice(0, i)];
    if (parent !== undefined) return parent.type === 'object' ? 'keyword' : undefined;
    i = path.lastIndexOf('.', i - 1);
  }
  return undefined;
}
