/** The narrow engine interface garbage collection needs (GcRuntime) and its dockerode adapter. Volumes are never touched. */
import { removeSecretDirs, secretDirsOf } from './docker-secrets.ts';
import { statfs } from 'node:fs/promises';
import type Dockerode from 'dockerode';
import { canonicalRepository, type DiskUsage, type GcContainer, type GcDanglingImage, type GcImage, type GcInventory, type GcPulledImage, type GcRuntime, type RemoveOutcome } from '../healing/gc.ts';

export type { GcRuntime, RemoveOutcome } from '../healing/gc.ts';
import { BerthError } from '../model/errors.ts';
import type { ContainerStatus } from '../model/state.ts';
import { LABELS } from '../model/keys.ts';
import { dockerError, statusOf } from './docker-errors.ts';
import { INSPECT_CONCURRENCY, instanceFilters, mapLimit } from './docker-observe.ts';
import { describeEndpoint } from './docker-options.ts';

const ZERO_TIME = '0001-01-01T00:00:00Z';
const NONE_TAG = '<none>:<none>';

/**
 * A GcRuntime on a Docker engine. diskUsage works for local engines (unix socket or loopback) whose data root is visible
 * to this process at the engine's path; otherwise it rejects and GC runs on its schedule only.
 */
export function createDockerGc(docker: Dockerode): GcRuntime {
  const endpoint = describeEndpoint(docker);
  const fail = (err: unknown, what: string): BerthError => dockerError(err, what, endpoint);
  let rootDir: string | undefined;
  const diskUsage = async (): Promise<DiskUsage> => {
    if (!isLocalEndpoint(endpoint)) throw new BerthError('E_DOCKER', `disk usage of ${endpoint} cannot be measured: its data root is on another machine`);
    rootDir ??= await docker.info().then((info: { DockerRootDir?: string }) => info.DockerRootDir ?? '', (err: unknown) => { throw fail(err, 'info'); });
    return measure(rootDir);
  };
  return {
    inventory: (instance, repositories = []) => inventory(docker, fail, instance, repositories, diskUsage),
    removeContainer: async (id) => {
      const dirs = await secretDirsOf(docker, id); // an exited replica's secret files go with it (local engine)
      const result = await removal(docker.getContainer(id).remove({ v: true, force: false }), fail, `remove container ${id}`); // v: its anonymous volumes, never a named one
      if (result === 'removed') await removeSecretDirs(endpoint, dirs).catch(() => undefined);
      return result;
    },
    removeImage: (id) => removal(docker.getImage(id).remove({ force: false }), fail, `remove image ${id}`),
    untagImage: (ref) => untag(docker, fail, ref),
    diskUsage,
  };
}

/** Engines on a unix socket or a loopback address share this machine's filesystems. */
export function isLocalEndpoint(endpoint: string): boolean {
  if (endpoint.startsWith('unix://')) return true;
  const host = endpoint.replace(/^[a-z]+:\/\//, '').replace(/:\d+$/, '');
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

type Fail = (err: unknown, what: string) => BerthError;

async function removal(call: Promise<unknown>, fail: Fail, what: string): Promise<RemoveOutcome> {
  try {
    await call;
    return 'removed';
  } catch (err) {
    const status = statusOf(err);
    if (status === 404) return 'gone';
    if (status === 409) return 'in-use';
    throw fail(err, what);
  }
}

/** DELETE /images/<ref> without force: the engine answers what it untagged and deleted; no `Deleted` = the image stays. */
async function untag(docker: Dockerode, fail: Fail, ref: string): Promise<RemoveOutcome> {
  let answer: unknown;
  try {
    answer = await docker.getImage(ref).remove({ force: false, noprune: false });
  } catch (err) {
    const status = statusOf(err);
    if (status === 404) return 'gone';
    if (status === 409) return 'in-use';
    throw fail(err, `remove image reference ${ref}`);
  }
  const items = Array.isArray(answer) ? answer as { Deleted?: string }[] : [];
  return items.some((i) => typeof i?.Deleted === 'string' && i.Deleted !== '') ? 'removed' : 'untagged';
}

async function measure(dir: string): Promise<DiskUsage> {
  if (!dir) throw new BerthError('E_DOCKER', 'docker info did not report DockerRootDir');
  try {
    const s = await statfs(dir);
    const used = (s.blocks - s.bfree) * s.bsize;
    return { usedBytes: used, totalBytes: used + s.bavail * s.bsize };
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'error';
    throw new BerthError('E_DOCKER', `cannot measure Docker's data root ${dir} (${code}); it must be visible to the operator at that path`, { cause: err });
  }
}

async function inventory(docker: Dockerode, fail: Fail, instance: string, repositories: readonly string[], diskUsage: () => Promise<DiskUsage>): Promise<GcInventory> {
  const filters = instanceFilters(instance);
  // Podman 4.3 lists no image for two label filters: images are asked by the instance label, the managed one checked here.
  const imageFilters = { label: [`${LABELS.instance}=${instance}`] };
  const managed = (list: Dockerode.ImageInfo[]) => list.filter((i) => i.Labels?.[LABELS.managed] === 'true');
  // Pulled images carry no label: one unfiltered list (the engine's reference filter matches familiar names with globs,
  // one call per repository) read only when some repository is managed, matched by normalised name below.
  const [ours, everyone, labelled, danglingList, all, disk] = await Promise.all([
    docker.listContainers({ all: true, filters }).catch((err: unknown) => { throw fail(err, `list containers of instance ${instance}`); }),
    docker.listContainers({ all: true }).catch((err: unknown) => { throw fail(err, 'list containers'); }),
    docker.listImages({ filters: imageFilters }).then(managed, (err: unknown) => { throw fail(err, `list images of instance ${instance}`); }),
    docker.listImages({ filters: { ...imageFilters, dangling: ['true'] } }).then(managed, (err: unknown) => { throw fail(err, `list dangling images of instance ${instance}`); }),
    repositories.length ? docker.listImages().catch((err: unknown) => { throw fail(err, 'list images'); }) : Promise.resolve([]),
    diskUsage().catch(() => undefined),
  ]);
  const used = new Set(everyone.map((c) => c.ImageID));
  const containers = (await mapLimit(ours, INSPECT_CONCURRENCY, (c) => toGcContainer(docker, fail, c))).filter((c): c is GcContainer => c !== undefined);
  const tagged = labelled.filter((i) => tagsOf(i).length > 0);
  const images = (await mapLimit(tagged, INSPECT_CONCURRENCY, (i) => toGcImage(docker, fail, i, used))).filter((i): i is GcImage => i !== undefined);
  const candidates = pulledCandidates(all, new Set(repositories));
  const pulled = (await mapLimit(candidates, INSPECT_CONCURRENCY, (c) => toGcPulled(docker, fail, c, used))).filter((i): i is GcPulledImage => i !== undefined);
  const dangling: GcDanglingImage[] = danglingList
    .filter((i) => tagsOf(i).length === 0)
    .map((i) => ({ id: i.Id, created: i.Created * 1000, labels: { ...(i.Labels ?? {}) }, inUse: used.has(i.Id) }));
  return { instance, containers, images, pulled, dangling, ...(disk ? { disk } : {}) };
}

/** Exited and dead containers are inspected for FinishedAt; others need no time. A container gone meanwhile is dropped. */
async function toGcContainer(docker: Dockerode, fail: Fail, c: Dockerode.ContainerInfo): Promise<GcContainer | undefined> {
  const state = c.State as ContainerStatus;
  const base = { id: c.Id, name: (c.Names[0] ?? c.Id).replace(/^\//, ''), labels: { ...(c.Labels ?? {}) }, state };
  if (state !== 'exited' && state !== 'dead') return { ...base, finishedAt: '' };
  try {
    const info = await docker.getContainer(c.Id).inspect();
    const finishedAt = info.State.FinishedAt === ZERO_TIME ? '' : info.State.FinishedAt;
    return { ...base, state: info.State.Status as ContainerStatus, finishedAt };
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw fail(err, `inspect container ${c.Id}`);
  }
}

/** Tagged images are inspected for a creation time finer than the list's seconds (builds follow each other quickly). */
async function toGcImage(docker: Dockerode, fail: Fail, i: Dockerode.ImageInfo, used: Set<string>): Promise<GcImage | undefined> {
  const base = { id: i.Id, tags: tagsOf(i), labels: { ...(i.Labels ?? {}) }, inUse: used.has(i.Id) };
  try {
    const info = await docker.getImage(i.Id).inspect();
    const created = Date.parse(info.Created);
    return { ...base, created: Number.isNaN(created) ? i.Created * 1000 : created };
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw fail(err, `inspect image ${i.Id}`);
  }
}

interface PulledCandidate {
  image: Dockerode.ImageInfo;
  repository: string;
  digestRefs: string[];
}

/** One candidate per (image, managed repository naming it by digest); references of other repositories are ignored. */
export function pulledCandidates(images: readonly Dockerode.ImageInfo[], repositories: ReadonlySet<string>): PulledCandidate[] {
  if (!repositories.size) return [];
  const out: PulledCandidate[] = [];
  for (const image of images) {
    const byRepo = new Map<string, string[]>();
    for (const ref of image.RepoDigests ?? []) {
      const at = ref.indexOf('@');
      if (at <= 0 || ref.endsWith('@<none>')) continue;
      const repo = canonicalRepository(ref.slice(0, at));
      if (!repo || !repositories.has(repo)) continue;
      byRepo.set(repo, [...(byRepo.get(repo) ?? []), ref]);
    }
    for (const [repository, digestRefs] of byRepo) out.push({ image, repository, digestRefs });
  }
  return out;
}

/** Pulled images are inspected for a creation time finer than the list's seconds, as built ones. */
async function toGcPulled(docker: Dockerode, fail: Fail, c: PulledCandidate, used: Set<string>): Promise<GcPulledImage | undefined> {
  const base = { id: c.image.Id, repository: c.repository, digestRefs: c.digestRefs, inUse: used.has(c.image.Id) };
  try {
    const info = await docker.getImage(c.image.Id).inspect();
    const created = Date.parse(info.Created);
    return { ...base, created: Number.isNaN(created) ? c.image.Created * 1000 : created };
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw fail(err, `inspect image ${c.image.Id}`);
  }
}

function tagsOf(i: Dockerode.ImageInfo): string[] {
  return (i.RepoTags ?? []).filter((t) => t !== NONE_TAG);
}
