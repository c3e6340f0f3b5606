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
  /** On networks of kind Network: the Network's name in its namespace. On replicas with spec.networks: the Docker network the operator reaches them on. */
  network: 'berth.network',
  /** On containers of a Job: the Job's name, its run (the spec hash), which completion and which attempt of it. */
  job: 'berth.job',
  run: 'berth.run',
  completion: 'berth.completion',
  attempt: 'berth.attempt',
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

/** Deterministic container name of one attempt of one completion of a Job's (or CronJob's) run: a retried create finds its own container. */
export function jobContainerName(instance: string, namespace: string, job: string, run: string, completion: number, attempt: number): string {
  return `berth.${instance}.${namespace}.${job}.job-${run}.${completion}.${attempt}`;
}

/** Docker volume name of a berth Volume. */
export function volumeName(instance: string, namespace: string, name: string): string {
  return `berth.${instance}.${namespace}.${name}`;
}

/** Docker network of a namespace: every replica of the namespace's services joins it, aliased by its service name. */
export function networkName(instance: string, namespace: string): string {
  return `berth.${instance}.${namespace}`;
}

/**
 * Docker network of a berth Network: `berth.<instance>.<namespace>.<name>.<hash>`, where `hash` (8 hex) covers what the
 * engine cannot change on an existing network (driver, internal, labels): a changed Network is a new Docker network,
 * its replicas are replaced onto it and the old one is pruned once unused.
 */
export function stackNetworkName(instance: string, namespace: string, name: string, specHash: string): string {
  return `berth.${instance}.${namespace}.${name}.${specHash.slice(0, 8)}`;
}

/** Tag of an image built from the repository: named by the content hash of its build context. */
export function buildImageTag(namespace: string, service: string, contentHash: string): string {
  return `berth.local/${namespace}/${service}:${contentHash.slice(0, 16)}`;
}
