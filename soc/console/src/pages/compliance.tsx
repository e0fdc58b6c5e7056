// Compliance self-assessment (GB/T 22239 等级保护 / GB/T 39786 商用密码), the console's side of
// `xiangan comply`: import the asset inventory (CSV), upload device configurations and see their
// checks, run the assessment (POST /api/v1/comply/runs), read the conclusion, the score per layer
// and the failing items, record an auditor's judgement on an item, and download the JSON or the
// rendered report (HTML, PDF, CSV) with its detached SM2 signature (`.p7s`, for `xiangan comply verify`).
import { useEffect, useState } from 'preact/hooks';
import { api, apiRaw, ApiError } from '../api.js';
import { t } from '../i18n.js';

interface System {
  id: string;
  name: string;
  level: 2 | 3;
}

interface AssetRow {
  id: string;
  systemId: string;
  name: string;
  type: string;
}

interface ConfigResult {
  asset: string;
  check: string;
  title: string;
  status: 'pass' | 'fail';
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
  conclusion?: { grade: string | null; reason: string };
}

/** Offer a JSON value as a file download. */
function download(name: string, value: unknown): void {
  save(name, new Blob([JSON.stringify(value, null, 2)], { type: 'application/json' }));
}

/** Offer a blob as a file download (a blob URL: no inline script, CSP unaffected). */
function save(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Bytes of a base64 string (the report signature header). */
function unbase64(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Import the asset inventory from a CSV file (the format of `xiangan comply assets import`). */
export function ImportAssets({ onDone }: { onDone: () => void }) {
  const [msg, setMsg] = useState('');
  const pick = async (e: Event) => {
    const f = (e.currentTarget as HTMLInputElement).files?.[0];
    if (!f) return;
    try {
      const r = (await (await apiRaw('POST', '/api/v1/comply/assets/import', await f.text(), 'text/csv')).json()) as { imported: number; assets: number };
      setMsg(`${t('imported')}: ${r.imported} (${r.assets} ${t('asset')})`);
      onDone();
    } catch (x) {
      setMsg((x as Error).message);
    }
  };
  return (
    <label class="toolbar" data-testid="comply-import">
      {t('importAssets')} <input type="file" accept=".csv,text/csv" onChange={pick} /> <span data-testid="comply-import-result">{msg}</span>
    </label>
  );
}

/** Upload a device configuration for an asset and show its configuration checks. */
function UploadConfig({ assets }: { assets: AssetRow[] }) {
  const [asset, setAsset] = useState(assets[0]?.id ?? '');
  const [results, setResults] = useState<ConfigResult[] | null>(null);
  const [msg, setMsg] = useState('');
  const pick = async (e: Event) => {
    const f = (e.currentTarget as HTMLInputElement).files?.[0];
    if (!f || !asset) return;
    setMsg('');
    try {
      const q = `asset=${encodeURIComponent(asset)}&name=${encodeURIComponent(f.name)}`;
      await apiRaw('POST', `/api/v1/comply/configs?${q}`, await f.text(), 'text/plain');
      setResults((await api<{ items: ConfigResult[] }>('GET', `/api/v1/comply/configs/results?asset=${encodeURIComponent(asset)}`)).items);
    } catch (x) {
      setMsg((x as Error).message);
    }
  };
  return (
    <div data-testid="comply-config">
      <label class="toolbar">
        {t('uploadConfig')}{' '}
        <select value={asset} onChange={(e) => setAsset(e.currentTarget.value)}>
          {assets.map((a) => (
            <option key={a.id} value={a.id}>
              {a.name} ({a.id})
            </option>
          ))}
        </select>{' '}
        <input type="file" onChange={pick} />
      </label>
      {msg && <p class="error">{msg}</p>}
      {results && (
        <table class="grid" data-testid="comply-config-results">
          <tbody>
            {results.map((r) => (
              <tr key={`${r.asset}/${r.check}`}>
                <td class="mono nowrap">{r.check}</td>
                <td>{r.title}</td>
                <td>{t(r.status)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** Record an auditor's judgement on one item (it decides the item in the next run). */
function Judge({ system, item }: { system: string; item: Item }) {
  const [status, setStatus] = useState('pass');
  const [comment, setComment] = useState('');
  const [msg, setMsg] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      await api('POST', '/api/v1/comply/judgements', { system, control: item.controlId, status, comment });
      setMsg(t('judged'));
    } catch (x) {
      setMsg((x as Error).message);
    }
  };
  return (
    <form class="toolbar" onSubmit={submit} data-testid="comply-judge">
      <select value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
        {['pass', 'partial', 'fail', 'na'].map((s) => (
          <option key={s} value={s}>
            {t(s)}
          </option>
        ))}
      </select>
      <input value={comment} placeholder={t('comment')} onInput={(e) => setComment(e.currentTarget.value)} />
      <button type="submit">{t('recordJudgement')}</button> {msg}
    </form>
  );
}

export function Compliance({ canRun }: { canRun: boolean }) {
  const [systems, setSystems] = useState<System[] | null>(null);
  const [assets, setAssets] = useState<AssetRow[]>([]);
  const [judging, setJudging] = useState('');
  const [reportNote, setReportNote] = useState('');
  const [system, setSystem] = useState('');
  const [level, setLevel] = useState<2 | 3>(3);
  const [standard, setStandard] = useState<'djcp' | 'gmcy'>('djcp');
  const [result, setResult] = useState<Assessment | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const load = () =>
    api<{ systems: System[]; assets: AssetRow[] }>('GET', '/api/v1/comply/inventory').then(
      (inv) => {
        setSystems(inv.systems);
        setAssets(inv.assets);
        if (inv.systems[0] && !inv.systems.some((x) => x.id === system)) {
          setSystem(inv.systems[0].id);
          setLevel(inv.systems[0].level);
        }
      },
      (e: Error) => setError(e instanceof ApiError && e.status === 404 ? t('notAvailable') : e.message),
    );
  useEffect(() => {
    void load();
  }, []);
  const report = async (format: 'html' | 'pdf' | 'csv') => {
    setBusy(true);
    setError('');
    try {
      const res = await apiRaw('POST', '/api/v1/comply/reports', JSON.stringify({ system, level, standard, format }), 'application/json');
      const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? `report.${format}`;
      save(name, await res.blob());
      const sig = res.headers.get('x-xiangan-signature');
      if (sig) save(`${name}.p7s`, new Blob([unbase64(sig)], { type: 'application/pkcs7-signature' }));
      setReportNote(`${name}: ${sig ? t('signed') : t('unsigned')}`);
    } catch (x) {
      setError((x as Error).message);
    } finally {
      setBusy(false);
    }
  };
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
  const importer = canRun && <ImportAssets onDone={() => void load()} />;
  if (systems.length === 0)
    return (
      <div>
        <p class="notice">{t('noSystems')}</p>
        {importer}
      </div>
    );
  const open = result?.items.filter((i) => i.status === 'fail' || i.status === 'partial' || i.status === 'manual') ?? [];
  return (
    <div>
      {importer}
      {canRun && assets.length > 0 && <UploadConfig assets={assets} />}
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
        {canRun &&
          (['html', 'pdf', 'csv'] as const).map((f) => (
            <button key={f} type="button" disabled={busy} data-testid={`comply-report-${f}`} onClick={() => void report(f)}>
              {t('report')} {f.toUpperCase()}
            </button>
          ))}
        <span data-testid="comply-report-note">{reportNote}</span>
      </form>
      {error && <p class="error">{error}</p>}
      {result && (
        <div data-testid="comply-result">
          <p>
            {t('overall')}: <b>{result.overall === null ? '—' : `${result.overall.toFixed(1)}`}</b> · {result.items.length} {t('items')} · {result.generatedAt}
          </p>
          {result.conclusion && (
            <p data-testid="comply-conclusion">
              {t('conclusion')}: <b>{result.conclusion.grade ?? '—'}</b> ({result.conclusion.reason})
            </p>
          )}
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
            {t('fail')} / {t('partial')} / {t('manual')} ({open.length})
          </h3>
          <table class="grid">
            <tbody>
              {open.map((i) => (
                <tr key={i.controlId} data-control={i.controlId}>
                  <td class="mono nowrap">{i.clause}</td>
                  <td>{i.controlPoint}</td>
                  <td>{i.judgement}</td>
                  <td class="msg">{i.summary}</td>
                  <td>
                    {canRun &&
                      (judging === i.controlId ? (
                        <Judge system={result.system.id} item={i} />
                      ) : (
                        <button type="button" onClick={() => setJudging(i.controlId)}>
                          {t('judge')}
                        </button>
                      ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
