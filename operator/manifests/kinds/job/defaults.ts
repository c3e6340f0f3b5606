/** kind Job and CronJob: defaults (schema-valid data -> model). The container fields are a Service's, defaulted by its code. */
import type { ConcurrencyPolicy, CronJobSpec, JobSpec } from '../../../model/manifest.ts';
import { parseDuration } from '../../quantity.ts';
import { convertAt } from '../../raw.ts';
import type { Obj } from '../../raw.ts';
import type { RawDoc } from '../../yaml-source.ts';
import { toServiceSpec } from '../service/defaults.ts';
import { atTemplate, templateDoc } from './view.ts';

/** README defaults: completions 1, parallelism 1, backoffLimit 6, no deadline, kept until removed from git. */
export const JOB_DEFAULTS = { completions: 1, parallelism: 1, backoffLimit: 6 } as const;

/** README defaults: UTC, Allow, not suspended, 3 successful and 1 failed run kept. */
export const CRONJOB_DEFAULTS = { timeZone: 'UTC', concurrencyPolicy: 'Allow', suspend: false, successfulRunsHistory: 3, failedRunsHistory: 1 } as const;

/** Defaults of a schema-valid Job spec: the container fields as a Service's, then the Job's own. */
export function toJobSpec(s: Obj, doc: RawDoc): JobSpec {
  // The schema refuses every Service-only field, so toServiceSpec sees only shared ones; its defaults of the others are dropped.
  const svc = toServiceSpec(s, doc);
  const spec: JobSpec = {
    env: svc.env,
    resources: svc.resources,
    volumes: svc.volumes,
    placement: svc.placement,
    pullPolicy: svc.pullPolicy,
    completions: (s.completions as number | undefined) ?? JOB_DEFAULTS.completions,
    parallelism: (s.parallelism as number | undefined) ?? JOB_DEFAULTS.parallelism,
    backoffLimit: (s.backoffLimit as number | undefined) ?? JOB_DEFAULTS.backoffLimit,
  };
  for (const k of ['image', 'container', 'build', 'command', 'securityContext', 'secrets', 'files', 'anonymousVolumes', 'networks'] as const) {
    if (svc[k] !== undefined) (spec as unknown as Record<string, unknown>)[k] = svc[k];
  }
  if (s.activeDeadline !== undefined) spec.activeDeadlineMs = convertAt(['spec', 'activeDeadline'], () => parseDuration(s.activeDeadline as string | number));
  if (s.ttlAfterFinished !== undefined) spec.ttlAfterFinishedMs = convertAt(['spec', 'ttlAfterFinished'], () => parseDuration(s.ttlAfterFinished as string | number));
  return spec;
}

/** Defaults of a schema-valid CronJob spec; its jobTemplate.spec is defaulted as a Job's. */
export function toCronJobSpec(s: Obj, doc: RawDoc): CronJobSpec {
  const template = (s.jobTemplate as Obj).spec as Obj;
  const spec: CronJobSpec = {
    schedule: s.schedule as string,
    timeZone: (s.timeZone as string | undefined) ?? CRONJOB_DEFAULTS.timeZone,
    concurrencyPolicy: (s.concurrencyPolicy as ConcurrencyPolicy | undefined) ?? CRONJOB_DEFAULTS.concurrencyPolicy,
    suspend: (s.suspend as boolean | undefined) ?? CRONJOB_DEFAULTS.suspend,
    successfulRunsHistory: (s.successfulRunsHistory as number | undefined) ?? CRONJOB_DEFAULTS.successfulRunsHistory,
    failedRunsHistory: (s.failedRunsHistory as number | undefined) ?? CRONJOB_DEFAULTS.failedRunsHistory,
    jobTemplate: { spec: atTemplate(() => toJobSpec(template, templateDoc(doc))) },
  };
  if (s.startingDeadline !== undefined) spec.startingDeadlineMs = convertAt(['spec', 'startingDeadline'], () => parseDuration(s.startingDeadline as string | number));
  return spec;
}
