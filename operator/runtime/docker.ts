/** The dockerode adapter of ContainerRuntime. It receives its Dockerode instance (constructed in main.ts only). */
import type Dockerode from 'dockerode';
import { BerthError } from '../model/errors.ts';
import type { ContainerRuntime, CreateContainerSpec } from './runtime.ts';
import { buildImage } from './docker-build.ts';
import { InspectCache } from './docker-cache.ts';
import { dockerError, liftedLimitError, statusOf } from './docker-errors.ts';
import { followEvents } from './docker-events.ts';
import { observeState, type FailFn } from './docker-observe.ts';
import { describeEndpoint } from './docker-options.ts';

export { dockerOptionsFromEndpoint, describeEndpoint } from './docker-options.ts';

/** A ContainerRuntime on a Docker engine. Every engine or connection failure is a BerthError (E_DOCKER unless stated). */
export function createDockerRuntime(docker: Dockerode): ContainerRuntime {
  const endpoint = describeEndpoint(docker);
  const fail: FailFn = (err, what) => dockerError(err, what, endpoint);
  const cache = new InspectCache();
  let subscriptions = 0;
  return {
    ping: () => docker.ping().then(() => undefined, (err: unknown) => { throw fail(err, 'ping'); }),
    observe: (instance, imageRefs) => observeState(docker, cache, fail, instance, imageRefs),
    createContainer: (spec) => createContainer(docker, fail, spec),
    startContainer: (id) => tolerate(docker.getContainer(id).start(), [304], fail, `start container ${id}`),
    stopContainer: (id, grace) => tolerate(docker.getContainer(id).stop({ t: grace }), [304, 404], fail, `stop container ${id}`),
    // 409: a removal of this container is already in progress.
    removeContainer: (id) => tolerate(docker.getContainer(id).remove({ force: true, v: false }), [404, 409], fail, `remove container ${id}`),
    unpauseContainer: (id) => unpauseContainer(docker, fail, id),
    updateContainer: (id, update) => updateContainer(docker, fail, id, update),
    createVolume: (name, labels, driver, driverOpts) => tolerate(
      docker.createVolume({ Name: name, Labels: labels, Driver: driver || 'local', DriverOpts: driverOpts }), [409], fail, `create volume ${name}`,
    ),
    removeVolume: (name) => removeVolume(docker, fail, name),
    buildImage: (ref, files, dockerfile, labels) => buildImage(docker, fail, ref, files, dockerfile, labels),
    subscribe: (instance, onEvent, onReconnect) => {
      const sub = ++subscriptions;
      return followEvents(docker, instance, {
        onEvent,
        ...(onReconnect ? { onReconnect } : {}),
        onConnected: () => cache.connect(instance, sub),
        onDisconnected: () => cache.disconnect(instance, sub),
        // exec_* events (every healthcheck) change nothing observe() reports.
        onRawEvent: (id, action) => { if (!action.startsWith('exec_')) cache.invalidate(instance, id); },
      });
    },
  };
}

/** Awaits `call`; an engine answer with one of `okStatuses` counts as success. */
async function tolerate(call: Promise<unknown>, okStatuses: number[], fail: FailFn, what: string): Promise<void> {
  try {
    await call;
  } catch (err) {
    const status = statusOf(err);
    if (status !== undefined && okStatuses.includes(status)) return;
    throw fail(err, what);
  }
}

/** The create body of a spec (see CreateContainerSpec). */
export function createOptions(spec: CreateContainerSpec): Dockerode.ContainerCreateOptions {
  // MemorySwap is left to Docker's default (2 x Memory); updateContainer keeps that ratio.
  const memory = spec.memory ? { Memory: spec.memory } : {};
  return {
    name: spec.name,
    Image: spec.image,
    Labels: { ...spec.labels },
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    ...(spec.command ? { Cmd: [...spec.command] } : {}),
    ExposedPorts: Object.fromEntries(spec.exposedPorts.map((p) => [p.includes('/') ? p : `${p}/tcp`, {}])),
    HostConfig: {
      ...memory,
      ...(spec.nanoCpus ? { NanoCpus: spec.nanoCpus } : {}),
      RestartPolicy: { Name: spec.restartPolicy, MaximumRetryCount: 0 },
      ...(spec.init ? { Init: true } : {}),
      Mounts: spec.mounts.map((m) => ({ Type: 'volume' as const, Source: m.volume, Target: m.target, ReadOnly: m.readOnly })),
    },
  };
}

async function createContainer(docker: Dockerode, fail: FailFn, spec: CreateContainerSpec): Promise<string> {
  try {
    return (await docker.createContainer(createOptions(spec))).id;
  } catch (err) {
    const status = statusOf(err);
    if (status === 404) {
      throw new BerthError('E_IMAGE_MISSING', `image ${spec.image} is not on the engine (berth never pulls; build or load it first)`, { terminal: true, cause: err });
    }
    if (status !== 409) throw fail(err, `create container ${spec.name}`);
  }
  try {
    return (await docker.getContainer(spec.name).inspect()).Id; // a retried create: the name is taken by our own container
  } catch (err) {
    throw fail(err, `find existing container ${spec.name}`);
  }
}

async function updateContainer(
  docker: Dockerode, fail: FailFn, id: string, requested: { memory?: number; nanoCpus?: number; restartPolicy: string },
): Promise<void> {
  const container = docker.getContainer(id);
  const update = normalizeLimits(requested);
  if (update.memory === undefined || update.nanoCpus === undefined) {
    const info = await container.inspect().catch((err: unknown) => { throw fail(err, `inspect container ${id}`); });
    const lifted = liftedLimitError(id, { memory: info.HostConfig.Memory ?? 0, nanoCpus: info.HostConfig.NanoCpus ?? 0 }, update);
    if (lifted) throw lifted;
  }
  const body = {
    // Docker refuses a Memory above the current MemorySwap unless both change: keep create's default ratio (2 x).
    ...(update.memory !== undefined ? { Memory: update.memory, MemorySwap: 2 * update.memory } : {}),
    ...(update.nanoCpus !== undefined ? { NanoCpus: update.nanoCpus } : {}),
    RestartPolicy: { Name: update.restartPolicy, MaximumRetryCount: 0 },
  };
  await tolerate(container.update(body), [], fail, `update container ${id}`);
}

/** Unpauses `id`; a container that is not paused (Docker 20.10 answers 500 then) is left as it is. */
async function unpauseContainer(docker: Dockerode, fail: FailFn, id: string): Promise<void> {
  const container = docker.getContainer(id);
  try {
    await container.unpause();
  } catch (err) {
    const status = statusOf(err);
    if (status === undefined) throw fail(err, `unpause container ${id}`);
    const paused = await container.inspect().then((info) => info.State.Paused, () => true);
    if (paused) throw fail(err, `unpause container ${id}`);
  }
}

/** 0 and undefined both mean "unlimited". */
function normalizeLimits(u: { memory?: number; nanoCpus?: number; restartPolicy: string }): { memory?: number; nanoCpus?: number; restartPolicy: string } {
  return { restartPolicy: u.restartPolicy, ...(u.memory ? { memory: u.memory } : {}), ...(u.nanoCpus ? { nanoCpus: u.nanoCpus } : {}) };
}

async function removeVolume(docker: Dockerode, fail: FailFn, name: string): Promise<void> {
  try {
    await docker.getVolume(name).remove();
  } catch (err) {
    const status = statusOf(err);
    if (status === 404) return;
    if (status === 409) throw new BerthError('E_DOCKER', `volume ${name} is in use by a container; remove the container first`, { cause: err });
    throw fail(err, `remove volume ${name}`);
  }
}
