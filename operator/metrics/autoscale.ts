/** The autoscalers' counts, bounds and metrics per service (autoscale/controller.ts status()), read at each scrape. */
import type { Registry } from 'prom-client';
import type { AutoscaleStatus } from '../autoscale/controller.ts';
import { gaugeFrom, shared } from './collect.ts';

export function registerAutoscaleMetrics(registry: Registry, status: () => ReadonlyMap<string, AutoscaleStatus>): void {
  const read = shared(() => [...status()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const each = (f: (s: AutoscaleStatus) => number) => () => read().map(([service, s]) => [{ service }, f(s)] as const);
  gaugeFrom({ registry, name: 'berth_autoscale_replicas', help: 'The replica count the autoscaler keeps a service at.', labels: ['service'] }, each((s) => s.replicas));
  gaugeFrom({ registry, name: 'berth_autoscale_min_replicas', help: 'spec.autoscale.min.', labels: ['service'] }, each((s) => s.min));
  gaugeFrom({ registry, name: 'berth_autoscale_max_replicas', help: 'spec.autoscale.max.', labels: ['service'] }, each((s) => s.max));
  gaugeFrom({ registry, name: 'berth_autoscale_metric_value', help: 'What the last sync measured (cpu and memory in % of the request, latencyP95 in ms).', labels: ['service', 'metric'] },
    () => read().flatMap(([service, s]) => s.metrics.flatMap((m) => (m.value === null ? [] : [[{ service, metric: m.metric }, m.value] as const]))));
  gaugeFrom({ registry, name: 'berth_autoscale_metric_target', help: 'The target of each metric.', labels: ['service', 'metric'] },
    () => read().flatMap(([service, s]) => s.metrics.map((m) => [{ service, metric: m.metric }, m.target] as const)));
}
