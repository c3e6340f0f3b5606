/** The dockerode adapter of ContainerRuntime. It receives its Dockerode instance (constructed in main.ts only). */
import type Dockerode from 'dockerode';
import { BerthError } from '../model/errors.ts';
import { LABELS } from '../model/keys.ts';
import type { ContainerRuntime, ContainerSecurity, ContainerStats, CreateContainerSpec, ExecResult } from './runtime.ts';
import type { ContainerSettings } from '../model/manifest.ts';
import { buildImage } from './docker-build.ts';
import { pullImage } from './docker-pull.ts';
import { InspectCache } from './docker-cache.ts';
import { dockerError, engineMessage, liftedLimitError, statusOf } from './docker-errors.ts';
import { followEvents } from './docker-events.ts';
import { containerLogs, followLogs } from './docker-logs.ts';
import { imageId, observeState, type FailFn } from './docker-observe.ts';
import { describeEndpoint } from './docker-options.ts';
import { isPodman } from './engine-check.ts';
import { withDeadline } from '../util/deadline.ts';
import { connectNetworks, networkCreator, removeNetwork } from './docker-network.ts';
import { removeSecretDirs, secretBinds, secretDirsOf, writeContainerFiles } from './docker-secrets.ts';

export { dockerOptionsFromEndpoint, describeEndpoint } from './docker-options.ts';

/** A ContainerRuntime on a Docker engine. Every engine or connection failure is a BerthError (E_DOCKER unless stated). */
export function createDockerRuntime(docker: Dockerode): ContainerRuntime {
  const endpoint = describeEndpoint(docker);
  const fail: FailFn = (err, what) => dockerError(err, what, endpoint);
  const cache = new InspectCache();
  const createNetwork = networkCreator(docker, fail);
  const engine = engineKind(docker);
  const gateways = new GatewayCache(docker);
  let subscriptions = 0;
  return {
    ping: () => docker.ping().then(() => undefined, (err: unknown) => { throw fail(err, 'ping'); }),
    observe: (instance, imageRefs) => observeState(docker, cache, fail, instance, imageRefs),
    createContainer: async (spec) => createContainer(docker, fail, await withHostGateway(engine, gateways, spec)),
    startContainer: (id) => tolerate(docker.getContainer(id).start(), [304], fail, `start container ${id}`),
    stopContainer: (id, grace) => tolerate(docker.getContainer(id).stop(grace === undefined ? {} : { t: grace }), [304, 404], fail, `stop container ${id}`),
    // 409: a removal of this container is already in progress.
    removeContainer: async (id) => {
      const dirs = await secretDirsOf(docker, id);
      // v: the container's anonymous volumes (spec.anonymousVolumes) go with it; the engine never removes a named one this way
      await tolerate(docker.getContainer(id).remove({ force: true, v: true }), [404, 409], fail, `remove container ${id}`);
      await removeSecretDirs(endpoint, dirs).catch(() => undefined); // best effort: tmpfs, gone at the node's reboot anyway
    },
    unpauseContainer: (id) => unpauseContainer(docker, fail, id),
    renameContainer: (id, name) => docker.getContainer(id).rename({ name }).then(() => undefined, (err: unknown) => { throw fail(err, `rename container ${id} to ${name}`); }),
    updateContainer: (id, update) => updateContainer(docker, fail, id, update),
    createVolume: (name, labels, driver, driverOpts) => tolerate(
      docker.createVolume({ Name: name, Labels: labels, Driver: driver || 'local', DriverOpts: driverOpts }), [409], fail, `create volume ${name}`,
    ),
    removeVolume: (name) => removeVolume(docker, fail, name),
    createNetwork,
    removeNetwork: (name) => { gateways.forget(name); return removeNetwork(docker, fail, name); },
    buildImage: (ref, files, dockerfile, labels, opts) => buildImage(docker, fail, ref, files, dockerfile, labels, opts),
    pullImage: (ref, opts) => pullImage(docker, fail, ref, opts),
    exportImage: (ref) => exportImage(docker, fail, ref),
    memoryUsage: async (ids) => Object.fromEntries(Object.entries(await containerStats(docker, ids)).map(([id, st]) => [id, st.memoryBytes])),
    containerStats: (ids) => containerStats(docker, ids),
    importImage: (tar, ref) => importImage(docker, fail, tar, ref),
    exec: (id, command, timeoutMs) => execInContainer(docker, fail, id, command, timeoutMs),
    containerLogs: (id, opts) => containerLogs(docker, fail, id, opts),
    followLogs: (id, since, signal) => followLogs(docker, fail, id, since, signal),
    subscribe: (instance, onEvent, onReconnect, opts) => {
      const sub = ++subscriptions;
      return followEvents(docker, instance, {
        onEvent,
        ...(onReconnect ? { onReconnect } : {}),
        onConnected: () => cache.connect(instance, sub),
        onDisconnected: () => cache.disconnect(instance, sub),
        // exec_* events (every healthcheck) change nothing observe() reports.
        onRawEvent: (id, action) => { if (!action.startsWith('exec_')) cache.invalidate(instance, id); },
      }, opts?.catchUp === true);
    },
  };
}

/** The bound of one stats read: a container that does not answer in time is left out of this round. */
const STATS_TIMEOUT_MS = 5_000;

interface EngineStats {
  read?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
  memory_stats?: { usage?: number; stats?: Record<string, number> };
}

/**
 * One-shot stats of each container (no 1 s sampling wait, API 1.41): CPU total and memory minus inactive page cache,
 * as `docker stats` shows. Stopped, gone or silent containers are skipped.
 */
async function containerStats(docker: Dockerode, ids: string[]): Promise<Record<string, ContainerStats>> {
  const out: Record<string, ContainerStats> = {};
  await Promise.all(ids.map(async (id) => {
    try {
      const s = (await withDeadline(docker.getContainer(id).stats({ stream: false, 'one-shot': true } as { stream: false }), STATS_TIMEOUT_MS, `no answer in ${STATS_TIMEOUT_MS} ms`)) as EngineStats;
      const m = s.memory_stats;
      const cpu = s.cpu_stats?.cpu_usage?.total_usage;
      if (m?.usage === undefined || cpu === undefined) return;
      const cache = m.stats?.total_inactive_file ?? m.stats?.inactive_file ?? 0;
      const readAt = s.read ? Date.parse(s.read) : NaN;
      out[id] = { cpuNs: cpu, memoryBytes: Math.max(0, m.usage - cache), readAt: Number.isFinite(readAt) && readAt > 0 ? readAt : Date.now() };
    } catch {
      // gone, not running or not answering: no stats this round
    }
  }));
  return out;
}

/** `docker save <ref>` as a stream; a missing image is E_IMAGE_MISSING. */
async function exportImage(docker: Dockerode, fail: FailFn, ref: string): Promise<NodeJS.ReadableStream> {
  if ((await imageId(docker, fail, ref)) === undefined) throw new BerthError('E_IMAGE_MISSING', `image ${ref} is not on ${describeEndpoint(docker)}`, { terminal: true });
  return docker.getImage(ref).get().catch((err: unknown) => { throw fail(err, `save image ${ref}`); });
}

/** Bytes of a load's progress answer kept (the engine sends a line per layer; an error line is short). */
const LOAD_PROGRESS_LIMIT = 64 * 1024;

/**
 * `docker load` of a save stream: waits for the engine's progress stream to end and surfaces an error it reports.
 * With `ref`: the image is tagged `ref` afterwards when the engine loaded it as `localhost/<ref>` only (a save from
 * Podman names its images so), so that a create of `ref` finds it.
 */
async function importImage(docker: Dockerode, fail: FailFn, tar: NodeJS.ReadableStream, ref?: string): Promise<void> {
  const progress = await docker.loadImage(tar, { quiet: true }).catch((err: unknown) => { throw fail(err, 'load image'); });
  let text = '';
  for await (const chunk of progress as AsyncIterable<Buffer>) if (text.length < LOAD_PROGRESS_LIMIT) text += chunk.toString('utf8');
  const error = text.split('\n').filter(Boolean).map((l) => { try { return (JSON.parse(l) as { error?: string }).error; } catch { return undefined; } }).find(Boolean);
  if (error) throw new BerthError('E_DOCKER', `load image on ${describeEndpoint(docker)}: ${error}`);
  if (!ref || ref.includes('@') || ref.startsWith('localhost/') || (await imageId(docker, fail, ref)) !== undefined) return;
  const prefixed = `localhost/${ref}`;
  if ((await imageId(docker, fail, prefixed)) === undefined) return;
  const colon = ref.lastIndexOf(':');
  const [repo, tag] = colon > ref.lastIndexOf('/') ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, 'latest'];
  await docker.getImage(prefixed).tag({ repo, tag }).catch((err: unknown) => { throw fail(err, `tag image ${prefixed} as ${ref}`); });
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
    Env: Object.entries({ ...spec.env, ...spec.secrets?.env }).map(([k, v]) => `${k}=${v}`),
    ...(spec.command ? { Cmd: [...spec.command] } : {}),
    ...settingsOptions(spec.settings),
    ...(spec.stopTimeoutSeconds !== undefined ? { StopTimeout: spec.stopTimeoutSeconds } : {}),
    ExposedPorts: Object.fromEntries(spec.exposedPorts.map((p) => [p.includes('/') ? p : `${p}/tcp`, {}])),
    HostConfig: {
      ...memory,
      ...(spec.nanoCpus ? { NanoCpus: spec.nanoCpus } : {}),
      RestartPolicy: { Name: spec.restartPolicy, MaximumRetryCount: 0 },
      ...(spec.init ? { Init: true } : {}),
      Mounts: [
        ...spec.mounts.map((m) => ({ Type: 'volume' as const, Source: m.volume, Target: m.target, ReadOnly: m.readOnly })),
        // no Source: an anonymous volume of this container, which the engine removes with it (remove with v)
        ...(spec.anonymousVolumes ?? []).map((target) => ({ Type: 'volume' as const, Source: '', Target: target })),
      ],
      ...(spec.secrets?.binds.length ? { Binds: secretBinds(spec.secrets) } : {}),
      ...(spec.network ? { NetworkMode: spec.network.name } : {}),
      ...(spec.portBindings?.length ? { PortBindings: dockerPortBindings(spec.portBindings) } : {}),
      ...hostSettings(spec),
    },
    ...(spec.network ? { NetworkingConfig: { EndpointsConfig: { [spec.network.name]: { Aliases: [...spec.network.aliases] } } } } : {}),
  };
}

/** HostConfig.PortBindings: per container port, its host bindings (HostIp '' = every address). */
function dockerPortBindings(bindings: NonNullable<CreateContainerSpec['portBindings']>): Record<string, { HostIp: string; HostPort: string }[]> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const b of bindings) (out[b.containerPort] ??= []).push({ HostIp: b.hostIp ?? '', HostPort: String(b.hostPort) });
  return out;
}

/** Config fields of the container settings (entrypoint, user, working dir, stop signal). */
function settingsOptions(s: ContainerSettings | undefined): Partial<Dockerode.ContainerCreateOptions> {
  if (!s) return {};
  return {
    ...(s.entrypoint ? { Entrypoint: [...s.entrypoint] } : {}),
    ...(s.user !== undefined ? { User: s.user } : {}),
    ...(s.workingDir !== undefined ? { WorkingDir: s.workingDir } : {}),
    ...(s.stopSignal !== undefined ? { StopSignal: s.stopSignal } : {}),
    ...(s.hostname !== undefined ? { Hostname: s.hostname } : {}),
    ...(s.stdinOpen ? { OpenStdin: true } : {}),
    ...(s.tty ? { Tty: true } : {}),
  };
}

/** HostConfig of the extra hosts, the privileges and the container settings (security options add to no-new-privileges). */
function hostSettings(spec: CreateContainerSpec): Partial<Dockerode.HostConfig> {
  const s = spec.settings;
  const security = spec.security ? securityOptions(spec.security) : {};
  const extraHosts = [...(spec.extraHosts ?? []), ...(s?.extraHosts ?? [])];
  const securityOpt = [...(security.SecurityOpt ?? []), ...(s?.securityOpt ?? [])];
  return {
    ...security,
    ...(securityOpt.length ? { SecurityOpt: securityOpt } : {}),
    ...(extraHosts.length ? { ExtraHosts: extraHosts } : {}),
    ...(s?.readOnly ? { ReadonlyRootfs: true } : {}),
    ...(s?.tmpfs?.length ? { Tmpfs: Object.fromEntries(s.tmpfs.map((t) => [t.path, [t.sizeBytes !== undefined ? `size=${t.sizeBytes}` : '', t.mode ? `mode=${t.mode}` : ''].filter(Boolean).join(',')])) } : {}),
    ...(s?.ulimits ? { Ulimits: Object.entries(s.ulimits).map(([Name, l]) => ({ Name, Soft: l.soft, Hard: l.hard })) } : {}),
    ...(s?.sysctls ? { Sysctls: { ...s.sysctls } } : {}),
  };
}

/** HostConfig fields of `security`; an empty list is left out (no change to the engine's default set). */
export function securityOptions(security: ContainerSecurity): Pick<Dockerode.HostConfig, 'Privileged' | 'SecurityOpt' | 'CapAdd' | 'CapDrop'> {
  const caps = !security.privileged; // the engine ignores the lists of a privileged container: do not pretend otherwise
  return {
    ...(security.privileged ? { Privileged: true } : {}),
    ...(security.noNewPrivileges ? { SecurityOpt: ['no-new-privileges:true'] } : {}),
    ...(caps && security.capAdd.length ? { CapAdd: [...security.capAdd] } : {}),
    ...(caps && security.capDrop.length ? { CapDrop: [...security.capDrop] } : {}),
  };
}

/** Whether the engine is Podman, asked once (at the first create that needs to know). */
function engineKind(docker: Dockerode): () => Promise<'docker' | 'podman'> {
  let kind: Promise<'docker' | 'podman'> | undefined;
  return () => {
    if (!kind) {
      kind = docker.version().then((v) => (isPodman(v) ? 'podman' : 'docker'));
      kind.catch(() => { kind = undefined; }); // asked again after a failure
    }
    return kind;
  };
}

/**
 * Docker's `host-gateway` in an extra host is the host's address; Podman 4.3 writes the word itself into /etc/hosts.
 * On Podman it becomes the gateway of the container's network (the host's side of the bridge, as Podman's own
 * host.containers.internal).
 */
async function withHostGateway(engine: () => Promise<'docker' | 'podman'>, gateways: GatewayCache, spec: CreateContainerSpec): Promise<CreateContainerSpec> {
  const uses = (hosts: readonly string[] | undefined) => hosts?.some((h) => h.endsWith(':host-gateway')) ?? false;
  if (!uses(spec.extraHosts) && !uses(spec.settings?.extraHosts)) return spec;
  if ((await engine().catch(() => 'docker' as const)) !== 'podman') return spec;
  const gateway = await gateways.of(spec.network?.name ?? 'podman');
  if (!gateway) return spec;
  const swap = (hosts: readonly string[]) => hosts.map((h) => (h.endsWith(':host-gateway') ? `${h.slice(0, -'host-gateway'.length)}${gateway}` : h));
  return {
    ...spec,
    ...(spec.extraHosts ? { extraHosts: swap(spec.extraHosts) } : {}),
    ...(spec.settings?.extraHosts ? { settings: { ...spec.settings, extraHosts: swap(spec.settings.extraHosts) } } : {}),
  };
}

/** Gateways of networks by name, read once per GATEWAY_TTL_MS (every replica's create needs its network's). */
class GatewayCache {
  private readonly known = new Map<string, { gateway: Promise<string | undefined>; at: number }>();
  constructor(private readonly docker: Dockerode) {}

  of(network: string): Promise<string | undefined> {
    const hit = this.known.get(network);
    if (hit && Date.now() - hit.at < GATEWAY_TTL_MS) return hit.gateway;
    const gateway = this.docker.getNetwork(network).inspect().then(
      (info: { IPAM?: { Config?: { Gateway?: string }[] } }) => info.IPAM?.Config?.find((c) => c.Gateway)?.Gateway,
      () => undefined,
    );
    this.known.set(network, { gateway, at: Date.now() });
    void gateway.then((g) => { if (!g) this.known.delete(network); });
    return gateway;
  }

  forget(network: string): void {
    this.known.delete(network);
  }
}

/** A network recreated by someone else with another subnet is seen within this long. */
const GATEWAY_TTL_MS = 30_000;

/** Creates the container, then joins its further networks and writes its secret and repository files (before anyone starts it); a failure there removes the container. */
async function createContainer(docker: Dockerode, fail: FailFn, spec: CreateContainerSpec): Promise<string> {
  const id = await createOnly(docker, fail, spec);
  if (!spec.secrets?.files.length && !spec.files?.length && !spec.moreNetworks?.length) return id;
  try {
    await connectNetworks(docker, fail, id, spec.moreNetworks ?? []);
    await writeContainerFiles(docker, fail, id, spec.secrets, spec.files);
  } catch (err) {
    await docker.getContainer(id).remove({ force: true, v: true }).catch(() => undefined); // v: its anonymous volumes only, never a named one
    throw err;
  }
  return id;
}

async function createOnly(docker: Dockerode, fail: FailFn, spec: CreateContainerSpec): Promise<string> {
  try {
    return (await docker.createContainer(createOptions(spec))).id;
  } catch (err) {
    const status = statusOf(err);
    if (status === 404) throw await missingOnCreate(docker, fail, spec, err);
    if (status !== 409) throw fail(err, `create container ${spec.name}`);
  }
  let found: Dockerode.ContainerInspectInfo;
  try {
    found = await docker.getContainer(spec.name).inspect(); // a retried create: the name is taken by our own container
  } catch (err) {
    throw fail(err, `find existing container ${spec.name}`);
  }
  // ...unless it is someone else's (a containerName another container already has): never adopt it.
  const mine = [LABELS.instance, LABELS.namespace, LABELS.service, LABELS.replica, LABELS.specHash].every((k) => found.Config.Labels?.[k] === spec.labels[k]);
  if (!mine) throw new BerthError('E_DOCKER', `create container ${spec.name}: the name is taken by container ${found.Id.slice(0, 12)}, which is not this replica; rename or remove it, or change spec.containerName`);
  return found.Id;
}

/** A create answered 404: the image is missing (terminal) or, when the image is there, the network (transient: created by the next pass). */
async function missingOnCreate(docker: Dockerode, fail: FailFn, spec: CreateContainerSpec, err: unknown): Promise<BerthError> {
  const present = spec.network ? await imageId(docker, fail, spec.image) : undefined;
  if (present === undefined) {
    return new BerthError('E_IMAGE_MISSING', `image ${spec.image} is not on the engine (pull it, or build or load it first)`, { terminal: true, cause: err });
  }
  return new BerthError('E_DOCKER', `create container ${spec.name}: network ${spec.network?.name} does not exist (yet): ${engineMessage(err)}`, { cause: err });
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
  try {
    await container.update(body);
  } catch (err) {
    // Podman 4.3 serves no update route on its Docker API: 404 for a container that is there.
    if (statusOf(err) === 404 && await container.inspect().then(() => true, () => false)) {
      throw new BerthError('E_DOCKER', `container ${id}: the engine at ${describeEndpoint(docker)} cannot change limits or the restart policy in place (no update API); replace the container instead`, { terminal: true, cause: err });
    }
    throw fail(err, `update container ${id}`);
  }
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

/** Bytes of exec output kept; the rest is read and discarded. */
export const EXEC_OUTPUT_LIMIT = 4096;

/** Runs `command` in container `id` (see ContainerRuntime.exec): create, start (hijacked stream), demultiplex, inspect. */
async function execInContainer(docker: Dockerode, fail: FailFn, id: string, command: string[], timeoutMs: number): Promise<ExecResult> {
  const timedOut: ExecResult = { exitCode: -1, output: `timeout after ${timeoutMs} ms` };
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const signal = controller.signal;
  try {
    const exec = await docker.getContainer(id).exec({ Cmd: command, AttachStdout: true, AttachStderr: true, abortSignal: signal });
    const stream = await exec.start({ hijack: true, stdin: false, abortSignal: signal });
    const output = await collectExecOutput(stream, signal);
    if (output === undefined) return timedOut;
    const exitCode = await execExitCode(exec, signal);
    return exitCode === undefined ? timedOut : { exitCode, output };
  } catch (err) {
    if (signal.aborted) return timedOut;
    const status = statusOf(err);
    // 409: not running / paused / restarting; 404: gone. Both are answers about the container, not engine failures.
    if (status === 409 || status === 404) return { exitCode: -1, output: engineMessage(err) || `container ${id} is not running` };
    throw fail(err, `exec in container ${id}`);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads a hijacked exec stream to its end; resolves undefined (and closes the stream) when `signal` aborts first. */
function collectExecOutput(stream: NodeJS.ReadWriteStream & { destroy(): void }, signal: AbortSignal): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const demux = new ExecOutput(EXEC_OUTPUT_LIMIT);
    const finish = (result: string | undefined, err?: unknown): void => {
      signal.removeEventListener('abort', onAbort);
      stream.removeAllListeners('data');
      stream.destroy();
      if (err) reject(err);
      else resolve(result);
    };
    const onAbort = (): void => finish(undefined);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    stream.on('data', (chunk: Buffer) => demux.push(chunk));
    stream.once('end', () => finish(demux.text()));
    stream.once('close', () => finish(demux.text()));
    stream.once('error', (err: unknown) => finish(undefined, err));
  });
}

/** The exit code of a finished exec; polls briefly while the engine still reports it running. Undefined on abort. */
async function execExitCode(exec: Dockerode.Exec, signal: AbortSignal): Promise<number | undefined> {
  for (;;) {
    const info = await exec.inspect({ abortSignal: signal });
    if (!info.Running && info.ExitCode !== null) return info.ExitCode;
    if (signal.aborted) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Incremental demultiplexer of Docker's non-TTY stream (frames of an 8-byte header: stream, 0, 0, 0, size BE32, then
 * the payload), keeping stdout and stderr interleaved up to `limit` bytes. Frames may straddle chunks.
 */
export class ExecOutput {
  private header = Buffer.alloc(0);
  private remaining = 0;
  private readonly kept: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit: number) {}

  /** Feeds the next chunk of the stream. */
  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining === 0) {
        const take = Math.min(8 - this.header.length, chunk.length - at);
        this.header = Buffer.concat([this.header, chunk.subarray(at, at + take)]);
        at += take;
        if (this.header.length < 8) return;
        this.remaining = this.header.readUInt32BE(4);
        this.header = Buffer.alloc(0);
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - at);
      this.keep(chunk.subarray(at, at + take));
      at += take;
      this.remaining -= take;
    }
  }

  /** The output kept so far, as UTF-8. */
  text(): string {
    return Buffer.concat(this.kept).toString('utf8');
  }

  private keep(part: Buffer): void {
    const room = this.limit - this.size;
    if (room <= 0) return;
    const slice = part.subarray(0, room);
    this.kept.push(Buffer.from(slice));
    this.size += slice.length;
  }
}
