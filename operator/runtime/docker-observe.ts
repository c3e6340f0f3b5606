/** observe(): one list call, container inspects (cached while events flow), volumes and image IDs. */
import type Dockerode from 'dockerode';
import type { ContainerStatus, ObservedContainer, ObservedState, ObservedVolume } from '../model/state.ts';
import { LABELS } from '../model/keys.ts';
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
    const [found, volumes, images] = await Promise.all([
      mapLimit([...listed], INSPECT_CONCURRENCY, (id) => observeContainer(docker, cache, fail, instance, id, live)),
      observeVolumes(docker, fail, instance),
      observeImages(docker, fail, imageRefs),
    ]);
    const containers = found.filter((c): c is ObservedContainer => c !== undefined);
    return { containers, volumes, images };
  } finally {
    cache.end(instance, listed);
  }
}

async function observeContainer(
  docker: Dockerode, cache: InspectCache, fail: FailFn, instance: string, id: string, live: boolean,
): Promise<ObservedContainer | undefined> {
  const cached = live ? cache.get(instance, id) : undefined;
  if (cached) return structuredClone(cached);
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
  const address = containerAddress(info);
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
    ...(typeof info.RestartCount === 'number' ? { restartCount: info.RestartCount } : {}),
    createdAt: info.Created,
  };
}

/**
 * Where the operator (on the same host) reaches the container's ports: its IP on its first network that gave it one
 * (Docker lists networks by name), 127.0.0.1 for host networking, undefined when it has none (e.g. not running).
 */
export function containerAddress(info: Pick<Dockerode.ContainerInspectInfo, 'NetworkSettings' | 'HostConfig'>): string | undefined {
  const settings = info.NetworkSettings as (Dockerode.ContainerInspectInfo['NetworkSettings'] & { IPAddress?: string }) | undefined;
  const networks = Object.values(settings?.Networks ?? {});
  const ip = networks.map((n) => n.IPAddress).find((a) => typeof a === 'string' && a !== '') ?? settings?.IPAddress;
  if (ip) return ip;
  return info.HostConfig?.NetworkMode === 'host' ? '127.0.0.1' : undefined;
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

async function observeImages(docker: Dockerode, fail: FailFn, refs: string[]): Promise<Record<string, string>> {
  const unique = [...new Set(refs)];
  const ids = await mapLimit(unique, INSPECT_CONCURRENCY, (ref) => imageId(docker, fail, ref));
  const images: Record<string, string> = {};
  unique.forEach((ref, i) => {
    const id = ids[i];
    if (id) images[ref] = id;
  });
  return images;
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
