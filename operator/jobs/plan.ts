/**
 * Jobs run to completion, exactly once per spec hash, statelessly: a pure planner from the desired Jobs, the Job
 * containers the engine reports (their labels say which run, completion and attempt each is; their state, exit code
 * and finishedAt say how it went) and the clock, to actions and one status per Job. Nothing is remembered between
 * passes except the status record of a finished run whose containers were removed (ttlAfterFinished), read back from
 * the previous status document.
 */
import { LABELS } from '../model/keys.ts';
import type { Action } from '../model/plan.ts';
import type { DesiredJob, ObservedContainer } from '../model/state.ts';
import type { Health } from '../model/health.ts';

export type JobPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';
export type JobFailureReason = 'BackoffLimitExceeded' | 'DeadlineExceeded';

/** Base of the retry backoff (Kubernetes): 10 s, doubling per failure of the Job, capped at 6 min. */
export const JOB_BACKOFF_BASE_MS = 10_000;
export const JOB_BACKOFF_CAP_MS = 6 * 60_000;

/** One container of a Job's run. */
export interface JobAttemptStatus {
  completion: number;
  attempt: number;
  container: string;
  /** lost: running on a node NotReady past its grace (neither done nor failed: the completion gets a new attempt elsewhere). */
  state: 'created' | 'running' | 'succeeded' | 'failed' | 'lost';
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  node?: string;
  /** A finished attempt's last lines of output (stdout and stderr, redacted, cut; jobs/output.ts), merged in by the report. */
  output?: string[];
  /** Why a finished attempt has no `output` (the engine did not answer in time, its Secrets could not be registered...). */
  outputUnavailable?: string;
}

/** A Job's entry in the status document's `jobs` section (the fields every kind's entry has, and the run's record). */
export interface JobStatus {
  /** completions wanted. */
  desired: number;
  /** completions done (a container exited 0). */
  ready: number;
  health: Health;
  message?: string;
  replicas: { health: Health; ready: boolean }[];
  phase: JobPhase;
  reason?: JobFailureReason;
  /** The run: the first 16 characters of the spec hash (label berth.run). */
  run: string;
  /** Failed attempts of the run so far. */
  failed: number;
  startedAt?: string;
  finishedAt?: string;
  /** When the next attempt of a failed completion may start (backoff). */
  nextAttemptAt?: string;
  attempts: JobAttemptStatus[];
  /** The finished run's containers were removed (ttlAfterFinished): this record is what remains. */
  removed?: boolean;
}

export interface JobPlanInput {
  jobs: readonly DesiredJob[];
  /** The containers Job claims (berth.kind=Job) of this instance. */
  containers: readonly ObservedContainer[];
  now: number;
  /** The `jobs` section of the previous status document (records of runs whose containers are gone). */
  previous?: Readonly<Record<string, JobStatus>>;
  /** Nodes whose engine does not answer: their containers get no action. */
  unreachable?: ReadonlySet<string>;
  /** NotReady past the grace (a subset of unreachable): their active containers are lost attempts (Nomad's lost allocations). */
  lost?: ReadonlySet<string>;
  backoffBaseMs?: number;
}

export interface JobPlan {
  actions: Action[];
  statuses: Record<string, JobStatus>;
  /** The earliest retry, deadline or TTL ahead (ms since the epoch). */
  wakeAt?: number;
}

/** The run id of a Job: its spec hash's first 16 characters. */
export function runOf(job: Pick<DesiredJob, 'specHash'>): string {
  return job.specHash.slice(0, 16);
}

/** The retry delay after the Job's `failures`-th failed attempt (>= 1): base doubling, capped at 6 min. */
export function backoffDelay(failures: number, baseMs = JOB_BACKOFF_BASE_MS): number {
  return Math.min(baseMs * 2 ** Math.max(0, failures - 1), JOB_BACKOFF_CAP_MS);
}

/** Actions and statuses of every Job; containers of Jobs no longer desired are removed (never volumes). */
export function planJobs(input: JobPlanInput): JobPlan {
  const actions: Action[] = [];
  const statuses: Record<string, JobStatus> = {};
  const wake: number[] = [];
  const byJob = groupBy(input.containers, (c) => `${c.labels[LABELS.namespace]}/${c.labels[LABELS.job]}`);
  for (const job of input.jobs) {
    const one = planJob(job, byJob.get(job.key) ?? [], input);
    actions.push(...one.actions);
    statuses[job.key] = one.status;
    if (one.wakeAt !== undefined) wake.push(one.wakeAt);
    byJob.delete(job.key);
  }
  for (const [key, containers] of [...byJob].sort(([a], [b]) => a.localeCompare(b))) {
    for (const c of sortContainers(containers)) {
      if (reachable(c, input)) actions.push({ type: 'remove', job: key, container: c, prune: true, reason: `job ${key} is not in the revision: its container ${c.name} is removed`, cause: 'change' });
    }
  }
  return { actions, statuses, ...(wake.length ? { wakeAt: Math.min(...wake) } : {}) };
}

/** Only the statuses (the status report): the same decisions as planJobs. */
export function jobStatuses(input: JobPlanInput): Record<string, JobStatus> {
  return planJobs(input).statuses;
}

export interface OneJob {
  actions: Action[];
  status: JobStatus;
  wakeAt?: number;
}

function planJob(job: DesiredJob, containers: ObservedContainer[], input: JobPlanInput): OneJob {
  const run = runOf(job);
  const current = containers.filter((c) => c.labels[LABELS.run] === run);
  const old = containers.filter((c) => c.labels[LABELS.run] !== run);
  const one = planRun({ job, run, kind: 'Job' }, current, input.previous?.[job.key], input);
  const wakes = [...oldRunTtl(job, old, input.now), ...(one.wakeAt !== undefined ? [one.wakeAt] : [])];
  return { ...one, actions: [...oldRunActions(job, old, input), ...one.actions], ...(wakes.length ? { wakeAt: Math.min(...wakes) } : {}) };
}

/** Which run of what: a Job's run (its spec hash) or a CronJob's (its scheduled time, jobs/cron-policy.ts runId). */
export interface RunRef {
  /** The Job to run (a CronJob's template seen as a Job: the CronJob's key and name). */
  job: DesiredJob;
  run: string;
  /** The kind whose containers these are (berth.kind). */
  kind: 'Job' | 'CronJob';
}

/**
 * One run: its status from its containers and the clock, and what it needs (starts, retries, stops, TTL removal).
 * `recorded`: the status record of this run from the previous status document (what remains after its TTL).
 */
export function planRun(ref: RunRef, current: ObservedContainer[], recorded: JobStatus | undefined, input: Pick<JobPlanInput, 'now' | 'unreachable' | 'lost' | 'backoffBaseMs'>): OneJob {
  const { job, run } = ref;
  const out: OneJob = { actions: [], status: pending(job, run) };
  const addWake = (t: number) => { out.wakeAt = Math.min(out.wakeAt ?? Infinity, t); };
  if (current.length === 0) {
    // Gone after its TTL (or removed by hand after it finished): the record in status says it ran; it never reruns.
    if (recorded && recorded.run === run && (recorded.phase === 'Succeeded' || recorded.phase === 'Failed')) return { ...out, status: { ...recorded, removed: true } };
  }
  const attempts = superseded(sortContainers(current).map((c) => attemptOf(c, input.lost)), current);
  const status = runStatus(job, run, attempts, current, input);
  out.status = status;
  const base = { job: job.key };
  const finished = status.phase === 'Succeeded' || status.phase === 'Failed';
  if (finished) {
    const why = status.reason === 'DeadlineExceeded' ? 'passed its activeDeadline' : 'failed';
    for (const c of current) {
      if (!isActive(c) || !reachable(c, input)) continue;
      // A created container never started is removed (a stop would leave it created); a running one is stopped and kept.
      if (c.status === 'created') out.actions.push({ ...base, type: 'remove', container: c, prune: true, reason: `job ${job.key} ${why}: removing ${c.name}, never started`, cause: 'change' });
      else out.actions.push({ ...base, type: 'stop-job', container: c, reason: `job ${job.key} ${why}: stopping ${c.name}`, cause: 'change' });
    }
    const ttl = job.spec.ttlAfterFinishedMs;
    const end = status.finishedAt ? Date.parse(status.finishedAt) : undefined;
    if (ttl !== undefined && end !== undefined && !current.some((c) => isActive(c) && c.status !== 'created')) {
      const due = end + ttl;
      // Removed only once a status record of the finished run exists: the record is what keeps it from running again.
      const isRecorded = recorded !== undefined && recorded.run === run && recorded.phase === status.phase;
      if (due > input.now) addWake(due);
      else if (!isRecorded) addWake(input.now + 1000);
      else for (const c of current) if (c.status !== 'created' && reachable(c, input)) out.actions.push({ ...base, type: 'remove', container: c, prune: true, reason: `job ${job.key} finished ${status.finishedAt}; ttlAfterFinished passed: removing ${c.name}`, cause: 'change' });
    }
    return out;
  }
  const deadline = job.spec.activeDeadlineMs;
  if (deadline !== undefined && status.startedAt) addWake(Date.parse(status.startedAt) + deadline);
  out.actions.push(...startActions(ref, current, status, input, addWake));
  return out;
}

/** Containers of earlier runs: a running one is stopped and removed (a changed spec is a new run); finished ones stay until the TTL. */
function oldRunActions(job: DesiredJob, old: ObservedContainer[], input: JobPlanInput): Action[] {
  const actions: Action[] = [];
  const ttl = job.spec.ttlAfterFinishedMs;
  for (const [run, cs] of groupBy(old, (c) => c.labels[LABELS.run] ?? '')) {
    const active = cs.some(isActive);
    const end = lastFinished(cs);
    const expired = !active && ttl !== undefined && end !== undefined && end + ttl <= input.now;
    for (const c of sortContainers(cs)) {
      if (!reachable(c, input)) continue;
      if (active) actions.push({ type: 'remove', job: job.key, container: c, prune: true, reason: `job ${job.key} changed: run ${run || '?'} is superseded by ${runOf(job)}, stopping and removing ${c.name}`, cause: 'change' });
      else if (expired) actions.push({ type: 'remove', job: job.key, container: c, prune: true, reason: `job ${job.key}: earlier run ${run || '?'} finished; ttlAfterFinished passed: removing ${c.name}`, cause: 'change' });
    }
  }
  return actions;
}

function oldRunTtl(job: DesiredJob, old: ObservedContainer[], now: number): number[] {
  const ttl = job.spec.ttlAfterFinishedMs;
  if (ttl === undefined) return [];
  return [...groupBy(old, (c) => c.labels[LABELS.run] ?? '').values()].flatMap((cs) => {
    const end = lastFinished(cs);
    return !cs.some(isActive) && end !== undefined && end + ttl > now ? [end + ttl] : [];
  });
}

/** Phase of the current run, from its attempts and the clock. */
function runStatus(job: DesiredJob, run: string, attempts: JobAttemptStatus[], current: ObservedContainer[], input: Pick<JobPlanInput, 'now'>): JobStatus {
  const wanted = job.spec.completions;
  const done = new Set(attempts.filter((a) => a.state === 'succeeded').map((a) => a.completion));
  const doneCount = [...done].filter((n) => n >= 1 && n <= wanted).length;
  const failed = attempts.filter((a) => a.state === 'failed').length;
  const starts = current.map((c) => Date.parse(c.startedAt ?? c.createdAt)).filter(Number.isFinite);
  const startedAt = starts.length ? new Date(Math.min(...starts)).toISOString() : undefined;
  const end = lastFinished(current);
  const base: JobStatus = { ...pending(job, run), ready: doneCount, failed, attempts, ...(startedAt ? { startedAt } : {}) };
  // Whichever came first ends the run: the last completion, the failure past backoffLimit, or the active deadline.
  const deadline = job.spec.activeDeadlineMs;
  const deadlineAt = deadline !== undefined && startedAt ? Date.parse(startedAt) + deadline : undefined;
  const failures = attempts.filter((a) => a.state === 'failed').map((a) => Date.parse(a.finishedAt ?? '')).map((t) => (Number.isFinite(t) ? t : input.now)).sort((a, b) => a - b);
  const exceededAt = failures[job.spec.backoffLimit];
  const before = (t: number | undefined) => deadlineAt === undefined || (t !== undefined && t <= deadlineAt);
  if (doneCount >= wanted && before(end)) return { ...base, phase: 'Succeeded', health: 'Healthy', message: `succeeded: ${doneCount}/${wanted} completions`, ...(end !== undefined ? { finishedAt: iso(end) } : {}) };
  if (exceededAt !== undefined && before(exceededAt)) {
    return { ...base, phase: 'Failed', reason: 'BackoffLimitExceeded', health: 'Degraded', message: `job failed: BackoffLimitExceeded (${failed} failed attempts, backoffLimit ${job.spec.backoffLimit})`, finishedAt: iso(exceededAt) };
  }
  if (deadlineAt !== undefined && deadlineAt <= input.now) {
    return { ...base, phase: 'Failed', reason: 'DeadlineExceeded', health: 'Degraded', message: `job failed: DeadlineExceeded (activeDeadline ${deadline! / 1000} s)`, finishedAt: iso(deadlineAt) };
  }
  if (current.length === 0) return base;
  return { ...base, phase: 'Running', health: 'Progressing', message: `running: ${doneCount}/${wanted} completions${failed ? `, ${failed} failed attempt(s)` : ''}` };
}

/**
 * Starts what the run needs, at most parallelism containers at once: a created container is started (an interrupted
 * start), then completions without a container get their first attempt and failed ones their next, once its backoff passed.
 */
function startActions(ref: RunRef, current: ObservedContainer[], status: JobStatus, input: Pick<JobPlanInput, 'now' | 'unreachable' | 'lost' | 'backoffBaseMs'>, addWake: (t: number) => void): Action[] {
  const { job, run } = ref;
  const actions: Action[] = [];
  const base = { job: job.key, desired: job, run, kind: ref.kind };
  // A lost attempt holds no slot; one whose node came back after a later attempt replaced it is stopped (superseded).
  const active = current.filter((c) => isActive(c) && !(c.node && input.lost?.has(c.node)));
  const latest = new Map<number, number>();
  for (const a of status.attempts) latest.set(a.completion, Math.max(latest.get(a.completion) ?? 0, a.attempt));
  for (const c of active) {
    if (!reachable(c, input)) continue;
    const a = attemptOf(c);
    if (a.attempt < (latest.get(a.completion) ?? 0)) {
      actions.push({ job: job.key, type: 'stop-job', container: c, reason: `job ${job.key}: ${c.name} is superseded by attempt ${latest.get(a.completion)} of completion ${a.completion} (its node was lost)`, cause: 'change' });
      continue;
    }
    if (c.status !== 'created') continue;
    // Started where it was created (its node), never placed anew: the name is deterministic per attempt.
    actions.push({ ...base, type: 'run-job', completion: a.completion, attempt: a.attempt, ...(c.node ? { node: c.node } : {}), reason: `${c.name} was created but never started`, cause: 'change' });
  }
  let free = job.spec.parallelism - active.length;
  const byCompletion = groupBy(status.attempts, (a) => String(a.completion));
  for (let completion = 1; completion <= job.spec.completions && free > 0; completion++) {
    const tries = byCompletion.get(String(completion)) ?? [];
    if (tries.some((a) => a.state !== 'failed' && a.state !== 'lost')) continue; // done or under way
    const last = tries.reduce<JobAttemptStatus | undefined>((m, a) => (m === undefined || a.attempt > m.attempt ? a : m), undefined);
    if (last?.state === 'lost') {
      // Not a failure: no backoff, not counted against backoffLimit (Nomad replaces lost allocations; Kubernetes' DisruptionTarget).
      actions.push({ ...base, type: 'run-job', completion, attempt: last.attempt + 1, reason: `run ${run} of job ${job.key}: completion ${completion} attempt ${last.attempt + 1} (attempt ${last.attempt} was lost with node ${last.node ?? '?'})`, cause: 'change' });
      free--;
      continue;
    }
    if (!last) {
      actions.push({ ...base, type: 'run-job', completion, attempt: 1, reason: `run ${run} of job ${job.key}: completion ${completion}/${job.spec.completions}`, cause: 'change' });
      free--;
      continue;
    }
    const delay = backoffDelay(status.failed, input.backoffBaseMs);
    const at = Date.parse(last.finishedAt ?? '') + delay;
    const retryAt = Number.isFinite(at) ? at : input.now;
    if (retryAt > input.now) {
      status.nextAttemptAt = status.nextAttemptAt && Date.parse(status.nextAttemptAt) <= retryAt ? status.nextAttemptAt : iso(retryAt);
      addWake(retryAt);
      continue;
    }
    actions.push({ ...base, type: 'run-job', completion, attempt: last.attempt + 1, reason: `run ${run} of job ${job.key}: completion ${completion} attempt ${last.attempt + 1} (attempt ${last.attempt} exited with code ${last.exitCode ?? '?'}; after ${delay / 1000} s backoff)`, cause: 'change' });
    free--;
  }
  return actions;
}

function pending(job: DesiredJob, run: string): JobStatus {
  return { desired: job.spec.completions, ready: 0, health: 'Progressing', message: 'pending', replicas: [], phase: 'Pending', run, failed: 0, attempts: [] };
}

function attemptOf(c: ObservedContainer, lost?: ReadonlySet<string>): JobAttemptStatus {
  const state: JobAttemptStatus['state'] = isActive(c) && c.node && lost?.has(c.node) ? 'lost'
    : c.status === 'created' ? 'created'
    : isActive(c) ? 'running'
    : c.status === 'exited' && c.exitCode === 0 ? 'succeeded' : 'failed';
  const finished = state === 'succeeded' || state === 'failed';
  return {
    completion: intLabel(c, LABELS.completion),
    attempt: intLabel(c, LABELS.attempt),
    container: c.name,
    state,
    ...(c.startedAt ? { startedAt: c.startedAt } : {}),
    ...(finished && c.finishedAt ? { finishedAt: c.finishedAt } : {}),
    ...(finished ? { exitCode: c.exitCode } : {}),
    ...(c.node ? { node: c.node } : {}),
  };
}

/**
 * An attempt that failed only after a later attempt of its completion was created was replaced while its node was lost
 * (and stopped once the node answered): it is lost, not failed, and never counts against backoffLimit.
 */
function superseded(attempts: JobAttemptStatus[], current: readonly ObservedContainer[]): JobAttemptStatus[] {
  const created = new Map(current.map((c) => [c.name, Date.parse(c.createdAt)]));
  for (const a of attempts) {
    if (a.state !== 'failed' || !a.finishedAt) continue;
    const end = Date.parse(a.finishedAt);
    if (attempts.some((b) => b.completion === a.completion && b.attempt > a.attempt && (created.get(b.container) ?? Infinity) < end)) a.state = 'lost';
  }
  return attempts;
}

/** Created, running, paused, restarting or being removed: counts against parallelism and is not finished. */
function isActive(c: ObservedContainer): boolean {
  return c.status !== 'exited' && c.status !== 'dead';
}

function lastFinished(cs: readonly ObservedContainer[]): number | undefined {
  const ends = cs.map((c) => Date.parse(c.finishedAt ?? '')).filter(Number.isFinite);
  return ends.length ? Math.max(...ends) : undefined;
}

function reachable(c: ObservedContainer, input: Pick<JobPlanInput, 'unreachable'>): boolean {
  return !(c.node && input.unreachable?.has(c.node));
}

function intLabel(c: ObservedContainer, label: string): number {
  const n = Number(c.labels[label]);
  return Number.isInteger(n) ? n : 0;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** By completion, then attempt, then name. */
function sortContainers(cs: readonly ObservedContainer[]): ObservedContainer[] {
  return [...cs].sort((a, b) => intLabel(a, LABELS.completion) - intLabel(b, LABELS.completion) || intLabel(a, LABELS.attempt) - intLabel(b, LABELS.attempt) || a.name.localeCompare(b.name));
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) out.set(key(t), [...(out.get(key(t)) ?? []), t]);
  return out;
}
