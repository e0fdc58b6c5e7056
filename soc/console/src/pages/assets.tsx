// Assets and systems (资产与系统): the assessed systems with their grading, the registered assets
// with whether their logs arrived in the last 24 h (silent assets stand out), and the senders seen
// in the logs that nobody registered. Reads GET /api/v1/comply/inventory and
// GET /api/v1/comply/assets/status; the CSV import is the compliance page's.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';
import { t } from '../i18n.js';
import { ImportAssets } from './compliance.js';

interface System {
  id: string;
  name: string;
  level: 2 | 3;
  s?: number;
  a?: number;
}

interface AssetState {
  id: string;
  systemId: string;
  type: string;
  name: string;
  hostNames: string[];
  ips: string[];
  importance?: number;
  events: number;
  sending: boolean;
}

interface Status {
  total: number;
  assets: AssetState[];
  unregistered: { name: string; events: number }[];
}

export function Assets({ canImport }: { canImport: boolean }) {
  const [systems, setSystems] = useState<System[] | null>(null);
  const [status, setStatus] = useState<Status | null>(null);
  const [error, setError] = useState('');
  const load = async () => {
    try {
      const [inv, st] = await Promise.all([api<{ systems: System[] }>('GET', '/api/v1/comply/inventory'), api<Status>('GET', '/api/v1/comply/assets/status?hours=24')]);
      setSystems(inv.systems);
      setStatus(st);
    } catch (e) {
      setError(e instanceof ApiError && e.status === 404 ? t('notAvailable') : (e as Error).message);
    }
  };
  useEffect(() => {
    void load();
  }, []);
  if (error) return <p class="notice">{error}</p>;
  if (!systems || !status) return <p>{t('loading')}</p>;
  const silent = status.assets.filter((a) => !a.sending).length;
  return (
    <div>
      {canImport && <ImportAssets onDone={() => void load()} />}
      <h3>{t('systems')}</h3>
      <table class="grid" data-testid="systems">
        <thead>
          <tr>
            <th>{t('id')}</th>
            <th>{t('name')}</th>
            <th>{t('level')}</th>
            <th>{t('grading')}</th>
          </tr>
        </thead>
        <tbody>
          {systems.map((s) => (
            <tr key={s.id}>
              <td class="mono">{s.id}</td>
              <td>{s.name}</td>
              <td>{s.level}</td>
              <td class="mono">{s.s && s.a ? `S${s.s}A${s.a}G${s.level}` : `G${s.level}`}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>
        {t('assetList')} ({status.assets.length}, {t('silent')} {silent}, {t('last24h')})
      </h3>
      <table class="grid" data-testid="assets">
        <thead>
          <tr>
            <th>{t('id')}</th>
            <th>{t('systems')}</th>
            <th>{t('type')}</th>
            <th>{t('name')}</th>
            <th>{t('hosts')}</th>
            <th>{t('ips')}</th>
            <th>{t('importance')}</th>
            <th>{t('status')}</th>
            <th>{t('eventCount')}</th>
          </tr>
        </thead>
        <tbody>
          {status.assets.map((a) => (
            <tr key={a.id} data-asset={a.id} class={a.sending ? '' : 'warn'}>
              <td class="mono">{a.id}</td>
              <td class="mono">{a.systemId}</td>
              <td>{a.type}</td>
              <td>{a.name}</td>
              <td class="mono">{a.hostNames.join(', ')}</td>
              <td class="mono">{a.ips.join(', ')}</td>
              <td>{a.importance ?? 2}</td>
              <td>{a.sending ? t('sending') : t('silent')}</td>
              <td>{a.events}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>{t('unregistered')}</h3>
      <table class="grid" data-testid="unregistered">
        <tbody>
          {status.unregistered.map((u) => (
            <tr key={u.name}>
              <td class="mono">{u.name}</td>
              <td>{u.events}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
