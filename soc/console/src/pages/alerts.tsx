// Alert queue: filtered list, live inserts from the SSE stream (no reload), and the triage
// panel (acknowledge, assign, comment, resolve, false positive, suppress) with the alert's events.
import { useEffect, useState } from 'preact/hooks';
import { api, stream, type Alert, type AlertDetail } from '../api.js';
import { t } from '../i18n.js';
import { EventTable } from './events.js';

const OPEN = 'new,acknowledged,in_progress';
/** Alerts per page of the queue. */
const PAGE = 100;

/** Moves the alert API allows (soc/README.md "Lifecycle"), as buttons. */
const MOVES: Record<string, { to: string; label: string }[]> = {
  new: [
    { to: 'acknowledged', label: 'acknowledge' },
    { to: 'false_positive', label: 'falsePositive' },
  ],
  acknowledged: [
    { to: 'in_progress', label: 'startWork' },
    { to: 'resolved', label: 'resolve' },
    { to: 'false_positive', label: 'falsePositive' },
  ],
  in_progress: [
    { to: 'resolved', label: 'resolve' },
    { to: 'false_positive', label: 'falsePositive' },
  ],
  resolved: [{ to: 'in_progress', label: 'reopen' }],
  false_positive: [{ to: 'in_progress', label: 'reopen' }],
};

export function Severity({ level }: { level: string }) {
  return <span class={`sev sev-${level}`}>{t(level)}</span>;
}

export function Alerts() {
  const [status, setStatus] = useState(OPEN);
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [total, setTotal] = useState(0);
  /** Keyset cursor of the next page (GET /api/v1/alerts `next`); stable while alerts arrive. */
  const [next, setNext] = useState<string | undefined>(undefined);
  const [selected, setSelected] = useState<string | null>(null);
  const [live, setLive] = useState(false);
  const [error, setError] = useState('');

  const load = async () => {
    try {
      const r = await api<{ total: number; alerts: Alert[]; next?: string }>('GET', `/api/v1/alerts?size=${PAGE}${status ? `&status=${status}` : ''}`);
      setAlerts(r.alerts);
      setTotal(r.total);
      setNext(r.next);
      setError('');
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const more = async () => {
    if (!next) return;
    try {
      const r = await api<{ total: number; alerts: Alert[]; next?: string }>('GET', `/api/v1/alerts?size=${PAGE}${status ? `&status=${status}` : ''}&cursor=${encodeURIComponent(next)}`);
      // An alert may already be on screen (it moved up through a live update): keep one row each.
      setAlerts((list) => {
        const have = new Set(list.map((a) => a.id));
        return [...list, ...r.alerts.filter((a) => !have.has(a.id))];
      });
      setTotal(r.total);
      setNext(r.next);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useEffect(() => {
    void load();
  }, [status]);
  useEffect(
    () =>
      stream({
        state: setLive,
        reset: () => void load(),
        alert: (a) => {
          // An update of a known alert replaces it; a new one goes on top if the filter shows it.
          setAlerts((list) => {
            const i = list.findIndex((x) => x.id === a.id);
            if (i >= 0) return list.map((x) => (x.id === a.id ? a : x));
            if (status && !status.split(',').includes(a.status)) return list;
            setTotal((n) => n + 1);
            return [a, ...list];
          });
        },
      }),
    [status],
  );

  return (
    <div class="split">
      <div class="pane">
        <div class="toolbar">
          <select value={status} onChange={(e) => setStatus(e.currentTarget.value)} data-testid="status-filter">
            <option value={OPEN}>{`${t('new')} / ${t('acknowledged')} / ${t('in_progress')}`}</option>
            {['new', 'acknowledged', 'in_progress', 'resolved', 'false_positive'].map((s) => (
              <option key={s} value={s}>
                {t(s)}
              </option>
            ))}
            <option value="">{t('all')}</option>
          </select>
          <span class="muted">
            {t('total')} {total}
          </span>
          <span class="spacer" />
          <span class={live ? 'live on' : 'live'} data-testid="live">
            ● {live ? t('live') : t('offline')}
          </span>
        </div>
        {error && <p class="error">{error}</p>}
        <table class="grid" data-testid="alert-table">
          <thead>
            <tr>
              <th>{t('severity')}</th>
              <th>{t('title')}</th>
              <th>{t('status')}</th>
              <th>{t('assignee')}</th>
              <th>{t('count')}</th>
              <th>{t('lastSeen')}</th>
            </tr>
          </thead>
          <tbody>
            {alerts.map((a) => (
              <tr key={a.id} class={a.id === selected ? 'sel' : ''} onClick={() => setSelected(a.id)} data-alert-id={a.id} data-rule={a.ruleId}>
                <td>
                  <Severity level={a.severity} />
                </td>
                <td>{a.title}</td>
                <td data-col="status">{t(a.status)}</td>
                <td>{a.assignee ?? ''}</td>
                <td>{a.count}</td>
                <td>{fmtTime(a.lastSeen)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {next && (
          <button onClick={() => void more()} data-testid="alerts-more">
            {t('loadMore')}
          </button>
        )}
      </div>
      {selected && <AlertPanel id={selected} onChanged={load} />}
    </div>
  );
}

function AlertPanel({ id, onChanged }: { id: string; onChanged: () => void }) {
  const [d, setD] = useState<AlertDetail | null>(null);
  const [error, setError] = useState('');
  const [comment, setComment] = useState('');
  const [assignee, setAssignee] = useState('');
  const [reason, setReason] = useState('');
  const [hours, setHours] = useState(24);

  const load = async () => {
    try {
      const r = await api<AlertDetail>('GET', `/api/v1/alerts/${encodeURIComponent(id)}`);
      setD(r);
      setAssignee(r.alert.assignee ?? '');
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useEffect(() => {
    setD(null);
    void load();
  }, [id]);

  const act = async (method: string, url: string, body: unknown) => {
    setError('');
    try {
      await api(method, url, body);
      await load();
      onChanged();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  if (!d) return <div class="pane detail">{error ? <p class="error">{error}</p> : t('loading')}</div>;
  const a = d.alert;
  const base = `/api/v1/alerts/${encodeURIComponent(a.id)}`;
  // The events behind the alert: its group values over its first-to-last time span (ids are
  // listed above; a search by group also shows what happened around them).
  const q = [...Object.entries(a.group).map(([k, v]) => `${k}:"${v.replace(/["\\]/g, '\\$&')}"`), `@timestamp:[${a.firstSeen} TO ${a.lastSeen}]`].join(' AND ');
  return (
    <div class="pane detail" data-testid="alert-detail">
      <h2>
        <Severity level={a.severity} /> {a.title}
      </h2>
      <p class="muted">
        {a.ruleId} · {t(a.status)} · {a.riskScore} · {Object.entries(a.group).map(([k, v]) => `${k}=${v}`).join(' ')}
      </p>
      <div class="buttons">
        {(MOVES[a.status] ?? []).map((m) => (
          <button key={m.to} data-action={m.to} onClick={() => act('POST', `${base}/transition`, { to: m.to })}>
            {t(m.label)}
          </button>
        ))}
      </div>
      {error && <p class="error">{error}</p>}
      <div class="row">
        <input value={assignee} placeholder={t('assignee')} onInput={(e) => setAssignee(e.currentTarget.value)} data-testid="assignee" />
        <button onClick={() => act('POST', `${base}/assign`, { assignee })}>{t('assign')}</button>
      </div>
      <div class="row">
        <input value={comment} placeholder={t('addComment')} onInput={(e) => setComment(e.currentTarget.value)} data-testid="comment" />
        <button
          onClick={() => {
            if (comment.trim()) void act('POST', `${base}/comments`, { text: comment }).then(() => setComment(''));
          }}
        >
          {t('comment')}
        </button>
      </div>
      <div class="row">
        <input value={reason} placeholder={t('reason')} onInput={(e) => setReason(e.currentTarget.value)} />
        <input type="number" min={1} max={720} value={hours} onInput={(e) => setHours(Number(e.currentTarget.value))} class="narrow" />
        <span class="muted">h</span>
        <button
          onClick={() =>
            reason.trim() &&
            act('POST', '/api/v1/suppressions', { kind: 'suppression', ruleId: a.ruleId, match: Object.fromEntries(Object.entries(a.group).map(([k, v]) => [k, [v]])), expiresAt: new Date(Date.now() + hours * 3_600_000).toISOString(), reason })
          }
        >
          {t('suppress')}
        </button>
      </div>
      <h3>
        {t('relatedEvents')} ({d.events.length}){' '}
        <a href={`#/events/${encodeURIComponent(q)}`} data-testid="search-alert-events">
          {t('searchEvents')}
        </a>
      </h3>
      <EventTable events={d.events} />
      <h3>{t('history')}</h3>
      <ul class="history">
        {d.history.filter((h) => h.action !== 'comment').map((h, i) => (
          <li key={i}>
            {fmtTime(h.at)} {h.actor}: {h.action} {h.from ? `${t(h.from)} → ` : ''}
            {h.to ? t(h.to) : ''} {h.note ?? ''}
          </li>
        ))}
        {d.comments.map((c) => (
          <li key={`c${c.id}`}>
            {fmtTime(c.at)} {c.actor}: “{c.text}”
          </li>
        ))}
      </ul>
    </div>
  );
}

export function fmtTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}
