/** The parts of a running operator as listeners: each adapter turns passes, health changes or events into its calls. */
import type { Alerter } from '../alerts/alerter.ts';
import { healthAlert, reconcilerAlert } from '../alerts/events.ts';
import type { ReplicaHealth } from '../health/health.ts';
import type { HealthMonitor } from '../health/monitor.ts';
import type { ObservedContainer } from '../model/state.ts';
import type { HealthListener, PassListener, ReconcilerListener, RevisionListener } from './listeners.ts';
import type { Drainer } from '../proxy/drain.ts';
import type { Dataplane } from '../dataplane/remote.ts';
import type { Registry } from '../registry/registry.ts';
import { syncRegistry, syncReplica } from '../registry/sync.ts';
import type { ReviewRunner } from '../review/runner.ts';
import type { SyncReporter } from '../review/sync-report.ts';
import type { Metrics } from '../server/metrics.ts';
import type { Logger } from '../util/log.ts';
import type { Redactor } from '../util/redact.ts';

/** Pass durations and outcomes on /metrics. */
export function metricsListener(metrics: Metrics): PassListener {
  return { afterPass: (r, _trigger, ms) => metrics.recordPass(r, ms / 1000) };
}

/** The drainer forgets replicas that no longer exist. */
export function drainListener(drainer: Drainer): PassListener {
  return { afterPass: (r) => { if (r.observed) drainer.retain(new Set(r.observed.containers.map((c) => c.id))); } };
}

/**
 * The service registry follows every pass (desired and observed state) and every readiness change; a draining replica
 * stays out of the load balancers whatever its probes say.
 */
export function registryListener(registry: Registry, drainer: Drainer, monitor: HealthMonitor, startedAt = Date.now()): PassListener & HealthListener {
  // A replica that ran before this operator started has been serving through the proxy process, which outlived the
  // previous operator: until its first probe verdict it stays ready instead of leaving every load balancer at once.
  const inherited = (c: ObservedContainer | undefined): boolean => c?.startedAt !== undefined && Date.parse(c.startedAt) < startedAt;
  const effective = (h: ReplicaHealth | undefined, c: ObservedContainer | undefined): Pick<ReplicaHealth, 'ready'> | undefined =>
    h && h.health === 'Progressing' && h.live && inherited(c) ? { ready: true } : h;
  return {
    afterPass: (r) => {
      if (!r.desired || !r.observed) return;
      const byId = new Map(r.observed.containers.map((c) => [c.id, c]));
      syncRegistry(registry, r.desired, r.observed, (id) => (drainer.draining(id) ? { ready: false } : effective(monitor.health(id), byId.get(id))));
    },
    onHealthChange: (c) => {
      const after = effective(c.after, c.container)!;
      const before = effective(c.before, c.container);
      if ((!before || before.ready !== after.ready) && !drainer.draining(c.containerId)) syncReplica(registry, c.container, c.desired, after);
    },
  };
}

/** The listeners of loadBalancer.publish and Routes (in the proxy process) follow the desired state of every pass. */
export function proxiesListener(proxies: Dataplane): PassListener {
  return { afterPass: (r) => { if (r.desired) proxies.setDesired(r.desired); } };
}

/** Logs health transitions of a replica. */
export function healthLogListener(log: Logger): HealthListener {
  return {
    onHealthChange: (c) => {
      if (c.before && c.before.health !== c.after.health) log.info(`health ${c.before.health} -> ${c.after.health}`, { container: c.name, service: c.service, replica: c.replica, message: c.after.message });
    },
  };
}

/** Wakes the loop when a replica stops being live or its readiness flips. */
export function healthWakeListener(wake: (reason: string) => void): HealthListener {
  return { onHealthChange: (c) => { if (c.before && (!c.after.live || c.before.ready !== c.after.ready)) wake(`health ${c.after.health} ${c.name}`); } };
}

/** Alert webhooks of health transitions and reconciler events, without a secret in them. */
export function alertListener(alerter: Alerter, redact: Redactor): HealthListener & ReconcilerListener {
  return {
    onHealthChange: (c) => {
      const a = healthAlert(c);
      if (a) void alerter.send(redact.deep(a));
    },
    onReconcilerEvent: (e) => {
      const a = reconcilerAlert(e);
      if (a) void alerter.send(redact.deep(a));
    },
  };
}

/** After-merge berth/sync statuses and comments on GitHub. */
export function syncReportListener(sync: SyncReporter): PassListener & ReconcilerListener {
  return { afterPass: (r) => sync.onPass(r), onReconcilerEvent: (e) => sync.onEvent(e) };
}

/** Plans are against the applied revision: the review runner plans again when it moves. */
export function reviewListener(reviews: ReviewRunner): RevisionListener {
  return { onAppliedRevision: (revision) => reviews.trigger(`applied ${revision?.slice(0, 12)}`) };
}
