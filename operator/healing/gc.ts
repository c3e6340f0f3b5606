/**
 * Garbage collection decisions (pure): which exited berth containers, old berth-built images, old images berth pulled
 * from registries and dangling berth images of one instance to remove. Effects live in gc-runner.ts; the engine adapter in runtime/docker-gc.ts.
 * Volumes are never collected.
 */
import { formatImageName, parseImageName } from '../images/reference.ts';
import { LABELS } from '../model/keys.ts';
import { claims } from '../manifests/kinds/index.ts';
import type { ContainerStatus } from '../model/state.ts';

/** A berth container of the instance, as GC sees it. */
export interface GcContainer {
  id: string;
  name: string;
  labels: Record<string, string>;
  state: ContainerStatus;
  /** ISO time the container last exited; Docker's zero time or '' when it never ran. */
  finishedAt: string;
}

/** A berth-built image (tagged `berth.local/<ns>/<service>:<hash>`) of the instance. */
export interface GcImage {
  id: string;
  tags: string[];
  labels: Record<string, string>;
  /** Creation time, ms since the epoch. */
  created: number;
  /** Used by any container on the engine, running or not. */
  inUse: boolean;
}

/** An untagged (dangling) image; GC considers only those labelled berth.managed=true and berth.instance=<instance>. */
export interface GcDanglingImage {
  id: string;
  /** Creation time, ms since the epoch. */
  created: number;
  labels: Record<string, string>;
  inUse: boolean;
}

/**
 * An image on the engine that a managed registry repository (see PulledRepository) names by digest. Pulled images carry
 * no berth label: they are berth's through that name only. An image named by two managed repositories appears once
 * for each.
 */
export interface GcPulledImage {
  id: string;
  /** The managed repository, normalised (`canonicalRepository`). */
  repository: string;
  /** The image's digest references in that repository, as the engine spells them (`reg:5000/shop/api@sha256:...`). */
  digestRefs: string[];
  /** Creation time, ms since the epoch. */
  created: number;
  /** Used by any container on the engine, running or not. */
  inUse: boolean;
}

/** What the desired state in force says of one Service whose image berth pulls: the repository and the digests pinned now. */
export interface PulledService {
  /** The repository as the manifest spells it, without tag or digest (`imageNameOf`). */
  repository: string;
  /** Digests its replicas are pinned to now (in force, and a rollback's previous): never collected, whatever their age. */
  digests?: readonly string[];
}

/** A registry repository whose pulled images GC collects: one per normalised name, however many services use it. */
export interface PulledRepository {
  /** Normalised (`docker.io/library/nginx` for `nginx`): what engine references are matched by. */
  name: string;
  /** As the first service (in key order) spells it, for reasons and logs. */
  spelled: string;
  /** Keys (`ns/name`) of the services pulling it, sorted. */
  services: string[];
  /** Digests pinned now, kept whatever their age. */
  pinned: string[];
}

/** Disk usage of Docker's data root. */
export interface DiskUsage {
  usedBytes: number;
  totalBytes: number;
}

/** What GC sees of one instance on one engine. */
export interface GcInventory {
  instance: string;
  containers: GcContainer[];
  images: GcImage[];
  /** Images of the managed registry repositories asked for (none when none was asked for). */
  pulled: GcPulledImage[];
  dangling: GcDanglingImage[];
  /** Absent when the data root cannot be measured (e.g. the operator runs without access to it). */
  disk?: DiskUsage;
}

/** How much GC keeps. */
export interface GcPolicy {
  /** Exited/dead containers kept per (namespace, service), newest first. */
  exitedHistory: number;
  /**
   * Built images kept per (namespace, service), and pulled images per managed repository, newest first (images in
   * use are always kept).
   */
  keepImages: number;
  /** Disk usage ratio above which disk pressure starts. */
  highMark: number;
  /** Disk usage ratio below which disk pressure ends. */
  lowMark: number;
  /** Under disk pressure (computed by the caller, see diskPressure): history 0 and keepImages 1. */
  pressure: boolean;
}

export const DEFAULT_GC_POLICY: GcPolicy = { exitedHistory: 2, keepImages: 3, highMark: 0.85, lowMark: 0.8, pressure: false };

/** Remove one container (never with its volumes). */
export interface RemoveContainerDecision {
  kind: 'remove-container';
  id: string;
  name: string;
  reason: string;
}

/** Remove one image (never forced). */
export interface RemoveImageDecision {
  kind: 'remove-image';
  id: string;
  tags: string[];
  /**
   * Pulled images: the references to remove instead of the image ID (its digest references in the managed repository).
   * The engine deletes the image with its last reference and only untags it while other names keep it.
   */
  refs?: string[];
  reason: string;
}

export type GcDecision = RemoveContainerDecision | RemoveImageDecision;

const COLLECTABLE: ReadonlySet<ContainerStatus> = new Set<ContainerStatus>(['exited', 'dead']);

/**
 * Plans one GC pass: containers first, then built images, then pulled images, then dangling images; services (and
 * repositories) in name order, the oldest candidates last. Anything not labelled berth.managed=true +
 * berth.instance=`inv.instance` is never touched, nor a container or built image another kind than Service claims
 * (berth.kind; none = Service), except pulled images: those of the repositories in `pulled` (from the desired state in
 * force), through their digest references in that repository only.
 */
export function planGc(inv: GcInventory, policy: GcPolicy, pulled: readonly PulledRepository[] = []): GcDecision[] {
  const history = policy.pressure ? 0 : Math.max(0, Math.floor(policy.exitedHistory));
  const keep = policy.pressure ? 1 : Math.max(0, Math.floor(policy.keepImages));
  const suffix = policy.pressure ? ' (disk pressure)' : '';
  return [
    ...planContainers(inv, history, suffix),
    ...planImages(inv, keep, suffix),
    ...planPulled(inv, pulled, keep, suffix),
    ...planDangling(inv),
  ];
}

/**
 * Disk pressure with hysteresis: starts above `highMark`, lasts until usage drops below `lowMark`.
 * Unknown or empty usage keeps the previous state.
 */
export function diskPressure(disk: DiskUsage | undefined, previous: boolean, policy: Pick<GcPolicy, 'highMark' | 'lowMark'>): boolean {
  if (!disk || disk.totalBytes <= 0) return previous;
  const ratio = disk.usedBytes / disk.totalBytes;
  if (ratio > policy.highMark) return true;
  if (ratio < policy.lowMark) return false;
  return previous;
}

/** True when `labels` mark an object berth created for `instance`. */
export function ownedBy(labels: Record<string, string>, instance: string): boolean {
  return labels[LABELS.managed] === 'true' && labels[LABELS.instance] === instance;
}

function planContainers(inv: GcInventory, history: number, suffix: string): RemoveContainerDecision[] {
  const groups = groupBy(inv.containers.filter((c) => isCollectableContainer(c, inv.instance)), serviceOf);
  const decisions: RemoveContainerDecision[] = [];
  for (const [service, members] of groups) {
    const newestFirst = [...members].sort((a, b) => finishedMs(b) - finishedMs(a) || compare(a.id, b.id));
    newestFirst.slice(history).forEach((c, i) => decisions.push({
      kind: 'remove-container', id: c.id, name: c.name,
      reason: `${c.state} container of ${service} beyond the newest ${history} kept (${history + i + 1} of ${newestFirst.length})${suffix}`,
    }));
  }
  return decisions;
}

function isCollectableContainer(c: GcContainer, instance: string): boolean {
  return ownedBy(c.labels, instance) && claims('Service', 'container', c.labels) && COLLECTABLE.has(c.state)
    && Boolean(c.labels[LABELS.namespace]) && Boolean(c.labels[LABELS.service]);
}

function planImages(inv: GcInventory, keep: number, suffix: string): RemoveImageDecision[] {
  const groups = groupBy(inv.images.filter((i) => isBuiltImage(i, inv.instance)), serviceOf);
  const decisions: RemoveImageDecision[] = [];
  for (const [service, members] of groups) {
    const newestFirst = [...members].sort((a, b) => b.created - a.created || compare(a.id, b.id));
    newestFirst.slice(keep).forEach((image, i) => {
      if (image.inUse) return;
      decisions.push({
        kind: 'remove-image', id: image.id, tags: [...image.tags],
        reason: `built image of ${service} beyond the newest ${keep} kept (${keep + i + 1} of ${newestFirst.length})${suffix}`,
      });
    });
  }
  return decisions;
}

/** A berth-built image of the instance: owned, with a namespace and service, and tagged `berth.local/<ns>/<service>:...`. */
function isBuiltImage(image: GcImage, instance: string): boolean {
  const ns = image.labels[LABELS.namespace];
  const service = image.labels[LABELS.service];
  if (!ownedBy(image.labels, instance) || !claims('Service', 'image', image.labels) || !ns || !service) return false;
  const prefix = `berth.local/${ns}/${service}:`;
  return image.tags.length > 0 && image.tags.every((t) => t.startsWith(prefix));
}

/**
 * The managed repositories of `byService` (service key -> what it pulls), one per normalised name, in name order.
 * A repository that does not parse as an image name is left out (nothing on the engine can match it).
 */
export function pulledRepositories(byService: ReadonlyMap<string, PulledService>): PulledRepository[] {
  const repos = new Map<string, PulledRepository>();
  for (const key of [...byService.keys()].sort(compare)) {
    const svc = byService.get(key)!;
    const name = canonicalRepository(svc.repository);
    if (!name) continue;
    const repo = repos.get(name) ?? { name, spelled: svc.repository, services: [], pinned: [] };
    repo.services.push(key);
    for (const d of svc.digests ?? []) if (!repo.pinned.includes(d)) repo.pinned.push(d);
    repos.set(name, repo);
  }
  return [...repos.values()].sort((a, b) => compare(a.name, b.name));
}

/** `nginx`, `library/nginx`, `index.docker.io/library/nginx` -> `docker.io/library/nginx`; tag and digest dropped; undefined if not a name. */
export function canonicalRepository(name: string): string | undefined {
  try {
    return formatImageName(parseImageName(name));
  } catch {
    return undefined;
  }
}

function planPulled(inv: GcInventory, pulled: readonly PulledRepository[], keep: number, suffix: string): RemoveImageDecision[] {
  const decisions: RemoveImageDecision[] = [];
  for (const repo of pulled) {
    const members = inv.pulled.filter((i) => i.repository === repo.name && i.digestRefs.length > 0);
    const newestFirst = [...members].sort((a, b) => b.created - a.created || compare(a.id, b.id));
    const owners = repo.services.join(', ');
    newestFirst.slice(keep).forEach((image, i) => {
      if (image.inUse || image.digestRefs.some((r) => repo.pinned.includes(digestOf(r)))) return;
      const refs = [...image.digestRefs].sort(compare);
      decisions.push({
        kind: 'remove-image', id: image.id, tags: refs, refs,
        reason: `pulled image of ${owners} (${repo.spelled}) beyond the newest ${keep} kept (${keep + i + 1} of ${newestFirst.length})${suffix}`,
      });
    });
  }
  return decisions;
}

function digestOf(ref: string): string {
  const at = ref.indexOf('@');
  return at >= 0 ? ref.slice(at + 1) : '';
}

function planDangling(inv: GcInventory): RemoveImageDecision[] {
  return inv.dangling
    .filter((d) => ownedBy(d.labels, inv.instance) && !d.inUse)
    .sort((a, b) => a.created - b.created || compare(a.id, b.id))
    .map((d) => ({ kind: 'remove-image', id: d.id, tags: [], reason: `dangling image of ${serviceOf(d) || 'instance ' + inv.instance} not used by any container` }));
}

function serviceOf(o: { labels: Record<string, string> }): string {
  const ns = o.labels[LABELS.namespace];
  const service = o.labels[LABELS.service];
  return ns && service ? `${ns}/${service}` : '';
}

function finishedMs(c: GcContainer): number {
  const ms = Date.parse(c.finishedAt);
  return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : ms;
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return new Map([...groups].sort(([a], [b]) => compare(a, b)));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The engine operations garbage collection needs (the docker adapter in runtime/docker-gc.ts implements them). */
/**
 * What a removal did: `in-use` = the engine refused (409: running again, used by a container, child images...);
 * `gone` = 404; `untagged` = a reference was removed but the image stays, other references name it (untagImage only).
 */
export type RemoveOutcome = 'removed' | 'untagged' | 'in-use' | 'gone';

/** Engine operations of garbage collection. Failures other than 404/409 reject with BerthError E_DOCKER. */
export interface GcRuntime {
  /**
   * Berth containers and images of `instance`, dangling images labelled for it, the images the normalised registry
   * repositories `repositories` name by digest (PulledRepository.name), and disk usage (absent if unmeasurable).
   */
  inventory(instance: string, repositories?: readonly string[]): Promise<GcInventory>;
  /** Removes a container without force and without its volumes; a container that runs again is `in-use`. */
  removeContainer(id: string): Promise<RemoveOutcome>;
  /** Removes an image without force; an image in use (409) is `in-use`, for the caller to skip with a warning. */
  removeImage(id: string): Promise<RemoveOutcome>;
  /**
   * Removes one image reference (`name@sha256:...`) without force: `removed` when the image went with it, `untagged`
   * when other references keep it, `in-use` when the engine refuses (409: a container uses the image it names).
   */
  untagImage(ref: string): Promise<RemoveOutcome>;
  /** statfs of the engine's DockerRootDir, as `df` counts it (used = total - free; total = used + available). */
  diskUsage(): Promise<DiskUsage>;
}
