/**
 * Uploaded device and host configurations, kept per asset under `<data>/comply/configs/<asset>/`
 * (`<platform>.cfg` plus `<platform>.json` with who uploaded it, when and its SM3 digest), and their
 * evaluation with the SCA-style checks of rules/compliance/config-checks.yaml.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sm3 } from '@xiangan/crypto';
import { CONFIG_PLATFORMS, detectPlatform, evaluateConfig, loadConfigChecks, type ConfigCheckResult, type ConfigPlatform } from '@xiangan/rules';
import { auditLog } from '../audit/index.js';
import { ComplyError } from './errors.js';
import type { Inventory } from './assets.js';

/** Largest configuration accepted (bytes). */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** Metadata of one stored configuration. */
export interface StoredConfig {
  asset: string;
  platform: ConfigPlatform;
  fileName: string;
  bytes: number;
  /** Hex SM3 of the content as stored. */
  sm3: string;
  uploadedAt: string;
  uploadedBy: string;
}

function dirOf(dataDir: string, asset: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(asset)) throw new ComplyError('SOC_ERR_COMPLY_CONFIG', `asset id ${JSON.stringify(asset)} cannot name a configuration directory`);
  return join(dataDir, 'comply', 'configs', asset);
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/**
 * Store a configuration for an asset (replacing the previous one of the same platform), recorded
 * in the audit trail. The platform is detected from the file name and content unless given.
 * @example uploadConfig('./data', inv, { asset: 'sw1', fileName: 'sw1.cfg', text, actor: 'alice' })
 */
export function uploadConfig(
  dataDir: string,
  inv: Inventory,
  o: { asset: string; fileName: string; text: string; platform?: string; actor: string; now?: Date },
): StoredConfig {
  if (!inv.assets.some((a) => a.id === o.asset)) throw new ComplyError('SOC_ERR_COMPLY_NOT_FOUND', `no asset ${o.asset}`);
  if (typeof o.text !== 'string') throw new TypeError('configuration text must be a string');
  const bytes = Buffer.byteLength(o.text);
  if (bytes > MAX_CONFIG_BYTES) throw new ComplyError('SOC_ERR_COMPLY_CONFIG', `configuration is ${bytes} bytes; at most ${MAX_CONFIG_BYTES}`);
  if (o.text.includes('\u0000')) throw new ComplyError('SOC_ERR_COMPLY_CONFIG', 'configuration is not text (NUL byte)');
  let platform = o.platform;
  if (platform !== undefined && !(CONFIG_PLATFORMS as readonly string[]).includes(platform)) {
    throw new ComplyError('SOC_ERR_COMPLY_CONFIG', `platform must be one of ${CONFIG_PLATFORMS.join(', ')}`);
  }
  platform ??= detectPlatform(o.fileName, o.text);
  if (!platform) throw new ComplyError('SOC_ERR_COMPLY_CONFIG', `cannot tell the platform of ${o.fileName}; give one of ${CONFIG_PLATFORMS.join(', ')}`);
  const dir = dirOf(dataDir, o.asset);
  mkdirSync(dir, { recursive: true });
  const meta: StoredConfig = {
    asset: o.asset,
    platform: platform as ConfigPlatform,
    fileName: o.fileName.split(/[\\/]/).pop()!,
    bytes,
    sm3: hex(sm3(new TextEncoder().encode(o.text))),
    uploadedAt: (o.now ?? new Date()).toISOString(),
    uploadedBy: o.actor,
  };
  const base = join(dir, platform);
  writeFileSync(`${base}.cfg.tmp`, o.text);
  renameSync(`${base}.cfg.tmp`, `${base}.cfg`);
  writeFileSync(`${base}.json.tmp`, JSON.stringify(meta, null, 2));
  renameSync(`${base}.json.tmp`, `${base}.json`);
  auditLog.record({ actor: o.actor, action: 'comply.config.upload', target: o.asset, outcome: 'success', details: { platform, fileName: meta.fileName, sm3: meta.sm3, bytes } });
  return meta;
}

/** Every stored configuration's metadata (optionally of one asset). */
export function listConfigs(dataDir: string, asset?: string): StoredConfig[] {
  const root = join(dataDir, 'comply', 'configs');
  if (!existsSync(root)) return [];
  const assets = asset === undefined ? readdirSync(root) : [asset];
  const out: StoredConfig[] = [];
  for (const a of assets) {
    const d = join(root, a);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d).sort()) if (f.endsWith('.json')) out.push(JSON.parse(readFileSync(join(d, f), 'utf8')) as StoredConfig);
  }
  return out;
}

/** One check's outcome on one asset's configuration. */
export interface AssetConfigResult extends ConfigCheckResult {
  asset: string;
  /** SM3 of the configuration the result was computed from. */
  configSm3: string;
  fileName: string;
}

/**
 * Evaluate every stored configuration of the given assets.
 * @example const results = evaluateStoredConfigs('./data', ['sw1', 'srv1']);
 */
export function evaluateStoredConfigs(dataDir: string, assets: readonly string[]): AssetConfigResult[] {
  const set = loadConfigChecks();
  const out: AssetConfigResult[] = [];
  for (const asset of assets) {
    for (const meta of listConfigs(dataDir, asset)) {
      const text = readFileSync(join(dirOf(dataDir, asset), `${meta.platform}.cfg`), 'utf8');
      for (const r of evaluateConfig(set, meta.platform, text)) out.push({ ...r, asset, configSm3: meta.sm3, fileName: meta.fileName });
    }
  }
  return out;
}
