/**
 * Assets as the logs see them: which registered assets sent events recently (and how many), which
 * are silent, and which senders are not in the inventory (discovered). The same facet query the
 * log-arrival and asset-inventory checks use, for the console's assets page and
 * `GET /api/v1/comply/assets/status`.
 */
import type { EventStore } from '../storage/types.js';
import type { Asset, Inventory } from './assets.js';

/** The sender fields: names and addresses events carry for the host or device that sent them. */
export const SENDER_FACETS = ['host.name', 'observer.name', 'host.ip', 'observer.ip'] as const;

/** One registered asset with what the logs say of it. */
export interface AssetStatus extends Asset {
  /** Events in the window naming it (the largest count of any of its names or addresses). */
  events: number;
  sending: boolean;
}

/** {@link assetStatus}'s answer. */
export interface AssetStatusReport {
  from: string;
  to: string;
  /** Events in the window. */
  total: number;
  assets: AssetStatus[];
  /** Senders named in events but by no registered asset, most events first. */
  unregistered: { name: string; events: number }[];
}

/**
 * Registered, silent and discovered senders over the last `hours` (default 24).
 * @example const r = await assetStatus(store, loadInventory(dir), new Date()); r.assets.filter((a) => !a.sending)
 */
export async function assetStatus(store: EventStore, inventory: Inventory, now: Date, hours = 24): Promise<AssetStatusReport> {
  if (!Number.isFinite(hours) || hours <= 0 || hours > 24 * 366) throw new RangeError('hours must be in (0, 8784]');
  const from = new Date(now.getTime() - hours * 3_600_000).toISOString();
  const to = now.toISOString();
  const res = await store.search({ from, to, size: 0, facets: [...SENDER_FACETS], facetSize: 10_000 });
  // A name can appear under several fields (host.name and observer.name): keep its largest count.
  const seen = new Map<string, number>();
  for (const b of Object.values(res.facets).flat()) {
    const k = String(b.value);
    seen.set(k, Math.max(seen.get(k) ?? 0, b.count));
  }
  const known = new Set<string>();
  const assets = inventory.assets.map((a) => {
    const names = [...a.hostNames, ...a.ips];
    for (const n of names) known.add(n);
    const events = Math.max(0, ...names.map((n) => seen.get(n) ?? 0));
    return { ...a, events, sending: events > 0 };
  });
  const unregistered = [...seen]
    .filter(([n]) => !known.has(n))
    .map(([name, events]) => ({ name, events }))
    .sort((x, y) => y.events - x.events || x.name.localeCompare(y.name));
  return { from, to, total: res.total, assets, unregistered };
}
