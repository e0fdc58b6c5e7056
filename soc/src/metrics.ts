/**
 * A small Prometheus registry: counters, gauges (set or computed at scrape time) and histograms,
 * rendered in the text exposition format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats).
 * Hand-written because the needs are small and no client library is a dependency.
 */

type Labels = Record<string, string>;

/** Escape a label value: backslash, double quote and newline (exposition format §"Text format details"). */
function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(l: Labels | undefined, extra?: Labels): string {
  const all = { ...(l ?? {}), ...(extra ?? {}) };
  const keys = Object.keys(all);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${esc(all[k]!)}"`).join(',')}}`;
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

interface Metric {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  render(): string[];
}

/** A sample source read at every scrape (counts kept elsewhere, e.g. in a source's metrics). */
export type Collect = () => Array<{ labels?: Labels; value: number }>;

/** One value per label set, rendered as `name{labels} value`; shared by counters and gauges. */
abstract class Scalar implements Metric {
  abstract readonly type: 'counter' | 'gauge';
  protected readonly values = new Map<string, { labels: Labels | undefined; v: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly collect?: Collect,
  ) {}
  protected put(labels: Labels | undefined, update: (old: number | undefined) => number): void {
    const k = JSON.stringify(labels ?? {});
    const e = this.values.get(k);
    if (e) e.v = update(e.v);
    else this.values.set(k, { labels, v: update(undefined) });
  }
  render(): string[] {
    if (this.collect) for (const s of this.collect()) this.put(s.labels, () => s.value);
    return [...this.values.values()].map((e) => `${this.name}${labelText(e.labels)} ${num(e.v)}`);
  }
}

/** A monotonically increasing count, per label set; `collect` (if given) reads counts kept elsewhere at every scrape. */
export class Counter extends Scalar {
  readonly type = 'counter';
  inc(labels?: Labels, by = 1): void {
    this.put(labels, (old) => (old ?? 0) + by);
  }
}

/** A value that goes up and down; `collect` (if given) is called at every scrape. */
export class Gauge extends Scalar {
  readonly type = 'gauge';
  set(value: number, labels?: Labels): void {
    this.put(labels, () => value);
  }
}

/** Observations in cumulative buckets with their sum and count. */
export class Histogram implements Metric {
  readonly type = 'histogram';
  private readonly series = new Map<string, { labels: Labels | undefined; counts: number[]; sum: number; n: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {
    for (let i = 1; i < buckets.length; i++) if (!(buckets[i]! > buckets[i - 1]!)) throw new RangeError('Histogram: buckets must increase');
  }
  observe(value: number, labels?: Labels): void {
    const k = JSON.stringify(labels ?? {});
    let s = this.series.get(k);
    if (!s) {
      s = { labels, counts: this.buckets.map(() => 0), sum: 0, n: 0 };
      this.series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.n++;
  }
  render(): string[] {
    const out: string[] = [];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${labelText(s.labels, { le: num(b) })} ${s.counts[i]}`));
      out.push(`${this.name}_bucket${labelText(s.labels, { le: '+Inf' })} ${s.n}`);
      out.push(`${this.name}_sum${labelText(s.labels)} ${num(s.sum)}`);
      out.push(`${this.name}_count${labelText(s.labels)} ${s.n}`);
    }
    return out;
  }
}

/**
 * The set of metrics one server exposes at `/metrics`.
 *
 * @example
 * ```ts
 * const reg = new MetricsRegistry();
 * const c = reg.add(new Counter('xiangan_events_in_total', 'Events received.'));
 * c.inc({ source: 'syslog-tcp' });
 * reply.type(PROMETHEUS_CONTENT_TYPE).send(reg.render());
 * ```
 */
export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();
  add<M extends Metric>(m: M): M {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(m.name)) throw new RangeError(`invalid metric name ${m.name}`);
    if (this.metrics.has(m.name)) throw new RangeError(`metric ${m.name} registered twice`);
    this.metrics.set(m.name, m);
    return m;
  }
  render(): string {
    const lines: string[] = [];
    for (const m of this.metrics.values()) {
      lines.push(`# HELP ${m.name} ${m.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
      lines.push(`# TYPE ${m.name} ${m.type}`);
      lines.push(...m.render());
    }
    return lines.join('\n') + '\n';
  }
}

/** Content type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Latency buckets in seconds, from 1 ms to 10 s. */
export const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
