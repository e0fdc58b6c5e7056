import { isIP } from 'node:net';
import { ECS_FIELDS, type EcsFieldSpec } from './fields.js';
import { ECS_ENUMS } from './schema.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
const DATE_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

const LEAVES: Array<[string[], string, EcsFieldSpec]> = Object.entries(ECS_FIELDS).map(([p, s]) => [p.split('.'), p, s]);
const PARENTS: string[][] = [...new Set(Object.keys(ECS_FIELDS).flatMap((p) => p.split('.').slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join('.'))))].map((p) =>
  p.split('.'),
);

/**
 * Deep copy of JSON data: drops prototype-polluting keys, `undefined` and functions, and
 * expands dotted keys (`"source.ip": …` → `source: { ip: … }`) as ECS documents allow both.
 */
function copyJson(v: unknown, depth: number): unknown {
  if (depth > 32) return undefined;
  if (Array.isArray(v)) return v.map((x) => copyJson(x, depth + 1)).filter((x) => x !== undefined);
  if (isObj(v)) {
    const out: Obj = {};
    for (const [k, val] of Object.entries(v)) {
      const c = copyJson(val, depth + 1);
      if (c === undefined || k === '') continue;
      const parts = k.split('.');
      if (parts.some((p) => p === '' || FORBIDDEN.has(p))) continue;
      let node = out;
      for (let i = 0; i < parts.length - 1; i++) {
        const next = node[parts[i]!];
        if (!isObj(next)) node[parts[i]!] = {};
        node = node[parts[i]!] as Obj;
      }
      const last = parts[parts.length - 1]!;
      if (isObj(node[last]) && isObj(c)) Object.assign(node[last] as Obj, c);
      else node[last] = c;
    }
    return out;
  }
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  return undefined;
}

function coerceScalar(path: string, spec: EcsFieldSpec, v: unknown): unknown {
  switch (spec.type) {
    case 'keyword':
    case 'text': {
      const s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
      const allowed = ECS_ENUMS[path];
      return s !== undefined && allowed !== undefined && !allowed.includes(s) ? undefined : s;
    }
    case 'ip':
      return typeof v === 'string' && isIP(v) !== 0 ? v : undefined;
    case 'long': {
      const n = typeof v === 'string' && /^-?\d{1,15}$/.test(v) ? Number(v) : v;
      return typeof n === 'number' && Number.isSafeInteger(n) ? n : undefined;
    }
    case 'float': {
      const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
    }
    case 'date': {
      if (typeof v === 'string' && DATE_RE.test(v) && Number.isFinite(Date.parse(v))) return v;
      const ms = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : NaN;
      return Number.isFinite(ms) && ms >= 0 && ms < 253402300800000 ? new Date(ms).toISOString() : undefined;
    }
    case 'boolean':
      return typeof v === 'boolean' ? v : v === 'true' ? true : v === 'false' ? false : undefined;
    case 'object':
      return isObj(v) ? v : undefined;
  }
}

function parentOf(root: Obj, parts: string[]): Obj | undefined {
  let node: unknown = root;
  for (let i = 0; i < parts.length - 1; i++) {
    if (!isObj(node)) return undefined;
    node = node[parts[i]!];
  }
  return isObj(node) ? node : undefined;
}

/**
 * Makes arbitrary JSON conform to the types of {@link ECS_FIELDS}: known fields are coerced
 * (`"22"` → 22 for a `long`, a single value → `[value]` for a list) or, when they cannot be,
 * removed and their paths returned so the caller can tag the event. The caller keeps the
 * untouched input in `event.original`, so nothing is lost.
 *
 * @example
 * const { value, dropped } = coerceEcs({ source: { ip: 'x', port: '22' } });
 * // value.source → { port: 22 }, dropped → ['source.ip']
 */
export function coerceEcs(input: unknown): { value: Record<string, unknown>; dropped: string[] } {
  const copied = copyJson(input, 0);
  const value: Obj = isObj(copied) ? copied : {};
  const dropped: string[] = [];
  // An ECS object field given as a scalar (e.g. "source": "1.2.3.4") cannot hold its children.
  for (const parts of PARENTS) {
    const parent = parentOf(value, parts);
    const key = parts[parts.length - 1]!;
    if (parent && key in parent && !isObj(parent[key])) {
      dropped.push(parts.join('.'));
      delete parent[key];
    }
  }
  for (const [parts, path, spec] of LEAVES) {
    const parent = parentOf(value, parts);
    const key = parts[parts.length - 1]!;
    if (!parent || !(key in parent)) continue;
    const v = parent[key];
    let out: unknown;
    if (spec.array) {
      const list = Array.isArray(v) ? v : [v];
      const items = list.map((x) => coerceScalar(path, spec, x)).filter((x) => x !== undefined);
      out = items.length === list.length ? items : undefined;
    } else out = coerceScalar(path, spec, v);
    if (out === undefined) {
      dropped.push(path);
      delete parent[key];
    } else parent[key] = out;
  }
  return { value, dropped };
}
