/**
 * Service discovery by environment (Kubernetes-style): a service learns where each of its dependsOn services is
 * reachable from `<DEP>_SERVICE_HOST` and `<DEP>_SERVICE_PORT`. Pure.
 */
import type { ServiceSpec } from '../model/manifest.ts';
import { firstTcpPort } from './load-balancer.ts';

/**
 * The host name containers use to reach the operator host, where the proxies listen: every replica gets
 * `host.docker.internal:host-gateway` in its /etc/hosts.
 */
export const HOST_GATEWAY = 'host.docker.internal';

/** What discovery needs of a dependency. */
export interface DiscoveryTarget {
  name: string;
  spec: Pick<ServiceSpec, 'ports' | 'loadBalancer'>;
}

/** `web-api` -> `WEB_API`: the prefix of a dependency's variables. */
export function envPrefix(service: string): string {
  return service.toUpperCase().replace(/-/g, '_');
}

/**
 * The variables of one dependency. Published (spec.loadBalancer.publish): the operator's proxy on the host gateway and
 * the published port. Otherwise the service name (its alias on the namespace network) and its loadBalancer.targetPort
 * or first tcp port; without any tcp port, only the host.
 */
export function discoveryVariables(dep: DiscoveryTarget): Record<string, string> {
  const prefix = envPrefix(dep.name);
  const publish = dep.spec.loadBalancer?.publish;
  if (publish) return { [`${prefix}_SERVICE_HOST`]: HOST_GATEWAY, [`${prefix}_SERVICE_PORT`]: String(publish.port) };
  const vars: Record<string, string> = { [`${prefix}_SERVICE_HOST`]: dep.name };
  const tcp = firstTcpPort(dep.spec.ports);
  if (tcp !== undefined) vars[`${prefix}_SERVICE_PORT`] = String(dep.spec.loadBalancer?.targetPort ?? tcp);
  return vars;
}

/**
 * A service's container environment: the discovery variables of each of `spec.dependsOn` (in that order; names not
 * found by `lookup` are skipped), overlaid by `spec.env` (the user wins).
 */
export function serviceEnv(spec: Pick<ServiceSpec, 'dependsOn' | 'env'>, lookup: (name: string) => DiscoveryTarget | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of spec.dependsOn) {
    const dep = lookup(name);
    if (dep) Object.assign(env, discoveryVariables(dep));
  }
  return Object.assign(env, spec.env);
}
