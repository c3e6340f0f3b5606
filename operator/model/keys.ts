/** Resource keys, labels and deterministic names shared by every part of berth. */

export const LABELS = {
  managed: 'berth.managed',
  instance: 'berth.instance',
  namespace: 'berth.namespace',
  service: 'berth.service',
  replica: 'berth.replica',
  revision: 'berth.revision',
  specHash: 'berth.spec-hash',
  kind: 'berth.kind',
  /** On volumes: the Volume's name in its namespace. */
  volume: 'berth.volume',
  /** On volumes: 'false' when the Volume may be deleted once it leaves the revision. */
  retain: 'berth.retain',
  /** On replicas of a registry image: the manifest digest its tag resolved to (images/pin.ts), and the tag as written. */
  imageDigest: 'berth.image.digest',
  image: 'berth.image',
} as const;

export const STATUS_BRANCH = 'berth/status';

/** `namespace/name`, the identity of a service or volume inside one instance. */
export function resourceKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** Deterministic container name: one per (service, replica slot, spec hash), so a retried create finds its own container. */
export function containerName(instance: string, namespace: string, service: string, replica: number, specHash: string): string {
  return `berth.${instance}.${namespace}.${service}.${replica}.${specHash.slice(0, 10)}`;
}

/** Docker volume name of a berth Volume. */
export function volumeName(instance: string, namespace: string, name: string): string {
  return `berth.${instance}.${namespace}.${name}`;
}

/** Docker network of a namespace: every replica of the namespace's services joins it, aliased by its service name. */
export function networkName(instance: string, namespace: string): string {
  return `berth.${instance}.${namespace}`;
}

/** Tag of an image built from the repository: named by the content hash of its build context. */
export function buildImageTag(namespace: string, service: string, contentHash: string): string {
  return `berth.local/${namespace}/${service}:${contentHash.slice(0, 16)}`;
}
