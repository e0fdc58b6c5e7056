// Rule management: the loaded rules with enable/disable (persisted by the server) and the rules
// the engine rejected with their reasons.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { t } from '../i18n.js';
import { Severity } from './alerts.js';

interface RuleRow {
  id: string;
  title: string;
  level: string;
  kind: string;
  tags: string[];
  enabled: boolean;
}

export function Rules() {
  const [rules, setRules] = useState<RuleRow[]>([]);
  const [rejected, setRejected] = useState<{ source: string; code: string; reason: string }[]>([]);
  const [filter, setFilter] = useState('');
  const [error, setError] = useState('');
  const load = async () => {
    try {
      const r = await api<{ rules: RuleRow[]; rejected: typeof rejected }>('GET', '/api/v1/detection/rules');
      setRules(r.rules);
      setRejected(r.rejected);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useEffect(() => {
    void load();
  }, []);
  const toggle = async (r: RuleRow) => {
    try {
      await api('PUT', `/api/v1/detection/rules/${encodeURIComponent(r.id)}`, { enabled: !r.enabled });
      await load();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const f = filter.toLowerCase();
  const shown = rules.filter((r) => !f || r.title.toLowerCase().includes(f) || r.id.toLowerCase().includes(f) || r.tags.some((x) => x.includes(f)));
  return (
    <div>
      <div class="toolbar">
        <input value={filter} placeholder={t('search')} onInput={(e) => setFilter(e.currentTarget.value)} />
        <span class="muted">
          {t('total')} {rules.length}
        </span>
      </div>
      {error && <p class="error">{error}</p>}
      <table class="grid">
        <thead>
          <tr>
            <th>{t('severity')}</th>
            <th>{t('title')}</th>
            <th>id</th>
            <th>{t('status')}</th>
            <th>{t('actions')}</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((r) => (
            <tr key={r.id}>
              <td>
                <Severity level={r.level} />
              </td>
              <td>
                {r.title}
                <div class="tags">{r.tags.join(' ')}</div>
              </td>
              <td class="mono">{r.id}</td>
              <td>{r.enabled ? t('enabled') : t('disabled')}</td>
              <td>
                <button onClick={() => toggle(r)}>{r.enabled ? t('disable') : t('enable')}</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {rejected.length > 0 && (
        <>
          <h3>{t('rejectedRules')}</h3>
          <ul>
            {rejected.map((r) => (
              <li key={r.source}>
                <code>{r.source}</code> {r.code}: {r.reason}
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
