/**
 * The plan of one pass, pure and in one place: held updates applied to the desired state, diff, placement over the
 * nodes, evictions, and what a pass may run. `berth run`, `berth apply`, `berth plan` and pull request plans all call
 * it, so they cannot disagree about the same inputs.
 */
import { diff, type AppliedService } from '../diff/diff.ts';
import type { HeldUpdate } from '../model/healing.ts';
import type { Action, CreateAction, Plan, RemoveAction, RunJobAction } from '../model/plan.ts';
import type { DesiredService, DesiredState, ObservedState } from '../model/state.ts';
import type { SchedNode } from '../scheduler/types.ts';
import { placeCreates } from './placement.ts';
import { autoscaledReplicas } from '../autoscale/replicas.ts';
import type { JobStatus } from '../jobs/plan.ts';
import type { CronJobStatus } from '../jobs/cron-plan.ts';

/** The nodes as a plan needs them (absent: one engine, no scheduling). */
export interface PlanCluster {
  nodes: SchedNode[];
  /** Nodes whose engine does not answer now (their containers get no action). */
  unreachable: ReadonlySet<string>;
  /** NotReady past the grace: their replicas are created elsewhere. */
  lost: ReadonlySet<string>;
}

export interface PassInput {
  /** The revision's desired state, before held updates. */
  desired: DesiredState;
  observed: ObservedState;
  instance: string;
  /** Services as last applied (tells drift from change). */
  applied: ReadonlyMap<string, AppliedService>;
  /** Updates rolled back or paused, per service. */
  held?: ReadonlyMap<string, HeldUpdate>;
  /** The desired state in force before the revision (what a rolled-back service returns to). */
  previous?: DesiredState | null;
  /** Replicas whose liveness failed, with why (replaced). */
  unhealthy?: ReadonlyMap<string, string>;
  /** Scheduling over nodes; only used when the revision declares Nodes. */
  cluster?: PlanCluster;
  /** Removals the nodes need (memory pressure), added unless the plan removes the container anyway. */
  evictions?: readonly RemoveAction[];
  drift: 'correct' | 'detect';
  /** Services (`ns/name`) whose drift correction is paused (berth pause-drift): their drift actions stay pending, not run. */
  driftPaused?: ReadonlySet<string>;
  /** The autoscaler's counts by service key; an autoscaled service without one runs what runs (autoscale/replicas.ts). */
  autoscaled?: ReadonlyMap<string, number>;
  /** The clock Jobs are planned against (ms since the epoch; absent: now). */
  now?: number;
  /** The `jobs` section of the previous status (records of finished runs whose containers were removed). */
  jobRecords?: Readonly<Record<string, JobStatus>>;
  /** The `cronJobs` section of the previous status. */
  cronRecords?: Readonly<Record<string, CronJobStatus>>;
  /** CronJob runs asked for by hand, not yet on an engine. */
  manualRuns?: Readonly<Record<string, readonly string[]>>;
}

export interface PassPlan {
  /** The desired state in force (held rollbacks applied). */
  desired: DesiredState;
  /** Everything that differs, placed: what `berth plan` prints. */
  plan: Plan;
  /** What a pass may run now: without drift in detect mode, without replacements of paused services. */
  runnable: Action[];
  /** What still differs, the creates waiting for a node included. */
  pending: Plan;
  /** Service (or Job, CronJob) key -> why some replicas (Job attempts) fit on no node. */
  unschedulable: Map<string, string>;
  waiting: CreateAction[];
  /** Job attempts waiting for a node (in `pending`, not in `plan`). */
  waitingJobs: RunJobAction[];
}

/** Computes the plan of a pass. */
export function planPass(input: PassInput): PassPlan {
  const desired = effectiveDesired(autoscaledReplicas(input.desired, input.observed, input.autoscaled), input.held, input.previous ?? null);
  const scheduling = desired.nodes.length > 0 ? input.cluster : undefined;
  const diffed = diff(desired, input.observed, {
    instance: input.instance, applied: input.applied, unhealthy: input.unhealthy,
    ...(input.now !== undefined ? { now: input.now } : {}), ...(input.jobRecords ? { jobRecords: input.jobRecords } : {}),
    ...(input.cronRecords ? { cronRecords: input.cronRecords } : {}), ...(input.manualRuns ? { manualRuns: input.manualRuns } : {}),
    ...(scheduling ? { nodes: { unreachable: scheduling.unreachable, lost: scheduling.lost } } : {}),
  });
  const autoscaled = desired.services.flatMap((s) => (s.spec.autoscale ? [{ service: s.key, min: s.spec.autoscale.min, max: s.spec.autoscale.max, replicas: s.spec.replicas }] : []));
  let plan: Plan = autoscaled.length ? { ...diffed, autoscaled } : diffed;
  let unschedulable = new Map<string, string>();
  let waiting: CreateAction[] = [];
  let waitingJobs: RunJobAction[] = [];
  if (scheduling) {
    const placed = placeCreates(plan, desired, input.observed, scheduling.nodes, scheduling.lost);
    const removing = new Set(placed.plan.actions.flatMap((a) => (a.type === 'remove' ? [a.container.id] : [])));
    plan = { ...placed.plan, actions: [...placed.plan.actions, ...(input.evictions ?? []).filter((a) => !removing.has(a.container.id))] };
    ({ unschedulable, waiting, waitingJobs } = placed);
  }
  const paused = (a: Action) => a.type === 'replace' && a.cause === 'change' && input.held?.get(a.service)?.action === 'pause';
  // A Service naming a Job in dependsOn rolls out once that Job succeeded: its creates and replacements wait.
  const jobHeld = (a: Action) => (a.type === 'create' || a.type === 'replace') && plan.heldByJobs?.[a.service] !== undefined;
  const driftHeld = (a: Action) => a.cause === 'drift' && (input.drift === 'detect' || (a.service !== undefined && input.driftPaused?.has(a.service) === true));
  const runnable = plan.actions.filter((a) => !driftHeld(a) && !paused(a) && !jobHeld(a));
  for (const [service, why] of Object.entries(plan.heldByJobs ?? {})) if (!unschedulable.has(service)) unschedulable.set(service, why);
  const pending = waiting.length || waitingJobs.length ? { ...plan, actions: [...plan.actions, ...waiting, ...waitingJobs] } : plan;
  return { desired, plan, runnable, pending, unschedulable, waiting, waitingJobs };
}

/**
 * The desired state in force: a rolled-back service runs its previous spec (with the revision's replica count) until
 * a revision changes its spec; a paused one keeps the new spec. A hold whose failed spec is no longer asked for is void.
 */
export function effectiveDesired(desired: DesiredState, held: ReadonlyMap<string, HeldUpdate> | undefined, previous: DesiredState | null): DesiredState {
  if (!held?.size) return desired;
  const services: DesiredService[] = desired.services.map((svc) => {
    const h = held.get(svc.key);
    if (!h || h.failedSpecHash !== svc.specHash || h.action !== 'rollback') return svc;
    const prev = previous?.services.find((p) => p.key === svc.key);
    return prev && prev.specHash !== svc.specHash ? { ...prev, spec: { ...prev.spec, replicas: svc.spec.replicas } } : svc;
  });
  return { ...desired, services };
}
