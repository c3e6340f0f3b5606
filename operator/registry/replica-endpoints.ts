/** Glue between observed containers, their health and the registry (pure). */
import type { ReplicaHealth } from '../health/health.ts';
import { LABELS, resourceKey } from '../model/keys.ts';
import type { ObservedContainer } from '../model/state.ts';
import type { RegistryEndpoint } from './registry.ts';

export interface ReplicaEndpointOptions {
  /** Node the container runs on. */
  node: string;
  /** Container port traffic goes to (the service's first port). */
  port: number;
  /** Default 1. */
  weight?: number;
}

/**
 * The registry endpoint of one berth container, or undefined when it lacks the berth.namespace / berth.service labels
 * or an address. The id is the container id (during a start-first update two containers share a replica slot); the
 * replica slot (berth.replica) is kept in `replica`. Ready follows the replica's health.
 */
export function replicaEndpoint(
  container: ObservedContainer, health: Pick<ReplicaHealth, 'ready'>, opts: ReplicaEndpointOptions,
): RegistryEndpoint | undefined {
  const ns = container.labels[LABELS.namespace];
  const name = container.labels[LABELS.service];
  if (!ns || !name || !container.address) return undefined;
  return {
    id: container.id,
    service: resourceKey(ns, name),
    replica: container.labels[LABELS.replica],
    node: opts.node,
    address: container.address,
    port: opts.port,
    weight: opts.weight ?? 1,
    ready: health.ready,
    source: 'replica',
    metadata: {},
  };
}
