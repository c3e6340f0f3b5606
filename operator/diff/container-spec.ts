/** What a replica's container must look like: the single source for creating it (apply) and for checking drift (diff). */
import { LABELS, containerName, volumeName } from '../model/keys.ts';
import type { PortSpec, RestartPolicy, SecurityContext } from '../model/manifest.ts';
import { runRef, type DesiredFileMount, type DesiredService } from '../model/state.ts';
import type { ContainerFile, ContainerSecurity, CreateContainerSpec } from '../runtime/runtime.ts';

/**
 * Docker's restart policy for every replica: `no`. berth itself restarts exited replicas per `spec.restart.policy`,
 * with crash-loop backoff (1 s doubling to 5 min) and CrashLoop status, which the engine's own policy cannot give.
 */
export function dockerRestartPolicy(_policy: RestartPolicy): string {
  return 'no';
}

/** Labels every replica container carries (DESIGN.md): identity, kind, revision and spec hash, plus the manifest's labels. */
export function replicaLabels(instance: string, revision: string, svc: DesiredService, replica: number): Record<string, string> {
  return {
    ...svc.labels,
    [LABELS.managed]: 'true',
    [LABELS.instance]: instance,
    [LABELS.kind]: 'Service',
    [LABELS.namespace]: svc.namespace,
    [LABELS.service]: svc.name,
    [LABELS.replica]: String(replica),
    [LABELS.revision]: revision,
    [LABELS.specHash]: svc.specHash,
    ...(svc.image.type === 'ref' && svc.image.digest ? { [LABELS.image]: svc.image.ref, [LABELS.imageDigest]: svc.image.digest } : {}),
    // With spec.networks: the network the operator reaches the replica on (its observed address), see DesiredService.network.
    ...(svc.networks ? { [LABELS.network]: svc.network } : {}),
  };
}

/** The engine's stop timeout of a replica: spec.stopGracePeriod rounded up to seconds, default 10 (Docker's). */
export function stopTimeoutSeconds(ms: number | undefined): number {
  return ms === undefined ? 10 : Math.ceil(ms / 1000);
}

/** Docker NanoCPUs for a cpu request (0.25 -> 250000000). */
export function nanoCpus(cpu: number | undefined): number | undefined {
  return cpu === undefined ? undefined : Math.round(cpu * 1e9);
}

/** Extra /etc/hosts entries of every replica: `host.docker.internal` is the Docker host (its proxies and published ports). */
export const EXTRA_HOSTS: readonly string[] = ['host.docker.internal:host-gateway'];

/**
 * Dropped from Docker's default set on every replica unless spec.securityContext.capAdd has it: raw sockets let a
 * replica forge packets on its network (ARP and DNS spoofing of its neighbours) and few services need them (ping).
 */
export const DEFAULT_CAP_DROP: readonly string[] = ['NET_RAW'];

/**
 * How a replica is confined: no-new-privileges unless allowPrivilegeEscalation, Docker's default capabilities minus
 * NET_RAW and capDrop, plus capAdd (which wins over the default drop; capAdd and capDrop never share one: security-checks.ts).
 * Privileged only when the manifest says so. No securityContext = all the defaults.
 */
export function replicaSecurity(sc: SecurityContext | undefined): ContainerSecurity {
  if (sc?.privileged) return { privileged: true, noNewPrivileges: !sc.allowPrivilegeEscalation, capAdd: [], capDrop: [] };
  const capAdd = [...new Set(sc?.capAdd ?? [])];
  const drop = sc?.capDrop ?? [];
  // ALL already covers NET_RAW; the engine starts from nothing and adds capAdd.
  const capDrop = drop.includes('ALL') ? ['ALL'] : [...new Set([...DEFAULT_CAP_DROP, ...drop])].filter((c) => !capAdd.includes(c));
  return { privileged: false, noNewPrivileges: !(sc?.allowPrivilegeEscalation ?? false), capAdd, capDrop };
}

/**
 * The create request for replica `replica` of `svc` at `revision`: its environment is `svc.env` (discovery variables
 * overlaid by spec.env), and it joins its namespace's network with the service name as DNS alias.
 */
export function containerSpec(instance: string, revision: string, svc: DesiredService, replica: number, node?: string): CreateContainerSpec {
  const { spec } = svc;
  return {
    ...(node ? { node } : {}),
    name: spec.container?.containerName ?? containerName(instance, svc.namespace, svc.name, replica, svc.specHash),
    image: runRef(svc.image),
    command: spec.command,
    env: { ...svc.env },
    labels: replicaLabels(instance, revision, svc, replica),
    exposedPorts: spec.ports.map((p) => `${p.port}/${p.protocol}`),
    ...portBindings(spec.ports),
    memory: spec.resources.memory,
    nanoCpus: nanoCpus(spec.resources.cpu),
    restartPolicy: dockerRestartPolicy(spec.restart.policy),
    mounts: spec.volumes.map((m) => ({ volume: volumeName(instance, svc.namespace, m.volume), target: m.mountPath, readOnly: m.readOnly })),
    init: true,
    ...attachments(svc),
    extraHosts: [...EXTRA_HOSTS],
    security: replicaSecurity(spec.securityContext),
    ...(spec.container ? { settings: spec.container } : {}),
    stopTimeoutSeconds: stopTimeoutSeconds(spec.container?.stopGracePeriodMs),
    ...(spec.anonymousVolumes?.length ? { anonymousVolumes: [...spec.anonymousVolumes] } : {}),
    ...(svc.files?.length ? { files: repoFiles(svc.files) } : {}),
  };
}

/** spec.files as read from the revision -> the files written into the created container (root-owned unless spec.files says otherwise: git has no owners). */
export function repoFiles(mounts: readonly DesiredFileMount[]): ContainerFile[] {
  return mounts.flatMap((m) => m.entries.map((e): ContainerFile => ({
    path: e.path,
    content: e.content !== undefined ? Buffer.from(e.content, 'base64') : Buffer.alloc(0),
    mode: e.mode,
    uid: e.uid ?? 0,
    gid: e.gid ?? 0,
    ...(e.link !== undefined ? { link: e.link } : {}),
  })));
}

/** spec.ports[].hostPort as the engine's port bindings; none = no field (the create body of before). */
function portBindings(ports: readonly PortSpec[]): Pick<CreateContainerSpec, 'portBindings'> {
  const out = ports.flatMap((p) => (p.hostPort === undefined ? [] : [{ containerPort: `${p.port}/${p.protocol}`, hostPort: p.hostPort, ...(p.hostIp !== undefined ? { hostIp: p.hostIp } : {}) }]));
  return out.length ? { portBindings: out } : {};
}

/**
 * The networks of a replica: created on svc.network (the namespace's, or with spec.networks its primary), the others
 * of spec.networks joined before it starts; the service name and the entry's aliases are its DNS names on each.
 */
function attachments(svc: DesiredService): Pick<CreateContainerSpec, 'network' | 'moreNetworks'> {
  if (!svc.networks) return { network: { name: svc.network, aliases: [svc.name] } };
  const primary = svc.networks.find((n) => n.name === svc.network) ?? { name: svc.network, aliases: [svc.name] };
  const more = svc.networks.filter((n) => n.name !== svc.network).map((n) => ({ name: n.name, aliases: [...n.aliases] }));
  return { network: { name: primary.name, aliases: [...primary.aliases] }, ...(more.length ? { moreNetworks: more } : {}) };
}
