/**
 * Which Job and CronJob runs turned Failed (pure): a run Failed in the new status document and not Failed in the
 * previous one, so each failed run is told once (an alert), also across an operator restart (the previous document is
 * read back from the status branch). Runs are told apart by their run id (a Job's spec hash, a CronJob's time).
 */
import type { CronJobStatus } from './cron-plan.ts';
import { failingAttempt } from './output.ts';
import type { JobFailureReason, JobStatus } from './plan.ts';

/** A run that failed, with what a human needs to look into it. */
export interface JobFailure {
  /** The Job's (or CronJob's) key, `namespace/name`. */
  job: string;
  kind: 'Job' | 'CronJob';
  run: string;
  reason: JobFailureReason;
  message?: string;
  /** Failed attempts of the run. */
  failed: number;
  /** The attempt that failed last: its container, exit code, node and last lines of output (redacted). */
  container?: string;
  exitCode?: number;
  node?: string;
  output?: string[];
  finishedAt?: string;
  /** A CronJob run's scheduled time. */
  scheduledAt?: string;
}

/** The sections of a status document the decision reads. */
export interface RunSections {
  jobs?: Readonly<Record<string, JobStatus>>;
  cronJobs?: Readonly<Record<string, CronJobStatus>>;
}

/**
 * The runs Failed in `next` that `previous` did not show Failed. `previous` null: no earlier document is known —
 * `since` (ms) then says from when failures are new (runs that finished before it may have been told already by an
 * operator whose status could not be read: they are not told again); absent, every Failed run is new.
 */
export function newFailures(previous: RunSections | null, next: RunSections, since?: number): JobFailure[] {
  const out: JobFailure[] = [];
  const fresh = (s: JobStatus, before: readonly JobStatus[]): boolean => {
    if (s.phase !== 'Failed' || s.removed || !s.reason) return false;
    if (previous) return !before.some((b) => b.run === s.run && b.phase === 'Failed');
    return since === undefined || Date.parse(s.finishedAt ?? '') >= since;
  };
  for (const [key, s] of sorted(next.jobs)) {
    const before = previous?.jobs?.[key];
    if (fresh(s, before ? [before] : [])) out.push(failureOf(key, 'Job', s));
  }
  for (const [key, c] of sorted(next.cronJobs)) {
    const before = previous?.cronJobs?.[key]?.runs ?? [];
    for (const r of [...(c.runs ?? [])].reverse()) if (fresh(r, before)) out.push({ ...failureOf(key, 'CronJob', r), scheduledAt: r.scheduledAt });
  }
  return out;
}

function failureOf(key: string, kind: JobFailure['kind'], s: JobStatus): JobFailure {
  const a = failingAttempt(s);
  return {
    job: key, kind, run: s.run, reason: s.reason!, failed: s.failed,
    ...(s.message ? { message: s.message } : {}),
    ...(s.finishedAt ? { finishedAt: s.finishedAt } : {}),
    ...(a ? { container: a.container } : {}),
    ...(a?.exitCode !== undefined ? { exitCode: a.exitCode } : {}),
    ...(a?.node ? { node: a.node } : {}),
    ...(a?.output ? { output: a.output } : {}),
  };
}

function sorted<T>(section: Readonly<Record<string, T>> | undefined): [string, T][] {
  return Object.entries(section ?? {}).sort(([a], [b]) => a.localeCompare(b));
}
