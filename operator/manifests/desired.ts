/** Builds the desired state (a pure value) from validated manifests. */
import type { Manifest, NodeManifest, RouteManifest, ServiceManifest, VolumeManifest } from '../model/manifest.ts';
import type { DesiredNetwork, DesiredNode, DesiredRoute, DesiredService, DesiredState, DesiredVolume, ImageSource } from '../model/state.ts';
import { buildImageTag, networkName, resourceKey, volumeName } from '../model/keys.ts';
import type { ResolvedBuild } from './build-context.ts';
import { serviceEnv } from './discovery.ts';
import { specHash } from './spec-hash.ts';

/**
 * Desired state of one instance at one revision: services, volumes and routes sorted by key, one network per namespace
 * with services (sorted by docker name), nodes sorted by name (none = the local engine alone). `builds` is keyed by
 * service key.
 */
export function buildDesired(instance: string, revision: string, manifests: readonly Manifest[], builds: ReadonlyMap<string, ResolvedBuild>): DesiredState {
  const serviceManifests = manifests.filter((m): m is ServiceManifest => m.kind === 'Service');
  const byKey = new Map(serviceManifests.map((m) => [resourceKey(m.metadata.namespace, m.metadata.name), m]));
  const services: DesiredService[] = [];
  const volumes: DesiredVolume[] = [];
  const routes: DesiredRoute[] = [];
  const nodes: DesiredNode[] = [];
  for (const m of manifests) {
    if (m.kind === 'Service') services.push(desiredService(instance, m, byKey, builds.get(resourceKey(m.metadata.namespace, m.metadata.name))));
    else if (m.kind === 'Volume') volumes.push(desiredVolume(instance, m));
    else if (m.kind === 'Route') routes.push(desiredRoute(m));
    else nodes.push(desiredNode(m));
  }
  const namespaces = new Set(services.map((s) => s.namespace));
  const networks: DesiredNetwork[] = [...namespaces].map((namespace) => ({ namespace, dockerName: networkName(instance, namespace) }));
  return {
    revision,
    services: services.sort(compareBy('key')),
    volumes: volumes.sort(compareBy('key')),
    networks: networks.sort(compareBy('dockerName')),
    routes: routes.sort(compareBy('key')),
    nodes: nodes.sort(compareBy('name')),
  };
}

function compareBy<K extends string>(field: K): (a: Record<K, string>, b: Record<K, string>) => number {
  return (a, b) => (a[field] < b[field] ? -1 : a[field] > b[field] ? 1 : 0);
}

function desiredService(instance: string, m: ServiceManifest, services: ReadonlyMap<string, ServiceManifest>, build: ResolvedBuild | undefined): DesiredService {
  const { name, namespace, labels } = m.metadata;
  const image = imageSource(m, build);
  const network = networkName(instance, namespace);
  const env = serviceEnv(m.spec, (dep) => {
    const found = services.get(resourceKey(namespace, dep));
    return found && { name: dep, spec: found.spec };
  });
  return {
    key: resourceKey(namespace, name),
    namespace,
    name,
    labels,
    spec: m.spec,
    image,
    specHash: specHash({ instance, namespace, labels, spec: m.spec, image, env, network }),
    source: m.source,
    network,
    env,
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

function desiredRoute(m: RouteManifest): DesiredRoute {
  const { name, namespace } = m.metadata;
  return { key: resourceKey(namespace, name), namespace, name, spec: m.spec, source: m.source };
}

function desiredNode(m: NodeManifest): DesiredNode {
  return { name: m.metadata.name, spec: m.spec, source: m.source };
}
