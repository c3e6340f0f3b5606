/** The health gate of a rolling update: the new replica must become ready, then stay healthy for update.monitor. */
import { LABELS } from '../model/keys.ts';
import type { DesiredService } from '../model/state.ts';
import type { HealthMonitor } from '../health/monitor.ts';
import type { ReplicaHealth } from '../health/health.ts';
import type { ContainerRuntime } from '../runtime/runtime.ts';

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

/**
 * Resolves ok when container `id` of `svc` passed the gate. The monitor must be probing it (sync is called
 * with new containers by `track` before waiting).
 */
export async function healthGate(
  deps: { monitor: HealthMonitor; runtime: ContainerRuntime; instance: string; track: (id: string, svc: DesiredService) => Promise<void> },
  id: string,
  svc: DesiredService,
): Promise<{ ok: boolean; reason: string }> {
  await deps.track(id, svc);
  const ready = await deps.monitor.waitFor(id, (h) => (h?.ready ? 'ok' : failing(h) ? 'fail' : undefined), readyDeadlineMs(svc));
  if (ready.verdict !== 'ok') return { ok: false, reason: ready.verdict === 'timeout' ? `not ready within ${readyDeadlineMs(svc)} ms (${ready.reason})` : ready.reason };
  const monitorMs = svc.spec.update.monitorMs;
  if (monitorMs > 0) {
    const held = await deps.monitor.waitFor(id, (h) => (!h?.ready || failing(h) ? 'fail' : undefined), monitorMs);
    if (held.verdict === 'fail') return { ok: false, reason: `unhealthy during the ${monitorMs} ms monitor window (${held.reason})` };
  }
  const obs = await deps.runtime.observe(deps.instance, []);
  const c = obs.containers.find((x) => x.id === id);
  if (!c || c.status !== 'running') return { ok: false, reason: `exited with code ${c?.exitCode ?? '?'} during the monitor window` };
  if (c.labels[LABELS.specHash] !== svc.specHash) return { ok: false, reason: 'replaced during the update' };
  return { ok: true, reason: 'ready' };
}
