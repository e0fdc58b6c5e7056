// Event search: the query language (soc/README.md "Query language"), a time picker (relative or
// absolute), field facets that add a term on click, and expandable event rows.
import { useEffect, useState } from 'preact/hooks';
import { api, type SearchResult } from '../api.js';
import { t } from '../i18n.js';

const FACETS = ['event.category', 'event.outcome', 'host.name', 'source.ip', 'user.name', 'event.dataset'];
const RANGES = ['15m', '1h', '24h', '7d', '30d'];

function get(ev: Record<string, unknown>, path: string): unknown {
  if (path in ev) return ev[path];
  let cur: unknown = ev;
  for (const p of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

function show(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** A compact table of events; a row expands to its full JSON. */
export function EventTable({ events }: { events: Record<string, unknown>[] }) {
  const [open, setOpen] = useState<string | null>(null);
  if (events.length === 0) return <p class="muted">{t('noResults')}</p>;
  return (
    <table class="grid events" data-testid="event-table">
      <thead>
        <tr>
          <th>@timestamp</th>
          <th>host.name</th>
          <th>source.ip</th>
          <th>user.name</th>
          <th>message</th>
        </tr>
      </thead>
      <tbody>
        {events.map((ev, i) => {
          const id = show(ev['id']) || String(i);
          return [
            <tr key={id} onClick={() => setOpen(open === id ? null : id)} data-event-id={id}>
              <td class="nowrap">{show(get(ev, '@timestamp'))}</td>
              <td>{show(get(ev, 'host.name'))}</td>
              <td>{show(get(ev, 'source.ip'))}</td>
              <td>{show(get(ev, 'user.name'))}</td>
              <td class="msg">{show(get(ev, 'message'))}</td>
            </tr>,
            open === id ? (
              <tr key={`${id}-doc`} class="doc">
                <td colSpan={5}>
                  <pre>{JSON.stringify(ev, null, 2)}</pre>
                </td>
              </tr>
            ) : null,
          ];
        })}
      </tbody>
    </table>
  );
}

export function Events() {
  const initial = decodeURIComponent(location.hash.replace(/^#\/?events\/?/, ''));
  const [q, setQ] = useState(initial);
  const [last, setLast] = useState(initial ? '30d' : '24h');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [res, setRes] = useState<SearchResult | null>(null);
  const [error, setError] = useState('');

  const run = async (query = q) => {
    const p = new URLSearchParams({ q: query, size: '100', facets: FACETS.join(','), facetSize: '8' });
    if (last) p.set('last', last);
    else {
      if (from) p.set('from', new Date(from).toISOString());
      if (to) p.set('to', new Date(to).toISOString());
    }
    try {
      setRes(await api<SearchResult>('GET', `/api/v1/events?${p}`));
      setError('');
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useEffect(() => {
    void run();
  }, [last]);

  const addTerm = (field: string, value: unknown) => {
    const term = `${field}:"${String(value).replace(/["\\]/g, '\\$&')}"`;
    const next = q.trim() ? `${q.trim()} AND ${term}` : term;
    setQ(next);
    void run(next);
  };

  return (
    <div>
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          void run();
        }}
      >
        <input class="query" name="q" value={q} placeholder='user.name:root AND event.outcome:failure' onInput={(e) => setQ(e.currentTarget.value)} data-testid="query" />
        <select value={last} onChange={(e) => setLast(e.currentTarget.value)} aria-label={t('last')} data-testid="range">
          {RANGES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
          <option value="">…</option>
        </select>
        {!last && (
          <>
            <input type="datetime-local" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
            <input type="datetime-local" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
          </>
        )}
        <button type="submit">{t('search')}</button>
      </form>
      {error && <p class="error">{error}</p>}
      {res && (
        <div class="split">
          <aside class="facets">
            <h3>{t('facets')}</h3>
            {Object.entries(res.facets).map(([f, vals]) =>
              vals.length === 0 ? null : (
                <div key={f} class="facet">
                  <strong>{f}</strong>
                  <ul>
                    {vals.map((v) => (
                      <li key={String(v.value)}>
                        <button type="button" class="link" onClick={() => addTerm(f, v.value)}>
                          {String(v.value)}
                        </button>{' '}
                        <span class="muted">{v.count}</span>
                      </li>
                    ))}
                  </ul>
                </div>
              ),
            )}
          </aside>
          <div class="pane">
            <p class="muted" data-testid="event-total">
              {t('total')} {res.total}
            </p>
            <EventTable events={res.events} />
          </div>
        </div>
      )}
    </div>
  );
}
