/** Which containers are current replicas of the desired state (garbage collection keeps those, even exited). */
import { LABELS } from '../model/keys.ts';
import { claimedBy } from '../manifests/kinds/index.ts';
import type { DesiredState, ObservedState } from '../model/state.ts';

/** Service containers that are replicas of the desired spec (any state). */
export function currentReplicas(desired: DesiredState | null, observed: ObservedState): Set<string> {
  const specs = new Map((desired?.services ?? []).map((s) => [`${s.namespace}/${s.name}`, s]));
  const out = new Set<string>();
  for (const c of claimedBy('Service', 'container', observed.containers)) {
    const svc = specs.get(`${c.labels[LABELS.namespace]}/${c.labels[LABELS.service]}`);
    const replica = Number(c.labels[LABELS.replica]);
    if (svc && c.labels[LABELS.specHash] === svc.specHash && replica >= 1 && replica <= svc.spec.replicas) out.add(c.id);
  }
  return out;
}
