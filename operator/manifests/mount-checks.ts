/**
 * Mount paths of a Service's volumes that the engine (dockerd 20.10 with runc) refuses, at create or at start, found
 * by trying each on the real engine. A NUL is reported by string-checks.ts; duplicates by semantic.ts.
 */
import { posix } from 'node:path';
import type { ServiceManifest } from '../model/manifest.ts';
import type { PathSegment, RawDoc } from './yaml-source.ts';

/** Reports one issue at `path` of `doc` (at its key with target 'key'). */
export type MountReport = (doc: RawDoc, path: PathSegment[], message: string, target?: 'key' | 'value') => void;

/** Linux NAME_MAX: the longest file name (one segment of a path), in bytes. */
const SEGMENT_MAX_BYTES = 255;
/** Linux PATH_MAX less its terminating NUL. */
const PATH_MAX_BYTES = 4095;
/**
 * The engine resolves a mount destination one segment at a time and gives up after 255 steps (evalSymlinksInScope:
 * "too many links"), counting the symlinks of the image it follows; 128 segments leave room for those.
 */
const SEGMENTS_MAX = 128;

/** Targets runc refuses, or that leave the container unable to start, whatever the image. */
const RESERVED: readonly { test: (p: string) => boolean; why: string }[] = [
  { test: (p) => p === '/proc' || p.startsWith('/proc/'), why: 'is inside /proc, which the container runtime mounts itself (runc refuses mounts there)' },
  { test: (p) => p.startsWith('/sys/'), why: "is inside /sys, the kernel's read-only sysfs (runc cannot create the mount point)" },
  { test: (p) => p === '/dev', why: 'would hide /dev and its devices (runc cannot set up the container)' },
  { test: (p) => ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf'].includes(p), why: 'is a file the engine writes for each container; a volume (a directory) cannot be mounted onto it' },
  { test: (p) => p === '/sbin' || p === '/sbin/docker-init', why: 'would hide /sbin/docker-init, the init process every berth replica runs with' },
];

/** Checks each spec.volumes[].mountPath of a typed service. */
export function checkMountPaths(doc: RawDoc, m: ServiceManifest, report: MountReport): void {
  m.spec.volumes.forEach((v, i) => {
    const problem = mountPathProblem(v.mountPath);
    if (problem) report(doc, ['spec', 'volumes', i, 'mountPath'], problem);
  });
}

/** Why the engine would refuse `path` as a mount destination, or undefined. A NUL is left to the NUL check. */
export function mountPathProblem(path: string): string | undefined {
  if (path.includes('\0')) return undefined;
  if (!path.startsWith('/')) return 'must be an absolute path';
  if (/[\u0001-\u001f\u007f]/.test(path)) return 'must not contain control characters (newline, tab, ...)';
  const segments = path.split('/').slice(1);
  if (segments.some((s) => s === '.' || s === '..')) return `must not contain "." or ".." segments (the engine would mount at ${posix.normalize(path)})`;
  const normal = normalizeMountPath(path);
  if (normal === '/') return "cannot be / (the container's root file system)";
  if (normal !== path) return `must be written ${normal} (no empty segments, no trailing "/")`;
  if (Buffer.byteLength(path) > PATH_MAX_BYTES) return `is ${Buffer.byteLength(path)} bytes long; a path has at most ${PATH_MAX_BYTES}`;
  if (segments.length > SEGMENTS_MAX) return `has ${segments.length} segments; at most ${SEGMENTS_MAX}`;
  const long = segments.find((s) => Buffer.byteLength(s) > SEGMENT_MAX_BYTES);
  if (long !== undefined) return `has a segment of ${Buffer.byteLength(long)} bytes; a file name has at most ${SEGMENT_MAX_BYTES}`;
  return RESERVED.find((r) => r.test(path))?.why;
}

/** `/data/`, `//data` and `/x/../data` are the engine's `/data`: how duplicates compare. */
export function normalizeMountPath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}
