/** The Docker networks a Service's replicas join (spec.networks), and the one the operator reaches them on. Pure. */
import type { ServiceManifest } from '../../../model/manifest.ts';
import { networkName, resourceKey } from '../../../model/keys.ts';
import type { DesiredAttachment, DesiredNetwork } from '../../../model/state.ts';
import { DEFAULT_NETWORK } from '../network/checks.ts';

/** Where the replicas of a service are attached: `network` is the primary (created on, reached on), `networks` all of them. */
export interface ServiceAttachments {
  network: string;
  /** Set only with spec.networks. */
  networks?: DesiredAttachment[];
}

/**
 * Without spec.networks: the namespace's network. With it: every listed network (`default` = the namespace's) with the
 * service name and the entry's aliases; the primary is the first listed that is not internal (the operator host has
 * no route into an internal network by design), else the first. Networks are checked to exist by the semantic checks.
 */
export function serviceAttachments(instance: string, m: ServiceManifest, networks: ReadonlyMap<string, DesiredNetwork>): ServiceAttachments {
  const { name, namespace } = m.metadata;
  const own = networkName(instance, namespace);
  const refs = m.spec.networks;
  if (!refs) return { network: own };
  const resolved = refs.map((r) => {
    const found = r.name === DEFAULT_NETWORK ? undefined : networks.get(resourceKey(namespace, r.name));
    if (r.name !== DEFAULT_NETWORK && !found) throw new Error(`internal: service ${namespace}/${name} names Network ${r.name}, which is not in the revision`);
    return { attachment: { name: found?.dockerName ?? own, aliases: [...new Set([name, ...r.aliases])] }, internal: found?.internal === true };
  });
  const primary = (resolved.find((r) => !r.internal) ?? resolved[0])?.attachment.name;
  const list: DesiredAttachment[] = resolved.map((r) => r.attachment);
  return { network: primary ?? own, networks: list };
}

/** The network names (as spec.networks names them) a service's replicas join: `default` without spec.networks. */
export function joinedNetworks(m: ServiceManifest): string[] {
  return m.spec.networks ? m.spec.networks.map((r) => r.name) : [DEFAULT_NETWORK];
}
