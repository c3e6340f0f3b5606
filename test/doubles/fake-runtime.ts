/**
 * An in-memory ContainerRuntime for fast unit tests of the planner and applier: deterministic ids (`fake-1`, ...),
 * Docker-like events delivered synchronously to subscribers, an image registry, networks (a container created on one
 * is attached to it; its aliases stay in its spec), failure injection and drift helpers.
 * It does not run Docker's restart policies: a killed container stays exited.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { BerthError } from '../../operator/model/errors.ts';
import { LABELS } from '../../operator/model/keys.ts';
import type { ObservedContainer, ObservedState } from '../../operator/model/state.ts';
import { liftedLimitError } from '../../operator/runtime/docker-errors.ts';
import type { BuildFile, ContainerRuntime, ContainerStats, CreateContainerSpec, ExecResult, PullResult, RuntimeEvent } from '../../operator/runtime/runtime.ts';

/** One recorded mutating call. */
export interface FakeCall {
  method: string;
  args: unknown[];
}

interface FakeContainer {
  observed: ObservedContainer;
  spec: CreateContainerSpec;
}

interface FakeVolume {
  name: string;
  labels: Record<string, string>;
  driver: string;
  driverOpts: Record<string, string>;
}

interface FakeNetwork {
  name: string;
  id: string;
  labels: Record<string, string>;
}

interface Subscriber {
  instance: string;
  onEvent: (e: RuntimeEvent) => void;
  onReconnect?: () => void;
}

/** A scripted exec: answers `command`; a promise that outlives the timeout resolves as Docker's adapter does (exitCode -1). */
export type FakeExecHandler = (command: string[], timeoutMs: number) => ExecResult | Promise<ExecResult>;

/** Options of a FakeRuntime. */
export interface FakeRuntimeOptions {
  /** Time of the first timestamp; each later one is one second further. Default 2024-01-01T00:00:00Z. */
  startTime?: Date;
  /** Container ids are `<idPrefix><n>` (default `fake-`): give each fake node its own so ids stay unique. */
  idPrefix?: string;
}

export class FakeRuntime implements ContainerRuntime {
  /** Every mutating call, in order, failed ones included (recorded before an injected failure is thrown). */
  readonly calls: FakeCall[] = [];
  private readonly containers = new Map<string, FakeContainer>();
  private readonly volumes = new Map<string, FakeVolume>();
  private readonly networks = new Map<string, FakeNetwork>();
  private readonly images = new Map<string, string>();
  private readonly registry = new Map<string, string>();
  private readonly failures = new Map<keyof ContainerRuntime, Error[]>();
  private readonly subscribers = new Set<Subscriber>();
  private readonly execs = new Map<string, FakeExecHandler>();
  private readonly usage = new Map<string, number>();
  private readonly cpu = new Map<string, number>();
  private nextId = 1;
  private nextNetworkId = 1;
  private clock: number;

  private readonly idPrefix: string;

  constructor(opts: FakeRuntimeOptions = {}) {
    this.clock = (opts.startTime ?? new Date('2024-01-01T00:00:00Z')).getTime();
    this.idPrefix = opts.idPrefix ?? 'fake-';
  }

  /** What exec in container `id` answers from now on: a fixed result or a handler (default: exit 0, no output). */
  setExecResult(id: string, result: ExecResult | FakeExecHandler): void {
    this.execs.set(id, typeof result === 'function' ? result : () => ({ ...result }));
  }

  /** Makes the next call of `method` fail with `err` (queued: several calls fail in order). */
  failNext(method: keyof ContainerRuntime, err: Error): void {
    const queue = this.failures.get(method) ?? [];
    queue.push(err);
    this.failures.set(method, queue);
  }

  /** Puts an image on the fake engine (or moves `ref` to `id`). */
  addImage(ref: string, id: string): void {
    this.images.set(ref, id);
  }

  /** Drift: `ref` now names another image, as after a `docker build -t ref` or a pull by hand. */
  retag(ref: string, newId: string): void {
    this.images.set(ref, newId);
  }

  /** Drift: the container exits with `exitCode` (a crash, or a kill by hand); emits `die`. */
  kill(id: string, exitCode: number): void {
    const c = this.must(id).observed;
    if (c.status !== 'running' && c.status !== 'paused') return;
    this.exited(c, exitCode);
    this.emit(c, 'die');
  }

  /** Drift: someone ran `docker rm -f` by hand; emits `kill`/`die` when it ran, then `destroy`. */
  removeByHand(id: string): void {
    this.destroy(this.must(id).observed);
  }

  /** Drift: someone ran `docker pause` by hand; emits `pause`. */
  pause(id: string): void {
    const c = this.must(id).observed;
    if (c.status !== 'running') throw new BerthError('E_DOCKER', `container ${id} is not running`);
    c.status = 'paused';
    this.emit(c, 'pause');
  }

  /** Drift: `docker update --restart name` by hand; emits `update`. */
  setRestartPolicy(id: string, name: string): void {
    const c = this.must(id).observed;
    c.restartPolicy = name;
    this.emit(c, 'update');
  }

  /** Drift: `docker update --memory bytes` by hand; emits `update`. */
  setMemory(id: string, bytes: number): void {
    const c = this.must(id).observed;
    c.memory = bytes;
    this.emit(c, 'update');
  }

  /** Drift: `docker network disconnect network id` by hand (Docker emits a network event, no container event). */
  disconnect(id: string, network: string): void {
    const c = this.must(id).observed;
    c.networks = (c.networks ?? []).filter((n) => n !== network);
  }

  /** Drift: `docker network rm name` by hand (Docker allows it once no running container is attached). */
  removeNetworkByHand(name: string): void {
    this.networks.delete(name);
  }

  /** Drift: the event stream broke and came back; every subscriber's onReconnect runs (events may have been lost). */
  reconnect(): void {
    for (const s of [...this.subscribers]) s.onReconnect?.();
  }

  /** The spec a container was created from (for assertions). */
  specOf(id: string): CreateContainerSpec | undefined {
    const c = this.containers.get(id);
    return c ? structuredClone(c.spec) : undefined;
  }

  async ping(): Promise<void> {
    this.injected('ping');
  }

  async observe(instance: string, imageRefs: string[]): Promise<ObservedState> {
    this.injected('observe');
    const ours = (labels: Record<string, string>): boolean => labels[LABELS.managed] === 'true' && labels[LABELS.instance] === instance;
    const containers = [...this.containers.values()].map((c) => c.observed).filter((c) => ours(c.labels));
    const volumes = [...this.volumes.values()].filter((v) => ours(v.labels)).map((v) => ({ name: v.name, labels: { ...v.labels } }));
    const networks = [...this.networks.values()].filter((n) => ours(n.labels)).sort((a, b) => a.name.localeCompare(b.name));
    const images: Record<string, string> = {};
    for (const ref of imageRefs) {
      const id = this.imageIdOf(ref);
      if (id) images[ref] = id;
    }
    return structuredClone({ containers, volumes, networks, images });
  }

  async createContainer(spec: CreateContainerSpec): Promise<string> {
    this.record('createContainer', [spec]);
    const existing = [...this.containers.values()].find((c) => c.observed.name === spec.name);
    if (existing) return existing.observed.id;
    const imageId = this.imageIdOf(spec.image);
    if (!imageId) throw new BerthError('E_IMAGE_MISSING', `image ${spec.image} is not on the engine (pull it, or build or load it first)`, { terminal: true });
    for (const n of [...(spec.network ? [spec.network] : []), ...(spec.moreNetworks ?? [])]) {
      if (!this.networks.has(n.name)) throw new BerthError('E_DOCKER', `create container ${spec.name}: network ${n.name} does not exist (yet)`);
    }
    const observed = this.newContainer(spec, imageId);
    this.containers.set(observed.id, { observed, spec: structuredClone(spec) });
    this.emit(observed, 'create');
    return observed.id;
  }

  async startContainer(id: string): Promise<void> {
    this.record('startContainer', [id]);
    const c = this.must(id).observed;
    if (c.status === 'running') return;
    if (c.status === 'paused') throw new BerthError('E_DOCKER', `start container ${id} failed (HTTP 409): cannot start a paused container, try unpause instead`);
    c.status = 'running';
    c.exitCode = 0;
    c.startedAt = this.now();
    c.address = `10.0.0.${c.id.slice(this.idPrefix.length)}`;
    this.emit(c, 'start');
  }

  async stopContainer(id: string, graceSeconds: number): Promise<void> {
    this.record('stopContainer', [id, graceSeconds]);
    const c = this.containers.get(id)?.observed;
    if (!c || (c.status !== 'running' && c.status !== 'paused')) return;
    this.emit(c, 'kill');
    this.exited(c, 143);
    this.emit(c, 'die');
    this.emit(c, 'stop');
  }

  async removeContainer(id: string): Promise<void> {
    this.record('removeContainer', [id]);
    const c = this.containers.get(id)?.observed;
    if (c) this.destroy(c);
  }

  async renameContainer(id: string, name: string): Promise<void> {
    this.record('renameContainer', [id, name]);
    this.must(id).observed.name = name;
  }

  async unpauseContainer(id: string): Promise<void> {
    this.record('unpauseContainer', [id]);
    const c = this.must(id).observed;
    if (c.status !== 'paused') return;
    c.status = 'running';
    this.emit(c, 'unpause');
  }

  async updateContainer(id: string, update: { memory?: number; nanoCpus?: number; restartPolicy: string }): Promise<void> {
    this.record('updateContainer', [id, update]);
    const c = this.must(id).observed;
    const lifted = liftedLimitError(id, c, { ...(update.memory ? { memory: update.memory } : {}), ...(update.nanoCpus ? { nanoCpus: update.nanoCpus } : {}) });
    if (lifted) throw lifted;
    if (update.memory) c.memory = update.memory;
    if (update.nanoCpus) c.nanoCpus = update.nanoCpus;
    c.restartPolicy = update.restartPolicy;
    this.emit(c, 'update');
  }

  async createVolume(name: string, labels: Record<string, string>, driver: string, driverOpts: Record<string, string>): Promise<void> {
    this.record('createVolume', [name, labels, driver, driverOpts]);
    if (this.volumes.has(name)) return;
    this.volumes.set(name, { name, labels: { ...labels }, driver: driver || 'local', driverOpts: { ...driverOpts } });
  }

  async removeVolume(name: string): Promise<void> {
    this.record('removeVolume', [name]);
    if (!this.volumes.has(name)) return;
    const user = [...this.containers.values()].find((c) => c.spec.mounts.some((m) => m.volume === name));
    if (user) throw new BerthError('E_DOCKER', `volume ${name} is in use by a container; remove the container first`);
    this.volumes.delete(name);
  }

  async createNetwork(name: string, labels: Record<string, string>): Promise<void> {
    this.record('createNetwork', [name, labels]);
    if (this.networks.has(name)) return;
    this.networks.set(name, { name, id: `net-${this.nextNetworkId++}`, labels: { ...labels, [LABELS.managed]: 'true' } });
  }

  async removeNetwork(name: string): Promise<void> {
    this.record('removeNetwork', [name]);
    if (!this.networks.has(name)) return;
    const user = [...this.containers.values()].find((c) => c.observed.networks?.includes(name));
    if (user) throw new BerthError('E_DOCKER', `network ${name} is in use by a container; it is removed once its containers are gone`);
    this.networks.delete(name);
  }

  async buildImage(ref: string, files: BuildFile[], dockerfile: string, labels: Record<string, string>): Promise<string> {
    this.record('buildImage', [ref, files, dockerfile, labels]);
    if (!files.some((f) => f.path === dockerfile)) throw new BerthError('E_BUILD', `build of ${ref} failed: Dockerfile "${dockerfile}" is not in the build context`, { terminal: true });
    const id = `sha256:${contentHash(files, dockerfile, labels)}`;
    this.images.set(ref, id);
    return id;
  }

  /** Puts `ref` into the fake's registry: pullImage() can fetch it from then on. */
  publish(ref: string, id: string): void {
    this.registry.set(ref, id);
  }

  async pullImage(ref: string): Promise<PullResult> {
    this.record('pullImage', [ref]);
    if (this.imageIdOf(ref)) return { ref, action: 'present', layers: 0, bytes: 0, ms: 0 };
    const id = this.registry.get(ref);
    if (!id) throw new BerthError('E_PULL', `pull ${ref} on fake: manifest unknown`);
    this.images.set(ref, id);
    return { ref, action: 'pulled', layers: 1, bytes: 1, ms: 0 };
  }

  /** Memory use memoryUsage() reports for container `id` (default 0). */
  setMemoryUsage(id: string, bytes: number): void {
    this.usage.set(id, bytes);
  }

  async memoryUsage(ids: string[]): Promise<Record<string, number>> {
    this.injected('memoryUsage');
    const out: Record<string, number> = {};
    for (const id of ids) if (this.containers.get(id)?.observed.status === 'running') out[id] = this.usage.get(id) ?? 0;
    return out;
  }

  /** CPU time containerStats() reports for container `id` (default 0 ns). */
  setCpuNs(id: string, ns: number): void {
    this.cpu.set(id, ns);
  }

  async containerStats(ids: string[]): Promise<Record<string, ContainerStats>> {
    this.injected('containerStats');
    const out: Record<string, ContainerStats> = {};
    for (const id of ids) {
      if (this.containers.get(id)?.observed.status === 'running') out[id] = { cpuNs: this.cpu.get(id) ?? 0, memoryBytes: this.usage.get(id) ?? 0, readAt: Date.now() };
    }
    return out;
  }

  async exportImage(ref: string): Promise<NodeJS.ReadableStream> {
    this.record('exportImage', [ref]);
    const id = this.imageIdOf(ref);
    if (!id) throw new BerthError('E_IMAGE_MISSING', `image ${ref} is not on the engine`, { terminal: true });
    return Readable.from([Buffer.from(JSON.stringify({ ref, id }))]);
  }

  async importImage(tar: NodeJS.ReadableStream): Promise<void> {
    this.record('importImage', []);
    const chunks: Buffer[] = [];
    for await (const c of tar) chunks.push(Buffer.from(c as Buffer));
    const { ref, id } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { ref: string; id: string };
    this.images.set(ref, id);
  }

  async exec(id: string, command: string[], timeoutMs: number): Promise<ExecResult> {
    this.injected('exec');
    const c = this.containers.get(id)?.observed;
    if (!c) return { exitCode: -1, output: `No such container: ${id}` };
    if (c.status !== 'running') return { exitCode: -1, output: `Container ${id} is not running` };
    const handler = this.execs.get(id) ?? ((): ExecResult => ({ exitCode: 0, output: '' }));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<ExecResult>((resolve) => { timer = setTimeout(() => resolve({ exitCode: -1, output: `timeout after ${timeoutMs} ms` }), timeoutMs); });
    try {
      return await Promise.race([Promise.resolve(handler([...command], timeoutMs)), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  subscribe(instance: string, onEvent: (e: RuntimeEvent) => void, onReconnect?: () => void, opts?: { catchUp?: boolean }): () => void {
    this.injected('subscribe');
    const subscriber: Subscriber = { instance, onEvent, ...(onReconnect ? { onReconnect } : {}) };
    this.subscribers.add(subscriber);
    if (opts?.catchUp) queueMicrotask(() => { if (this.subscribers.has(subscriber)) subscriber.onReconnect?.(); }); // connected at once
    return () => { this.subscribers.delete(subscriber); };
  }

  private record(method: keyof ContainerRuntime, args: unknown[]): void {
    this.calls.push({ method, args: structuredClone(args) });
    this.injected(method);
  }

  private injected(method: keyof ContainerRuntime): void {
    const err = this.failures.get(method)?.shift();
    if (err) throw err;
  }

  private exited(c: ObservedContainer, exitCode: number): void {
    c.status = 'exited';
    c.exitCode = exitCode;
    c.finishedAt = this.now();
    delete c.address;
  }

  private must(id: string): FakeContainer {
    const c = this.containers.get(id);
    if (!c) throw new BerthError('E_DOCKER', `container ${id} failed (HTTP 404): No such container: ${id}`);
    return c;
  }

  private imageIdOf(ref: string): string | undefined {
    const byRef = this.images.get(ref);
    if (byRef) return byRef;
    return [...this.images.values()].find((id) => id === ref);
  }

  private newContainer(spec: CreateContainerSpec, imageId: string): ObservedContainer {
    return {
      id: `${this.idPrefix}${this.nextId++}`,
      name: spec.name,
      labels: { ...spec.labels },
      status: 'created',
      exitCode: 0,
      imageId,
      command: [...(spec.command ?? [])],
      env: { ...spec.env },
      restartPolicy: spec.restartPolicy,
      nanoCpus: spec.nanoCpus ?? 0,
      memory: spec.memory ?? 0,
      networks: [spec.network?.name ?? 'bridge', ...(spec.moreNetworks ?? []).map((n) => n.name)],
      restartCount: 0,
      createdAt: this.now(),
    };
  }

  private destroy(c: ObservedContainer): void {
    if (c.status === 'running' || c.status === 'paused') {
      this.emit(c, 'kill');
      this.exited(c, 137);
      this.emit(c, 'die');
    }
    this.containers.delete(c.id);
    this.emit(c, 'destroy');
  }

  private emit(c: ObservedContainer, action: string): void {
    for (const s of [...this.subscribers]) {
      if (s.instance !== c.labels[LABELS.instance] || c.labels[LABELS.managed] !== 'true') continue;
      s.onEvent({ action, containerId: c.id, labels: { ...c.labels } });
    }
  }

  private now(): string {
    const t = new Date(this.clock).toISOString();
    this.clock += 1000;
    return t;
  }
}

function contentHash(files: BuildFile[], dockerfile: string, labels: Record<string, string>): string {
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : 1))) h.update(`${f.path}\0${f.mode}\0${f.content.length}\0`).update(f.content);
  h.update(`${dockerfile}\0${JSON.stringify(Object.entries(labels).sort())}`);
  return h.digest('hex');
}
