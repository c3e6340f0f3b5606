/**
 * Per-service series: replicas desired / running / ready and health (from the last pass's status), restarts (the
 * pass's applied actions), probe results and durations (the health monitor). `service` is the key `ns/name`, as in
 * every berth series (proxy, autoscale), and `namespace` its namespace.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { ProbeRun } from '../health/monitor.ts';
import type { Action } from '../model/plan.ts';
import type { PassResult } from '../reconciler/reconciler.ts';
import type { StatusDoc } from '../status/report.ts';
import { gaugeFrom, serviceLabels } from './collect.ts';

/** Probe durations: a loopback HTTP probe takes about a millisecond, a timeout is 1 s by default. */
export const PROBE_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One probe of one replica, as the monitor ran it. */
export type ProbeRecord = ProbeRun;

type S = 'service' | 'namespace';

/** True for an applied action that restarted a replica: a start of an exited container, a replacement of a sick one. */
export function isRestart(a: Action): boolean {
  return a.type === 'start' || (a.type === 'replace' && a.cause === 'heal');
}

export class ServiceMetrics {
  private services: StatusDoc['services'] = {};
  private readonly restarts: Counter<S>;
  private readonly probes: Counter<S | 'probe' | 'type' | 'result'>;
  private readonly probeDuration: Histogram<S | 'probe'>;
  /** Services with restart or probe series, and their probe series: dropped when the service leaves. */
  private readonly probeSeries = new Map<string, Map<string, { probe: ProbeRecord['probe']; type: ProbeRecord['type']; result: string }>>();

  constructor(registry: Registry) {
    const rows = (f: (s: StatusDoc['services'][string]) => number) => () => Object.entries(this.services).map(([key, s]) => [serviceLabels(key), f(s)] as const);
    gaugeFrom<S>({ registry, name: 'berth_service_desired_replicas', help: 'Replicas a service should run (spec.replicas or the autoscaler\'s count), as of the last pass.', labels: ['service', 'namespace'] }, rows((s) => s.desired));
    gaugeFrom<S>({ registry, name: 'berth_service_running_replicas', help: 'Replicas of the spec in force running, as of the last pass.', labels: ['service', 'namespace'] }, rows((s) => s.running));
    gaugeFrom<S>({ registry, name: 'berth_service_ready_replicas', help: 'Replicas of the spec in force ready (probes passing), as of the last pass.', labels: ['service', 'namespace'] }, rows((s) => s.ready));
    gaugeFrom<S | 'health'>({ registry, name: 'berth_service_info', help: 'A service and its health (Healthy, Progressing, Degraded, Unhealthy, CrashLoop...), as of the last pass; always 1.', labels: ['service', 'namespace', 'health'] },
      () => Object.entries(this.services).map(([key, s]) => [{ ...serviceLabels(key), health: s.health }, 1] as const));
    this.restarts = new Counter<S>({ name: 'berth_service_restarts_total', help: 'Replicas berth restarted: exited containers started again and sick ones replaced (self-healing).', labelNames: ['service', 'namespace'], registers: [registry] });
    this.probes = new Counter({ name: 'berth_probe_results_total', help: 'Probes run, by probe (startup, readiness, liveness), type (http, tcp, exec, script) and result (ok, fail).', labelNames: ['service', 'namespace', 'probe', 'type', 'result'], registers: [registry] });
    this.probeDuration = new Histogram({ name: 'berth_probe_duration_seconds', help: 'Time probes took, by probe.', labelNames: ['service', 'namespace', 'probe'], buckets: PROBE_BUCKETS_S, registers: [registry] });
  }

  recordPass(r: PassResult): void {
    this.services = r.status.services;
    if (r.desired) this.forget(new Set(Object.keys(r.status.services)));
    for (const o of r.applied?.outcomes ?? []) {
      if (o.error || !o.action.service || !isRestart(o.action)) continue;
      this.restarts.inc(serviceLabels(o.action.service));
      if (!this.probeSeries.has(o.action.service)) this.probeSeries.set(o.action.service, new Map());
    }
  }

  recordProbe(p: ProbeRecord): void {
    const labels = serviceLabels(p.service);
    this.probes.inc({ ...labels, probe: p.probe, type: p.type, result: p.ok ? 'ok' : 'fail' });
    this.probeDuration.observe({ ...labels, probe: p.probe }, p.ms / 1000);
    let series = this.probeSeries.get(p.service);
    if (!series) this.probeSeries.set(p.service, (series = new Map()));
    series.set(`${p.probe} ${p.type} ${p.ok}`, { probe: p.probe, type: p.type, result: p.ok ? 'ok' : 'fail' });
  }

  /** Drops the restart and probe series of services that left the revision in force. */
  private forget(keep: ReadonlySet<string>): void {
    for (const [service, series] of this.probeSeries) {
      if (keep.has(service)) continue;
      const labels = serviceLabels(service);
      this.restarts.remove(labels);
      for (const s of series.values()) {
        this.probes.remove({ ...labels, ...s });
        this.probeDuration.remove({ ...labels, probe: s.probe });
      }
      this.probeSeries.delete(service);
    }
  }
}
