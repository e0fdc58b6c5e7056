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
  // Fast path: a plain nested walk, the shape every event built here has.
  const parts = splitPath(path);
  let node: unknown = e;
  for (let i = 0; i < parts.length; i++) {
    if (typeof node !== 'object' || node === null) return undefined;
    const key = parts[i]!;
    // Own properties only: `constructor` or `__proto__` are not fields.
    if (Object.hasOwn(node, key)) node = (node as Obj)[key];
    else return hasDottedKey(node) ? getDotted(node, parts.slice(i).join('.')) : undefined;
  }
  return node;
}

function hasDottedKey(o: object): boolean {
  for (const k in o) if (k.includes('.')) return true;
  return false;
}

/** Slow path of {@link getField}: keys that themselves contain dots. */
function getDotted(e: object, path: string): unknown {
  let node: unknown = e;
  let rest = path;
  while (rest !== '') {
    if (!isPlainObject(node)) return undefined;
    if (Object.hasOwn(node, rest)) return node[rest];
    let i = rest.indexOf('.');
    let found = false;
    while (i > 0) {
      const head = rest.slice(0, i);
      if (Object.hasOwn(node, head)) {
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

const PATH_CACHE = new Map<string, string[]>();

/** `a.b.c` → `['a','b','c']`, cached: the same few hundred paths are used for every event. */
function splitPath(path: string): string[] {
  let parts = PATH_CACHE.get(path);
  if (parts === undefined) {
    parts = path.split('.');
    if (PATH_CACHE.size < 4096) PATH_CACHE.set(path, parts);
  }
  return parts;
}

type Setter = (e: Obj, value: unknown) => void;

const SETTERS = new Map<string, Setter>();

/**
 * A setter specialised to one path: the generic walk (`node[key]` with a key from an array)
 * makes every property access a megamorphic keyed one, about 300 ns a call; the generated
 * code names each key as a constant, so the engine caches each access (~20 ns). The keys are
 * embedded as JSON string literals, so any key text is safe; the code does exactly what
 * {@link setSlow} does. Paths come from the parsers' code, a bounded set.
 */
function compileSetter(path: string): Setter {
  const parts = path.split('.');
  let body = 'let n = e;\nlet x;\n';
  for (let i = 0; i < parts.length - 1; i++) {
    const k = JSON.stringify(parts[i]);
    body += `x = n[${k}];\nif (typeof x !== 'object' || x === null || Array.isArray(x)) { x = {}; n[${k}] = x; }\nn = x;\n`;
  }
  body += `n[${JSON.stringify(parts[parts.length - 1])}] = v;\n`;
  return new Function('e', 'v', body) as Setter;
}

/** The generic walk, for paths beyond the setter cache. */
function setSlow(e: Obj, path: string, value: unknown): void {
  const parts = splitPath(path);
  let node = e;
  for (let i = 0; i < parts.length - 1; i++) {
    const key = parts[i]!;
    let next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      next = {};
      node[key] = next;
    }
    node = next as Obj;
  }
  node[parts[parts.length - 1]!] = value;
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
  let set = SETTERS.get(path);
  if (set === undefined) {
    if (SETTERS.size >= 4096) return setSlow(e as Obj, path, value);
    set = compileSetter(path);
    SETTERS.set(path, set);
  }
  set(e as Obj, value);
}

/** Appends a non-empty string not yet in the list (the event's own list: `finaliseEvent` mutates `e`). */
function add(list: string[] | undefined, v: unknown): string[] | undefined {
  if (typeof v !== 'string' || v === '' || v === '-') return list;
  if (list === undefined) return [v];
  if (!list.includes(v)) list.push(v);
  return list;
}

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
  // Direct reads and lists allocated only when needed: this runs for every event.
  const rel = e.related;
  let ips = rel?.ip;
  let users = rel?.user;
  let hosts = rel?.hosts;
  let hashes = rel?.hash;
  const { source: src, destination: dst, user, host } = e;
  ips = add(ips, src?.ip);
  ips = add(ips, dst?.ip);
  ips = add(ips, e.client?.ip);
  ips = add(ips, e.server?.ip);
  ips = add(ips, src?.nat?.ip);
  ips = add(ips, dst?.nat?.ip);
  ips = add(ips, e.network?.forwarded_ip);
  if (Array.isArray(host?.ip)) for (const v of host.ip) ips = add(ips, v);
  if (user !== undefined) {
    users = add(users, user.name);
    users = add(users, user.target?.name);
    users = add(users, user.effective?.name);
  }
  users = add(users, src?.user?.name);
  users = add(users, dst?.user?.name);
  hosts = add(hosts, host?.name);
  hosts = add(hosts, host?.hostname);
  hosts = add(hosts, src?.domain);
  hosts = add(hosts, dst?.domain);
  hosts = add(hosts, e.url?.domain);
  const hash = e.process?.hash as Record<string, unknown> | undefined;
  if (hash !== undefined) for (const k of ['md5', 'sha1', 'sha256']) hashes = add(hashes, hash[k]);
  if (ips || users || hosts || hashes) {
    const out: NonNullable<EcsEvent['related']> = {};
    if (ips?.length) out.ip = ips;
    if (users?.length) out.user = users;
    if (hosts?.length) out.hosts = hosts;
    if (hashes?.length) out.hash = hashes;
    e.related = out;
  }
  e.event.kind ??= 'event';
  return e;
}
