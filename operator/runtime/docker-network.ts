/**
 * Networks on a Docker engine: idempotent creation (even under concurrent creates, which the engine's own duplicate
 * check lets through) and removal that reports a network still in use as a transient error.
 */
import type Dockerode from 'dockerode';
import { BerthError } from '../model/errors.ts';
import { LABELS } from '../model/keys.ts';
import { engineMessage, statusOf } from './docker-errors.ts';
import type { FailFn } from './docker-observe.ts';
import type { NetworkOptions } from './runtime.ts';

/**
 * The create body of a berth network: a local bridge labelled berth.managed=true plus `labels`. CheckDuplicate makes
 * the engine refuse (409) a network whose name exists, which Docker would otherwise create beside the first.
 */
export function networkOptions(name: string, labels: Record<string, string>, options: NetworkOptions = {}): Dockerode.NetworkCreateOptions {
  return { Name: name, Driver: 'bridge', CheckDuplicate: true, ...(options.internal ? { Internal: true } : {}), Labels: { ...labels, [LABELS.managed]: 'true' } };
}

/** ContainerRuntime.createNetwork: concurrent calls for one name share a single engine request. */
export function networkCreator(docker: Dockerode, fail: FailFn): (name: string, labels: Record<string, string>, options?: NetworkOptions) => Promise<void> {
  const inFlight = new Map<string, Promise<void>>();
  return (name, labels, options) => {
    const running = inFlight.get(name);
    if (running) return running;
    const created = createNetwork(docker, fail, name, labels, options).finally(() => inFlight.delete(name));
    inFlight.set(name, created);
    return created;
  };
}

async function createNetwork(docker: Dockerode, fail: FailFn, name: string, labels: Record<string, string>, options?: NetworkOptions): Promise<void> {
  try {
    await docker.createNetwork(networkOptions(name, labels, options));
  } catch (err) {
    if (statusOf(err) === 409) return; // there already
    throw fail(err, `create network ${name}`);
  }
  await removeDuplicates(docker, fail, name);
}

/**
 * The engine's duplicate check is not atomic: another process creating the same name at the same moment gets a second
 * network. Every creator looks after its create and removes all but the oldest (ties by id), so exactly one survives.
 */
async function removeDuplicates(docker: Dockerode, fail: FailFn, name: string): Promise<void> {
  const listed = await docker.listNetworks({ filters: { name: [name] } }).catch((err: unknown) => { throw fail(err, `list networks named ${name}`); });
  const time = (n: Dockerode.NetworkInspectInfo): number => Date.parse(n.Created) || 0;
  const same = listed.filter((n) => n.Name === name).sort((a, b) => time(a) - time(b) || a.Id.localeCompare(b.Id));
  await Promise.all(same.slice(1).map(async (n) => {
    try {
      await docker.getNetwork(n.Id).remove();
    } catch (err) {
      if (statusOf(err) !== 404) throw fail(err, `remove duplicate network ${name} (${n.Id.slice(0, 12)})`);
    }
  }));
}

/** ContainerRuntime.removeNetwork: gone is fine; containers still attached (403, or 409 on some engines) is a transient E_DOCKER. */
export async function removeNetwork(docker: Dockerode, fail: FailFn, name: string): Promise<void> {
  try {
    await docker.getNetwork(name).remove();
  } catch (err) {
    const status = statusOf(err);
    if (status === 404) return;
    if (status === 403 || status === 409) {
      throw new BerthError('E_DOCKER', `network ${name} is in use by a container; it is removed once its containers are gone: ${engineMessage(err)}`, { cause: err });
    }
    throw fail(err, `remove network ${name}`);
  }
}

/**
 * Attaches container `id` (created, not started) to each of `networks` with its aliases: dockerd 20.10 takes a single
 * network at create. A retried create finds its container already attached to some: those are left as they are.
 */
export async function connectNetworks(docker: Dockerode, fail: FailFn, id: string, networks: readonly { name: string; aliases: string[] }[]): Promise<void> {
  if (networks.length === 0) return;
  const info = await docker.getContainer(id).inspect().catch((err: unknown) => { throw fail(err, `inspect container ${id}`); });
  const attached = new Set(Object.keys(info.NetworkSettings?.Networks ?? {}));
  for (const n of networks) {
    if (attached.has(n.name)) continue;
    try {
      await docker.getNetwork(n.name).connect({ Container: id, EndpointConfig: { Aliases: [...n.aliases] } });
    } catch (err) {
      if (statusOf(err) === 404) {
        throw new BerthError('E_DOCKER', `connect container ${id.slice(0, 12)} to network ${n.name}: the network or the container does not exist (yet): ${engineMessage(err)}`, { cause: err });
      }
      throw fail(err, `connect container ${id.slice(0, 12)} to network ${n.name}`);
    }
  }
}
