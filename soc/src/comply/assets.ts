/**
 * Systems (定级对象) and their assets, kept as one JSON file under `<data>/comply/inventory.json`
 * (written atomically). Assets are matched to events by `host.name`, `observer.name` or IP.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitCsvLine } from '@xiangan/rules';
import { ComplyError } from './errors.js';

/** Asset types: network device, security device, server/OS, database, application, the SOC itself. */
export const ASSET_TYPES = ['network', 'security', 'server', 'database', 'application', 'soc'] as const;
export type AssetType = (typeof ASSET_TYPES)[number];

/** A graded object. */
export interface ComplySystem {
  id: string;
  name: string;
  level: 2 | 3;
  /**
   * GB/T 22240-2020 定级: 业务信息安全保护等级 (S) and 系统服务安全保护等级 (A); the system's level
   * is the higher of the two, and the general requirements (G) follow the level: reported as e.g. S3A2G3.
   */
  s?: 1 | 2 | 3;
  a?: 1 | 2 | 3;
}

/** The S/A/G grading string of a system (`S3A2G3`), or `G<level>` when S and A are not recorded. */
export function sagGrade(s: ComplySystem): string {
  return s.s && s.a ? `S${s.s}A${s.a}G${s.level}` : `G${s.level}`;
}

/** One asset of a system. */
export interface Asset {
  id: string;
  systemId: string;
  type: AssetType;
  name: string;
  /** Names it reports as `host.name` / `observer.name`. */
  hostNames: string[];
  /** Management addresses. */
  ips: string[];
  /** 重要程度 used for the S/A/G grading column (1 low – 3 high). */
  importance?: 1 | 2 | 3;
}

/** The stored inventory. */
export interface Inventory {
  systems: ComplySystem[];
  assets: Asset[];
}

/** Path of the inventory under a data directory. */
export function inventoryPath(dataDir: string): string {
  return join(dataDir, 'comply', 'inventory.json');
}

/**
 * Read the inventory (empty when none is stored yet).
 * @example const inv = loadInventory('./data');
 */
export function loadInventory(dataDir: string): Inventory {
  const p = inventoryPath(dataDir);
  if (!existsSync(p)) return { systems: [], assets: [] };
  return JSON.parse(readFileSync(p, 'utf8')) as Inventory;
}

/** Write the inventory atomically (temp file + rename). */
export function saveInventory(dataDir: string, inv: Inventory): void {
  const p = inventoryPath(dataDir);
  mkdirSync(join(dataDir, 'comply'), { recursive: true });
  writeFileSync(`${p}.tmp`, JSON.stringify(inv, null, 2));
  renameSync(`${p}.tmp`, p);
}

/** Add or replace a system by id. */
export function upsertSystem(inv: Inventory, s: ComplySystem): Inventory {
  if (typeof s.id !== 'string' || !s.id) throw new TypeError('system id must be a non-empty string');
  if (s.level !== 2 && s.level !== 3) throw new RangeError('system level must be 2 or 3');
  if ((s.s === undefined) !== (s.a === undefined)) throw new RangeError('give both S and A grades or neither');
  if (s.s !== undefined && s.a !== undefined) {
    if (![1, 2, 3].includes(s.s) || ![1, 2, 3].includes(s.a)) throw new RangeError('S and A grades must be 1, 2 or 3');
    // GB/T 22240-2020: the level is the higher of the two grades.
    if (Math.max(s.s, s.a) !== s.level) throw new RangeError(`level ${s.level} must be the higher of S${s.s} and A${s.a}`);
  }
  return { ...inv, systems: [...inv.systems.filter((x) => x.id !== s.id), s] };
}

/** Add or replace an asset by id; its system must exist. */
export function upsertAsset(inv: Inventory, a: Asset): Inventory {
  if (!inv.systems.some((s) => s.id === a.systemId)) throw new ComplyError('SOC_ERR_COMPLY_NOT_FOUND', `no system ${a.systemId}`);
  if (!(ASSET_TYPES as readonly string[]).includes(a.type)) throw new RangeError(`asset type must be one of ${ASSET_TYPES.join(', ')}`);
  return { ...inv, assets: [...inv.assets.filter((x) => x.id !== a.id), a] };
}

/**
 * Parse an asset CSV: header `id,system,type,name,hosts,ips[,importance]`; `hosts` and `ips` are
 * `;`-separated; `system` rows (anywhere in the file) may also be given as `system,ID,LEVEL,NAME[,S,A]` lines (first column
 * `system`; S and A the 业务信息/系统服务 grades) to declare systems in the same file. Quoted fields ("a,b") are supported.
 * @example importAssetsCsv(inv, 'id,system,type,name,hosts,ips\nfw1,S1,security,FW,fw1,10.0.0.1\n')
 */
export function importAssetsCsv(inv: Inventory, text: string): { inventory: Inventory; imported: number } {
  const lines = text.split(/\r?\n/);
  // The header is the first line that is not blank and not a `system,…` declaration.
  const hi = lines.findIndex((l, i) => l.trim() !== '' && splitCsv(l, i + 1)[0] !== 'system');
  const header = splitCsv(lines[hi] ?? '', hi + 1).map((h) => h.trim().toLowerCase());
  const need = ['id', 'system', 'type', 'name', 'hosts', 'ips'];
  for (const n of need) if (!header.includes(n)) throw new ComplyError('SOC_ERR_COMPLY_CSV', `line ${hi + 1}: missing column ${n}`);
  const col = (row: string[], n: string): string => (row[header.indexOf(n)] ?? '').trim();
  let out = inv;
  let imported = 0;
  for (let i = 0; i < lines.length; i++) {
    if (i === hi || lines[i]!.trim() === '') continue;
    const row = splitCsv(lines[i]!, i + 1);
    if (row[0] === 'system') {
      const level = Number(row[2]);
      if (level !== 2 && level !== 3) throw new ComplyError('SOC_ERR_COMPLY_CSV', `line ${i + 1}: system level must be 2 or 3`);
      const sa = (row[4] ?? '').trim() !== '' ? { s: Number(row[4]) as 1, a: Number(row[5]) as 1 } : {};
      try {
        out = upsertSystem(out, { id: (row[1] ?? '').trim(), level, name: (row[3] ?? row[1] ?? '').trim(), ...sa });
      } catch (e) {
        throw new ComplyError('SOC_ERR_COMPLY_CSV', `line ${i + 1}: ${(e as Error).message}`, { cause: e });
      }
      continue;
    }
    const type = col(row, 'type');
    if (!(ASSET_TYPES as readonly string[]).includes(type)) throw new ComplyError('SOC_ERR_COMPLY_CSV', `line ${i + 1}: type must be one of ${ASSET_TYPES.join(', ')}`);
    const id = col(row, 'id');
    if (!id) throw new ComplyError('SOC_ERR_COMPLY_CSV', `line ${i + 1}: empty id`);
    const imp = header.includes('importance') ? Number(col(row, 'importance') || '2') : 2;
    if (imp !== 1 && imp !== 2 && imp !== 3) throw new ComplyError('SOC_ERR_COMPLY_CSV', `line ${i + 1}: importance must be 1, 2 or 3`);
    const list = (s: string): string[] => s.split(';').map((x) => x.trim()).filter(Boolean);
    try {
      out = upsertAsset(out, { id, systemId: col(row, 'system'), type: type as AssetType, name: col(row, 'name'), hostNames: list(col(row, 'hosts')), ips: list(col(row, 'ips')), importance: imp });
    } catch (e) {
      throw new ComplyError('SOC_ERR_COMPLY_CSV', `line ${i + 1}: ${(e as Error).message}`, { cause: e });
    }
    imported++;
  }
  return { inventory: out, imported };
}

// RFC 4180 fields: commas inside double quotes, "" for a quote.
/** One CSV line; a malformed one (an unterminated quote) is SOC_ERR_COMPLY_CSV naming the line. */
function splitCsv(line: string, lineNo: number): string[] {
  try {
    return splitCsvLine(line);
  } catch (e) {
    throw new ComplyError('SOC_ERR_COMPLY_CSV', `line ${lineNo}: ${(e as Error).message}`);
  }
}
