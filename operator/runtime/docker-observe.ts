/**
 * observe(): one list call, container inspects (cached while events flow), volumes, networks and image IDs.
 * Network attachments and addresses come from the list answer of every pass: connecting or disconnecting a container
 * emits network events only, which never invalidate the inspect cache.
 */
import type Dockerode from 'dockerode';
import type { ContainerStatus, ObservedContainer, ObservedNetwork, ObservedState, ObservedVolume } from '../model/state.ts';
import { LABELS, networkName } from '../model/keys.ts';
import type { InspectCache } from './docker-cache.ts';
import { statusOf } from './docker-errors.ts';

/** How many inspects observe() keeps in flight. */
export const INSPECT_CONCURRENCY = 8;

const STATUSES: ContainerStatus[] = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'];
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Wraps a failed engine call as an error of the operation `what`. */
export type FailFn = (err: unknown, what: string) => Error;

/** Label filters selecting berth-managed objects of one instance. */
export function instanceFilters(instance: string): { label: string[] } {
  return { label: [`${LABELS.managed}=true`, `${LABELS.instance}=${instance}`] };
}

/** Reads the observed state of `instance` (see ContainerRuntime.observe). */
export async function observeState(docker: Dockerode, cache: InspectCache, fail: FailFn, instance: string, imageRefs: string[]): Promise<ObservedState> {
  const live = cache.begin(instance);
  let listed: Set<string> | undefined;
  try {
    const list = await docker.listContainers({ all: true, filters: instanceFilters(instance) }).catch((err: unknown) => {
      throw fail(err, `list containers of instance ${instance}`);
    });
    listed = new Set(list.map((c) => c.Id));
    const [found, volumes, networks, { images, localImages }] = await Promise.all([
      mapLimit(list, INSPECT_CONCURRENCY, (entry) => observeContainer(docker, cache, fail, instance, entry, live)),
      observeVolumes(docker, fail, instance),
      observeNetworks(docker, fail, instance),
      observeImages(docker, fail, imageRefs),
    ]);
    const containers = found.filter((c): c is ObservedContainer => c !== undefined);
    return { containers, volumes, networks, images, localImages };
  } finally {
    cache.end(instance, listed);
  }
}

/** A container from the cache (its attachments refreshed from this pass's list answer) or from a fresh inspect. */
async function observeContainer(
  docker: Dockerode, cache: InspectCache, fail: FailFn, instance: string, entry: Dockerode.ContainerInfo, live: boolean,
): Promise<ObservedContainer | undefined> {
  const id = entry.Id;
  const cached = live ? cache.get(instance, id) : undefined;
  if (cached) return withAttachments(structuredClone(cached), entry);
  const ticket = cache.ticket(instance);
  let info: Dockerode.ContainerInspectInfo;
  try {
    info = await docker.getContainer(id).inspect();
  } catch (err) {
    if (statusOf(err) === 404) return undefined; // removed between list and inspect
    throw fail(err, `inspect container ${id}`);
  }
  const observed = toObservedContainer(info);
  cache.put(instance, id, ticket, observed);
  return structuredClone(observed);
}

/** Maps a container inspect answer to an ObservedContainer. */
export function toObservedContainer(info: Dockerode.ContainerInspectInfo): ObservedContainer {
  const state = info.State;
  const status = STATUSES.find((s) => s === state.Status) ?? 'dead';
  const startedAt = state.StartedAt && state.StartedAt !== ZERO_TIME ? state.StartedAt : undefined;
  const finishedAt = state.FinishedAt && state.FinishedAt !== ZERO_TIME ? state.FinishedAt : undefined;
  const { networks, address } = attachments(info, berthNetworkOf(info.Config.Labels ?? {}));
  const host = info.HostConfig;
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    labels: { ...(info.Config.Labels ?? {}) },
    status,
    exitCode: state.ExitCode ?? 0,
    imageId: info.Image,
    command: [...(info.Config.Cmd ?? [])],
    env: envRecord(info.Config.Env ?? []),
    restartPolicy: host.RestartPolicy?.Name || 'no',
    nanoCpus: host.NanoCpus ?? 0,
    memory: host.Memory ?? 0,
    ...(startedAt ? { startedAt } : {}),
    ...(finishedAt ? { finishedAt } : {}),
    ...(address ? { address } : {}),
    networks,
    ...(typeof info.RestartCount === 'number' ? { restartCount: info.RestartCount } : {}),
    createdAt: info.Created,
  };
}

/** The network attachments of a container, as an inspect or a list answer reports them. */
export interface AttachmentsView {
  NetworkSettings?: { Networks?: Record<string, { IPAddress?: string }> | null; IPAddress?: string } | null;
  HostConfig?: { NetworkMode?: string } | null;
}

/**
 * The berth network the operator reaches a container of these labels on: its `berth.network` label (a replica with
 * spec.networks: its primary network), else its namespace's (undefined without instance / namespace labels).
 */
export function berthNetworkOf(labels: Record<string, string>): string | undefined {
  const primary = labels[LABELS.network];
  if (primary) return primary;
  const instance = labels[LABELS.instance];
  const namespace = labels[LABELS.namespace];
  return instance && namespace ? networkName(instance, namespace) : undefined;
}

/**
 * Names of the networks a container is attached to, and where the operator (on the same host) reaches its ports:
 * its IP on `preferred` (its berth network) when it has one there, else on its first network that gave it one
 * (Docker lists networks by name), 127.0.0.1 for host networking, undefined when it has none (e.g. not running).
 */
export function attachments(info: AttachmentsView, preferred?: string): { networks: string[]; address?: string } {
  const byName = info.NetworkSettings?.Networks ?? {};
  const networks = Object.keys(byName).sort();
  const ips = [preferred, ...networks].map((n) => (n === undefined ? undefined : byName[n]?.IPAddress));
  const ip = ips.find((a) => typeof a === 'string' && a !== '') ?? info.NetworkSettings?.IPAddress;
  if (ip) return { networks, address: ip };
  return info.HostConfig?.NetworkMode === 'host' ? { networks, address: '127.0.0.1' } : { networks };
}

/** `c` with its attachments and address as of the list answer `entry` (fresher than a cached inspect: see the file comment). */
function withAttachments(c: ObservedContainer, entry: Dockerode.ContainerInfo): ObservedContainer {
  const { networks, address } = attachments(entry, berthNetworkOf(c.labels));
  const out: ObservedContainer = { ...c, networks };
  if (address) out.address = address;
  else delete out.address;
  return out;
}

/** `KEY=value` strings -> record, split on the first `=`. */
export function envRecord(env: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of env) {
    const at = entry.indexOf('=');
    if (at < 0) out[entry] = '';
    else out[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return out;
}

async function observeVolumes(docker: Dockerode, fail: FailFn, instance: string): Promise<ObservedVolume[]> {
  try {
    const answer = await docker.listVolumes({ filters: instanceFilters(instance) });
    return (answer.Volumes ?? []).map((v) => ({ name: v.Name, labels: { ...(v.Labels ?? {}) } }));
  } catch (err) {
    throw fail(err, `list volumes of instance ${instance}`);
  }
}

async function observeNetworks(docker: Dockerode, fail: FailFn, instance: string): Promise<ObservedNetwork[]> {
  try {
    const answer = await docker.listNetworks({ filters: instanceFilters(instance) });
    return answer.map((n) => ({ name: n.Name, id: n.Id, labels: { ...(n.Labels ?? {}) } })).sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  } catch (err) {
    throw fail(err, `list networks of instance ${instance}`);
  }
}

/** Image IDs of `refs` present, and which of them carry no registry digest (built or loaded on this engine). */
async function observeImages(docker: Dockerode, fail: FailFn, refs: string[]): Promise<{ images: Record<string, string>; localImages: string[] }> {
  const unique = [...new Set(refs)];
  const found = await mapLimit(unique, INSPECT_CONCURRENCY, (ref) => inspectImage(docker, fail, ref));
  const images: Record<string, string> = {};
  const localImages: string[] = [];
  unique.forEach((ref, i) => {
    const info = found[i];
    if (!info) return;
    images[ref] = info.Id;
    if (!info.RepoDigests?.some(isRegistryDigest)) localImages.push(ref);
  });
  return { images, localImages };
}

/**
 * A RepoDigest from a registry. Podman gives loaded and built images one too, under its pseudo-registry `localhost/`
 * (no port: a registry on localhost has one, `localhost:5000/...`).
 */
export function isRegistryDigest(repoDigest: string): boolean {
  return !repoDigest.startsWith('localhost/');
}

async function inspectImage(docker: Dockerode, fail: FailFn, ref: string): Promise<{ Id: string; RepoDigests?: string[] } | undefined> {
  try {
    return await docker.getImage(ref).inspect();
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw fail(err, `inspect image ${ref}`);
  }
}

/** The image ID of `ref` on the engine, or undefined when it is absent. */
export async function imageId(docker: Dockerode, fail: FailFn, ref: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(ref).inspect()).Id;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw fail(err, `inspect image ${ref}`);
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the order of `items`. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
