/**
 * Glue between a plan and the scheduler, pure: every `create` of the plan is a pending replica, and so is every
 * `run-job` (an attempt of a Job's or CronJob run's completion) not bound to a container made before; the scheduler
 * places them over the nodes given what already runs there. A create or run-job gets its node, an unschedulable one
 * leaves the plan (reported per Service / Job, retried every pass, never a failed attempt), and a preemption adds the
 * removal of its victims.
 */
import { LABELS } from '../model/keys.ts';
import { claimantOf, claimedBy } from '../manifests/kinds/index.ts';
import type { PlacementSpec } from '../model/manifest.ts';
import type { Action, CreateAction, Plan, RunJobAction } from '../model/plan.ts';
import type { DesiredState, ObservedState } from '../model/state.ts';
import { schedule } from '../scheduler/schedule.ts';
import type { Placed, SchedNode, SchedReplica } from '../scheduler/types.ts';

const NO_PLACEMENT: PlacementSpec = { strategy: 'spread', constraints: [], priority: 0 };
/** A container of another kind (or of none): it takes room on its node, and a Service pass never evicts it. */
const RESIDENT: PlacementSpec = { strategy: 'spread', constraints: [], priority: Number.MAX_SAFE_INTEGER };

export interface PlacementResult {
  plan: Plan;
  /** Service key -> why some of its replicas wait (the first reason, with the count). */
  unschedulable: Map<string, string>;
  /** The creates left out because no node can take them (still to do: a pass with any is not converged). */
  waiting: CreateAction[];
  /** The Job attempts left out likewise (their Job's key is in `unschedulable`). */
  waitingJobs: RunJobAction[];
}

/**
 * The scheduler's key of a Job's run ("job shop/migrate run 0123abcd..."): its attempts spread over nodes (and count
 * against maxPerNode) per run, a completion is its replica number. Never a Service key (those have no space).
 */
export function jobRunKey(kind: 'Job' | 'CronJob', job: string, run: string): string {
  return `${kind === 'Job' ? 'job' : 'cronjob'} ${job} run ${run}`;
}


/** Where each replica goes. `lost` nodes' containers do not occupy anything any more. */
export function placeCreates(plan: Plan, desired: DesiredState, observed: ObservedState, nodes: SchedNode[], lost: ReadonlySet<string>): PlacementResult {
  const creates = plan.actions.filter((a): a is CreateAction => a.type === 'create');
  // A run-job of a container created before (never started) goes to that container's node: it is not placed again.
  const runs = plan.actions.filter((a): a is RunJobAction => a.type === 'run-job' && a.node === undefined);
  if (!creates.length && !runs.length) return { plan, unschedulable: new Map(), waiting: [], waitingJobs: [] };
  const services = new Map(desired.services.map((s) => [s.key, s]));
  const placed: Placed[] = [];
  for (const c of observed.containers) {
    if (!c.node || lost.has(c.node) || c.status === 'removing' || c.status === 'dead') continue;
    const kind = claimantOf('container', c.labels);
    const job = kind === 'Job' || kind === 'CronJob';
    // A Job's container holds room until it exited: a finished attempt takes none (Kubernetes' completed pods).
    if (job && c.status === 'exited') continue;
    const key = kind === 'Service' ? `${c.labels[LABELS.namespace]}/${c.labels[LABELS.service]}`
      : job ? jobRunKey(kind, `${c.labels[LABELS.namespace]}/${c.labels[LABELS.job]}`, c.labels[LABELS.run] ?? '')
      : `${kind ?? 'other'}:${c.name}`;
    const svc = services.get(key);
    placed.push({
      service: key, replica: Number(c.labels[job ? LABELS.completion : LABELS.replica]) || 0, node: c.node,
      cpu: c.nanoCpus > 0 ? c.nanoCpus / 1e9 : 0, memory: c.memory > 0 ? c.memory : 0,
      placement: kind === 'Service' ? svc?.spec.placement ?? NO_PLACEMENT : RESIDENT,
    });
  }
  const pending: SchedReplica[] = creates.map((a) => ({
    service: a.service, replica: a.replica,
    cpu: a.desired.spec.resources.cpu ?? 0, memory: a.desired.spec.resources.memory ?? 0,
    placement: a.desired.spec.placement,
  }));
  // A Job attempt is a pending replica of its run: the Job's resources and placement, like a Service replica's.
  const runKey = (a: RunJobAction) => jobRunKey(a.kind, a.job, a.run);
  const jobOf = new Map(runs.map((a) => [runKey(a), a.job]));
  for (const a of runs) {
    pending.push({ service: runKey(a), replica: a.completion, cpu: a.desired.spec.resources.cpu ?? 0, memory: a.desired.spec.resources.memory ?? 0, placement: a.desired.spec.placement });
  }
  const result = schedule({ nodes, placed, pending });
  const where = new Map(result.assignments.map((x) => [`${x.service}#${x.replica}`, x.node]));
  const unschedulable = new Map<string, string>();
  const waiting = new Map<string, { count: number; reason: string; job: boolean }>();
  for (const u of result.unschedulable) {
    const key = jobOf.get(u.service) ?? u.service;
    const w = waiting.get(key) ?? { count: 0, reason: u.reason, job: jobOf.has(u.service) };
    w.count++;
    waiting.set(key, w);
  }
  for (const [svc, w] of waiting) unschedulable.set(svc, `${w.count} ${w.job ? 'attempt' : 'replica'}(s) pending: ${w.reason}`);
  const actions: Action[] = [];
  const waitingCreates: CreateAction[] = [];
  const waitingJobs: RunJobAction[] = [];
  for (const a of plan.actions) {
    if (a.type === 'run-job' && a.node === undefined) {
      const node = where.get(`${runKey(a)}#${a.completion}`);
      if (node) actions.push({ ...a, node, reason: `${a.reason} on node ${node}` });
      else waitingJobs.push(a);
      continue;
    }
    if (a.type !== 'create') {
      actions.push(a);
      continue;
    }
    const node = where.get(`${a.service}#${a.replica}`);
    if (node) actions.push({ ...a, node, reason: `${a.reason} on node ${node}` });
    else waitingCreates.push(a);
  }
  const byId = new Map(claimedBy('Service', 'container', observed.containers).map((c) => [`${c.node}\0${c.labels[LABELS.namespace]}/${c.labels[LABELS.service]}#${c.labels[LABELS.replica]}`, c]));
  for (const e of result.evictions) {
    const c = byId.get(`${e.victim.node}\0${e.victim.service}#${e.victim.replica}`);
    if (c) actions.push({ type: 'remove', service: e.victim.service, container: c, reason: e.reason, cause: 'heal' });
  }
  return { plan: { ...plan, actions }, unschedulable, waiting: waitingCreates, waitingJobs };
}
