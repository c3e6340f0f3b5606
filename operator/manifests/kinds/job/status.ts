/** How a Job is reported in the status document (`jobs`): its run's phase, completions and attempts (jobs/plan.ts). */
import { jobStatuses, type JobStatus } from '../../../jobs/plan.ts';
import type { KindStatus, StatusContext } from '../types.ts';

/** The `jobs` section: one entry per desired Job, the same decisions the planner takes on the same containers. */
export const JOB_STATUS: KindStatus<JobStatus> = {
  section: 'jobs',
  report: (ctx: StatusContext) => jobStatuses({
    jobs: ctx.desired?.jobs ?? [],
    containers: ctx.containers,
    now: ctx.now ?? Date.now(),
    ...(ctx.previous ? { previous: ctx.previous as Readonly<Record<string, JobStatus>> } : {}),
  }),
};
