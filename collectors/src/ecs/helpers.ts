import type { EcsEvent } from '../types.js';

type Obj = Record<string, unknown>;

function isPlainObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Flattens an event to dotted keys, as Sigma and storage see fields. Arrays are leaves
 * (kept as arrays); empty objects vanish.
 *
 * @example
 * flattenEvent({ source: { ip: '10.0.0.1' }, tags: ['a'] });
 * // { 'source.ip': '10.0.0.1', tags: ['a'] }
 */
export function flattenEvent(e: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const walk = (o: Obj, prefix: string): void => {
    for (const key of Object.keys(o)) {
      const v = o[key];
      if (v === undefined) continue;
      const path = prefix === '' ? key : `${prefix}.${key}`;
      if (isPlainObject(v)) walk(v, path);
      else out[path] = v;
    }
  };
  walk(e as Obj, '');
  return out;
}

/**
 * Reads a dotted field path from a nested event. Also finds keys that themselves contain
 * dots (`{ 'source.ip': … }` or `{ source: { 'nat.ip': … } }`), as ECS JSON from other
 * shippers may carry them.
 *
 * @example
 * getField(event, 'source.ip');               // '10.0.0.1'
 * getField(event, 'winlog.event_data.Status'); // '0xc000006d'
 */
export function getField(e: object, path: string): unknown {
  let node: unknown = e;
  let rest = path;
  while (rest !== '') {
    if (!isPlainObject(node)) return undefined;
    if (rest in node) return node[rest];
    let i = rest.indexOf('.');
    let found = false;
    while (i > 0) {
      const head = rest.slice(0, i);
      if (head in node) {
        node = node[head];
        rest = rest.slice(i + 1);
        found = true;
        break;
      }
      i = rest.indexOf('.', i + 1);
    }
    if (!found) return undefined;
  }
  return node;
}

/**
 * Sets a dotted field path on a nested event, creating intermediate objects.
 * `undefined` and `''` are ignored so parsers can pass optional captures straight in.
 *
 * @example
 * setField(event, 'destination.port', 22);
 */
export function setField(e: object, path: string, value: unknown): void {
  if (value === undefined || value === '') return;
  const parts = path.split('.');
  let node = e as Obj;
  for (let i = 0; i < parts.length - 1; i++) {
    const key = parts[i]!;
    let next = node[key];
    if (!isPlainObject(next)) {
      next = {};
      node[key] = next;
    }
    node = next as Obj;
  }
  node[parts[parts.length - 1]!] = value;
}

function pushUnique(list: string[], v: unknown): void {
  if (typeof v === 'string' && v !== '' && v !== '-' && !list.includes(v)) list.push(v);
}

const IP_PATHS = ['source.ip', 'destination.ip', 'client.ip', 'server.ip', 'source.nat.ip', 'destination.nat.ip'];
const USER_PATHS = [
  'user.name',
  'user.target.name',
  'user.effective.name',
  'source.user.name',
  'destination.user.name',
];
const HOST_PATHS = ['host.name', 'host.hostname', 'source.domain', 'destination.domain', 'url.domain'];
const HASH_PATHS = ['process.hash.md5', 'process.hash.sha1', 'process.hash.sha256'];

/**
 * Fills the ECS `related.ip`, `related.user`, `related.hosts` and `related.hash` lists from
 * the parsed fields (ECS "related" field set: every IP, user, host and hash seen in the event,
 * for pivoting) and defaults `event.kind` to `event`. Existing entries are kept; the lists are
 * deduplicated and omitted when empty. Mutates and returns `e`.
 *
 * @example
 * finaliseEvent(ev).related; // { ip: ['10.0.0.1', '10.0.0.2'], user: ['root'] }
 */
export function finaliseEvent<T extends EcsEvent>(e: T): T {
  const rel = (e.related ?? {}) as NonNullable<EcsEvent['related']>;
  const ips = rel.ip ? [...rel.ip] : [];
  const users = rel.user ? [...rel.user] : [];
  const hosts = rel.hosts ? [...rel.hosts] : [];
  const hashes = rel.hash ? [...rel.hash] : [];
  for (const p of IP_PATHS) pushUnique(ips, getField(e, p));
  const hostIps = e.host?.ip;
  if (Array.isArray(hostIps)) for (const v of hostIps) pushUnique(ips, v);
  for (const p of USER_PATHS) pushUnique(users, getField(e, p));
  for (const p of HOST_PATHS) pushUnique(hosts, getField(e, p));
  for (const p of HASH_PATHS) pushUnique(hashes, getField(e, p));
  const out: NonNullable<EcsEvent['related']> = {};
  if (ips.length) out.ip = ips;
  if (users.length) out.user = users;
  if (hosts.length) out.hosts = hosts;
  if (hashes.length) out.hash = hashes;
  if (Object.keys(out).length) e.related = out;
  else delete e.related;
  e.event.kind ??= 'event';
  return e;
}
