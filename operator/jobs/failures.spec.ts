import { describe, expect, it } from 'vitest';
import type { JobAttemptStatus, JobStatus } from './plan.ts';
import type { CronJobStatus, CronRunStatus } from './cron-plan.ts';
import { newFailures } from './failures.ts';

const attempt = (over: Partial<JobAttemptStatus> = {}): JobAttemptStatus => ({ completion: 1, attempt: 1, container: 'berth.d.ns.j.job-r1.1.1', state: 'failed', exitCode: 3, finishedAt: '2026-01-01T00:00:10.000Z', node: 'n1', output: ['boom'], ...over });
const failed = (over: Partial<JobStatus> = {}): JobStatus => ({
  desired: 1, ready: 0, health: 'Degraded', replicas: [], phase: 'Failed', reason: 'BackoffLimitExceeded', message: 'job failed: BackoffLimitExceeded', run: 'r1', failed: 1,
  finishedAt: '2026-01-01T00:00:10.000Z', attempts: [attempt()], ...over,
});
const running = (over: Partial<JobStatus> = {}): JobStatus => ({ ...failed(over), phase: 'Running', reason: undefined, health: 'Progressing', finishedAt: undefined, attempts: [attempt({ state: 'running', exitCode: undefined, finishedAt: undefined, output: undefined })], ...over });
const cron = (runs: CronRunStatus[]): CronJobStatus => ({ desired: 1, ready: 0, health: 'Degraded', replicas: [], schedule: '* * * * *', since: '2026-01-01T00:00:00.000Z', active: [], runs });
const cronRun = (run: string, s: JobStatus): CronRunStatus => ({ ...s, run, scheduledAt: '2026-01-01T00:00:00.000Z' });

describe('newFailures', () => {
  it('tells a run that turned Failed, with its reason, last exit code, node and output', () => {
    expect(newFailures({ jobs: { 'ns/j': running() } }, { jobs: { 'ns/j': failed() } })).toEqual([{
      job: 'ns/j', kind: 'Job', run: 'r1', reason: 'BackoffLimitExceeded', message: 'job failed: BackoffLimitExceeded', failed: 1,
      finishedAt: '2026-01-01T00:00:10.000Z', container: 'berth.d.ns.j.job-r1.1.1', exitCode: 3, node: 'n1', output: ['boom'],
    }]);
  });

  it('tells a run once: one Failed in the previous document (the status branch after a restart) is not new', () => {
    expect(newFailures({ jobs: { 'ns/j': failed() } }, { jobs: { 'ns/j': failed() } })).toEqual([]);
    expect(newFailures({ jobs: { 'ns/j': failed() } }, { jobs: { 'ns/j': failed({ removed: true }) } })).toEqual([]);
    // A new spec is a new run: its failure is new.
    expect(newFailures({ jobs: { 'ns/j': failed() } }, { jobs: { 'ns/j': failed({ run: 'r2', reason: 'DeadlineExceeded' }) } }).map((f) => [f.run, f.reason])).toEqual([['r2', 'DeadlineExceeded']]);
    expect(newFailures({}, { jobs: { 'ns/j': running() } })).toEqual([]);
  });

  it('without a previous document: every Failed run, or with `since` only those that finished after it', () => {
    expect(newFailures(null, { jobs: { 'ns/j': failed() } })).toHaveLength(1);
    expect(newFailures(null, { jobs: { 'ns/j': failed() } }, Date.parse('2026-01-01T00:00:11.000Z'))).toEqual([]);
    expect(newFailures(null, { jobs: { 'ns/j': failed() } }, Date.parse('2026-01-01T00:00:09.000Z'))).toHaveLength(1);
  });

  it('tells each CronJob run that turned Failed, oldest first, with its scheduled time', () => {
    const previous = { cronJobs: { 'ns/c': cron([cronRun('t2', running()), cronRun('t1', failed())]) } };
    const next = { cronJobs: { 'ns/c': cron([cronRun('t3', failed({ reason: 'DeadlineExceeded' })), cronRun('t2', failed()), cronRun('t1', failed())]) } };
    expect(newFailures(previous, next).map((f) => [f.kind, f.run, f.reason, f.scheduledAt])).toEqual([
      ['CronJob', 't2', 'BackoffLimitExceeded', '2026-01-01T00:00:00.000Z'], ['CronJob', 't3', 'DeadlineExceeded', '2026-01-01T00:00:00.000Z'],
    ]);
  });
});
