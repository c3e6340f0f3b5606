/**
 * kind Network: a bridge network of a namespace. Replicas of the Services that list it in spec.networks join it (with
 * their service name and aliases as DNS names); replicas that share no network cannot reach each other by name or
 * address. Created with the same create-network / remove-network actions as a namespace's own network, before the
 * replicas that use it, and pruned once it left the revision and no container is attached any more.
 */
import { createHash } from 'node:crypto';
import type { NetworkManifest } from '../../../model/manifest.ts';
import { resourceKey, stackNetworkName } from '../../../model/keys.ts';
import type { DesiredNetwork } from '../../../model/state.ts';
import type { Obj } from '../../raw.ts';
import { canonicalJson } from '../../spec-hash.ts';
import { compareBy } from '../compare.ts';
import type { KindDescriptor } from '../types.ts';
import { checkNetwork } from './checks.ts';
import { rootFile } from '../../../root.ts';

export const NETWORK: KindDescriptor<NetworkManifest> = {
  kind: 'Network',
  schema: rootFile('schemas/network.schema.json'),
  clusterScoped: false,
  objects: ['network'],
  unlabelled: [],
  toSpec: (s) => toNetworkSpec((s ?? {}) as Obj),
  check: (doc, m, _ctx, report) => checkNetwork(doc, m, report),
  desired: (manifests, ctx) => ({ networks: desiredNetworks(ctx.instance, manifests) }),
};

/** Defaults of a schema-valid Network spec: bridge, not internal, no labels. */
function toNetworkSpec(spec: Obj): NetworkManifest['spec'] {
  return {
    driver: (spec.driver as string | undefined) ?? 'bridge',
    internal: (spec.internal as boolean | undefined) ?? false,
    labels: { ...((spec.labels as Record<string, string> | undefined) ?? {}) },
  };
}

/** The desired Docker networks of berth Networks (sorted by Docker name); the first definition of a key wins. */
export function desiredNetworks(instance: string, manifests: readonly NetworkManifest[]): DesiredNetwork[] {
  const byKey = new Map<string, DesiredNetwork>();
  for (const m of manifests) {
    const { name, namespace } = m.metadata;
    const key = resourceKey(namespace, name);
    if (byKey.has(key)) continue;
    const hash = createHash('sha256').update(canonicalJson({ driver: m.spec.driver, internal: m.spec.internal, labels: m.spec.labels })).digest('hex');
    byKey.set(key, {
      namespace, name, key, dockerName: stackNetworkName(instance, namespace, name, hash), internal: m.spec.internal, labels: { ...m.spec.labels }, source: m.source,
    });
  }
  return [...byKey.values()].sort(compareBy('dockerName'));
}
