/** How a CronJob is reported in the status document (`cronJobs`): next time, last scheduled, its runs (jobs/cron-plan.ts). */
import { planCronJobs, type CronJobStatus } from '../../../jobs/cron-plan.ts';
import { withWaiting } from '../job/status.ts';
import type { KindStatus, StatusContext } from '../types.ts';
import { withCronOutputs } from '../../../jobs/output.ts';

/** The `cronJobs` section: one entry per desired CronJob, the same decisions the planner takes on the same containers. */
export const CRONJOB_STATUS: KindStatus<CronJobStatus> = {
  section: 'cronJobs',
  report: (ctx: StatusContext) => withCronOutputs(withWaiting(planCronJobs({
    cronJobs: ctx.desired?.cronJobs ?? [],
    containers: ctx.containers,
    now: ctx.now ?? Date.now(),
    ...(ctx.previous ? { previous: ctx.previous as unknown as Readonly<Record<string, CronJobStatus>> } : {}),
    ...(ctx.lostNodes ? { lost: ctx.lostNodes } : {}),
  }).statuses, ctx), ctx.jobOutputs, ctx.previous as unknown as Readonly<Record<string, CronJobStatus>> | undefined),
};
