/**
 * The replica count of autoscaled Services, in one place for every planner (berth run, apply, plan, pull requests):
 * while spec.autoscale is set, spec.replicas is only the starting count. The count is the autoscaler's when it has
 * one; otherwise what runs (the replica slots the engine has for the service, clamped to min..max), so a plan never
 * shows "scale to N" for a count the autoscaler chose and a push that changes other fields keeps it. A service with
 * no replica at all starts at spec.replicas, clamped. Pure.
 */
import { LABELS } from '../model/keys.ts';
import type { DesiredService, DesiredState, ObservedState } from '../model/state.ts';

/** min..max, where 0 is allowed only with min 0 (scale to zero). */
export function clampReplicas(n: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, n));
}

/** Distinct replica slots of `svc` among the observed containers, whatever their spec (a rolling update counts once per slot). */
export function observedReplicas(svc: Pick<DesiredService, 'namespace' | 'name'>, observed: ObservedState): number {
  const slots = new Set<string>();
  for (const c of observed.containers) {
    if (c.labels[LABELS.namespace] !== svc.namespace || c.labels[LABELS.service] !== svc.name) continue;
    if (c.status === 'removing' || c.status === 'dead') continue;
    slots.add(c.labels[LABELS.replica] ?? c.id);
  }
  return slots.size;
}

/** The count of an autoscaled service when the autoscaler has none: what runs, else spec.replicas; clamped. */
export function startingReplicas(svc: DesiredService, observed: ObservedState): number {
  const a = svc.spec.autoscale!;
  const running = observedReplicas(svc, observed);
  return clampReplicas(running > 0 ? running : svc.spec.replicas, a.min, a.max);
}

/** `desired` with the replica count of every autoscaled service set: `counts` first, then startingReplicas. */
export function autoscaledReplicas(desired: DesiredState, observed: ObservedState, counts?: ReadonlyMap<string, number>): DesiredState {
  if (!desired.services.some((s) => s.spec.autoscale)) return desired;
  const services = desired.services.map((s) => {
    const a = s.spec.autoscale;
    if (!a) return s;
    const n = clampReplicas(counts?.get(s.key) ?? startingReplicas(s, observed), a.min, a.max);
    return n === s.spec.replicas ? s : { ...s, spec: { ...s.spec, replicas: n } };
  });
  return { ...desired, services };
}
