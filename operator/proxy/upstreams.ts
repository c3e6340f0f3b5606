/** Registry endpoints as the proxies dial them (pure): the registry says which replicas are ready, this is their shape. */
import type { RegistryEndpoint } from '../registry/registry.ts';
import type { Endpoint } from './lb/types.ts';

/** The ready endpoints in the load balancers' shape: `host:port` (IPv6 hosts bracketed), weight carried over. */
export function toBalancerEndpoints(endpoints: readonly RegistryEndpoint[]): Endpoint[] {
  return endpoints.filter((e) => e.ready).map((e) => ({ id: e.id, address: upstreamAddress(e), weight: e.weight }));
}

/** `host:port` of a registry endpoint as the proxies dial it (IPv6 hosts bracketed). */
export function upstreamAddress(e: Pick<RegistryEndpoint, 'address' | 'port'>): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}
