/** Desired state (from git at a revision) and observed state (from the Docker engine's labels). */
import type { CronJobSpec, JobSpec, NodeSpec, RouteSpec, ServiceSecretRef, ServiceSpec, VolumeSpec } from './manifest.ts';
import type { ManifestWarning, SourceLocation } from './errors.ts';

/** The image a service runs: a reference on the engine, or one berth builds from the repository. */
export type ImageSource =
  | RefImage
  | { type: 'build'; ref: string; context: string; dockerfile: string; contentHash: string; args?: Record<string, string>; target?: string };

/** An image named by reference (`spec.image`), from the node or from a registry. */
export interface RefImage {
  type: 'ref';
  /** As written in the manifest (`shop/api:2.3`). */
  ref: string;
  /**
   * The manifest digest the tag resolved to in its registry this pass (images/pin.ts); replicas then run
   * `name@digest`, and the spec hash covers it. Absent for an image the node has without a registry digest (built or
   * loaded there), for pullPolicy Never, and while the registry was never reached.
   */
  digest?: string;
}

/** The reference replicas are created with and observed by: `name@digest` once pinned, else the reference as written. */
export function runRef(image: ImageSource): string {
  if (image.type !== 'ref' || !image.digest) return image.ref;
  return `${imageNameOf(image.ref)}@${image.digest}`;
}

/** `host:5000/shop/api:2.3@sha256:..` -> `host:5000/shop/api`: the repository without tag or digest, spelled as written. */
export function imageNameOf(ref: string): string {
  const at = ref.indexOf('@');
  const named = at >= 0 ? ref.slice(0, at) : ref;
  const colon = named.lastIndexOf(':');
  return colon > named.lastIndexOf('/') ? named.slice(0, colon) : named;
}

export interface DesiredService {
  key: string;               // namespace/name
  /**
   * Set while the service may be scaled to zero (spec.autoscale.min 0): its proxies hold a request that finds no ready
   * replica (at most `queue` of them, each at most `timeoutMs`) and report it, and the autoscaler starts one.
   */
  wake?: { queue: number; timeoutMs: number };
  namespace: string;
  name: string;
  labels: Record<string, string>;
  spec: ServiceSpec;
  image: ImageSource;
  /** Hash of everything that shapes a replica's container; a change means replace. */
  specHash: string;
  source: SourceLocation;
  /**
   * The Docker network replicas are created on and the operator reaches them on (their observed address): the
   * namespace's (keys.networkName) without spec.networks; with it, the first listed network that is not internal, else
   * the first listed. Replicas join it with the service name as alias.
   */
  network: string;
  /** With spec.networks only: every network the replicas join (spec order, Docker names) with their DNS aliases (service name first). */
  networks?: DesiredAttachment[];
  /**
   * The container environment: discovery variables of every service in spec.dependsOn (`<DEP>_SERVICE_HOST`,
   * `<DEP>_SERVICE_PORT`, Kubernetes-style, DEP upper-cased with '-' -> '_') overlaid by spec.env (user wins).
   */
  env: Record<string, string>;
  /** The files of spec.secrets, resolved (references and content hashes, never values); absent = none. */
  secrets?: DesiredSecretMount[];
  /** The files of spec.files, read from the revision (content included); absent = none. */
  files?: DesiredFileMount[];
}

/**
 * What the containers of a Job (or of each run of a CronJob) are created from, resolved as a Service's replicas are:
 * image, effective env, networks, secrets and files.
 */
export interface DesiredJobContainer {
  image: ImageSource;
  /**
   * Hash of everything that shapes the Job's containers (as a Service's spec hash, restart policy never, no ports)
   * and of completions: the identity of a run. The same hash pushed again is not run again; a new one is a new run.
   */
  specHash: string;
  /** The Docker network the containers are created on (as DesiredService.network). */
  network: string;
  /** With spec.networks only: every network the containers join, with their DNS aliases. */
  networks?: DesiredAttachment[];
  /** The container environment: spec.env (a Job has no dependsOn, so no discovery variables). */
  env: Record<string, string>;
  secrets?: DesiredSecretMount[];
  files?: DesiredFileMount[];
}

/** A Job of the desired state: run to completion once per spec hash (jobs/plan.ts). */
export interface DesiredJob extends DesiredJobContainer {
  key: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  spec: JobSpec;
  source: SourceLocation;
}

/** A CronJob of the desired state: its schedule and the resolved Job each run starts (jobs/cron-plan.ts). */
export interface DesiredCronJob {
  key: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  spec: CronJobSpec;
  /** spec.jobTemplate resolved; its specHash is the same for every run of one template. */
  template: DesiredJobContainer;
  source: SourceLocation;
}

/** One network a replica joins, with its DNS aliases there. */
export interface DesiredAttachment {
  /** Docker network name. */
  name: string;
  aliases: string[];
}

/** One entry of a service's spec.files, read from the repository at the revision. */
export interface DesiredFileMount {
  /** Repository-relative path of the file or directory. */
  source: string;
  target: string;
  /** sha256 hex over the paths, modes and contents of its files: what the spec hash covers. */
  contentHash: string;
  /** Every file of it: absolute path in the container, permission bits, content (base64) or a symbolic link's target. */
  entries: DesiredFileEntry[];
}

/** One file written into a replica from the repository. */
export interface DesiredFileEntry {
  path: string;
  mode: number;
  /** Owner and group (absent: 0). */
  uid?: number;
  gid?: number;
  /** base64 of the content (absent for a symbolic link). */
  content?: string;
  /** A symbolic link's target, as git records it. */
  link?: string;
}

/** A Secret of the revision: its ciphertext as read from git (never decrypted by the loader). */
export interface DesiredSecret {
  key: string;
  namespace: string;
  name: string;
  /** Repository-relative path of the encrypted file. */
  file: string;
  format: 'sops-yaml' | 'sops-json' | 'age';
  /** sha256 hex of the file's bytes. */
  contentHash: string;
  /** The encrypted file, base64. */
  ciphertext: string;
  source: SourceLocation;
}

/** One entry of a service's spec.secrets with what the replica's files depend on: the Secret's content hash. */
export interface DesiredSecretMount extends ServiceSecretRef {
  /** Repository-relative path of the Secret's file (for messages). */
  file: string;
  contentHash: string;
}

/** What the status says of one image reference (images/resolver.ts). */
export interface ImageState {
  ref: string;
  /** The digest replicas of this reference run (absent: they run the reference as written). */
  digest?: string;
  /** registry: resolved this pass; last-known: the registry failed, the last digest holds; local: on a node, never pulled; never: pullPolicy Never. */
  source: 'registry' | 'last-known' | 'local' | 'never' | 'unresolved';
  /** ErrImagePull on a failure, ImagePullBackOff while waiting to ask again. */
  reason?: 'ErrImagePull' | 'ImagePullBackOff';
  message?: string;
  /** ISO time of the last successful resolution. */
  resolvedAt?: string;
}

/** The last pull of a service's image, per node (status: `pulled`). */
export interface LastPull {
  image: string;
  /** ISO time the pull finished. */
  at: string;
  nodes: { node?: string; action: 'present' | 'pulled'; layers: number; bytes: number; ms: number }[];
}

/**
 * A Docker network of the desired state: one per namespace that has services (without `name`), and one per berth
 * Network (kind Network: `name`, `key`, its options).
 */
export interface DesiredNetwork {
  namespace: string;
  dockerName: string;
  /** kind Network only: its name in the namespace. */
  name?: string;
  key?: string;
  /** kind Network only: Docker's Internal (no route out of the host). */
  internal?: boolean;
  /** kind Network only: spec.labels. */
  labels?: Record<string, string>;
  source?: SourceLocation;
}

/** A node of the desired state (cluster-scoped: Node manifests ignore metadata.namespace). */
export interface DesiredNode {
  name: string;
  spec: NodeSpec;
  source: SourceLocation;
}

export interface DesiredRoute {
  key: string;
  namespace: string;
  name: string;
  spec: RouteSpec;
  source: SourceLocation;
}

export interface DesiredVolume {
  key: string;
  namespace: string;
  name: string;
  /** Docker volume name. */
  dockerName: string;
  spec: VolumeSpec;
  source: SourceLocation;
}

export interface DesiredState {
  revision: string;
  services: DesiredService[];
  volumes: DesiredVolume[];
  /** Sorted by dockerName. */
  networks: DesiredNetwork[];
  /** Sorted by key; served by the operator's proxies, never by the engine. */
  routes: DesiredRoute[];
  /** Sorted by name; empty = the single local engine, node `local`. */
  nodes: DesiredNode[];
  /** Sorted by key; absent = none (a revision without Secrets). */
  secrets?: DesiredSecret[];
  /** Sorted by key; absent = none (a revision without Jobs). */
  jobs?: DesiredJob[];
  /** Sorted by key; absent = none (a revision without CronJobs). */
  cronJobs?: DesiredCronJob[];
  /** What validation found worth a warning without rejecting the revision (berth validate prints them); absent = none. */
  warnings?: ManifestWarning[];
}

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/** What the engine reports for one berth-managed container. */
export interface ObservedContainer {
  id: string;
  name: string;
  labels: Record<string, string>;
  status: ContainerStatus;
  exitCode: number;
  /** Image ID (sha256:...) the container runs. */
  imageId: string;
  /** Image reference the container was created from (Config.Image), when known. */
  image?: string;
  /** Where the operator reaches the container's ports (an IP on the local bridge; for remote nodes, the node's address), when known. */
  address?: string;
  /** Docker's RestartCount (engine-side restarts). */
  restartCount?: number;
  finishedAt?: string;
  command: string[];
  env: Record<string, string>;
  restartPolicy: string;
  /** NanoCPUs as Docker reports (0 = unlimited). */
  nanoCpus: number;
  /** Memory limit in bytes (0 = unlimited). */
  memory: number;
  startedAt?: string;
  createdAt: string;
  /** Names of the Docker networks the container is attached to, when known. */
  networks?: string[];
  /** The node (engine) the container runs on; `local` with a single engine. */
  node?: string;
}

export interface ObservedVolume {
  name: string;
  labels: Record<string, string>;
}

export interface ObservedNetwork {
  name: string;
  id: string;
  labels: Record<string, string>;
}

export interface ObservedState {
  containers: ObservedContainer[];
  volumes: ObservedVolume[];
  /** berth's networks of the instance (labelled berth.managed / berth.instance). */
  networks: ObservedNetwork[];
  /** Image reference -> image ID currently on the engine; a reference absent here is not on the engine. */
  images: Record<string, string>;
  /** References of `images` that some node has without a registry digest: built or loaded there, never pulled. */
  localImages?: string[];
}
