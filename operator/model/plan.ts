/** The plan is a value: ordered actions, each with a human reason. */
import type { DesiredJob, DesiredNetwork, DesiredService, DesiredVolume, ObservedContainer } from './state.ts';

/** Why an action exists: a new revision asks for it, the engine drifted from an applied revision, or a replica is unhealthy (self-healing). */
export type Cause = 'change' | 'drift' | 'heal';

interface ActionBase {
  service?: string;          // namespace/name
  /** The Job (namespace/name) the action is for: its actions run apart from the services' (apply.ts runJobs). */
  job?: string;
  reason: string;
  cause: Cause;
}

export interface BuildImageAction extends ActionBase { type: 'build-image'; service: string; desired: DesiredService }
/**
 * Pulls a service's registry image onto the nodes its creates and replacements of this plan go to, before any of its
 * containers is touched: a failed pull leaves the running replicas as they are (apply skips the service's actions).
 */
export interface PullImageAction extends ActionBase { type: 'pull-image'; service: string; desired: DesiredService; /** What is pulled: `name@digest` once pinned. */ ref: string }
export interface CreateVolumeAction extends ActionBase { type: 'create-volume'; volume: DesiredVolume }
export interface RemoveVolumeAction extends ActionBase { type: 'remove-volume'; name: string }
/** Creates a namespace's network (before any replica of that namespace). */
export interface CreateNetworkAction extends ActionBase { type: 'create-network'; network: DesiredNetwork }
/** Removes a network no desired service uses any more (after prunes). */
export interface RemoveNetworkAction extends ActionBase { type: 'remove-network'; name: string }
/** Create and start a replica. */
export interface CreateAction extends ActionBase { type: 'create'; service: string; replica: number; desired: DesiredService; /** Where the scheduler placed it (several nodes). */ node?: string }
/** Start-first (or stop-first) replacement of one replica by a container of the desired spec. */
export interface ReplaceAction extends ActionBase { type: 'replace'; service: string; replica: number; desired: DesiredService; old: ObservedContainer }
export interface StartAction extends ActionBase { type: 'start'; container: ObservedContainer }
export interface UnpauseAction extends ActionBase { type: 'unpause'; container: ObservedContainer }
/** Change resources / restart policy of a running container in place (docker update). */
export interface UpdateAction extends ActionBase { type: 'update'; container: ObservedContainer; desired: DesiredService }
/** Removes a container; `prune` when its whole service left the revision (done after every service is in place). */
export interface RemoveAction extends ActionBase { type: 'remove'; container: ObservedContainer; prune?: boolean }

/** Creates and starts one attempt of one completion of a Job's run (restart policy no: the engine never restarts it). */
export interface RunJobAction extends ActionBase {
  type: 'run-job'; job: string; desired: DesiredJob; completion: number; attempt: number;
  /** berth.run: a Job's spec hash (16 characters) or a CronJob's scheduled time (runId). */
  run: string;
  /** berth.kind of the container: a Job's run, or a run of a CronJob's template. */
  kind: 'Job' | 'CronJob';
  /** Where the scheduler placed the attempt (several nodes), or the node of its container created before; absent: the default engine. */
  node?: string;
}
/** Stops a running container of a Job (deadline passed, backoff limit reached) and keeps it: its exit stays observable. */
export interface StopJobAction extends ActionBase { type: 'stop-job'; job: string; container: ObservedContainer }

export type Action =
  | BuildImageAction | PullImageAction | CreateVolumeAction | RemoveVolumeAction | CreateNetworkAction | RemoveNetworkAction
  | CreateAction | ReplaceAction | StartAction | UnpauseAction | UpdateAction | RemoveAction | RunJobAction | StopJobAction;
export type ActionType = Action['type'];

export interface Plan {
  revision: string;
  actions: Action[];
  /** Services whose count is the autoscaler's (spec.autoscale): their range and the count the plan holds them at. Absent = none. */
  autoscaled?: { service: string; min: number; max: number; replicas: number }[];
  /** Services whose new replicas wait for a Job in their dependsOn to succeed, with why (their creates and replacements do not run). */
  heldByJobs?: Record<string, string>;
  /** When a Job's next retry, active deadline or TTL falls (ms since the epoch): a pass should run by then. Absent = none. */
  wakeAt?: number;
}

export interface PlanSummary {
  create: number;
  replace: number;
  update: number;
  remove: number;
  other: number;
}
