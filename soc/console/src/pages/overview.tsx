// Overview: events per second (live, from the stream's `counts` frames), alerts by severity per
// hour, top sources and top rules — Apache ECharts, only the modules used (tree-shaken).
import { useEffect, useRef, useState } from 'preact/hooks';
import * as echarts from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import { api, stream, type Alert, type SearchResult } from '../api.js';
import { t } from '../i18n.js';

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

const LEVELS = ['informational', 'low', 'medium', 'high', 'critical'];
const COLORS: Record<string, string> = { informational: '#8c8c8c', low: '#3b82f6', medium: '#eab308', high: '#f97316', critical: '#dc2626' };

function Chart({ option, testid }: { option: echarts.EChartsCoreOption; testid: string }) {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  useEffect(() => {
    chart.current = echarts.init(el.current!);
    const onResize = () => chart.current?.resize();
    addEventListener('resize', onResize);
    return () => {
      removeEventListener('resize', onResize);
      chart.current?.dispose();
    };
  }, []);
  useEffect(() => {
    chart.current?.setOption(option, true);
  }, [option]);
  return <div class="chart" ref={el} data-testid={testid} />;
}

function bars(names: string[], values: number[]): echarts.EChartsCoreOption {
  return {
    grid: { left: 140, right: 20, top: 10, bottom: 20 },
    tooltip: {},
    xAxis: { type: 'value', minInterval: 1 },
    yAxis: { type: 'category', data: names, inverse: true },
    series: [{ type: 'bar', data: values, itemStyle: { color: '#2563eb' } }],
  };
}

export function Overview() {
  const [rate, setRate] = useState<[string, number][]>([]);
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [sources, setSources] = useState<{ value: string | number | boolean; count: number }[]>([]);
  const [error, setError] = useState('');

  useEffect(() => {
    api<{ alerts: Alert[] }>('GET', `/api/v1/alerts?size=1000&from=${new Date(Date.now() - 86_400_000).toISOString()}`).then(
      (r) => setAlerts(r.alerts),
      (e: Error) => setError(e.message),
    );
    api<SearchResult>('GET', '/api/v1/events?last=24h&size=0&facets=host.name&facetSize=10').then(
      (r) => setSources(r.facets['host.name'] ?? []),
      (e: Error) => setError(e.message),
    );
    return stream({
      counts: (c) => setRate((r) => [...r.slice(-299), [c.t, c.events]]),
      alert: (a) => setAlerts((l) => [a, ...l.filter((x) => x.id !== a.id)]),
    });
  }, []);

  // Alerts per hour and severity over the last 24 h (by creation time).
  const hourMs = 3_600_000;
  const start = Math.floor((Date.now() - 23 * hourMs) / hourMs) * hourMs;
  const hours = Array.from({ length: 24 }, (_, i) => start + i * hourMs);
  const perLevel = LEVELS.map((lv) => {
    const counts = hours.map(() => 0);
    for (const a of alerts) {
      if (a.severity !== lv) continue;
      const i = Math.floor((Date.parse(a.createdAt) - start) / hourMs);
      if (i >= 0 && i < 24) counts[i]! += 1;
    }
    return { name: t(lv), type: 'bar', stack: 'sev', data: counts, itemStyle: { color: COLORS[lv] } };
  });
  const byRule = new Map<string, number>();
  for (const a of alerts) byRule.set(a.title, (byRule.get(a.title) ?? 0) + a.count);
  const topRules = [...byRule].sort((a, b) => b[1] - a[1]).slice(0, 10);

  return (
    <div class="cards">
      {error && <p class="error">{error}</p>}
      <div class="card wide">
        <h3>{t('eventsPerSec')}</h3>
        <Chart
          testid="chart-rate"
          option={{
            grid: { left: 50, right: 20, top: 10, bottom: 30 },
            tooltip: { trigger: 'axis' },
            xAxis: { type: 'time' },
            yAxis: { type: 'value', minInterval: 1 },
            series: [{ type: 'line', showSymbol: false, data: rate, areaStyle: {} }],
          }}
        />
      </div>
      <div class="card wide">
        <h3>{t('alertsBySeverity')}</h3>
        <Chart
          testid="chart-severity"
          option={{
            grid: { left: 40, right: 20, top: 30, bottom: 30 },
            legend: { top: 0 },
            tooltip: { trigger: 'axis' },
            xAxis: { type: 'category', data: hours.map((h) => new Date(h).getHours() + ':00') },
            yAxis: { type: 'value', minInterval: 1 },
            series: perLevel,
          }}
        />
      </div>
      <div class="card">
        <h3>{t('topSources')}</h3>
        <Chart testid="chart-sources" option={bars(sources.map((s) => String(s.value)), sources.map((s) => s.count))} />
      </div>
      <div class="card">
        <h3>{t('topRules')}</h3>
        <Chart testid="chart-rules" option={bars(topRules.map((r) => r[0]), topRules.map((r) => r[1]))} />
      </div>
    </div>
  );
}
