/**
 * spec.schedule and spec.timeZone of a CronJob, checked by the scheduler's own parser (operator/jobs/schedule.ts), so
 * that a schedule berth validate accepts is one the scheduler runs.
 */
import { parseSchedule } from '../../../jobs/schedule.ts';

/** A schedule that fires, used to check a time zone on its own. */
const ANY_SCHEDULE = '0 0 * * *';

/** What is wrong with a schedule and its time zone, per field (none: an empty list). */
export function scheduleProblems(expr: string, timeZone: string): { field: 'schedule' | 'timeZone'; message: string }[] {
  const problems: { field: 'schedule' | 'timeZone'; message: string }[] = [];
  // The expression is read in UTC (whether it can fire does not depend on the zone), the zone with a schedule that always does.
  const schedule = parseSchedule(expr, 'UTC');
  if ('error' in schedule) problems.push({ field: 'schedule', message: `invalid schedule: ${schedule.error}` });
  const zone = parseSchedule(ANY_SCHEDULE, timeZone);
  if ('error' in zone) problems.push({ field: 'timeZone', message: zone.error });
  return problems;
}
