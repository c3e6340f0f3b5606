/** Builds the desired state (a pure value) from validated manifests: each kind contributes its part (kinds/). */
import type { Manifest } from '../model/manifest.ts';
import type { DesiredSecret, DesiredState } from '../model/state.ts';
import type { ResolvedBuild } from './build-context.ts';
import { KIND_TABLE } from './kinds/index.ts';

/**
 * Desired state of one instance at one revision: services, volumes and routes sorted by key, one network per namespace
 * with services (sorted by docker name), nodes sorted by name (none = the local engine alone). `builds` is keyed by
 * service key.
 */
export function buildDesired(instance: string, revision: string, manifests: readonly Manifest[], builds: ReadonlyMap<string, ResolvedBuild>, secrets: ReadonlyMap<string, DesiredSecret> = new Map()): DesiredState {
  const desired: DesiredState = { revision, services: [], volumes: [], networks: [], routes: [], nodes: [] };
  for (const d of KIND_TABLE) {
    if (!d.desired) continue;
    Object.assign(desired, d.desired(manifests.filter((m) => m.kind === d.kind), { instance, builds, secrets }));
  }
  return desired;
}
