/** Kind detection and defaulting: schema-valid plain data -> typed manifests. */
import { API_VERSION } from '../model/manifest.ts';
import type { Manifest, ManifestKind, Metadata, NodeManifest, PortSpec, ResourceSpec, RouteManifest, ServiceManifest, ServiceSpec, VolumeManifest, VolumeMount } from '../model/manifest.ts';
import type { ManifestIssue } from '../model/errors.ts';
import type { RawDoc } from './yaml-source.ts';
import { parseCpu, parseMemory } from './quantity.ts';
import { toHealth, toUpdate } from './probes.ts';
import { toLoadBalancer } from './load-balancer.ts';
import { toRouteSpec } from './route.ts';
import { toNodeSpec } from './node.ts';
import { toPlacement } from './placement.ts';
import { convertAt, isObj } from './raw.ts';
import type { Obj } from './raw.ts';

export { isObj } from './raw.ts';

export const KINDS: readonly ManifestKind[] = ['Service', 'Volume', 'Route', 'Node'];

/** Returns the document's kind, or an E_UNKNOWN_KIND issue at its `apiVersion` / `kind` node. */
export function identifyKind(doc: RawDoc): ManifestKind | ManifestIssue {
  const issue = (path: string[], field: string, message: string): ManifestIssue => ({ ...doc.loc.at(path), code: 'E_UNKNOWN_KIND', field, message });
  if (!isObj(doc.value)) return issue([], '', `document must be a mapping with apiVersion: ${API_VERSION} and kind (one of: ${KINDS.join(', ')})`);
  const { apiVersion, kind } = doc.value;
  if (apiVersion === undefined) return issue([], 'apiVersion', `is required (expected ${API_VERSION})`);
  if (apiVersion !== API_VERSION) return issue(['apiVersion'], 'apiVersion', `unknown apiVersion ${JSON.stringify(apiVersion)} (expected ${API_VERSION})`);
  if (kind === undefined) return issue([], 'kind', `is required (one of: ${KINDS.join(', ')})`);
  if (!KINDS.includes(kind as ManifestKind)) return issue(['kind'], 'kind', `unknown kind ${JSON.stringify(kind)} (known: ${KINDS.join(', ')})`);
  return kind as ManifestKind;
}

/** Builds the typed manifest, with defaults, from a document that passed its schema. */
export function toManifest(kind: ManifestKind, doc: RawDoc): Manifest {
  const value = doc.value as Obj;
  const base: Pick<Manifest, 'apiVersion' | 'metadata' | 'source'> = { apiVersion: API_VERSION, metadata: toMetadata(kind, value.metadata as Obj), source: doc.loc.start };
  if (kind === 'Volume') {
    const spec = (value.spec ?? {}) as Obj;
    const volume: VolumeManifest = {
      ...base,
      kind,
      spec: {
        driver: (spec.driver as string | undefined) ?? 'local',
        driverOpts: { ...((spec.driverOpts as Record<string, string> | undefined) ?? {}) },
        retain: (spec.retain as boolean | undefined) ?? true,
      },
    };
    return volume;
  }
  if (kind === 'Route') {
    const route: RouteManifest = { ...base, kind, spec: toRouteSpec(value.spec as Obj) };
    return route;
  }
  if (kind === 'Node') {
    const node: NodeManifest = { ...base, kind, spec: toNodeSpec(value.spec as Obj) };
    return node;
  }
  const service: ServiceManifest = { ...base, kind, spec: toServiceSpec(value.spec as Obj, doc) };
  return service;
}

/** Nodes are cluster-wide: their namespace is '' (the schema refuses metadata.namespace on a Node). */
function toMetadata(kind: ManifestKind, m: Obj): Metadata {
  return {
    name: m.name as string,
    namespace: kind === 'Node' ? '' : ((m.namespace as string | undefined) ?? 'default'),
    labels: { ...((m.labels as Record<string, string> | undefined) ?? {}) },
  };
}

function toServiceSpec(s: Obj, doc: RawDoc): ServiceSpec {
  const spec: ServiceSpec = {
    env: toEnv((s.env ?? {}) as Obj, doc),
    replicas: (s.replicas as number | undefined) ?? 1,
    ports: ((s.ports ?? []) as Obj[]).map(toPort),
    resources: toResources((s.resources ?? {}) as Obj),
    restart: { policy: ((s.restart as Obj | undefined)?.policy as ServiceSpec['restart']['policy'] | undefined) ?? 'always' },
    update: toUpdate(s.update),
    health: toHealth(s.health),
    volumes: ((s.volumes ?? []) as Obj[]).map(toMount),
    dependsOn: [...((s.dependsOn ?? []) as string[])],
    placement: toPlacement(s.placement as Obj | undefined),
  };
  if (typeof s.image === 'string') spec.image = s.image;
  if (isObj(s.build)) spec.build = { context: s.build.context as string, dockerfile: (s.build.dockerfile as string | undefined) ?? 'Dockerfile' };
  if (Array.isArray(s.command)) spec.command = [...(s.command as string[])];
  if (isObj(s.loadBalancer)) spec.loadBalancer = toLoadBalancer(s.loadBalancer, spec.ports);
  return spec;
}

/** Env values are strings; a number keeps its YAML spelling (`1.0` stays "1.0", not "1"). */
function toEnv(env: Obj, doc: RawDoc): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    out[k] = typeof v === 'number' ? (doc.loc.plainText(['spec', 'env', k]) ?? String(v)) : String(v);
  }
  return out;
}

function toPort(p: Obj): PortSpec {
  const port: PortSpec = { port: p.port as number, protocol: (p.protocol as PortSpec['protocol'] | undefined) ?? 'tcp' };
  if (typeof p.name === 'string') port.name = p.name;
  return port;
}

function toResources(r: Obj): ResourceSpec {
  const out: ResourceSpec = {};
  if (r.cpu !== undefined) out.cpu = convertAt(['spec', 'resources', 'cpu'], () => parseCpu(r.cpu as string | number));
  if (r.memory !== undefined) out.memory = convertAt(['spec', 'resources', 'memory'], () => parseMemory(r.memory as string | number));
  return out;
}

function toMount(v: Obj): VolumeMount {
  return { volume: v.volume as string, mountPath: v.mountPath as string, readOnly: (v.readOnly as boolean | undefined) ?? false };
}
