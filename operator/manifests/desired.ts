/** Builds the desired state (a pure value) from validated manifests. */
import type { Manifest, ServiceManifest, VolumeManifest } from '../model/manifest.ts';
import type { DesiredService, DesiredState, DesiredVolume, ImageSource } from '../model/state.ts';
import { buildImageTag, resourceKey, volumeName } from '../model/keys.ts';
import type { ResolvedBuild } from './build-context.ts';
import { specHash } from './spec-hash.ts';

/** Desired state of one instance at one revision: services and volumes sorted by key. `builds` is keyed by service key. */
export function buildDesired(instance: string, revision: string, manifests: readonly Manifest[], builds: ReadonlyMap<string, ResolvedBuild>): DesiredState {
  const services: DesiredService[] = [];
  const volumes: DesiredVolume[] = [];
  for (const m of manifests) {
    if (m.kind === 'Service') services.push(desiredService(instance, m, builds.get(resourceKey(m.metadata.namespace, m.metadata.name))));
    else volumes.push(desiredVolume(instance, m));
  }
  const byKey = (a: { key: string }, b: { key: string }): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  return { revision, services: services.sort(byKey), volumes: volumes.sort(byKey) };
}

function desiredService(instance: string, m: ServiceManifest, build: ResolvedBuild | undefined): DesiredService {
  const { name, namespace, labels } = m.metadata;
  const image = imageSource(m, build);
  return {
    key: resourceKey(namespace, name),
    namespace,
    name,
    labels,
    spec: m.spec,
    image,
    specHash: specHash({ instance, namespace, labels, spec: m.spec, image }),
    source: m.source,
  };
}

function imageSource(m: ServiceManifest, build: ResolvedBuild | undefined): ImageSource {
  if (m.spec.image !== undefined) return { type: 'ref', ref: m.spec.image };
  if (!build) throw new Error(`internal: service ${m.metadata.namespace}/${m.metadata.name} has neither image nor a checked build`);
  const ref = buildImageTag(m.metadata.namespace, m.metadata.name, build.contentHash);
  return { type: 'build', ref, context: build.context, dockerfile: build.dockerfile, contentHash: build.contentHash };
}

function desiredVolume(instance: string, m: VolumeManifest): DesiredVolume {
  const { name, namespace } = m.metadata;
  return { key: resourceKey(namespace, name), namespace, name, dockerName: volumeName(instance, namespace, name), spec: m.spec, source: m.source };
}
