/**
 * berth's /metrics: one prom-client Registry per operator (never the global default: tests run several operators in
 * one process). Pass outcomes are counted as passes end; everything whose value lives elsewhere (the API server's
 * limits, the guard, the per-service status, the proxy's access counters, autoscalers, container usage, the log
 * store) is read in collect() callbacks when /metrics is scraped.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import type { GuardStats } from '../auth/guard.ts';
import type { AutoscaleStatus } from '../autoscale/controller.ts';
import { registerAccessMetrics } from '../dataplane/access-metrics.ts';
import type { LogsReport } from '../logs/service.ts';
import { registerAutoscaleMetrics } from '../metrics/autoscale.ts';
import { counterFrom, gaugeFrom } from '../metrics/collect.ts';
import { registerLogMetrics } from '../metrics/logs.ts';
import { ServiceMetrics, type ProbeRecord } from '../metrics/services.ts';
import { FetchMetrics } from '../metrics/source.ts';
import { ContainerUsage } from '../metrics/usage.ts';
import type { BerthError } from '../model/errors.ts';
import type { AccessSnapshot } from '../proxy/access-stats.ts';
import type { PassResult } from '../reconciler/reconciler.ts';
import type { ContainerStats } from '../runtime/runtime.ts';
import type { BodyStats } from './body-reader.ts';
import type { GateStats } from './conn-guard.ts';

/** Pass durations: a loopback pass takes 10-100 ms, a rolling update minutes. */
export const PASS_BUCKETS_S = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** Where the series whose values live elsewhere are read; each absent one adds no series. */
export interface MetricsSources {
  /** One-shot CPU and memory counters of containers (runtime.containerStats), sampled at most every 15 s. */
  containerStats?: (ids: string[]) => Promise<Record<string, ContainerStats>>;
  /** The proxy processes' merged access snapshot; undefined when none answers in time. */
  access?: () => Promise<AccessSnapshot | undefined>;
  /** The autoscalers' bounds, counts and metrics (read live: they change between passes). */
  autoscale?: () => ReadonlyMap<string, AutoscaleStatus>;
  /** The log store's size and ingest counters (logs/service.ts). */
  logs?: () => LogsReport;
  /** How often container stats may be read (default USAGE_INTERVAL_MS, 15 s). */
  usageIntervalMs?: number;
  now?: () => number;
}

/** What the API server reports of its limits and authentication (server.ts gives it once it listens). */
export interface ServerSources {
  bodies(): BodyStats;
  gates(): GateStats[];
  auth?: () => GuardStats;
}

export class Metrics {
  readonly registry = new Registry();
  readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE;
  private readonly passes: Counter<'result'>;
  private readonly actions: Counter<'type' | 'cause' | 'result'>;
  private readonly duration: Histogram<never>;
  private readonly fetchFailures: Counter<never>;
  private ready = 0;
  private revision = '';
  private sourceUp = 1;
  private server: ServerSources | undefined;
  private readonly services: ServiceMetrics;
  /** The container usage readings (also read by the series sampler, metrics/series.ts). */
  readonly usage: ContainerUsage | undefined;
  private readonly fetches: FetchMetrics;

  constructor(sources: MetricsSources = {}) {
    const registry = this.registry;
    this.passes = new Counter({ name: 'berth_passes_total', help: 'Reconcile passes by result.', labelNames: ['result'], registers: [registry] });
    this.duration = new Histogram({ name: 'berth_pass_duration_seconds', help: 'Time spent in reconcile passes.', buckets: PASS_BUCKETS_S, registers: [registry] });
    this.actions = new Counter({ name: 'berth_actions_total', help: 'Actions applied to the engine.', labelNames: ['type', 'cause', 'result'], registers: [registry] });
    gaugeFrom({ registry, name: 'berth_ready', help: '1 when the last pass converged.' }, () => [[{}, this.ready]]);
    gaugeFrom({ registry, name: 'berth_applied_revision_info', help: 'The applied revision.', labels: ['revision'] }, () => [[{ revision: this.revision }, 1]]);
    this.fetchFailures = new Counter({ name: 'berth_source_fetch_failures_total', help: 'Passes whose git fetch failed (healing went on from the revision in force).', registers: [registry] });
    gaugeFrom({ registry, name: 'berth_source_up', help: '0 while the last fetch of the repository failed.' }, () => [[{}, this.sourceUp]]);
    this.fetches = new FetchMetrics(registry);
    this.registerServer();
    this.services = new ServiceMetrics(registry);
    this.usage = sources.containerStats ? new ContainerUsage(registry, sources.containerStats, sources.now, sources.usageIntervalMs ? { intervalMs: sources.usageIntervalMs } : {}) : undefined;
    if (sources.access) registerAccessMetrics(registry, sources.access);
    if (sources.autoscale) registerAutoscaleMetrics(registry, sources.autoscale);
    if (sources.logs) registerLogMetrics(registry, sources.logs);
  }

  /** Records one pass and how long it took. */
  recordPass(r: PassResult, seconds: number): void {
    this.passes.inc({ result: r.error ? (r.error.terminal ? 'stalled' : 'error') : 'ok' });
    this.duration.observe(seconds);
    for (const o of r.applied?.outcomes ?? []) this.actions.inc({ type: o.action.type, cause: o.action.cause, result: o.error ? 'error' : 'ok' });
    this.ready = r.status.conditions.find((c) => c.type === 'Ready')?.status === 'True' ? 1 : 0;
    this.revision = r.status.revision.applied ?? '';
    if (r.fetchError) this.fetchFailures.inc();
    this.sourceUp = r.fetchError ? 0 : 1;
    this.services.recordPass(r);
    if (r.observed) this.usage?.follow(r.observed.containers);
  }

  /** One probe of a replica (health/monitor.ts). */
  recordProbe(p: ProbeRecord): void {
    this.services.recordProbe(p);
  }

  /** One fetch of the repository (the timed GitSource of metrics/source.ts). */
  recordFetch(seconds: number, error?: BerthError | Error): void {
    this.fetches.record(seconds, error);
  }

  /** The API server's counters; the last server given is the one reported. */
  serve(server: ServerSources): void {
    this.server = server;
  }

  /** The exposition text (Prometheus 0.0.4). */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** Body reading, connections per listener and API authentication, read from the server at each scrape. */
  private registerServer(): void {
    const registry = this.registry;
    const server = (): ServerSources | undefined => this.server;
    gaugeFrom({ registry, name: 'berth_http_bodies_reading', help: 'Request bodies being read by the API server.' }, () => [[{}, server()?.bodies().reading ?? 0]]);
    gaugeFrom({ registry, name: 'berth_http_body_buffered_bytes', help: 'Bytes buffered for request bodies being read.' }, () => [[{}, server()?.bodies().bufferedBytes ?? 0]]);
    counterFrom({ registry, name: 'berth_http_bodies_refused_total', help: 'Request bodies refused, by code.', labels: ['code'] },
      () => Object.entries(server()?.bodies().refused ?? {}).map(([code, n]) => [{ code }, n] as const));
    gaugeFrom({ registry, name: 'berth_connections_open', help: 'Client connections open, by listener.', labels: ['listener'] },
      () => (server()?.gates() ?? []).map((g) => [{ listener: g.name }, g.open] as const));
    counterFrom({ registry, name: 'berth_connections_refused_total', help: 'Client connections closed at once by a limit, by listener and limit.', labels: ['listener', 'limit'] },
      () => (server()?.gates() ?? []).flatMap((g) => Object.entries(g.refused).map(([limit, n]) => [{ listener: g.name, limit }, n] as const)));
    const auth = (): GuardStats => server()?.auth?.() ?? { failures: {}, forbidden: 0, limited: 0 };
    counterFrom({ registry, name: 'berth_api_auth_failures_total', help: 'API requests refused for missing or bad credentials, by reason.', labels: ['reason'] },
      () => Object.entries(auth().failures).map(([reason, n]) => [{ reason }, n] as const));
    counterFrom({ registry, name: 'berth_api_forbidden_total', help: 'API requests refused because the role does not allow them.' }, () => [[{}, auth().forbidden]]);
    counterFrom({ registry, name: 'berth_api_auth_limited_total', help: 'API requests refused because their address failed to authenticate too often.' }, () => [[{}, auth().limited]]);
  }
}
