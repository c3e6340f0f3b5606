/** The narrow interface through which berth touches a container engine. One real adapter (docker.ts), one fake (fake.ts). */
import type { ObservedState } from '../model/state.ts';
import type { ContainerSettings } from '../model/manifest.ts';

export interface CreateContainerSpec {
  /** Deterministic name (see model/keys.ts containerName). */
  name: string;
  /** Image reference present on the engine. */
  image: string;
  command?: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  /** Container ports to expose, e.g. `8080/tcp`. */
  exposedPorts: string[];
  /** The engine's port bindings: host port (on hostIp, absent = every address) -> container port `8080/tcp`. Absent = none. */
  portBindings?: { containerPort: string; hostPort: number; hostIp?: string }[];
  /** Bytes, undefined = unlimited. */
  memory?: number;
  /** Docker NanoCPUs, undefined = unlimited. */
  nanoCpus?: number;
  /** Docker restart policy name: `always` | `on-failure` | `no`. */
  restartPolicy: string;
  mounts: { volume: string; target: string; readOnly: boolean }[];
  /** Run an init process (docker-init) as PID 1: forwards signals and reaps zombies, so stops are prompt. */
  init?: boolean;
  /** Network to attach to (instead of the default bridge), with DNS aliases on it (the service name). */
  network?: { name: string; aliases: string[] };
  /** Further networks (spec.networks) joined after create and before start, each with its DNS aliases. */
  moreNetworks?: { name: string; aliases: string[] }[];
  /** Extra /etc/hosts entries, `host:ip`; Docker's `host-gateway` ip is the host (for host.docker.internal). */
  extraHosts?: string[];
  /** The node (engine) to create it on, when the runtime spans several; absent = the runtime's default node. */
  node?: string;
  /** Privileges of the container (every replica has them, see diff/container-spec.ts); absent = the engine's defaults. */
  security?: ContainerSecurity;
  /** Entrypoint, user, working dir, read-only root, tmpfs, ulimits, sysctls, extra hosts, stop signal, security options. */
  settings?: ContainerSettings;
  /** Seconds between the stop signal and SIGKILL when the container is stopped without a grace of its own (default 10). */
  stopTimeoutSeconds?: number;
  /**
   * Files of `kind: Secret`s: each bind is a directory on tmpfs of the node (created by the engine), bound read-write at
   * `target`; the files are written through the engine's archive API into the created container before it is started.
   * Secret: never logged, never in an error or a status (the runtime reports paths, never contents).
   */
  secrets?: SecretDelivery;
  /**
   * Files of the repository (spec.files): written into the created container's own filesystem (absolute paths, missing
   * directories made 0755) through the same archive write as the secret files, before it is started.
   */
  files?: ContainerFile[];
  /** Mount paths of anonymous volumes of the engine, made at create and removed with the container. */
  anonymousVolumes?: string[];
}

/** Directories on tmpfs of the node and the decrypted files written into them between create and start. */
export interface SecretDelivery {
  binds: { source: string; target: string }[];
  files: ContainerFile[];
  /** Items delivered as environment variables (spec.secrets[].env), over the spec's env; absent = none. */
  env?: Record<string, string>;
}

/** One file written into a container (absolute path under one of the delivery's bind targets). */
export interface ContainerFile {
  path: string;
  content: Buffer;
  /** Permission bits, e.g. 0o400. */
  mode: number;
  uid: number;
  gid: number;
  /** A symbolic link to this target instead of a file (content ignored). */
  link?: string;
}

/** How a container is confined, in the engine's terms. */
export interface ContainerSecurity {
  /** Docker's --privileged: every capability and device; the capability lists do not apply. */
  privileged: boolean;
  /** `no-new-privileges:true`: setuid binaries and file capabilities grant nothing. */
  noNewPrivileges: boolean;
  /** Capabilities (without CAP_) added to the engine's default set. */
  capAdd: string[];
  /** Capabilities removed from it, or ALL. */
  capDrop: string[];
}

/** One file of an image build context. */
export interface BuildFile {
  /** Path relative to the context root, `/`-separated. */
  path: string;
  /** Unix mode, e.g. 0o100644 or 0o100755. */
  mode: number;
  content: Buffer;
}

/** An engine event about a berth-managed container, already filtered by instance. */
export interface RuntimeEvent {
  /** Docker action without its suffix: die, destroy, stop, kill, pause, unpause, update, start, create, oom, health_status... */
  action: string;
  containerId: string;
  labels: Record<string, string>;
}

/** What a command run inside a container through the engine's exec API produced. */
export interface ExecResult {
  /** The command's exit code; -1 when it did not finish (timeout) or could not run (container not running). */
  exitCode: number;
  /** stdout and stderr as the engine delivered them (their relative order is not kept), truncated to 4 KiB; for exitCode -1, why. */
  output: string;
}

/** Bounds of a read of a finished container's output (ContainerRuntime.containerLogs). */
export interface LogTailOptions {
  /** The engine's `tail`: only the last this many lines (stdout and stderr together, in the engine's order). */
  lines: number;
  /** Bytes read at most; the read stops there (the answer is `truncated`). */
  maxBytes: number;
  /** The read is given up after this long. */
  timeoutMs: number;
}

/** The tail of a container's output, stdout and stderr interleaved as the engine logged them (raw bytes as UTF-8). */
export interface LogTail {
  text: string;
  /** The read stopped at maxBytes: the end of the text is missing. */
  truncated: boolean;
}

/**
 * Credentials for one registry in the engine's X-Registry-Auth form (dockerode's `authconfig`). Secret: never logged,
 * never in an error, a status or a spec object.
 */
export interface EngineAuth {
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
  serveraddress: string;
}

/** How far a pull is: layers seen and done, bytes downloaded of the layers' total. */
export interface PullProgress {
  ref: string;
  layers: number;
  layersDone: number;
  bytes: number;
  totalBytes: number;
  ms: number;
}

/** Build arguments (`--build-arg`, not secret: they stay in the image history), the target stage, and progress. */
export interface BuildOptions {
  args?: Record<string, string>;
  target?: string;
  /** Called at most once a second while steps start, and once at the end. */
  onProgress?: (p: BuildProgress) => void;
}

/** A build under way: the step that started last, how many steps are known / done / taken from the cache. */
export interface BuildProgress {
  ref: string;
  builder: 'buildkit' | 'classic';
  step: string;
  steps: number;
  done: number;
  cached: number;
  ms: number;
}

/** What a pull did: `present` when the engine had the image (nothing asked of the registry). */
export interface PullResult {
  ref: string;
  action: 'present' | 'pulled';
  layers: number;
  bytes: number;
  ms: number;
  /** The node it ran on (several engines). */
  node?: string;
}

/** Options of a network that the engine cannot change once it exists. */
/** A container's counters at one read: CPU as a running total, so two reads give a rate. */
export interface ContainerStats {
  /** CPU time used since the container started, nanoseconds (cgroup cpuacct total). */
  cpuNs: number;
  /** Memory in use, bytes, inactive page cache excluded (as `docker stats`). */
  memoryBytes: number;
  /** When the engine read the counters, ms since the epoch. */
  readAt: number;
}

export interface NetworkOptions {
  internal?: boolean;
}

export interface ContainerRuntime {
  /** Resolves when the engine answers; rejects with BerthError E_DOCKER otherwise. */
  ping(): Promise<void>;
  /** Reads every container and volume labelled berth.managed=true and berth.instance=`instance`, and the image IDs of `imageRefs`. */
  observe(instance: string, imageRefs: string[]): Promise<ObservedState>;
  /** Creates a container; if one with the same name exists already (a retried create), returns its id. */
  createContainer(spec: CreateContainerSpec): Promise<string>;
  /** Starts a container; already running is not an error. */
  startContainer(id: string): Promise<void>;
  /** Stops a container with a grace period in seconds (absent: the container's own, set at create); already stopped is not an error. */
  stopContainer(id: string, graceSeconds?: number): Promise<void>;
  /** Force-removes a container; already gone is not an error. */
  removeContainer(id: string): Promise<void>;
  /** Renames a container (frees its deterministic name for a same-spec replacement started before it goes). */
  renameContainer(id: string, name: string): Promise<void>;
  /** Unpauses a paused container. */
  unpauseContainer(id: string): Promise<void>;
  /** Changes limits and restart policy of a container in place. */
  updateContainer(id: string, update: { memory?: number; nanoCpus?: number; restartPolicy: string }): Promise<void>;
  /** Creates a named volume if it does not exist. */
  createVolume(name: string, labels: Record<string, string>, driver: string, driverOpts: Record<string, string>): Promise<void>;
  /** Removes a named volume; already gone is not an error. */
  removeVolume(name: string): Promise<void>;
  /** Creates a bridge network if none of that name exists; `internal`: no route out of the host (Docker's Internal). */
  createNetwork(name: string, labels: Record<string, string>, options?: NetworkOptions): Promise<void>;
  /** Removes a network; already gone is not an error. */
  removeNetwork(name: string): Promise<void>;
  /** Memory in use (bytes, page cache excluded, like `docker stats`) of each running container of `ids`; absent ones are skipped. */
  memoryUsage(ids: string[]): Promise<Record<string, number>>;
  /** One-shot CPU and memory counters of each running container of `ids` (the autoscaler's source); absent ones are skipped. */
  containerStats(ids: string[]): Promise<Record<string, ContainerStats>>;
  /** The image `ref` as a `docker save` tar stream; rejects with E_IMAGE_MISSING when the engine does not have it. */
  exportImage(ref: string): Promise<NodeJS.ReadableStream>;
  /**
   * Loads a `docker save` tar stream (`docker load`); resolves once the engine has loaded it. `ref`: the name the
   * image is created by afterwards (given another name by the saving engine, such as Podman's `localhost/`, it is
   * tagged so).
   */
  importImage(tar: NodeJS.ReadableStream, ref?: string): Promise<void>;
  /**
   * Pulls `ref` from its registry onto the engine (`node`: that node's, several engines), unless it is there already.
   * Rejects with BerthError E_PULL carrying the engine's message (the registry's answer) when the pull fails.
   */
  pullImage(ref: string, opts?: { auth?: EngineAuth; node?: string; onProgress?: (p: PullProgress) => void }): Promise<PullResult>;
  /**
   * Builds an image from in-memory context files and tags it `ref` (BuildKit where the engine has it, with `opts.args`
   * and `opts.target`); never pulls base images from a registry. Returns the image ID. Rejects with BerthError E_BUILD
   * (the failing step and the tail of its output) or E_IMAGE_MISSING (a base image not on the engine).
   */
  buildImage(ref: string, files: BuildFile[], dockerfile: string, labels: Record<string, string>, opts?: BuildOptions): Promise<string>;
  /**
   * Runs `command` (no shell) inside running container `id` and waits at most `timeoutMs` for it to exit.
   * Resolves `{ exitCode: -1, output: 'timeout after N ms' }` on timeout (the stream is closed; the engine cannot kill
   * an exec, so the process may run on inside the container), and exitCode -1 with the engine's reason when the
   * container is not running or gone ('Container … is not running', 'No such container: …').
   * Rejects with BerthError E_DOCKER (transient) when the engine fails.
   */
  exec(id: string, command: string[], timeoutMs: number): Promise<ExecResult>;
  /**
   * The last `opts.lines` lines of the output of finished container `id` (the engine's logs API), read within
   * `opts.maxBytes` and `opts.timeoutMs`. Rejects with BerthError E_DOCKER (the engine failed, the container is gone,
   * or the timeout passed). Absent: the runtime cannot read output (Job output is left out of status).
   */
  containerLogs?(id: string, opts: LogTailOptions): Promise<LogTail>;
  /**
   * The output of container `id` from `since` (seconds since the epoch, decimal), with timestamps, following until it
   * stops or `signal` aborts: the engine's raw stream (multiplexed frames unless `tty`). Absent: logs are not collected.
   */
  followLogs?(id: string, since: string, signal: AbortSignal): Promise<{ stream: NodeJS.ReadableStream; tty: boolean }>;
  /**
   * Subscribes to events of containers of `instance`; reconnects by itself. `onReconnect` is called after a gap, since
   * events may have been lost; with `catchUp`, also once the stream first connects (an engine that joined while it
   * was not watched: whatever happened on it meanwhile was missed). Returns an unsubscribe function.
   */
  subscribe(instance: string, onEvent: (e: RuntimeEvent) => void, onReconnect?: () => void, opts?: { catchUp?: boolean }): () => void;
}
