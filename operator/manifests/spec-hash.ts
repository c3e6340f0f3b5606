/** The spec hash: identity of what shapes a replica's container. A change means the containers are replaced. */
import { createHash } from 'node:crypto';
import type { ServiceSpec } from '../model/manifest.ts';
import type { DesiredFileMount, DesiredAttachment, DesiredSecretMount, ImageSource } from '../model/state.ts';
import { volumeName } from '../model/keys.ts';

export interface SpecHashInput {
  instance: string;
  namespace: string;
  /** metadata.labels of the service (copied onto its containers). */
  labels: Record<string, string>;
  spec: ServiceSpec;
  image: ImageSource;
  /** The effective container environment (discovery variables overlaid by spec.env), not spec.env alone. */
  env: Record<string, string>;
  /** Docker network the replicas join. */
  network: string;
  /** With spec.networks only: every network the replicas join with their aliases; absent = the hash of a berth without the field. */
  networks?: readonly DesiredAttachment[];
  /** spec.secrets resolved: each with its Secret's content hash (never a value); absent or empty = none. */
  secrets?: readonly DesiredSecretMount[];
  /** spec.files read from the revision: each target with its content hash (paths, modes, contents); absent or empty = none. */
  files?: readonly DesiredFileMount[];
}

/**
 * First 16 hex chars of sha256 over the canonical JSON of: image ref, command, effective env, ports,
 * resources (memory bytes, cpu number), restart policy, volume mounts (docker volume names, readOnly), labels and network.
 * Replicas, update strategy, health, loadBalancer, placement and dependsOn are left out on purpose: scaling or changing the
 * strategy, probes, load balancing or placement keeps containers (a placement change applies to new placements; a
 * dependency that moves still replaces its dependents, through the env).
 * Ports and mounts are order-insensitive. spec.securityContext counts only when the manifest sets it (capabilities
 * order-insensitive): without it the hash is that of a berth that had no such field, so upgrading berth replaces no
 * replica, even though the replicas it creates from then on get the hardened defaults.
 */
export function specHash(input: SpecHashInput): string {
  const { spec } = input;
  const shape = {
    image: input.image.ref,
    command: spec.command ?? null,
    env: input.env,
    // hostPort / hostIp (the engine's binding) only when set; ports[].publish is the proxy's, never the container's
    ports: spec.ports.map((p) => ({ name: p.name ?? null, port: p.port, protocol: p.protocol, hostPort: p.hostPort, hostIp: p.hostIp })).sort((a, b) => a.port - b.port || cmp(a.protocol, b.protocol)),
    resources: { cpu: spec.resources.cpu ?? null, memory: spec.resources.memory ?? null },
    restart: spec.restart.policy,
    volumes: spec.volumes
      .map((v) => ({ volume: volumeName(input.instance, input.namespace, v.volume), mountPath: v.mountPath, readOnly: v.readOnly }))
      .sort((a, b) => cmp(a.mountPath, b.mountPath)),
    labels: input.labels,
    network: input.network,
    networks: input.networks?.map((n) => ({ name: n.name, aliases: [...n.aliases].sort(cmp) })).sort((a, b) => cmp(a.name, b.name)),
    // undefined members are left out of the canonical JSON: absent = the hash of before the field existed
    container: spec.container && {
      ...spec.container,
      tmpfs: spec.container.tmpfs && [...spec.container.tmpfs].sort((a, b) => cmp(a.path, b.path)),
      extraHosts: spec.container.extraHosts && [...spec.container.extraHosts].sort(cmp),
      securityOpt: spec.container.securityOpt && [...new Set(spec.container.securityOpt)].sort(cmp),
    },
    // The content hash of each file, never a value: a new ciphertext in git (a rotation) replaces the replicas using it.
    secrets: input.secrets?.length
      ? input.secrets.map((s) => ({ secret: s.secret, key: s.key ?? null, ...(s.env !== undefined ? { env: s.env } : {}), target: s.target, mode: s.mode, uid: s.uid ?? null, gid: s.gid ?? null, contentHash: s.contentHash })).sort((a, b) => cmp(a.target, b.target))
      : undefined,
    // Files of the repository by content: a change in git (content, mode, a file added) replaces the replicas using it.
    files: input.files?.length ? input.files.map((f) => ({ target: f.target, contentHash: f.contentHash })).sort((a, b) => cmp(a.target, b.target)) : undefined,
    anonymousVolumes: spec.anonymousVolumes?.length ? [...spec.anonymousVolumes].sort(cmp) : undefined,
    securityContext: spec.securityContext && {
      ...spec.securityContext,
      capAdd: [...new Set(spec.securityContext.capAdd)].sort(cmp),
      capDrop: [...new Set(spec.securityContext.capDrop)].sort(cmp),
    },
  };
  return createHash('sha256').update(canonicalJson(shape)).digest('hex').slice(0, 16);
}

/** JSON with object keys sorted recursively, so equal values give equal text whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort(cmp);
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
