/**
 * kind CronJob: a Job (spec.jobTemplate) started at each time of a cron schedule in a time zone. Each scheduled time is a
 * run of containers labelled berth.kind=CronJob (jobs/cron-plan.ts decides; diff plans, apply runs them).
 */
import type { CronJobManifest } from '../../../model/manifest.ts';
import type { Obj } from '../../raw.ts';
import { imageXorBuildIssues } from '../service/checks.ts';
import type { KindDescriptor } from '../types.ts';
import { checkNameClashes } from '../job/checks.ts';
import { toCronJobSpec } from '../job/defaults.ts';
import { desiredCronJobs } from '../job/desired.ts';
import { templateDoc, templateIssues } from '../job/view.ts';
import { checkCronJob } from './checks.ts';
import { CRONJOB_STATUS } from './status.ts';
import { rootFile } from '../../../root.ts';

export const CRONJOB: KindDescriptor<CronJobManifest> = {
  kind: 'CronJob',
  schema: rootFile('schemas/cronjob.schema.json'),
  clusterScoped: false,
  objects: ['container'],
  unlabelled: [],
  toSpec: (spec, doc) => toCronJobSpec(spec as Obj, doc),
  documentIssues: (doc) => ({ blocking: [], other: templateIssues(imageXorBuildIssues(templateDoc(doc))) }),
  check: checkCronJob,
  checkAll: checkNameClashes,
  desired: desiredCronJobs,
  status: CRONJOB_STATUS,
};
