/**
 * Service `volumes` and `tmpfs` -> spec.volumes (named volumes of the stack) and spec.tmpfs; the top-level `volumes`
 * -> berth Volumes. A bind mount of an absolute host path -> a berth Volume of the local driver that binds it
 * (convert.ts makes it; the host-path checks, --allow-host-path, apply to it as to any Volume). A relative bind source
 * (`./conf/site.conf`, `.`) is a file or directory of the repository: spec.files, a copy of git's content at the
 * revision written into each replica (writes in the container reach neither git nor any host directory). An anonymous
 * volume (a target alone) -> spec.anonymousVolumes, one engine volume per replica, removed with it.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { PathSegment } from '../manifests/yaml-source.ts';
import { isObj } from '../manifests/raw.ts';
import type { Obj } from '../manifests/raw.ts';
import { fromRoot } from './context.ts';
import type { ServiceContext } from './context.ts';
import { composeBool, composeBytes } from './units.ts';

/** Maps the service's `volumes` into spec.volumes / spec.tmpfs. */
export function convertServiceVolumes(ctx: ServiceContext, volumes: unknown): void {
  if (!Array.isArray(volumes)) return;
  volumes.forEach((raw, i) => {
    const rel: PathSegment[] = ['volumes', i];
    if (typeof raw === 'string') return shortVolume(ctx, raw, rel);
    if (isObj(raw)) return longVolume(ctx, raw, rel);
    ctx.error(rel, 'must be SOURCE:TARGET[:MODE] or a mapping with type, source and target');
  });
}

const isHostPath = (src: string): boolean => /^([./~]|[A-Za-z]:[\\/])/.test(src);

function shortVolume(ctx: ServiceContext, spec: string, rel: PathSegment[]): void {
  const parts = spec.split(':');
  if (parts.length === 1) return anonymousVolume(ctx, targetOf(spec), rel);
  const [source = '', rawTarget = '', mode, ...more] = parts;
  const target = targetOf(rawTarget);
  if (source === '') return ctx.error(rel, 'the volume source is empty (an unset variable?)');
  if (more.length > 0) return ctx.error(rel, 'must be SOURCE:TARGET[:MODE]');
  if (isHostPath(source) && mode !== undefined && mode !== 'ro' && mode !== 'rw') return ctx.notYet(rel, `bind mode ${JSON.stringify(mode)} is`, 'ro and rw are');
  if (isHostPath(source)) return bind(ctx, source, target, mode === 'ro', rel, rel, rel, rel);
  let readOnly = false;
  if (mode !== undefined) {
    if (mode !== 'ro' && mode !== 'rw') return ctx.notYet(rel, `volume mode ${JSON.stringify(mode)} is`, 'ro and rw are');
    readOnly = mode === 'ro';
  }
  mount(ctx, source, target, readOnly, rel, rel, rel);
}

function longVolume(ctx: ServiceContext, v: Obj, rel: PathSegment[]): void {
  const type = String(v.type);
  if (type === 'bind') {
    for (const k of Object.keys(v)) {
      if (k === 'bind' && isObj(v.bind)) for (const o of Object.keys(v.bind)) ctx.notYet([...rel, 'bind', o], `bind.${o} is`);
      else if (!['type', 'source', 'target', 'read_only', 'bind'].includes(k) && !k.startsWith('x-')) ctx.unsupported([...rel, k]);
    }
    if (typeof v.source !== 'string' || v.source === '') return ctx.error(rel, 'a bind mount needs source: an absolute host path, or a path of the repository relative to the compose file');
    return bind(ctx, v.source, targetOf(v.target), composeBool(v.read_only) ?? false, [...rel, 'source'], [...rel, 'target'], [...rel, 'read_only'], rel);
  }
  if (type === 'tmpfs') {
    for (const k of Object.keys(v)) if (!['type', 'target', 'tmpfs', 'read_only'].includes(k) && !k.startsWith('x-')) ctx.unsupported([...rel, k]);
    if (composeBool(v.read_only)) return ctx.error([...rel, 'read_only'], 'a tmpfs cannot be read-only');
    const t = isObj(v.tmpfs) ? v.tmpfs : {};
    for (const k of Object.keys(t)) if (k !== 'size' && k !== 'mode' && !k.startsWith('x-')) ctx.unsupported([...rel, 'tmpfs', k]);
    return tmpfsEntry(ctx, targetOf(v.target), t.size, t.mode, rel);
  }
  if (type !== 'volume') return ctx.notYet([...rel, 'type'], `volume type ${type} is`);
  for (const k of Object.keys(v)) {
    if (k === 'volume' && isObj(v.volume)) for (const o of Object.keys(v.volume)) ctx.notYet([...rel, 'volume', o], `volume.${o} is`);
    else if (!['type', 'source', 'target', 'read_only', 'volume'].includes(k) && !k.startsWith('x-')) ctx.unsupported([...rel, k]);
  }
  if (typeof v.source !== 'string' || v.source === '') {
    if (composeBool(v.read_only)) return ctx.notYet([...rel, 'read_only'], 'a read-only anonymous volume is');
    return anonymousVolume(ctx, targetOf(v.target), [...rel, 'target']);
  }
  mount(ctx, v.source, targetOf(v.target), composeBool(v.read_only) ?? false, [...rel, 'source'], [...rel, 'target'], [...rel, 'read_only']);
}

/**
 * A bind mount: an absolute host path -> the berth Volume that binds it; a relative one -> a copy of that file or
 * directory of the repository (berth reads git objects: there is no work tree beside the compose file to mount).
 */
/** A mount target as the engine takes it: a trailing "/" (`./app:/var/www/html/`) is dropped, as Docker cleans the path. */
function targetOf(v: unknown): string {
  const t = String(v ?? '');
  return t.length > 1 ? t.replace(/\/+$/, '') || '/' : t;
}

function bind(ctx: ServiceContext, source: string, target: string, readOnly: boolean, rel: PathSegment[], targetRel: PathSegment[], roRel: PathSegment[], entryRel: PathSegment[]): void {
  if (source.startsWith('~')) return ctx.error(rel, 'a bind source under ~ is a path of the home directory of whoever runs compose; use an absolute host path, or a path of the repository relative to the compose file');
  if (!source.startsWith('/')) return repoFile(ctx, source, target, rel, targetRel);
  if (source.split('/').includes('..')) return ctx.error(rel, 'a bind source must not contain ".." segments');
  const hostPath = normalizeHostPath(source);
  const volume = ctx.project.bindVolume(hostPath, ctx.at(entryRel));
  if (volume === undefined) return;
  mount(ctx, volume, target, readOnly, rel, targetRel, roRel, true);
}

/**
 * A relative bind source -> spec.files: the file or directory of the repository (relative to the compose file's
 * directory, as compose resolves it; berth's spec.files[].source is relative to the manifests root). `:ro` or not, it is
 * a copy; the loader reports a source that is missing or leaves the repository at this compose line.
 */
function repoFile(ctx: ServiceContext, source: string, target: string, rel: PathSegment[], targetRel: PathSegment[]): void {
  const repoPath = posix.join(posix.dirname(ctx.project.file), source);
  ctx.push(['files'], { source: fromRoot(ctx.project.root, repoPath), target }, rel);
  const i = (ctx.spec.files as unknown[]).length - 1;
  ctx.mapTo(['files', i, 'source'], rel);
  ctx.mapTo(['files', i, 'target'], targetRel);
}

/** A volume with a target alone: an anonymous volume of each replica (compose's `- /usr/src/app/node_modules`). */
function anonymousVolume(ctx: ServiceContext, target: string, rel: PathSegment[]): void {
  ctx.push(['anonymousVolumes'], target, rel);
}

function normalizeHostPath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** `bind-<sanitised path>-<8 hex of sha256(path)>`, a DNS label of at most 63 characters. */
export function bindVolumeName(hostPath: string): string {
  const hash = createHash('sha256').update(hostPath).digest('hex').slice(0, 8);
  const clean = hostPath.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63 - 'bind--'.length - hash.length).replace(/-+$/, '');
  return clean === '' ? `bind-${hash}` : `bind-${clean}-${hash}`;
}

function mount(ctx: ServiceContext, source: string, target: string, readOnly: boolean, rel: PathSegment[], targetRel: PathSegment[], roRel: PathSegment[], berthName = false): void {
  const volume = berthName ? source : ctx.project.volumes.get(source);
  if (volume === undefined) return ctx.error(rel, `volume ${JSON.stringify(source)} is not declared in the top-level volumes`);
  ctx.push(['volumes'], { volume, mountPath: target, readOnly }, rel);
  const i = (ctx.spec.volumes as unknown[]).length - 1;
  ctx.mapTo(['volumes', i, 'volume'], rel);
  ctx.mapTo(['volumes', i, 'mountPath'], targetRel);
  ctx.mapTo(['volumes', i, 'readOnly'], roRel);
}

function tmpfsEntry(ctx: ServiceContext, path: string, size: unknown, mode: unknown, rel: PathSegment[]): void {
  const entry: Obj = { path };
  if (size !== undefined) {
    const bytes = composeBytes(size);
    if (bytes === undefined) return ctx.error(rel, `tmpfs size ${JSON.stringify(size)} must be bytes or a size such as 64m`);
    entry.size = bytes;
  }
  // `mode: 1777` is written in octal digits (a YAML integer read as decimal): its digits are the mode.
  if (mode !== undefined) entry.mode = String(mode);
  ctx.push(['tmpfs'], entry, rel);
}

/** Maps the service's `tmpfs` (a path or a list of `path[:size=..,mode=..]`) into spec.tmpfs. */
export function convertTmpfs(ctx: ServiceContext, tmpfs: unknown): void {
  const list = typeof tmpfs === 'string' ? [tmpfs] : Array.isArray(tmpfs) ? tmpfs : [];
  list.forEach((raw, i) => {
    const rel: PathSegment[] = typeof tmpfs === 'string' ? ['tmpfs'] : ['tmpfs', i];
    const [path = '', opts] = String(raw).split(/:(.*)/s);
    let size: unknown;
    let mode: unknown;
    for (const opt of opts ? opts.split(',') : []) {
      const [k, val] = opt.split('=');
      if (k === 'size') size = val;
      else if (k === 'mode') mode = val;
      else if (k !== 'rw') return ctx.notYet(rel, `tmpfs option ${JSON.stringify(opt)} is`, 'size and mode are');
    }
    tmpfsEntry(ctx, path, size, mode, rel);
  });
}
