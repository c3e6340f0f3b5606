import { describe, expect, it } from 'vitest';
import { LABELS } from '../model/keys.ts';
import type { Action } from '../model/plan.ts';
import type { CronJobSpec, JobSpec } from '../model/manifest.ts';
import type { DesiredCronJob, ObservedContainer } from '../model/state.ts';
import { planCronJobs, type CronJobStatus, type CronPlanInput } from './cron-plan.ts';
import { manualRunId, runId, runTimeOf } from './cron-policy.ts';

const T0 = Date.parse('2026-01-01T10:00:00.000Z');
const min = (m: number) => T0 + m * 60_000;

function cron(spec: Partial<CronJobSpec> = {}, template: Partial<JobSpec> = {}): DesiredCronJob {
  return {
    key: 'shop/report', namespace: 'shop', name: 'report', labels: {},
    spec: {
      schedule: '*/5 * * * *', timeZone: 'UTC', concurrencyPolicy: 'Allow', suspend: false, successfulRunsHistory: 3, failedRunsHistory: 1,
      jobTemplate: { spec: { completions: 1, parallelism: 1, backoffLimit: 0, ...template } as JobSpec }, ...spec,
    },
    template: { image: { type: 'ref', ref: 'busybox:1' }, specHash: 'tttttttttttttttt', network: 'berth.t.shop', env: {} },
    source: { file: 'cron.yaml', line: 1, col: 1 },
  };
}

/** A container of the run of minute `m` (T0 + m min), started then; `done`: finished a minute later with `exit`. */
function run(m: number, opts: { done?: boolean; exit?: number } = {}): ObservedContainer {
  const id = runId(min(m));
  const done = opts.done ?? true;
  return {
    id: `c-${id}`, name: `berth.t.shop.report.job-${id}.1.1`,
    labels: { [LABELS.kind]: 'CronJob', [LABELS.namespace]: 'shop', [LABELS.job]: 'report', [LABELS.run]: id, [LABELS.completion]: '1', [LABELS.attempt]: '1' },
    status: done ? 'exited' : 'running', exitCode: opts.exit ?? 0, imageId: 'sha256:x', command: [], env: {}, restartPolicy: 'no', nanoCpus: 0, memory: 0,
    createdAt: new Date(min(m)).toISOString(), startedAt: new Date(min(m)).toISOString(), ...(done ? { finishedAt: new Date(min(m) + 60_000).toISOString() } : {}),
  };
}

const since = (m: number): Record<string, CronJobStatus> => ({ 'shop/report': { desired: 1, ready: 1, health: 'Healthy', replicas: [], schedule: '', since: new Date(min(m)).toISOString(), active: [], runs: [] } });

function plan(c: DesiredCronJob, cs: ObservedContainer[], nowMin: number, extra: Partial<CronPlanInput> = {}) {
  const out = planCronJobs({ cronJobs: [c], containers: cs, now: min(nowMin), ...extra });
  return { ...out, status: out.statuses['shop/report']!, kinds: out.actions.map(brief) };
}
function brief(a: Action): string {
  if (a.type === 'run-job') return `run ${a.run}`;
  if (a.type === 'remove' || a.type === 'stop-job') return `${a.type} ${a.container.labels[LABELS.run]}`;
  return a.type;
}

describe('planCronJobs', () => {
  it('first seen: no run for earlier times; since and next recorded, a wake at the next time', () => {
    const p = plan(cron(), [], 2);
    expect(p.kinds).toEqual([]);
    expect(p.status).toMatchObject({ since: new Date(min(2)).toISOString(), next: new Date(min(5)).toISOString() });
    expect(p.wakeAt).toBe(min(5));
  });

  it('at its time starts one run labelled by the scheduled time, kind CronJob, and never the same time twice', () => {
    const p = plan(cron(), [], 5, { previous: since(2) });
    expect(p.kinds).toEqual([`run ${runId(min(5))}`]);
    expect(p.actions[0]).toMatchObject({ type: 'run-job', kind: 'CronJob', job: 'shop/report', completion: 1, attempt: 1 });
    expect(p.actions[0]!.reason).toContain('scheduled 2026-01-01T10:05:00.000Z');
    // Its container exists (running, or done): nothing more for that time, whatever the pass.
    expect(plan(cron(), [run(5, { done: false })], 5.5, { previous: since(2) }).kinds).toEqual([]);
    const done = plan(cron(), [run(5)], 7, { previous: since(2) });
    expect(done.kinds).toEqual([]);
    expect(done.status.runs.map((r) => [r.run, r.phase])).toEqual([[runId(min(5)), 'Succeeded']]);
    expect(done.status.lastScheduled).toBe(new Date(min(5)).toISOString());
  });

  it('after downtime, one catch-up run for the latest missed time only; past startingDeadline, skipped and reported', () => {
    const p = plan(cron(), [run(5)], 23, { previous: since(2) });
    expect(p.kinds).toEqual([`run ${runId(min(20))}`]);
    expect(p.actions[0]!.reason).toContain('2 earlier missed time(s) not replayed');
    const late = plan(cron({ startingDeadlineMs: 60_000 }), [run(5)], 23, { previous: since(2) });
    expect(late.kinds).toEqual([]);
    expect(late.status.lastSkipped?.reason).toContain('startingDeadline');
    expect(late.status.lastScheduled).toBe(new Date(min(20)).toISOString());
  });

  it('Forbid skips a time while a run is active; Replace removes the active run and starts the new one', () => {
    const forbid = plan(cron({ concurrencyPolicy: 'Forbid' }), [run(5, { done: false })], 10, { previous: since(2) });
    expect(forbid.kinds).toEqual([]);
    expect(forbid.status.lastSkipped?.reason).toContain('Forbid');
    expect(forbid.status.active).toEqual([runId(min(5))]);
    const replace = plan(cron({ concurrencyPolicy: 'Replace' }), [run(5, { done: false })], 10, { previous: since(2) });
    expect(replace.kinds).toEqual([`remove ${runId(min(5))}`, `run ${runId(min(10))}`]);
    const allow = plan(cron(), [run(5, { done: false })], 10, { previous: since(2) });
    expect(allow.kinds).toEqual([`run ${runId(min(10))}`]);
  });

  it('suspend starts nothing', () => {
    expect(plan(cron({ suspend: true }), [], 5, { previous: since(2) }).kinds).toEqual([]);
  });

  it('history limits: the oldest finished runs beyond successfulRunsHistory / failedRunsHistory are removed', () => {
    const cs = [run(5), run(10), run(15, { exit: 1 }), run(20), run(25, { exit: 1 }), run(30)];
    const p = plan(cron({ successfulRunsHistory: 2, failedRunsHistory: 1 }), cs, 31, { previous: since(2) });
    expect(p.kinds.sort()).toEqual([`remove ${runId(min(10))}`, `remove ${runId(min(15))}`, `remove ${runId(min(5))}`].sort());
    expect(p.status.runs.map((r) => r.run)).toEqual([runId(min(30)), runId(min(25)), runId(min(20))]);
    // The last finished run failed: Degraded.
    expect(plan(cron(), [run(5, { exit: 1 })], 7, { previous: since(2) }).status).toMatchObject({ health: 'Degraded', ready: 0 });
  });

  it('a CronJob no longer in the revision has its containers removed', () => {
    const out = planCronJobs({ cronJobs: [], containers: [run(5)], now: min(6) });
    expect(out.actions.map(brief)).toEqual([`remove ${runId(min(5))}`]);
  });
  it('a run asked for by hand starts once, labelled manual-<time>, even suspended; it never moves lastScheduled nor takes a scheduled time', () => {
    const id = manualRunId(min(7) + 12_345);
    expect(id).toBe('manual-20260101T100712Z');
    expect(runTimeOf(id)).toEqual({ at: min(7) + 12_000, manual: true });
    expect(runTimeOf(runId(min(5)))).toEqual({ at: min(5), manual: false });
    expect(runTimeOf('manual-20260230T100712Z')).toBeUndefined();
    const asked = plan(cron({ suspend: true }), [], 7.3, { previous: since(2), manual: { 'shop/report': [id] } });
    expect(asked.kinds).toEqual([`run ${id}`]);
    expect(asked.actions[0]!.reason).toContain('started by hand');
    expect(asked.status.runs).toMatchObject([{ run: id, manual: true, phase: 'Pending' }]);
    // Its container exists: nothing more for it, asked again or not; the schedule's time still runs (Allow).
    const manualRun: ObservedContainer = { ...run(7, { done: false }), labels: { ...run(7).labels, [LABELS.run]: id } };
    expect(plan(cron(), [run(5), manualRun], 7.5, { previous: since(2), manual: { 'shop/report': [id] } }).kinds).toEqual([]);
    const at10 = plan(cron(), [run(5), manualRun], 10, { previous: since(2) });
    expect(at10.kinds).toEqual([`run ${runId(min(10))}`]);
    expect(at10.status.active).toEqual([runId(min(10)), id]); // the run just started is recorded Pending at once
    expect(at10.status.lastScheduled).toBe(new Date(min(10)).toISOString()); // the schedule's, not the run by hand's
    // Forbid: an active run by hand is an active run.
    expect(plan(cron({ concurrencyPolicy: 'Forbid' }), [run(5), manualRun], 10, { previous: since(2) }).kinds).toEqual([]);
  });
});
