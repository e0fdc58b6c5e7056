// The audit trail for the audit administrator: newest first, filtered by actor and action prefix,
// more pages by sequence (GET /api/v1/audit). Read-only: the trail cannot be changed here.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { t } from '../i18n.js';
import { fmtTime } from './alerts.js';

interface AuditItem {
  seq: number;
  '@timestamp': string;
  actor: string;
  action: string;
  target?: string;
  outcome: string;
  details?: Record<string, unknown>;
}

export function Audit() {
  const [items, setItems] = useState<AuditItem[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [actor, setActor] = useState('');
  const [action, setAction] = useState('');
  const [error, setError] = useState('');
  const load = async (before?: number) => {
    const q = new URLSearchParams({ limit: '100' });
    if (actor.trim()) q.set('actor', actor.trim());
    if (action.trim()) q.set('action', action.trim());
    if (before !== undefined) q.set('before', String(before));
    try {
      const r = await api<{ items: AuditItem[]; nextBefore: number | null }>('GET', `/api/v1/audit?${q}`);
      setItems((old) => (before !== undefined ? [...old, ...r.items] : r.items));
      setNext(r.nextBefore);
      setError('');
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useEffect(() => {
    void load();
  }, []);
  return (
    <div>
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          void load();
        }}
      >
        <input placeholder={t('actor')} value={actor} onInput={(e) => setActor(e.currentTarget.value)} data-testid="audit-actor" />
        <input placeholder={`${t('action')} (user. / api. / auth.)`} value={action} onInput={(e) => setAction(e.currentTarget.value)} data-testid="audit-action" />
        <button type="submit">{t('filter')}</button>
      </form>
      {error && <p class="error">{error}</p>}
      <table class="grid" data-testid="audit">
        <thead>
          <tr>
            <th>{t('time')}</th>
            <th>{t('actor')}</th>
            <th>{t('action')}</th>
            <th>{t('target')}</th>
            <th>{t('outcome')}</th>
            <th>{t('details')}</th>
          </tr>
        </thead>
        <tbody>
          {items.map((i) => (
            <tr key={i.seq}>
              <td class="nowrap">{fmtTime(i['@timestamp'])}</td>
              <td>{i.actor}</td>
              <td class="mono">{i.action}</td>
              <td class="mono">{i.target ?? ''}</td>
              <td>{t(i.outcome)}</td>
              <td class="mono msg">{i.details ? JSON.stringify(i.details) : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {next !== null && (
        <button onClick={() => load(next)} data-testid="audit-more">
          {t('more')}
        </button>
      )}
    </div>
  );
}
