/** What the reconciler takes and gives: its dependencies, the cluster it plans over, its events and a pass's result. */
import type { ApplyResult, RolloutOutcome } from '../apply/apply.ts';
import type { HealthMonitor } from '../health/monitor.ts';
import type { SecretResolver } from '../apply/secret-files.ts';
import type { BerthError } from '../model/errors.ts';
import type { CrashLoopInfo } from '../model/healing.ts';
import type { Plan } from '../model/plan.ts';
import type { DesiredState, ObservedState } from '../model/state.ts';
import type { PassTimeline } from './timeline.ts';
import type { ClusterView } from '../runtime/cluster.ts';
import type { ContainerRuntime, EngineAuth } from '../runtime/runtime.ts';
import type { ImageResolver } from '../images/resolver.ts';
import type { GitSource, RepoSnapshot } from '../source/source.ts';
import type { StatusDoc } from '../status/report.ts';
import type { Logger } from '../util/log.ts';
import type { AutoscaleStatus } from '../autoscale/controller.ts';
import type { Redactor } from '../util/redact.ts';
import type { JobFailure } from '../jobs/failures.ts';
import type { DriftPause } from '../healing/drift-pause.ts';

export type { ClusterView } from '../runtime/cluster.ts';

export type DriftMode = 'correct' | 'detect';

export interface ReconcilerDeps {
  source: GitSource;
  runtime: ContainerRuntime;
  log: Logger;
  /** Validates the manifests of a snapshot into desired state (throws ValidationError / BerthError). */
  load(snapshot: RepoSnapshot): Promise<DesiredState>;
  instance: string;
  sourceInfo: StatusDoc['source'];
  drift: DriftMode;
  /** Write status commits to the status branch (off for `plan`). */
  writeStatus: boolean;
  /** Never change anything on the engine (`plan`). */
  dryRun?: boolean;
  /** While the head revision is rejected, keep enforcing the last good one (default true; `berth apply` turns it off). */
  keepLastGood?: boolean;
  concurrency?: number;
  stopGraceSeconds?: number;
  /** Called before a replica's container is stopped (replaced, scaled down, pruned): the proxies drain it. */
  beforeStop?: (containerId: string) => Promise<void>;
  /** Several engines: the nodes to schedule onto and which of them do not answer. Absent: one engine, no scheduling. */
  cluster?: Cluster;
  now?: () => Date;
  /** Probes replicas, gates rolling updates and reports liveness failures (absent: no probes, no gating). */
  monitor?: HealthMonitor;
  /** Told about crash loops, rollbacks and failed passes (alerts). */
  notify?: (e: ReconcilerEvent) => void;
  /** Shortest time between status commits that are not transitions (default 30 s). */
  statusIntervalMs?: number;
  /** Longest a pass waits for a fetch while a good revision is in force (default 300 ms). */
  gitBudgetMs?: number;
  /** A fetch outlived a pass's budget and has finished: run another pass (the loop's trigger). */
  onLateFetch?: () => void;
  /** Removes secrets from what leaves the process (status documents, status commits). */
  redact?: Redactor;
  /** Resolves registry tags to digests each pass (absent: images run as written, never pulled). */
  images?: ImageResolver;
  /** Credentials for an image's registry, for pulls (X-Registry-Auth). */
  pullAuth?: (ref: string) => Promise<EngineAuth | undefined>;
  /** Decrypts the Secrets replicas name, at create; told before each apply which desired states are in force. */
  secrets?: SecretResolver & { remember(...states: (DesiredState | null | undefined)[]): void };
  /** The replica counts of autoscaled services, and what status shows of them (absent: what runs, clamped). */
  /** Services whose drift correction is paused (berth pause-drift, healing/drift-pause.ts); absent: none. */
  driftPauses?: { keys(): ReadonlySet<string>; list(): readonly DriftPause[] };
  /** The log store's problem, for the status (absent while it works). */
  logsStatus?: () => StatusDoc['logs'];
  autoscaler?: {
    counts(desired: DesiredState, observed: ObservedState): Map<string, number>;
    status(): ReadonlyMap<string, AutoscaleStatus>;
  };
}

/** The nodes of the cluster as a pass needs them. */
export interface Cluster {
  /** Connects the revision's Node manifests (none = the local engine); returns the nodes that could not be connected. */
  sync(nodes: DesiredState['nodes']): { name: string; error: string }[];
  view(): ClusterView;
  /** Memory in use per running container (for node memory pressure); absent: no pressure eviction. */
  usage?(ids: string[]): Promise<Record<string, number>>;
  /** Fraction of a node's memory capacity above which its lowest-priority replicas are stopped (default 0.9). */
  memoryHighMark?: number;
  /** Waits for the first answer of newly connected nodes (one-shot commands: every node; berth run: nodes not checked yet). */
  settle?(): Promise<void>;
}

export type ReconcilerEvent =
  | { kind: 'crashloop'; crash: CrashLoopInfo }
  | { kind: 'rollback'; rollout: RolloutOutcome; revision: string }
  | { kind: 'sync-failed'; error: BerthError; revision: string | null }
  /** A Job's run or a CronJob's run turned Failed (once per run, jobs/failures.ts). */
  | { kind: 'job-failed'; failure: JobFailure }
  /** A plan with changes of a revision is about to be applied (after-merge reporting sets `berth/sync` pending). */
  | { kind: 'applying'; revision: string; plan: Plan }
  /**
   * The first pass of a new revision in force planned it (once per revision per process, dry runs never): the
   * dashboard's record of what each applied revision changed (status/revision-plans.ts).
   */
  | { kind: 'revision-planned'; revision: string; base: string | null; plan: Plan; desired: DesiredState };

export interface PassResult {
  /** Where the pass's time went (timeline.ts). */
  timeline?: PassTimeline;
  revision: string | null;
  /** The plan computed against the engine before applying. */
  plan: Plan | null;
  applied: ApplyResult | null;
  /** What still differs after the pass. */
  pending: Plan | null;
  error: BerthError | null;
  /** The fetch of the revision failed (git unreachable): the pass went on with the revision in force. */
  fetchError: BerthError | null;
  status: StatusDoc;
  converged: boolean;
  /** When a pass is due earlier than the interval (a crash-loop backoff expiring, a rollback to converge). */
  wakeAt?: number;
  /** The desired state in force and what the engine reported last in this pass (registry, tests). */
  desired: DesiredState | null;
  observed: ObservedState | null;
}
