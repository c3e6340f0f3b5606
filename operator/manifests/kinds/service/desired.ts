/** kind Service: desired services and one network per namespace with services (moved from manifests/desired.ts). */
import type { ServiceManifest } from '../../../model/manifest.ts';
import type { DesiredNetwork, DesiredService, ImageSource } from '../../../model/state.ts';
import { buildImageTag, networkName, resourceKey } from '../../../model/keys.ts';
import type { ResolvedBuild } from '../../build-context.ts';
import { serviceEnv } from '../../discovery.ts';
import { specHash } from '../../spec-hash.ts';
import { compareBy } from '../compare.ts';
import type { DesiredContext, DesiredPart } from '../types.ts';

/** Services sorted by key, one network per namespace with services (sorted by docker name). */
export function desiredServices(manifests: readonly ServiceManifest[], ctx: DesiredContext): DesiredPart {
  const byKey = new Map(manifests.map((m) => [resourceKey(m.metadata.namespace, m.metadata.name), m]));
  const services = manifests.map((m) => desiredService(ctx.instance, m, byKey, ctx.builds.get(resourceKey(m.metadata.namespace, m.metadata.name))));
  const namespaces = new Set(services.map((s) => s.namespace));
  const networks: DesiredNetwork[] = [...namespaces].map((namespace) => ({ namespace, dockerName: networkName(ctx.instance, namespace) }));
  return { services: services.sort(compareBy('key')), networks: networks.sort(compareBy('dockerName')) };
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

