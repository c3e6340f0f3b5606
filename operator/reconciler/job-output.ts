/**
 * The reconciler's side of Job output and failure alerts: reads the last lines of finished Job / CronJob containers
 * (jobs/output-fetch.ts) only once every Secret they may print is registered with the redactor, and tells each run
 * that turned Failed once (jobs/failures.ts) as a `job-failed` event for the alert webhooks.
 */
import { templateJob } from '../jobs/cron-plan.ts';
import { newFailures } from '../jobs/failures.ts';
import { JobOutputs, type CollectedOutputs } from '../jobs/output-fetch.ts';
import { LABELS } from '../model/keys.ts';
import type { DesiredJob, DesiredState, ObservedContainer, ObservedState } from '../model/state.ts';
import type { StatusDoc } from '../status/report.ts';
import type { ReconcilerDeps, ReconcilerEvent } from './types.ts';

/** The reader of Job output for a reconciler's dependencies (its runtime, redactor and secret store). */
export class JobOutputReader {
  private readonly outputs: JobOutputs;

  constructor(private readonly deps: Pick<ReconcilerDeps, 'runtime' | 'redact' | 'secrets' | 'log'>) {
    const rt = deps.runtime;
    this.outputs = new JobOutputs({
      ...(rt.containerLogs ? { logs: (id, opts) => rt.containerLogs!(id, opts) } : {}),
      redact: (s) => deps.redact?.text(s) ?? s,
      log: deps.log,
    });
  }

  /**
   * The outputs of the pass's finished Job containers (by container name), those the previous status document holds
   * left unread. `desired`: the state in force, `previous`: the one a rollback returns to (whose Secrets may be needed).
   */
  collect(observed: ObservedState | null, desired: DesiredState | null, previousState: DesiredState | null, last: StatusDoc | null): Promise<CollectedOutputs> {
    return this.outputs.collect(observed?.containers ?? [], recordedOutputs(last), (c) => this.secretsReady(c, desired, previousState));
  }

  /** Registers the Secrets of container `c`'s Job with the redactor (by decrypting them); why it cannot, or undefined. */
  private async secretsReady(c: ObservedContainer, desired: DesiredState | null, previousState: DesiredState | null): Promise<string | undefined> {
    const job = jobOf(c, desired);
    // An earlier spec may have had other Secrets, whose values are not known here: its output is not read.
    if (!job) return 'output not read: its Job is not in the revision in force';
    if (c.labels[LABELS.specHash] !== job.specHash) return 'output not read: the container is of an earlier spec of the Job';
    const mounts = job.secrets ?? [];
    if (!mounts.length) return undefined;
    const secrets = this.deps.secrets;
    if (!secrets || !this.deps.redact) return 'output not read: the Job uses Secrets and this berth cannot keep them out';
    secrets.remember(desired, previousState);
    try {
      await Promise.all(mounts.map((m) => secrets.resolve(job.namespace, m.secret, m.contentHash)));
      return undefined;
    } catch {
      return 'output not read: the Job\'s Secrets could not be decrypted to keep them out of it';
    }
  }
}

/** The Job (or a CronJob's template seen as one) container `c` belongs to, in `desired`. */
function jobOf(c: ObservedContainer, desired: DesiredState | null): DesiredJob | undefined {
  const key = `${c.labels[LABELS.namespace]}/${c.labels[LABELS.job]}`;
  if (c.labels[LABELS.kind] === 'CronJob') {
    const cron = desired?.cronJobs?.find((x) => x.key === key);
    return cron ? templateJob(cron) : undefined;
  }
  return desired?.jobs?.find((j) => j.key === key);
}

/** Names of containers whose output a status document holds (one without, for a reason, may be read again). */
export function recordedOutputs(doc: StatusDoc | null): Set<string> {
  const runs = [...Object.values(doc?.jobs ?? {}), ...Object.values(doc?.cronJobs ?? {}).flatMap((c) => c.runs ?? [])];
  return new Set(runs.flatMap((r) => r.attempts ?? []).filter((a) => a.output !== undefined).map((a) => a.container));
}

/**
 * One `job-failed` event per run Failed in `next` and not in `previous`. `previous` null and the status branch not
 * read (`known` false): only runs that finished after `startedAt` (this process) are new.
 */
export function failureEvents(previous: StatusDoc | null, next: StatusDoc, known: boolean, startedAt: number): Extract<ReconcilerEvent, { kind: 'job-failed' }>[] {
  return newFailures(previous, next, previous || known ? undefined : startedAt).map((failure) => ({ kind: 'job-failed', failure }));
}
