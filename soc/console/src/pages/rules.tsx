// Rule management: the loaded rules with enable/disable (persisted by the server), the rules the
// engine rejected with their reasons, and a workbench that tests pasted rules against pasted
// events, checks what a Sigma set becomes and installs the chosen rules of it into the running
// detector (POST /api/v1/detection/test, /import-sigma, /install-sigma).
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

interface TestResult {
  rules: { id: string; title: string; level: string; kind: string }[];
  rejected: { source: string; code: string; reason: string }[];
  events: number;
  matches: { ruleId: string; title: string; level: string; line: number; eventIds: string[] }[];
  parsed: Record<string, unknown>[];
}

interface ImportResult {
  total: number;
  accepted: number;
  rules: { id: string; title: string; level: string; kind: string }[];
  rejected: { source: string; code: string; reason: string }[];
}

interface InstallResult {
  installed: { id: string; title: string; enabled: boolean; replaced: boolean }[];
  reload: { rules: number; keptGroups: number; droppedGroups: number };
}

function RuleWorkbench({ canWrite, onInstalled }: { canWrite: boolean; onInstalled: () => void }) {
  const [rules, setRules] = useState('');
  const [events, setEvents] = useState('');
  const [format, setFormat] = useState<'syslog' | 'ndjson'>('syslog');
  const [pipeline, setPipeline] = useState<'ecs' | 'identity'>('ecs');
  const [test, setTest] = useState<TestResult | null>(null);
  const [imported, setImported] = useState<ImportResult | null>(null);
  const [error, setError] = useState('');
  /** Per accepted rule of the import: install it, and switched on or off. */
  const [choice, setChoice] = useState<Record<string, { pick: boolean; on: boolean }>>({});
  const [installed, setInstalled] = useState<InstallResult | null>(null);
  const run = async (kind: 'test' | 'import') => {
    setError('');
    setInstalled(null);
    try {
      if (kind === 'test') {
        setImported(null);
        setTest(await api<TestResult>('POST', '/api/v1/detection/test', { rules, events, format, pipeline }));
      } else {
        setTest(null);
        const r = await api<ImportResult>('POST', '/api/v1/detection/import-sigma', { rules, pipeline });
        setChoice(Object.fromEntries(r.rules.map((x) => [x.id, { pick: true, on: true }])));
        setImported(r);
      }
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const install = async () => {
    setError('');
    const chosen = (imported?.rules ?? []).filter((r) => choice[r.id]?.pick).map((r) => ({ id: r.id, enabled: choice[r.id]!.on }));
    if (!chosen.length) return;
    try {
      setInstalled(await api<InstallResult>('POST', '/api/v1/detection/install-sigma', { rules, install: chosen }));
      onInstalled();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const setFor = (id: string, k: 'pick' | 'on', v: boolean) => setChoice((c) => ({ ...c, [id]: { ...(c[id] ?? { pick: true, on: true }), [k]: v } }));
  const rejected = test?.rejected ?? imported?.rejected ?? [];
  return (
    <div class="card" data-testid="rule-workbench">
      <h3>{t('testRules')}</h3>
      <div class="split">
        <label class="pane">
          {t('ruleText')}
          <textarea rows={14} class="code" value={rules} onInput={(e) => setRules(e.currentTarget.value)} data-testid="wb-rules" />
        </label>
        <label class="pane">
          {t('eventsText')}
          <textarea rows={14} class="code" value={events} onInput={(e) => setEvents(e.currentTarget.value)} data-testid="wb-events" />
        </label>
      </div>
      <div class="toolbar">
        <label>
          {t('format')}{' '}
          <select value={format} onChange={(e) => setFormat(e.currentTarget.value as 'syslog' | 'ndjson')} data-testid="wb-format">
            <option value="syslog">syslog</option>
            <option value="ndjson">NDJSON</option>
          </select>
        </label>
        <label>
          {t('pipeline')}{' '}
          <select value={pipeline} onChange={(e) => setPipeline(e.currentTarget.value as 'ecs' | 'identity')}>
            <option value="ecs">ECS</option>
            <option value="identity">identity</option>
          </select>
        </label>
        <button onClick={() => run('test')} data-testid="wb-test">
          {t('runTest')}
        </button>
        <button onClick={() => run('import')} data-testid="wb-import">
          {t('checkImport')}
        </button>
      </div>
      {error && <p class="error">{error}</p>}
      {test && (
        <div data-testid="wb-result">
          <p>
            {test.rules.length} {t('rules')} · {test.events} {t('eventCount')} · {test.matches.length} {t('matches')}
          </p>
          {test.matches.length === 0 ? (
            <p class="muted">{t('noMatches')}</p>
          ) : (
            <table class="grid">
              <thead>
                <tr>
                  <th>{t('line')}</th>
                  <th>{t('severity')}</th>
                  <th>{t('title')}</th>
                  <th>id</th>
                </tr>
              </thead>
              <tbody>
                {test.matches.map((m, i) => (
                  <tr key={i} data-testid="wb-match">
                    <td>{m.line || '—'}</td>
                    <td>
                      <Severity level={m.level} />
                    </td>
                    <td>{m.title}</td>
                    <td class="mono">{m.ruleId}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <details>
            <summary>{t('parsedEvents')}</summary>
            <pre class="mono">{test.parsed.map((e) => JSON.stringify(e)).join('\n')}</pre>
          </details>
        </div>
      )}
      {imported && (
        <div data-testid="wb-import-result">
          <p>
            {t('accepted')} {imported.accepted} / {imported.total} · {t('rejectedN')} {imported.rejected.length}
          </p>
          <ul>
            {imported.rules.map((r) => (
              <li key={r.id} data-testid="wb-import-rule" data-rule-id={r.id}>
                {canWrite && (
                  <>
                    <label>
                      <input type="checkbox" checked={choice[r.id]?.pick ?? true} onChange={(e) => setFor(r.id, 'pick', e.currentTarget.checked)} data-testid="wb-pick" /> {t('installPick')}
                    </label>{' '}
                    <label>
                      <input type="checkbox" checked={choice[r.id]?.on ?? true} onChange={(e) => setFor(r.id, 'on', e.currentTarget.checked)} data-testid="wb-on" /> {t('installOn')}
                    </label>{' '}
                  </>
                )}
                <Severity level={r.level} /> {r.title} <code>{r.id}</code>
              </li>
            ))}
          </ul>
          <p class="muted">{t('importNote')}</p>
          {canWrite && imported.rules.length > 0 && (
            <button onClick={() => void install()} data-testid="wb-install">
              {t('installRules')}
            </button>
          )}
        </div>
      )}
      {installed && (
        <p data-testid="wb-installed">
          {t('installedN')} {installed.installed.length}: {installed.installed.map((x) => `${x.title} (${x.enabled ? t('enabled') : t('disabled')})`).join(', ')}
        </p>
      )}
      {rejected.length > 0 && (
        <ul class="error">
          {rejected.map((r, i) => (
            <li key={i}>
              <code>{r.source}</code> {r.code}: {r.reason}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Rules({ canWrite }: { canWrite: boolean }) {
  const [rules, setRules] = useState<RuleRow[]>([]);
  const [rejected, setRejected] = useState<{ source: string; code: string; reason: string }[]>([]);
  const [filter, setFilter] = useState('');
  const [error, setError] = useState('');
  /** Ids of rules installed from the console (removable). */
  const [installed, setInstalled] = useState<Set<string>>(new Set());
  const load = async () => {
    try {
      const r = await api<{ rules: RuleRow[]; rejected: typeof rejected }>('GET', '/api/v1/detection/rules');
      setRules(r.rules);
      setRejected(r.rejected);
      setInstalled(new Set((await api<{ ids: string[] }>('GET', '/api/v1/detection/installed')).ids));
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
  const remove = async (r: RuleRow) => {
    if (!confirm(t('confirmRemoveRule'))) return;
    try {
      await api('DELETE', `/api/v1/detection/installed/${encodeURIComponent(r.id)}`);
      await load();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const f = filter.toLowerCase();
  const shown = rules.filter((r) => !f || r.title.toLowerCase().includes(f) || r.id.toLowerCase().includes(f) || r.tags.some((x) => x.includes(f)));
  return (
    <div>
      <RuleWorkbench canWrite={canWrite} onInstalled={() => void load()} />
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
            <tr key={r.id} data-testid="rule-row" data-rule-id={r.id}>
              <td>
                <Severity level={r.level} />
              </td>
              <td>
                {r.title} {installed.has(r.id) && <span class="badge">{t('installedRule')}</span>}
                <div class="tags">{r.tags.join(' ')}</div>
              </td>
              <td class="mono">{r.id}</td>
              <td data-col="enabled">{r.enabled ? t('enabled') : t('disabled')}</td>
              <td>
                {canWrite && (
                  <button onClick={() => toggle(r)} data-testid="rule-toggle">
                    {r.enabled ? t('disable') : t('enable')}
                  </button>
                )}
                {canWrite && installed.has(r.id) && (
                  <button onClick={() => void remove(r)} data-testid="rule-remove">
                    {t('removeRule')}
                  </button>
                )}
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
