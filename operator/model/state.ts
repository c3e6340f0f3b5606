/** Desired state (from git at a revision) and observed state (from the Docker engine's labels). */
import type { NodeSpec, RouteSpec, ServiceSpec, VolumeSpec } from './manifest.ts';
import type { ManifestWarning, SourceLocation } from './errors.ts';

/** The image a service runs: a reference on the engine, or one berth builds from the repository. */
export type ImageSource =
  | { type: 'ref'; ref: string }
  | { type: 'build'; ref: string; context: string; dockerfile: string; contentHash: string };

export interface DesiredService {
  key: string;               // namespace/name
  namespace: string;
  name: string;
  labels: Record<string, string>;
  spec: ServiceSpec;
  image: ImageSource;
  /** Hash of everything that shapes a replica's container; a change means replace. */
  specHash: string;
  source: SourceLocation;
  /** Docker network of the service's namespace (see keys.networkName); replicas join it with the service name as alias. */
  network: string;
  /**
   * The container environment: discovery variables of every service in spec.dependsOn (`<DEP>_SERVICE_HOST`,
   * `<DEP>_SERVICE_PORT`, Kubernetes-style, DEP upper-cased with '-' -> '_') overlaid by spec.env (user wins).
   */
  env: Record<string, string>;
}

/** One Docker network per namespace that has services. */
export interface DesiredNetwork {
  namespace: string;
  dockerName: string;
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
}
