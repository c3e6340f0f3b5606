/**
 * The container settings of a Service (spec.entrypoint, user, workingDir, readOnly, tmpfs, ulimits, sysctls,
 * extraHosts, stopSignal, stopGracePeriod, securityOpt): what the schema cannot say and the engine or kernel would
 * refuse at create or start (found on dockerd 20.10), reported before anything runs.
 */
import { isIP } from 'node:net';
import type { ServiceManifest } from '../model/manifest.ts';
import { formatDuration } from './quantity.ts';
import { mountPathProblem, normalizeMountPath } from './mount-checks.ts';
import type { PathSegment, RawDoc } from './yaml-source.ts';

export type ContainerReport = (doc: RawDoc, path: PathSegment[], message: string) => void;

/** Longest stopGracePeriod: a replica that needs longer holds every rolling update that long. */
export const STOP_GRACE_MAX_MS = 3_600_000;

/** Across Services: a spec.containerName is the Docker name of one container, so one Service of the instance has it. */
export function checkContainerNames(services: Iterable<{ doc: RawDoc; m: ServiceManifest }>, report: ContainerReport): void {
  const seen = new Map<string, ServiceManifest>();
  for (const { doc, m } of services) {
    const name = m.spec.container?.containerName;
    if (name === undefined) continue;
    const first = seen.get(name);
    if (first) report(doc, ['spec', 'containerName'], `container name ${name} is also the containerName of Service ${first.metadata.namespace}/${first.metadata.name}`);
    else seen.set(name, m);
  }
}

export function checkContainerSettings(doc: RawDoc, m: ServiceManifest, report: ContainerReport): void {
  const c = m.spec.container;
  if (!c) return;
  const mounts = new Map(m.spec.volumes.map((v, i) => [normalizeMountPath(v.mountPath), ['spec', 'volumes', i, 'mountPath'] as PathSegment[]]));
  c.tmpfs?.forEach((t, i) => {
    const at: PathSegment[] = ['spec', 'tmpfs', i, 'path'];
    const problem = mountPathProblem(t.path);
    if (problem) return report(doc, at, problem);
    const normal = normalizeMountPath(t.path);
    const other = mounts.get(normal);
    if (other) report(doc, at, `${normal} is also mounted by ${other.join('.').replace(/\.(\d+)\./g, '[$1].')}: one mount per path`);
    mounts.set(normal, at);
    if (t.sizeBytes !== undefined && t.sizeBytes <= 0) report(doc, ['spec', 'tmpfs', i, 'size'], 'must be more than 0');
  });
  // dockerd 20.10 (runc) creates the working directory after the mounts, with mode 0755: a tmpfs there loses its mode
  const cwd = c.workingDir !== undefined ? normalizeMountPath(c.workingDir) : undefined;
  const shadowed = c.tmpfs?.findIndex((t) => t.mode !== undefined && normalizeMountPath(t.path) === cwd) ?? -1;
  if (shadowed >= 0) report(doc, ['spec', 'workingDir'], `is the tmpfs of spec.tmpfs[${shadowed}]: the engine resets its mode to 0755 when it is the working directory; work in a directory below it, or elsewhere`);
  for (const [name, l] of Object.entries(c.ulimits ?? {})) {
    if (l.hard !== -1 && (l.soft === -1 || l.soft > l.hard)) report(doc, ['spec', 'ulimits', name], `soft limit ${l.soft} is above the hard limit ${l.hard}`);
  }
  c.extraHosts?.forEach((h, i) => {
    const ip = h.slice(h.indexOf(':') + 1);
    if (ip !== 'host-gateway' && !isIP(ip)) report(doc, ['spec', 'extraHosts', i], `${JSON.stringify(ip)} is not an IP address (host:ip, or host:host-gateway)`);
  });
  if (c.containerName !== undefined) {
    if (c.containerName.startsWith('berth.')) report(doc, ['spec', 'containerName'], 'names starting with "berth." are berth\'s own container names');
    if (m.spec.replicas > 1) report(doc, ['spec', 'containerName'], `a container name is one container: a Service with containerName runs at most 1 replica (replicas is ${m.spec.replicas})`);
  }
  if (c.stopGracePeriodMs !== undefined) {
    if (c.stopGracePeriodMs < 0) report(doc, ['spec', 'stopGracePeriod'], `must not be negative, got ${formatDuration(c.stopGracePeriodMs)}`);
    if (c.stopGracePeriodMs > STOP_GRACE_MAX_MS) report(doc, ['spec', 'stopGracePeriod'], `must be at most 1h, got ${formatDuration(c.stopGracePeriodMs)}`);
  }
}
