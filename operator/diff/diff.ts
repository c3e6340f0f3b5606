/** plan = diff(desired, observed): a pure function; every action carries a reason and a cause. */
import { LABELS } from '../model/keys.ts';
import type { Action, Cause, Plan, PlanSummary } from '../model/plan.ts';
import { runRef, type DesiredJob, type DesiredService, type DesiredState, type ObservedContainer, type ObservedState } from '../model/state.ts';
import { containerDrift, shouldRestart, specChangeReason } from './drift.ts';
import { claimedBy, claims } from '../manifests/kinds/index.ts';
import { planJobs, type JobStatus } from '../jobs/plan.ts';
import { planCronJobs, templateJob, type CronJobStatus } from '../jobs/cron-plan.ts';
import { jobAsService } from '../jobs/container.ts';

/** What berth last applied for a service (spec hash and replica count); lets diff tell drift from change. */
export interface AppliedService {
  specHash: string;
  replicas: number;
}

export interface DiffOptions {
  instance: string;
  /** Services as last applied by this instance; absent → every difference counts as a change. */
  applied?: ReadonlyMap<string, AppliedService>;
  /** Containers whose liveness (or startup) probe failed, with why: they are replaced. */
  unhealthy?: ReadonlyMap<string, string>;
  /**
   * Nodes whose engine does not answer (`lost` is a subset of `unreachable`). Their containers get no action (the engine cannot take it); on `lost` nodes
   * (NotReady past the grace) they no longer count as replicas either, so their slots are created elsewhere, and once
   * the node is back the older duplicate is removed.
   */
  nodes?: { unreachable: ReadonlySet<string>; lost: ReadonlySet<string> };
  /** The clock Jobs are planned against (backoff, activeDeadline, ttlAfterFinished), ms since the epoch; absent: now. */
  now?: number;
  /** The `jobs` section of the previous status document: records of finished runs whose containers were removed. */
  jobRecords?: Readonly<Record<string, JobStatus>>;
  /** The `cronJobs` section of the previous status document: when each CronJob was first seen, its last time, its runs. */
  cronRecords?: Readonly<Record<string, CronJobStatus>>;
  /** CronJob runs asked for by hand, not yet on an engine (cron-plan.ts CronPlanInput.manual). */
  manualRuns?: Readonly<Record<string, readonly string[]>>;
}

/**
 * Computes the ordered actions that take `observed` to `desired`. Only objects a kind claims (kinds/index.ts `claims`:
 * their berth.kind label, or none on what berth created before it set the label) are paired or pruned: Service
 * containers and networks, Volume volumes; a container of another kind (berth.kind=Job) is never touched.
 */
export function diff(desired: DesiredState, observed: ObservedState, opts: DiffOptions): Plan {
  const byService = groupByService(observed.containers.filter((c) => claims('Service', 'container', c.labels)));
  const actions: Action[] = [];
  const volumes = new Set(observed.volumes.map((v) => v.name));
  for (const v of desired.volumes) {
    if (!volumes.has(v.dockerName)) actions.push({ type: 'create-volume', volume: v, reason: `volume ${v.key} missing`, cause: 'change' });
  }
  // Networks come before every replica: a container is created attached to its namespace's network.
  const networks = new Set(observed.networks.map((n) => n.name));
  for (const n of desired.networks) {
    const what = n.name === undefined ? `of namespace ${n.namespace}` : `of Network ${n.key}`;
    if (!networks.has(n.dockerName)) actions.push({ type: 'create-network', network: n, reason: `network ${n.dockerName} ${what} missing`, cause: 'change' });
  }
  const built = new Set<string>();
  for (const svc of orderByDependencies(desired.services)) {
    if (svc.image.type === 'build' && observed.images[svc.image.ref] === undefined && !built.has(svc.image.ref)) {
      built.add(svc.image.ref);
      actions.push({ type: 'build-image', service: svc.key, desired: svc, reason: `image ${svc.image.ref} not built yet (context ${svc.image.context})`, cause: 'change' });
    }
    const serviceActions = diffService(svc, byService.get(svc.key) ?? [], observed, opts);
    const pull = pullAction(svc, observed, serviceActions);
    if (pull) actions.push(pull);
    actions.push(...serviceActions);
    byService.delete(svc.key);
  }
  // Jobs (jobs/plan.ts): their runs from the containers Job claims; a Job's namespace network is created like a Service's.
  const jobs = planJobs({
    jobs: desired.jobs ?? [], containers: claimedBy('Job', 'container', observed.containers), now: opts.now ?? Date.now(),
    ...(opts.jobRecords ? { previous: opts.jobRecords } : {}), ...(opts.nodes ? { unreachable: opts.nodes.unreachable, lost: opts.nodes.lost } : {}),
  });
  // CronJobs (jobs/cron-plan.ts): each scheduled time a run of the template, from the containers CronJob claims.
  const crons = planCronJobs({
    cronJobs: desired.cronJobs ?? [], containers: claimedBy('CronJob', 'container', observed.containers), now: opts.now ?? Date.now(),
    ...(opts.cronRecords ? { previous: opts.cronRecords } : {}), ...(opts.manualRuns ? { manual: opts.manualRuns } : {}), ...(opts.nodes ? { unreachable: opts.nodes.unreachable, lost: opts.nodes.lost } : {}),
  });
  actions.unshift(...jobNetworks(desired, networks, [...jobs.actions, ...crons.actions]));
  actions.push(...jobBuilds(desired, observed, built, [...jobs.actions, ...crons.actions]));
  actions.push(...jobs.actions, ...crons.actions);
  const wakeAt = Math.min(jobs.wakeAt ?? Infinity, crons.wakeAt ?? Infinity);
  for (const [key, containers] of [...byService].sort(([a], [b]) => a.localeCompare(b))) {
    for (const c of containers) {
      if (c.node && opts.nodes?.unreachable.has(c.node)) continue; // pruned once its node answers again
      actions.push({ type: 'remove', service: key, container: c, prune: true, reason: `service ${key} is not in revision ${desired.revision.slice(0, 7)}`, cause: 'change' });
    }
  }
  const desiredVolumes = new Set(desired.volumes.map((v) => v.dockerName));
  for (const v of observed.volumes) {
    if (desiredVolumes.has(v.name) || v.labels[LABELS.retain] !== 'false' || !claims('Volume', 'volume', v.labels)) continue;
    actions.push({ type: 'remove-volume', name: v.name, reason: `volume ${v.name} is not in the revision and not retained`, cause: 'change' });
  }
  actions.push(...networkRemovals(desired, observed));
  const held = jobHolds(desired, jobs.statuses);
  return { revision: desired.revision, actions, ...(Number.isFinite(wakeAt) ? { wakeAt } : {}), ...(held ? { heldByJobs: held } : {}) };
}

/**
 * Services naming a Job of their namespace in dependsOn (the migration before the rollout): until that Job's run of
 * this revision has succeeded, their new replicas wait (planPass keeps the creates and replacements out of what
 * runs; the old replicas keep running and healing). Service key -> why; undefined when none waits.
 */
function jobHolds(desired: DesiredState, statuses: Readonly<Record<string, JobStatus>>): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const svc of desired.services) {
    const waits = svc.spec.dependsOn.flatMap((d) => {
      const status = statuses[`${svc.namespace}/${d}`];
      if (!status || status.phase === 'Succeeded') return [];
      return [`job ${svc.namespace}/${d} ${status.phase === 'Failed' ? `failed (${status.reason ?? 'failed'}): ${status.message ?? ''}`.trim() : `has not succeeded yet (${status.phase.toLowerCase()})`}`];
    });
    if (waits.length) out[svc.key] = `waiting for jobs: ${waits.join('; ')}`;
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * Images built from the repository for Jobs and CronJob templates: a Service's build-image action, the Job seen as a
 * Service (jobs/container.ts), so one build path (context, BuildKit, cache, labels, errors; apply skips the runs of
 * a Job whose build failed). A Job's is built when a run of it is about to start; a CronJob's as soon as it is missing
 * (unless suspended), so that a scheduled time does not wait for a build.
 */
function jobBuilds(desired: DesiredState, observed: ObservedState, built: Set<string>, jobActions: readonly Action[]): Action[] {
  const out: Action[] = [];
  const want = (job: DesiredJob, what: string): void => {
    if (job.image.type !== 'build' || observed.images[job.image.ref] !== undefined || built.has(job.image.ref)) return;
    built.add(job.image.ref);
    out.push({ type: 'build-image', service: job.key, job: job.key, desired: jobAsService(job), reason: `image ${job.image.ref} of ${what} not built yet (context ${job.image.context})`, cause: 'change' });
  };
  for (const a of jobActions) if (a.type === 'run-job') want(a.desired, `${a.kind === 'Job' ? 'job' : 'cronjob'} ${a.job}`);
  for (const cron of desired.cronJobs ?? []) if (!cron.spec.suspend) want(templateJob(cron), `cronjob ${cron.key}`);
  return out;
}

/** The namespace networks Jobs (and CronJob runs) about to run need that no Service's namespace brings (Network kinds' are in desired.networks). */
function jobNetworks(desired: DesiredState, observed: ReadonlySet<string>, jobActions: readonly Action[]): Action[] {
  const known = new Set(desired.networks.map((n) => n.dockerName));
  const out = new Map<string, Action>();
  for (const a of jobActions) {
    if (a.type !== 'run-job' || observed.has(a.desired.network) || known.has(a.desired.network) || out.has(a.desired.network)) continue;
    out.set(a.desired.network, { type: 'create-network', network: { namespace: a.desired.namespace, dockerName: a.desired.network }, reason: `network ${a.desired.network} of namespace ${a.desired.namespace} missing (job ${a.desired.key})`, cause: 'change' });
  }
  return [...out.values()];
}

/**
 * A registry image missing on every node, needed by a create or replacement: pulled first (pullPolicy Never: never;
 * the create then fails with the engine's "not on the engine"). Each service pulls for its own nodes; the runtime
 * shares one pull per image and node.
 */
function pullAction(svc: DesiredService, observed: ObservedState, serviceActions: Action[]): Action | undefined {
  if (svc.image.type !== 'ref' || svc.spec.pullPolicy === 'Never') return undefined;
  const ref = runRef(svc.image);
  if (observed.images[ref] !== undefined) return undefined;
  const needs = serviceActions.find((a) => a.type === 'create' || a.type === 'replace');
  if (!needs) return undefined;
  const what = svc.image.digest ? `${svc.image.ref} (${svc.image.digest})` : svc.image.ref;
  return { type: 'pull-image', service: svc.key, desired: svc, ref, reason: `image ${what} is not on the node`, cause: needs.cause };
}

/**
 * Networks of the instance (claimed by Service) that no namespace of the revision uses, removed last (after the
 * prunes that detach their containers). A revision without services removes none: an empty revision never prunes.
 */
function networkRemovals(desired: DesiredState, observed: ObservedState): Action[] {
  if (desired.services.length === 0) return [];
  const wanted = new Set([...desired.networks.map((n) => n.dockerName), ...(desired.jobs ?? []).map((j) => j.network), ...(desired.cronJobs ?? []).map((c) => templateJob(c).network)]);
  // A namespace's network (claimed by Service) or a Network's (claimed by Network): one mechanism, deferred while in use.
  const ours = observed.networks.filter((n) => claims('Service', 'network', n.labels) || claims('Network', 'network', n.labels));
  const names = [...new Set(ours.map((n) => n.name))].filter((name) => !wanted.has(name)).sort();
  return names.map((name) => ({ type: 'remove-network', name, reason: `network ${name} is not used by any service of revision ${desired.revision.slice(0, 7)}`, cause: 'change' }));
}

function diffService(svc: DesiredService, all: ObservedContainer[], observed: ObservedState, opts: DiffOptions): Action[] {
  const lost = opts.nodes?.lost;
  const containers = lost?.size ? all.filter((c) => !c.node || !lost.has(c.node)) : all;
  const unreachable = opts.nodes?.unreachable;
  return serviceActions(svc, containers, observed, opts).filter((a) => !unreachable?.size || !touchesNode(a, unreachable));
}

/** True when the action needs a container on one of `nodes`. */
function touchesNode(a: Action, nodes: ReadonlySet<string>): boolean {
  const c = 'container' in a ? a.container : 'old' in a ? a.old : undefined;
  return c?.node !== undefined && nodes.has(c.node);
}

function serviceActions(svc: DesiredService, containers: ObservedContainer[], observed: ObservedState, opts: DiffOptions): Action[] {
  const applied = opts.applied?.get(svc.key);
  const settled = applied !== undefined && applied.specHash === svc.specHash && applied.replicas === svc.spec.replicas;
  const cause: Cause = settled ? 'drift' : 'change';
  const slots = groupBySlot(containers);
  const actions: Action[] = [];
  const imageId = observed.images[runRef(svc.image)];
  for (let replica = 1; replica <= svc.spec.replicas; replica++) {
    actions.push(...diffSlot(svc, replica, slots.get(replica) ?? [], imageId, cause, opts));
    slots.delete(replica);
  }
  for (const [replica, extra] of slots) {
    for (const c of extra) {
      const reason = Number.isInteger(replica) && replica > svc.spec.replicas
        ? `scale down to ${svc.spec.replicas}: replica ${replica} not needed`
        : `container ${c.name} has no valid replica label`;
      actions.push({ type: 'remove', service: svc.key, container: c, reason, cause });
    }
  }
  return actions;
}

function diffSlot(svc: DesiredService, replica: number, containers: ObservedContainer[], imageId: string | undefined, cause: Cause, opts: DiffOptions): Action[] {
  const current = containers.filter((c) => c.labels[LABELS.specHash] === svc.specHash).sort(byPreference);
  const stale = containers.filter((c) => c.labels[LABELS.specHash] !== svc.specHash).sort(byPreference);
  const base = { service: svc.key };
  const actions: Action[] = [];
  const [keep, ...dupes] = current;
  for (const c of dupes) actions.push({ ...base, type: 'remove', container: c, reason: `duplicate of replica ${replica} (${keep?.name})`, cause: 'drift' });
  if (!keep) {
    const [old, ...olderStill] = stale;
    if (!old) return [{ ...base, type: 'create', replica, desired: svc, reason: replicaMissingReason(svc, replica, cause), cause }];
    actions.push({ ...base, type: 'replace', replica, desired: svc, old, reason: specChangeReason(svc, old), cause: 'change' });
    for (const c of olderStill) actions.push({ ...base, type: 'remove', container: c, reason: `older container of replica ${replica}`, cause: 'change' });
    return actions;
  }
  const sick = opts.unhealthy?.get(keep.id);
  if (sick) actions.push({ ...base, type: 'replace', replica, desired: svc, old: keep, reason: sick, cause: 'heal' });
  else actions.push(...keepActions(svc, replica, keep, imageId, cause, opts.instance));
  // A stale container beside a current one is the second half of an interrupted replace: removed once the new one runs.
  for (const c of stale) actions.push({ ...base, type: 'remove', container: c, reason: `replaced by ${keep.name}`, cause: 'change' });
  return actions;
}

function keepActions(svc: DesiredService, replica: number, c: ObservedContainer, imageId: string | undefined, cause: Cause, instance: string): Action[] {
  const base = { service: svc.key };
  const drift = containerDrift(instance, svc, replica, c, imageId);
  if (drift.replace.length) return [{ ...base, type: 'replace', replica, desired: svc, old: c, reason: `drift: ${drift.replace.join('; ')}`, cause: 'drift' }];
  const actions: Action[] = [];
  if (drift.update.length) actions.push({ ...base, type: 'update', container: c, desired: svc, reason: `drift: ${drift.update.join('; ')}`, cause: 'drift' });
  if (c.status === 'paused') actions.push({ ...base, type: 'unpause', container: c, reason: `drift: ${c.name} is paused`, cause: 'drift' });
  if ((c.status === 'exited' || c.status === 'created' || c.status === 'dead') && shouldRestart(svc, c)) {
    const reason = c.status === 'created' ? `${c.name} was created but never started` : `drift: ${c.name} exited with code ${c.exitCode}`;
    if (c.status === 'dead') return [{ ...base, type: 'replace', replica, desired: svc, old: c, reason: `drift: ${c.name} is dead`, cause: 'drift' }];
    actions.push({ ...base, type: 'start', container: c, reason, cause: c.status === 'created' ? cause : 'drift' });
  }
  return actions;
}

function replicaMissingReason(svc: DesiredService, replica: number, cause: Cause): string {
  if (cause === 'drift') return `drift: replica ${replica} of ${svc.key} is missing`;
  return `replica ${replica}/${svc.spec.replicas} of ${svc.key} to create`;
}

/** Running first, then newest. */
function byPreference(a: ObservedContainer, b: ObservedContainer): number {
  const ra = a.status === 'running' ? 0 : 1;
  const rb = b.status === 'running' ? 0 : 1;
  return ra - rb || b.createdAt.localeCompare(a.createdAt) || a.name.localeCompare(b.name);
}

function groupByService(containers: ObservedContainer[]): Map<string, ObservedContainer[]> {
  const out = new Map<string, ObservedContainer[]>();
  for (const c of containers) {
    const key = `${c.labels[LABELS.namespace]}/${c.labels[LABELS.service]}`;
    out.set(key, [...(out.get(key) ?? []), c]);
  }
  return out;
}

function groupBySlot(containers: ObservedContainer[]): Map<number, ObservedContainer[]> {
  const out = new Map<number, ObservedContainer[]>();
  for (const c of containers) {
    const n = Number(c.labels[LABELS.replica]);
    const slot = Number.isInteger(n) && n >= 1 ? n : Number.NaN;
    out.set(slot, [...(out.get(slot) ?? []), c]);
  }
  return out;
}

/** Dependencies before dependents (dependsOn within a namespace); ties keep key order. */
export function orderByDependencies(services: DesiredService[]): DesiredService[] {
  const byKey = new Map(services.map((s) => [s.key, s]));
  const done = new Set<string>();
  const out: DesiredService[] = [];
  // Depth-first with an explicit stack: a long dependsOn chain must not overflow the call stack.
  for (const root of services) {
    if (done.has(root.key)) continue;
    const seen = new Set([root.key]);
    const stack = [{ s: root, next: 0 }];
    while (stack.length > 0) {
      const f = stack[stack.length - 1]!;
      const dep = f.s.spec.dependsOn[f.next++];
      if (dep === undefined) {
        stack.pop();
        done.add(f.s.key);
        out.push(f.s);
        continue;
      }
      const d = byKey.get(`${f.s.namespace}/${dep}`);
      if (!d || done.has(d.key) || seen.has(d.key)) continue;
      seen.add(d.key);
      stack.push({ s: d, next: 0 });
    }
  }
  return out;
}

/** Counts actions by kind, for the one-line summary. */
export function summarize(plan: Plan): PlanSummary {
  const s: PlanSummary = { create: 0, replace: 0, update: 0, remove: 0, other: 0 };
  for (const a of plan.actions) {
    if (a.type === 'create') s.create++;
    else if (a.type === 'replace') s.replace++;
    else if (a.type === 'update' || a.type === 'start' || a.type === 'unpause') s.update++;
    else if (a.type === 'remove') s.remove++;
    else s.other++;
  }
  return s;
}
