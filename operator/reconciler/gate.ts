/** The health gate of a rolling update: the new replica must become ready, then stay healthy for update.monitor. */
import { LABELS } from '../model/keys.ts';
import type { DesiredService } from '../model/state.ts';
import type { HealthMonitor } from '../health/monitor.ts';
import type { ReplicaHealth } from '../health/health.ts';
import type { ContainerRuntime } from '../runtime/runtime.ts';
import type { Gate } from '../apply/rolling.ts';

const BAD = new Set(['Degraded', 'Unhealthy', 'CrashLoop']);
const SLACK_MS = 10_000;

/** Longest a replica may take to become ready, from its probes' settings. */
export function readyDeadlineMs(svc: DesiredService): number {
  const { startup, readiness } = svc.spec.health;
  const s = startup ? startup.initialDelayMs + startup.intervalMs * startup.failureThreshold + startup.timeoutMs : 0;
  const r = readiness ? readiness.initialDelayMs + readiness.intervalMs * (readiness.failureThreshold + readiness.successThreshold) + readiness.timeoutMs : 0;
  return s + r + SLACK_MS;
}

function failing(h: ReplicaHealth | undefined): boolean {
  return h !== undefined && (BAD.has(h.health) || !h.live);
}

/** The update gate over the health monitor: `track` makes the monitor probe a new container before waiting. */
export function createGate(deps: {
  monitor: HealthMonitor;
  runtime: ContainerRuntime;
  instance: string;
  track: (id: string, svc: DesiredService) => Promise<void>;
  /** The desired service of a key at the revision being applied (for dependencyReady). */
  desired?: (key: string) => DesiredService | undefined;
}): Gate {
  return {
    async dependencyReady(key, wait) {
      const svc = deps.desired?.(key);
      if (!svc) return { ok: true, reason: 'not in the revision' };
      const replicas = (await deps.runtime.observe(deps.instance, [])).containers.filter((c) =>
        `${c.labels[LABELS.namespace]}/${c.labels[LABELS.service]}` === key && c.status === 'running');
      if (replicas.length === 0) return { ok: false, reason: `${key} has no running replica` };
      const deadline = wait ? readyDeadlineMs(svc) : 0;
      const results = await Promise.all(replicas.map(async (c) => {
        await deps.track(c.id, svc);
        if (!wait) return deps.monitor.health(c.id)?.ready ? undefined : `${c.name}: ${deps.monitor.health(c.id)?.message ?? 'not probed yet'}`;
        const r = await deps.monitor.waitFor(c.id, (h) => (h?.ready ? 'ok' : failing(h) ? 'fail' : undefined), deadline);
        return r.verdict === 'ok' ? undefined : `${c.name}: ${r.verdict === 'timeout' ? `not ready within ${deadline} ms (${r.reason})` : r.reason}`;
      }));
      const bad = results.filter((r): r is string => r !== undefined);
      return bad.length ? { ok: false, reason: `${key} is not healthy: ${bad.join('; ')}` } : { ok: true, reason: 'ready' };
    },
    async ready(id, svc) {
      await deps.track(id, svc);
      const deadline = readyDeadlineMs(svc);
      const r = await deps.monitor.waitFor(id, (h) => (h?.ready ? 'ok' : failing(h) ? 'fail' : undefined), deadline);
      if (r.verdict === 'ok') return { ok: true, reason: 'ready' };
      return { ok: false, reason: r.verdict === 'timeout' ? `not ready within ${deadline} ms (${r.reason})` : r.reason };
    },
    async hold(id, svc) {
      const monitorMs = svc.spec.update.monitorMs;
      if (monitorMs > 0) {
        const held = await deps.monitor.waitFor(id, (h) => (!h?.ready || failing(h) ? 'fail' : undefined), monitorMs);
        if (held.verdict === 'fail') return { ok: false, reason: `unhealthy during the ${monitorMs} ms monitor window (${held.reason})` };
      }
      const c = (await deps.runtime.observe(deps.instance, [])).containers.find((x) => x.id === id);
      if (!c || c.status !== 'running') return { ok: false, reason: `exited with code ${c?.exitCode ?? '?'} during the monitor window` };
      if (c.labels[LABELS.specHash] !== svc.specHash) return { ok: false, reason: 'replaced during the update' };
      return { ok: true, reason: 'held' };
    },
  };
}
