/**
 * Checks of Volumes: options the `local` driver refuses, and host paths. A Volume whose driverOpts bind-mount a host
 * directory (`type: none, o: bind, device: /etc`) or mount a host device would give anyone who can push to the
 * manifests repository any file of the Docker host, so host paths are refused unless they lie under one of the
 * operator's --allow-host-path prefixes. The Docker engine's socket is refused on top of that unless the operator runs
 * with --allow-docker-socket: whoever holds it commands the engine, so it is root on the host whatever the prefixes.
 */
import { posix } from 'node:path';
import { BerthError } from '../../../model/errors.ts';
import type { ManifestIssue } from '../../../model/errors.ts';
import type { VolumeManifest } from '../../../model/manifest.ts';
import { formatPath } from '../../path.ts';
import type { Entry } from '../../semantic.ts';
import type { PathSegment, RawDoc } from '../../yaml-source.ts';
import { LOCAL_OPTIONS, localOptionProblems } from '../../local-volume-options.ts';

/** Reports one issue at `path` of `doc` (at its key with target 'key'). */
export type VolumeReport = (doc: RawDoc, path: PathSegment[], message: string, target?: 'key' | 'value') => void;

const DRIVER_OPTS: PathSegment[] = ['spec', 'driverOpts'];

/** Options of the local driver (checked on every typed Volume): see local-volume-options.ts. */
export function checkVolume(doc: RawDoc, m: VolumeManifest, report: VolumeReport): void {
  if (m.spec.driver !== 'local') return;
  for (const { key, message } of localOptionProblems(m.spec.driverOpts)) {
    if (key === undefined) report(doc, DRIVER_OPTS, message, 'key');
    else report(doc, [...DRIVER_OPTS, key], message, LOCAL_OPTIONS.includes(key) ? 'value' : 'key');
  }
}

/**
 * The host path a Volume mounts, with why it counts as one, or undefined: the device of a bind mount (`o` holding
 * bind or rbind, or `type: none`), or any absolute device path (a block device or a file of the host; `//host/share`
 * is a network share, not a host path), whatever the driver.
 */
export function hostPathOf(spec: VolumeManifest['spec']): { device: string; why: string } | undefined {
  const { device, o, type } = spec.driverOpts;
  if (device === undefined) return undefined;
  const options = (o ?? '').split(',').map((s) => s.trim());
  const bind = options.find((s) => s === 'bind' || s === 'rbind');
  if (bind) return { device, why: `o: ${bind}` };
  if (type === 'none') return { device, why: 'type: none' };
  if (!device.startsWith('/') || device.startsWith('//')) return undefined;
  return { device, why: spec.driver !== 'local' ? `device of driver ${spec.driver}` : type ? `type: ${type} on a host device or file` : 'a host device or file' };
}

/** Normalised absolute form of an --allow-host-path value; BerthError E_CONFIG when it is relative or has a ".." segment. */
export function normalizeAllowedPath(prefix: string): string {
  if (!prefix.startsWith('/') || prefix.split('/').includes('..') || prefix.includes('\0')) {
    throw new BerthError('E_CONFIG', `--allow-host-path: "${prefix}" must be an absolute path without ".." segments`);
  }
  const n = posix.normalize(prefix);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** True when `path` (absolute, no "..") is `prefix` or below it, segment-wise: /srv/data allows /srv/data/x, not /srv/database. */
export function isUnder(path: string, prefix: string): boolean {
  const n = normalizeAllowedPath(path);
  return prefix === '/' || n === prefix || n.startsWith(`${prefix}/`);
}

/**
 * E_SEMANTIC issues at spec.driverOpts of each typed Volume whose host path is not under an allowed prefix. Throws
 * BerthError E_CONFIG when an allowed prefix itself is invalid.
 */
export function hostPathIssues(entries: readonly Entry[], allowHostPaths: readonly string[]): ManifestIssue[] {
  const allowed = allowHostPaths.map(normalizeAllowedPath);
  const issues: ManifestIssue[] = [];
  for (const { doc, manifest } of entries) {
    if (manifest?.kind !== 'Volume') continue;
    const host = hostPathOf(manifest.spec);
    const problem = host && hostPathProblem(host.device, allowed);
    if (!host || !problem) continue;
    const message = `mounts the host path ${JSON.stringify(host.device)} (${host.why}): ${problem}`;
    issues.push({ ...doc.loc.at(DRIVER_OPTS, 'key'), code: 'E_SEMANTIC', field: formatPath(DRIVER_OPTS), message });
  }
  return issues;
}

/** Where dockerd listens by default (/var/run is a symlink to /run on most hosts, but either may be a real directory). */
const ENGINE_SOCKETS: readonly string[] = ['/var/run/docker.sock', '/run/docker.sock'];

/**
 * The engine socket a host path exposes, or undefined: the path itself when it ends in docker.sock (rootless and
 * custom sockets too), or a default socket below it (a bind of /var/run, /run or / carries the socket along).
 */
export function engineSocketOf(device: string): string | undefined {
  if (!device.startsWith('/') || device.includes('\0') || device.split('/').includes('..')) return undefined; // reported as a host path
  const path = normalizeAllowedPath(device);
  if (path.endsWith('docker.sock')) return path;
  return ENGINE_SOCKETS.find((socket) => isUnder(socket, path));
}

/**
 * E_SEMANTIC issues at spec.driverOpts.device of each typed Volume that mounts the engine socket, unless the operator
 * allows it (--allow-docker-socket). Independent of --allow-host-path: the path must be allowed there too.
 */
export function dockerSocketIssues(entries: readonly Entry[], allowDockerSocket: boolean): ManifestIssue[] {
  if (allowDockerSocket) return [];
  const issues: ManifestIssue[] = [];
  for (const { doc, manifest } of entries) {
    if (manifest?.kind !== 'Volume') continue;
    const host = hostPathOf(manifest.spec);
    const socket = host && engineSocketOf(host.device);
    if (!host || !socket) continue;
    const via = socket === normalizeAllowedPath(host.device) ? '' : ` (inside ${JSON.stringify(host.device)})`;
    const message = `mounts the Docker engine socket ${socket}${via}, which gives its containers root on the host: refused unless the operator runs with --allow-docker-socket`;
    const path = [...DRIVER_OPTS, 'device'];
    issues.push({ ...doc.loc.at(path), code: 'E_SEMANTIC', field: formatPath(path), message });
  }
  return issues;
}

/** Why `device` may not be read or mounted from the host (undefined: it may); `allowed` are normalised prefixes. Routes' TLS files use it too. */
export function hostPathProblem(device: string, allowed: readonly string[]): string | undefined {
  if (device.includes('\0')) return undefined; // reported as a NUL
  if (!device.startsWith('/')) return 'a host path must be absolute';
  if (device.split('/').includes('..')) return 'a host path must not contain ".." segments';
  if (allowed.some((prefix) => isUnder(device, prefix))) return undefined;
  const list = allowed.length === 0 ? 'none is set' : `allowed: ${allowed.join(', ')}`;
  return `host paths are refused unless they lie under a prefix given to the operator with --allow-host-path (${list})`;
}
