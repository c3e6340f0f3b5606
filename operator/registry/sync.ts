/** Keeps the registry in step with a pass: one endpoint per running replica, ready per its health. */
import type { ReplicaHealth } from '../health/health.ts';
import { LABELS } from '../model/keys.ts';
import type { DesiredState, ObservedState } from '../model/state.ts';
import type { Registry } from './registry.ts';
import { replicaEndpoint } from './replica-endpoints.ts';

/**
 * Sets the replica endpoints of every desired service (on its first port) and drops services that left.
 * A running container without probe data (no probes, or an old replica during an update) counts as ready.
 */
export function syncRegistry(registry: Registry, desired: DesiredState, observed: ObservedState, health: (id: string) => ReplicaHealth | undefined, node = 'local'): void {
  const keep = new Set<string>();
  for (const svc of desired.services) {
    keep.add(svc.key);
    const port = svc.spec.ports.find((p) => p.protocol === 'tcp')?.port;
    const endpoints = port === undefined ? [] : observed.containers
      .filter((c) => c.status === 'running' && c.labels[LABELS.namespace] === svc.namespace && c.labels[LABELS.service] === svc.name)
      .flatMap((c) => replicaEndpoint(c, { ready: health(c.id)?.ready ?? true }, { node, port }) ?? []);
    registry.setReplicas(svc.key, endpoints);
  }
  for (const s of registry.services()) if (!keep.has(s.name) && registry.endpoints(s.name).every((e) => e.source === 'replica')) registry.removeService(s.name);
}
