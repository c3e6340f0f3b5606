/**
 * spec.files targets and spec.anonymousVolumes, checked on the typed manifest (pure). Files are written into the
 * created container's own filesystem through the engine's archive API before it starts, so a target must be a place
 * of that filesystem: not under a mount of the replica (a volume would keep the copy, a tmpfs or a secret directory
 * would hide it at start), and the root filesystem must be writable (dockerd refuses the write otherwise:
 * "container rootfs is marked read-only").
 */
import { posix } from 'node:path';
import type { ServiceManifest } from '../../../model/manifest.ts';
import { mountPathProblem, normalizeMountPath } from '../../mount-checks.ts';
import type { PathSegment, RawDoc } from '../../yaml-source.ts';
import type { Report } from '../types.ts';

const under = (path: string, dir: string): boolean => path === dir || dir === '/' || path.startsWith(`${dir}/`);

/** Checks spec.files[].target and spec.anonymousVolumes of a typed service. */
export function checkFileTargets(doc: RawDoc, m: ServiceManifest, report: Report): void {
  const { spec } = m;
  const anonymous = spec.anonymousVolumes ?? [];
  anonymous.forEach((p, i) => {
    const problem = mountPathProblem(p);
    if (problem) return report(doc, ['spec', 'anonymousVolumes', i], problem);
    const j = spec.volumes.findIndex((v) => normalizeMountPath(v.mountPath) === p);
    if (j >= 0) report(doc, ['spec', 'anonymousVolumes', i], `${p} is also the mountPath of spec.volumes[${j}]`);
  });
  const files = spec.files ?? [];
  if (files.length === 0) return;
  if (spec.container?.readOnly) {
    report(doc, ['spec', 'files'], 'needs a writable root filesystem: the files are copied into it before the replica starts, and the engine refuses that with readOnly: true (mount a Volume for them instead, or drop readOnly)', 'key');
    return;
  }
  const mounts: { dir: string; what: string }[] = [
    ...spec.volumes.map((v, i) => ({ dir: normalizeMountPath(v.mountPath), what: `a mountPath of spec.volumes[${i}]: the copy would go into the volume` })),
    ...anonymous.map((p, i) => ({ dir: p, what: `spec.anonymousVolumes[${i}]: the copy would go into the volume` })),
    ...(spec.container?.tmpfs ?? []).map((t, i) => ({ dir: normalizeMountPath(t.path), what: `the tmpfs spec.tmpfs[${i}], which hides it when the replica starts` })),
    ...(spec.secrets ?? []).map((s, i) => ({ dir: s.key !== undefined ? posix.dirname(s.target) : s.target, what: `the secret directory of spec.secrets[${i}] (a tmpfs bind)` })),
  ];
  const seen = new Map<string, number>();
  files.forEach((f, i) => {
    const at: PathSegment[] = ['spec', 'files', i, 'target'];
    if ((f.source === undefined) === (f.content === undefined)) return report(doc, ['spec', 'files', i], 'needs exactly one of source (a file or directory of the repository) and content');
    const segments = f.target.split('/').slice(1);
    if (segments.some((s) => s === '.' || s === '..') || (f.target !== '/' && normalizeMountPath(f.target) !== f.target)) {
      return report(doc, at, `must be an absolute, normalised path (no ".", ".." or empty segments, no trailing "/")`);
    }
    if (f.target === '/' || ['/dev', '/proc', '/sys'].some((p) => under(f.target, p))) return report(doc, at, `${f.target} is not a place for files of the repository (/, /dev, /proc and /sys belong to the engine)`);
    if (['/etc/hosts', '/etc/hostname', '/etc/resolv.conf'].includes(f.target)) return report(doc, at, `${f.target} is written by the engine for each container`);
    const prev = seen.get(f.target);
    if (prev !== undefined) return report(doc, at, `duplicate target ${f.target} (also spec.files[${prev}])`);
    seen.set(f.target, i);
    const hit = mounts.find((x) => under(f.target, x.dir));
    if (hit) report(doc, at, `${f.target} is under ${hit.what}`);
  });
}
