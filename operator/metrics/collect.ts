/**
 * prom-client metrics whose values live elsewhere (the last pass's status, the proxy process's counters, the log
 * store): each reads its source in collect(), when /metrics is scraped. One Registry per operator, never the global
 * one (tests run several operators in one process).
 */
import { Counter, Gauge, Histogram, type LabelValues, type MetricType, type MetricObjectWithValues, type MetricValueWithName, type Registry } from 'prom-client';

/** Label values and a value, one series each. */
export type Rows<L extends string> = Iterable<readonly [LabelValues<L>, number]>;

interface Family<L extends string> {
  registry: Registry;
  name: string;
  help: string;
  labels?: readonly L[];
}

/** A gauge set from `read()` at every scrape; series `read` no longer returns disappear. */
export function gaugeFrom<L extends string>(f: Family<L>, read: () => Rows<L> | Promise<Rows<L>>): Gauge<L> {
  return new Gauge<L>({
    name: f.name, help: f.help, labelNames: f.labels ?? [], registers: [f.registry],
    async collect() {
      const rows = await read();
      this.reset();
      for (const [labels, value] of rows) this.set(labels, value);
    },
  });
}

/** A counter whose totals are kept elsewhere (the proxy process, the guard): copied from `read()` at every scrape. */
export function counterFrom<L extends string>(f: Family<L>, read: () => Rows<L> | Promise<Rows<L>>): Counter<L> {
  return new Counter<L>({
    name: f.name, help: f.help, labelNames: f.labels ?? [], registers: [f.registry],
    async collect() {
      const rows = await read();
      this.reset();
      for (const [labels, value] of rows) this.inc(labels, value);
    },
  });
}

/** One series of a histogram counted elsewhere: cumulative counts aligned with the bounds (+Inf = count). */
export interface BucketRow<L extends string> {
  labels: LabelValues<L>;
  cumulative: readonly number[];
  sum: number;
  count: number;
}

/** What an ExternalHistogram reads at a scrape: the bucket upper bounds the counts were made with, and the series. */
export interface BucketRows<L extends string> {
  bounds: readonly number[];
  rows: Iterable<BucketRow<L>>;
}

/**
 * A histogram whose buckets are counted elsewhere (the proxy process keeps fixed-bucket counters per request and
 * sends them as numbers). prom-client's Histogram only counts its own observations and has no way to set a bucket,
 * so this one replaces its export (get) with what `read()` returns, keeping the exposition's `_bucket{le}`, `_sum`
 * and `_count` lines; the bounds are the counter's own (`buckets` is what they are expected to be).
 */
export class ExternalHistogram<L extends string> extends Histogram<L> {
  private readonly family: { name: string; help: string };

  constructor(f: Family<L> & { buckets: readonly number[] }, private readonly read: () => Promise<BucketRows<L>>) {
    super({ name: f.name, help: f.help, labelNames: f.labels ?? [], buckets: [...f.buckets], registers: [f.registry] });
    this.family = { name: f.name, help: f.help };
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<L>>> {
    const values: MetricValueWithName<L>[] = [];
    const { bounds, rows } = await this.read();
    const { name, help } = this.family;
    const bucket = `${name}_bucket`;
    for (const row of rows) {
      bounds.forEach((le, i) => values.push({ metricName: bucket, labels: { ...row.labels, le } as LabelValues<L>, value: row.cumulative[i] ?? 0 }));
      values.push(
        { metricName: bucket, labels: { ...row.labels, le: '+Inf' } as LabelValues<L>, value: row.count },
        { metricName: `${name}_sum`, labels: row.labels, value: row.sum },
        { metricName: `${name}_count`, labels: row.labels, value: row.count },
      );
    }
    // MetricType is a declared enum prom-client does not export at run time: its value is the string
    return { name, help, type: 'histogram' as unknown as MetricType, values, aggregator: 'sum', collect: () => undefined };
  }

  /** What the registry renders (prom-client's Histogram has one of its own). */
  async getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<L>>> {
    return this.get();
  }
}

/**
 * `read`, called at most once per `ttlMs`: the metrics of one scrape collect together (prom-client calls every
 * collect() at once), so they share one fetch of the proxy's snapshot or one read of the log store.
 */
export function shared<T>(read: () => T, ttlMs = 100, now: () => number = Date.now): () => T {
  let at = -Infinity;
  let value: T | undefined;
  return () => {
    const t = now();
    if (t - at >= ttlMs) {
      value = read();
      at = t;
    }
    return value as T;
  };
}

/** Prometheus label values of a service key `ns/name`: the key itself (as every berth series has it) and its namespace. */
export function serviceLabels(key: string): { service: string; namespace: string } {
  const slash = key.indexOf('/');
  return { service: key, namespace: slash < 0 ? '' : key.slice(0, slash) };
}
