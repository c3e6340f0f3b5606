/** kind Service: desired services and one network per namespace with services (moved from manifests/desired.ts). */
import type { ServiceManifest } from '../../../model/manifest.ts';
import type { DesiredFileMount, DesiredNetwork, DesiredSecret, DesiredSecretMount, DesiredService, ImageSource } from '../../../model/state.ts';
import { buildImageTag, networkName, resourceKey } from '../../../model/keys.ts';
import type { ResolvedBuild } from '../../build-context.ts';
import { serviceEnv } from '../../discovery.ts';
import { specHash } from '../../spec-hash.ts';
import { serviceAttachments } from './networks.ts';
import { compareBy } from '../compare.ts';
import type { DesiredContext, DesiredPart } from '../types.ts';

/** Services sorted by key, one network per namespace with services (sorted by docker name). */
export function desiredServices(manifests: readonly ServiceManifest[], ctx: DesiredContext): DesiredPart {
  const byKey = new Map(manifests.map((m) => [resourceKey(m.metadata.namespace, m.metadata.name), m]));
  const services = manifests.map((m) => desiredService(ctx.instance, m, byKey, ctx.builds.get(resourceKey(m.metadata.namespace, m.metadata.name)), ctx.secrets ?? new Map(), ctx.networks ?? new Map(), ctx.files?.get(resourceKey(m.metadata.namespace, m.metadata.name))));
  const namespaces = new Set(services.map((s) => s.namespace));
  const networks: DesiredNetwork[] = [...namespaces].map((namespace) => ({ namespace, dockerName: networkName(ctx.instance, namespace) }));
  return { services: services.sort(compareBy('key')), networks: networks.sort(compareBy('dockerName')) };
}

/**
 * How a service that may be at zero holds its first requests: up to 256 (a held HTTP request keeps at most 64 KiB of
 * its body: 16 MiB at worst), each for at most 30 s (a replica's start and first readiness), then 503 with Retry-After.
 */
export const WAKE = { queue: 256, timeoutMs: 30_000 } as const;

function desiredService(
  instance: string, m: ServiceManifest, services: ReadonlyMap<string, ServiceManifest>, build: ResolvedBuild | undefined, secrets: ReadonlyMap<string, DesiredSecret>,
  stackNetworks: ReadonlyMap<string, DesiredNetwork>, files?: readonly DesiredFileMount[],
): DesiredService {
  const { name, namespace, labels } = m.metadata;
  const image = imageSource(m, build);
  const { network, networks } = serviceAttachments(instance, m, stackNetworks);
  const env = serviceEnv(m.spec, (dep) => {
    const found = services.get(resourceKey(namespace, dep));
    return found && { name: dep, spec: found.spec };
  });
  const mounts = secretMounts(m, secrets);
  return {
    key: resourceKey(namespace, name),
    ...(m.spec.autoscale?.min === 0 ? { wake: { ...WAKE } } : {}),
    namespace,
    name,
    labels,
    spec: m.spec,
    image,
    specHash: specHash({ instance, namespace, labels, spec: m.spec, image, env, network, ...(networks ? { networks } : {}), ...(mounts.length ? { secrets: mounts } : {}), ...(files?.length ? { files } : {}) }),
    source: m.source,
    network,
    ...(networks ? { networks } : {}),
    env,
    ...(mounts.length ? { secrets: mounts } : {}),
    ...(files?.length ? { files: [...files] } : {}),
  };
}

/** The image of a Service (or of a Job seen as one, kinds/job/view.ts): spec.image, or the checked build's tag. */
export function imageSource(m: ServiceManifest, build: ResolvedBuild | undefined): ImageSource {
  if (m.spec.image !== undefined) return { type: 'ref', ref: m.spec.image };
  if (!build) throw new Error(`internal: service ${m.metadata.namespace}/${m.metadata.name} has neither image nor a checked build`);
  const ref = buildImageTag(m.metadata.namespace, m.metadata.name, build.contentHash);
  const { args, target } = m.spec.build ?? {};
  return { type: 'build', ref, context: build.context, dockerfile: build.dockerfile, contentHash: build.contentHash, ...(args ? { args } : {}), ...(target ? { target } : {}) };
}


/** spec.secrets with the content hash of each Secret's file (checked to exist by the semantic checks). */
export function secretMounts(m: ServiceManifest, secrets: ReadonlyMap<string, DesiredSecret>): DesiredSecretMount[] {
  return (m.spec.secrets ?? []).map((r) => {
    const found = secrets.get(resourceKey(m.metadata.namespace, r.secret));
    if (!found) throw new Error(`internal: service ${m.metadata.namespace}/${m.metadata.name} names Secret ${r.secret}, which was not resolved`);
    return { ...r, file: found.file, contentHash: found.contentHash };
  });
}
