/** What the commands share: engines, source, load options, secrets, the reconciler and the monitor, from typed settings. */
import path from 'node:path';
import Docker from 'dockerode';
import { HealthMonitor, type HealthChange, type ProbeRun } from '../health/monitor.ts';
import { loadDesired, type LoadOptions } from '../manifests/index.ts';
import type { NodeSpec } from '../model/manifest.ts';
import { Reconciler, type Cluster, type DriftMode, type ReconcilerEvent } from '../reconciler/reconciler.ts';
import type { ReconcilerDeps } from '../reconciler/types.ts';
import { clusterView } from '../runtime/cluster.ts';
import { createDockerRuntime, dockerOptionsFromEndpoint } from '../runtime/docker.ts';
import { DEFAULT_SOCKET } from '../runtime/docker-options.ts';
import { dockerNodeConnection, nodeDockerOptions } from '../runtime/docker-node.ts';
import { createMultiRuntime, type MultiRuntime } from '../runtime/multi.ts';
import { NodePool } from '../runtime/node-pool.ts';
import type { ContainerRuntime } from '../runtime/runtime.ts';
import type { LogSettings, ManifestSettings, RunSettings, SourceSettings } from '../settings/settings.ts';
import { openGitSource } from '../source/git-source.ts';
import type { GitHistory, GitSource } from '../source/source.ts';
import { createLogger, silentLogger, type Logger } from '../util/log.ts';
import { Redactor } from '../util/redact.ts';
import { imageAccess, type ImageAccess } from '../images/access.ts';
import { SecretStore } from '../apply/secret-resolver.ts';
import { readComposeEnv } from '../compose/host-env.ts';

export interface Io {
  /** Writes a line to standard output. */
  out(text: string): void;
  /** Writes a line to standard error. */
  err(text: string): void;
}

export function logger(s: LogSettings): Logger {
  return createLogger({ level: s.level, json: s.json });
}

/** The pieces of the engines: the --docker client, the runtime over every node, the node pool. */
export interface Engines {
  docker: Docker;
  runtime: MultiRuntime;
  pool: NodePool;
}

/**
 * Connects to the engines: the node pool (the --docker engine as node `local` until the revision declares Nodes) and
 * one runtime over all of them. An unreachable engine at start-up is a one-line E_DOCKER error.
 */
export async function connectEngine(s: SourceSettings, graceMs: number, log: Logger = silentLogger, onNodeChange?: () => void, images?: ImageAccess): Promise<Engines> {
  const endpoint = s.docker;
  const docker = new Docker(dockerOptionsFromEndpoint(endpoint));
  const local: NodeSpec = { endpoint: endpoint ?? process.env.DOCKER_HOST ?? `unix://${DEFAULT_SOCKET}`, labels: {}, capacity: {}, unschedulable: false };
  const pool = new NodePool({
    local, log, graceMs, pingMs: 1_000,
    // the local node reuses the --docker client; declared nodes get their own (TLS files read here, on the operator host)
    connect: (name, spec) => dockerNodeConnection(spec === local ? docker : new Docker(nodeDockerOptions(name, spec))),
    onChange: () => onNodeChange?.(),
  });
  const runtime = createMultiRuntime(pool, log, { pullConcurrency: s.images.pullConcurrency, ...(images ? { pullAuth: (ref) => images.pullAuth(ref) } : {}) });
  await createDockerRuntime(docker).ping();
  await pool.pingAll();
  return { docker, runtime, pool };
}

/** The registries of plan, apply and run, from the settings; credentials it hands out are registered with `redact`. */
export function registryAccess(s: SourceSettings, log: Logger, redact?: Redactor): ImageAccess {
  return imageAccess(s.images, log, (secret) => redact?.add(secret));
}

/** The node grace of plan and apply (berth run has --node-grace). */
export const DEFAULT_NODE_GRACE_MS = 10_000;

/** The health monitor (probes) of run and apply; `onChange` hears every transition. */
export function createMonitor(stateDir: string, runtime: ContainerRuntime, log: Logger, onChange?: (c: HealthChange) => void, onProbe?: (p: ProbeRun) => void): HealthMonitor {
  return new HealthMonitor({ runtime, log, scriptDir: path.join(stateDir, 'scripts'), onChange, ...(onProbe ? { onProbe } : {}) });
}

export async function connectSource(s: SourceSettings): Promise<GitSource & GitHistory> {
  return openGitSource({ repo: s.repo, branch: s.branch, cacheDir: s.stateDir });
}

/**
 * How every command loads a revision: the manifests path, the size limits, the host paths Volumes may mount, the
 * compose profiles, and the --compose-env variables (the file read here, once per load).
 */
export function loadOptions(m: ManifestSettings, instance: string): LoadOptions {
  return {
    instance, path: m.path, allowHostPaths: m.allowHostPaths, allowDockerSocket: m.allowDockerSocket, maxFileSize: m.maxFileSize, maxRevisionSize: m.maxRevisionSize,
    ...(m.composeProfiles?.length ? { composeProfiles: m.composeProfiles } : {}),
    ...(m.composeEnvFile ? { composeEnv: readComposeEnv(m.composeEnvFile) } : {}),
  };
}

/** Every secret the operator holds, so that no log line, status or alert carries one. */
export function secretsOf(s: SourceSettings, run?: RunSettings): Redactor {
  const r = new Redactor().add(run?.webhookSecret).addUrlCredentials(s.repo);
  for (const line of (s.secrets?.env.SOPS_AGE_KEY ?? '').split(/\s+/)) r.add(line); // age identities
  if (run) r.add(run.githubToken);
  for (const url of run?.alertWebhooks ?? []) r.add(url);
  if (run?.logs.forwardUrl) r.add(run.logs.forwardUrl);
  return r;
}

export interface ReconcilerExtra {
  keepLastGood: boolean;
  drift: DriftMode;
  statusIntervalMs?: number;
  monitor?: HealthMonitor;
  notify?: (e: ReconcilerEvent) => void;
  beforeStop?: (id: string) => Promise<void>;
  cluster?: Cluster;
  onLateFetch?: () => void;
  redact?: Redactor;
  /** Registry access: tags resolved to digests each pass, credentials for pulls. */
  images?: ImageAccess;
  /** Decrypts kind: Secret files at create (secretStore). */
  secrets?: SecretStore;
  /** The replica counts of autoscaled services (berth run). */
  autoscaler?: ReconcilerDeps['autoscaler'];
  /** The clock of passes (absent: the system clock). */
  now?: () => Date;
  logsStatus?: ReconcilerDeps['logsStatus'];
  /** Services whose drift correction is paused (berth pause-drift). */
  driftPauses?: ReconcilerDeps['driftPauses'];
}

/** The resolver of kind: Secret files: identities from --age-key-file (or the SOPS variables), every value registered with `redact`. */
export function secretStore(s: SourceSettings, redact: Redactor): SecretStore {
  return new SecretStore({ ...(s.secrets.ageKeyFile ? { keyFile: s.secrets.ageKeyFile } : {}), env: s.secrets.env, redact: (value) => redact.add(value) });
}

export function reconciler(s: SourceSettings, source: GitSource, runtime: ContainerRuntime, log: Logger, extra: ReconcilerExtra): Reconciler {
  return new Reconciler({
    cluster: extra.cluster,
    onLateFetch: extra.onLateFetch,
    redact: extra.redact,
    ...(extra.secrets ? { secrets: extra.secrets } : {}),
    ...(extra.autoscaler ? { autoscaler: extra.autoscaler } : {}),
    ...(extra.now ? { now: extra.now } : {}),
    ...(extra.logsStatus ? { logsStatus: extra.logsStatus } : {}),
    ...(extra.driftPauses ? { driftPauses: extra.driftPauses } : {}),
    ...(extra.images ? { images: extra.images.resolver, pullAuth: (ref: string) => extra.images!.pullAuth(ref) } : {}),
    statusIntervalMs: extra.statusIntervalMs,
    beforeStop: extra.beforeStop,
    monitor: extra.monitor,
    notify: extra.notify,
    source, runtime, log, instance: s.instance,
    load: (snapshot) => loadDesired(snapshot, loadOptions(s.manifests, s.instance)),
    sourceInfo: { repo: source.description, branch: s.branch, path: s.manifests.path },
    drift: extra.drift,
    writeStatus: true,
    keepLastGood: extra.keepLastGood,
  });
}

/** The engines of the node pool as a pass needs them (`berth run` and `berth apply` alike). */
export function clusterOf(pool: NodePool, runtime: MultiRuntime, extra: Pick<Cluster, 'usage' | 'memoryHighMark' | 'settle'> = {}): Cluster {
  return { sync: (nodes) => pool.sync(nodes), view: () => clusterView(pool, runtime), ...extra };
}
