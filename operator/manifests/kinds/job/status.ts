/** How a Job is reported in the status document (`jobs`): its run's phase, completions and attempts (jobs/plan.ts). */
import { jobStatuses, type JobStatus } from '../../../jobs/plan.ts';
import type { KindStatus, StatusContext } from '../types.ts';
import { withJobOutputs } from '../../../jobs/output.ts';

/** The `jobs` section: one entry per desired Job, the same decisions the planner takes on the same containers. */
export const JOB_STATUS: KindStatus<JobStatus> = {
  section: 'jobs',
  // Each finished attempt gets its last lines of output (read by the reconciler, jobs/output-fetch.ts) or its previous record's.
  report: (ctx: StatusContext) => withJobOutputs(withWaiting(jobStatuses({
    jobs: ctx.desired?.jobs ?? [],
    containers: ctx.containers,
    now: ctx.now ?? Date.now(),
    ...(ctx.previous ? { previous: ctx.previous as Readonly<Record<string, JobStatus>> } : {}),
    ...(ctx.lostNodes ? { lost: ctx.lostNodes } : {}),
  }), ctx), ctx.jobOutputs, ctx.previous as Readonly<Record<string, JobStatus>> | undefined),
};

/**
 * A Job (or CronJob) some of whose attempts fit on no node says so, as an unschedulable replica does:
 * "running: 1/4 completions; 1 attempt(s) pending: 0/2 nodes available: 2 insufficient memory". Not a failure.
 */
export function withWaiting<E extends { message?: string; phase?: string; active?: readonly string[] }>(statuses: Record<string, E>, ctx: StatusContext): Record<string, E> {
  for (const [key, s] of Object.entries(statuses)) {
    const waiting = ctx.unschedulable?.get(key);
    const underWay = s.phase === undefined ? (s.active?.length ?? 0) > 0 : s.phase === 'Pending' || s.phase === 'Running';
    if (waiting && underWay) s.message = s.phase === 'Pending' || !s.message ? waiting : `${s.message}; ${waiting}`;
  }
  return statuses;
}
