/** spec.loadBalancer of a Service: defaults (schema-valid data -> model) and the facts its checks and discovery share. */
import type { HashKey, LbAlgorithm, LoadBalancerSpec, PortSpec, PublishSpec } from '../model/manifest.ts';
import type { Obj } from './raw.ts';

/** The first tcp port of spec.ports (the default target of load balancing and discovery), or undefined when none. */
export function firstTcpPort(ports: readonly PortSpec[]): number | undefined {
  return ports.find((p) => p.protocol === 'tcp')?.port;
}

/** Hash keys read from an HTTP request (path, header:<name>, cookie:<name>); only client-ip works on a TCP listener. */
export function hashKeyNeedsHttp(hashKey: string | undefined): boolean {
  return hashKey !== undefined && hashKey !== 'client-ip';
}

/**
 * Defaults of a schema-valid `spec.loadBalancer`: algorithm round-robin, protocol http when the hash key is read from
 * the request (else tcp), targetPort the first tcp port, weight 1. A service without a tcp port gets targetPort 0; the
 * semantic check reports it, so such a revision never reaches the desired state.
 */
export function toLoadBalancer(lb: Obj, ports: readonly PortSpec[]): LoadBalancerSpec {
  const hashKey = lb.hashKey as HashKey | undefined;
  const out: LoadBalancerSpec = {
    algorithm: (lb.algorithm as LbAlgorithm | undefined) ?? 'round-robin',
    protocol: (lb.protocol as LoadBalancerSpec['protocol'] | undefined) ?? (hashKeyNeedsHttp(hashKey) ? 'http' : 'tcp'),
    targetPort: (lb.targetPort as number | undefined) ?? firstTcpPort(ports) ?? 0,
    weight: (lb.weight as number | undefined) ?? 1,
  };
  if (hashKey !== undefined) out.hashKey = hashKey;
  if (lb.boundedLoad !== undefined) out.boundedLoad = lb.boundedLoad as number;
  if (lb.publish !== undefined) out.publish = toPublish(lb.publish as Obj);
  return out;
}

/** A schema-valid `publish` mapping (of a Service's loadBalancer or of a Route). */
export function toPublish(p: Obj): PublishSpec {
  const out: PublishSpec = { port: p.port as number };
  if (typeof p.host === 'string') out.host = p.host;
  return out;
}
