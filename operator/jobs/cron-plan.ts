/**
 * CronJobs, pure: each scheduled time is a run of the CronJob's template (berth.kind=CronJob, berth.job=<name>,
 * berth.run=runId(scheduledAt)), planned like a Job's run (plan.ts planRun). Whether a time starts a run is
 * decideCron's (cron-policy.ts) answer on the runs the containers' labels show, so a restarted operator never starts
 * a time twice. Kept in the status record, read back from the previous status document: when berth first saw the
 * CronJob (no run for earlier times), the last scheduled time (runs pruned by the history limits still count) and the
 * records of runs whose containers are gone.
 */
import { LABELS } from '../model/keys.ts';
import type { Action } from '../model/plan.ts';
import type { DesiredCronJob, DesiredJob, ObservedContainer } from '../model/state.ts';
import type { Health } from '../model/health.ts';
import { decideCron, lastSkippedOf, runId, runTimeOf } from './cron-policy.ts';
import { isScheduleError, parseSchedule } from './schedule.ts';
import { planRun, type JobPlanInput, type JobStatus } from './plan.ts';

/** One run of a CronJob: a Job's status, with the time it was scheduled for. */
export interface CronRunStatus extends JobStatus {
  /** The scheduled time, or for a run started by hand the time it was asked for. */
  scheduledAt: string;
  /** Started by hand (berth run-job), not by the schedule. */
  manual?: true;
}

/** A CronJob's entry in the status document's `cronJobs` section. */
export interface CronJobStatus {
  /** 1: its last finished run should have succeeded. */
  desired: number;
  ready: number;
  health: Health;
  message?: string;
  replicas: { health: Health; ready: boolean }[];
  /** The schedule as berth reads it. */
  schedule: string;
  /** The next scheduled time after this report. */
  next?: string;
  /** When berth first saw the CronJob: no run for a time before it. */
  since: string;
  /** The latest scheduled time a run was started for (or skipped past its startingDeadline). */
  lastScheduled?: string;
  /** Runs under way. */
  active: string[];
  lastSkipped?: { scheduledAt: string; reason: string };
  warning?: string;
  /** Runs kept (history limits), newest first. */
  runs: CronRunStatus[];
}

export interface CronPlanInput extends Pick<JobPlanInput, 'now' | 'unreachable' | 'lost' | 'backoffBaseMs'> {
  cronJobs: readonly DesiredCronJob[];
  /** The containers CronJob claims (berth.kind=CronJob) of this instance. */
  containers: readonly ObservedContainer[];
  /** The `cronJobs` section of the previous status document. */
  previous?: Readonly<Record<string, CronJobStatus>>;
  /** Runs asked for by hand (manualRunId) per CronJob key, not yet seen on an engine: each is started once. */
  manual?: Readonly<Record<string, readonly string[]>>;
}

export interface CronPlan {
  actions: Action[];
  statuses: Record<string, CronJobStatus>;
  wakeAt?: number;
}

/** The template of a CronJob as the Job its runs are (keyed and named by the CronJob). */
export function templateJob(cron: DesiredCronJob): DesiredJob {
  return { ...cron.template, key: cron.key, namespace: cron.namespace, name: cron.name, labels: cron.labels, spec: cron.spec.jobTemplate.spec, source: cron.source };
}

/** Actions and statuses of every CronJob; containers of CronJobs no longer desired are removed. */
export function planCronJobs(input: CronPlanInput): CronPlan {
  const actions: Action[] = [];
  const statuses: Record<string, CronJobStatus> = {};
  const wakes: number[] = [];
  const byCron = groupBy(input.containers, (c) => `${c.labels[LABELS.namespace]}/${c.labels[LABELS.job]}`);
  for (const cron of input.cronJobs) {
    const one = planCron(cron, byCron.get(cron.key) ?? [], input);
    actions.push(...one.actions);
    statuses[cron.key] = one.status;
    if (one.wakeAt !== undefined) wakes.push(one.wakeAt);
    byCron.delete(cron.key);
  }
  for (const [key, cs] of [...byCron].sort(([a], [b]) => a.localeCompare(b))) {
    for (const c of cs) {
      if (!(c.node && input.unreachable?.has(c.node))) actions.push({ type: 'remove', job: key, container: c, prune: true, reason: `cronjob ${key} is not in the revision: its container ${c.name} is removed`, cause: 'change' });
    }
  }
  return { actions, statuses, ...(wakes.length ? { wakeAt: Math.min(...wakes) } : {}) };
}

/** Parsed schedules by expression and zone: a pass plans every CronJob, and parsing (a time zone's Intl formatter) costs more than the plan. */
const parsed = new Map<string, ReturnType<typeof parseSchedule>>();
const MAX_PARSED = 10_000;

function scheduleOf(expr: string, timeZone: string): ReturnType<typeof parseSchedule> {
  const key = `${timeZone}\0${expr}`;
  let s = parsed.get(key);
  if (!s) {
    if (parsed.size >= MAX_PARSED) parsed.clear();
    s = parseSchedule(expr, timeZone);
    parsed.set(key, s);
  }
  return s;
}

function planCron(cron: DesiredCronJob, containers: ObservedContainer[], input: CronPlanInput): { actions: Action[]; status: CronJobStatus; wakeAt?: number } {
  const record = input.previous?.[cron.key];
  const since = record?.since ?? iso(input.now);
  const base: CronJobStatus = { desired: 1, ready: 1, health: 'Healthy', replicas: [], schedule: cron.spec.schedule, since, active: [], runs: [] };
  const schedule = scheduleOf(cron.spec.schedule, cron.spec.timeZone);
  if (isScheduleError(schedule)) return { actions: [], status: { ...base, health: 'Degraded', ready: 0, message: `schedule: ${schedule.error}` } };
  const job = templateJob(cron);
  const actions: Action[] = [];
  const wakes: number[] = [];
  // Every run the labels show, and the recorded ones whose containers are gone (TTL).
  const byRun = groupBy(containers, (c) => c.labels[LABELS.run] ?? '');
  // Runs asked for by hand start once (their id is their label); they never move lastScheduled.
  const requested = new Set(input.manual?.[cron.key] ?? []);
  const ids = new Set([...byRun.keys(), ...(record?.runs ?? []).map((r) => r.run), ...requested]);
  const runs: CronRunStatus[] = [];
  const runActions = new Map<string, Action[]>();
  for (const run of ids) {
    const time = runTimeOf(run);
    if (time === undefined) continue;
    const one = planRun({ job, run, kind: 'CronJob' }, byRun.get(run) ?? [], record?.runs.find((r) => r.run === run), input);
    const fresh = (byRun.get(run) ?? []).length === 0 && !one.status.removed;
    // A run started whose attempts still wait for a node (recorded Pending, no container yet) is still to start.
    const waiting = record?.runs.find((r) => r.run === run)?.phase === 'Pending';
    if (fresh && !(time.manual && requested.has(run)) && !waiting) continue;
    runActions.set(run, fresh && time.manual ? one.actions.map((a) => ({ ...a, reason: `cronjob ${cron.key} run ${run} (started by hand): ${a.reason.replace(/^run \S+ of job \S+: /, '')}` })) : one.actions);
    if (one.wakeAt !== undefined) wakes.push(one.wakeAt);
    runs.push({ ...one.status, scheduledAt: iso(time.at), ...(time.manual ? { manual: true as const } : {}) });
  }
  const active = runs.filter((r) => r.phase === 'Pending' || r.phase === 'Running');
  const seen = [...runs.filter((r) => !r.manual).map((r) => Date.parse(r.scheduledAt)), ...(record?.lastScheduled ? [Date.parse(record.lastScheduled)] : [])];
  let lastScheduled = seen.length ? Math.max(...seen) : undefined;
  const decision = decideCron(
    { schedule, concurrencyPolicy: cron.spec.concurrencyPolicy, suspend: cron.spec.suspend, createdAt: Date.parse(since), ...(cron.spec.startingDeadlineMs !== undefined ? { startingDeadlineMs: cron.spec.startingDeadlineMs } : {}) },
    { ...(lastScheduled !== undefined ? { lastScheduled } : {}), active: active.map((r) => ({ run: r.run, scheduledAt: r.manual ? -Infinity : Date.parse(r.scheduledAt) })) },
    input.now,
  );
  if (Number.isFinite(decision.next)) wakes.push(decision.next);
  const status: CronJobStatus = { ...base, ...(Number.isFinite(decision.next) ? { next: iso(decision.next) } : {}), ...(decision.warning ? { warning: decision.warning } : {}) };
  // Reported until a later skip, or until that time has a run: a deadline skip is decided in one pass only.
  const lastSkipped = lastSkippedOf(decision.skipped, record?.lastSkipped, (t) => ids.has(runId(t)) || decision.start?.scheduledAt === t);
  if (lastSkipped) status.lastSkipped = lastSkipped;
  if (decision.skipped) {
    // A time past its startingDeadline is dropped for good; a Forbid skip may still start late (Kubernetes).
    const late = cron.spec.startingDeadlineMs !== undefined && decision.skipped.scheduledAt + cron.spec.startingDeadlineMs < input.now;
    if (late) lastScheduled = Math.max(lastScheduled ?? -Infinity, decision.skipped.scheduledAt);
  } else if (decision.start && !ids.has(runId(decision.start.scheduledAt))) {
    const { scheduledAt, replaceActive } = decision.start;
    for (const old of replaceActive) {
      for (const c of byRun.get(old) ?? []) actions.push({ type: 'remove', job: cron.key, container: c, prune: true, reason: `cronjob ${cron.key}: run ${old} replaced by the run of ${iso(scheduledAt)} (concurrencyPolicy Replace)`, cause: 'change' });
      // A replaced run that never got a container (waiting for a node) is dropped, never started later.
      if (!byRun.has(old) && runs.some((r) => r.run === old)) runs.splice(runs.findIndex((r) => r.run === old), 1);
    }
    const run = runId(scheduledAt);
    const started = planRun({ job, run, kind: 'CronJob' }, [], undefined, input);
    const when = `scheduled ${iso(scheduledAt)}${decision.missed ? `, ${decision.missed} earlier missed time(s) not replayed` : ''}`;
    actions.push(...started.actions.map((a) => ({ ...a, reason: `cronjob ${cron.key} run ${run} (${when}): ${a.reason.replace(/^run \S+ of job \S+: /, '')}` })));
    // Recorded Pending until its containers exist: a run whose attempts wait for a node is started by a later pass.
    runs.push({ ...started.status, scheduledAt: iso(scheduledAt) });
    lastScheduled = Math.max(lastScheduled ?? -Infinity, scheduledAt);
  }
  const kept = history(cron, runs);
  for (const r of runs) {
    if (kept.includes(r)) {
      actions.push(...(runActions.get(r.run) ?? []));
      continue;
    }
    for (const c of byRun.get(r.run) ?? []) actions.push({ type: 'remove', job: cron.key, container: c, prune: true, reason: `cronjob ${cron.key}: run ${r.run} beyond the ${r.phase === 'Succeeded' ? 'successful' : 'failed'}RunsHistory limit`, cause: 'change' });
  }
  status.runs = kept;
  status.active = kept.filter((r) => r.phase === 'Pending' || r.phase === 'Running').map((r) => r.run);
  if (lastScheduled !== undefined && Number.isFinite(lastScheduled)) status.lastScheduled = iso(lastScheduled);
  const lastFinished = kept.find((r) => r.phase === 'Succeeded' || r.phase === 'Failed');
  if (lastFinished?.phase === 'Failed') Object.assign(status, { health: 'Degraded', ready: 0, message: `job failed: run ${lastFinished.run} ${lastFinished.reason}` });
  else if (status.active.length) Object.assign(status, { message: `run ${status.active.join(', ')} under way` });
  return { actions, status, ...(wakes.length ? { wakeAt: Math.min(...wakes) } : {}) };
}

/** The runs kept, newest first: every active one, the newest successfulRunsHistory succeeded and failedRunsHistory failed. */
function history(cron: DesiredCronJob, runs: CronRunStatus[]): CronRunStatus[] {
  const newest = [...runs].sort((a, b) => b.scheduledAt.localeCompare(a.scheduledAt));
  let ok = 0;
  let failed = 0;
  return newest.filter((r) => {
    if (r.phase === 'Succeeded') return ++ok <= cron.spec.successfulRunsHistory;
    if (r.phase === 'Failed') return ++failed <= cron.spec.failedRunsHistory;
    return true;
  });
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) out.set(key(t), [...(out.get(key(t)) ?? []), t]);
  return out;
}
