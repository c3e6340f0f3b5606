/**
 * kind Job: run-to-completion containers with a Service's container fields, run once per spec hash (jobs/plan.ts
 * decides from the labels of the containers it claims, berth.kind=Job; diff plans, apply runs them).
 */
import type { JobManifest } from '../../../model/manifest.ts';
import type { Obj } from '../../raw.ts';
import { imageXorBuildIssues } from '../service/checks.ts';
import type { KindDescriptor } from '../types.ts';
import { checkJob, checkNameClashes } from './checks.ts';
import { toJobSpec } from './defaults.ts';
import { desiredJobs } from './desired.ts';
import { JOB_STATUS } from './status.ts';
import { rootFile } from '../../../root.ts';

export const JOB: KindDescriptor<JobManifest> = {
  kind: 'Job',
  schema: rootFile('schemas/job.schema.json'),
  clusterScoped: false,
  objects: ['container'],
  unlabelled: [],
  toSpec: (spec, doc) => toJobSpec(spec as Obj, doc),
  documentIssues: (doc) => ({ blocking: [], other: imageXorBuildIssues(doc) }),
  check: checkJob,
  checkAll: checkNameClashes,
  desired: desiredJobs,
  status: JOB_STATUS,
};
