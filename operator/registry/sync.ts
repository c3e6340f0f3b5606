/** Keeps the registry in step with the operator: a full sync after each pass, and single replicas between passes. */
import type { ReplicaHealth } from '../health/health.ts';
import { LABELS } from '../model/keys.ts';
import type { DesiredService, DesiredState, ObservedContainer, ObservedState } from '../model/state.ts';
import { claimedBy, claims } from '../manifests/kinds/index.ts';
import type { Registry } from './registry.ts';
import { replicaEndpoint } from './replica-endpoints.ts';

/** The container port a service's traffic goes to: loadBalancer.targetPort, else its first tcp port. */
export function servicePort(svc: DesiredService): number | undefined {
  return svc.spec.loadBalancer?.targetPort ?? svc.spec.ports.find((p) => p.protocol === 'tcp')?.port;
}

/**
 * Sets the replica endpoints of every desired service (on its target port) and drops services that left, external
 * endpoints included: only the services of the applied revision accept external endpoints (Registry.setDesired).
 * A running container without probe data (no probes, or an old replica during an update) counts as ready.
 */
export function syncRegistry(registry: Registry, desired: DesiredState, observed: ObservedState, health: (id: string) => Pick<ReplicaHealth, 'ready'> | undefined, node = 'local'): void {
  const keep = new Set<string>();
  for (const svc of desired.services) {
    keep.add(svc.key);
    const port = servicePort(svc);
    const endpoints = port === undefined ? [] : claimedBy('Service', 'container', observed.containers)
      .filter((c) => c.status === 'running' && c.labels[LABELS.namespace] === svc.namespace && c.labels[LABELS.service] === svc.name)
      .flatMap((c) => replicaEndpoint(c, { ready: health(c.id)?.ready ?? true }, { node, port, weight: svc.spec.loadBalancer?.weight }) ?? []);
    registry.setReplicas(svc.key, endpoints);
  }
  registry.setDesired(keep);
  for (const s of registry.services()) if (!keep.has(s.name)) registry.removeService(s.name);
}

/**
 * One replica's readiness changed, or a replica started during a pass (a rolling update's new container): its
 * endpoint is put into the registry at once, so the load balancers send it traffic before the old replica drains.
 */
export function syncReplica(registry: Registry, container: ObservedContainer, svc: DesiredService, health: Pick<ReplicaHealth, 'ready'>, node = 'local'): void {
  const port = servicePort(svc);
  if (port === undefined || container.labels[LABELS.specHash] === undefined || !claims('Service', 'container', container.labels)) return;
  const endpoint = replicaEndpoint(container, health, { node, port, weight: svc.spec.loadBalancer?.weight });
  if (endpoint) registry.putReplica(endpoint);
}
