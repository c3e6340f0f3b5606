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

export interface ServiceSpec {
  image?: string;
  build?: BuildSpec;
  command?: string[];
  env: Record<string, string>;
  replicas: number;
  ports: PortSpec[];
  resources: ResourceSpec;
  restart: { policy: RestartPolicy };
  update: { order: 'start-first' | 'stop-first'; parallelism: number };
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
