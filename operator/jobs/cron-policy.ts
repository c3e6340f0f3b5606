/**
 * The CronJob controller decision, pure: given the policy, what berth knows about runs, and `now`, decide whether
 * to start a run (and which scheduled time it is for), skip one, warn, and when to look again.
 *
 * Modelled on Kubernetes' cronjob controller v2 (`mostRecentScheduleTime` + `syncCronJob`):
 * - Only the most recent scheduled time in (max(lastScheduled, createdAt), now] is considered; older missed ones
 *   are dropped (after downtime at most one catch-up run). Counting stops at 101: more than 100 missed times is
 *   a warning, not a replay.
 * - A scheduled time older than now - startingDeadline is skipped (reported) instead of started.
 * - suspend: never start; nothing is consumed, so on resume the most recent missed time (within the deadline)
 *   runs, as in Kubernetes.
 * - Forbid with an active run: the time is skipped. Like Kubernetes this is not recorded anywhere by the decision
 *   itself: if the caller asks again after the active run ended and the same time is still the most recent and
 *   within startingDeadline, it starts then (late). Record the skip in lastScheduled to drop it for good.
 * - Replace: start, listing the active runs to stop first. Allow: start alongside.
 *
 * Exactly-once: a run is identified by `runId(scheduledAt)`; a restarted operator derives lastScheduled from the
 * labels of existing runs (`scheduledAtOf`), and a time that already has an active run is never started again.
 */
import type { Schedule } from './schedule.ts';

export interface CronState {
  /** The last scheduled time a run was started for (from run labels). */
  lastScheduled?: number;
  active: { run: string; scheduledAt: number }[];
}

export interface CronPolicy {
  schedule: Schedule;
  concurrencyPolicy: 'Allow' | 'Forbid' | 'Replace';
  startingDeadlineMs?: number;
  suspend: boolean;
  /** When berth first saw the CronJob: no runs before it. */
  createdAt: number;
}

export type CronDecision = {
  start?: { scheduledAt: number; replaceActive: string[] /* runs to stop first (Replace) */ };
  skipped?: { scheduledAt: number; reason: string };
  /** e.g. "more than 100 missed start times ...". */
  warning?: string;
  /** Scheduled times in the window that were missed and will not run (the one decided about excluded); capped at 100. */
  missed?: number;
  /** Next fire time after now, for status and for the timer. */
  next: number;
};

export const MAX_MISSED = 100;

const RUN_ID = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})Z$/;

/** Label-safe, lexically sortable id of the run for a scheduled time: `20261203T0200Z` (UTC, minute resolution). */
export function runId(scheduledAt: number): string {
  const d = new Date(Math.floor(scheduledAt / 60_000) * 60_000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}T${p(d.getUTCHours())}${p(d.getUTCMinutes())}Z`;
}

/** Inverse of runId; undefined for anything that is not exactly a runId. */
export function scheduledAtOf(id: string): number | undefined {
  const m = RUN_ID.exec(id);
  if (!m) return undefined;
  const [y, mo, d, h, mi] = m.slice(1).map(Number) as [number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59) return undefined;
  const t = Date.UTC(y, mo - 1, d, h, mi);
  return runId(t) === id ? t : undefined; // rejects Feb 30 and the like
}

const MANUAL_ID = /^manual-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** Id of a run started by hand (`berth run-job`, POST /v1/cronjobs/<ns>/<name>/run) at `at`: `manual-20261203T131512Z` (second resolution). */
export function manualRunId(at: number): string {
  const d = new Date(Math.floor(at / 1000) * 1000);
  return `manual-${runId(at)}`.replace(/Z$/, `${String(d.getUTCSeconds()).padStart(2, '0')}Z`);
}

/** When a run was scheduled (or started by hand, `manual`), from its id; undefined for anything else. */
export function runTimeOf(id: string): { at: number; manual: boolean } | undefined {
  const m = MANUAL_ID.exec(id);
  if (!m) {
    const at = scheduledAtOf(id);
    return at === undefined ? undefined : { at, manual: false };
  }
  const minute = scheduledAtOf(`${m.slice(1, 4).join('')}T${m[4]}${m[5]}Z`);
  const sec = Number(m[6]);
  return minute === undefined || sec > 59 ? undefined : { at: minute + sec * 1000, manual: true };
}

/** The latest fire time of `schedule` in (from, now], or undefined; O(log) next() calls. */
export function mostRecentFire(schedule: Schedule, from: number, now: number): number | undefined {
  if (!(schedule.next(from) <= now)) return undefined;
  // Find a window (lo, now] that contains a fire, widening from the end...
  let width = 60_000;
  let lo = Math.max(from, now - width);
  while (!(schedule.next(lo) <= now)) {
    width *= 2;
    lo = Math.max(from, now - width);
  }
  // ...then the largest lo' in [lo, now) with next(lo') <= now: next(lo') is the latest fire (next is monotone).
  let hi = now; // next(hi) > now
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (schedule.next(mid) <= now) lo = mid;
    else hi = mid;
  }
  return schedule.next(lo);
}

export function formatDuration(ms: number): string {
  let s = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  if (s > 0 || parts.length === 0) parts.push(`${s}s`);
  return parts.join('');
}

const iso = (t: number) => new Date(t).toISOString();

export function decideCron(policy: CronPolicy, state: CronState, now: number): CronDecision {
  const { schedule } = policy;
  const next = schedule.next(now);
  if (policy.suspend) return { next };

  // Runs already active count as scheduled: never start the same time twice.
  let earliest = Math.max(policy.createdAt, state.lastScheduled ?? -Infinity);
  for (const a of state.active) earliest = Math.max(earliest, a.scheduledAt);

  // Count fire times in (earliest, now], stopping at MAX_MISSED + 1.
  let count = 0;
  let latest: number | undefined;
  for (let t = schedule.next(earliest); t <= now && count <= MAX_MISSED; t = schedule.next(t)) {
    count++;
    latest = t;
  }
  if (latest === undefined) return { next };

  const decision: CronDecision = { next };
  if (count > MAX_MISSED) {
    latest = mostRecentFire(schedule, earliest, now)!;
    decision.warning =
      `more than ${MAX_MISSED} missed start times since ${iso(earliest)}: only the most recent (${iso(latest)}) is considered, the others are not replayed ` +
      '(set or decrease startingDeadline, or check clock skew)';
    decision.missed = MAX_MISSED;
  } else if (count > 1) {
    decision.missed = count - 1;
  }
  const scheduledAt = latest;

  if (policy.startingDeadlineMs !== undefined && scheduledAt + policy.startingDeadlineMs < now) {
    decision.skipped = {
      scheduledAt,
      reason: `missed scheduled time ${iso(scheduledAt)} by ${formatDuration(now - scheduledAt)}, more than startingDeadline ${formatDuration(policy.startingDeadlineMs)}`,
    };
    return decision;
  }

  if (state.active.length > 0 && policy.concurrencyPolicy === 'Forbid') {
    decision.skipped = {
      scheduledAt,
      reason: `run ${state.active.map((a) => a.run).join(', ')} still active and concurrencyPolicy is Forbid`,
    };
    return decision;
  }

  decision.start = {
    scheduledAt,
    replaceActive: policy.concurrencyPolicy === 'Replace' ? state.active.map((a) => a.run) : [],
  };
  return decision;
}

/** A skipped time as the status reports it (`lastSkipped`). */
export interface SkippedTime {
  scheduledAt: string;
  reason: string;
}

/**
 * The `lastSkipped` a CronJob reports: this decision's skip, else the one reported before (`previous`, from the previous
 * status document) for as long as its time has no run. A time skipped past its startingDeadline is decided once (the
 * caller records it in lastScheduled, so later decisions skip nothing): without the carry-over the skip would show in
 * one pass's report only. A Forbid skip that started late (`hasRun`) is no longer skipped.
 */
export function lastSkippedOf(skipped: CronDecision['skipped'], previous: SkippedTime | undefined, hasRun: (scheduledAt: number) => boolean): SkippedTime | undefined {
  if (skipped) return { scheduledAt: iso(skipped.scheduledAt), reason: skipped.reason };
  if (!previous) return undefined;
  const at = Date.parse(previous.scheduledAt);
  return Number.isFinite(at) && !hasRun(at) ? previous : undefined;
}
