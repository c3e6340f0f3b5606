/**
 * Runs of a CronJob's template asked for by hand (`berth run-job ns/name`, POST /v1/cronjobs/<ns>/<name>/run). A
 * request is only an id (`manualRunId`, the time it was asked) until a pass has created the run's container, whose
 * `berth.run` label is that id: from then on the run is planned like any other (jobs/cron-plan.ts), so a restarted
 * operator neither loses a started run nor starts it twice. A request no pass got to before a restart is lost, and
 * the caller was not told it started. Bounded: only CronJobs of the revision in force, a few outstanding per CronJob.
 */
import { LABELS } from '../model/keys.ts';
import type { DesiredState, ObservedContainer } from '../model/state.ts';
import { manualRunId } from './cron-policy.ts';

/** Requests of one CronJob not yet on an engine, at most. */
export const MAX_OUTSTANDING = 5;

export type RunAsk = { ok: true; run: string } | { ok: false; status: 400 | 404 | 429 | 503; error: string };

export class ManualRuns {
  private readonly asked = new Map<string, string[]>();

  /**
   * Asks for a run of CronJob `key` (ns/name) of `desired`, at `now`: its run id (the same id for a second ask within
   * the same second), or why not, with the HTTP status that says it.
   */
  ask(desired: DesiredState | undefined, key: string, now: number): RunAsk {
    if (!desired) return { ok: false, status: 503, error: 'no revision is in force yet: try again after the first pass' };
    if (!(desired.cronJobs ?? []).some((c) => c.key === key)) {
      if ((desired.jobs ?? []).some((j) => j.key === key)) {
        return { ok: false, status: 400, error: `${key} is a Job: it runs once per spec; change its spec in git to run it again (run-job starts CronJobs)` };
      }
      return { ok: false, status: 404, error: `no CronJob ${key} in revision ${desired.revision.slice(0, 12)}` };
    }
    const run = manualRunId(now);
    const ids = this.asked.get(key) ?? [];
    if (ids.includes(run)) return { ok: true, run };
    if (ids.length >= MAX_OUTSTANDING) return { ok: false, status: 429, error: `${ids.length} runs of ${key} asked for are not started yet: try again once they are` };
    this.asked.set(key, [...ids, run]);
    return { ok: true, run };
  }

  /** The outstanding requests per CronJob key, for the planner; undefined when there are none. */
  pending(): Record<string, string[]> | undefined {
    return this.asked.size ? Object.fromEntries(this.asked) : undefined;
  }

  /** Drops the requests whose run is on an engine now, and those of CronJobs no longer in `desired`. */
  settle(desired: DesiredState, containers: readonly ObservedContainer[]): void {
    const keys = new Set((desired.cronJobs ?? []).map((c) => c.key));
    const onEngine = new Set(containers.filter((c) => c.labels[LABELS.kind] === 'CronJob').map((c) => `${c.labels[LABELS.namespace]}/${c.labels[LABELS.job]} ${c.labels[LABELS.run]}`));
    for (const [key, ids] of this.asked) {
      const left = keys.has(key) ? ids.filter((id) => !onEngine.has(`${key} ${id}`)) : [];
      if (left.length) this.asked.set(key, left);
      else this.asked.delete(key);
    }
  }
}
