/** Builds the desired state (a pure value) from validated manifests: each kind contributes its part (kinds/). */
import type { Manifest, NetworkManifest } from '../model/manifest.ts';
import type { DesiredFileMount, DesiredSecret, DesiredState } from '../model/state.ts';
import type { ResolvedBuild } from './build-context.ts';
import { KIND_TABLE } from './kinds/index.ts';
import { desiredNetworks } from './kinds/network/index.ts';
import { compareBy } from './kinds/compare.ts';

/**
 * Desired state of one instance at one revision: services, volumes and routes sorted by key, one network per namespace
 * with services (sorted by docker name), nodes sorted by name (none = the local engine alone). `builds` is keyed by
 * service key.
 */
export function buildDesired(instance: string, revision: string, manifests: readonly Manifest[], builds: ReadonlyMap<string, ResolvedBuild>, secrets: ReadonlyMap<string, DesiredSecret> = new Map(), files: ReadonlyMap<string, DesiredFileMount[]> = new Map()): DesiredState {
  const desired: DesiredState = { revision, services: [], volumes: [], networks: [], routes: [], nodes: [] };
  // Services read the Networks they join (Docker names, internal); the Network kind contributes the same list.
  const networks = new Map(desiredNetworks(instance, manifests.filter((m): m is NetworkManifest => m.kind === 'Network')).map((n) => [n.key as string, n]));
  for (const d of KIND_TABLE) {
    if (!d.desired) continue;
    const part = d.desired(manifests.filter((m) => m.kind === d.kind), { instance, builds, secrets, networks, files });
    // Two kinds contribute networks (Service: one per namespace; Network: one per Network): their lists are merged.
    const merged = part.networks && desired.networks.length ? { networks: [...desired.networks, ...part.networks].sort(compareBy('dockerName')) } : {};
    Object.assign(desired, part, merged);
  }
  return desired;
}
