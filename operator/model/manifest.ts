/** Manifest kinds of apiVersion berth/v1, after validation and defaulting. */

export const API_VERSION = 'berth/v1';

export interface Metadata {
  name: string;
  namespace: string;
  labels: Record<string, string>;
}

export interface PortSpec {
  name?: string;
  port: number;
  protocol: 'tcp' | 'udp';
}

export interface ResourceSpec {
  /** CPUs, e.g. 0.25; undefined = unlimited. */
  cpu?: number;
  /** Bytes; parsed from `64Mi`, `1Gi`, `512M`, or a number. */
  memory?: number;
}

export interface BuildSpec {
  /** Directory in the repository, relative to the manifests root path. */
  context: string;
  /** Dockerfile path relative to the context. Default `Dockerfile`. */
  dockerfile: string;
}

export interface VolumeMount {
  volume: string;
  mountPath: string;
  readOnly: boolean;
}

export type RestartPolicy = 'always' | 'on-failure' | 'never';

/** One health probe: exactly one of http / tcp / exec / script, plus timing (durations in milliseconds). */
export interface ProbeSpec {
  http?: { path: string; port: number; scheme: 'http' | 'https'; headers: Record<string, string>; /** Passing statuses; default 200-399. */ expectStatus?: number[] };
  tcp?: { port: number };
  /** Run inside the container through the engine's exec API; exit 0 passes. */
  exec?: { command: string[] };
  /** A file of the manifests repository at the applied revision, run by the operator with the replica's address in its environment; exit 0 passes. */
  script?: { file: string; args: string[] };
  intervalMs: number;       // default 10 s
  timeoutMs: number;        // default 1 s
  initialDelayMs: number;   // default 0
  failureThreshold: number; // default 3
  successThreshold: number; // default 1
}

export type ProbeKind = 'startup' | 'readiness' | 'liveness';

export interface HealthSpec {
  startup?: ProbeSpec;
  readiness?: ProbeSpec;
  liveness?: ProbeSpec;
}

export interface UpdateSpec {
  order: 'start-first' | 'stop-first';
  parallelism: number;
  /** How long a new replica must stay healthy after it became ready before the update moves on (ms, default 5 s). */
  monitorMs: number;
  failureAction: 'rollback' | 'pause' | 'continue';
  /** Fraction of replicas of one update allowed to fail before failureAction applies (0..1, default 0). */
  maxFailureRatio: number;
}

export interface ServiceSpec {
  image?: string;
  build?: BuildSpec;
  command?: string[];
  env: Record<string, string>;
  replicas: number;
  ports: PortSpec[];
  resources: ResourceSpec;
  restart: { policy: RestartPolicy };
  update: UpdateSpec;
  /** Operator-side probes; not part of the spec hash (changing a probe does not replace containers). */
  health: HealthSpec;
  volumes: VolumeMount[];
  dependsOn: string[];
}

export interface VolumeSpec {
  driver: string;
  driverOpts: Record<string, string>;
  /** Retained volumes are never deleted by berth, even when their manifest is removed. Default true. */
  retain: boolean;
}

interface ManifestBase {
  apiVersion: typeof API_VERSION;
  metadata: Metadata;
  /** Where the document starts, for error messages. */
  source: { file: string; line: number; col: number };
}

export interface ServiceManifest extends ManifestBase {
  kind: 'Service';
  spec: ServiceSpec;
}

export interface VolumeManifest extends ManifestBase {
  kind: 'Volume';
  spec: VolumeSpec;
}

export type Manifest = ServiceManifest | VolumeManifest;
export type ManifestKind = Manifest['kind'];
