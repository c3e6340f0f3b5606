/** kind CronJob: its schedule, time zone and deadline, then its jobTemplate with a Job's checks. */
import type { CronJobManifest } from '../../../model/manifest.ts';
import type { RawDoc } from '../../yaml-source.ts';
import type { CheckContext, Report } from '../types.ts';
import { checkDuration, checkJobSpec } from '../job/checks.ts';
import { templateDoc, templateReport } from '../job/view.ts';
import { scheduleProblems } from './schedule-check.ts';

/** Longest spec.startingDeadline: 24h (a run missed by more is not worth starting late). */
export const STARTING_DEADLINE_MAX_MS = 24 * 3_600_000;

export function checkCronJob(doc: RawDoc, m: CronJobManifest, ctx: CheckContext, report: Report): void {
  for (const p of scheduleProblems(m.spec.schedule, m.spec.timeZone)) report(doc, ['spec', p.field], p.message);
  checkDuration(doc, ['spec', 'startingDeadline'], m.spec.startingDeadlineMs, { min: 'positive', maxMs: STARTING_DEADLINE_MAX_MS }, report);
  checkJobSpec(templateDoc(doc), m, m.spec.jobTemplate.spec, ctx, templateReport(doc, report));
}
