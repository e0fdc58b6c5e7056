// Compliance self-assessment (GB/T 22239 等级保护 / GB/T 39786 商用密码): pick a system from the
// asset inventory, run the assessment (POST /api/v1/comply/runs), read the score per layer and the
// failing items, and download the result as JSON.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';
import { t } from '../i18n.js';

interface System {
  id: string;
  name: string;
  level: 2 | 3;
}

interface Item {
  controlId: string;
  clause: string;
  layer: string;
  controlPoint: string;
  status: string;
  judgement: string;
  summary: string;
}

interface Assessment {
  standard: string;
  level: number;
  system: System;
  generatedAt: string;
  items: Item[];
  layers: { layer: string; pass: number; partial: number; fail: number; na: number; manual: number; percent: number | null }[];
  overall: number | null;
}

/** Offer a JSON value as a file download (a blob URL: no inline script, CSP unaffected). */
function download(name: string, value: unknown): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(value, null, 2)], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function Compliance({ canRun }: { canRun: boolean }) {
  const [systems, setSystems] = useState<System[] | null>(null);
  const [system, setSystem] = useState('');
  const [level, setLevel] = useState<2 | 3>(3);
  const [standard, setStandard] = useState<'djcp' | 'gmcy'>('djcp');
  const [result, setResult] = useState<Assessment | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  useEffect(() => {
    api<{ systems: System[] }>('GET', '/api/v1/comply/inventory').then(
      (inv) => {
        setSystems(inv.systems);
        if (inv.systems[0]) {
          setSystem(inv.systems[0].id);
          setLevel(inv.systems[0].level);
        }
      },
      (e: Error) => setError(e instanceof ApiError && e.status === 404 ? t('notAvailable') : e.message),
    );
  }, []);
  const run = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      setResult(await api<Assessment>('POST', '/api/v1/comply/runs', { system, level, standard }));
    } catch (x) {
      setError((x as Error).message);
    } finally {
      setBusy(false);
    }
  };
  if (error && !systems) return <p class="notice">{error}</p>;
  if (!systems) return <p>{t('loading')}</p>;
  if (systems.length === 0) return <p class="notice">{t('noSystems')}</p>;
  const open = result?.items.filter((i) => i.status === 'fail' || i.status === 'partial') ?? [];
  return (
    <div>
      <form class="toolbar" onSubmit={run} data-testid="comply-run">
        <label>
          {t('systems')}{' '}
          <select value={system} onChange={(e) => setSystem(e.currentTarget.value)}>
            {systems.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name} ({s.id})
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('level')}{' '}
          <select value={String(level)} onChange={(e) => setLevel(Number(e.currentTarget.value) as 2 | 3)}>
            <option value="2">2</option>
            <option value="3">3</option>
          </select>
        </label>
        <label>
          {t('standard')}{' '}
          <select value={standard} onChange={(e) => setStandard(e.currentTarget.value as 'djcp' | 'gmcy')}>
            <option value="djcp">GB/T 22239-2019</option>
            <option value="gmcy">GB/T 39786-2021</option>
          </select>
        </label>
        {canRun && (
          <button type="submit" disabled={busy}>
            {busy ? t('running') : t('runAssessment')}
          </button>
        )}
        {result && (
          <button type="button" data-testid="comply-download" onClick={() => download(`assessment-${result.system.id}-${result.standard}-${result.generatedAt.slice(0, 10)}.json`, result)}>
            {t('download')}
          </button>
        )}
      </form>
      {error && <p class="error">{error}</p>}
      {result && (
        <div data-testid="comply-result">
          <p>
            {t('overall')}: <b>{result.overall === null ? '—' : `${result.overall.toFixed(1)}`}</b> · {result.items.length} {t('items')} · {result.generatedAt}
          </p>
          <table class="grid">
            <thead>
              <tr>
                <th>{t('layers')}</th>
                <th>{t('pass')}</th>
                <th>{t('partial')}</th>
                <th>{t('fail')}</th>
                <th>{t('manual')}</th>
                <th>{t('na')}</th>
                <th>{t('score')}</th>
              </tr>
            </thead>
            <tbody>
              {result.layers.map((l) => (
                <tr key={l.layer}>
                  <td>{l.layer}</td>
                  <td>{l.pass}</td>
                  <td>{l.partial}</td>
                  <td>{l.fail}</td>
                  <td>{l.manual}</td>
                  <td>{l.na}</td>
                  <td>{l.percent === null ? '—' : l.percent.toFixed(1)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>
            {t('fail')} / {t('partial')} ({open.length})
          </h3>
          <table class="grid">
            <tbody>
              {open.map((i) => (
                <tr key={i.controlId}>
                  <td class="mono nowrap">{i.clause}</td>
                  <td>{i.controlPoint}</td>
                  <td>{i.judgement}</td>
                  <td class="msg">{i.summary}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
