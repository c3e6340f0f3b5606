/**
 * What a merge would do with Jobs and CronJobs, for `berth plan` and the pull request comment. Pure: from the plan
 * (its run-job actions and heldByJobs), the desired state, the status records of the applied revision (jobs,
 * cronJobs), optionally the applied revision's own Jobs and CronJobs, and an injected clock. Nothing here decides
 * anything the planner does not: a Job "would run" because the plan starts containers of its run; the next fire
 * times come from the parser the operator schedules with (schedule.ts).
 */
import type { Plan } from '../model/plan.ts';
import type { ConcurrencyPolicy } from '../model/manifest.ts';
import type { DesiredCronJob, DesiredJob, DesiredService } from '../model/state.ts';
import type { CronJobStatus } from './cron-plan.ts';
import { runOf, type JobStatus } from './plan.ts';
import { isScheduleError, parseSchedule } from './schedule.ts';

/** Next fire times listed per CronJob. */
export const NEXT_FIRES = 3;
/** Jobs or CronJobs listed in text and markdown before "... and N more". */
export const PREVIEW_LIMIT = 20;

/**
 * run: the Job's spec has no run yet; rerun: its spec changed (a new run); resume: its run is under way and the plan
 * starts more containers (a retry, a next completion); running: under way, nothing to start now; succeeded / failed:
 * finished at this spec, not run again; idle: no container to start and no record of the run (it ran already, or
 * the status document does not know it yet).
 */
export type JobRunState = 'run' | 'rerun' | 'resume' | 'running' | 'succeeded' | 'failed' | 'idle';

export interface JobPreview {
  key: string;
  /** The run of the revision's spec (first 16 characters of its spec hash). */
  run: string;
  completions: number;
  parallelism: number;
  state: JobRunState;
  /** The run before (status record, or the applied revision's spec) when it differs. */
  previousRun?: string;
  /** Containers of this run the plan starts. */
  starts: number;
  /** Services whose new replicas wait for this Job to succeed (plan.heldByJobs), sorted. */
  holds: string[];
  /** One line, e.g. `would run: 1 completion, parallelism 1`. */
  summary: string;
}

/** A fire time: ISO 8601 on the CronJob's wall clock with its offset, and in UTC. */
export interface FireTime {
  at: string;
  utc: string;
}

export interface CronJobPreview {
  key: string;
  /** The expression as written. */
  schedule: string;
  timeZone: string;
  /** schedule.ts describe() without its zone and expression: `every day at 03:00`; absent when it has no plain form. */
  human?: string;
  suspend: boolean;
  concurrencyPolicy: ConcurrencyPolicy;
  /** The next NEXT_FIRES times after now (none when the schedule does not parse: a validation error). */
  next: FireTime[];
  /** The CronJob is not in the applied revision (and has no status record). */
  added?: boolean;
  /** The schedule or time zone differs from the applied one: what it was and its next times. */
  changed?: { schedule: string; timeZone: string; next: FireTime[]; error?: string };
  /** Runs the plan starts at merge. */
  starting: string[];
  error?: string;
}

export interface JobsPreview {
  /** The clock the next times are computed from (ISO, UTC). */
  now: string;
  jobs: JobPreview[];
  cronJobs: CronJobPreview[];
}

export interface PreviewInput {
  plan: Pick<Plan, 'actions' | 'heldByJobs'>;
  desired: { jobs?: readonly DesiredJob[]; cronJobs?: readonly DesiredCronJob[]; services: readonly DesiredService[] };
  /** The `jobs` and `cronJobs` sections of the status document (the applied revision's runs). */
  records?: { jobs?: Readonly<Record<string, JobStatus>>; cronJobs?: Readonly<Record<string, CronJobStatus>> };
  /** The applied revision's Jobs and CronJobs, when known: old schedules and time zones, old runs. */
  base?: { jobs?: readonly DesiredJob[]; cronJobs?: readonly DesiredCronJob[] } | null;
  /** ms since the epoch. */
  now: number;
  /** Next times per CronJob; default NEXT_FIRES. */
  fires?: number;
}

/** The preview, or undefined when the revision has neither Jobs nor CronJobs. */
export function previewJobs(input: PreviewInput): JobsPreview | undefined {
  const jobs = input.desired.jobs ?? [];
  const crons = input.desired.cronJobs ?? [];
  if (!jobs.length && !crons.length) return undefined;
  return {
    now: utcIso(input.now),
    jobs: jobs.map((j) => previewJob(j, input)).sort((a, b) => JOB_ORDER[a.state] - JOB_ORDER[b.state] || cmp(a.key, b.key)),
    cronJobs: crons.map((c) => previewCron(c, input)).sort((a, b) => cronRank(a) - cronRank(b) || cmp(a.key, b.key)),
  };
}

/** What will happen first, first: runs, then what is under way, then what stays as it is. */
const JOB_ORDER: Record<JobRunState, number> = { rerun: 0, run: 1, resume: 2, running: 3, failed: 4, idle: 5, succeeded: 6 };
const cronRank = (c: CronJobPreview) => (c.error ? 0 : c.starting.length ? 1 : c.changed ? 2 : c.added ? 3 : 4);

function previewJob(job: DesiredJob, input: PreviewInput): JobPreview {
  const run = runOf(job);
  const starts = input.plan.actions.filter((a) => a.type === 'run-job' && a.kind === 'Job' && a.job === job.key && a.run === run).length;
  const record = input.records?.jobs?.[job.key];
  const baseJob = input.base?.jobs?.find((j) => j.key === job.key);
  const before = record?.run ?? (baseJob ? runOf(baseJob) : undefined);
  const previousRun = before !== undefined && before !== run ? before : undefined;
  const { completions, parallelism } = job.spec;
  const size = `${completions} ${completions === 1 ? 'completion' : 'completions'}, parallelism ${parallelism}`;
  const current = record?.run === run ? record : undefined;
  let state: JobRunState;
  let summary: string;
  if (current?.phase === 'Succeeded') [state, summary] = ['succeeded', `unchanged: run ${run} succeeded (${current.ready}/${current.desired} completions), not run again`];
  else if (current?.phase === 'Failed') [state, summary] = ['failed', `unchanged: run ${run} failed (${current.reason ?? 'failed'}), not run again until its spec changes`];
  else if (current && starts > 0) [state, summary] = ['resume', `run ${run} under way: ${starts} container(s) to start (${current.ready}/${current.desired} completions done)`];
  else if (current) [state, summary] = ['running', `run ${run} under way (${current.ready}/${current.desired} completions done)`];
  else if (starts > 0 && previousRun) [state, summary] = ['rerun', `would run again: spec changed (run ${previousRun} -> ${run}): ${size}`];
  else if (starts > 0) [state, summary] = ['run', `would run: ${size} (run ${run})`];
  else [state, summary] = ['idle', `no container to start for run ${run} (already started or finished)`];
  const holds = input.desired.services
    .filter((s) => s.namespace === job.namespace && s.spec.dependsOn.includes(job.name) && input.plan.heldByJobs?.[s.key] !== undefined)
    .map((s) => s.key).sort(cmp);
  return { key: job.key, run, completions, parallelism, state, ...(previousRun ? { previousRun } : {}), starts, holds, summary };
}

function previewCron(cron: DesiredCronJob, input: PreviewInput): CronJobPreview {
  const fires = input.fires ?? NEXT_FIRES;
  const { schedule, timeZone, suspend, concurrencyPolicy } = cron.spec;
  const starting = [...new Set(input.plan.actions.flatMap((a) => (a.type === 'run-job' && a.kind === 'CronJob' && a.job === cron.key ? [a.run] : [])))].sort(cmp);
  const out: CronJobPreview = { key: cron.key, schedule, timeZone, suspend, concurrencyPolicy, next: [], starting };
  const parsed = nextFires(schedule, timeZone, input.now, fires);
  if ('error' in parsed) out.error = parsed.error;
  else {
    out.next = parsed.next;
    if (parsed.human) out.human = parsed.human;
  }
  const baseCron = input.base?.cronJobs?.find((c) => c.key === cron.key);
  const record = input.records?.cronJobs?.[cron.key];
  // The status record keeps the expression but not the zone: without the applied revision, the zone is taken as unchanged.
  const old = baseCron ? { schedule: baseCron.spec.schedule, timeZone: baseCron.spec.timeZone } : record ? { schedule: record.schedule, timeZone } : undefined;
  if (!old) out.added = true;
  else if (old.schedule.trim().replace(/\s+/g, ' ') !== schedule.trim().replace(/\s+/g, ' ') || old.timeZone !== timeZone) {
    const was = nextFires(old.schedule, old.timeZone, input.now, fires);
    out.changed = { ...old, next: 'error' in was ? [] : was.next, ...('error' in was ? { error: was.error } : {}) };
  }
  return out;
}

/** The next `count` fire times of `expr` in `timeZone` strictly after `now`, with the plain description. */
export function nextFires(expr: string, timeZone: string, now: number, count = NEXT_FIRES): { next: FireTime[]; human?: string } | { error: string } {
  const s = parseSchedule(expr, timeZone);
  if (isScheduleError(s)) return { error: s.error };
  const next: FireTime[] = [];
  for (let t = s.next(now); next.length < count && Number.isFinite(t); t = s.next(t)) next.push(fireTime(t, s.timeZone));
  const described = s.describe();
  const suffix = ` ${s.timeZone} (${s.normalized})`;
  return { next, ...(described.endsWith(suffix) ? { human: described.slice(0, -suffix.length) } : {}) };
}

/** `t` on the wall clock of `timeZone` with its offset (`2026-12-04T03:00:00+01:00`) and in UTC (`...Z`). */
export function fireTime(t: number, timeZone: string): FireTime {
  return { at: zonedIso(t, timeZone), utc: utcIso(t) };
}

/** ISO 8601 at second resolution on the wall clock of `timeZone`, with the offset; `Z` in UTC. */
export function zonedIso(t: number, timeZone: string): string {
  if (timeZone === 'UTC') return utcIso(t);
  const secs = Math.floor(t / 1000) * 1000;
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(secs)) parts[p.type] = p.value;
  const wall = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour) % 24, Number(parts.minute), Number(parts.second));
  const offsetMin = Math.round((wall - secs) / 60_000);
  const local = new Date(secs + offsetMin * 60_000).toISOString().slice(0, 19);
  if (offsetMin === 0) return `${local}+00:00`;
  const abs = Math.abs(offsetMin);
  return `${local}${offsetMin < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    if (formatters.size > 1000) formatters.clear();
    formatters.set(timeZone, f);
  }
  return f;
}

/** `2026-12-04T02:00:00Z`. */
function utcIso(t: number): string {
  return `${new Date(Math.floor(t / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

const pad = (n: number) => String(n).padStart(2, '0');
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const SIGIL: Record<JobRunState, string> = { run: '+', rerun: '~', resume: '>', running: '=', succeeded: '=', failed: '!', idle: '=' };

/** A fire time for text: `2026-12-04T03:00:00+01:00 (2026-12-04T02:00:00Z)`, the UTC form once when they agree. */
export function fireText(f: FireTime): string {
  return f.at === f.utc ? f.utc : `${f.at} (${f.utc})`;
}

/** The preview as text lines for `berth plan`, at most `limit` Jobs and `limit` CronJobs. */
export function previewText(p: JobsPreview, limit = PREVIEW_LIMIT): string[] {
  const out: string[] = [];
  if (p.jobs.length) {
    out.push('Jobs at merge:');
    for (const j of p.jobs.slice(0, limit)) {
      out.push(`  ${SIGIL[j.state]} ${j.key}: ${j.summary}`);
      for (const s of j.holds) out.push(`      service ${s} rolls out after job ${j.key} succeeds`);
    }
    if (p.jobs.length > limit) out.push(`  ... and ${p.jobs.length - limit} more`);
  }
  if (p.cronJobs.length) {
    out.push(`CronJobs (next times after ${p.now}):`);
    for (const c of p.cronJobs.slice(0, limit)) {
      const human = c.human ? ` (${c.human})` : '';
      out.push(`  ${c.key}: schedule "${c.schedule}"${human}, time zone ${c.timeZone}, suspend ${c.suspend}, concurrencyPolicy ${c.concurrencyPolicy}${c.added ? ' (new)' : ''}`);
      if (c.error) out.push(`      invalid schedule: ${c.error}`);
      else out.push(`      next: ${c.next.map(fireText).join(', ')}`);
      if (c.suspend) out.push('      suspended: no run starts until suspend is false');
      if (c.changed) {
        out.push(`      schedule changed: was "${c.changed.schedule}", time zone ${c.changed.timeZone}`);
        out.push(`      next before: ${c.changed.error ? `unreadable (${c.changed.error})` : c.changed.next.map(fireText).join(', ')}`);
      }
      if (c.starting.length) out.push(`      starts at merge: run ${c.starting.join(', ')}`);
    }
    if (p.cronJobs.length > limit) out.push(`  ... and ${p.cronJobs.length - limit} more`);
  }
  return out;
}
