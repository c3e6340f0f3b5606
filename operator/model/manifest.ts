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
  /** The engine's own port binding: this host port of the replica's node forwards to `port` (any protocol). */
  hostPort?: number;
  /** Host address of the binding (an IP literal); absent = every address. Only with hostPort. */
  hostIp?: string;
  /** tcp only: berth's proxy also listens here and forwards to `port` of the ready replicas (spec.loadBalancer's algorithm). */
  publish?: PublishSpec;
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
  /** Build arguments (`--build-arg`); not secret: they stay in the image history. In the image's content hash. */
  args?: Record<string, string>;
  /** The stage to build (`--target`); default the last one. In the image's content hash. */
  target?: string;
}

export interface VolumeMount {
  volume: string;
  mountPath: string;
  readOnly: boolean;
}

export type RestartPolicy = 'always' | 'on-failure' | 'never';

/**
 * Privileges of each replica (spec.securityContext, set in the manifest). Without it a replica runs with
 * no-new-privileges and Docker's default capabilities minus NET_RAW (diff/container-spec.ts replicaSecurity).
 */
export interface SecurityContext {
  /** Every capability and every host device; default false. */
  privileged: boolean;
  /** Capabilities (Linux names without CAP_) added to the default set. */
  capAdd: string[];
  /** Capabilities dropped besides NET_RAW, or ALL. */
  capDrop: string[];
  /** Whether a process may gain privileges (setuid binaries, file capabilities); default: privileged. */
  allowPrivilegeEscalation: boolean;
}

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

/** How the embedded proxy and Routes pick a service's replica: `spec.loadBalancer.algorithm`. */
export type LbAlgorithm = 'round-robin' | 'weighted-round-robin' | 'consistent-hash' | 'least-connections';

/** Where consistent hashing takes its key from: the client address, a request header, a cookie or the URL path. */
export type HashKey = 'client-ip' | `header:${string}` | `cookie:${string}` | 'path';

/** Where a proxy listens on the operator host. */
export interface PublishSpec {
  port: number;
  /** Listen address; default the operator's --proxy-host (0.0.0.0, so containers reach it through the host gateway). */
  host?: string;
}

/** One target of spec.autoscale.metrics. */
export type AutoscaleMetric =
  | { type: 'cpu'; percent: number }
  | { type: 'memory'; percent: number }
  | { type: 'requestsPerSecond'; value: number }
  | { type: 'concurrency'; value: number }
  | { type: 'latencyP95'; ms: number };

/** spec.autoscale.behavior.scaleUp / scaleDown: the change allowed per period is the larger of the two steps. */
export interface AutoscaleStep {
  stabilizationMs: number;
  maxStepPercent: number;
  maxStepReplicas: number;
  periodMs: number;
}

/** `spec.autoscale` with its defaults (the Kubernetes HPA's behavior). */
export interface AutoscaleSpec {
  min: number;
  max: number;
  metrics: AutoscaleMetric[];
  scaleUp: AutoscaleStep;
  scaleDown: AutoscaleStep;
  /** With min 0: idle this long at the proxy -> 0 replicas (default 5 min). */
  scaleToZeroAfterMs?: number;
}

/** `spec.loadBalancer` of a Service: how the embedded proxy (and Routes) spread traffic over its ready replicas. */
export interface LoadBalancerSpec {
  algorithm: LbAlgorithm;
  /** consistent-hash only (and required there): `client-ip` | `path` | `header:<name>` | `cookie:<name>`. */
  hashKey?: HashKey;
  /** consistent-hash only: bounded-load factor (>= 1, e.g. 1.25); absent = unbounded. */
  boundedLoad?: number;
  /** Listener protocol; default `http` when hashKey is a header, cookie or path, else `tcp`. */
  protocol: 'tcp' | 'http';
  /** Container port traffic goes to; default the service's first tcp port. Must be one of spec.ports (tcp). */
  targetPort: number;
  /** Weight of each replica of this service (weighted-round-robin); default 1. */
  weight: number;
  /** Opens this port on the operator host; absent = no listener of its own (still used by Routes and discovery). */
  publish?: PublishSpec;
}

/** One placement constraint: `node.labels.<key> == value`, `!=`, or `node.name == / != name`. */
export interface PlacementConstraint {
  /** The constraint as written, for messages. */
  expr: string;
  /** `name` for node.name, else the label key. */
  field: { kind: 'name' } | { kind: 'label'; key: string };
  op: '==' | '!=';
  value: string;
}

/** `spec.placement` of a Service: where its replicas may run and how they are spread. */
export interface PlacementSpec {
  /** spread (default): fewest replicas of the service first, then least allocated; binpack: most allocated first. */
  strategy: 'spread' | 'binpack';
  constraints: PlacementConstraint[];
  /** At most this many replicas of the service on one node; absent = no limit. */
  maxPerNode?: number;
  /** Spread evenly over the values of this node label (e.g. zone) before anything else. */
  topologySpreadKey?: string;
  /** Higher wins; a replica that fits nowhere may evict replicas at least 10 lower. Default 0. */
  priority: number;
}

/** When berth asks the image's registry (images/resolver.ts): `Never` runs only what the node has. */
export type PullPolicy = 'IfNotPresent' | 'Always' | 'Never';

/** spec.imagePolicy: which newer tag of spec.image berth commits to git (images/image-policy.ts, images/automation.ts). */
export interface ImagePolicySpec {
  semver?: string;
  pattern?: string;
  order?: 'numerical' | 'alphabetical';
  extract?: string;
  /** How often the registry's tag list is read, ms (default 5 min). */
  intervalMs: number;
}

/**
 * How each replica's process runs, besides image and command (docker run's flags; compose's service fields). Only the
 * fields the manifest sets are present: absent ones keep the spec hash of a berth without them.
 */
export interface ContainerSettings {
  entrypoint?: string[];
  user?: string;
  workingDir?: string;
  /** The Docker container name of the (single) replica instead of berth's own (compose container_name); replicas <= 1. */
  containerName?: string;
  /** The container's host name (docker run --hostname, compose hostname); default the container id's first 12 digits. */
  hostname?: string;
  /** Keep STDIN open (docker run -i, compose stdin_open). */
  stdinOpen?: boolean;
  /** Allocate a pseudo-TTY (docker run -t, compose tty). */
  tty?: boolean;
  readOnly?: boolean;
  tmpfs?: { path: string; sizeBytes?: number; mode?: string }[];
  ulimits?: Record<string, { soft: number; hard: number }>;
  sysctls?: Record<string, string>;
  extraHosts?: string[];
  stopSignal?: string;
  stopGracePeriodMs?: number;
  securityOpt?: string[];
}

export interface ServiceSpec {
  image?: string;
  /** Set only when the manifest sets one of its fields (spec.entrypoint, user, workingDir, readOnly, tmpfs, ...). */
  container?: ContainerSettings;
  /** Defaulted: Always for `:latest` or no tag, IfNotPresent otherwise (as Kubernetes); not in the spec hash. */
  pullPolicy: PullPolicy;
  /** Not in the spec hash: it changes git, never a replica by itself. */
  imagePolicy?: ImagePolicySpec;
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
  /** Names of the services this one depends on (spec.dependsOn, as names whatever the condition). */
  dependsOn: string[];
  /**
   * Those of dependsOn with `condition: healthy` (compose's service_healthy): a create, start or replacement of this
   * service waits until every replica of each is ready. Absent = none. Not in the spec hash, like dependsOn.
   */
  healthyDependencies?: string[];
  /** The autoscaler's bounds and targets (spec.autoscale); not in the spec hash. While set, replicas is the starting count. */
  autoscale?: AutoscaleSpec;
  /** Operator-side load balancing; not part of the spec hash (changing it never replaces containers). */
  loadBalancer?: LoadBalancerSpec;
  /** Scheduling across nodes; not part of the spec hash (a change moves nothing that runs, it applies to new placements). */
  placement: PlacementSpec;
  /** Set only when the manifest has spec.securityContext: absent keeps the spec hash of a berth without the field. */
  securityContext?: SecurityContext;
  /** Files of `kind: Secret`s delivered into each replica (spec.secrets); set only when the manifest has some. */
  secrets?: ServiceSecretRef[];
  /** Files or directories of the repository copied into each replica before it starts (spec.files); set only when the manifest has some. */
  files?: ServiceFile[];
  /** Mount paths of anonymous engine volumes, one per replica, removed with it (spec.anonymousVolumes); set only when the manifest has some. */
  anonymousVolumes?: string[];
  /**
   * Networks of the namespace the replicas join (spec.networks), each with the service name and `aliases` as DNS names;
   * `default` is the namespace's own network. Set only when the manifest has spec.networks: absent = the namespace's
   * network alone, with the spec hash of a berth without the field.
   */
  networks?: ServiceNetworkRef[];
}

/** One entry of a Service's spec.networks: a Network of its namespace (or `default`) and extra DNS aliases on it. */
export interface ServiceNetworkRef {
  name: string;
  aliases: string[];
}

/** One entry of a Service's spec.files: a file or directory of the repository, copied into each replica. */
export interface ServiceFile {
  /** Relative to the manifests root, inside the repository; exactly one of source and content. */
  source?: string;
  /** The content of the file itself (compose configs with `content:`), instead of a source. */
  content?: string;
  /** Absolute path in the container: the file, or the directory the tree is copied to. */
  target: string;
  /** Owner and group of the files (default 0). */
  uid?: number;
  gid?: number;
  /** Octal mode of the files ("0644"); absent = each file's git mode (0644, or 0755 for executables). */
  mode?: string;
}

/** One entry of a Service's spec.secrets: items of a Secret of its namespace, delivered as files. */
export interface ServiceSecretRef {
  /** Name of a Secret in the Service's namespace. */
  secret: string;
  /** One item of it; absent = every item, each a file named by its key. */
  key?: string;
  /** Absolute path in the container: the file (with key) or the directory (without); default /run/secrets/<secret>[/<key>]. */
  target: string;
  /**
   * Delivered as this environment variable instead of a file (the Secret's one item, or `key`); target, mode and
   * owner are then unused. Visible in `docker inspect`, unlike a file.
   */
  env?: string;
  /** Octal file mode, default "0400". */
  mode: string;
  uid?: number;
  gid?: number;
}

/** `kind: Secret`: a file of the repository, encrypted (SOPS or age); decrypted only on the operator at apply time. */
export interface SecretSpec {
  /** Relative to the manifests root, inside the repository. */
  file: string;
  /** sops | age; absent = detected from the content. */
  format?: 'sops' | 'age';
}

export interface SecretManifest extends ManifestBase {
  kind: 'Secret';
  spec: SecretSpec;
}

/** `kind: Network`: a bridge network of a namespace; replicas of the Services that list it in spec.networks join it. */
export interface NetworkSpec {
  /** Only `bridge` (the engines berth runs on have no swarm for overlay networks). */
  driver: string;
  /** No route out of the host (Docker's Internal): its replicas reach each other only. Default false. */
  internal: boolean;
  /** Labels of the Docker network; keys starting with berth. are reserved. */
  labels: Record<string, string>;
}

export interface NetworkManifest extends ManifestBase {
  kind: 'Network';
  spec: NetworkSpec;
}

export interface VolumeSpec {
  driver: string;
  driverOpts: Record<string, string>;
  /** Retained volumes are never deleted by berth, even when their manifest is removed. Default true. */
  retain: boolean;
}

/**
 * The fields of a Service's spec that shape its containers and that a Job shares (schemas/job.schema.json `$ref`s the
 * same definitions): image or build, command, env, resources, volumes, secrets, files, networks, placement and the
 * container settings. Not a Job's: replicas, ports, restart, update, health, autoscale, loadBalancer, dependsOn,
 * imagePolicy and container.containerName (its schema refuses them, saying why).
 */
export type JobContainerField =
  | 'image' | 'container' | 'pullPolicy' | 'build' | 'command' | 'env' | 'resources' | 'volumes' | 'placement'
  | 'securityContext' | 'secrets' | 'files' | 'anonymousVolumes' | 'networks';

/** `kind: Job`: run-to-completion containers; runs once per spec hash (a changed spec is a new run). */
export interface JobSpec extends Pick<ServiceSpec, JobContainerField> {
  /** Containers that must exit 0 for the Job to succeed; default 1. */
  completions: number;
  /** Containers running at a time, at most completions; default 1. */
  parallelism: number;
  /** Failed containers retried (10 s doubling, 6 min cap) before the Job fails with BackoffLimitExceeded; default 6. */
  backoffLimit: number;
  /** Kill and fail (DeadlineExceeded) after running this long, ms; absent = no deadline. */
  activeDeadlineMs?: number;
  /** Remove the finished Job's containers this long after it finished, ms (the status record stays); absent = kept. */
  ttlAfterFinishedMs?: number;
}

export interface JobManifest extends ManifestBase {
  kind: 'Job';
  spec: JobSpec;
}

/** What a CronJob does at a scheduled time while one of its runs is still going. */
export type ConcurrencyPolicy = 'Allow' | 'Forbid' | 'Replace';

/** `kind: CronJob`: a Job (jobTemplate) started at each time of a cron schedule. */
export interface CronJobSpec {
  /** A 5-field cron expression or an @hourly-style macro, read in timeZone. */
  schedule: string;
  /** IANA time zone; default UTC. */
  timeZone: string;
  /** Default Allow. */
  concurrencyPolicy: ConcurrencyPolicy;
  /** A run that cannot start within this long after its scheduled time is skipped and reported, ms; absent = no deadline. */
  startingDeadlineMs?: number;
  /** No new run is started; default false. */
  suspend: boolean;
  /** Finished runs kept: successful default 3, failed default 1. */
  successfulRunsHistory: number;
  failedRunsHistory: number;
  /** The Job each run starts. */
  jobTemplate: { spec: JobSpec };
}

export interface CronJobManifest extends ManifestBase {
  kind: 'CronJob';
  spec: CronJobSpec;
}

/** What every manifest has besides kind and spec. */
export interface ManifestBase {
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

/** One backend of a Route rule: a Service of the Route's namespace and its share of the rule's requests. */
export interface RouteBackend {
  service: string;
  /** Integer >= 0; the weights of one rule must sum to more than 0. */
  weight: number;
}

/** Requests whose Host matches `host` (absent = any host) and whose path starts with `pathPrefix` go to `backends`. */
export interface RouteRule {
  /** Exact host name, or `*.example.com` for any subdomain; compared case-insensitively, port ignored. */
  host?: string;
  /** Default `/`. Matches whole segments: `/api` matches /api and /api/x, not /apix. */
  pathPrefix: string;
  backends: RouteBackend[];
}

/** One certificate of a TLS Route (`spec.tls[]`, like a Kubernetes Ingress's): PEM files on the operator host. */
export interface RouteTls {
  /** Names it serves (exact or `*.example.com`), each covered by one of the Route's rule hosts. */
  hosts: string[];
  /** Absolute paths under an --allow-host-path prefix; reloaded when the files change. */
  cert: string;
  key: string;
}

/** `spec.redirectToHttps`: a plain HTTP listener answering 301 to the same host and path on the TLS port. */
export interface RouteRedirect {
  port: number;
  /** Listen address; default the Route's publish.host (else the operator's --proxy-host). */
  host?: string;
}

/** `kind: Route`: external HTTP access with host / path-prefix rules and weighted backends (canaries). */
export interface RouteSpec {
  publish: PublishSpec;
  rules: RouteRule[];
  /** Set = the port serves HTTPS only, with these certificates (SNI); absent = plain HTTP. */
  tls?: RouteTls[];
  redirectToHttps?: RouteRedirect;
}

export interface RouteManifest extends ManifestBase {
  kind: 'Route';
  spec: RouteSpec;
}

/** `kind: Node`: a Docker engine berth schedules onto. With no Node declared, the local engine is the single node `local`. */
export interface NodeSpec {
  /** `unix:///var/run/docker.sock`, `tcp://host:2376` (with tls), or `npipe://...`. */
  endpoint: string;
  /** Client TLS files on the operator host (never their content in git): CA, client certificate and key. */
  tls?: { ca: string; cert: string; key: string };
  labels: Record<string, string>;
  /** Schedulable capacity; absent fields default to what the engine reports (NCPU, MemTotal). */
  capacity: { cpu?: number; memory?: number };
  /** No new replicas are placed here (running ones stay), like `kubectl cordon`. */
  unschedulable: boolean;
}

export interface NodeManifest extends ManifestBase {
  kind: 'Node';
  spec: NodeSpec;
}

/**
 * The typed manifest of each kind. A kind of operator/manifests/kinds/ that is not listed here adds its own by declaration
 * merging in its folder (`declare module '../../model/manifest.ts' { interface ManifestsByKind { Note: NoteManifest } }`).
 */
export interface ManifestsByKind {
  Service: ServiceManifest;
  Volume: VolumeManifest;
  Route: RouteManifest;
  Node: NodeManifest;
  Secret: SecretManifest;
  Network: NetworkManifest;
  Job: JobManifest;
  CronJob: CronJobManifest;
}

export type Manifest = ManifestsByKind[keyof ManifestsByKind];
export type ManifestKind = Manifest['kind'];
